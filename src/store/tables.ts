/**
 * The provenance store's schema, in one place: one table per plugin (`Consumer`, `Producer`,
 * `SystemKernel`), each with named, typed columns and which of them a row must carry. Every table
 * also has `id` (an integer primary key the store assigns) and `recorded_at` (when the row was
 * appended: ISO 8601 UTC text, e.g. `2025-01-31T12:00:00.000Z`).
 *
 * Also here, written once for both backends: how a value is typed, checked against its column and
 * encoded for SQL, and how a stored row is decoded.
 */
import { StoreError } from '../errors/index.js';
import type { ColumnType, Condition, GroupedRows, JsonValue, Row, SharedValues, StoredRow, StoredValue, Value } from './types.js';

/** A table's columns as a backend has them: name to type. */
export type Columns = ReadonlyMap<string, ColumnType>;

/** One declared column. */
export interface ColumnSpec {
  name: string;
  type: ColumnType;
  /** A row must carry a non-null value. */
  required?: boolean;
  /** VARCHAR holding JSON: any non-null value is written as JSON text and read back parsed. */
  json?: boolean;
  /** What it holds. */
  doc: string;
}

/** One declared table (one plugin's rows). */
export interface TableSpec {
  name: string;
  doc: string;
  columns: readonly ColumnSpec[];
  /**
   * Columns with an index of their own (named by {@link indexName}), for the queries that narrow by
   * them (`store affected`). An index changes no row; a store without them answers the same, slower.
   */
  indexes?: readonly string[];
}

/** Columns every table has, set by the store: a row to append never names them. */
export const BUILTIN_COLUMNS = ['id', 'recorded_at'] as const;

/** Names no column may have: the built-in ones, and `table` (the table's name in exported JSON lines). */
const RESERVED = new Set<string>([...BUILTIN_COLUMNS, 'table']);

