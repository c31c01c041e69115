// The Consumer and the artifact handler (issue 9, parts 4 and 5), on both store backends: real git
// with a local bare remote, the real TLS registry and `ch-image pull` by digest into a temp
// Charliecloud storage, a real SQLite file and a real PostgreSQL server. Bad input is exit 2 with
// nothing stored; 8 concurrent commits leave 8 intact rows; a commit killed with SIGKILL leaves a
// store that opens cleanly with no partial row; a credential in a remote URL is refused and found
// nowhere in the store.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, REPO, runCli, show } from './helpers/cli.js';
import { ensureFixtures, oci } from './helpers/images.js';
import { startPostgres, type Pg } from './helpers/postgres.js';
import { registryMissing, removeTestCerts, startRegistry, type TestRegistry } from './helpers/registry.js';
import { schemaErrors } from './helpers/schemas.js';

const missing = registryMissing() ?? (spawnSync('sh', ['-c', 'command -v ch-image && command -v git']).status === 0 ? null : 'ch-image or git is not installed');
if (missing) console.warn(`skipping the Consumer tests: ${missing}`);

const scratch = mkdtempSync(join(tmpdir(), 'cs-consumer-'));
const started = missing ? { skip: missing } : await startPostgres({ fsync: false });
const server: Pg | null = 'skip' in started ? null : started;
if ('skip' in started && !missing) console.warn(`skipping the PostgreSQL Consumer tests: ${started.skip}`);

let reg: TestRegistry | null = null;
let digest = '';
let image = '';
const storage = join(scratch, 'storage');
const SECRET = 's3cr3t-Token-93f1';

beforeAll(async () => {
  if (missing) return;
  const f = ensureFixtures();
  if (!f.ok) throw new Error(f.reason);
  await buildCli();
  reg = await startRegistry();
  digest = await reg.push(`${oci('musl-static')}:latest`, 'lab/app:1');
  image = `${reg.host}/lab/app:1@${digest}`;
}, 300_000);

afterAll(async () => {
  await reg?.stop();
  await server?.stop();
  removeTestCerts();
  rmSync(scratch, { recursive: true, force: true });
});

let n = 0;
/** Each test file's commits share one Charliecloud storage (and its pull records), unless a test takes its own. */
const env = (st = storage) => ({ CH_IMAGE_STORAGE: st, XDG_DATA_HOME: `${st}-data`, USER: process.env.USER ?? 'root' });
const cs = (args: string[], st?: string) => runCli(args, { env: env(st), timeoutMs: 180_000 });

function runspec(dir: string, body = 'RUN ["/bin/busybox", "echo", "hello"]\n', from = `FROM ${image}`): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'job.runspec');
  writeFileSync(file, `# a test run\n${from}\nENV OMP_NUM_THREADS=4\nBIND /tmp:/scratch:ro\n${body}`);
  return file;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const git = (dir: string, ...args: string[]) => spawnSync('git', ['-C', dir, ...args], { encoding: 'utf8' }).stdout.trim();

interface Backend {
  name: string;
  skip: string | null;
  fresh(): Promise<string>;
  consumerRows(spec: string): Promise<{ id: number; commit_hash: string; image_acquired: string; container_run_commands: Buffer; container_run_commands_sha256: string; system_kernel_id: number }[]>;
  count(spec: string, table: string): Promise<number>;
  tamper(spec: string, id: number): Promise<void>;
  /** Every byte the store holds, for grepping. */
  dump(spec: string): Promise<string>;
}

