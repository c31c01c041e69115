/**
 * The SQLite backend (better-sqlite3): one file, by default `$XDG_DATA_HOME/containerspec/provenance.db`.
 *
 * - WAL journal, so readers never block the writer; `synchronous = FULL`, so a committed row survives
 *   a power cut as well as a crash.
 * - Every write is one `BEGIN IMMEDIATE` transaction: it takes the write lock before reading anything,
 *   so concurrent writers queue on the busy timeout (10 s by default) instead of failing, and a process
 *   killed mid-write leaves no half row (its uncommitted WAL frames are ignored on the next open).
 * - better-sqlite3 is synchronous; one in-process queue keeps one transaction on the connection at a time.
 * - A connection opened to read (`create: false`: `store tables|export|runs|affected`) maps the first
 *   {@link MMAP_BYTES} of the file into memory (`mmap_size`): a query that visits many rows reads them
 *   from the OS page cache without a copy or a system call per page (a third of 100,000 Producer rows:
 *   about 35 ms instead of 70). The price is SQLite's: an I/O error while reading a mapped page ends
 *   the process (SIGBUS) instead of being an error. Only readers pay it, and a reader ended that way
 *   has written nothing; the connections that write (`create: true`) read and write through the
 *   file system as before.
 *
 * SQLite's locking relies on POSIX file locks and shared memory (the -shm file), which are
 * unreliable on NFS and Lustre: put the file on a local disk there, or use PostgreSQL.
 */
import { mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { StoreError } from '../errors/index.js';
import { TABLES, groupedSelect, indexName, rowDecoder, selectDistinct, selectGroups, selectRows, checkIdentifier, columnTypeOf, encodeRow, nowText, quoteIdent, tableSpec, type GroupsRead, type SqlValue, type TableSpec } from './tables.js';
import type { ColumnInfo, ColumnType, GroupedRows, GroupedRowsOptions, Row, RowInput, RowsOptions, StoreBackend, StoreWriter, StoredRow, TableInfo, ValueCount, Where } from './types.js';

/** How much of the file a reading connection maps into memory (`PRAGMA mmap_size`; SQLite reads the rest). */
export const MMAP_BYTES = 256 * 1024 * 1024;

/** How long a writer waits for another process's write lock before giving up (ms). */
export const DEFAULT_BUSY_TIMEOUT_MS = 10_000;

/** Options for {@link openSqlite}. */
export interface SqliteOptions {
  /** Create the file (and its directories) and the declared tables when missing (default true). False: the file must exist; nothing is created. */
  create?: boolean;
  /** Busy timeout in ms (default {@link DEFAULT_BUSY_TIMEOUT_MS}). */
  busyTimeoutMs?: number;
}

export { defaultSqlitePath } from './location.js';

/** The database's name for a column type. */
const SQL_TYPE: Record<ColumnType, string> = { INTEGER: 'INTEGER', FLOAT: 'FLOAT', VARCHAR: 'VARCHAR', BLOB: 'BLOB' };

/** The `recorded_at` default for rows written by other tools: ISO 8601 UTC with milliseconds, like {@link nowText}. */
const RECORDED_AT_DEFAULT = "(strftime('%Y-%m-%dT%H:%M:%fZ','now'))";

/** CREATE TABLE for a declared table. */
function createSql(t: TableSpec): string {
  const cols = [
    `${quoteIdent('id')} INTEGER PRIMARY KEY AUTOINCREMENT`,
    `${quoteIdent('recorded_at')} VARCHAR NOT NULL DEFAULT ${RECORDED_AT_DEFAULT}`,
    ...t.columns.map((c) => `${quoteIdent(c.name)} ${SQL_TYPE[c.type]}`),
  ];
  return `CREATE TABLE IF NOT EXISTS ${quoteIdent(t.name)} (${cols.join(', ')})`;
}

/** A better-sqlite3 error as one line the user can act on. */
function sqliteError(e: unknown, location: string, doing: string): never {
  if (e instanceof StoreError) throw e;
  const code = (e as { code?: string } | null)?.code ?? '';
  const msg = e instanceof Error ? e.message : String(e);
  if (code === 'SQLITE_NOTADB') throw new StoreError(`${location} is not a SQLite database`, location, { cause: e });
  if (code.startsWith('SQLITE_CORRUPT')) throw new StoreError(`${location}: the SQLite database is corrupt (${msg})`, location, { cause: e });
  if (code.startsWith('SQLITE_BUSY')) throw new StoreError(`${location}: the store stayed locked by another process while ${doing}; try again`, location, { cause: e });
  if (code.startsWith('SQLITE_CANTOPEN')) throw new StoreError(`cannot open ${location} (${msg})`, location, { cause: e });
  if (code.startsWith('SQLITE_READONLY')) throw new StoreError(`${location} is read-only (${msg})`, location, { cause: e });
  if (code === 'SQLITE_FULL') throw new StoreError(`${location}: the disk is full`, location, { cause: e });
  throw new StoreError(`${location}: ${doing}: ${msg}`, location, { cause: e });
}

/** Words for a file system error code. */
function fsReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOTDIR' ? 'a parent is not a directory' : code === 'EROFS' ? 'read-only file system' : code ?? String(e);
}