/** The declared tables. A column added here is added to existing stores by `init()` (ALTER TABLE ADD COLUMN). */
export const TABLES: readonly TableSpec[] = [
  {
    name: 'SystemKernel',
    doc: "the host and user a row was recorded on, as DSI's SystemKernel plugin collects them (src/store/system-kernel.ts)",
    columns: [
      { name: 'uid', type: 'INTEGER', required: true, doc: 'user id of the recording process' },
      { name: 'effective_gid', type: 'INTEGER', required: true, doc: 'its effective group id' },
      { name: 'moniker', type: 'VARCHAR', doc: 'user name (null when the uid has no name)' },
      { name: 'gid_list', type: 'VARCHAR', json: true, required: true, doc: 'JSON array of the group ids the process has' },
      { name: 'kernel_info', type: 'VARCHAR', json: true, required: true, doc: 'JSON: kernel version, CONFIG_* options, command line, sysctls, loaded modules' },
      { name: 'host_facts', type: 'VARCHAR', json: true, doc: 'JSON: containerspec host facts (CPU target, glibc, MPI, GPU driver), when the caller gave them' },
      { name: 'host_name', type: 'VARCHAR', doc: 'host name' },
    ],
  },
  {
    name: 'Consumer',
    doc: 'a run-spec committed to a git repository and stored with the image it names',
    columns: [
      { name: 'commit_hash', type: 'VARCHAR', required: true, doc: 'git commit holding the run-spec' },
      { name: 'image_reference', type: 'VARCHAR', doc: 'image as the run-spec names it (name@sha256:...)' },
      { name: 'image_digest', type: 'VARCHAR', required: true, doc: 'manifest digest of the image (sha256:...)' },
      { name: 'runspec_path', type: 'VARCHAR', doc: 'path of the run-spec inside the repository' },
      { name: 'container_run_commands', type: 'BLOB', required: true, doc: 'tar of the directory holding the repository\'s .git' },
      { name: 'container_run_commands_sha256', type: 'VARCHAR', required: true, doc: 'hex sha256 of container_run_commands' },
      { name: 'system_kernel_id', type: 'INTEGER', doc: 'id of the SystemKernel row recorded with it' },
      { name: 'host_name', type: 'VARCHAR', doc: 'host name' },
      { name: 'charliecloud_version', type: 'VARCHAR', doc: 'ch-run --version' },
      { name: 'image_acquired', type: 'VARCHAR', doc: "'present' (already in Charliecloud storage) or 'pulled'" },
      { name: 'host_facts', type: 'VARCHAR', json: true, doc: 'JSON: containerspec host facts' },
    ],
  },
  {
    name: 'Producer',
    doc: 'one replay of a stored run-spec with ch-run (or a refusal to replay it)',
    columns: [
      { name: 'consumer_id', type: 'INTEGER', doc: 'id of the Consumer row replayed' },
      { name: 'commit_hash', type: 'VARCHAR', required: true, doc: 'git commit of the run-spec replayed' },
      { name: 'runspec_path', type: 'VARCHAR', doc: 'path of the run-spec inside the repository' },
      { name: 'image_digest', type: 'VARCHAR', required: true, doc: 'manifest digest of the image run' },
      { name: 'started_at', type: 'VARCHAR', doc: 'ISO 8601 UTC time the run started' },
      { name: 'ended_at', type: 'VARCHAR', doc: 'ISO 8601 UTC time it ended' },
      { name: 'exit_status', type: 'INTEGER', doc: 'exit status (null when killed by a signal or never started)' },
      { name: 'exit_kind', type: 'VARCHAR', doc: "how it ended, e.g. 'exited', 'signal', 'refused', 'error'" },
      { name: 'forced', type: 'INTEGER', doc: '1 when run although the compatibility check failed' },
      { name: 'refused', type: 'INTEGER', doc: '1 when not run because the compatibility check failed' },
      { name: 'host_facts', type: 'VARCHAR', json: true, doc: 'JSON: containerspec host facts at run time' },
      { name: 'drift', type: 'VARCHAR', json: true, doc: "JSON: what differs from earlier runs' provenance" },
      { name: 'stdout', type: 'BLOB', doc: 'standard output of the run' },
      { name: 'stderr', type: 'BLOB', doc: 'standard error of the run' },
      { name: 'system_kernel_id', type: 'INTEGER', doc: 'id of the SystemKernel row recorded with it' },
      { name: 'host_name', type: 'VARCHAR', doc: 'host name' },
      { name: 'image_reference', type: 'VARCHAR', doc: 'image as the run-spec names it (name@sha256:...)' },
      { name: 'image_libraries', type: 'VARCHAR', json: true, doc: 'JSON: libraries found in the image\'s facts, name to version ({"glibc": "2.31", "openmpi": "4.1.0", "cuda": "12.2"})' },
      { name: 'verdict', type: 'VARCHAR', doc: "the compatibility verdict on this host: 'compatible', 'incompatible' or 'unknown'" },
      { name: 'score', type: 'INTEGER', doc: 'the compatibility score (0..100), provenance drift included' },
      { name: 'report', type: 'VARCHAR', json: true, doc: 'JSON: the compatibility report (schemas/report.schema.json) the gate judged' },
      { name: 'overrides', type: 'VARCHAR', json: true, doc: 'JSON: --set what-ifs applied to the host facts (empty for a real host)' },
      { name: 'refusal', type: 'VARCHAR', doc: 'why the run was refused (incompatible, cannot tell, a changed image, a read-only bind)' },
      { name: 'charliecloud_version', type: 'VARCHAR', doc: 'ch-run --version' },
      { name: 'command', type: 'VARCHAR', json: true, doc: 'JSON: {commands: the ch-run argv of each RUN, env: the lines of its --set-env file}' },
      { name: 'steps_run', type: 'INTEGER', doc: 'how many RUN commands were started' },
      { name: 'signal', type: 'VARCHAR', doc: 'the signal that ended the run (SIGTERM, ...), when one did' },
      { name: 'stdout_bytes', type: 'INTEGER', doc: 'bytes the run wrote to stdout (stdout keeps at most the last 1 MiB)' },
      { name: 'stderr_bytes', type: 'INTEGER', doc: 'bytes the run wrote to stderr (stderr keeps at most the last 1 MiB)' },
      { name: 'kernel_release', type: 'VARCHAR', doc: 'host kernel release (from host_facts, for queries)' },
      { name: 'gpu_driver', type: 'VARCHAR', doc: 'host NVIDIA driver version (from host_facts, for queries)' },
      { name: 'glibc_version', type: 'VARCHAR', doc: 'host glibc version (from host_facts, for queries)' },
      { name: 'microarch', type: 'VARCHAR', doc: 'host archspec CPU target (from host_facts, for queries)' },
      { name: 'host_mpi', type: 'VARCHAR', doc: 'host MPI as impl@version, comma-separated (from host_facts, for queries)' },
    ],
    // What `store affected` narrows by (src/runspec/affected.ts), and the commit replay's history is read by.
    indexes: ['commit_hash', 'image_digest', 'image_reference', 'image_libraries', 'host_name', 'kernel_release', 'gpu_driver', 'glibc_version', 'microarch', 'host_mpi'],
  },
];