const sqlite: Backend = {
  name: 'SQLite',
  skip: missing,
  async fresh() {
    return join(scratch, `store${++n}`, 'provenance.db');
  },
  async consumerRows(spec) {
    const db = new Database(spec, { readonly: true });
    try {
      return db.prepare('SELECT * FROM "Consumer" ORDER BY id').all() as never;
    } finally {
      db.close();
    }
  },
  async count(spec, table) {
    if (!existsSync(spec)) return 0;
    const db = new Database(spec, { readonly: true });
    try {
      const t = db.prepare("SELECT name FROM sqlite_master WHERE type='table' AND name=?").get(table);
      return t ? (db.prepare(`SELECT count(*) AS c FROM "${table}"`).get() as { c: number }).c : 0;
    } finally {
      db.close();
    }
  },
  async tamper(spec, id) {
    const db = new Database(spec);
    try {
      const row = db.prepare('SELECT container_run_commands AS b FROM "Consumer" WHERE id=?').get(id) as { b: Buffer };
      const b = Buffer.from(row.b);
      b[700] = (b[700]! + 1) & 0xff;
      // a test stands in for an attacker or a broken disk: the store itself never rewrites a row
      db.prepare('UPDATE "Consumer" SET container_run_commands=? WHERE id=?').run(b, id);
    } finally {
      db.close();
    }
  },
  async dump(spec) {
    const dir = join(spec, '..');
    return readdirSync(dir).map((f) => readFileSync(join(dir, f)).toString('latin1')).join('\n');
  },
};

async function withPg<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const postgres: Backend = {
  name: 'PostgreSQL',
  skip: server ? null : 'skip' in started ? started.skip : 'no server',
  async fresh() {
    return server!.createDatabase(`consumer${++n}`);
  },
  async consumerRows(spec) {
    return withPg(spec, async (c) => (await c.query('SELECT * FROM "Consumer" ORDER BY id')).rows.map((r) => ({ ...r, id: Number(r.id), system_kernel_id: Number(r.system_kernel_id) })));
  },
  async count(spec, table) {
    return withPg(spec, async (c) => {
      const t = await c.query('SELECT to_regclass($1) AS t', [`"${table}"`]);
      return t.rows[0].t ? Number((await c.query(`SELECT count(*) AS c FROM "${table}"`)).rows[0].c) : 0;
    });
  },
  async tamper(spec, id) {
    await withPg(spec, async (c) => {
      // stands in for an attacker or a broken disk: the store never rewrites a row
      await c.query('UPDATE "Consumer" SET container_run_commands = overlay(container_run_commands placing $1 from 701) WHERE id=$2', [Buffer.from('X'), id]);
    });
  },
  async dump(spec) {
    const bin = ['/usr/lib/postgresql/15/bin/pg_dump', 'pg_dump'].find((b) => b.startsWith('/') ? existsSync(b) : true)!;
    const r = spawnSync(bin, ['--dbname', spec, '--data-only'], { encoding: 'latin1', maxBuffer: 1 << 30 });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
  },
};

