/**
 * A throwaway PostgreSQL server for tests: `initdb` into a temporary directory owned by the
 * `postgres` user (trust authentication, no fsync at initdb), then `pg_ctl start` on 127.0.0.1 at a
 * free port with its socket in that directory; `stop()` stops it (`pg_ctl -m fast`) and removes the
 * directory. Needs root (to run the server as `postgres`) and the PostgreSQL binaries; otherwise
 * `startPostgres()` says why it cannot, as `{ skip }`.
 */
import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { freePort } from './registry.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running throwaway server. */
export interface Pg {
  /** `postgres://postgres@127.0.0.1:PORT/postgres` (trust: any password is accepted). */
  url: string;
  port: number;
  /** The data directory's parent (data/, the socket, the log). */
  dir: string;
  /** A new, empty database on this server; returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stop the server and remove its directory. */
  stop(): Promise<void>;
}

/** Where PostgreSQL's server binaries are looked for, newest first. */
const BIN_DIRS = ['/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/14/bin', '/usr/pgsql-16/bin', '/usr/pgsql-15/bin'];

/** The directory holding initdb and pg_ctl, or null. */
export function postgresBin(): string | null {
  return BIN_DIRS.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'pg_ctl'))) ?? null;
}

/** Run a command without blocking the event loop; resolves with its status and output. */
function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ status: null, out: `${cmd}: ${e.message}` });
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, out });
    });
  });
}

/** The `postgres` user's uid and gid, or null when there is none. */
async function postgresUser(): Promise<{ uid: number; gid: number } | null> {
  const r = await run('id', ['-u', 'postgres']);
  const g = await run('id', ['-g', 'postgres']);
  if (r.status !== 0 || g.status !== 0) return null;
  return { uid: Number(r.out.trim()), gid: Number(g.out.trim()) };
}

/** Start a throwaway server, or say why one cannot start here. */
export async function startPostgres(opts: { fsync?: boolean } = {}): Promise<Pg | { skip: string }> {
  if (process.getuid?.() !== 0) return { skip: 'not running as root (the server runs as the postgres user)' };
  const bin = postgresBin();
  if (!bin) return { skip: 'PostgreSQL server binaries not found (npm test installs postgresql)' };
  const user = await postgresUser();
  if (!user) return { skip: 'no postgres user' };
  const as = (cmd: string, args: string[]) => run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]);

  const dir = mkdtempSync(join(tmpdir(), 'cs-pg-'));
  chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  const fail = (what: string, out: string) => {
    rmSync(dir, { recursive: true, force: true });
    return { skip: `${what} failed: ${out.trim().split('\n').slice(-3).join(' | ')}` };
  };
  const init = await as('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  if (init.status !== 0) return fail('initdb', init.out);

  // A port picked now may be taken by the time the server binds it: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const options = `-k ${dir} -p ${port} -c listen_addresses=127.0.0.1${opts.fsync === false ? ' -c fsync=off -c synchronous_commit=off' : ''}`;
    const start = await as('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '30', '-o', options, 'start']);
    if (start.status !== 0) {
      const tail = existsSync(log) ? readFileSync(log, 'utf8') : start.out;
      if (/could not bind|address already in use/i.test(tail) && attempt < 2) continue;
      return fail('pg_ctl start', `${start.out}\n${tail}`);
    }
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    let stopped = false;
    return {
      url,
      port,
      dir,
      async createDatabase(name: string): Promise<string> {
        if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
        const { default: pg } = await import('pg');
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        try {
          await c.query(`CREATE DATABASE ${name}`);
        } finally {
          await c.end();
        }
        return `postgres://postgres@127.0.0.1:${port}/${name}`;
      },
      async stop(): Promise<void> {
        if (stopped) return;
        stopped = true;
        await as('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  return fail('pg_ctl start', 'no free port');
}