/** The name of the index on `table`.`column`: `<table>_<column>_idx`. */
export function indexName(table: string, column: string): string {
  return `${table}_${column}_idx`;
}

/** The declared table named `name`, if any. */
export function tableSpec(name: string): TableSpec | undefined {
  return TABLES.find((t) => t.name === name);
}

/** Largest identifier length (PostgreSQL truncates past 63 bytes). */
const MAX_IDENTIFIER = 63;

/** Throw unless `name` is a plain identifier (letters, digits, underscore; not starting with a digit). */
export function checkIdentifier(name: string, what: 'table' | 'column', location: string): void {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || name.length > MAX_IDENTIFIER) {
    throw new StoreError(`${what} name ${JSON.stringify(name.slice(0, 80))} is not allowed (letters, digits and _, at most ${MAX_IDENTIFIER})`, location);
  }
}

/** Quote an identifier for SQL (both SQLite and PostgreSQL use double quotes). Names are checked first, so no quote is inside. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * A database's column type as one of the four (SQLite's affinity rules, which PostgreSQL's names also
 * fit): `...INT...` INTEGER; `CHAR`, `CLOB`, `TEXT`, `JSON` VARCHAR; `BLOB`, `BYTEA` or none BLOB;
 * `REAL`, `FLOA`, `DOUB`, `NUMERIC`, `DECIMAL` FLOAT; anything else VARCHAR.
 */
export function columnTypeOf(sqlType: string): ColumnType {
  const t = sqlType.toUpperCase();
  if (t.includes('INT')) return 'INTEGER';
  if (/CHAR|CLOB|TEXT|JSON/.test(t)) return 'VARCHAR';
  if (t === '' || t.includes('BLOB') || t.includes('BYTEA')) return 'BLOB';
  if (/REAL|FLOA|DOUB|NUMERIC|DECIMAL/.test(t)) return 'FLOAT';
  return 'VARCHAR';
}

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;

/** The column type a value asks for when its column does not exist yet; null for null (no column is added for it). */
export function valueType(v: Value): ColumnType | null {
  if (v === null) return null;
  switch (typeof v) {
    case 'number':
      return Number.isInteger(v) ? 'INTEGER' : 'FLOAT';
    case 'bigint':
    case 'boolean':
      return 'INTEGER';
    case 'string':
      return 'VARCHAR';
    default:
      return isBytes(v) ? 'BLOB' : 'VARCHAR';
  }
}

/** What SQL is given: the backends bind exactly these. */
export type SqlValue = number | bigint | string | Buffer | null;

