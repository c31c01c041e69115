/**
 * The provenance store, on both backends: a real SQLite file and a real throwaway PostgreSQL server
 * (test/helpers/postgres.ts). The same suite runs on each; PostgreSQL skips, saying why, where it
 * cannot start (not root, no server binaries).
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreError } from '../src/errors/index.js';
import { BASE64_KEY, exportLines, fromExported } from '../src/store/export.js';
import { openStore, resolveStoreSpec } from '../src/store/open.js';
import { displayUrl } from '../src/store/postgres.js';
import { defaultSqlitePath } from '../src/store/sqlite.js';
import { collectSystemKernel } from '../src/store/system-kernel.js';
import { TABLES, groupedSelect } from '../src/store/tables.js';
import type { StoreBackend, StoreWriter, StoredRow } from '../src/store/types.js';
import { REPO, buildCli, expectOneLineError, runCli, show } from './helpers/cli.js';
import { startPostgres, type Pg } from './helpers/postgres.js';

const CHILD = join(REPO, 'test', 'helpers', 'store-child.mjs');
const scratch = mkdtempSync(join(tmpdir(), 'cs-store-test-'));

// The server runs without fsync: these tests kill clients, never the server.
const started = await startPostgres({ fsync: false });
const server: Pg | null = 'skip' in started ? null : started;
if ('skip' in started) console.warn(`skipping the PostgreSQL store tests: ${started.skip}`);

afterAll(async () => {
  await server?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

beforeAll(async () => {
  await buildCli(); // the child processes and the CLI run the built dist/
});

let counter = 0;

/** One backend: how to get the spec of a new, empty store, and how to look under the store. */
interface Backend {
  name: 'sqlite' | 'postgres';
  skip: string | null;
  fresh(): Promise<string>;
  /** The table's physical identity: SQLite's rootpage, PostgreSQL's OID. Unchanged unless the table is rebuilt. */
  tableIdentity(spec: string, table: string): Promise<string>;
  /** Raw SQL against the store, bypassing the backend (to build an "old" store). */
  exec(spec: string, sql: string): Promise<void>;
  /** The names of the indexes on a table, sorted. */
  indexes(spec: string, table: string): Promise<string[]>;
}

