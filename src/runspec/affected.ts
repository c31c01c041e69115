/**
 * Queries over recorded replays (the Producer table): which runs used image X, library Y, or ran on
 * hosts with facts Z, and when. This is the Arvados question: when a bug is found in a tool or a
 * library, which results are affected (and re-run them with `replay --affected`).
 *
 * Only the small columns are read (never stdout, stderr, the report or the full host facts), and
 * versions compare as semver after coercion (`2.31` is 2.31.0, `6.1.0-18-amd64` is 6.1.0,
 * `535.104.05` is 535.104.5), so a range such as `<2.34` means what it says.
 */
import semver from 'semver';
import { UsageError } from '../errors/index.js';
import { parseDockerReference } from '../image/docker-reference.js';
import type { StoredRow } from '../store/types.js';

/** Version of the `store runs --json` / `store affected --json` document (no schema file yet). */
export const RUNS_SCHEMA_VERSION = '1.0';

/** One recorded replay, as the queries list it. */
export interface RunRecord {
  id: number;
  recordedAt: string;
  commit: string;
  runspecPath: string | null;
  image: { reference: string | null; digest: string };
  startedAt: string | null;
  endedAt: string | null;
  exitStatus: number | null;
  exitKind: string | null;
  forced: boolean;
  refused: boolean;
  verdict: string | null;
  score: number | null;
  hostName: string | null;
  host: { kernel: string | null; driver: string | null; glibc: string | null; microarch: string | null; mpi: string | null };
  /** Libraries found in the image's facts, name to version. */
  libraries: Record<string, string>;
}

/** Which runs: every condition given must hold. */
export interface RunsQuery {
  /** A commit (a prefix of 7+ hex digits). */
  commit?: string | undefined;
  /** An image digest (`sha256:...`) or name (`host/lab/app`, `host/lab/app:1`). */
  image?: string | undefined;
  /** `NAME[@RANGE]`, e.g. `openmpi@4.1.0`, `glibc@<2.34`, `cuda@>=12 <12.4`: a library in the image's facts. */
  libraries?: readonly string[] | undefined;
  /** `KEY OP VERSION` host facts of the run: `kernel<5.0`, `gpu.driver<535`, `glibc>=2.34`, `microarch=zen3`, `mpi=openmpi`, `host=node01`. */
  hosts?: readonly string[] | undefined;
  /** Runs started at or after / before this time (ISO 8601, or anything Date.parse reads). */
  since?: string | undefined;
  until?: string | undefined;
  /** Also list refusals (by default only runs that ran count as results). */
  includeRefused?: boolean | undefined;
}

const COLUMNS = ['commit_hash', 'runspec_path', 'image_digest', 'image_reference', 'image_libraries', 'started_at', 'ended_at', 'exit_status', 'exit_kind', 'forced', 'refused', 'verdict', 'score', 'host_name', 'kernel_release', 'gpu_driver', 'glibc_version', 'microarch', 'host_mpi'] as const;

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : null);

function toRecord(r: StoredRow): RunRecord {
  const libs = r.image_libraries;
  return {
    id: num(r.id)!,
    recordedAt: String(r.recorded_at),
    commit: String(r.commit_hash),
    runspecPath: str(r.runspec_path),
    image: { reference: str(r.image_reference), digest: String(r.image_digest) },
    startedAt: str(r.started_at),
    endedAt: str(r.ended_at),
    exitStatus: num(r.exit_status),
    exitKind: str(r.exit_kind),
    forced: num(r.forced) === 1,
    refused: num(r.refused) === 1,
    verdict: str(r.verdict),
    score: num(r.score),
    hostName: str(r.host_name),
    host: { kernel: str(r.kernel_release), driver: str(r.gpu_driver), glibc: str(r.glibc_version), microarch: str(r.microarch), mpi: str(r.host_mpi) },
    libraries: typeof libs === 'object' && libs !== null && !Array.isArray(libs) ? (Object.fromEntries(Object.entries(libs).filter(([, v]) => typeof v === 'string')) as Record<string, string>) : {},
  };
}

