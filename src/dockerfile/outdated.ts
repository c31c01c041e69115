/**
 * `dockerfile outdated`: for each FROM that names a registry image, is its pinned digest still the
 * digest its tag names (for a multi-platform tag: the index's digest, or the platform's manifest
 * within it), and which newer tags of its family exist (tags.ts)? Every distinct `name:tag` is asked
 * once and every repository's tag list read once per run (lookup.ts).
 */
import { ContainerspecError, DockerfileError, NotFoundError } from '../errors/index.js';
import type { DockerReference } from '../image/docker-reference.js';
import { formatPlatform, hostPlatform } from '../image/platform.js';
import { Lookups, platformOf, type LookupOptions } from './lookup.js';
import type { DockerfileFrom, ParsedDockerfile } from './parse.js';
import { newerTags, parseTag, sortTags } from './tags.js';

/** Version of the JSON the Dockerfile commands print (`schemas/dockerfile-1.0.schema.json`). */
export const DOCKERFILE_SCHEMA_VERSION = '1.0';

/**
 * How a FROM's pin stands: `current` (the pin is the tag's digest, or the platform's manifest in
 * the tag's index), `stale` (the tag names another digest now), `unpinned` (no digest written),
 * `digest-only` (a digest and no tag: nothing to compare it with).
 */
export type PinStatus = 'current' | 'stale' | 'unpinned' | 'digest-only';

/** One FROM (or `COPY --from=IMAGE`) of one Dockerfile, judged. */
export interface BaseStatus {
  /** `FROM`, or `COPY` for an image files are copied from. */
  instruction: 'FROM' | 'COPY';
  file: string;
  line: number;
  column: number;
  /** 0-based stage index, and its alias. */
  stage: number;
  alias: string | null;
  /** The image as written and as resolved (ARGs substituted). */
  raw: string;
  image: string;
  /** `docker.io/library/ubuntu` */
  name: string;
  tag: string | null;
  pinned: string | null;
  /** The digest the tag names now (the index's, for a multi-platform tag); null without a tag. */
  current: string | null;
  /** For a multi-platform tag: the platform the pin was judged for, and its manifest's digest now. */
  platform: string | null;
  platformDigest: string | null;
  /**
   * For a stale pin of a multi-platform tag: whether it named an index or one platform's manifest
   * (pin --update keeps the kind), or null when the registry no longer has it (or it was not asked).
   */
  pinnedKind: 'index' | 'manifest' | null;
  status: PinStatus;
  /** Newer tags of the same family, newest first. */
  newer: string[];
  /** stale, or a newer tag exists. */
  outdated: boolean;
}

/** What `outdated` found. */
export interface OutdatedResult {
  schemaVersion: string;
  kind: 'outdated';
  files: string[];
  bases: BaseStatus[];
  /** Any base outdated (the CLI's exit status 1). */
  outdated: boolean;
}

/** Options for {@link outdated}. */
export interface OutdatedOptions extends LookupOptions {
  /** Platform a multi-platform pin is judged for when its FROM has no concrete --platform (default: this host's). */
  platform?: string | undefined;
  /** Shared answers (pin.ts reuses them); made (and closed) here when absent. */
  lookups?: Lookups | undefined;
}

/** A registry failure for a FROM as a DockerfileError naming its file and line. */
export function atFrom(df: ParsedDockerfile, from: DockerfileFrom, e: unknown, instruction = 'FROM'): never {
  if (e instanceof DockerfileError || !(e instanceof ContainerspecError)) throw e;
  throw new DockerfileError(`${df.file}:${from.place.line}:${from.place.column}: ${instruction === 'COPY' ? 'COPY --from=' : 'FROM '}${from.image}: ${e.message}`, df.file, from.place.line, { cause: e });
}

