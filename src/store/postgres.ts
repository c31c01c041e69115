/**
 * The PostgreSQL backend (`pg`): a `postgres://` or `postgresql://` URL, for stores shared by many
 * hosts (and for home directories on NFS or Lustre, where SQLite's locking cannot be trusted).
 *
 * - Every write is one transaction on one pooled connection: a process that dies mid-write leaves
 *   nothing (the server rolls back when the connection drops).
 * - Creating tables and adding columns happen inside a transaction holding a transaction-scoped
 *   advisory lock (`pg_advisory_xact_lock`), with `CREATE TABLE IF NOT EXISTS` and
 *   `ALTER TABLE ... ADD COLUMN IF NOT EXISTS`, so any number of processes may `init()` at once.
 * - Identifiers are always quoted: table names keep their case (`"Consumer"`).
 * - {@link PostgresStore.location} and every error message name the server as
 *   `postgres://user@host:port/db`: never the password.
 */
import pg from 'pg';
import { StoreError, oneLine } from '../errors/index.js';
import { isPostgresUrl } from './location.js';

export { isPostgresUrl } from './location.js';
import { TABLES, groupedSelect, indexName, selectDistinct, selectGroups, selectRows, checkIdentifier, columnTypeOf, decodeRow, encodeRow, nowText, quoteIdent, tableSpec, type GroupsRead, type SqlValue, type TableSpec } from './tables.js';
import type { ColumnInfo, ColumnType, GroupedRows, GroupedRowsOptions, Row, RowInput, RowsOptions, StoreBackend, StoreWriter, StoredRow, TableInfo, ValueCount, Where } from './types.js';

/** How long connecting may take before the store is called unreachable (ms). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** Options for {@link openPostgres}. */
export interface PostgresOptions {
  /** Create the declared tables and columns that are missing (default true). */
  create?: boolean;
  /** Connection timeout in ms (default {@link DEFAULT_CONNECT_TIMEOUT_MS}). */
  connectTimeoutMs?: number;
  /** Most connections the pool opens (default 4). */
  maxConnections?: number;
}

/** The database's name for a column type. */
const SQL_TYPE: Record<ColumnType, string> = { INTEGER: 'BIGINT', FLOAT: 'DOUBLE PRECISION', VARCHAR: 'TEXT', BLOB: 'BYTEA' };

/** The `recorded_at` default for rows written by other tools: ISO 8601 UTC with milliseconds. */
const RECORDED_AT_DEFAULT = `(to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`;

/** The advisory lock every schema change holds: two int4 keys, "cspr" and 1. */
const SCHEMA_LOCK = 'SELECT pg_advisory_xact_lock(1668510834, 1)';

/** A URL with its password (and any `password=` parameter) replaced: for messages about a URL that may not parse. */
function redact(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^/@:]*):[^@/]*@/i, '$1:***@').replace(/([?&]password=)[^&]*/gi, '$1***');
}