/**
 * A version as semver: its leading `N[.N[.N]]`, missing parts 0, leading zeros dropped (semver's own
 * coerce gives up on NVIDIA's `535.104.05`), anything after it ignored (`6.1.0-18-amd64` is 6.1.0); or null.
 */
function coerce(v: string | null | undefined): semver.SemVer | null {
  const m = v ? /^\s*v?(\d{1,9})(?:\.(\d{1,9}))?(?:\.(\d{1,9}))?/.exec(v) : null;
  if (!m) return null;
  return new semver.SemVer(`${Number(m[1])}.${Number(m[2] ?? 0)}.${Number(m[3] ?? 0)}`);
}

/** A semver range for RANGE (a bare version is exact; `4.1` is 4.1.x), or a usage error. */
function rangeOf(text: string, what: string): semver.Range {
  const r = semver.validRange(text.trim(), { loose: true });
  if (r === null) throw new UsageError(`${what}: ${JSON.stringify(text)} is not a version or version range (e.g. 4.1.0, <2.34, >=12 <12.4)`);
  return new semver.Range(r, { loose: true });
}

/** `NAME[@RANGE]`, parsed. */
export function parseLibraryFilter(s: string): { name: string; range: semver.Range | null } {
  const m = /^([A-Za-z0-9][A-Za-z0-9_.+-]*)(?:@(.+))?$/.exec(s.trim());
  if (!m) throw new UsageError(`--library ${s}: expected NAME or NAME@VERSION-RANGE (e.g. openmpi@4.1.0, glibc@<2.34)`);
  return { name: m[1]!.toLowerCase(), range: m[2] !== undefined ? rangeOf(m[2], `--library ${s}`) : null };
}

const VERSION_KEYS = { kernel: 'kernel', 'gpu.driver': 'driver', driver: 'driver', 'cuda.driver': 'driver', glibc: 'glibc' } as const;
const TEXT_KEYS = { microarch: 'microarch', mpi: 'mpi', host: 'hostName' } as const;

/** A host condition, parsed: a predicate on a run. */
export function parseHostFilter(s: string): (r: RunRecord) => boolean {
  const m = /^\s*([a-z.]+)\s*(<=|>=|==|!=|<|>|=|@)\s*(.+?)\s*$/.exec(s);
  const keys = [...Object.keys(VERSION_KEYS), ...Object.keys(TEXT_KEYS)].join(', ');
  if (!m) throw new UsageError(`--host ${s}: expected KEY OP VALUE, e.g. kernel<5.0, gpu.driver<535, microarch=zen3 (keys: ${keys})`);
  const [, key, op, value] = m as unknown as [string, string, string, string];
  if (key in VERSION_KEYS) {
    const field = VERSION_KEYS[key as keyof typeof VERSION_KEYS];
    if (op === '!=') {
      const v = coerce(value);
      if (!v) throw new UsageError(`--host ${s}: ${JSON.stringify(value)} is not a version`);
      return (r) => {
        const have = coerce(r.host[field]);
        return have !== null && semver.neq(have, v);
      };
    }
    const range = rangeOf(op === '@' ? value : `${op === '==' || op === '=' ? '' : op}${value}`, `--host ${s}`);
    // A fact the run did not have (no GPU driver) matches no comparison.
    return (r) => {
      const have = coerce(r.host[field]);
      return have !== null && range.test(have);
    };
  }
  if (key in TEXT_KEYS) {
    if (op !== '=' && op !== '==' && op !== '!=') throw new UsageError(`--host ${s}: ${key} compares with = or != only`);
    const field = TEXT_KEYS[key as keyof typeof TEXT_KEYS];
    const get = (r: RunRecord): string | null => (field === 'hostName' ? r.hostName : r.host[field]);
    const eq = key === 'mpi' ? (have: string | null) => (have ?? '').split(',').some((x) => x === value || x.split('@')[0] === value) : (have: string | null) => have === value;
    return op === '!=' ? (r) => !eq(get(r)) : (r) => eq(get(r));
  }
  throw new UsageError(`--host ${s}: unknown key ${JSON.stringify(key)} (keys: ${keys})`);
}

function timeOf(s: string, flag: string): number {
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new UsageError(`${flag} ${s}: not a time (e.g. 2025-01-31 or 2025-01-31T12:00:00Z)`);
  return t;
}

