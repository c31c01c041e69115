/** What a store spec names, without loading a driver: the SQLite default path, PostgreSQL URLs. */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** `$XDG_DATA_HOME/containerspec/provenance.db`, with XDG's default `~/.local/share`. */
export function defaultSqlitePath(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_DATA_HOME;
  // XDG: a relative path is invalid and is ignored.
  const base = xdg && xdg.startsWith('/') ? xdg : join(env.HOME || homedir(), '.local', 'share');
  return join(base, 'containerspec', 'provenance.db');
}

/** Is `spec` a PostgreSQL URL (`postgres://` or `postgresql://`)? */
export function isPostgresUrl(spec: string): boolean {
  return /^postgres(ql)?:\/\//i.test(spec);
}
