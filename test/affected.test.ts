// "Which results are affected": store runs / store affected over Producer rows, on a real SQLite file
// and a real PostgreSQL server. Three commits on two images with different Open MPI versions, both
// read from real Debian packages: the bullseye-openmpi fixture (Open MPI 4.1.0, glibc 2.31), and
// bookworm's Open MPI 4.1.4 (glibc 2.36), which is the lower layer of the whiteout fixture (its upper
// layer deletes libmpi), taken as an image of its own. Rows are appended as replay appends them.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { affected, compileQuery, MAX_NARROWING_VALUES, narrowedWhere, storeRuns, type RunsQuery } from '../src/runspec/affected.js';
import { imageLibraries } from '../src/runspec/producer.js';
import { inspect } from '../src/inspect.js';
import { openStore } from '../src/store/open.js';
import { buildCli, expectOneLineError, runCli, show } from './helpers/cli.js';
import { ensureFixtures, lowerLayers, oci } from './helpers/images.js';
import { startPostgres, type Pg } from './helpers/postgres.js';
import { schemaErrors } from './helpers/schemas.js';

const scratch = mkdtempSync(join(tmpdir(), 'cs-affected-'));
const started = await startPostgres({ fsync: false });
const server: Pg | null = 'skip' in started ? null : started;
if ('skip' in started) console.warn(`skipping the PostgreSQL affected tests: ${started.skip}`);

const A = 'sha256:' + 'a'.repeat(64);
const B = 'sha256:' + 'b'.repeat(64);
const [c1, c2, c3] = ['1', '2', '3'].map((d) => d.repeat(40)) as [string, string, string];
let libsA: Record<string, string> = {};
let libsB: Record<string, string> = {};
let fixtureSkip: string | null = null;

beforeAll(async () => {
  const f = ensureFixtures();
  if (!f.ok) {
    fixtureSkip = f.reason;
    return;
  }
  await buildCli();
  libsA = imageLibraries(await inspect(oci('bullseye-openmpi')));
  libsB = imageLibraries(await inspect(lowerLayers('whiteout', 1, join(scratch, 'bookworm-openmpi'))));
}, 300_000);