/** Judge one FROM of stage `stage` (a registry image), or with `copy`, one of its COPY --from images. */
export async function judgeFrom(df: ParsedDockerfile, stage: number, lookups: Lookups, platform: string, copy?: DockerfileFrom): Promise<BaseStatus> {
  const s = df.stages[stage]!;
  const from = copy ?? s.from;
  const ref = from.reference!;
  const tag = ref.tag;
  const base: Omit<BaseStatus, 'current' | 'platform' | 'platformDigest' | 'pinnedKind' | 'status' | 'newer' | 'outdated'> = {
    instruction: copy ? 'COPY' : 'FROM', file: df.file, line: from.place.line, column: from.place.column, stage, alias: copy ? s.from.alias : from.alias,
    raw: from.raw, image: from.image, name: ref.name, tag, pinned: ref.digest,
  };
  if (tag === null) return { ...base, current: null, platform: null, platformDigest: null, pinnedKind: null, status: 'digest-only', newer: [], outdated: false };
  try {
    const wantsTags = parseTag(tag).family !== null;
    // Both asked at once; the tag's own answer is awaited first, so its error (no such tag or repository) is the one reported.
    const tags = wantsTags ? lookups.tagsOf(ref) : Promise.resolve(null);
    tags.catch(() => {});
    const now = await lookups.digestOf(ref, tag).catch((e: unknown) => notFound(lookups, ref, tag, e));
    const list = await tags;
    const newer = list ? newerTags(tag, list.tags) : [];
    let status: PinStatus = ref.digest === null ? 'unpinned' : ref.digest === now.digest ? 'current' : 'stale';
    let plat: string | null = null;
    let platformDigest: string | null = null;
    let pinnedKind: BaseStatus['pinnedKind'] = null;
    if (now.index) {
      plat = platformOf(from.platform, platform);
      // Only looked up when it decides something: a pin that is not the index may be the platform's manifest.
      if (status === 'stale') {
        platformDigest = await lookups.platformManifest(ref, now.digest, plat);
        if (platformDigest === ref.digest) status = 'current';
        else pinnedKind = await lookups.kindOf(ref, ref.digest!);
      }
    }
    return { ...base, current: now.digest, platform: plat, platformDigest, pinnedKind, status, newer, outdated: status === 'stale' || newer.length > 0 };
  } catch (e) {
    return atFrom(df, from, e, copy ? 'COPY' : 'FROM');
  }
}

/**
 * A tag that is not there: say whether the repository is missing (its tag list is refused too) or
 * only the tag (then name a few tags it has), instead of the registry's bare "manifest unknown".
 */
async function notFound(lookups: Lookups, ref: DockerReference, tag: string, e: unknown): Promise<never> {
  if (!(e instanceof NotFoundError)) throw e;
  const list = await lookups.tagsOf(ref).catch((te: unknown) => {
    if (!(te instanceof NotFoundError)) throw te;
    const said = /\(([^()]*)\)$/.exec(te.message)?.[1];
    throw new NotFoundError(`repository ${ref.path} does not exist on ${ref.domain}${said ? ` (${said})` : ''}`, te.path, { cause: te });
  });
  // A few tags worth naming: those of the same family, or all of them when there are few.
  const family = parseTag(tag).family;
  const some = sortTags(list.tags).filter((t) => list.tags.length <= 8 || (family !== null && parseTag(t).family === family)).slice(-8);
  throw new NotFoundError(`${ref.name} has no tag ${tag}${some.length ? ` (it has ${some.join(', ')}${list.tags.length > some.length ? ', ...' : ''})` : list.tags.length ? ` (it has ${list.tags.length} other tags)` : ' (it has no tags)'}`, ref.name, { cause: e });
}

/** Judge every FROM naming a registry image in the Dockerfiles (stages and scratch are skipped). */
export async function outdated(dfs: readonly ParsedDockerfile[], opts: OutdatedOptions = {}): Promise<OutdatedResult> {
  const lookups = opts.lookups ?? new Lookups(opts);
  const platform = opts.platform ?? formatPlatform(hostPlatform());
  try {
    const jobs: Promise<BaseStatus>[] = [];
    for (const df of dfs) {
      for (const s of df.stages) {
        if (s.from.reference) jobs.push(judgeFrom(df, s.index, lookups, platform));
        for (const c of s.copyFrom) jobs.push(judgeFrom(df, s.index, lookups, platform, c));
      }
    }
    // Every look-up starts at once (the clients' connection pools bound them); the first failure in file order is reported.
    const settled = await Promise.allSettled(jobs);
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const bases = settled.map((r) => (r as PromiseFulfilledResult<BaseStatus>).value);
    return { schemaVersion: DOCKERFILE_SCHEMA_VERSION, kind: 'outdated', files: dfs.map((d) => d.file), bases, outdated: bases.some((b) => b.outdated) };
  } finally {
    if (!opts.lookups) await lookups.close();
  }
}

/** One line about a base, for text and annotations. */
export function describeBase(b: BaseStatus): string {
  const parts: string[] = [];
  const image = b.instruction === 'COPY' ? `COPY --from=${b.image}` : b.image;
  if (b.status === 'stale') parts.push(`${image}: pinned digest ${short(b.pinned)} is stale, ${b.name}:${b.tag} is now ${short(b.current)}${b.platformDigest ? ` (${b.platform}: ${short(b.platformDigest)})` : ''}`);
  else if (b.status === 'current') parts.push(`${image}: pinned digest is current`);
  else if (b.status === 'unpinned') parts.push(`${image}: not pinned (${b.name}:${b.tag} is ${short(b.current)})`);
  else parts.push(`${image}: pinned by digest only (no tag to compare)`);
  if (b.newer.length) parts.push(`newer tag${b.newer.length > 1 ? 's' : ''}: ${b.newer.slice(0, 5).join(', ')}${b.newer.length > 5 ? `, ... (${b.newer.length})` : ''}`);
  return parts.join('; ');
}

const short = (d: string | null): string => (d ? `${d.slice(0, 19)}...` : '(none)');