describe.each([sqlite, postgres])('the Consumer on $name', (b) => {
  const skip = () => {
    if (b.skip) console.warn(`skipping: ${b.skip}`);
    return Boolean(b.skip);
  };

  it('commit: validates, pulls the image by digest, commits, and records the repository, the image and the host', async (ctx) => {
    if (skip()) return ctx.skip();
    const store = await b.fresh();
    const dir = join(scratch, `repo${++n}`);
    const file = runspec(dir);
    const own = join(scratch, `storage${n}`); // empty: the image is not there yet
    const cs = (args: string[]) => runCli(args, { env: env(own), timeoutMs: 180_000 });
    const absent = await cs(['runspec', 'commit', file, '--store', store]);
    expect(absent.code, show(absent)).toBe(2);
    expect(absent.stderr).toMatch(/is not in Charliecloud storage .*add --pull/);
    expect(await b.count(store, 'Consumer')).toBe(0);

    const r = await cs(['runspec', 'commit', file, '--store', store, '--pull', '--ca-file', reg!.caFile, '-m', 'first run', '--json']);
    expect(r.code, show(r)).toBe(0);
    const rec = JSON.parse(r.stdout) as { commit: string; committed: boolean; image: { acquired: string }; consumerId: number; systemKernelId: number };
    expect(schemaErrors('runspec-record-1.0', rec)).toBeNull();
    expect(rec.commit).toBe(git(dir, 'rev-parse', 'HEAD'));
    expect(git(dir, 'log', '-1', '--format=%s')).toBe('first run');
    expect(rec).toMatchObject({ committed: true, image: { acquired: 'pulled' } });
    const rows = await b.consumerRows(store);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.commit_hash).toBe(rec.commit);
    expect(rows[0]!.image_acquired).toBe('pulled');
    expect(sha256(Buffer.from(rows[0]!.container_run_commands))).toBe(rows[0]!.container_run_commands_sha256);
    expect(await b.count(store, 'SystemKernel')).toBe(1);

    // an edit is a new commit; the image is now verified in storage, not pulled again
    writeFileSync(file, readFileSync(file, 'utf8').replace('hello', 'again'));
    const second = await cs(['runspec', 'commit', file, '--store', store, '--json']);
    expect(second.code, show(second)).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ committed: true, image: { acquired: 'present' } });
    expect(await b.count(store, 'Consumer')).toBe(2);

    // push to a bare remote, pull it back into the store, clone it: the same commit throughout
    const bare = join(scratch, `remote${n}.git`);
    spawnSync('git', ['init', '-q', '--bare', bare]); // its HEAD names master; the repository has main
    const push = await cs(['runspec', 'push', '--remote', bare, '--store', store]);
    expect(push.code, show(push)).toBe(0);
    const head = git(dir, 'rev-parse', 'HEAD');
    expect(git(bare, 'rev-parse', 'main')).toBe(head);
    const pull = await cs(['runspec', 'pull', '--remote', bare, '--store', store, '--json']);
    expect(pull.code, show(pull)).toBe(0);
    expect(JSON.parse(pull.stdout)).toMatchObject({ commit: head, committed: false });
    expect(schemaErrors('runspec-record-1.0', JSON.parse(pull.stdout))).toBeNull();
    const clone = join(scratch, `clone${n}`);
    const cl = await cs(['runspec', 'clone', bare, '--dir', clone, '--store', store, '--json']);
    expect(cl.code, show(cl)).toBe(0);
    expect(git(clone, 'rev-parse', 'HEAD')).toBe(head);
    expect(git(clone, 'remote')).toBe(''); // the URL is not kept in the clone either
    expect(await b.count(store, 'Consumer')).toBe(4);
    // push of an older stored commit: its own repository
    const older = (await b.consumerRows(store))[0]!.commit_hash;
    const bare2 = join(scratch, `remote${n}b.git`);
    spawnSync('git', ['init', '-q', '--bare', bare2]);
    expect((await cs(['runspec', 'push', '--remote', bare2, '--store', store, '--commit', older.slice(0, 10)])).code).toBe(0);
    expect(git(bare2, 'rev-parse', 'main')).toBe(older);
  }, 240_000);

  it('bad input is exit 2, one line on stderr, and nothing stored', async (ctx) => {
    if (skip()) return ctx.skip();
    const store = await b.fresh();
    const ok = runspec(join(scratch, `good${++n}`));
    const first = await cs(['runspec', 'commit', ok, '--store', store, '--pull', '--ca-file', reg!.caFile]);
    expect(first.code, show(first)).toBe(0);
    const before = await b.count(store, 'Consumer');
    const cases: [string, string, RegExp][] = [
      ['no digest on line 1', `FROM ${reg!.host}/lab/app:1`, /provenance needs the image digest/],
      ['an unknown instruction', `FROM ${image}\nCOPY a b`, /COPY/],
      ['a bad BIND', `FROM ${image}\nBIND relative/path:/x`, /BIND/],
    ];
    for (const [what, text, re] of cases) {
      const dir = join(scratch, `bad${++n}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'x.runspec'), `${text}\nRUN true\n`);
      const r = await cs(['runspec', 'commit', join(dir, 'x.runspec'), '--store', store]);
      expect(r.code, `${what}: ${show(r)}`).toBe(2);
      expect(r.stderr.trim().split('\n'), what).toHaveLength(1);
      expect(r.stderr, what).toMatch(re);
      expect(existsSync(join(dir, '.git')), `${what}: no repository made`).toBe(false);
    }
    const unknown = await cs(['runspec', 'push', '--remote', join(scratch, 'nowhere.git'), '--store', store, '--commit', 'deadbeef00']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/commit deadbeef00 is not in the store/);
    const cred = await cs(['runspec', 'pull', '--remote', `https://alice:${SECRET}@127.0.0.1:1/runs.git`, '--store', store]);
    expect(cred.code).toBe(2);
    expect(cred.stderr).toMatch(/holds a password or token/);
    expect(cred.stderr + cred.stdout).not.toContain(SECRET);
    const credPush = await cs(['runspec', 'push', '--remote', `https://alice:${SECRET}@127.0.0.1:1/runs.git`, '--store', store]);
    expect(credPush.code).toBe(2);
    expect(await b.count(store, 'Consumer')).toBe(before);
    expect(await b.dump(store)).not.toContain(SECRET);
    // a tampered tar is found before anything is restored or pushed
    const [row] = await b.consumerRows(store);
    await b.tamper(store, row!.id);
    const bare = join(scratch, `tampered${n}.git`);
    spawnSync('git', ['init', '-q', '--bare', bare]);
    const t = await cs(['runspec', 'push', '--remote', bare, '--store', store]);
    expect(t.code, show(t)).toBe(2);
    expect(t.stderr).toMatch(/the stored repository is damaged/);
    expect(git(bare, 'rev-parse', '--verify', '-q', 'main')).toBe('');
  }, 180_000);

  it('8 processes committing at once leave 8 intact rows', async (ctx) => {
    if (skip()) return ctx.skip();
    const store = await b.fresh();
    expect((await cs(['store', 'init', '--store', store])).code).toBe(0);
    const files = Array.from({ length: 8 }, (_, i) => runspec(join(scratch, `conc${++n}-${i}`), `RUN ["/bin/busybox", "echo", "${i}"]\n`));
    const results = await Promise.all(files.map((f) => cs(['runspec', 'commit', f, '--store', store])));
    for (const r of results) expect(r.code, show(r)).toBe(0);
    const rows = await b.consumerRows(store);
    expect(rows).toHaveLength(8);
    for (const r of rows) expect(sha256(Buffer.from(r.container_run_commands))).toBe(r.container_run_commands_sha256);
    expect(new Set(rows.map((r) => r.system_kernel_id)).size).toBe(8);
    expect(await b.count(store, 'SystemKernel')).toBe(8);
  }, 180_000);

  it('a commit killed with SIGKILL leaves a store that opens cleanly, with no partial row', async (ctx) => {
    if (skip()) return ctx.skip();
    const store = await b.fresh();
    expect((await cs(['store', 'init', '--store', store])).code).toBe(0);
    // a repository with some weight, so the kill lands while it is archived or written
    const dir = join(scratch, `crash${++n}`);
    const file = runspec(dir);
    writeFileSync(join(dir, 'data.bin'), Buffer.alloc(24 << 20, 7));
    spawnSync('git', ['-C', dir, 'init', '-q', '-b', 'main']);
    const warm = await cs(['runspec', 'commit', file, '--store', store, '--pull', '--ca-file', reg!.caFile]);
    expect(warm.code, show(warm)).toBe(0);
    const base = (await b.consumerRows(store)).length;
    const delays = [150, 400, 700, 1000, 1400, 2000];
    for (const ms of delays) {
      writeFileSync(file, readFileSync(file, 'utf8') + `# ${ms}\n`);
      const child = spawn(process.execPath, [join(REPO, 'bin/containerspec.js'), 'runspec', 'commit', file, '--store', store, '--quiet'], { env: { ...process.env, ...env() }, stdio: 'ignore' });
      const closed = new Promise((r) => child.on('close', r));
      await new Promise((r) => setTimeout(r, ms));
      child.kill('SIGKILL');
      await closed;
    }
    const tables = await cs(['store', 'tables', '--store', store, '--json']);
    expect(tables.code, show(tables)).toBe(0);
    const rows = await b.consumerRows(store);
    expect(rows.length).toBeGreaterThanOrEqual(base);
    for (const r of rows) expect(sha256(Buffer.from(r.container_run_commands))).toBe(r.container_run_commands_sha256);
    // both rows of a commit are one transaction: as many SystemKernel rows as Consumer rows
    expect(await b.count(store, 'SystemKernel')).toBe(rows.length);
    const after = await cs(['runspec', 'commit', file, '--store', store]);
    expect(after.code, show(after)).toBe(0);
    expect(await b.count(store, 'Consumer')).toBe(rows.length + 1);
  }, 240_000);
});