/** Encode one value for a column of type `type` (`json`: a declared JSON column, always VARCHAR), or throw a StoreError naming the column. */
export function encodeValue(table: string, column: string, type: ColumnType, json: boolean, v: Value, location: string): SqlValue {
  if (v === null) return null;
  const bad = (want: string) =>
    new StoreError(`${table}.${column} is ${type}: ${want}, not ${describe(v)}`, location);
  if (json) return toJson(table, column, v, location);
  switch (type) {
    case 'INTEGER':
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (typeof v === 'bigint') return v;
      if (typeof v === 'number' && Number.isInteger(v)) return v;
      throw bad('a whole number');
    case 'FLOAT':
      if (typeof v === 'number' && Number.isFinite(v)) return v;
      throw bad('a finite number');
    case 'VARCHAR':
      if (typeof v === 'string') return v;
      if (typeof v === 'object' && !isBytes(v)) return toJson(table, column, v, location);
      throw bad('a string or an object (stored as JSON)');
    case 'BLOB':
      if (isBytes(v)) return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      throw bad('a Buffer');
  }
}

function toJson(table: string, column: string, v: Value, location: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(v);
  } catch (e) {
    throw new StoreError(`${table}.${column}: cannot be written as JSON (${e instanceof Error ? e.message : String(e)})`, location, { cause: e });
  }
  if (text === undefined) throw new StoreError(`${table}.${column}: cannot be written as JSON (${describe(v)})`, location);
  return text;
}