/** Run `fn` on the SQLite file `spec`, opened for it alone. */
function withSqlite<T>(spec: string, fn: (db: InstanceType<typeof Database>) => T, opts: { readonly?: boolean } = {}): T {
  const db = new Database(spec, opts);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const sqliteBackend: Backend = {
  name: 'sqlite',
  skip: null,
  async fresh() {
    return join(scratch, `s${++counter}`, 'provenance.db');
  },
  async tableIdentity(spec, table) {
    return withSqlite(spec, (db) => String((db.prepare('SELECT rootpage FROM sqlite_master WHERE name = ?').get(table) as { rootpage: number }).rootpage), { readonly: true });
  },
  async exec(spec, sql) {
    mkdirSync(join(spec, '..'), { recursive: true });
    withSqlite(spec, (db) => db.exec(sql));
  },
  async indexes(spec, table) {
    return withSqlite(spec, (db) => (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND name NOT LIKE 'sqlite_%' ORDER BY name").all(table) as { name: string }[]).map((r) => r.name), { readonly: true });
  },
};

/** Run `fn` on a client of the PostgreSQL database `spec`, connected for it alone. */
async function withPg<T>(spec: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: spec });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const postgresBackend: Backend = {
  name: 'postgres',
  skip: server ? null : 'PostgreSQL cannot start here',
  async fresh() {
    return server!.createDatabase(`store_${process.pid}_${++counter}`);
  },
  async tableIdentity(spec, table) {
    return withPg(spec, async (c) => (await c.query<{ oid: string }>(`SELECT c.oid::text AS oid FROM pg_class c WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace`, [table])).rows[0]!.oid);
  },
  async exec(spec, sql) {
    await withPg(spec, (c) => c.query(sql));
  },
  async indexes(spec, table) {
    return withPg(spec, async (c) => (await c.query<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1 AND indexname NOT LIKE '%_pkey' ORDER BY indexname", [table])).rows.map((x) => x.indexname));
  },
};

/** A Consumer row whose sha256 column matches its BLOB. */
function consumerRow(bytes: number, tag: string) {
  const blob = randomBytes(bytes);
  return {
    commit_hash: createHash('sha1').update(blob).digest('hex'),
    image_reference: `registry.lab/app@sha256:${'a'.repeat(64)}`,
    image_digest: `sha256:${'a'.repeat(64)}`,
    runspec_path: tag,
    container_run_commands: blob,
    container_run_commands_sha256: createHash('sha256').update(blob).digest('hex'),
  };
}

/** Every row's BLOB hashes to its sha256 column. */
function expectIntact(rows: StoredRow[]): void {
  for (const r of rows) {
    expect(Buffer.isBuffer(r.container_run_commands), `row ${r.id}`).toBe(true);
    expect(createHash('sha256').update(r.container_run_commands as Buffer).digest('hex'), `row ${r.id}`).toBe(r.container_run_commands_sha256);
  }
}

/** Run the child script; resolves with its stdout once it exits. */
function child(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Start the child script and SIGKILL it once `until(stdout)` holds; resolves with the stdout seen before the kill. */
function childKilledWhen(args: string[], until: (stdout: string) => boolean, timeoutMs = 30_000): Promise<{ stdout: string; signal: string | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let seen: string | null = null;
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (seen === null && until(stdout)) {
        seen = stdout;
        p.kill('SIGKILL');
      }
    });
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', reject);
    p.on('close', (_code, signal) => {
      clearTimeout(t);
      resolve({ stdout: seen ?? stdout, signal, stderr });
    });
  });
}

async function withOpen<T>(spec: string, fn: (s: StoreBackend) => Promise<T>): Promise<T> {
  const s = await openStore(spec);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

describe.each([sqliteBackend, postgresBackend])('the provenance store on $name', (b) => {
  it.skipIf(b.skip !== null)('init creates Consumer, Producer and SystemKernel with their typed columns, and is idempotent', async () => {
    const spec = await b.fresh();
    await withOpen(spec, async (s) => {
      expect(s.kind).toBe(b.name);
      await s.init(); // again: nothing changes
      const tables = await s.tables();
      expect(tables.map((t) => t.name)).toEqual(['Consumer', 'Producer', 'SystemKernel']);
      for (const spec of TABLES) {
        const t = tables.find((x) => x.name === spec.name)!;
        expect(t.rows).toBe(0);
        expect(t.columns.map((c) => [c.name, c.type])).toEqual([['id', 'INTEGER'], ['recorded_at', 'VARCHAR'], ...spec.columns.map((c) => [c.name, c.type])]);
      }
      const sk = tables.find((t) => t.name === 'Consumer')!.columns;
      const sqlType = (n: string) => sk.find((c) => c.name === n)!.sqlType;
      if (b.name === 'postgres') {
        expect([sqlType('system_kernel_id'), sqlType('commit_hash'), sqlType('container_run_commands')]).toEqual(['BIGINT', 'TEXT', 'BYTEA']);
      } else {
        expect([sqlType('system_kernel_id'), sqlType('commit_hash'), sqlType('container_run_commands')]).toEqual(['INTEGER', 'VARCHAR', 'BLOB']);
      }
    });
  });

  it.skipIf(b.skip !== null)('every kind of value round-trips: integers, floats, text, BLOB bytes, JSON, NULL', async () => {
    const spec = await b.fresh();
    await withOpen(spec, async (s) => {
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const facts = { cpu: { microarch: 'icelake', features: ['avx512f'] }, libc: { version: '2.36' }, nested: [1, 'two', null, { x: true }] };
      const id = await s.append('SystemKernel', {
        uid: 1000,
        effective_gid: 27,
        moniker: 'ünïcode user',
        gid_list: [27, 1000],
        kernel_info: { kernel_version: '6.1.0', sysctl: { 'vm.swappiness': '60' } },
        host_facts: facts,
        host_name: null,
        load_average: 0.75, // new FLOAT column
        big: 2n ** 60n, // new INTEGER column, past 2^53
        negative: -5,
        flag: true, // INTEGER 1
        raw: bytes, // new BLOB column
        note: 'line one\nline "two"', // new VARCHAR column
        undefined_is_left_out: undefined,
      });
      expect(id).toBe(1);
      const [r] = await s.rows('SystemKernel');
      expect(r).toMatchObject({
        id: 1,
        uid: 1000,
        effective_gid: 27,
        moniker: 'ünïcode user',
        gid_list: [27, 1000],
        kernel_info: { kernel_version: '6.1.0', sysctl: { 'vm.swappiness': '60' } },
        host_facts: facts,
        host_name: null,
        load_average: 0.75,
        big: 2n ** 60n,
        negative: -5,
        flag: 1,
        note: 'line one\nline "two"',
      });
      expect(Buffer.compare(r!.raw as Buffer, bytes)).toBe(0);
      expect(r!.recorded_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(Object.keys(r!)).not.toContain('undefined_is_left_out');
      const cols = (await s.tables()).find((t) => t.name === 'SystemKernel')!.columns;
      expect(Object.fromEntries(cols.filter((c) => ['load_average', 'big', 'raw', 'note', 'flag'].includes(c.name)).map((c) => [c.name, c.type]))).toEqual({
        load_average: 'FLOAT',
        big: 'INTEGER',
        raw: 'BLOB',
        note: 'VARCHAR',
        flag: 'INTEGER',
      });

      // ids in order, a filter, and paging
      const ids = await s.appendMany('Consumer', [consumerRow(10, 'a'), consumerRow(10, 'b'), consumerRow(10, 'a')]);
      expect(ids).toEqual([1, 2, 3]);
      expect((await s.rows('Consumer', { runspec_path: 'a' })).map((x) => x.id)).toEqual([1, 3]);
      expect((await s.rows('Consumer', { image_acquired: null })).length).toBe(3);
      expect((await s.rows('Consumer', { no_such_column: 'x' })).length).toBe(0);
      expect((await s.rows('Consumer', {}, { afterId: 1, limit: 1 })).map((x) => x.id)).toEqual([2]);
      expect(await s.rows('Producer')).toEqual([]);
    });
  });

  it.skipIf(b.skip !== null)('a transaction commits its rows together, and a failed one leaves none', async () => {
    const spec = await b.fresh();
    await withOpen(spec, async (s) => {
      const ids = await s.transaction(async (tx) => {
        const sk = await tx.append('SystemKernel', { uid: 1, effective_gid: 1, gid_list: [1], kernel_info: {} });
        const c = await tx.append('Consumer', { ...consumerRow(100, 'tx'), system_kernel_id: sk });
        expect((await tx.rows('Consumer')).length).toBe(1); // sees its own writes
        return { sk, c };
      });
      expect((await s.rows('Consumer'))[0]!.system_kernel_id).toBe(ids.sk);
      await expect(
        s.transaction(async (tx) => {
          await tx.append('SystemKernel', { uid: 2, effective_gid: 2, gid_list: [2], kernel_info: {}, only_in_failed_tx: 'x' });
          await tx.append('Consumer', consumerRow(100, 'doomed'));
          throw new Error('the caller changed its mind');
        }),
      ).rejects.toThrow('changed its mind');
      expect((await s.rows('SystemKernel')).length).toBe(1);
      expect((await s.rows('Consumer')).length).toBe(1);
      // the column added inside the failed transaction is gone too, and can be added again
      const cols = (await s.tables()).find((t) => t.name === 'SystemKernel')!.columns.map((c) => c.name);
      expect(cols).not.toContain('only_in_failed_tx');
      await s.append('SystemKernel', { uid: 3, effective_gid: 3, gid_list: [3], kernel_info: {}, only_in_failed_tx: 'y' });
      expect((await s.rows('SystemKernel')).map((r) => r.only_in_failed_tx)).toEqual([null, 'y']);
      // a writer kept past its transaction writes nothing
      let leaked: StoreWriter | null = null;
      await s.transaction(async (tx) => {
        leaked = tx;
      });
      await expect(leaked!.append('SystemKernel', { uid: 4, effective_gid: 4, gid_list: [4], kernel_info: {} })).rejects.toThrow(/after the transaction ended/);
      expect((await s.rows('SystemKernel')).length).toBe(2);
    });
  });

  it.skipIf(b.skip !== null)('rows that do not fit are refused with a StoreError, and nothing is written', async () => {
    const spec = await b.fresh();
    await withOpen(spec, async (s) => {
      const ok = consumerRow(10, 'x');
      const { container_run_commands: _omit, ...noBlob } = ok;
      await expect(s.append('Consumer', noBlob)).rejects.toThrow(/Consumer row needs container_run_commands/);
      await expect(s.append('Consumer', { ...ok, system_kernel_id: 'seven' })).rejects.toThrow(/Consumer.system_kernel_id is INTEGER/);
      await expect(s.append('Consumer', { ...ok, system_kernel_id: 1.5 })).rejects.toThrow(StoreError);
      await expect(s.append('Consumer', { ...ok, container_run_commands: 'not bytes' })).rejects.toThrow(/is BLOB/);
      await expect(s.append('Consumer', { ...ok, id: 5 })).rejects.toThrow(/set by the store/);
      await expect(s.append('Consumer', { ...ok, recorded_at: 'yesterday' })).rejects.toThrow(/set by the store/);
      await expect(s.append('Consumer', { ...ok, 'bad name"; DROP': 1 })).rejects.toThrow(/column name/);
      await expect(s.append('NoSuchPlugin', { a: 1 })).rejects.toThrow(/no table NoSuchPlugin/);
      await expect(s.append('SystemKernel', { uid: 1, effective_gid: 1, gid_list: [], kernel_info: {}, ratio: Number.NaN })).rejects.toThrow(StoreError);
      // a new column typed from its first value refuses another type
      await s.append('Consumer', { ...ok, retries: 2 });
      await expect(s.append('Consumer', { ...ok, retries: 'two' })).rejects.toThrow(/Consumer.retries is INTEGER/);
      expect((await s.rows('Consumer')).length).toBe(1);
    });
  });

  it.skipIf(b.skip !== null)('a new column is added with ALTER TABLE ADD COLUMN: old rows keep NULL there and the table is not rebuilt', async () => {
    const spec = await b.fresh();
    const before = await withOpen(spec, async (s) => {
      await s.append('Consumer', consumerRow(1000, 'old-1'));
      await s.append('Consumer', consumerRow(1000, 'old-2'));
      return s.rows('Consumer');
    });
    const identity = await b.tableIdentity(spec, 'Consumer');
    await withOpen(spec, async (s) => {
      await s.append('Consumer', { ...consumerRow(1000, 'new'), slurm_job_id: 4242, partition_name: 'gpu' });
      const after = await s.rows('Consumer');
      expect(after.map((r) => r.id)).toEqual([1, 2, 3]);
      expect(after.map((r) => [r.slurm_job_id, r.partition_name])).toEqual([[null, null], [null, null], [4242, 'gpu']]);
      // the old rows are exactly as they were, bytes included
      for (const old of before) {
        const now = after.find((r) => r.id === old.id)!;
        expect({ ...now, slurm_job_id: undefined, partition_name: undefined }).toEqual({ ...old, slurm_job_id: undefined, partition_name: undefined });
      }
      expectIntact(after);
    });
    expect(await b.tableIdentity(spec, 'Consumer')).toBe(identity);
  });

  it.skipIf(b.skip !== null)('init brings an older store up to the declared columns without rebuilding its tables', async () => {
    const spec = await b.fresh();
    // An "old" Consumer table: no image_acquired, no host_facts, one row.
    const cols = TABLES.find((t) => t.name === 'Consumer')!.columns.filter((c) => c.name !== 'image_acquired' && c.name !== 'host_facts');
    const type = (t: string) => (b.name === 'postgres' ? { INTEGER: 'BIGINT', FLOAT: 'DOUBLE PRECISION', VARCHAR: 'TEXT', BLOB: 'BYTEA' }[t] : t);
    const id = b.name === 'postgres' ? '"id" BIGSERIAL PRIMARY KEY' : '"id" INTEGER PRIMARY KEY AUTOINCREMENT';
    await b.exec(
      spec,
      `CREATE TABLE "Consumer" (${id}, "recorded_at" ${type('VARCHAR')} NOT NULL, ${cols.map((c) => `"${c.name}" ${type(c.type)}`).join(', ')});
       INSERT INTO "Consumer" ("recorded_at", "commit_hash", "image_digest", "container_run_commands_sha256") VALUES ('2024-01-01T00:00:00.000Z', 'abc', 'sha256:1', 'x')`,
    );
    const identity = await b.tableIdentity(spec, 'Consumer');
    await withOpen(spec, async (s) => {
      const t = (await s.tables()).find((x) => x.name === 'Consumer')!;
      expect(t.columns.map((c) => c.name)).toEqual(['id', 'recorded_at', ...TABLES.find((x) => x.name === 'Consumer')!.columns.map((c) => c.name)]);
      const [old] = await s.rows('Consumer');
      expect(old).toMatchObject({ id: 1, recorded_at: '2024-01-01T00:00:00.000Z', commit_hash: 'abc', image_acquired: null, host_facts: null });
    });
    expect(await b.tableIdentity(spec, 'Consumer')).toBe(identity);
  });

  it.skipIf(b.skip !== null)('conditions: a list (IN; a null item matches NULL), an empty list, a case-sensitive prefix, a column the table lacks; distinct values as stored', async () => {
    const spec = await b.fresh();
    await withOpen(spec, async (s) => {
      const run = (commit: string, kernel: string | null, libs: object | null) => ({ commit_hash: commit, image_digest: 'sha256:1', kernel_release: kernel, image_libraries: libs });
      await s.appendMany('Producer', [
        run('abc1111', '4.18.0', { openmpi: '4.1.0' }),
        run('ABC2222', '6.1.0', { openmpi: '4.1.6' }),
        run('abd3333', null, null),
        run('abc4444', '6.1.0', { openmpi: '4.1.0' }),
      ]);
      const ids = async (where: Parameters<StoreBackend['rows']>[1]) => (await s.rows('Producer', where, { columns: ['commit_hash'] })).map((r) => r.id);
      expect(await ids({ kernel_release: ['4.18.0', '6.1.0'] })).toEqual([1, 2, 4]);
      expect(await ids({ kernel_release: ['6.1.0', null] })).toEqual([2, 3, 4]);
      expect(await ids({ kernel_release: [null] })).toEqual([3]);
      expect(await ids({ kernel_release: [] })).toEqual([]);
      expect(await ids({ commit_hash: { prefix: 'abc' } })).toEqual([1, 4]); // not ABC2222
      expect(await ids({ commit_hash: { prefix: 'abc' }, kernel_release: ['6.1.0'] })).toEqual([4]);
      expect(await ids({ commit_hash: { prefix: '' } })).toEqual([1, 2, 3, 4]);
      expect(await ids({ no_such_column: [null, 'x'] })).toEqual([1, 2, 3, 4]); // every row is NULL there
      expect(await ids({ no_such_column: ['x'] })).toEqual([]);
      // a JSON column compares (and comes back from distinct) as its stored text
      const byValue = (vs: { value: unknown; rows: number }[]) => [...vs].sort((x, y) => String(x.value).localeCompare(String(y.value)));
      expect(byValue(await s.distinct('Producer', 'kernel_release'))).toEqual([{ value: '4.18.0', rows: 1 }, { value: '6.1.0', rows: 2 }]);
      expect(byValue(await s.distinct('Producer', 'image_libraries'))).toEqual([{ value: '{"openmpi":"4.1.0"}', rows: 2 }, { value: '{"openmpi":"4.1.6"}', rows: 1 }]);
      expect(await ids({ image_libraries: ['{"openmpi":"4.1.0"}'] })).toEqual([1, 4]);
      expect(await s.distinct('Producer', 'kernel_release', { commit_hash: { prefix: 'abc1' } })).toEqual([{ value: '4.18.0', rows: 1 }]);
      expect(await s.distinct('Producer', 'no_such_column')).toEqual([]);
      expect(await s.distinct('SystemKernel', 'uid')).toEqual([]);
      // inside a transaction too
      expect(await s.transaction((tx) => tx.distinct('Producer', 'kernel_release', { kernel_release: ['6.1.0'] }))).toEqual([{ value: '6.1.0', rows: 2 }]);
      // reading by one column's index: the same rows, the other conditions (text, number, null) still hold
      const by = async (where: Parameters<StoreBackend['rows']>[1], column: string) => (await s.rows('Producer', where, { columns: ['commit_hash'], by: column })).map((r) => r.id);
      expect(await by({ kernel_release: ['6.1.0', null], image_libraries: ['{"openmpi":"4.1.0"}'] }, 'image_libraries')).toEqual([4]);
      expect(await by({ kernel_release: [null], image_libraries: [null] }, 'kernel_release')).toEqual([3]);
      expect(await by({ kernel_release: ['6.1.0'], id: [2, 4], commit_hash: { prefix: 'abc' } }, 'kernel_release')).toEqual([4]);
      expect(await by({ kernel_release: ['6.1.0'], id: 4 }, 'not_in_where')).toEqual([4]);
      await expect(s.rows('Producer', { kernel_release: Array.from({ length: 30_001 }, (_, i) => String(i)) })).rejects.toThrow(StoreError);
      await expect(s.rows('Producer', { exit_status: { prefix: '1' } })).rejects.toThrow(/needs a VARCHAR column/);
    });
  });

  it.skipIf(b.skip !== null)('grouped rows: each row with its group holds what rows() reads, odd values included; inside a transaction too', async () => {
    const spec = await b.fresh();
    await withOpen(spec, async (s) => {
      // Six groups (host x kernel), which neither column tells apart alone; the libraries follow the kernel.
      await s.appendMany(
        'Producer',
        Array.from({ length: 36 }, (_, i) => ({
          commit_hash: `c${i}`,
          image_digest: 'sha256:1',
          host_name: ['a', 'b', null][i % 3],
          kernel_release: ['4.18.0', '6.1.0'][i % 2],
          image_libraries: i % 2 ? { openmpi: '4.1.0' } : null,
          exit_status: 0,
          stdout: i % 12 === 0 ? Buffer.from([0, 1, 2]) : null,
          big: 2n ** 60n + BigInt(i % 2), // an INTEGER column (added for it) past 2^53
        })),
      );
      // Values another tool may have written: text that is not JSON in a JSON column, a column of a type pg parses to objects.
      await b.exec(spec, `INSERT INTO "Producer" ("recorded_at", "commit_hash", "image_digest", "image_libraries", "kernel_release") VALUES ('2024-01-01T00:00:00.000Z', 'x1', 'sha256:1', 'not json', '6.1.0')`);
      await b.exec(spec, `ALTER TABLE "Producer" ADD COLUMN "extra" ${b.name === 'postgres' ? 'json' : 'JSON'}`);
      await b.exec(spec, `INSERT INTO "Producer" ("recorded_at", "commit_hash", "image_digest", "extra") VALUES ('2024-01-01T00:00:00.000Z', 'x2', 'sha256:1', '{"a": 1}'), ('2024-01-01T00:00:00.000Z', 'x3', 'sha256:1', '{"a": 2}')`);
      if (b.name === 'sqlite') {
        // SQLite keeps a BLOB column's integer, text and bytes apart: three values, three groups.
        await b.exec(spec, `INSERT INTO "Producer" ("recorded_at", "commit_hash", "image_digest", "stdout") VALUES ('2024-01-01T00:00:00.000Z', 'x4', 'sha256:1', 1), ('2024-01-01T00:00:00.000Z', 'x5', 'sha256:1', '1'), ('2024-01-01T00:00:00.000Z', 'x6', 'sha256:1', x'31')`);
      }
      const columns = ['commit_hash', 'no_such_own'];
      const shared = ['image_digest', 'host_name', 'kernel_release', 'image_libraries', 'exit_status', 'stdout', 'big', 'no_such_column'];
      const same = async (where: Parameters<StoreBackend['groupedRows']>[1], read: Awaited<ReturnType<StoreBackend['groupedRows']>>, sharedRead = shared, by?: string) => {
        const plain = await s.rows('Producer', where, { columns: [...columns, ...sharedRead], ...(by ? { by } : {}) });
        expect(read.rows.map((r, i) => ({ ...r, ...read.groups[read.group[i]!] }))).toEqual(plain.map((r) => ({ ...r, no_such_column: null })));
        expect(read.rows.every((r) => !('image_digest' in r)), 'a row holds only its own columns').toBe(true);
        expect(new Set(read.group).size, 'every group is some row\'s').toBe(read.groups.length);
        return read;
      };
      const grouped = (where: Parameters<StoreBackend['groupedRows']>[1], by?: string, sharedRead = shared) => s.groupedRows('Producer', where, { columns, shared: sharedRead, ...(by ? { by } : {}) });
      const all = await same({}, await grouped({}));
      expect(all.rows.length).toBe(36 + 3 + (b.name === 'sqlite' ? 3 : 0));
      // host x kernel (6), rows 0, 12 and 24 apart by their BLOB (1), x1 (1), x2 and x3 (1: extra is not read), x4 to x6 (3)
      expect(all.groups.length).toBe(6 + 1 + 1 + 1 + (b.name === 'sqlite' ? 3 : 0));
      await same({ kernel_release: ['6.1.0'] }, await grouped({ kernel_release: ['6.1.0'] }, 'kernel_release'), shared, 'kernel_release');
      await same({ host_name: [null, 'a'], image_libraries: ['{"openmpi":"4.1.0"}'] }, await grouped({ host_name: [null, 'a'], image_libraries: ['{"openmpi":"4.1.0"}'] }));
      expect(await grouped({ kernel_release: [] })).toEqual({ groups: [], rows: [], group: [] });
      // a column pg parses to objects cannot tell groups apart: read whole, the same answer
      await same({}, await grouped({}, undefined, [...shared, 'extra']), [...shared, 'extra']);
      // inside a transaction (PostgreSQL: READ COMMITTED, one statement reading every shared column)
      await same({ kernel_release: ['4.18.0'] }, await s.transaction((tx) => tx.groupedRows('Producer', { kernel_release: ['4.18.0'] }, { columns, shared })));
      expect(await s.groupedRows('SystemKernel', {}, { columns: ['uid'], shared: ['moniker'] })).toEqual({ groups: [], rows: [], group: [] });
      await expect(s.groupedRows('NoSuchPlugin', {}, { columns: [], shared: [] })).rejects.toThrow(/no table NoSuchPlugin/);
      await expect(s.groupedRows('Producer', {}, { columns, shared: ['bad name'] })).rejects.toThrow(/column name/);
    });
  });

  it.skipIf(b.skip !== null)('init adds the declared indexes to an older store without rebuilding its table; with or without them, store affected gives the same runs', async () => {
    const spec = await b.fresh();
    const cols = TABLES.find((t) => t.name === 'Producer')!.columns.filter((c) => c.name !== 'host_mpi');
    const type = (t: string) => (b.name === 'postgres' ? { INTEGER: 'BIGINT', FLOAT: 'DOUBLE PRECISION', VARCHAR: 'TEXT', BLOB: 'BYTEA' }[t] : t);
    const id = b.name === 'postgres' ? '"id" BIGSERIAL PRIMARY KEY' : '"id" INTEGER PRIMARY KEY AUTOINCREMENT';
    const insert = (commit: string, libs: string, kernel: string, refused = 0) =>
      `INSERT INTO "Producer" ("recorded_at", "commit_hash", "image_digest", "image_libraries", "kernel_release", "exit_kind", "exit_status", "refused") VALUES ('2024-01-01T00:00:00.000Z', '${commit}', 'sha256:1', '${libs}', '${kernel}', 'exited', 0, ${refused});`;
    // An "old" Producer table: no host_mpi column, no index, three rows (one not JSON where JSON is expected).
    await b.exec(
      spec,
      `CREATE TABLE "Producer" (${id}, "recorded_at" ${type('VARCHAR')} NOT NULL, ${cols.map((c) => `"${c.name}" ${type(c.type)}`).join(', ')});
       ${insert('a'.repeat(40), '{"openmpi":"4.1.0","glibc":"2.31"}', '4.18.0-513.el8.x86_64')}
       ${insert('b'.repeat(40), '{"openmpi":"4.1.6","glibc":"2.36"}', '6.1.0-18-amd64')}
       ${insert('c'.repeat(40), 'not json', '5.14.0')}`,
    );
    expect(await b.indexes(spec, 'Producer')).toEqual([]);
    const identity = await b.tableIdentity(spec, 'Producer');
    const { affected } = await import('../src/runspec/affected.js');
    const queries = [
      { libraries: ['openmpi@4.1.0'] },
      { libraries: ['glibc@<2.34'], hosts: ['kernel<5.0'] },
      { hosts: ['kernel>=5'] },
      { hosts: ['mpi!=openmpi'] }, // a column the old table lacks: every run has no MPI recorded
      { hosts: ['mpi=openmpi'] },
      { libraries: ['openmpi'], commit: 'bbbbbbbb' },
    ];
    const answer = async (s: StoreBackend) => Promise.all(queries.map(async (q) => (await affected(q, { store: s })).runs.map((r) => r.id)));
    const expected = [[1], [1], [2, 3], [1, 2, 3], [], [2]];
    const before = await openStore(spec, { create: false });
    try {
      expect(await answer(before)).toEqual(expected);
    } finally {
      await before.close();
    }
    await withOpen(spec, async (s) => {
      expect(await answer(s)).toEqual(expected);
    });
    const want = TABLES.find((t) => t.name === 'Producer')!.indexes!.map((c) => `Producer_${c}_idx`).sort();
    expect(await b.indexes(spec, 'Producer')).toEqual(want);
    expect(await b.tableIdentity(spec, 'Producer')).toBe(identity);
  });

  it.skipIf(b.skip !== null)('8 processes opening a new store and appending at once leave exactly 8 intact rows', async () => {
    const spec = await b.fresh();
    const startAt = Date.now() + 1500; // all of them start to open (and create) the store at this moment
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => child(['append', spec, String(startAt), `writer-${i}`])));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const ids = results.map((r) => Number(r.stdout.trim())).sort((x, y) => x - y);
    expect(ids).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    await withOpen(spec, async (s) => {
      const rows = await s.rows('Consumer');
      expect(rows.length).toBe(8);
      expect(rows.map((r) => r.runspec_path).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `writer-${i}`));
      expectIntact(rows);
      expect((await s.tables()).map((t) => t.name)).toEqual(['Consumer', 'Producer', 'SystemKernel']);
    });
  });

  it.skipIf(b.skip !== null)('8 processes each adding a new column at once: 8 rows, 8 columns, NULL wherever a row had none', async () => {
    const spec = await b.fresh();
    await withOpen(spec, async () => {});
    const identity = await b.tableIdentity(spec, 'Consumer');
    const startAt = Date.now() + 1500;
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => child(['append', spec, String(startAt), `w${i}`, `extra_${i}`])));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    await withOpen(spec, async (s) => {
      const rows = await s.rows('Consumer');
      expect(rows.length).toBe(8);
      for (const r of rows) {
        const i = Number(String(r.runspec_path).slice(1));
        for (let j = 0; j < 8; j++) expect(r[`extra_${j}`], `row ${r.runspec_path}, extra_${j}`).toBe(i === j ? `w${i}` : null);
      }
      expectIntact(rows);
    });
    expect(await b.tableIdentity(spec, 'Consumer')).toBe(identity);
  });

  it.skipIf(b.skip !== null)('a process killed with SIGKILL inside a write transaction leaves no row, and the store opens cleanly', async () => {
    const spec = await b.fresh();
    await withOpen(spec, (s) => s.append('Consumer', consumerRow(1000, 'before')));
    const r = await childKilledWhen(['hold', spec, String(8 * 1024 * 1024)], (out) => out.includes('READY'));
    expect(r.signal, r.stderr).toBe('SIGKILL');
    expect(r.stdout).toContain('READY');
    await withOpen(spec, async (s) => {
      const rows = await s.rows('Consumer');
      expect(rows.map((x) => x.runspec_path)).toEqual(['before']);
      // and it takes writes again at once (no lock left behind)
      await s.append('Consumer', consumerRow(1000, 'after'));
      expect((await s.rows('Consumer')).map((x) => x.runspec_path)).toEqual(['before', 'after']);
    });
    if (b.name === 'sqlite') {
      expect(withSqlite(spec, (db) => db.pragma('integrity_check', { simple: true }), { readonly: true })).toBe('ok');
    }
  });

  it.skipIf(b.skip !== null)('a process killed with SIGKILL while appending big rows in a loop leaves only complete rows', async () => {
    const spec = await b.fresh();
    await withOpen(spec, async () => {}); // created first, so the child spends its time writing
    const r = await childKilledWhen(['loop', spec, String(2 * 1024 * 1024)], (out) => (out.match(/^ROW /gm) ?? []).length >= 3);
    expect(r.signal, r.stderr).toBe('SIGKILL');
    const reported = (r.stdout.match(/^ROW /gm) ?? []).length;
    await withOpen(spec, async (s) => {
      const rows = await s.rows('Consumer');
      // every reported row is there; at most one more committed before its line was read
      expect(rows.length).toBeGreaterThanOrEqual(reported);
      expect(rows.length).toBeLessThanOrEqual(reported + 2);
      expect(rows.map((x) => x.runspec_path)).toEqual(rows.map((_, i) => `loop-${i}`));
      expectIntact(rows);
    });
  });

  it.skipIf(b.skip !== null)('export writes every row as a JSON line: table, columns, BLOBs as {"$base64": ...}, JSON columns nested', async () => {
    const spec = await b.fresh();
    const c = consumerRow(5000, 'exported');
    await withOpen(spec, async (s) => {
      const sk = await s.append('SystemKernel', { uid: 7, effective_gid: 8, gid_list: [8, 9], kernel_info: { kernel_version: '6.1' }, moniker: null, big: 2n ** 60n + 1n });
      await s.append('Consumer', { ...c, system_kernel_id: sk, host_facts: { cpu: 'icelake' } });
      await s.append('Producer', { commit_hash: c.commit_hash, image_digest: c.image_digest, exit_status: 0, stdout: Buffer.from('hello\n'), stderr: Buffer.alloc(0) });
      const lines: string[] = [];
      for await (const l of exportLines(s)) lines.push(l);
      expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
      const objs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(objs.map((o) => o.table)).toEqual(['Consumer', 'Producer', 'SystemKernel']);
      const [consumer, producer, kernel] = objs;
      expect(Object.keys(consumer!)).toEqual(['table', 'id', 'recorded_at', ...TABLES.find((t) => t.name === 'Consumer')!.columns.map((x) => x.name)]);
      expect(Buffer.compare(fromExported(consumer!.container_run_commands) as Buffer, c.container_run_commands)).toBe(0);
      expect(Object.keys(consumer!.container_run_commands as object)).toEqual([BASE64_KEY]);
      expect(consumer!.host_facts).toEqual({ cpu: 'icelake' });
      expect(consumer!.image_acquired).toBeNull();
      expect((fromExported(producer!.stdout) as Buffer).toString()).toBe('hello\n');
      expect((fromExported(producer!.stderr) as Buffer).length).toBe(0);
      expect(kernel).toMatchObject({ uid: 7, gid_list: [8, 9], kernel_info: { kernel_version: '6.1' }, moniker: null });
      expect(lines[2]).toContain(`"big":${2n ** 60n + 1n}`); // exact, not rounded to a double
      const only: string[] = [];
      for await (const l of exportLines(s, { table: 'Producer', pageSize: 1 })) only.push(l);
      expect(only).toEqual([lines[1]]);
    });
  });

  it.skipIf(b.skip !== null)('store init | tables | export from the CLI', async () => {
    const spec = await b.fresh();
    const init = await runCli(['store', 'init', '--store', spec]);
    expect(init.code, show(init)).toBe(0);
    expect(init.stdout).toContain('Consumer (0 rows)');
    await withOpen(spec, async (s) => {
      await s.append('Consumer', consumerRow(3000, 'cli'));
      await s.append('SystemKernel', await collectSystemKernel());
    });
    const tables = await runCli(['store', 'tables', '--json'], { env: { CONTAINERSPEC_STORE: spec } });
    expect(tables.code, show(tables)).toBe(0);
    const t = JSON.parse(tables.stdout) as { store: { kind: string; location: string }; tables: { name: string; rows: number; columns: { name: string; type: string }[] }[] };
    expect(t.store.kind).toBe(b.name);
    expect(t.tables.map((x) => [x.name, x.rows])).toEqual([['Consumer', 1], ['Producer', 0], ['SystemKernel', 1]]);
    expect(t.tables[0]!.columns.find((c) => c.name === 'container_run_commands')!.type).toBe('BLOB');
    const human = await runCli(['store', 'tables', '--store', spec]);
    expect(human.code, show(human)).toBe(0);
    expect(human.stdout).toMatch(/Consumer: 1 row\n/);

    const file = join(scratch, `export-${b.name}-${++counter}.jsonl`);
    const exp = await runCli(['store', 'export', '--store', spec, '-o', file]);
    expect(exp.code, show(exp)).toBe(0);
    expect(exp.stdout).toContain('wrote 2 rows');
    const rows = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.map((r) => r.table)).toEqual(['Consumer', 'SystemKernel']);
    const blob = fromExported(rows[0]!.container_run_commands) as Buffer;
    expect(createHash('sha256').update(blob).digest('hex')).toBe(rows[0]!.container_run_commands_sha256);
    expect(readdirSync(scratch).filter((n) => n.includes('.tmp-'))).toEqual([]);
    const stdoutExport = await runCli(['store', 'export', '--store', spec, '--table', 'SystemKernel']);
    expect(stdoutExport.code, show(stdoutExport)).toBe(0);
    expect(JSON.parse(stdoutExport.stdout)).toMatchObject({ table: 'SystemKernel', id: 1 });

    expect(expectOneLineError(await runCli(['store', 'export', '--store', spec, '--table', 'Nope']))).toMatch(/no table Nope/);
    expect(expectOneLineError(await runCli(['store', 'export', '--store', spec, '-o', join(scratch, 'no', 'such', 'dir', 'x.jsonl')]))).toMatch(/-o .*cannot write/);
  });
});