/** What to show for a URL: `postgres://user@host:port/db` (no password, no parameters). */
export function displayUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return redact(url);
  }
  const dec = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const user = dec(u.username) || u.searchParams.get('user') || process.env.PGUSER || '';
  const host = dec(u.hostname) || u.searchParams.get('host') || process.env.PGHOST || 'localhost';
  const port = u.port || u.searchParams.get('port') || process.env.PGPORT || '5432';
  const db = dec(u.pathname.replace(/^\//, '')) || u.searchParams.get('dbname') || user;
  return `postgres://${user ? `${user}@` : ''}${host.includes('/') ? encodeURIComponent(host) : host}:${port}/${db}`;
}

/** The secrets a URL carries (decoded and as written), to scrub from any message. */
function secretsOf(url: string): string[] {
  const out = new Set<string>();
  try {
    const u = new URL(url);
    if (u.password) {
      out.add(u.password);
      try {
        out.add(decodeURIComponent(u.password));
      } catch {
        /* as written only */
      }
    }
    const p = u.searchParams.get('password');
    if (p) out.add(p);
  } catch {
    const m = /^[a-z]+:\/\/[^/@:]*:([^@/]*)@/i.exec(url);
    if (m?.[1]) out.add(m[1]);
  }
  return [...out].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
}

/** int8 (BIGINT, count(*)) as a number, or a bigint past 2^53. */
function parseInt8(text: string): number | bigint {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/**
 * Connect to a PostgreSQL store at `url` and (unless `create: false`) create the declared tables and
 * columns that are missing. Throws a StoreError for a URL that does not parse, a server that cannot be
 * reached, refused credentials or a missing database; the message never holds the password.
 */
export async function openPostgres(url: string, options: PostgresOptions = {}): Promise<PostgresStore> {
  if (!isPostgresUrl(url)) throw new StoreError(`not a PostgreSQL URL: ${redact(url)} (postgres://user@host:port/db)`, redact(url));
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StoreError(`not a valid PostgreSQL URL: ${redact(url)} (postgres://user[:password]@host[:port]/db)`, redact(url));
  }
  if (parsed.port !== '' && !(Number(parsed.port) > 0 && Number(parsed.port) < 65536)) {
    throw new StoreError(`not a valid PostgreSQL URL: ${redact(url)}: bad port`, redact(url));
  }
  const location = displayUrl(url);
  let pool: pg.Pool;
  try {
    pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 4,
      connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      application_name: 'containerspec',
      types: TYPES,
    });
  } catch (e) {
    throw new StoreError(`not a valid PostgreSQL URL: ${redact(url)} (${scrub(e, secretsOf(url))})`, location, { cause: e });
  }
  // An idle connection the server drops must not crash the process; the next query reports it.
  pool.on('error', () => {});
  const store = new PostgresStore(pool, location, secretsOf(url), options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  try {
    await store.ping();
    if (options.create ?? true) await store.init();
  } catch (e) {
    await store.close();
    throw e;
  }
  return store;
}

/** An error's message with every secret replaced by `***`, on one line. */
function scrub(e: unknown, secrets: readonly string[]): string {
  let msg = e instanceof Error ? e.message || String((e as { code?: string }).code ?? e.name) : String(e);
  // AggregateError (IPv4 and IPv6 both refused) has an empty message: use the first inner error.
  if (!msg && e instanceof AggregateError) msg = e.errors.map((x: unknown) => (x instanceof Error ? x.message : String(x))).join('; ');
  for (const s of secrets) msg = msg.split(s).join('***');
  return oneLine(msg);
}

/** Column types (as information_schema names them) that SELECT DISTINCT can compare: the store's own four, and their kin. */
const EQUALITY_TYPES = new Set(['bigint', 'integer', 'smallint', 'double precision', 'real', 'numeric', 'text', 'character varying', 'character', 'bytea', 'boolean']);

/** A PostgreSQL provenance store. Use {@link openPostgres} to get one. */
export class PostgresStore implements StoreBackend {
  readonly kind = 'postgres' as const;
  /** Columns per table as last read (name → type); refreshed under the schema lock when a row needs more. */
  readonly #columns = new Map<string, Map<string, ColumnType>>();
  /** Each column's type as information_schema names it (`table.column` to `bigint`, `json`, ...), as last read. */
  readonly #dataTypes = new Map<string, string>();
  #closed = false;

  constructor(
    readonly pool: pg.Pool,
    /** `postgres://user@host:port/db`: never a password. */
    readonly location: string,
    private readonly secrets: readonly string[],
    private readonly connectTimeoutMs: number,
  ) {}

