// Figure 5: the provenance store, rows appended per second, one row per transaction (as every
// Consumer / Producer write is), on SQLite (a file in a temporary directory: WAL, synchronous=FULL)
// and on PostgreSQL (a throwaway server started here as in test/helpers/postgres.ts, fsync on:
// the server's defaults). Two rows:
//   small      a SystemKernel-sized row: a few integers and short strings, small JSON
//   consumer   a realistic Consumer row: a ~100 KB BLOB (the tar of a run-spec repository's .git),
//              its sha256, the image digest and ~8 KB of host facts JSON
// Reference: the same small row inserted with the bare driver (better-sqlite3 / pg), one
// transaction each, no store layer: the ratio is what the store's checks and encoding cost.
//
//   const { benchStore } = await import('./lib/store-bench.js');
//   rows.push(...(await benchStore(root)));          // root: the repository (for dist/)
//   benchStore(root, { seconds: 1, rounds: 5 })      // each measurement `seconds` long, `rounds` rounds
// fsync latency dominates and varies a lot on virtual disks: the three measurements of a backend
// are interleaved, round after round, and the medians reported.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { log, median } from './util.js';

const fmtRate = (r) => `${r >= 100 ? r.toFixed(0) : r.toFixed(1)} rows/s`;
const skippedRow = (figure, why) => ({ figure, measured: 'skipped', reference: '-', ratio: null, target: why, met: null });

function run(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (e) => resolve({ status: null, out: e.message }));
    child.on('close', (status) => resolve({ status, out }));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A throwaway PostgreSQL server (the recipe of test/helpers/postgres.ts), or { skip }. */
async function startPostgres() {
  if (process.getuid?.() !== 0) return { skip: 'needs root (server runs as postgres)' };
  const bin = ['/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/14/bin'].find((d) => existsSync(join(d, 'initdb')));
  if (!bin) return { skip: 'no PostgreSQL server binaries' };
  const uid = await run('id', ['-u', 'postgres']);
  const gid = await run('id', ['-g', 'postgres']);
  if (uid.status !== 0) return { skip: 'no postgres user' };
  const dir = mkdtempSync(join(tmpdir(), 'csbench-pg-'));
  chownSync(dir, Number(uid.out.trim()), Number(gid.out.trim()));
  const data = join(dir, 'data');
  const as = (cmd, args) => run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]);
  const init = await as('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return { skip: `initdb failed: ${init.out.trim().split('\n').pop()}` };
  }
  const port = await freePort();
  const start = await as('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-o', `-k ${dir} -p ${port} -c listen_addresses=127.0.0.1`, 'start']);
  if (start.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return { skip: `pg_ctl start failed: ${start.out.trim().split('\n').pop()}` };
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      await as('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Host facts of about 8 KB, as a Consumer row carries them. */
function hostFactsLike() {
  const features = Array.from({ length: 120 }, (_, i) => `feature_${i}`);
  const libs = Array.from({ length: 60 }, (_, i) => ({ soname: `libexample${i}.so.${i % 7}`, path: `/usr/lib/x86_64-linux-gnu/libexample${i}.so.${i % 7}` }));
  return { kind: 'host', cpu: { microarch: 'icelake', vendor: 'GenuineIntel', features }, libc: { family: 'glibc', version: '2.36' }, libraries: libs };
}

function smallRow(i) {
  return { uid: 1000, effective_gid: 1000, moniker: 'bench', gid_list: [1000, 27], kernel_info: { kernel_version: '6.1.0-18-amd64', n: i }, host_name: 'node001' };
}

function consumerRow(i, facts) {
  const blob = randomBytes(100 * 1024);
  return {
    commit_hash: createHash('sha1').update(blob).digest('hex'),
    image_reference: `registry.lab/lammps@sha256:${'ab'.repeat(32)}`,
    image_digest: `sha256:${'ab'.repeat(32)}`,
    runspec_path: `runspecs/lammps-${i}.runspec`,
    container_run_commands: blob,
    container_run_commands_sha256: createHash('sha256').update(blob).digest('hex'),
    system_kernel_id: 1,
    host_name: 'node001',
    charliecloud_version: '0.38',
    image_acquired: 'present',
    host_facts: facts,
  };
}

/** Call `fn(i)` (awaited) for `seconds`; rows per second. */
async function rate(fn, seconds) {
  const until = performance.now() + seconds * 1000;
  const t0 = performance.now();
  let n = 0;
  while (performance.now() < until) await fn(n++);
  return n / ((performance.now() - t0) / 1000);
}

/** Warm each of `fns` up (20 calls), then measure them interleaved for `rounds` rounds; the median rate of each. */
async function interleaved(fns, seconds, rounds) {
  for (const fn of fns) for (let i = 0; i < 20; i++) await fn(i);
  const rates = fns.map(() => []);
  for (let r = 0; r < rounds; r++) for (const [i, fn] of fns.entries()) rates[i].push(await rate(fn, seconds));
  return rates.map((xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) }));
}

