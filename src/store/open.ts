/**
 * Which store to open: `--store PATH` or `--store postgres://...`, else `$CONTAINERSPEC_STORE`,
 * else the SQLite default (`$XDG_DATA_HOME/containerspec/provenance.db`).
 */
import { StoreError } from '../errors/index.js';
import { defaultSqlitePath, isPostgresUrl } from './location.js';
import type { StoreBackend } from './types.js';

export { isPostgresUrl } from './location.js';

/** The environment variable naming the store when `--store` is not given. */
export const STORE_ENV = 'CONTAINERSPEC_STORE';

/** Options for {@link openStore}. */
export interface OpenStoreOptions {
  /**
   * Create what is missing (default true): the SQLite file and its directories, the declared tables
   * and columns. False: open what is there (a SQLite file must exist) and change nothing.
   */
  create?: boolean;
  /** Environment to read `CONTAINERSPEC_STORE`, `XDG_DATA_HOME` and `HOME` from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** What a store spec names: a SQLite file or a PostgreSQL URL. */
export type StoreSpec = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/**
 * Resolve a store spec (`spec`, else `$CONTAINERSPEC_STORE`, else the SQLite default) without opening
 * anything. A URL with another scheme (`mysql://`, `http://`) is a StoreError.
 */
export function resolveStoreSpec(spec?: string, env: NodeJS.ProcessEnv = process.env): StoreSpec {
  const s = spec !== undefined && spec !== '' ? spec : env[STORE_ENV] || undefined;
  if (s === undefined) return { kind: 'sqlite', path: defaultSqlitePath(env) };
  if (isPostgresUrl(s)) return { kind: 'postgres', url: s };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(s);
  if (scheme) {
    throw new StoreError(`unsupported store ${scheme[1]!.toLowerCase()}:// (give a SQLite file path, or a postgres:// or postgresql:// URL)`, `${scheme[1]!.toLowerCase()}://...`);
  }
  return { kind: 'sqlite', path: s };
}

/**
 * Open the provenance store `spec` names (see {@link resolveStoreSpec}). By default what is missing
 * is created ({@link OpenStoreOptions.create}). Throws a StoreError, one line and never holding a
 * password, for an unreachable server, a bad URL, a directory that cannot be created, a file that is
 * not a SQLite database.
 */
export async function openStore(spec?: string, options: OpenStoreOptions = {}): Promise<StoreBackend> {
  const r = resolveStoreSpec(spec, options.env);
  const create = options.create ?? true;
  return (await opener(r))({ create });
}

/**
 * How to open the store a spec names, once its backend's module has loaded: each driver loads only
 * when it is used (pg alone takes ~150 ms to load).
 */
function opener(r: StoreSpec): Promise<(o: { create: boolean }) => Promise<StoreBackend>> {
  if (r.kind === 'postgres') return import('./postgres.js').then((m) => (o) => m.openPostgres(r.url, o));
  return import('./sqlite.js').then((m) => (o) => m.openSqlite(r.path, o));
}

/**
 * Load the driver of the backend `spec` names, opening nothing: a caller about to wait on something
 * else (git, a download) lets the module load meanwhile. Never fails; {@link openStore} reports.
 */
export function preloadStore(spec?: string, env: NodeJS.ProcessEnv = process.env): void {
  try {
    opener(resolveStoreSpec(spec, env)).catch(() => {});
  } catch {
    /* a bad spec: openStore says so */
  }
}