afterAll(async () => {
  await server?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

function row(commit: string, digest: string, reference: string, libs: Record<string, string>, host: { kernel: string; driver: string | null }, startedAt: string, extra: Record<string, unknown> = {}) {
  return {
    commit_hash: commit,
    runspec_path: 'job.runspec',
    image_digest: digest,
    image_reference: reference,
    image_libraries: libs,
    started_at: startedAt,
    ended_at: startedAt,
    exit_status: 0,
    exit_kind: 'exited',
    forced: 0,
    refused: 0,
    host_name: 'node01',
    kernel_release: host.kernel,
    gpu_driver: host.driver,
    glibc_version: '2.36',
    microarch: 'zen3',
    host_mpi: null,
    ...extra,
  };
}

const backends = [
  { name: 'SQLite', spec: async () => join(scratch, `s${Math.random()}.db`), skip: () => null as string | null },
  { name: 'PostgreSQL', spec: async () => server!.createDatabase(`aff${Math.floor(Math.random() * 1e9)}`), skip: () => (server ? null : 'no PostgreSQL server') },
];

describe.each(backends)('store affected on $name', (b) => {
  it('three commits on two images with different Open MPI versions: each query returns exactly the right runs', async (ctx) => {
    const why = fixtureSkip ?? b.skip();
    if (why) {
      console.warn(`skipping: ${why}`);
      return ctx.skip();
    }
    expect(libsA).toMatchObject({ openmpi: '4.1.0', glibc: '2.31' });
    expect(libsB).toMatchObject({ openmpi: '4.1.4', glibc: '2.36' });
    const spec = await b.spec();
    const store = await openStore(spec);
    try {
      await store.init();
      await store.appendMany('Producer', [
        row(c1, A, 'reg.lab/hpc/ompi:4.1.0@' + A, libsA, { kernel: '4.18.0-513.el8.x86_64', driver: null }, '2025-01-10T00:00:00.000Z'),
        row(c2, A, 'reg.lab/hpc/ompi:4.1.0@' + A, libsA, { kernel: '6.1.0-18-amd64', driver: '470.223.02' }, '2025-02-10T00:00:00.000Z'),
        row(c3, B, 'reg.lab/hpc/ompi:4.1.4@' + B, libsB, { kernel: '6.1.0-18-amd64', driver: '535.104.05' }, '2025-03-10T00:00:00.000Z'),
        row(c2, A, 'reg.lab/hpc/ompi:4.1.0@' + A, libsA, { kernel: '6.1.0-18-amd64', driver: '535.104.05' }, '2025-03-11T00:00:00.000Z', { exit_kind: 'refused', exit_status: null, refused: 1 }),
      ]);
      const q = async (query: Parameters<typeof affected>[0]) => (await affected(query, { store })).runs.map((r) => `${r.commit[0]}@${r.id}`);
      expect(await q({ libraries: ['openmpi@4.1.0'] })).toEqual(['1@1', '2@2']);
      expect(await q({ libraries: ['openmpi@>=4.1.1'] })).toEqual(['3@3']);
      expect(await q({ libraries: ['openmpi@4.1'] })).toEqual(['1@1', '2@2', '3@3']);
      expect(await q({ libraries: ['glibc@<2.34'] })).toEqual(['1@1', '2@2']);
      expect(await q({ libraries: ['glibc@>=2.34'] })).toEqual(['3@3']);
      expect(await q({ libraries: ['openmpi@<4.1.4', 'glibc@2.31'] })).toEqual(['1@1', '2@2']);
      expect(await q({ libraries: ['mpich'] })).toEqual([]);
      expect(await q({ hosts: ['kernel<5.0'] })).toEqual(['1@1']);
      expect(await q({ hosts: ['gpu.driver<535'] })).toEqual(['2@2']); // no driver matches no comparison
      expect(await q({ hosts: ['gpu.driver>=535', 'kernel>=6'] })).toEqual(['3@3']);
      expect(await q({ image: A })).toEqual(['1@1', '2@2']);
      expect(await q({ image: 'reg.lab/hpc/ompi:4.1.4' })).toEqual(['3@3']);
      expect(await q({ image: 'reg.lab/hpc/ompi' })).toEqual(['1@1', '2@2', '3@3']);
      expect(await q({ since: '2025-02-01', until: '2025-03-01' })).toEqual(['2@2']);
      expect(await q({ libraries: ['openmpi@4.1.0'], hosts: ['kernel>=5'] })).toEqual(['2@2']);
      expect(await q({ commit: c2.slice(0, 8) })).toEqual(['2@2']);
      expect((await affected({ libraries: ['openmpi@4.1.0'] }, { store })).commits).toEqual([c1, c2]);
      // store runs lists refusals too
      expect((await storeRuns({ commit: c2 }, { store })).runs.map((r) => [r.id, r.refused])).toEqual([[2, false], [4, true]]);
    } finally {
      await store.close();
    }
    // the CLI: JSON, and a table
    const j = await runCli(['store', 'affected', '--store', spec, '--library', 'openmpi@4.1.0', '--host', 'kernel<5.0', '--json']);
    expect(j.code, show(j)).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ schemaVersion: '1.0', commits: [c1], runs: [{ id: 1, commit: c1, image: { digest: A }, libraries: { openmpi: '4.1.0' }, host: { kernel: '4.18.0-513.el8.x86_64' } }] });
    expect(schemaErrors('runs-1.0', JSON.parse(j.stdout))).toBeNull();
    const all = await runCli(['store', 'runs', '--store', spec, '--json']);
    expect(all.code, show(all)).toBe(0);
    expect(JSON.parse(all.stdout).runs.map((r: { refused: boolean }) => r.refused)).toEqual([false, false, false, true]);
    expect(schemaErrors('runs-1.0', JSON.parse(all.stdout))).toBeNull();
    expect(schemaErrors('runs-1.0', { ...JSON.parse(all.stdout), runs: [{ id: 1 }] }), 'the schema says what a run holds').not.toBeNull();
    const t = await runCli(['store', 'runs', '--store', spec, '--image', B]);
    expect(t.code, show(t)).toBe(0);
    expect(t.stdout).toMatch(/1 runs of 1 commit/);
    expect(t.stdout).toContain('openmpi@4.1.4');
    expect(expectOneLineError(await runCli(['store', 'affected', '--store', spec, '--library', 'openmpi@>>4']))).toMatch(/not a version or version range/);
    expect(expectOneLineError(await runCli(['store', 'affected', '--store', spec, '--host', 'colour=blue']))).toMatch(/unknown key/);
    expect(expectOneLineError(await runCli(['store', 'affected', '--store', spec, '--since', 'yesterday-ish']))).toMatch(/not a time/);
  }, 120_000);

  it('the answer narrowed in the store equals reading every run and testing it in code, odd values included', async (ctx) => {
    const why = fixtureSkip ?? b.skip();
    if (why) {
      console.warn(`skipping: ${why}`);
      return ctx.skip();
    }
    const kernels = ['4.18.0-513.el8.x86_64', '5.14.0-362.el9.x86_64', '6.1.0-18-amd64', 'unknown', null];
    const drivers = ['470.223.02', '535.104.05', null, 'n/a'];
    const libs = [libsA, libsB, {}, null, { openmpi: 4.1 }, { mpich: '4.2.1', cuda: '12.4' }];
    const mpis = ['openmpi@4.1.4', 'mpich@4.2.1,openmpi@4.1.6', null];
    const rows = Array.from({ length: 120 }, (_, i) => {
      const digest = i % 4 === 3 ? B : A;
      return row([c1, c2, c3][i % 3]!, digest, `reg.lab/hpc/ompi:${digest === A ? '4.1.0' : '4.1.4'}@${digest}`, libs[i % libs.length] as Record<string, string>, { kernel: kernels[i % kernels.length] as string, driver: drivers[i % drivers.length] ?? null }, new Date(Date.UTC(2025, 0, 1 + i)).toISOString(), {
        refused: i % 7 === 0 ? 1 : 0,
        host_mpi: mpis[i % mpis.length],
        microarch: i % 2 ? 'zen3' : null,
        host_name: `node${i % 5}`,
      });
    });
    const queries: RunsQuery[] = [
      { libraries: ['openmpi@4.1.0'] },
      { libraries: ['openmpi@>=4.1.1'] },
      { libraries: ['openmpi'] },
      { libraries: ['glibc@<2.34', 'openmpi@4.1'] },
      { libraries: ['cuda@>=12 <12.4'] },
      { libraries: ['cuda@12.4'], hosts: ['gpu.driver>=535'] },
      { hosts: ['kernel<5.0'] },
      { hosts: ['kernel!=6.1.0'] },
      { hosts: ['gpu.driver<535'] },
      { hosts: ['gpu.driver@>=470 <536', 'kernel>=5'] },
      { hosts: ['mpi=openmpi'] },
      { hosts: ['mpi!=mpich'] },
      { hosts: ['microarch!=zen3'] },
      { hosts: ['host=node3'], libraries: ['glibc'] },
      { image: 'reg.lab/hpc/ompi:4.1.4' },
      { image: 'reg.lab/hpc/ompi', hosts: ['kernel>=4'] },
      { image: A, libraries: ['openmpi@4.1.0'] },
      { commit: c2.slice(0, 9), hosts: ['glibc>=2.36'] },
      { since: '2025-02-01', until: '2025-03-15', libraries: ['openmpi'] },
      { includeRefused: true, hosts: ['kernel<5.0'] },
    ];
    const store = await openStore(await b.spec());
    try {
      await store.appendMany('Producer', rows);
      for (const q of queries) {
        const narrowed = await affected(q, { store });
        const plain = await affected(q, { store, narrow: false });
        expect(narrowed.runs, JSON.stringify(q)).toEqual(plain.runs);
        expect(narrowed.commits, JSON.stringify(q)).toEqual(plain.commits);
        expect(schemaErrors('runs-1.0', JSON.parse(JSON.stringify(narrowed))), JSON.stringify(q)).toBeNull();
      }
      expect((await affected({ hosts: ['kernel<5.0'] }, { store })).runs.length).toBeGreaterThan(0);
      // and it did narrow: the library condition became a list of the stored texts that passed
      // kernel 4.18 is in 24 runs, libsA in 20: read through the libraries' index
      expect(await narrowedWhere(store, compileQuery({ libraries: ['openmpi@4.1.0'], hosts: ['kernel<5.0'] }))).toEqual({
        where: { image_libraries: [JSON.stringify(libsA)], kernel_release: ['4.18.0-513.el8.x86_64'] },
        by: 'image_libraries',
      });
      expect(await narrowedWhere(store, compileQuery({ hosts: ['gpu.driver!=535.104.05'] }))).toEqual({ where: { gpu_driver: ['470.223.02'] }, by: 'gpu_driver' });
      expect(await narrowedWhere(store, compileQuery({ hosts: ['microarch!=zen3'] }))).toEqual({ where: { microarch: [null] }, by: undefined });
      // B is in 30 runs, kernel 4.18 in 24: read by the kernel's index; a prefix is never read by
      expect(await narrowedWhere(store, compileQuery({ commit: c2.slice(0, 9), image: B, hosts: ['kernel<5'] }))).toEqual({
        where: { commit_hash: { prefix: c2.slice(0, 9) }, image_digest: B, kernel_release: ['4.18.0-513.el8.x86_64'] },
        by: 'kernel_release',
      });
      expect((await narrowedWhere(store, compileQuery({ commit: c2, hosts: ['kernel<5'] }))).by).toBe('kernel_release'); // c2: 40 runs
      expect((await narrowedWhere(store, compileQuery({ image: B, hosts: ['kernel!=4.18.0'] }))).by).toBe('image_digest'); // 30 against 48
    } finally {
      await store.close();
    }
  }, 120_000);

  it('a column with more distinct values than are listed is tested on the rows read, with the same answer', async (ctx) => {
    const why = fixtureSkip ?? b.skip();
    if (why) {
      console.warn(`skipping: ${why}`);
      return ctx.skip();
    }
    const store = await openStore(await b.spec());
    try {
      const n = MAX_NARROWING_VALUES + 1;
      await store.appendMany('Producer', Array.from({ length: n }, (_, i) => row(c1, A, `reg.lab/hpc/ompi:4.1.0@${A}`, libsA, { kernel: `5.${i}.0`, driver: null }, '2025-01-10T00:00:00.000Z', { host_name: `node${i % 3}` })));
      const q = { hosts: ['kernel<5.10', 'host=node1'] };
      expect(await narrowedWhere(store, compileQuery(q))).toEqual({ where: { host_name: ['node1'] }, by: 'host_name' });
      const runs = (await affected(q, { store })).runs;
      expect(runs.map((r) => r.host.kernel)).toEqual(['5.1.0', '5.4.0', '5.7.0']);
      expect(runs).toEqual((await affected(q, { store, narrow: false })).runs);
    } finally {
      await store.close();
    }
  }, 120_000);
});