describe('grouped reads: the SQL and the grouping written once (src/store/tables.ts)', () => {
  it('rows read only the shared columns that tell the groups apart; a row in none of the groups read first is no answer', () => {
    const have = new Map([['id', 'INTEGER'], ['recorded_at', 'VARCHAR'], ['commit_hash', 'VARCHAR'], ['host_name', 'VARCHAR'], ['kernel_release', 'VARCHAR'], ['stdout', 'BLOB']] as const);
    const options = { columns: ['commit_hash'], shared: ['host_name', 'kernel_release', 'stdout'] };
    const read = (values: unknown[][] | null) => groupedSelect('Producer', have, {}, options, values && { columns: ['host_name', 'kernel_release', 'stdout'], values }, 'test', () => '?')!;
    const listed = (values: unknown[][] | null) => /^SELECT (.*) FROM/.exec(read(values).sql)![1];
    expect(listed([['a', '1', null], ['a', '2', null], ['b', '1', null]])).toBe('"id", "recorded_at", "commit_hash", "host_name", "kernel_release"'); // neither alone
    expect(listed([['a', '1', null], ['b', '1', null]])).toBe('"id", "recorded_at", "commit_hash", "host_name"');
    expect(listed([['a', '1', null]])).toBe('"id", "recorded_at", "commit_hash"'); // one group: no shared column per row
    expect(listed([['a', '1', Buffer.from('x')], ['a', '1', Buffer.from('y')]])).toBe('"id", "recorded_at", "commit_hash", "stdout"'); // BLOBs by their bytes
    expect(listed(null)).toBe('"id", "recorded_at", "commit_hash", "host_name", "kernel_release", "stdout"');
    const names = ['id', 'recorded_at', 'commit_hash', 'host_name'];
    const q = read([['a', '1', null], ['b', '1', null]]);
    expect(q.answer(names, [[1n, 't1', 'c1', 'a'], [2n, 't2', 'c2', 'b'], [3n, 't3', 'c3', 'a']])).toEqual({
      groups: [{ host_name: 'a', kernel_release: '1', stdout: null }, { host_name: 'b', kernel_release: '1', stdout: null }],
      rows: [{ id: 1, recorded_at: 't1', commit_hash: 'c1' }, { id: 2, recorded_at: 't2', commit_hash: 'c2' }, { id: 3, recorded_at: 't3', commit_hash: 'c3' }],
      group: [0, 1, 0],
    });
    expect(q.answer(names, [[1n, 't1', 'c1', 'a'], [2n, 't2', 'c2', 'c']])).toBeNull(); // 'c' was in no group
    // without groups read first, every distinct combination is one group; an integer read as a bigint is the same value as the number
    const all = read(null).answer([...names, 'kernel_release', 'stdout'], [[1n, 't', 'c', 'a', '1', 5n], [2n, 't', 'c', 'a', '1', 5], [3n, 't', 'c', 'a', '1', '5']])!;
    expect(all.group).toEqual([0, 0, 1]);
  });
});

