/**
 * The registry questions a Dockerfile run asks, each asked once: what digest a tag names now (one
 * HEAD), which tags a repository has (its tag list, every page), and which manifest an index holds
 * for a platform. Answers are cached as promises for the run, so 200 Dockerfiles naming 50 bases
 * cost 50 digest look-ups and one tag list per repository; clients are one per registry host
 * ({@link Registries}), with their tokens and connections.
 */
import { FormatError, NotFoundError } from '../errors/index.js';
import { formatPlatform, parsePlatform, platformMatches } from '../image/platform.js';
import { INDEX_TYPES, manifestsOf } from '../image/resolve.js';
import type { Platform } from '../image/types.js';
import { Registries, type RegistryOptions } from '../registry/client.js';
import type { DockerReference } from '../image/docker-reference.js';

/** What a tag names now. */
export interface TagDigest {
  digest: string;
  mediaType: string | null;
  /** True when it is a multi-platform index. */
  index: boolean;
}

/** Options shared by the registry-reading Dockerfile commands. */
export interface LookupOptions {
  /** How to reach registries (credentials, TLS); used when `registries` is absent. */
  registry?: RegistryOptions | undefined;
  /** Clients shared with the caller (closed by the caller). */
  registries?: Registries | undefined;
  /** Tags asked for per tag-list page (`n`); default: the registry's own page size. */
  pageSize?: number | undefined;
}

/** One run's registry answers. */
export class Lookups {
  readonly registries: Registries;
  private readonly own: boolean;
  private readonly digests = new Map<string, Promise<TagDigest>>();
  private readonly tagLists = new Map<string, Promise<{ tags: string[]; pages: number }>>();
  private readonly indexes = new Map<string, Promise<Record<string, unknown>>>();
  private readonly kinds = new Map<string, Promise<'index' | 'manifest' | null>>();

  constructor(private readonly opts: LookupOptions = {}) {
    this.own = opts.registries === undefined;
    this.registries = opts.registries ?? new Registries(opts.registry ?? {});
  }

  /** The digest `ref`'s tag names now (one HEAD per distinct name:tag in the run). */
  digestOf(ref: DockerReference, tag: string): Promise<TagDigest> {
    const key = `${ref.name}:${tag}`;
    let p = this.digests.get(key);
    if (!p) {
      p = (async () => {
        const c = await this.registries.for(ref.domain);
        const d = await c.manifestDigest(ref.path, tag);
        return { ...d, index: d.mediaType !== null && INDEX_TYPES.has(d.mediaType) };
      })();
      this.digests.set(key, p);
    }
    return p;
  }

  /** Every tag of `ref`'s repository (one tag list per repository in the run). */
  tagsOf(ref: DockerReference): Promise<{ tags: string[]; pages: number }> {
    let p = this.tagLists.get(ref.name);
    if (!p) {
      p = this.registries.for(ref.domain).then((c) => c.listTags(ref.path, this.opts.pageSize ? { pageSize: this.opts.pageSize } : {}));
      this.tagLists.set(ref.name, p);
    }
    return p;
  }

  /** Whether a digest of `ref`'s repository is an index or an image manifest; null when the registry no longer has it. */
  kindOf(ref: DockerReference, digest: string): Promise<'index' | 'manifest' | null> {
    let p = this.kinds.get(`${ref.name}@${digest}`);
    if (!p) {
      p = this.registries.for(ref.domain).then(async (c) => {
        try {
          const m = await c.manifestDigest(ref.path, digest);
          return m.mediaType !== null && INDEX_TYPES.has(m.mediaType) ? 'index' : 'manifest';
        } catch (e) {
          if (e instanceof NotFoundError) return null;
          throw e;
        }
      });
      this.kinds.set(`${ref.name}@${digest}`, p);
    }
    return p;
  }

  /** The digest of the manifest an index (by digest) holds for `platform`, or null when it holds none (or is not an index). */
  async platformManifest(ref: DockerReference, indexDigest: string, platform: string): Promise<string | null> {
    const key = `${ref.name}@${indexDigest}`;
    let p = this.indexes.get(key);
    if (!p) {
      p = this.registries.for(ref.domain).then(async (c) => {
        const m = await c.getManifest(ref.path, indexDigest, 4 * 1024 * 1024);
        try {
          return JSON.parse(m.data.toString('utf8')) as Record<string, unknown>;
        } catch (e) {
          throw new FormatError(`manifest ${indexDigest} of ${ref.name}: not JSON`, ref.name, { cause: e });
        }
      });
      this.indexes.set(key, p);
    }
    const doc = await p;
    if (!Array.isArray(doc.manifests)) return null;
    const want: Platform = parsePlatform(platform);
    const found = manifestsOf(doc, `index ${indexDigest} of ${ref.name}`).find((d) => d.platform && platformMatches(d.platform, want));
    return found?.digest ?? null;
  }

  /** Close the clients this object made. */
  async close(): Promise<void> {
    if (this.own) await this.registries.close();
  }
}

/** `os/arch[/variant]` of a FROM's --platform when it is concrete (no variables left), else `fallback`. */
export function platformOf(flag: string | null, fallback: string): string {
  if (flag && !flag.includes('$')) return formatPlatform(parsePlatform(flag));
  return fallback;
}
