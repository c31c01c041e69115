/**
 * Queries over recorded replays (the Producer table): which runs used image X, library Y, or ran on
 * hosts with facts Z, and when. This is the Arvados question: when a bug is found in a tool or a
 * library, which results are affected (and re-run them with `replay --affected`).
 *
 * Versions compare as semver after coercion (`2.31` is 2.31.0, `6.1.0-18-amd64` is 6.1.0,
 * `535.104.05` is 535.104.5), so a range such as `<2.34` means what it says.
 *
 * The store does the narrowing: a semver range cannot be written in SQL, but the values a column holds
 * are few (one libraries text per image, one kernel release per kernel build), so each condition on a
 * column is tested in code on the column's distinct values (`StoreBackend.distinct`, an index-only read
 * where the column has an index), and only the rows holding the values that passed are read
 * (`column IN (...)`); a digest, a full commit or a commit prefix is a plain SQL condition. Only the
 * small columns of those rows are read and decoded (never stdout, stderr, the report or the full host
 * facts), and every condition is tested again on each of them, so the answer is the same whatever
 * the store narrowed (a column with very many values, or times, are tested on the rows read).
 *
 * Of those columns, only the commit and the times differ from run to run; the image, the host and
 * the outcome are the same for many runs, so they are read and decoded once for each distinct
 * combination (`StoreBackend.groupedRows`): a wide answer (a third of 100,000 runs) costs about the
 * reading of its runs' own values.
 */
import semver from 'semver';
import { UsageError } from '../errors/index.js';
import { parseDockerReference } from '../image/docker-reference.js';
import type { Condition, SharedValues, StoreBackend, StoredRow } from '../store/types.js';

/** Version of the `store runs --json` / `store affected --json` document (`schemas/runs-1.0.schema.json`). */
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

/** The Producer columns each run has a value of its own in (besides `id` and `recorded_at`). */
const PER_RUN = ['commit_hash', 'started_at', 'ended_at'] as const;
/** The Producer columns many runs hold the same values in (one image, one host, one outcome): read once per distinct combination. */
const SHARED = ['runspec_path', 'image_digest', 'image_reference', 'image_libraries', 'exit_status', 'exit_kind', 'forced', 'refused', 'verdict', 'score', 'host_name', 'kernel_release', 'gpu_driver', 'glibc_version', 'microarch', 'host_mpi'] as const;
const COLUMNS = [...PER_RUN, ...SHARED];

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : null);

/** The libraries of an `image_libraries` value (parsed JSON, or text that was not JSON), name to version. */
function librariesOf(libs: unknown): Record<string, string> {
  return typeof libs === 'object' && libs !== null && !Array.isArray(libs) ? (Object.fromEntries(Object.entries(libs).filter(([, v]) => typeof v === 'string')) as Record<string, string>) : {};
}

/** What a run record takes from the {@link SHARED} columns. */
type SharedPart = Omit<RunRecord, 'id' | 'recordedAt' | 'commit' | 'startedAt' | 'endedAt'>;

/** The shared part of a run, from its {@link SHARED} columns (a row, or a group of rows). */
function sharedPart(r: SharedValues): SharedPart {
  return {
    runspecPath: str(r.runspec_path),
    image: { reference: str(r.image_reference), digest: String(r.image_digest) },
    exitStatus: num(r.exit_status),
    exitKind: str(r.exit_kind),
    forced: num(r.forced) === 1,
    refused: num(r.refused) === 1,
    verdict: str(r.verdict),
    score: num(r.score),
    hostName: str(r.host_name),
    host: { kernel: str(r.kernel_release), driver: str(r.gpu_driver), glibc: str(r.glibc_version), microarch: str(r.microarch), mpi: str(r.host_mpi) },
    libraries: librariesOf(r.image_libraries),
  };
}

/** A run's record: its own columns, and a copy of its shared part (runs of one group share no object). */
function recordOf(r: StoredRow, s: SharedPart): RunRecord {
  return {
    id: num(r.id)!,
    recordedAt: String(r.recorded_at),
    commit: String(r.commit_hash),
    runspecPath: s.runspecPath,
    image: { ...s.image },
    startedAt: str(r.started_at),
    endedAt: str(r.ended_at),
    exitStatus: s.exitStatus,
    exitKind: s.exitKind,
    forced: s.forced,
    refused: s.refused,
    verdict: s.verdict,
    score: s.score,
    hostName: s.hostName,
    host: { ...s.host },
    libraries: { ...s.libraries },
  };
}