describe('queries change no store', () => {
  it('store runs, store affected, replay and check --commit on a store that is not there: exit 2 naming it, and no file is made', async (ctx) => {
    if (fixtureSkip) {
      console.warn(`skipping: ${fixtureSkip}`);
      return ctx.skip();
    }
    const missing = join(scratch, 'typo', 'provenance.db');
    for (const args of [['store', 'runs'], ['store', 'affected', '--library', 'openmpi'], ['replay', 'abcdef1'], ['check', oci('musl-static'), '--commit', 'abcdef1']]) {
      expect(expectOneLineError(await runCli([...args, '--store', missing])), args.join(' ')).toMatch(/no store at .*typo\/provenance\.db/);
    }
    expect(existsSync(join(scratch, 'typo')), 'no directory or file was made for the mistyped store').toBe(false);
  }, 120_000);

  it('a store an older version made (fewer columns, no indexes) is read as it is: its runs are found and the file is unchanged', async (ctx) => {
    if (fixtureSkip) {
      console.warn(`skipping: ${fixtureSkip}`);
      return ctx.skip();
    }
    const file = join(scratch, 'older.db');
    const db = new Database(file);
    db.pragma('journal_mode = DELETE');
    db.exec('CREATE TABLE "Producer" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, "recorded_at" VARCHAR, "commit_hash" VARCHAR, "image_digest" VARCHAR, "image_libraries" VARCHAR, "kernel_release" VARCHAR, "exit_status" INTEGER, "exit_kind" VARCHAR)');
    db.prepare('INSERT INTO "Producer" ("recorded_at", "commit_hash", "image_digest", "image_libraries", "kernel_release", "exit_status", "exit_kind") VALUES (?, ?, ?, ?, ?, 0, ?)').run('2025-01-10T00:00:00.000Z', c1, A, JSON.stringify({ openmpi: '4.1.0' }), '4.18.0-513.el8.x86_64', 'exited');
    db.close();
    const before = readFileSync(file);
    const r = await runCli(['store', 'affected', '--store', file, '--library', 'openmpi@4.1.0', '--host', 'kernel<5.0', '--json']);
    expect(r.code, show(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ commits: [c1], runs: [{ id: 1, commit: c1, image: { digest: A }, host: { kernel: '4.18.0-513.el8.x86_64' } }] });
    expect(readFileSync(file).equals(before), 'the query added no column, index or table').toBe(true);
  }, 120_000);
});