describe('store errors: one line, exit 2, no password', () => {
  it('an unreachable PostgreSQL server, a bad URL, an unknown scheme', async () => {
    const refused = expectOneLineError(await runCli(['store', 'init', '--store', 'postgres://u:SECRET@127.0.0.1:1/x']));
    expect(refused).toMatch(/cannot connect to PostgreSQL at postgres:\/\/u@127\.0\.0\.1:1\/x: connection refused/);
    expect(refused).not.toContain('SECRET');
    const bad = expectOneLineError(await runCli(['store', 'tables', '--store', 'postgresql://u:SECRET@[::1/x']));
    expect(bad).toMatch(/not a valid PostgreSQL URL/);
    expect(bad).not.toContain('SECRET');
    const env = expectOneLineError(await runCli(['store', 'tables'], { env: { CONTAINERSPEC_STORE: 'postgres://u:SECRET@127.0.0.1:99999/x' } }));
    expect(env).not.toContain('SECRET');
    expect(expectOneLineError(await runCli(['store', 'init', '--store', 'mysql://u:SECRET@db/x']))).toMatch(/unsupported store mysql:\/\//);
  });

  it.skipIf(server === null)('a database that does not exist, with a password in the URL', async () => {
    const line = expectOneLineError(await runCli(['store', 'init', '--store', `postgres://postgres:SECRET@127.0.0.1:${server!.port}/no_such_db`]));
    expect(line).toMatch(/database "no_such_db" does not exist/);
    expect(line).not.toContain('SECRET');
  });

  it('a file that is not a SQLite database, a directory that cannot be created, a directory as the store, a missing store', async () => {
    const notDb = join(scratch, 'not-a-db.txt');
    writeFileSync(notDb, 'this is not a database, just some text that is long enough to have a header\n'.repeat(20));
    expect(expectOneLineError(await runCli(['store', 'init', '--store', notDb]))).toMatch(/is not a SQLite database/);
    expect(readFileSync(notDb, 'utf8')).toMatch(/^this is not a database/); // untouched
    const blocker = join(scratch, 'a-file');
    writeFileSync(blocker, '');
    expect(expectOneLineError(await runCli(['store', 'init', '--store', join(blocker, 'sub', 'provenance.db')]))).toMatch(/cannot create the store directory/);
    expect(expectOneLineError(await runCli(['store', 'init', '--store', scratch]))).toMatch(/is a directory/);
    expect(expectOneLineError(await runCli(['store', 'tables', '--store', join(scratch, 'never-made.db')]))).toMatch(/no store at .*store init/);
  });

  it('the store spec: --store, else $CONTAINERSPEC_STORE, else $XDG_DATA_HOME/containerspec/provenance.db', () => {
    expect(resolveStoreSpec('/x/p.db', { CONTAINERSPEC_STORE: '/y.db' })).toEqual({ kind: 'sqlite', path: '/x/p.db' });
    expect(resolveStoreSpec(undefined, { CONTAINERSPEC_STORE: 'postgresql://a@h/db' })).toEqual({ kind: 'postgres', url: 'postgresql://a@h/db' });
    expect(resolveStoreSpec(undefined, { XDG_DATA_HOME: '/data', HOME: '/home/u' })).toEqual({ kind: 'sqlite', path: '/data/containerspec/provenance.db' });
    expect(defaultSqlitePath({ HOME: '/home/u' })).toBe('/home/u/.local/share/containerspec/provenance.db');
    expect(defaultSqlitePath({ HOME: '/home/u', XDG_DATA_HOME: 'relative' })).toBe('/home/u/.local/share/containerspec/provenance.db');
    expect(displayUrl('postgres://u:SECRET@db.lab:6543/prov?sslmode=require&password=SECRET')).toBe('postgres://u@db.lab:6543/prov');
    expect(displayUrl('postgresql://u@db.lab/prov')).toBe('postgres://u@db.lab:5432/prov');
  });

  it('no store source updates, deletes or rebuilds a row or a table', () => {
    const dir = join(REPO, 'src', 'store');
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
      const code = readFileSync(join(dir, f), 'utf8');
      expect(code, f).not.toMatch(/\b(UPDATE|DELETE|DROP|REPLACE|TRUNCATE|VACUUM)\b/);
      expect(code, f).not.toMatch(/RENAME\s+TO/i);
    }
  });
});