function toRecord(r: StoredRow): RunRecord {
  return recordOf(r, sharedPart(r));
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

/** The Producer column each host key reads, and where a {@link RunRecord} holds it. */
const HOST_COLUMNS = {
  kernel: { column: 'kernel_release', get: (r: RunRecord) => r.host.kernel },
  driver: { column: 'gpu_driver', get: (r: RunRecord) => r.host.driver },
  glibc: { column: 'glibc_version', get: (r: RunRecord) => r.host.glibc },
  microarch: { column: 'microarch', get: (r: RunRecord) => r.host.microarch },
  mpi: { column: 'host_mpi', get: (r: RunRecord) => r.host.mpi },
  hostName: { column: 'host_name', get: (r: RunRecord) => r.hostName },
} as const;

/**
 * A condition on one VARCHAR column of a run, as the store holds it: the column, and the test of
 * its value (null: the run has none, or it is not text).
 */
export interface ColumnTest {
  column: string;
  test: (value: string | null) => boolean;
}

/**
 * `test`, remembering its answer for each value (a semver comparison parses the version each time;
 * the values of a column are few, the rows read many). Stops remembering past 10,000 values.
 */
function memo(test: (v: string | null) => boolean): (v: string | null) => boolean {
  const seen = new Map<string | null, boolean>();
  return (v) => {
    let r = seen.get(v);
    if (r === undefined) {
      r = test(v);
      if (seen.size < 10_000) seen.set(v, r);
    }
    return r;
  };
}

/** A host condition, parsed: the column it reads and the test of its value. */
function hostCondition(s: string): ColumnTest & { get: (r: RunRecord) => string | null } {
  const c = hostConditionOnce(s);
  return { ...c, test: memo(c.test) };
}

function hostConditionOnce(s: string): ColumnTest & { get: (r: RunRecord) => string | null } {
  const m = /^\s*([a-z.]+)\s*(<=|>=|==|!=|<|>|=|@)\s*(.+?)\s*$/.exec(s);
  const keys = [...Object.keys(VERSION_KEYS), ...Object.keys(TEXT_KEYS)].join(', ');
  if (!m) throw new UsageError(`--host ${s}: expected KEY OP VALUE, e.g. kernel<5.0, gpu.driver<535, microarch=zen3 (keys: ${keys})`);
  const [, key, op, value] = m as unknown as [string, string, string, string];
  if (key in VERSION_KEYS) {
    const field = HOST_COLUMNS[VERSION_KEYS[key as keyof typeof VERSION_KEYS]];
    if (op === '!=') {
      const v = coerce(value);
      if (!v) throw new UsageError(`--host ${s}: ${JSON.stringify(value)} is not a version`);
      return {
        ...field,
        test: (text) => {
          const have = coerce(text);
          return have !== null && semver.neq(have, v);
        },
      };
    }
    const range = rangeOf(op === '@' ? value : `${op === '==' || op === '=' ? '' : op}${value}`, `--host ${s}`);
    // A fact the run did not have (no GPU driver) matches no comparison.
    return {
      ...field,
      test: (text) => {
        const have = coerce(text);
        return have !== null && range.test(have);
      },
    };
  }
  if (key in TEXT_KEYS) {
    if (op !== '=' && op !== '==' && op !== '!=') throw new UsageError(`--host ${s}: ${key} compares with = or != only`);
    const field = HOST_COLUMNS[TEXT_KEYS[key as keyof typeof TEXT_KEYS]];
    const eq = key === 'mpi' ? (have: string | null) => (have ?? '').split(',').some((x) => x === value || x.split('@')[0] === value) : (have: string | null) => have === value;
    return { ...field, test: op === '!=' ? (v) => !eq(v) : eq };
  }
  throw new UsageError(`--host ${s}: unknown key ${JSON.stringify(key)} (keys: ${keys})`);
}

/** A host condition, parsed: a predicate on a run. */
export function parseHostFilter(s: string): (r: RunRecord) => boolean {
  const c = hostCondition(s);
  return (r) => c.test(c.get(r));
}

function timeOf(s: string, flag: string): number {
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new UsageError(`${flag} ${s}: not a time (e.g. 2025-01-31 or 2025-01-31T12:00:00Z)`);
  return t;
}

/** An image condition: a digest, or a test of the reference (a name with or without tag). */
function imageFilter(s: string): { digest: string } | ((reference: string | null) => boolean) {
  if (/^sha256:[0-9a-f]{64}$/.test(s)) return { digest: s };
  let want;
  try {
    want = parseDockerReference(s);
  } catch (e) {
    throw new UsageError(`--image ${s}: neither a digest (sha256:...) nor an image name (${(e as Error).message})`);
  }
  if (want.digest) return { digest: want.digest };
  const tag = want.tagDefaulted ? null : want.tag;
  return (reference) => {
    if (!reference) return false;
    try {
      const have = parseDockerReference(reference);
      return have.name === want.name && (tag === null || have.tag === tag);
    } catch {
      return false;
    }
  };
}

/** A query compiled: SQL conditions, tests of one column's value each, and the test of a whole run. */
export interface CompiledQuery {
  /** Plain conditions the store evaluates as they are (a digest, a commit or a commit prefix). */
  where: Record<string, Condition>;
  /** Conditions on one column each, which the store narrows by through that column's distinct values. */
  columns: ColumnTest[];
  /** Every condition, on a run read: the final word. */
  test: (r: RunRecord) => boolean;
}

/** Every condition of a query, checked before the store is read (bad input is a UsageError). */
export function compileQuery(q: RunsQuery): CompiledQuery {
  const where: Record<string, Condition> = {};
  const columns: ColumnTest[] = [];
  const tests: ((r: RunRecord) => boolean)[] = [];
  if (q.commit !== undefined) {
    if (!/^[0-9a-f]{7,64}$/i.test(q.commit)) throw new UsageError(`--commit ${q.commit}: not a commit hash (7 to 64 hex digits)`);
    const c = q.commit.toLowerCase();
    if (c.length === 40 || c.length === 64) where.commit_hash = c;
    else {
      where.commit_hash = { prefix: c };
      tests.push((r) => r.commit.startsWith(c));
    }
  }
  if (q.image !== undefined) {
    const f = imageFilter(q.image);
    if (typeof f === 'function') {
      columns.push({ column: 'image_reference', test: f });
      tests.push((r) => f(r.image.reference));
    } else where.image_digest = f.digest;
  }
  for (const l of q.libraries ?? []) {
    const { name, range } = parseLibraryFilter(l);
    const inRange = memo((v) => {
      const sv = coerce(v);
      return sv !== null && range!.test(sv);
    });
    const has = (libs: Record<string, string>): boolean => {
      const v = libs[name];
      if (v === undefined) return false;
      return !range || inRange(v);
    };
    // The stored text, decoded as a row's is (text that is not JSON holds no library).
    columns.push({ column: 'image_libraries', test: (text) => has(librariesOf(text === null ? null : parseJson(text))) });
    tests.push((r) => has(r.libraries));
  }
  for (const h of q.hosts ?? []) {
    const c = hostCondition(h);
    columns.push({ column: c.column, test: c.test });
    tests.push((r) => c.test(c.get(r)));
  }
  if (q.since !== undefined) {
    const t = timeOf(q.since, '--since');
    tests.push((r) => Date.parse(r.startedAt ?? r.recordedAt) >= t);
  }
  if (q.until !== undefined) {
    const t = timeOf(q.until, '--until');
    tests.push((r) => Date.parse(r.startedAt ?? r.recordedAt) < t);
  }
  if (!q.includeRefused) tests.push((r) => !r.refused);
  return { where, columns, test: (r) => tests.every((t) => t(r)) };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** A column with more distinct values than this is not narrowed by (its condition is tested on the rows read). */
export const MAX_NARROWING_VALUES = 5000;

/** At most this many listed values in one query, all columns together (well under what a statement binds). */
const MAX_LISTED = 20_000;

/**
 * The store conditions for a compiled query: its plain conditions, and for each column tested, the
 * list of that column's stored values that pass every test on it (null too when a run without the
 * value passes). A column holding a value that is not text, or more than
 * {@link MAX_NARROWING_VALUES} values, or whose list would make the query bind too many, is left to
 * the test of the rows read. `by`: the column whose
 * condition holds for the fewest rows (a narrowed list, or a digest or commit the query names), for the
 * store to read through its index.
 */
export async function narrowedWhere(store: Pick<StoreBackend, 'distinct'>, c: CompiledQuery): Promise<{ where: Record<string, Condition>; by: string | undefined }> {
  const where: Record<string, Condition> = { ...c.where };
  const byColumn = new Map<string, ColumnTest['test'][]>();
  for (const t of c.columns) byColumn.set(t.column, [...(byColumn.get(t.column) ?? []), t.test]);
  let by: { column: string; rows: number } | undefined;
  let listed = 0;
  for (const [column, cond] of Object.entries(c.where)) {
    if (typeof cond !== 'string') continue; // a prefix is no index lookup
    const rows = (await store.distinct('Producer', column, { [column]: cond })).reduce((n, v) => n + v.rows, 0);
    if (!by || rows < by.rows) by = { column, rows };
  }
  for (const [column, tests] of byColumn) {
    if (column in where) continue;
    const values = await store.distinct('Producer', column);
    if (values.length > MAX_NARROWING_VALUES || values.some((v) => typeof v.value !== 'string')) continue;
    const pass = (v: string | null) => tests.every((t) => t(v));
    const hits = values.filter((v) => pass(v.value as string));
    const list: (string | null)[] = hits.map((v) => v.value as string);
    if (pass(null)) list.push(null);
    if (listed + list.length > MAX_LISTED) continue;
    listed += list.length;
    where[column] = list;
    // Rows without a value are not counted: a list holding null is never the one to read by.
    const rows = list.includes(null) ? Infinity : hits.reduce((n, v) => n + v.rows, 0);
    if (!by || rows < by.rows) by = { column, rows };
  }
  return { where, by: by?.rows === Infinity ? undefined : by?.column };
}

/** The answer to a query: the runs (in id order) and their distinct commits (in order of first run). */
export interface RunsAnswer {
  schemaVersion: typeof RUNS_SCHEMA_VERSION;
  store: string;
  runs: RunRecord[];
  commits: string[];
}

/** Options of {@link affected} and {@link storeRuns}. */
export interface AffectedOptions {
  /**
   * A store spec (default `$CONTAINERSPEC_STORE`, else the SQLite default), opened read-only (a
   * store that is not there is a StoreError; nothing is created or added), or an open store, which
   * is left open.
   */
  store?: string | StoreBackend | undefined;
  /**
   * Narrow in the store (default true). False: read every run's small columns, each row whole
   * (`rows()`, not grouped), and test them in code: the plain way the narrowed answer must equal (for
   * tests and the benchmark's reference).
   */
  narrow?: boolean | undefined;
}

/** `store runs` / `store affected`: the recorded replays that match every condition of `q`. */
export async function affected(q: RunsQuery, opts: AffectedOptions = {}): Promise<RunsAnswer> {
  const compiled = compileQuery(q);
  const own = typeof opts.store !== 'object';
  // A query changes nothing: a store that is not there is an error, not a new empty store.
  const store = typeof opts.store === 'object' ? opts.store : await (await import('../store/open.js')).openStore(opts.store, { create: false });
  try {
    const { test } = compiled;
    const runs: RunRecord[] = [];
    if (opts.narrow === false) {
      for (const r of await store.rows('Producer', {}, { columns: COLUMNS })) {
        const rec = toRecord(r);
        if (test(rec)) runs.push(rec);
      }
    } else {
      const { where, by } = await narrowedWhere(store, compiled);
      // The runs' own columns for each run; the image, host and outcome once for each distinct combination.
      const read = await store.groupedRows('Producer', where, { columns: PER_RUN, shared: SHARED, ...(by !== undefined ? { by } : {}) });
      const parts = read.groups.map(sharedPart);
      for (let i = 0; i < read.rows.length; i++) {
        const rec = recordOf(read.rows[i]!, parts[read.group[i]!]!);
        if (test(rec)) runs.push(rec);
      }
    }
    return { schemaVersion: RUNS_SCHEMA_VERSION, store: store.location, runs, commits: [...new Set(runs.map((r) => r.commit))] };
  } finally {
    if (own) await store.close();
  }
}

/** `store runs [--commit C] [--image DIGEST]`: every recorded replay (refusals included) that matches. */
export function storeRuns(q: Pick<RunsQuery, 'commit' | 'image'>, opts: AffectedOptions = {}): Promise<RunsAnswer> {
  return affected({ ...q, includeRefused: true }, opts);
}