function describe(v: unknown): string {
  if (isBytes(v)) return `${v.byteLength} bytes`;
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(String(v)).slice(0, 40)}`;
}

/** A row checked against its table and encoded: the columns to insert, and the columns to add first. */
export interface EncodedRow {
  names: string[];
  values: SqlValue[];
  /** Columns the row names that the table lacks, typed from their values (added with ALTER TABLE ADD COLUMN). */
  add: { name: string; type: ColumnType }[];
}

/**
 * Check a row against the table's columns (`have`: what the store has now, name → type) and its
 * declaration (if any), and encode it. Throws a StoreError for a bad name, a reserved column, a
 * missing required column or a value that does not fit its column. A null value for a column the
 * table lacks adds nothing (it would read back as NULL anyway).
 */
export function encodeRow(table: string, row: Row, have: ReadonlyMap<string, ColumnType>, location: string): EncodedRow {
  checkIdentifier(table, 'table', location);
  const spec = tableSpec(table);
  const names: string[] = [];
  const values: SqlValue[] = [];
  const add: { name: string; type: ColumnType }[] = [];
  for (const [name, v] of Object.entries(row)) {
    if (v === undefined) continue;
    checkIdentifier(name, 'column', location);
    if (RESERVED.has(name)) throw new StoreError(`${table}.${name} is set by the store, not by a row`, location);
    const declared = spec?.columns.find((c) => c.name === name);
    let type = have.get(name) ?? declared?.type;
    if (type === undefined) {
      const t = valueType(v);
      if (t === null) continue;
      type = t;
    }
    if (!have.has(name)) add.push({ name, type });
    names.push(name);
    values.push(encodeValue(table, name, type, declared?.json === true && type === 'VARCHAR', v, location));
  }
  for (const c of spec?.columns ?? []) {
    if (c.required && (row[c.name] === undefined || row[c.name] === null)) {
      throw new StoreError(`a ${table} row needs ${c.name} (${c.type})`, location);
    }
  }
  return { names, values, add };
}

/** Now as `recorded_at` text: ISO 8601, UTC, milliseconds. */
export function nowText(): string {
  return new Date().toISOString();
}

const JSON_COLUMNS = new Map<string, ReadonlySet<string>>();

/** The declared JSON columns of a table (computed once per table: decoding many rows asks per value). */
function jsonColumnsOf(table: string): ReadonlySet<string> {
  let set = JSON_COLUMNS.get(table);
  if (!set) JSON_COLUMNS.set(table, (set = new Set((tableSpec(table)?.columns ?? []).filter((c) => c.json).map((c) => c.name))));
  return set;
}

/**
 * Decode a row as the driver returned it: integers as numbers (bigint only past 2^53), BLOBs as
 * Buffers, declared JSON columns parsed (text that is not JSON is returned as it is).
 */
export function decodeRow(table: string, raw: Record<string, unknown>): StoredRow {
  const jsonColumns = jsonColumnsOf(table);
  const out: Record<string, StoredValue> = {};
  for (const [k, v] of Object.entries(raw)) {
    let value: StoredValue;
    if (typeof v === 'bigint') value = Number.isSafeInteger(Number(v)) ? Number(v) : v;
    else if (v instanceof Uint8Array) value = Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    else value = (v ?? null) as StoredValue;
    if (typeof value === 'string' && jsonColumns.has(k)) {
      try {
        value = JSON.parse(value) as JsonValue;
      } catch {
        /* not JSON (written by another tool): the text as it is */
      }
    }
    out[k] = value;
  }
  return out as StoredRow;
}

/**
 * {@link decodeRow} for many rows of the same columns, as a driver returns them in array form
 * (`columns[i]` names `values[i]`): the JSON columns are found once, not once per value.
 */
export function rowDecoder(table: string, columns: readonly string[]): (values: readonly unknown[]) => StoredRow {
  const json = columns.map((c) => jsonColumnsOf(table).has(c));
  const n = columns.length;
  return (values) => {
    const out: Record<string, StoredValue> = {};
    for (let i = 0; i < n; i++) {
      const v = values[i];
      let value: StoredValue;
      if (typeof v === 'bigint') value = Number.isSafeInteger(Number(v)) ? Number(v) : v;
      else if (v instanceof Uint8Array) value = Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      else value = (v ?? null) as StoredValue;
      if (json[i] && typeof value === 'string') {
        try {
          value = JSON.parse(value) as JsonValue;
        } catch {
          /* not JSON (written by another tool): the text as it is */
        }
      }
      out[columns[i]!] = value;
    }
    return out as StoredRow;
  };
}

/** The backend's placeholder for the i-th parameter (`?`, `$1`). */
export type Mark = (i: number) => string;

/** Most parameters one statement binds (SQLite's limit is 32766, PostgreSQL's 65535). */
export const MAX_PARAMS = 30_000;

/**
 * The conditions of a {@link Where} as SQL (joined with AND), their parameters pushed onto `params`;
 * null when no row can match. Written once for both backends (see {@link Condition}).
 */
export function whereSql(
  have: Columns,
  where: { readonly [column: string]: Condition },
  params: SqlValue[],
  location: string,
  mark: Mark,
  by?: string,
  unindexed: (column: string) => string = (c) => c,
): string[] | null {
  const conds: string[] = [];
  for (const [k, v] of Object.entries(where)) {
    checkIdentifier(k, 'column', location);
    const list = Array.isArray(v) ? (v as readonly (number | string | null)[]) : null;
    const type = have.get(k);
    if (type === undefined) {
      // A column no row has: every row is NULL there.
      if (v === null || list?.includes(null)) continue;
      return null;
    }
    // With `by` naming another column, this one is written as the backend's `unindexed` form of it
    // (the same value, which no index serves), so the planner reads through by's index.
    const col = by === undefined || by === k ? quoteIdent(k) : unindexed(quoteIdent(k));
    if (v === null) conds.push(`${col} IS NULL`);
    else if (list) {
      const values = list.filter((x): x is number | string => x !== null);
      const nullToo = values.length < list.length;
      if (!values.length && !nullToo) return null;
      if (params.length + values.length > MAX_PARAMS) throw new StoreError(`a condition on ${k} lists ${values.length} values: more than one query can bind (${MAX_PARAMS})`, location);
      const marks = values.map((x) => {
        params.push(x);
        return mark(params.length);
      });
      const inList = marks.length ? `${col} IN (${marks.join(', ')})` : null;
      conds.push(inList && nullToo ? `(${inList} OR ${col} IS NULL)` : (inList ?? `${col} IS NULL`));
    } else if (typeof v === 'object') {
      const prefix = (v as { prefix?: unknown }).prefix;
      if (typeof prefix !== 'string') throw new StoreError(`a condition on ${k} is neither a value, a list nor { prefix }`, location);
      if (type !== 'VARCHAR') throw new StoreError(`a prefix condition needs a VARCHAR column; ${k} is ${type}`, location);
      if (prefix === '') continue;
      params.push(prefix);
      // substr counts characters on both backends and compares case-sensitively (LIKE does not on SQLite).
      conds.push(`substr(${col}, 1, ${[...prefix].length}) = ${mark(params.length)}`);
    } else {
      params.push(v);
      conds.push(`${col} = ${mark(params.length)}`);
    }
  }
  return conds;
}

/**
 * The `SELECT` of `rows()`, written once for both backends: the {@link whereSql} conditions, `afterId`,
 * `limit`, in id order. Null when no row can match. `unindexed(column)`: the backend's way to write a
 * column so that its index is not used (SQLite's unary `+`), for `by`; a backend whose planner has
 * statistics (PostgreSQL) leaves it out and picks the index itself.
 */
export function selectRows(
  table: string,
  have: Columns,
  where: { readonly [column: string]: Condition },
  options: { afterId?: number | undefined; limit?: number | undefined; columns?: readonly string[] | undefined; by?: string | undefined },
  location: string,
  mark: Mark,
  unindexed?: (column: string) => string,
): { sql: string; params: SqlValue[] } | null {
  const params: SqlValue[] = [];
  if (options.by !== undefined) checkIdentifier(options.by, 'column', location);
  const conds = whereSql(have, where, params, location, mark, options.by !== undefined && options.by in where ? options.by : undefined, unindexed);
  if (!conds) return null;
  if (options.afterId !== undefined) {
    params.push(options.afterId);
    conds.push(`${quoteIdent('id')} > ${mark(params.length)}`);
  }
  let list = '*';
  if (options.columns !== undefined) {
    for (const c of options.columns) checkIdentifier(c, 'column', location);
    list = [...new Set([...BUILTIN_COLUMNS, ...options.columns.filter((c) => have.has(c))])].map(quoteIdent).join(', ');
  }
  const sql =
    `SELECT ${list} FROM ${quoteIdent(table)}${conds.length ? ` WHERE ${conds.join(' AND ')}` : ''} ORDER BY ${quoteIdent('id')}` +
    (options.limit !== undefined ? ` LIMIT ${Math.max(0, Math.floor(options.limit))}` : '');
  return { sql, params };
}

/** The `SELECT ... GROUP BY` of `distinct()` (each value and its row count), written once for both backends. Null when no value can come back. */
export function selectDistinct(
  table: string,
  have: Columns,
  column: string,
  where: { readonly [column: string]: Condition },
  location: string,
  mark: Mark,
): { sql: string; params: SqlValue[] } | null {
  checkIdentifier(column, 'column', location);
  if (!have.has(column)) return null;
  const params: SqlValue[] = [];
  const conds = whereSql(have, where, params, location, mark);
  if (!conds) return null;
  const col = quoteIdent(column);
  conds.push(`${col} IS NOT NULL`);
  return { sql: `SELECT ${col} AS v, count(*) AS n FROM ${quoteIdent(table)} WHERE ${conds.join(' AND ')} GROUP BY ${col}`, params };
}

/**
 * The `SELECT DISTINCT` of `groupedRows()`, written once for both backends: each distinct combination
 * of the `shared` columns the table has (`columns`, in the order of the values) among the rows that
 * match. Null when no row can match, or when the table has none of the shared columns.
 */
export function selectGroups(
  table: string,
  have: Columns,
  where: { readonly [column: string]: Condition },
  options: { shared: readonly string[]; by?: string | undefined },
  location: string,
  mark: Mark,
  unindexed?: (column: string) => string,
): { sql: string; params: SqlValue[]; columns: string[] } | null {
  for (const c of options.shared) checkIdentifier(c, 'column', location);
  const columns = [...new Set(options.shared.filter((c) => have.has(c)))];
  if (!columns.length) return null;
  const params: SqlValue[] = [];
  if (options.by !== undefined) checkIdentifier(options.by, 'column', location);
  const conds = whereSql(have, where, params, location, mark, options.by !== undefined && options.by in where ? options.by : undefined, unindexed);
  if (!conds) return null;
  const sql = `SELECT DISTINCT ${columns.map(quoteIdent).join(', ')} FROM ${quoteIdent(table)}${conds.length ? ` WHERE ${conds.join(' AND ')}` : ''}`;
  return { sql, params, columns };
}

/** What {@link groupedSelect} needs of the groups read first: their columns and values as the driver returned them. */
export interface GroupsRead {
  columns: readonly string[];
  values: readonly (readonly unknown[])[];
}

/** The rows' statement of `groupedRows()`, and how to make the answer from what the driver returned. */
export interface GroupedSelect {
  sql: string;
  params: SqlValue[];
  /**
   * The answer from the rows the driver returned in array form (`names`: the result's column names),
   * or null when a row's values are in none of the groups read before (read again without them).
   */
  answer(names: readonly string[], rows: readonly (readonly unknown[])[]): GroupedRows | null;
}

/**
 * Stored values as Map keys, for one read: equal where the values are one ({@link StoreWriter.groupedRows}):
 * text as itself, a number as a number (an integer read as a bigint is the same key as the number;
 * -0 is 0), a BLOB by its bytes (as a symbol, never equal to a text); undefined for a value that is
 * none of these (an object a driver made, e.g. a Date): it cannot be a key.
 */
function keyer(): (v: unknown) => unknown {
  const blobs = new Map<string, symbol>();
  return (v) => {
    if (v === null || v === undefined) return null;
    switch (typeof v) {
      case 'string':
      case 'number':
      case 'boolean':
        return v;
      case 'bigint':
        return Number.isSafeInteger(Number(v)) ? Number(v) : v;
      default: {
        if (!(v instanceof Uint8Array)) return undefined;
        const bytes = Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1');
        let k = blobs.get(bytes);
        if (!k) blobs.set(bytes, (k = Symbol('blob')));
        return k;
      }
    }
  };
}

/** Group numbers by a fixed number of keys (nested maps; no keys: one group). */
class KeyIndex {
  readonly #root = new Map<unknown, unknown>();
  #only: number | undefined;
  constructor(readonly depth: number) {}

  get(keys: readonly unknown[]): number | undefined {
    if (this.depth === 0) return this.#only;
    let m = this.#root;
    for (let i = 0; i < this.depth - 1; i++) {
      const next = m.get(keys[i]) as Map<unknown, unknown> | undefined;
      if (!next) return undefined;
      m = next;
    }
    return m.get(keys[this.depth - 1]) as number | undefined;
  }

  /** Set the group of `keys` unless they have one; returns false when they had. */
  add(keys: readonly unknown[], group: number): boolean {
    if (this.depth === 0) {
      if (this.#only !== undefined) return false;
      this.#only = group;
      return true;
    }
    let m = this.#root;
    for (let i = 0; i < this.depth - 1; i++) {
      let next = m.get(keys[i]) as Map<unknown, unknown> | undefined;
      if (!next) m.set(keys[i], (next = new Map()));
      m = next;
    }
    const last = keys[this.depth - 1];
    if (m.has(last)) return false;
    m.set(last, group);
    return true;
  }
}

/**
 * The columns (indexes into each group's values) whose values tell the groups apart: most distinct
 * values first, added until no two groups agree on all of them. None for one group; null when even
 * all of them do not (a value that cannot be a key, see {@link keyer}).
 */
function keyColumns(values: readonly (readonly unknown[])[], width: number, keyOf: (v: unknown) => unknown): number[] | null {
  if (values.length <= 1) return [];
  const keyed = values.map((v) => Array.from({ length: width }, (_, i) => keyOf(v[i])));
  const distinct = new Map<number, number>();
  for (let c = 0; c < width; c++) if (keyed.every((k) => k[c] !== undefined)) distinct.set(c, new Set(keyed.map((k) => k[c])).size);
  const chosen: number[] = [];
  for (const c of [...distinct.keys()].sort((a, b) => distinct.get(b)! - distinct.get(a)!)) {
    chosen.push(c);
    const index = new KeyIndex(chosen.length);
    if (keyed.every((k, g) => index.add(chosen.map((i) => k[i]), g))) return chosen;
  }
  return null;
}

/**
 * The rows' statement of `groupedRows()`, written once for both backends. With `groups` (read first,
 * on the same snapshot), the rows read their own columns and only the shared columns that tell the
 * groups apart ({@link keyColumns}: often one, none for one group); each row's group is the one its
 * values of those columns name. Without (`groups` null), the rows read every shared column and are
 * grouped by all of them: inside a PostgreSQL transaction, where each statement has a snapshot of
 * its own; for a column PostgreSQL cannot compare; and again when the groups read first cannot be
 * told apart by the values of their columns, or a row holds a value none of them did (text SQL
 * finds equal that is not the same text, such as PostgreSQL `numeric` 1.0 and 1.00). Null when no
 * row can match.
 */
export function groupedSelect(
  table: string,
  have: Columns,
  where: { readonly [column: string]: Condition },
  options: { columns: readonly string[]; shared: readonly string[]; by?: string | undefined },
  groups: GroupsRead | null,
  location: string,
  mark: Mark,
  unindexed?: (column: string) => string,
): GroupedSelect | null {
  for (const c of options.shared) checkIdentifier(c, 'column', location);
  const present = [...new Set(options.shared.filter((c) => have.has(c)))];
  const missing = options.shared.filter((c) => !have.has(c));
  const sharedOf = rowDecoder(table, present);
  const complete = (g: SharedValues): SharedValues => {
    for (const c of missing) g[c] = null;
    return g;
  };
  const keyOf = keyer();
  let key: string[];
  const found: SharedValues[] = [];
  let index: KeyIndex;
  if (groups) {
    const cols = keyColumns(groups.values, groups.columns.length, keyOf);
    if (cols === null) return groupedSelect(table, have, where, options, null, location, mark, unindexed);
    key = cols.map((i) => groups.columns[i]!);
    index = new KeyIndex(key.length);
    for (const v of groups.values) {
      const g = found.length;
      index.add(cols.map((i) => keyOf(v[i])), g);
      // The groups' values in the order of `present`.
      found.push(complete(sharedOf(present.map((c) => v[groups.columns.indexOf(c)]))));
    }
  } else {
    key = present;
    index = new KeyIndex(key.length);
  }
  // selectRows lists id, recorded_at and the rows' own columns first (once each), then the key columns not among them.
  const ownWidth = new Set([...BUILTIN_COLUMNS, ...options.columns.filter((c) => have.has(c))]).size;
  const q = selectRows(table, have, where, { columns: [...options.columns, ...key], by: options.by }, location, mark, unindexed);
  if (!q) return null;
  return {
    ...q,
    answer(names, rows) {
      const decodeOwn = rowDecoder(table, names.slice(0, ownWidth));
      const at = key.map((c) => names.indexOf(c));
      const sharedAt = present.map((c) => names.indexOf(c));
      const out: StoredRow[] = [];
      const group: number[] = [];
      const keys: unknown[] = new Array(at.length);
      for (const r of rows) {
        let keyed = true;
        for (let i = 0; i < at.length; i++) if ((keys[i] = keyOf(r[at[i]!])) === undefined) keyed = false;
        let g = keyed ? index.get(keys) : undefined;
        if (g === undefined) {
          if (groups) return null; // a value the groups read before did not have
          g = found.length;
          found.push(complete(sharedOf(sharedAt.map((i) => r[i]))));
          if (keyed) index.add(keys, g);
        }
        out.push(decodeOwn(r));
        group.push(g);
      }
      // On one snapshot, every group read first is some row's.
      return { groups: found, rows: out, group };
    },
  };
}