/** An image condition: a digest, or a name with or without tag. */
function imageFilter(s: string): { digest: string } | ((r: RunRecord) => boolean) {
  if (/^sha256:[0-9a-f]{64}$/.test(s)) return { digest: s };
  let want;
  try {
    want = parseDockerReference(s);
  } catch (e) {
    throw new UsageError(`--image ${s}: neither a digest (sha256:...) nor an image name (${(e as Error).message})`);
  }
  if (want.digest) return { digest: want.digest };
  const tag = want.tagDefaulted ? null : want.tag;
  return (r) => {
    if (!r.image.reference) return false;
    try {
      const have = parseDockerReference(r.image.reference);
      return have.name === want.name && (tag === null || have.tag === tag);
    } catch {
      return false;
    }
  };
}

/** Every condition of a query, checked before the store is read (bad input is a UsageError). */
export function compileQuery(q: RunsQuery): { where: Record<string, string | number>; test: (r: RunRecord) => boolean } {
  const where: Record<string, string | number> = {};
  const tests: ((r: RunRecord) => boolean)[] = [];
  if (q.commit !== undefined) {
    if (!/^[0-9a-f]{7,64}$/i.test(q.commit)) throw new UsageError(`--commit ${q.commit}: not a commit hash (7 to 64 hex digits)`);
    const c = q.commit.toLowerCase();
    if (c.length === 40 || c.length === 64) where.commit_hash = c;
    else tests.push((r) => r.commit.startsWith(c));
  }
  if (q.image !== undefined) {
    const f = imageFilter(q.image);
    if (typeof f === 'function') tests.push(f);
    else where.image_digest = f.digest;
  }
  for (const l of q.libraries ?? []) {
    const { name, range } = parseLibraryFilter(l);
    tests.push((r) => {
      const v = r.libraries[name];
      if (v === undefined) return false;
      if (!range) return true;
      const sv = coerce(v);
      return sv !== null && range.test(sv);
    });
  }
  for (const h of q.hosts ?? []) tests.push(parseHostFilter(h));
  if (q.since !== undefined) {
    const t = timeOf(q.since, '--since');
    tests.push((r) => Date.parse(r.startedAt ?? r.recordedAt) >= t);
  }
  if (q.until !== undefined) {
    const t = timeOf(q.until, '--until');
    tests.push((r) => Date.parse(r.startedAt ?? r.recordedAt) < t);
  }
  if (!q.includeRefused) tests.push((r) => !r.refused);
  return { where, test: (r) => tests.every((t) => t(r)) };
}

/** The answer to a query: the runs (in id order) and their distinct commits (in order of first run). */
export interface RunsAnswer {
  schemaVersion: typeof RUNS_SCHEMA_VERSION;
  store: string;
  runs: RunRecord[];
  commits: string[];
}

/**
 * `store runs` / `store affected`: the recorded replays that match every condition of `q`.
 * `store` is a store spec (or an open store, which is left open).
 */
export async function affected(q: RunsQuery, opts: { store?: string | import('../store/types.js').StoreBackend | undefined } = {}): Promise<RunsAnswer> {
  const { where, test } = compileQuery(q);
  const own = typeof opts.store !== 'object';
  const store = typeof opts.store === 'object' ? opts.store : await (await import('../store/open.js')).openStore(opts.store);
  try {
    if (own) await store.init();
    const rows = await store.rows('Producer', where, { columns: COLUMNS });
    const runs: RunRecord[] = [];
    for (const r of rows) {
      const rec = toRecord(r);
      if (test(rec)) runs.push(rec);
    }
    return { schemaVersion: RUNS_SCHEMA_VERSION, store: store.location, runs, commits: [...new Set(runs.map((r) => r.commit))] };
  } finally {
    if (own) await store.close();
  }
}

/** `store runs [--commit C] [--image DIGEST]`: every recorded replay (refusals included) that matches. */
export function storeRuns(q: Pick<RunsQuery, 'commit' | 'image'>, opts: { store?: string | import('../store/types.js').StoreBackend | undefined } = {}): Promise<RunsAnswer> {
  return affected({ ...q, includeRefused: true }, opts);
}
