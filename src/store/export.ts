/**
 * Export a store as JSON lines: one object per row, tables in name order, rows in `id` order.
 *
 * ```json
 * {"table":"SystemKernel","id":1,"recorded_at":"2025-01-31T12:00:00.000Z","uid":1000,"gid_list":[1000,27],"kernel_info":{...},...}
 * {"table":"Consumer","id":1,...,"container_run_commands":{"$base64":"H4sIAAAA..."},...}
 * ```
 *
 * - `table` names the row's table; every other key is a column, each row carrying all its table's
 *   columns (null where the row has none).
 * - BLOB bytes are an object with one key, `{"$base64": "..."}` (standard base64, padded).
 * - Declared JSON columns (`host_facts`, `kernel_info`, `gid_list`, `drift`) are nested JSON; other
 *   text is a string. Integers past 2^53 are written as exact JSON numbers.
 *
 * pandas reads it with `pd.read_json(path, lines=True)` (then `df[df.table == "Consumer"]`, and
 * `base64.b64decode(v["$base64"])` for a BLOB); a DSI reader takes one table's rows as columns.
 */
import type { StoreBackend, StoredRow, StoredValue } from './types.js';
import { StoreError } from '../errors/index.js';

/** The key of the object a BLOB is exported as. */
export const BASE64_KEY = '$base64';

/** Options for {@link exportJsonLines}. */
export interface ExportOptions {
  /** Only this table (default: every table). */
  table?: string;
  /** Rows read at a time (default 500): memory stays bounded however large the store. */
  pageSize?: number;
}

/** One value as JSON text. */
function valueJson(v: StoredValue): string {
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v)) return `{${JSON.stringify(BASE64_KEY)}:${JSON.stringify(v.toString('base64'))}}`;
  return JSON.stringify(v ?? null);
}

/** One row as a JSON line (no newline): `{"table": TABLE, ...columns}`. */
export function rowJsonLine(table: string, row: StoredRow): string {
  const parts = [`"table":${JSON.stringify(table)}`];
  for (const [k, v] of Object.entries(row)) parts.push(`${JSON.stringify(k)}:${valueJson(v)}`);
  return `{${parts.join(',')}}`;
}

/** Decode an exported value back to bytes when it is a `{"$base64": ...}` object; anything else is returned as it is. */
export function fromExported(v: unknown): unknown {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const keys = Object.keys(v);
    const b = (v as Record<string, unknown>)[BASE64_KEY];
    if (keys.length === 1 && typeof b === 'string') return Buffer.from(b, 'base64');
  }
  return v;
}

/**
 * The store's rows as JSON lines (each ending in a newline), read a page at a time. A `table` the
 * store does not have is a StoreError.
 */
export async function* exportLines(store: StoreBackend, options: ExportOptions = {}): AsyncGenerator<string> {
  const tables = (await store.tables()).map((t) => t.name);
  if (options.table !== undefined && !tables.includes(options.table)) {
    throw new StoreError(`no table ${options.table} in ${store.location} (tables: ${tables.join(', ') || 'none'})`, store.location);
  }
  const pageSize = Math.max(1, options.pageSize ?? 500);
  for (const table of options.table !== undefined ? [options.table] : tables) {
    let afterId = 0;
    for (;;) {
      const page = await store.rows(table, {}, { afterId, limit: pageSize });
      for (const r of page) yield `${rowJsonLine(table, r)}\n`;
      if (page.length < pageSize) break;
      afterId = page[page.length - 1]!.id;
    }
  }
}

/** Write the export through `write` (awaited per line); returns how many rows were written. */
export async function exportJsonLines(store: StoreBackend, write: (line: string) => void | Promise<void>, options: ExportOptions = {}): Promise<number> {
  let n = 0;
  for await (const line of exportLines(store, options)) {
    await write(line);
    n++;
  }
  return n;
}