  /** A pg error as one StoreError line; the password never appears. */
  #fail(e: unknown, doing: string): never {
    if (e instanceof StoreError) throw e;
    const code = (e as { code?: string } | null)?.code ?? (e instanceof AggregateError ? (e.errors[0] as { code?: string } | undefined)?.code : undefined);
    const msg = scrub(e, this.secrets);
    const at = `PostgreSQL at ${this.location}`;
    if (code === 'ECONNREFUSED') throw new StoreError(`cannot connect to ${at}: connection refused (is the server running?)`, this.location, { cause: e });
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') throw new StoreError(`cannot connect to ${at}: host not found`, this.location, { cause: e });
    if (code === 'ETIMEDOUT' || /connection timeout|timeout expired|timeout exceeded when trying to connect/i.test(msg)) throw new StoreError(`cannot connect to ${at}: no answer within ${Math.round(this.connectTimeoutMs / 1000)} s`, this.location, { cause: e });
    if (code === 'ECONNRESET' || code === 'EPIPE') throw new StoreError(`${at}: the connection was dropped while ${doing}`, this.location, { cause: e });
    if (code === '3D000' || code === '28P01' || code === '28000') throw new StoreError(`cannot connect to ${at}: ${msg}`, this.location, { cause: e });
    if (doing === 'connecting') throw new StoreError(`cannot connect to ${at}: ${msg}`, this.location, { cause: e });
    throw new StoreError(`${at}: ${doing}: ${msg}`, this.location, { cause: e });
  }

  async #connect(doing: string): Promise<pg.PoolClient> {
    if (this.#closed) throw new StoreError(`${this.location}: the store is closed`, this.location);
    try {
      return await this.pool.connect();
    } catch (e) {
      this.#fail(e, doing);
    }
  }

  /** Check that the server answers. */
  async ping(): Promise<void> {
    const c = await this.#connect('connecting');
    try {
      await c.query('SELECT 1');
    } catch (e) {
      this.#fail(e, 'connecting');
    } finally {
      c.release();
    }
  }

  /**
   * BEGIN, `fn`, COMMIT on one connection; ROLLBACK when `fn` throws. With `retry` (the store's own
   * appends, which can be run again), a deadlock is retried: appendMany can hold a table lock when
   * a later row needs a new column while another process adding a column to that table waits for it.
   */
  async #write<T>(doing: string, fn: (c: pg.PoolClient) => Promise<T>, retry = false): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#writeOnce(doing, fn);
      } catch (e) {
        const code = (e as { cause?: { code?: string } }).cause?.code;
        if (!retry || attempt >= 5 || (code !== '40P01' && code !== '40001')) throw e;
        await new Promise((r) => setTimeout(r, 10 * attempt + Math.random() * 20));
      }
    }
  }

  async #writeOnce<T>(doing: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.#connect(doing);
    let broken = false;
    try {
      await c.query('BEGIN');
      const r = await fn(c);
      await c.query('COMMIT');
      return r;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => (broken = true));
      this.#columns.clear(); // columns added in the rolled-back transaction are gone again
      if (e instanceof StoreError || !(e instanceof Error && ('code' in e || e instanceof AggregateError))) throw e;
      this.#fail(e, doing);
    } finally {
      c.release(broken);
    }
  }

  /** Columns of each named table (missing tables: no entry). */
  async #readColumns(c: pg.ClientBase | pg.Pool, tables: readonly string[]): Promise<Map<string, Map<string, ColumnType>>> {
    const r = await c.query<{ table_name: string; column_name: string; data_type: string }>(
      `SELECT table_name, column_name, data_type FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = ANY($1::text[]) ORDER BY table_name, ordinal_position`,
      [tables],
    );
    const out = new Map<string, Map<string, ColumnType>>();
    for (const row of r.rows) {
      let m = out.get(row.table_name);
      if (!m) out.set(row.table_name, (m = new Map()));
      m.set(row.column_name, columnTypeOf(row.data_type));
      this.#dataTypes.set(`${row.table_name}.${row.column_name}`, row.data_type);
    }
    for (const t of tables) {
      const m = out.get(t);
      if (m) this.#columns.set(t, m);
      else this.#columns.delete(t);
    }
    return out;
  }

  /** Under the schema lock: create a declared table if missing and add its missing declared columns. */
  async #ensureTable(c: pg.PoolClient, t: TableSpec, have: Map<string, ColumnType> | undefined): Promise<Map<string, ColumnType>> {
    if (!have) {
      const cols = [
        `${quoteIdent('id')} BIGSERIAL PRIMARY KEY`,
        `${quoteIdent('recorded_at')} TEXT NOT NULL DEFAULT ${RECORDED_AT_DEFAULT}`,
        ...t.columns.map((col) => `${quoteIdent(col.name)} ${SQL_TYPE[col.type]}`),
      ];
      await c.query(`CREATE TABLE IF NOT EXISTS ${quoteIdent(t.name)} (${cols.join(', ')})`);
      have = (await this.#readColumns(c, [t.name])).get(t.name) ?? new Map();
    }
    for (const col of t.columns) {
      if (!have.has(col.name)) await this.#addColumn(c, t.name, col.name, col.type, have);
    }
    const present = await this.#readIndexes(c, [t.name]);
    for (const col of t.indexes ?? []) {
      const name = indexName(t.name, col);
      if (present.has(name)) continue;
      // Text columns get a hash index: equality and IN are all the queries ask of it, and a btree entry
      // is limited to about 2.7 kB (a longer value would make the INSERT fail).
      const using = have.get(col) === 'VARCHAR' ? 'hash' : 'btree';
      await c.query(`CREATE INDEX IF NOT EXISTS ${quoteIdent(name)} ON ${quoteIdent(t.name)} USING ${using} (${quoteIdent(col)})`);
    }
    return have;
  }

  /** The names of the indexes on the named tables. */
  async #readIndexes(c: pg.ClientBase | pg.Pool, tables: readonly string[]): Promise<Set<string>> {
    const r = await c.query<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ANY($1::text[])`, [tables]);
    return new Set(r.rows.map((x) => x.indexname));
  }

  async #addColumn(c: pg.PoolClient, table: string, name: string, type: ColumnType, have: Map<string, ColumnType>): Promise<void> {
    await c.query(`ALTER TABLE ${quoteIdent(table)} ADD COLUMN IF NOT EXISTS ${quoteIdent(name)} ${SQL_TYPE[type]}`);
    have.set(name, type);
  }

  async init(): Promise<void> {
    const names = TABLES.map((t) => t.name);
    const complete = (m: Map<string, Map<string, ColumnType>>, idx: Set<string>) =>
      TABLES.every((t) => t.columns.every((col) => m.get(t.name)?.has(col.name)) && (t.indexes ?? []).every((col) => idx.has(indexName(t.name, col))));
    // Nothing to do (the usual case): no lock taken.
    try {
      if (complete(await this.#readColumns(this.pool, names), await this.#readIndexes(this.pool, names))) return;
    } catch (e) {
      this.#fail(e, 'reading the tables');
    }
    await this.#write('creating the tables', async (c) => {
      await c.query(SCHEMA_LOCK);
      const now = await this.#readColumns(c, names);
      for (const t of TABLES) await this.#ensureTable(c, t, now.get(t.name));
    }, true);
  }

  /**
   * Make sure `table` exists and has every column `rows` name (typed from their values), taking the
   * schema lock only when something is missing. Called before the first INSERT of an append, so a
   * transaction never waits for the schema lock while holding a lock on a table (which, with another
   * process adding a column to that table, would deadlock).
   */
  async #prepareColumns(c: pg.PoolClient, table: string, rows: readonly Row[]): Promise<Map<string, ColumnType>> {
    checkIdentifier(table, 'table', this.location);
    let have = this.#columns.get(table) ?? (await this.#readColumns(c, [table])).get(table);
    if (!have) {
      const spec = tableSpec(table);
      if (!spec) throw new StoreError(`no table ${table} in ${this.location} (tables: ${TABLES.map((t) => t.name).join(', ')})`, this.location);
      await c.query(SCHEMA_LOCK);
      have = await this.#ensureTable(c, spec, (await this.#readColumns(c, [table])).get(table));
    }
    const missing = (m: Map<string, ColumnType>) => {
      const add = new Map<string, ColumnType>();
      for (const r of rows) for (const a of encodeRow(table, r, m, this.location).add) if (!add.has(a.name)) add.set(a.name, a.type);
      return add;
    };
    if (missing(have).size) {
      await c.query(SCHEMA_LOCK);
      have = (await this.#readColumns(c, [table])).get(table) ?? new Map();
      for (const [name, type] of missing(have)) await this.#addColumn(c, table, name, type, have);
    }
    return have;
  }

  /** Append on an open transaction. */
  async #appendNow(c: pg.PoolClient, table: string, row: Row, prepared?: Map<string, ColumnType>): Promise<number> {
    const have = prepared ?? (await this.#prepareColumns(c, table, [row]));
    const enc = encodeRow(table, row, have, this.location);
    const names = ['recorded_at', ...enc.names];
    const values: SqlValue[] = [nowText(), ...enc.values];
    const r = await c.query<{ id: number | bigint }>(
      `INSERT INTO ${quoteIdent(table)} (${names.map(quoteIdent).join(', ')}) VALUES (${names.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING ${quoteIdent('id')}`,
      values.map((v) => (typeof v === 'bigint' ? v.toString() : v)),
    );
    return Number(r.rows[0]!.id);
  }

  async #rowsNow(c: pg.ClientBase | pg.Pool, table: string, where: Where = {}, options: RowsOptions = {}): Promise<StoredRow[]> {
    checkIdentifier(table, 'table', this.location);
    const have = (await this.#readColumns(c, [table])).get(table);
    if (!have) {
      if (tableSpec(table)) return [];
      throw new StoreError(`no table ${table} in ${this.location}`, this.location);
    }
    const q = selectRows(table, have, where, options, this.location, (i) => `$${i}`);
    if (!q) return [];
    const { sql, params } = q;
    const r = await c.query<Record<string, unknown>>(sql, params);
    return r.rows.map((row) => decodeRow(table, row));
  }

  async #distinctNow(c: pg.ClientBase | pg.Pool, table: string, column: string, where: Where = {}): Promise<ValueCount[]> {
    checkIdentifier(table, 'table', this.location);
    const have = (await this.#readColumns(c, [table])).get(table);
    if (!have) {
      if (tableSpec(table)) return [];
      throw new StoreError(`no table ${table} in ${this.location}`, this.location);
    }
    const q = selectDistinct(table, have, column, where, this.location, (i) => `$${i}`);
    if (!q) return [];
    const r = await c.query<{ v: ValueCount['value']; n: number | bigint }>(q.sql, q.params);
    return r.rows.map((row) => ({ value: row.v, rows: Number(row.n) }));
  }

  /**
   * The grouped read on one connection. `snapshot`: the connection's transaction sees one snapshot
   * (REPEATABLE READ), so the groups can be read first; otherwise (a caller's READ COMMITTED
   * transaction), or when a shared column's type has no equality, one statement reads every shared
   * column of each row.
   */
  async #groupedNow(c: pg.ClientBase, table: string, where: Where, options: GroupedRowsOptions, snapshot: boolean): Promise<GroupedRows> {
    checkIdentifier(table, 'table', this.location);
    const have = (await this.#readColumns(c, [table])).get(table);
    if (!have) {
      if (tableSpec(table)) return { groups: [], rows: [], group: [] };
      throw new StoreError(`no table ${table} in ${this.location}`, this.location);
    }
    // Arrays: the result's column names may be anything.
    const all = async (sql: string, params: SqlValue[]) => {
      const r = await c.query<unknown[]>({ text: sql, values: params, rowMode: 'array' });
      return { names: r.fields.map((f) => f.name), rows: r.rows };
    };
    const read = async (groups: GroupsRead | null): Promise<GroupedRows | null> => {
      const q = groupedSelect(table, have, where, options, groups, this.location, (i) => `$${i}`);
      if (!q) return { groups: [], rows: [], group: [] };
      const r = await all(q.sql, q.params);
      return q.answer(r.names, r.rows);
    };
    // SELECT DISTINCT needs an equality operator, which json, xml and the geometric types lack.
    const comparable = options.shared.every((col) => !have.has(col) || EQUALITY_TYPES.has(this.#dataTypes.get(`${table}.${col}`) ?? ''));
    const gq = snapshot && comparable ? selectGroups(table, have, where, options, this.location, (i) => `$${i}`) : null;
    return (gq && (await read({ columns: gq.columns, values: (await all(gq.sql, gq.params)).rows }))) ?? (await read(null))!;
  }

  append<R extends RowInput<R>>(table: string, row: R): Promise<number> {
    return this.#write(`appending to ${table}`, (c) => this.#appendNow(c, table, row as Row), true);
  }

  appendMany<R extends RowInput<R>>(table: string, rows: readonly R[]): Promise<number[]> {
    return this.#write(`appending to ${table}`, async (c) => {
      const have = await this.#prepareColumns(c, table, rows as readonly Row[]);
      const ids: number[] = [];
      for (const r of rows) ids.push(await this.#appendNow(c, table, r as Row, have));
      return ids;
    }, true);
  }

  async rows(table: string, where?: Where, options?: RowsOptions): Promise<StoredRow[]> {
    if (this.#closed) throw new StoreError(`${this.location}: the store is closed`, this.location);
    try {
      return await this.#rowsNow(this.pool, table, where, options);
    } catch (e) {
      this.#fail(e, `reading ${table}`);
    }
  }

  async distinct(table: string, column: string, where?: Where): Promise<ValueCount[]> {
    if (this.#closed) throw new StoreError(`${this.location}: the store is closed`, this.location);
    try {
      return await this.#distinctNow(this.pool, table, column, where);
    } catch (e) {
      this.#fail(e, `reading ${table}`);
    }
  }

  async groupedRows(table: string, where: Where, options: GroupedRowsOptions): Promise<GroupedRows> {
    const c = await this.#connect(`reading ${table}`);
    let broken = false;
    try {
      // One snapshot for both statements.
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const r = await this.#groupedNow(c, table, where, options, true);
      await c.query('COMMIT');
      return r;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => (broken = true));
      this.#fail(e, `reading ${table}`);
    } finally {
      c.release(broken);
    }
  }

  transaction<T>(fn: (tx: StoreWriter) => Promise<T>): Promise<T> {
    return this.#write('writing', async (c) => {
      let open = true;
      const live = () => {
        if (!open) throw new StoreError(`${this.location}: a transaction's writer was used after the transaction ended`, this.location);
      };
      try {
        return await fn({
          append: async (table, row) => {
            live();
            return this.#appendNow(c, table, row as Row);
          },
          rows: async (table, where, options) => {
            live();
            return this.#rowsNow(c, table, where, options);
          },
          distinct: async (table, column, where) => {
            live();
            return this.#distinctNow(c, table, column, where);
          },
          groupedRows: async (table, where, options) => {
            live();
            return this.#groupedNow(c, table, where, options, false);
          },
        });
      } finally {
        open = false;
      }
    });
  }

  async tables(): Promise<TableInfo[]> {
    if (this.#closed) throw new StoreError(`${this.location}: the store is closed`, this.location);
    try {
      const r = await this.pool.query<{ table_name: string; column_name: string; data_type: string }>(
        `SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c
           JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
          WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
          ORDER BY c.table_name, c.ordinal_position`,
      );
      const byTable = new Map<string, ColumnInfo[]>();
      for (const row of r.rows) {
        let cols = byTable.get(row.table_name);
        if (!cols) byTable.set(row.table_name, (cols = []));
        cols.push({ name: row.column_name, type: columnTypeOf(row.data_type), sqlType: row.data_type.toUpperCase() });
      }
      const out: TableInfo[] = [];
      for (const name of [...byTable.keys()].sort()) {
        const n = await this.pool.query<{ n: number }>(`SELECT count(*) AS n FROM ${quoteIdent(name)}`);
        out.push({ name, columns: byTable.get(name)!, rows: Number(n.rows[0]!.n) });
      }
      return out;
    } catch (e) {
      this.#fail(e, 'listing tables');
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.pool.end().catch(() => {});
  }
}
