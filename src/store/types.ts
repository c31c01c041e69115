/**
 * The provenance store's small core: a backend holds one table per plugin (as DSI's SQLite backend
 * does: named, typed columns), appends rows and reads them back. Rows are never updated or deleted;
 * a new column is added with `ALTER TABLE ... ADD COLUMN`, never by rebuilding a table. SQLite
 * (src/store/sqlite.ts) and PostgreSQL (src/store/postgres.ts) implement this interface; everything
 * else (the schema, export, the CLI) is written once on top of it.
 */

/**
 * A column's type, as DSI's SQLite backend names them. PostgreSQL stores INTEGER as BIGINT, FLOAT as
 * DOUBLE PRECISION, VARCHAR as TEXT and BLOB as BYTEA.
 */
export type ColumnType = 'INTEGER' | 'FLOAT' | 'VARCHAR' | 'BLOB';

/** The column types, in the order they are documented. */
export const COLUMN_TYPES: readonly ColumnType[] = ['INTEGER', 'FLOAT', 'VARCHAR', 'BLOB'];

/** A value JSON can hold: what a JSON column reads back as. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * A value a row may carry when it is appended:
 * - a whole number, bigint or boolean (stored as 1 / 0): INTEGER; any other finite number: FLOAT;
 * - a string: VARCHAR;
 * - a Buffer or Uint8Array: BLOB;
 * - any other object or array: JSON text in a VARCHAR column;
 * - null (or a column left out): SQL NULL.
 */
export type Value = number | bigint | boolean | string | Uint8Array | null | object;

/** What a stored value reads back as: numbers (bigint only past 2^53), strings, Buffers, NULL, and parsed JSON in JSON columns. */
export type StoredValue = number | bigint | string | Buffer | null | JsonValue;

/** A row to append: column name to value. An interface works too (see {@link RowInput}). */
export type Row = { readonly [column: string]: Value | undefined };

/** Any object whose properties are all {@link Value}s (undefined means "left out"): a type alias or an interface. */
export type RowInput<R> = { readonly [K in keyof R]: Value | undefined };

/** A stored row: always `id` and `recorded_at`, then the table's other columns (NULL where a row has none). */
export type StoredRow = { id: number; recorded_at: string; [column: string]: StoredValue };

/** One column as the store has it. */
export interface ColumnInfo {
  name: string;
  type: ColumnType;
  /** The type as the database names it (`INTEGER`, `BIGINT`, `DOUBLE PRECISION`, ...). */
  sqlType: string;
}

/** One table: its columns in order (`id` and `recorded_at` first) and how many rows it holds. */
export interface TableInfo {
  name: string;
  columns: ColumnInfo[];
  rows: number;
}

/**
 * A condition on one column. Numbers match INTEGER and FLOAT columns, strings VARCHAR columns (a JSON
 * column as its stored text).
 * - a number or a string: equal to it; null: IS NULL;
 * - an array: equal to one of its items (SQL `IN`); a null item also matches NULL; an empty array matches no row;
 * - `{ prefix }`: VARCHAR text that starts with `prefix` (case-sensitive, on every backend).
 *
 * A condition on a column the table lacks holds exactly when it holds for NULL (every row is NULL there).
 */
export type Condition = number | string | null | readonly (number | string | null)[] | { readonly prefix: string };

/** Which rows to read: every named column meets its {@link Condition}. */
export type Where = { readonly [column: string]: Condition };

/** Paging for {@link StoreBackend.rows}: rows in `id` order, after `afterId`, at most `limit`. */
export interface RowsOptions {
  afterId?: number;
  limit?: number;
  /**
   * Read only these columns (plus `id` and `recorded_at`), e.g. to leave BLOBs and large JSON out of
   * a query over many rows. A named column the table lacks is left out of the rows read.
   */
  columns?: readonly string[];
  /**
   * Find the rows through the index on this column: the caller knows its condition to be the most
   * selective (from {@link StoreWriter.distinct}'s counts). Conditions on other columns are then
   * checked on the rows it gives rather than used to pick an index: without table statistics SQLite
   * may otherwise pick the index of a condition that holds for many more rows (PostgreSQL, which
   * has statistics, picks for itself). A hint: the same rows come back either way.
   */
  by?: string;
}

/** One value of a column, and how many rows hold it. */
export interface ValueCount {
  value: number | bigint | string | Buffer;
  rows: number;
}