/**
 * Open (by default, create) a SQLite store at `path`. Throws a StoreError for a directory that
 * cannot be created, a path that is a directory, a file that is not a SQLite database, or (with
 * `create: false`) a file that does not exist.
 */
export async function openSqlite(path: string, options: SqliteOptions = {}): Promise<SqliteStore> {
  const file = resolve(path);
  const create = options.create ?? true;
  const st = statOrNull(file);
  if (st?.isDirectory()) throw new StoreError(`${file} is a directory, not a SQLite store file`, file);
  if (!st && !create) throw new StoreError(`no store at ${file} (create one with "containerspec store init")`, file);
  if (!st) {
    try {
      mkdirSync(dirname(file), { recursive: true });
    } catch (e) {
      throw new StoreError(`cannot create the store directory ${dirname(file)}: ${fsReason(e)}`, file, { cause: e });
    }
  }
  const busy = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  let db: Database.Database;
  try {
    db = new Database(file, { timeout: busy, fileMustExist: !create });
  } catch (e) {
    sqliteError(e, file, 'opening');
  }
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busy))}`);
    // Reads the header first: a file that is not a database fails here, before anything is written.
    retryBusy(() => db.prepare('SELECT count(*) FROM sqlite_master').get(), busy);
    // Changing the journal mode needs a moment of exclusive access: retried while other processes open the same new file.
    // Only when creating: the read-only commands (create: false) leave a store made by another tool as it is.
    if (create) retryBusy(() => db.pragma('journal_mode = WAL'), busy);
    db.pragma('synchronous = FULL');
    if (!create) db.pragma(`mmap_size = ${MMAP_BYTES}`);
  } catch (e) {
    db.close();
    sqliteError(e, file, 'opening');
  }
  const store = new SqliteStore(db, file);
  if (create) {
    try {
      await store.init();
    } catch (e) {
      await store.close();
      throw e;
    }
  }
  return store;
}

function statOrNull(file: string): ReturnType<typeof statSync> | null {
  try {
    return statSync(file);
  } catch {
    return null;
  }
}

/** Run `fn`, retrying for up to `ms` while SQLite answers SQLITE_BUSY (for statements the busy handler does not cover). */
function retryBusy<T>(fn: () => T, ms: number): T {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return fn();
    } catch (e) {
      if (!String((e as { code?: string }).code ?? '').startsWith('SQLITE_BUSY') || Date.now() > until) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5 + Math.random() * 20);
    }
  }
}

/** A SQLite provenance store. Use {@link openSqlite} to get one. */
export class SqliteStore implements StoreBackend {
  readonly kind = 'sqlite' as const;
  /** Columns per table as last read (name → type); refreshed inside a write transaction when a row needs more. */
  readonly #columns = new Map<string, Map<string, ColumnType>>();
  /** One transaction at a time on this connection. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** Prepared INSERTs by SQL text (a table and a set of columns). */
  readonly #inserts = new Map<string, Database.Statement>();

  constructor(
    readonly db: Database.Database,
    /** The file's absolute path. */
    readonly location: string,
  ) {}

  /** Run `fn` after everything queued before it. */
  #serial<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.#queue.then(() => {
      if (this.#closed) throw new StoreError(`${this.location}: the store is closed`, this.location);
      return fn();
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Columns of `table` from the database (empty map: no such table). */
  #readColumns(table: string): Map<string, ColumnType> {
    const info = this.db.prepare(`SELECT name, type FROM pragma_table_info(?) ORDER BY cid`).all(table) as { name: string; type: string }[];
    const m = new Map(info.map((c) => [c.name, columnTypeOf(c.type)] as const));
    if (m.size) this.#columns.set(table, m);
    else this.#columns.delete(table);
    return m;
  }

  async init(): Promise<void> {
    await this.#serial(() =>
      this.#write('initialising', () => {
        for (const t of TABLES) this.#ensureTable(t);
      }),
    );
  }

  /** Create a declared table if missing, and add its declared columns it lacks. Inside a write transaction. */
  #ensureTable(t: TableSpec): Map<string, ColumnType> {
    let have = this.#readColumns(t.name);
    if (!have.size) {
      this.db.exec(createSql(t));
      have = this.#readColumns(t.name);
    }
    for (const c of t.columns) {
      if (!have.has(c.name)) this.#addColumn(t.name, c.name, c.type, have);
    }
    if (t.indexes?.length) {
      const present = new Set((this.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?`).all(t.name) as { name: string }[]).map((r) => r.name));
      for (const c of t.indexes) {
        const name = indexName(t.name, c);
        if (!present.has(name)) this.db.exec(`CREATE INDEX IF NOT EXISTS ${quoteIdent(name)} ON ${quoteIdent(t.name)} (${quoteIdent(c)})`);
      }
    }
    return have;
  }

  #addColumn(table: string, name: string, type: ColumnType, have: Map<string, ColumnType>): void {
    this.db.exec(`ALTER TABLE ${quoteIdent(table)} ADD COLUMN ${quoteIdent(name)} ${SQL_TYPE[type]}`);
    have.set(name, type);
  }

  /** BEGIN IMMEDIATE, `fn`, COMMIT; ROLLBACK when `fn` throws. Errors become StoreErrors. */
  #write<T>(doing: string, fn: () => T): T {
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (e) {
      sqliteError(e, this.location, doing);
    }
    try {
      const r = fn();
      this.db.exec('COMMIT');
      return r;
    } catch (e) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      this.#columns.clear(); // columns added in the rolled-back transaction are gone again
      sqliteError(e, this.location, doing);
    }
  }

  /** Append inside an open write transaction. */
  #appendNow(table: string, row: Row): number {
    checkIdentifier(table, 'table', this.location);
    let have = this.#columns.get(table) ?? this.#readColumns(table);
    if (!have.size) {
      const spec = tableSpec(table);
      if (!spec) throw new StoreError(`no table ${table} in ${this.location} (tables: ${TABLES.map((t) => t.name).join(', ')})`, this.location);
      have = this.#ensureTable(spec);
    }
    let enc = encodeRow(table, row, have, this.location);
    if (enc.add.length) {
      // Another process may have added them since we last looked: read again under the write lock.
      have = this.#readColumns(table);
      enc = encodeRow(table, row, have, this.location);
      for (const a of enc.add) this.#addColumn(table, a.name, a.type, have);
    }
    const names = ['recorded_at', ...enc.names];
    const sql = `INSERT INTO ${quoteIdent(table)} (${names.map(quoteIdent).join(', ')}) VALUES (${names.map(() => '?').join(', ')})`;
    let stmt = this.#inserts.get(sql);
    if (!stmt) {
      if (this.#inserts.size >= 64) this.#inserts.clear();
      this.#inserts.set(sql, (stmt = this.db.prepare(sql)));
    }
    const r = stmt.run(nowText(), ...enc.values);
    return Number(r.lastInsertRowid);
  }

  #rowsNow(table: string, where: Where = {}, options: RowsOptions = {}): StoredRow[] {
    checkIdentifier(table, 'table', this.location);
    const have = this.#readColumns(table);
    if (!have.size) {
      if (tableSpec(table)) return [];
      throw new StoreError(`no table ${table} in ${this.location}`, this.location);
    }
    // Unary + is SQLite's way to keep a term from choosing the index (the same value otherwise).
    const q = selectRows(table, have, where, options, this.location, () => '?', (c) => `+${c}`);
    if (!q) return [];
    const { sql, params } = q;
    try {
      // Arrays, decoded by a decoder made once for the columns: about twice as fast as row objects.
      const stmt = this.db.prepare(sql).safeIntegers(true).raw(true);
      const decode = rowDecoder(table, stmt.columns().map((c) => c.name));
      return (stmt.all(...params) as unknown[][]).map(decode);
    } catch (e) {
      sqliteError(e, this.location, `reading ${table}`);
    }
  }

  #distinctNow(table: string, column: string, where: Where = {}): ValueCount[] {
    checkIdentifier(table, 'table', this.location);
    const have = this.#readColumns(table);
    if (!have.size) {
      if (tableSpec(table)) return [];
      throw new StoreError(`no table ${table} in ${this.location}`, this.location);
    }
    const q = selectDistinct(table, have, column, where, this.location, () => '?');
    if (!q) return [];
    try {
      const rows = this.db.prepare(q.sql).safeIntegers(true).raw(true).all(...q.params) as [unknown, bigint][];
      const decode = rowDecoder('', ['v']);
      return rows.map(([v, n]) => ({ value: decode([v]).v as ValueCount['value'], rows: Number(n) }));
    } catch (e) {
      sqliteError(e, this.location, `reading ${table}`);
    }
  }

  /** The groups, then the rows, in one read transaction (the caller's, or one of their own). */
  #groupedNow(table: string, where: Where, options: GroupedRowsOptions): GroupedRows {
    if (this.db.inTransaction) return this.#groupedRead(table, where, options);
    try {
      this.db.exec('BEGIN');
    } catch (e) {
      sqliteError(e, this.location, `reading ${table}`);
    }
    try {
      return this.#groupedRead(table, where, options);
    } finally {
      if (this.db.inTransaction) this.db.exec('COMMIT');
    }
  }

  #groupedRead(table: string, where: Where, options: GroupedRowsOptions): GroupedRows {
    checkIdentifier(table, 'table', this.location);
    const have = this.#readColumns(table);
    if (!have.size) {
      if (tableSpec(table)) return { groups: [], rows: [], group: [] };
      throw new StoreError(`no table ${table} in ${this.location}`, this.location);
    }
    const unindexed = (c: string) => `+${c}`;
    try {
      const all = (sql: string, params: SqlValue[]) => {
        const stmt = this.db.prepare(sql).safeIntegers(true).raw(true);
        return { names: stmt.columns().map((c) => c.name), rows: stmt.all(...params) as unknown[][] };
      };
      const read = (groups: GroupsRead | null): GroupedRows | null => {
        const q = groupedSelect(table, have, where, options, groups, this.location, () => '?', unindexed);
        if (!q) return { groups: [], rows: [], group: [] };
        const r = all(q.sql, q.params);
        return q.answer(r.names, r.rows);
      };
      const gq = selectGroups(table, have, where, options, this.location, () => '?', unindexed);
      // Null from the groups: a row they did not foresee (see groupedSelect); read again, grouping every shared column.
      return (gq && read({ columns: gq.columns, values: all(gq.sql, gq.params).rows })) ?? read(null)!;
    } catch (e) {
      sqliteError(e, this.location, `reading ${table}`);
    }
  }

  /** The writer a transaction's function gets; it refuses to be used once the transaction has ended. */
  #writer(): { tx: StoreWriter; end(): void } {
    let open = true;
    const live = () => {
      if (!open) throw new StoreError(`${this.location}: a transaction's writer was used after the transaction ended`, this.location);
    };
    return {
      tx: {
        append: async (table, row) => {
          live();
          return this.#appendNow(table, row as Row);
        },
        rows: async (table, where, options) => {
          live();
          return this.#rowsNow(table, where, options);
        },
        distinct: async (table, column, where) => {
          live();
          return this.#distinctNow(table, column, where);
        },
        groupedRows: async (table, where, options) => {
          live();
          return this.#groupedNow(table, where, options);
        },
      },
      end: () => (open = false),
    };
  }

  append<R extends RowInput<R>>(table: string, row: R): Promise<number> {
    return this.#serial(() => this.#write(`appending to ${table}`, () => this.#appendNow(table, row as Row)));
  }

  appendMany<R extends RowInput<R>>(table: string, rows: readonly R[]): Promise<number[]> {
    return this.#serial(() => this.#write(`appending to ${table}`, () => rows.map((r) => this.#appendNow(table, r as Row))));
  }

  rows(table: string, where?: Where, options?: RowsOptions): Promise<StoredRow[]> {
    return this.#serial(() => this.#rowsNow(table, where, options));
  }

  distinct(table: string, column: string, where?: Where): Promise<ValueCount[]> {
    return this.#serial(() => this.#distinctNow(table, column, where));
  }

  groupedRows(table: string, where: Where, options: GroupedRowsOptions): Promise<GroupedRows> {
    return this.#serial(() => this.#groupedNow(table, where, options));
  }

  transaction<T>(fn: (tx: StoreWriter) => Promise<T>): Promise<T> {
    return this.#serial(async () => {
      try {
        this.db.exec('BEGIN IMMEDIATE');
      } catch (e) {
        sqliteError(e, this.location, 'starting a transaction');
      }
      try {
        const w = this.#writer();
        let r: T;
        try {
          r = await fn(w.tx);
        } finally {
          w.end();
        }
        this.db.exec('COMMIT');
        return r;
      } catch (e) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
      this.#columns.clear(); // columns added in the rolled-back transaction are gone again
        if (e instanceof Database.SqliteError) sqliteError(e, this.location, 'writing');
        throw e;
      }
    });
  }

  tables(): Promise<TableInfo[]> {
    return this.#serial(() => {
      try {
        const names = (this.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name`).all() as { name: string }[]).map((r) => r.name);
        return names.map((name) => {
          const info = this.db.prepare(`SELECT name, type FROM pragma_table_info(?) ORDER BY cid`).all(name) as { name: string; type: string }[];
          const columns: ColumnInfo[] = info.map((c) => ({ name: c.name, type: columnTypeOf(c.type), sqlType: c.type }));
          const { n } = this.db.prepare(`SELECT count(*) AS n FROM ${quoteIdent(name)}`).get() as { n: number };
          return { name, columns, rows: n };
        });
      } catch (e) {
        sqliteError(e, this.location, 'listing tables');
      }
    });
  }

  async close(): Promise<void> {
    await this.#queue;
    if (this.#closed) return;
    this.#closed = true;
    this.db.close();
  }
}