describe('SystemKernel, as DSI records it', () => {
  it('on this host: who recorded it and the running kernel, in well under a second', async () => {
    await collectSystemKernel(); // warm: module loading
    const t0 = performance.now();
    const r = await collectSystemKernel();
    const ms = performance.now() - t0;
    console.log(`collectSystemKernel(): ${ms.toFixed(1)} ms, ${Object.keys(r.kernel_info.sysctl ?? {}).length} sysctls, ${r.kernel_info.modules?.length ?? 'no'} modules, config ${r.kernel_info.config?.source ?? 'none'}`);
    expect(ms).toBeLessThan(500);
    expect(r.uid).toBe(process.getuid!());
    expect(r.effective_gid).toBe(process.getegid!());
    expect(r.gid_list).toContain(process.getegid!());
    expect(typeof r.moniker).toBe('string');
    expect(r.kernel_info.kernel_version).toBe(release());
    expect(r.kernel_info.uname.sysname).toBe('Linux');
    expect(r.kernel_info.sysctl?.['kernel.ostype']).toBe('Linux');
    expect(r.kernel_info.sysctl?.['kernel.osrelease']).toBe(release());
    expect(r.kernel_info.sysctl).not.toHaveProperty('kernel.random.uuid');
    expect(Object.keys(r.kernel_info.sysctl ?? {}).length).toBeGreaterThan(50);
    expect(r.kernel_info.cmdline).toBe(readFileSync('/proc/cmdline', 'utf8').replace(/\0/g, ' ').trim());
    if (r.kernel_info.config) expect(Object.keys(r.kernel_info.config.options).every((k) => k.startsWith('CONFIG_'))).toBe(true);
    expect(r.host_facts).toBeNull();
    // stored and read back as it is
    const spec = join(scratch, `sk-${++counter}.db`);
    await withOpen(spec, async (s) => {
      await s.append('SystemKernel', r);
      const [back] = await s.rows('SystemKernel');
      expect(back).toMatchObject(JSON.parse(JSON.stringify(r)) as Record<string, unknown>);
    });
  });

  it('on a fake /proc: what is there is read, what is missing is null, never an error', async () => {
    const proc = join(scratch, 'fake-proc');
    const sys = join(scratch, 'fake-sys');
    const boot = join(scratch, 'fake-boot');
    const put = (p: string, s: string | Buffer) => {
      mkdirSync(join(p, '..'), { recursive: true });
      writeFileSync(p, s);
    };
    put(join(proc, 'sys/kernel/ostype'), 'Linux\n');
    put(join(proc, 'sys/kernel/osrelease'), '5.14.0-fake\n');
    put(join(proc, 'sys/kernel/version'), '#1 SMP Fake\n');
    put(join(proc, 'sys/kernel/hostname'), 'node042\n');
    put(join(proc, 'sys/kernel/yama/ptrace_scope'), '1\n');
    put(join(proc, 'sys/vm/swappiness'), '10\n');
    put(join(proc, 'sys/vm/write_only'), 'secret\n');
    chmodSync(join(proc, 'sys/vm/write_only'), 0o200);
    put(join(proc, 'sys/kernel/random/uuid'), '8f3c-changes-every-read\n');
    symlinkSync('/etc/hostname', join(proc, 'sys/kernel/escape')); // not followed
    put(join(proc, 'sys/net/ipv4/ip_forward'), '1\n'); // net.* not read
    put(join(proc, 'version'), 'Linux version 5.14.0-fake (gcc 11)\n');
    put(join(proc, 'cmdline'), 'BOOT_IMAGE=/vmlinuz ro quiet\0');
    put(join(proc, 'modules'), 'nvidia 56008704 1 nvidia_modeset, Live 0xffffffffc0000000 (POE)\noverlay 151552 0 - Live 0xffffffffc1000000\n');
    put(join(sys, 'module/nvidia/version'), '535.54.03\n');
    mkdirSync(boot, { recursive: true });

    const r = await collectSystemKernel({ proc, sys, boot, env: {} });
    expect(r.kernel_info).toEqual({
      kernel_version: '5.14.0-fake',
      uname: { sysname: 'Linux', release: '5.14.0-fake', version: '#1 SMP Fake', machine: null },
      proc_version: 'Linux version 5.14.0-fake (gcc 11)',
      config: null, // no /boot/config-5.14.0-fake, no config.gz
      cmdline: 'BOOT_IMAGE=/vmlinuz ro quiet',
      sysctl: {
        'kernel.hostname': 'node042',
        'kernel.osrelease': '5.14.0-fake',
        'kernel.ostype': 'Linux',
        'kernel.version': '#1 SMP Fake',
        'kernel.yama.ptrace_scope': '1',
        'vm.swappiness': '10',
        // root reads through 0200; an unprivileged user would not see it
        ...(process.getuid?.() === 0 ? { 'vm.write_only': 'secret' } : {}),
      },
      sysctl_truncated: false,
      modules: [
        { name: 'nvidia', size: 56008704, instances: 1, state: 'Live', taints: 'POE', version: '535.54.03' },
        { name: 'overlay', size: 151552, instances: 0, state: 'Live', taints: null, version: null },
      ],
    });
    expect(r.host_name).toBe('node042');

    // a config in /boot for that release, then the kernel's own /proc/config.gz first
    put(join(boot, 'config-5.14.0-fake'), '# comment\nCONFIG_USER_NS=y\n# CONFIG_NUMA is not set\nCONFIG_LOCALVERSION="-fake"\n');
    expect((await collectSystemKernel({ proc, sys, boot })).kernel_info.config).toEqual({
      source: join(boot, 'config-5.14.0-fake'),
      options: { CONFIG_USER_NS: 'y', CONFIG_LOCALVERSION: '-fake' },
    });
    put(join(proc, 'config.gz'), gzipSync('CONFIG_OVERLAY_FS=m\n'));
    expect((await collectSystemKernel({ proc, sys, boot })).kernel_info.config).toEqual({ source: join(proc, 'config.gz'), options: { CONFIG_OVERLAY_FS: 'm' } });

    // an empty proc tree: every kernel source null, nothing thrown; host facts passed through
    const empty = join(scratch, 'empty-proc');
    mkdirSync(empty);
    const e = await collectSystemKernel({ proc: empty, hostFacts: { kind: 'host' } as never });
    expect(e.kernel_info).toEqual({
      kernel_version: null,
      uname: { sysname: null, release: null, version: null, machine: null },
      proc_version: null,
      config: null,
      cmdline: null,
      sysctl: null,
      sysctl_truncated: false,
      modules: null,
    });
    expect(e.host_name).toBeNull();
    expect(e.host_facts).toEqual({ kind: 'host' });
  });
});
