/**
 * Limits on what containerspec reads from untrusted input: one table, each limit with its
 * default, the environment variable that raises it, and what it bounds. Every read of an image,
 * archive or host tree stays within them; going past one is an exit-2 error (or, for a host tree, a
 * warning) that names the limit and how to raise it. The README's "Limits" table lists them.
 */
import { FormatError, UsageError } from './errors/index.js';

/** One limit. */
export interface LimitSpec {
  readonly key: LimitKey;
  readonly env: string;
  readonly default: number;
  /** What it bounds, for the README and messages. */
  readonly what: string;
}

/** The limits by name. */
export type LimitKey =
  | 'layers'
  | 'entries'
  | 'archiveMembers'
  | 'pathLength'
  | 'jsonBytes'
  | 'jsonDepth'
  | 'keptBytesPerFile'
  | 'scannedBytesPerFile'
  | 'linkHops'
  | 'identityBytes';

const MiB = 1024 * 1024;

/** Every limit, with its default. */
export const LIMITS: readonly LimitSpec[] = [
  { key: 'layers', env: 'CONTAINERSPEC_MAX_LAYERS', default: 512, what: 'layers in one image manifest' },
  { key: 'entries', env: 'CONTAINERSPEC_MAX_ENTRIES', default: 300_000, what: 'tar entries in all layers of one image together (or files in a dir: image)' },
  { key: 'archiveMembers', env: 'CONTAINERSPEC_MAX_ARCHIVE_MEMBERS', default: 100_000, what: 'members of an oci-archive or docker-archive tar' },
  { key: 'pathLength', env: 'CONTAINERSPEC_MAX_PATH', default: 4096, what: 'bytes in one path inside an image (PATH_MAX)' },
  { key: 'jsonBytes', env: 'CONTAINERSPEC_MAX_JSON_BYTES', default: 8 * MiB, what: 'bytes of one index, manifest, config or facts file' },
  { key: 'jsonDepth', env: 'CONTAINERSPEC_MAX_JSON_DEPTH', default: 64, what: 'nesting depth of one JSON document' },
  { key: 'keptBytesPerFile', env: 'CONTAINERSPEC_MAX_KEPT_BYTES', default: 16 * MiB, what: 'bytes of one ELF file kept while it streams (its headers and first segment)' },
  { key: 'scannedBytesPerFile', env: 'CONTAINERSPEC_MAX_SCANNED_BYTES', default: 256 * MiB, what: 'bytes of one file searched for version strings' },
  { key: 'linkHops', env: 'CONTAINERSPEC_MAX_LINK_HOPS', default: 40, what: 'symlinks (and archive links) followed to resolve one path' },
  { key: 'identityBytes', env: 'CONTAINERSPEC_MAX_IDENTITY_BYTES', default: 16 * 1024 * MiB, what: 'bytes hashed for the identity of a dir: or tar: image (--identity)' },
];

const byKey = new Map(LIMITS.map((l) => [l.key, l]));
let snapshot: Map<LimitKey, number> | null = null;

/**
 * Read the limits from the environment (each variable, when set, a whole number >= 1; else the
 * default). Called at the start of each operation (opening an image, reading a host, reading a facts
 * file, applying --limit), so the hot paths that ask {@link limit} per entry pay nothing for it.
 */
export function readLimits(): void {
  const values = new Map<LimitKey, number>();
  for (const l of LIMITS) {
    const raw = process.env[l.env];
    if (raw === undefined || raw === '') values.set(l.key, l.default);
    else {
      const n = Number(raw);
      if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${l.env}=${raw}: a limit is a whole number >= 1 (default ${l.default})`);
      values.set(l.key, n);
    }
  }
  snapshot = values;
}

/** The value of a limit, as last read by {@link readLimits}. */
export function limit(key: LimitKey): number {
  if (snapshot === null) readLimits();
  return snapshot!.get(key)!;
}

/**
 * A count shared by every layer of one image (layers are read in parallel): taking one more than
 * the limit is a FormatError naming where, the limit and how to raise it.
 */
export class Budget {
  private used = 0;
  private readonly max: number;
  constructor(readonly key: LimitKey) {
    this.max = limit(key);
  }
  /** Count `n` more (default one); throws past the limit. */
  take(where: string, n = 1): void {
    if ((this.used += n) > this.max) throw new FormatError(`${where}: ${overLimit(this.key, `more than ${this.max}`)}`, where);
  }
}

/** The words for "limit K exceeded": what, the limit, and how to raise it. */
export function overLimit(key: LimitKey, found: number | string): string {
  const l = byKey.get(key)!;
  return `${found} is over the limit of ${limit(key)} ${l.what} (raise it with ${l.env}=N or --limit ${key}=N)`;
}

/** Apply `--limit KEY=N` options (they set the environment variables for this process). */
export function applyLimitOptions(list: readonly string[]): void {
  for (const s of list) {
    const i = s.indexOf('=');
    const key = i > 0 ? s.slice(0, i) : s;
    const spec = LIMITS.find((l) => l.key === key);
    if (!spec) throw new UsageError(`--limit ${s}: unknown limit (one of ${LIMITS.map((l) => l.key).join(', ')})`);
    const v = s.slice(i + 1);
    const n = Number(v);
    if (i <= 0 || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`--limit ${s}: expected ${key}=N with N a whole number >= 1`);
    process.env[spec.env] = String(n);
  }
  readLimits();
}
