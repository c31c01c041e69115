/**
 * The one loader for the vendored data tables (`data/`): which file (an explicit path, an
 * environment variable, or the vendored copy), read once per path and parsed by the table's own
 * parser. A missing, unreadable or non-JSON file is a FactsError naming the table and the file.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FactsError, oneLine } from '../errors/index.js';

/** How to find and parse one table. */
export interface TableSpec<T> {
  /** Human name for messages, e.g. `archspec data`, `CUDA driver table`. */
  readonly what: string;
  /** The vendored file, relative to the project's `data/` directory. */
  readonly vendored: string;
  /** Environment variable naming a replacement file (an empty value means unset). */
  readonly env: string;
  /** Turn the parsed JSON into the table; throw FactsError (naming `file`) for a wrong shape. */
  parse(json: unknown, file: string): T;
}

const caches = new WeakMap<TableSpec<unknown>, Map<string, unknown>>();

/** Absolute path of a vendored table (works from both `src/data/` and `dist/data/`). */
export function vendoredTablePath(relative: string): string {
  return fileURLToPath(new URL(`../../data/${relative}`, import.meta.url));
}

/** The file a table is read from: `file` if given, else `$ENV` when non-empty, else the vendored copy. */
export function tablePath(spec: TableSpec<unknown>, file?: string): string {
  const fromEnv = process.env[spec.env];
  return resolve(file ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : vendoredTablePath(spec.vendored)));
}

/** Load a table (cached per absolute path for the life of the process). */
export function loadTable<T>(spec: TableSpec<T>, file?: string): T {
  const path = tablePath(spec as TableSpec<unknown>, file);
  let cache = caches.get(spec as TableSpec<unknown>);
  if (!cache) caches.set(spec as TableSpec<unknown>, (cache = new Map()));
  if (cache.has(path)) return cache.get(path) as T;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new FactsError(oneLine(`cannot read ${spec.what} ${path}: ${why}`), { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FactsError(oneLine(`${spec.what} ${path} is not valid JSON: ${(e as Error).message}`), { cause: e });
  }
  const table = spec.parse(json, path);
  cache.set(path, table);
  return table;
}