const spread = (m) => `${fmtRate(m.median)} (${m.min.toFixed(0)}-${m.max.toFixed(0)})`;

export async function benchStore(root, { seconds = 1, rounds = 5 } = {}) {
  log('\n== 5. Provenance store ==');
  log(`  rows appended per second, one transaction per row; ${rounds} interleaved rounds of ${seconds} s each (after 20 warm-up rows), median (min-max)`);
  const dist = (p) => pathToFileURL(join(root, 'dist', 'store', p)).href;
  const { openSqlite } = await import(dist('sqlite.js'));
  const { openPostgres } = await import(dist('postgres.js'));
  const facts = hostFactsLike();
  const rows = [];

  // SQLite
  const dir = mkdtempSync(join(tmpdir(), 'csbench-sqlite-'));
  try {
    const store = await openSqlite(join(dir, 'provenance.db'));
    // the bare driver, same connection settings, same small row encoded by hand
    const raw = store.db.prepare('INSERT INTO "SystemKernel" ("recorded_at", "uid", "effective_gid", "moniker", "gid_list", "kernel_info", "host_name") VALUES (?, ?, ?, ?, ?, ?, ?)');
    const [small, bare, consumer] = await interleaved(
      [
        (i) => store.append('SystemKernel', smallRow(i)),
        async (i) => {
          const r = smallRow(i);
          store.db.exec('BEGIN IMMEDIATE');
          raw.run(new Date().toISOString(), r.uid, r.effective_gid, r.moniker, JSON.stringify(r.gid_list), JSON.stringify(r.kernel_info), r.host_name);
          store.db.exec('COMMIT');
        },
        (i) => store.append('Consumer', consumerRow(i, facts)),
      ],
      seconds,
      rounds,
    );
    await store.close();
    log(`  SQLite (${dir}, WAL, synchronous=FULL): small ${spread(small)}, bare better-sqlite3 ${spread(bare)}; Consumer with 100 KB BLOB ${spread(consumer)}`);
    rows.push(
      { figure: 'store append, SQLite, small row', measured: fmtRate(small.median), reference: fmtRate(bare.median), ratio: small.median / bare.median, target: '(report)', met: null },
      { figure: 'store append, SQLite, Consumer row (100 KB BLOB)', measured: fmtRate(consumer.median), reference: '-', ratio: null, target: '(report)', met: null },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // PostgreSQL
  const server = await startPostgres();
  if ('skip' in server) {
    log(`  PostgreSQL: skipped (${server.skip})`);
    rows.push(skippedRow('store append, PostgreSQL', server.skip));
    return rows;
  }
  try {
    const store = await openPostgres(server.url);
    const client = await store.pool.connect();
    let measured;
    try {
      measured = await interleaved(
        [
          (i) => store.append('SystemKernel', smallRow(i)),
          async (i) => {
            const r = smallRow(i);
            await client.query('BEGIN');
            await client.query(
              'INSERT INTO "SystemKernel" ("recorded_at", "uid", "effective_gid", "moniker", "gid_list", "kernel_info", "host_name") VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING "id"',
              [new Date().toISOString(), r.uid, r.effective_gid, r.moniker, JSON.stringify(r.gid_list), JSON.stringify(r.kernel_info), r.host_name],
            );
            await client.query('COMMIT');
          },
          (i) => store.append('Consumer', consumerRow(i, facts)),
        ],
        seconds,
        rounds,
      );
    } finally {
      client.release();
    }
    const [small, bare, consumer] = measured;
    await store.close();
    log(`  PostgreSQL 127.0.0.1 (fsync on): small ${spread(small)}, bare pg ${spread(bare)}; Consumer with 100 KB BLOB ${spread(consumer)}`);
    rows.push(
      { figure: 'store append, PostgreSQL, small row', measured: fmtRate(small.median), reference: fmtRate(bare.median), ratio: small.median / bare.median, target: '(report)', met: null },
      { figure: 'store append, PostgreSQL, Consumer row (100 KB BLOB)', measured: fmtRate(consumer.median), reference: '-', ratio: null, target: '(report)', met: null },
    );
  } finally {
    await server.stop();
  }
  return rows;
}
