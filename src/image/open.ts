/**
 * Open an image reference: parse it (pure), check that the local path exists (with a hint for a bare
 * path given without a transport), and hand it to the source for its transport. Sources: oci-layout.ts
 * (oci:, oci-archive:), docker-archive.ts, rootfs.ts (dir:, tar:), registry/source.ts (docker://),
 * charliecloud/source.ts (ch-image:, Charliecloud storage).
 */
import { existsSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { ImageReferenceError, NotFoundError } from '../errors/index.js';
import { DirFiles, TarFiles } from './files.js';
import { dockerArchivePlatforms, openDockerArchive } from './docker-archive.js';
import { layoutPlatforms, openLayout } from './oci-layout.js';
import { hostPlatform, parsePlatform } from './platform.js';
import { parseReference, type ImageReference, type RegistryReference, type TaggedPathReference } from './reference.js';
import { listPlatforms, type ResolveOptions } from './resolve.js';
import { assertRootfsDir, assertRootfsTar, dirImage, tarImage } from './rootfs.js';
import type { Image } from './types.js';
import { readLimits } from '../limits.js';
import type { Registries, RegistryOptions } from '../registry/client.js';
import type { BlobCache } from '../registry/source.js';

/** Options for opening an image. */
export interface OpenOptions {
  /** `os/arch[/variant]`; default: the host's. */
  platform?: string | undefined;
  /** Whether the user named the platform (default: true when `platform` is given). */
  explicitPlatform?: boolean | undefined;
  /** How to reach registries (docker://): credentials, TLS, timeouts. */
  registry?: RegistryOptions | undefined;
  /** Registry clients shared by several opens (one token set and connection pool per registry); made from `registry` when absent. */
  registries?: Registries | undefined;
  /** Manifests and configs by digest (src/cache); none when absent. */
  blobCache?: BlobCache | null | undefined;
  /** Charliecloud storage directory for `ch-image:` (as `ch-image -s`); default `$CH_IMAGE_STORAGE`, else `/var/tmp/$USER.ch`. */
  chStorage?: string | undefined;
  /** Told the chosen manifest's digest before its config is fetched ({@link ResolveOptions.onManifest}). */
  onManifest?: ((digest: string) => void) | undefined;
}

/** What a source may need besides the reference: registry clients and the blob cache. */
interface OpenContext {
  registries: () => Promise<Registries>;
  blobCache: BlobCache | null;
  chStorage: string | undefined;
}

/** The registry clients of an open: the caller's, or new ones for these options. */
function contextOf(opts: OpenOptions): OpenContext {
  let made: Promise<Registries> | null = null;
  return {
    registries: () => {
      if (opts.registries) return Promise.resolve(opts.registries);
      made ??= import('../registry/client.js').then(({ Registries: R }) => new R(opts.registry ?? {}));
      return made;
    },
    blobCache: opts.blobCache ?? null,
    chStorage: opts.chStorage,
  };
}

/** What a path on disk looks like, for the hint given when a bare path is used as a reference. */
export function suggestReference(path: string): string | null {
  let st;
  try {
    st = statSync(path);
  } catch {
    return null;
  }
  if (st.isDirectory()) return existsSync(`${path}/index.json`) ? `oci:${path}` : `dir:${path}`;
  if (st.isFile()) return /\.tar$/.test(path) ? `oci-archive:${path}, docker-archive:${path} or tar:${path}` : `tar:${path}`;
  return null;
}

/** Parse a reference; a bare path that exists on disk gets a "did you mean" hint. */
export function parseWithHint(raw: string): ImageReference {
  let r: ImageReference;
  try {
    r = parseReference(raw);
  } catch (e) {
    const hint = e instanceof ImageReferenceError ? suggestReference(raw) : null;
    if (hint) throw new ImageReferenceError(`image reference ${JSON.stringify(raw)} is a local path, not a registry reference: did you mean ${hint}?`, { cause: e });
    throw e;
  }
  return r;
}

async function mustExist(path: string, ref: string, kind: 'file' | 'dir'): Promise<void> {
  let st;
  try {
    st = await stat(path);
  } catch {
    throw new NotFoundError(`${ref}: no such ${kind === 'dir' ? 'directory' : 'file'} ${path}`, path);
  }
  if (kind === 'dir' && !st.isDirectory()) throw new NotFoundError(`${ref}: ${path} is not a directory`, path);
  if (kind === 'file' && !st.isFile()) throw new NotFoundError(`${ref}: ${path} is not a file`, path);
}

/** The path a tagged reference means: `PATH` with `:TAG`, or the whole string when only that exists (a colon in a file name). */
async function taggedPath(r: TaggedPathReference, kind: 'file' | 'dir'): Promise<{ path: string; tag: string | null }> {
  if (r.tag !== null && !existsSync(r.path) && existsSync(r.whole)) return { path: r.whole, tag: null };
  await mustExist(r.path, r.raw, kind);
  return { path: r.path, tag: r.tag };
}

/** What a transport's source offers: open an image for a platform, or list the platforms it has. */
interface Source<R extends ImageReference> {
  open(r: R, opts: ResolveOptions, ctx: OpenContext): Promise<Image>;
  /** The platforms of a multi-platform image, or null for a single-platform one. Reads no layer. */
  platforms(r: R, ctx: OpenContext): Promise<string[] | null>;
}

/** The reference type of a transport (a tagged-path reference serves three transports). */
type RefOf<T> = ImageReference extends infer R ? (R extends { transport: infer U } ? (T extends U ? R : never) : never) : never;
type Sources = { [T in ImageReference['transport']]: Source<RefOf<T>> };

/**
 * The registry client for a reference. A bare reference that names an existing local path is more
 * likely a forgotten transport than a registry image: that is an error with a hint, before any
 * network request (`docker://` says the registry is meant).
 */
async function registryClient(r: RegistryReference, ctx: OpenContext) {
  const hint = !r.raw.startsWith('docker://') ? suggestReference(r.raw) : null;
  if (hint) throw new ImageReferenceError(`${r.raw} is a local path: did you mean ${hint}? (write docker://${r.raw} for the registry image)`);
  return (await ctx.registries()).for(r.docker.domain);
}

/** Every transport and its source: adding one is a source module and a line here. */
const SOURCES: Sources = {
  oci: {
    async open(r, opts) {
      const { path, tag } = await taggedPath(r, 'dir');
      return openLayout(new DirFiles(path, r.raw), tag, opts);
    },
    async platforms(r) {
      const { path, tag } = await taggedPath(r, 'dir');
      return layoutPlatforms(new DirFiles(path, r.raw), tag);
    },
  },
  'oci-archive': {
    async open(r, opts) {
      const { path, tag } = await taggedPath(r, 'file');
      return openLayout(await TarFiles.open(path, r.raw), tag, opts);
    },
    async platforms(r) {
      const { path, tag } = await taggedPath(r, 'file');
      return layoutPlatforms(await TarFiles.open(path, r.raw), tag);
    },
  },
  'docker-archive': {
    async open(r, opts) {
      const { path, tag } = await taggedPath(r, 'file');
      return openDockerArchive(path, tag, opts);
    },
    async platforms(r) {
      const { path, tag } = await taggedPath(r, 'file');
      return dockerArchivePlatforms(path, tag, r.raw);
    },
  },
  dir: {
    async open(r) {
      await mustExist(r.path, r.raw, 'dir');
      await assertRootfsDir(r.raw, r.path);
      return dirImage(r.raw, r.path);
    },
    async platforms(r) {
      await mustExist(r.path, r.raw, 'dir');
      return null;
    },
  },
  tar: {
    async open(r) {
      await mustExist(r.path, r.raw, 'file');
      await assertRootfsTar(r.raw, r.path);
      return tarImage(r.raw, r.path, (await stat(r.path)).size);
    },
    async platforms(r) {
      await mustExist(r.path, r.raw, 'file');
      return null;
    },
  },
  'ch-image': {
    async open(r, opts, ctx) {
      const { openStorageImage } = await import('../charliecloud/source.js');
      return openStorageImage(r, opts, ctx.chStorage);
    },
    async platforms() {
      // Storage holds one platform unpacked, whatever the index offered; opening says whether it is there.
      return null;
    },
  },
  docker: {
    async open(r, opts, ctx) {
      const { openRegistryImage } = await import('../registry/source.js');
      return openRegistryImage(await registryClient(r, ctx), r.docker, opts, ctx.blobCache);
    },
    async platforms(r, ctx) {
      const { registrySource, startDocument } = await import('../registry/source.js');
      const client = await registryClient(r, ctx);
      return listPlatforms(registrySource(client, r.docker, ctx.blobCache), await startDocument(client, r.docker, ctx.blobCache));
    },
  },
};

function sourceFor<R extends ImageReference>(r: R): Source<R> {
  return SOURCES[r.transport] as unknown as Source<R>;
}

/**
 * Open an image reference (skopeo-style transports) and resolve it to one platform: manifest,
 * config and layers, with every small blob verified. Layers are not read here.
 */
export async function openImage(ref: string, opts: OpenOptions = {}): Promise<Image> {
  readLimits();
  const r = parseWithHint(ref);
  return sourceFor(r).open(
    r,
    {
      platform: opts.platform ? parsePlatform(opts.platform) : hostPlatform(),
      explicitPlatform: opts.explicitPlatform ?? Boolean(opts.platform),
      ref,
      transport: r.transport,
      onManifest: opts.onManifest,
    },
    contextOf(opts),
  );
}

/**
 * The platforms an image reference offers, as `os/arch[/variant]`, or null for a single-platform
 * image (or a source without platforms: dir:, tar:). Reads indexes only, never a layer.
 */
export async function imagePlatforms(ref: string, opts: Pick<OpenOptions, 'registry' | 'registries' | 'blobCache' | 'chStorage'> = {}): Promise<string[] | null> {
  readLimits();
  const r = parseWithHint(ref);
  return sourceFor(r).platforms(r, contextOf(opts));
}