/** What {@link StoreWriter.groupedRows} reads: the rows' own columns, and the columns they share. */
export interface GroupedRowsOptions {
  /** Read for every row (plus `id` and `recorded_at`): the columns whose values differ from row to row. */
  columns: readonly string[];
  /**
   * Read once for each distinct combination of their values among the rows read: the columns many
   * rows hold the same values in (an image, a host, a verdict). A named column the table lacks is
   * NULL in every group.
   */
  shared: readonly string[];
  /** As {@link RowsOptions.by}. */
  by?: string;
}

/** The values of the shared columns that some rows hold: column name to value, decoded as in a {@link StoredRow}. */
export type SharedValues = { [column: string]: StoredValue };

/**
 * Rows read by {@link StoreWriter.groupedRows}. Row `rows[i]` with `groups[group[i]]` added holds what
 * `rows()` reads for it with the `columns` and the `shared` columns. A group is one object for all
 * the rows that hold it (a JSON value in it is parsed once): copy before changing it.
 */
export interface GroupedRows {
  /** Each distinct combination of the shared columns' values among the rows read, in no particular order. */
  groups: SharedValues[];
  /** The rows, in `id` order: `id`, `recorded_at` and the `columns`. */
  rows: StoredRow[];
  /** For each row, the index of its group in `groups`. */
  group: number[];
}

/** What a transaction can do: append and read, all on one connection, all committed or none. */
export interface StoreWriter {
  /** Append one row; returns its `id`. Columns the table lacks are added first (typed from the value). */
  append<R extends RowInput<R>>(table: string, row: R): Promise<number>;
  /** Rows in `id` order. */
  rows(table: string, where?: Where, options?: RowsOptions): Promise<StoredRow[]>;
  /**
   * The distinct non-null values of one column among the rows that match `where`, as stored (a JSON
   * column's text, not parsed; integers as numbers, bigint only past 2^53), each with how many of
   * those rows hold it, in no particular order. A column the table lacks has none. For queries that
   * test a few distinct values in code (a semver range) and then read only the rows holding the values
   * that passed (`rows(table, { column: [...] }, { by: column })`).
   */
  distinct(table: string, column: string, where?: Where): Promise<ValueCount[]>;
  /**
   * The rows that match `where` (as {@link rows}), with the `shared` columns read and decoded once per
   * distinct combination of their values instead of once per row: for reading many rows that hold
   * few distinct images, hosts or verdicts (`store affected`). The combinations are read first
   * (`SELECT DISTINCT`); the rows then read their own columns and only the shared columns that tell
   * the combinations apart (often one; none when all rows share one). Values are one when equal as
   * text (byte for byte), as numbers (an INTEGER 1 and a FLOAT 1.0; -0 and 0), as BLOB bytes, or both
   * NULL; a value the driver gives as another object (a PostgreSQL `date` or `json` column) is never
   * one with another row's. One consistent read: SQLite in one read transaction (or the caller's);
   * PostgreSQL in one REPEATABLE READ transaction, or inside a caller's (READ COMMITTED, where each
   * statement has its own snapshot) in one statement that reads every shared column of each row.
   */
  groupedRows(table: string, where: Where, options: GroupedRowsOptions): Promise<GroupedRows>;
}

/** A provenance store. */
export interface StoreBackend extends StoreWriter {
  readonly kind: 'sqlite' | 'postgres';
  /** Where the store is, for display: a file path, or `postgres://user@host:port/db` (never a password). */
  readonly location: string;
  /**
   * Create the declared tables (src/store/tables.ts) that are missing, add the declared columns
   * a table lacks (`ALTER TABLE ... ADD COLUMN`) and create the declared indexes it lacks
   * (`CREATE INDEX IF NOT EXISTS`, which reads every row once and changes none). Idempotent, and
   * safe when many processes run it at once.
   */
  init(): Promise<void>;
  /** Every table in the store (declared or not), with typed columns and row counts, sorted by name. */
  tables(): Promise<TableInfo[]>;
  /** Append several rows to one table in one transaction; returns their ids in order. */
  appendMany<R extends RowInput<R>>(table: string, rows: readonly R[]): Promise<number[]>;
  /**
   * Run `fn` in one write transaction: everything it appends is committed together when it
   * resolves, and nothing is when it throws (or the process dies). Returns what `fn` returns.
   */
  transaction<T>(fn: (tx: StoreWriter) => Promise<T>): Promise<T>;
  /** Close the connection (or pool). The store cannot be used afterwards. */
  close(): Promise<void>;
}
