// Producer figures.
//  1. Replay overhead with the image already in storage: `containerspec replay COMMIT` as a whole
//     process (restore the stored repository, verify the image by digest, host facts, the gate,
//     ch-run, one SQLite transaction) minus the same ch-run command run directly (the one replay
//     ran, taken from the Producer row), interleaved in the same run. Target <= 0.5 s.
//  2. `store affected --library openmpi@4.1.0 --host 'kernel<5.0'` over 100,000 recorded runs on
//     SQLite (library API on an open store: the query and its filters, not process start-up).
//     Target <= 0.2 s. The bench's runs cycle through three library sets and three kernels in step,
//     so this query matches a third of them (33,334 runs, each run's own values read, and the image,
//     host and outcome once for each of the 200 combinations they hold); the reference is the same
//     query reading every run whole and testing it in code (`narrow: false`, what it did before the
//     store narrowed). A selective query (one image of 50 and one library version: 667 runs)
//     is printed beside it against the same target.
//
//   const { benchReplay } = await import('./lib/replay-bench.js');
//   rows.push(...(await benchReplay(root)));          // root: the repository (for dist/)
// or on its own: node -e "import('./bench/lib/replay-bench.js').then(async (m) => console.table(await m.benchReplay(process.cwd())))"
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pullByDigest } from '../../dist/charliecloud/pull.js';
import { openStore } from '../../dist/store/open.js';
import { affected } from '../../dist/runspec/affected.js';
import { missingCommands, registryMissing, startRegistry } from './registry-server.js';
import { fmtMs, log, median, runTimed } from './util.js';

async function overhead(root, runs) {
  const why = registryMissing() ?? (missingCommands(['ch-image', 'ch-run', 'git']).length ? 'ch-image, ch-run or git not installed' : null) ?? (existsSync(join(root, 'fixtures/build/musl-static/oci')) ? null : 'fixtures not built (npm test builds them)');
  if (why) {
    log(`  skipped: ${why}`);
    return { figure: 'replay - direct ch-run', measured: 'skipped', reference: '-', ratio: null, target: '<= +500 ms', met: null };
  }
  const tmp = mkdtempSync(join(tmpdir(), 'csbench-replay-'));
  const reg = await startRegistry(join(root, 'bench', '.work', 'replay-registry'));
  const saved = { ...process.env };
  try {
    const digest = await reg.push(`oci:${join(root, 'fixtures/build/musl-static/oci')}:latest`, 'lab/app:1');
    const storage = join(tmp, 'storage');
    Object.assign(process.env, { CH_IMAGE_STORAGE: storage, XDG_DATA_HOME: join(tmp, 'data'), USER: process.env.USER ?? 'root' });
    await pullByDigest(`${reg.host}/lab/app:1`, digest, { storage, caBundle: reg.caFile });
    const cli = join(root, 'bin', 'containerspec.js');
    const store = join(tmp, 'provenance.db');
    const dir = join(tmp, 'repo');
    mkdirSync(dir);
    writeFileSync(join(dir, 'job.runspec'), `FROM ${reg.host}/lab/app:1@${digest}\nENV OMP_NUM_THREADS=4\nRUN ["/bin/busybox", "echo", "hello"]\n`);
    const rec = spawnSync(process.execPath, [cli, 'runspec', 'commit', join(dir, 'job.runspec'), '--store', store, '--json'], { encoding: 'utf8' });
    if (rec.status !== 0) throw new Error(`runspec commit failed: ${rec.stderr}`);
    const commit = JSON.parse(rec.stdout).commit;
    const first = spawnSync(process.execPath, [cli, 'replay', commit, '--store', store, '--json'], { encoding: 'utf8' });
    if (first.status !== 0) throw new Error(`replay failed: ${first.stderr}`);
    const plan = JSON.parse(first.stdout).plan;
    // the direct command: the one replay ran, with its --set-env file written again
    const envFile = join(tmp, 'env');
    writeFileSync(envFile, plan.env.map((l) => `${l}\n`).join(''));
    const direct = plan.commands[0].map((a) => (a.startsWith('--set-env=') ? `--set-env=${envFile}` : a));
    const whole = [];
    const bare = [];
    for (let i = 0; i < runs; i++) {
      whole.push((await runTimed(process.execPath, [cli, 'replay', commit, '--store', store, '--quiet'])).wall * 1000);
      bare.push((await runTimed(direct[0], direct.slice(1))).wall * 1000);
    }
    const w = median(whole);
    const b = median(bare);
    log(`  replay: median ${fmtMs(w)}; the same ch-run directly: median ${fmtMs(b)} (of ${runs} each, interleaved)`);
    log(`  -> replay - ch-run = ${fmtMs(w - b)}  (target <= 500 ms)`);
    return { figure: 'replay - direct ch-run', measured: fmtMs(w), reference: fmtMs(b), ratio: w / b, extra: fmtMs(w - b), target: '<= +500 ms', met: w - b <= 500 };
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    await reg.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function affectedFigure(total) {
  const tmp = mkdtempSync(join(tmpdir(), 'csbench-affected-'));
  const file = join(tmp, 'provenance.db');
  let store = await openStore(file);
  try {
    await store.init();
    const kernels = ['4.18.0-513.el8.x86_64', '5.14.0-362.el9.x86_64', '6.1.0-18-amd64'];
    const libs = [{ glibc: '2.31', openmpi: '4.1.0' }, { glibc: '2.36', openmpi: '4.1.4' }, { glibc: '2.39', mpich: '4.2.1', cuda: '12.4' }];
    const t0 = performance.now();
    for (let base = 0; base < total; base += 5000) {
      const batch = [];
      for (let i = base; i < Math.min(total, base + 5000); i++) {
        const hex = i.toString(16).padStart(40, '0');
        batch.push({
          commit_hash: hex, runspec_path: 'job.runspec', image_digest: `sha256:${(i % 50).toString(16).padStart(64, '0')}`, image_reference: `reg.lab/hpc/app${i % 50}:1@sha256:${(i % 50).toString(16).padStart(64, '0')}`,
          image_libraries: libs[i % 3], started_at: new Date(1.7e12 + i * 60_000).toISOString(), ended_at: new Date(1.7e12 + i * 60_000 + 5000).toISOString(),
          exit_status: 0, exit_kind: 'exited', forced: 0, refused: 0, host_name: `node${i % 200}`, kernel_release: kernels[i % 3], gpu_driver: i % 2 ? '535.104.05' : null,
          glibc_version: '2.36', microarch: 'zen3', host_mpi: null, stdout: Buffer.alloc(256, 97), host_facts: { note: 'stands in for the host facts JSON' },
        });
      }
      await store.appendMany('Producer', batch);
    }
    log(`  appended ${total} Producer rows in ${fmtMs(performance.now() - t0)}`);
    // The queries go through a reading connection, as `containerspec store affected` opens one (create: false).
    await store.close();
    store = await openStore(file, { create: false });
    const timed = async (query, opts = {}, n = 5) => {
      await affected(query, { store, ...opts }); // warm: page cache, JIT
      const times = [];
      let found = 0;
      for (let i = 0; i < n; i++) {
        const s = performance.now();
        found = (await affected(query, { store, ...opts })).runs.length;
        times.push(performance.now() - s);
      }
      return { ms: median(times), found };
    };
    const wide = await timed({ libraries: ['openmpi@4.1.0'], hosts: ['kernel<5.0'] });
    const plain = await timed({ libraries: ['openmpi@4.1.0'], hosts: ['kernel<5.0'] }, { narrow: false }, 3);
    if (plain.found !== wide.found) throw new Error(`narrowed and plain answers differ: ${wide.found} vs ${plain.found} runs`);
    log(`  store affected --library openmpi@4.1.0 --host 'kernel<5.0' over ${total} runs: median ${fmtMs(wide.ms)} (${wide.found} runs found; target <= 200 ms)`);
    log(`    reference, every run read and tested in code: median ${fmtMs(plain.ms)} (same ${plain.found} runs) -> ${(plain.ms / wide.ms).toFixed(1)}x faster`);
    const narrow = await timed({ image: 'reg.lab/hpc/app7', libraries: ['openmpi@4.1.0'] });
    log(`  store affected --image reg.lab/hpc/app7 --library openmpi@4.1.0 over ${total} runs: median ${fmtMs(narrow.ms)} (${narrow.found} runs found; target <= 200 ms)`);
    return [
      { figure: `store affected, ${total} runs, ${wide.found} found (SQLite)`, measured: fmtMs(wide.ms), reference: fmtMs(plain.ms), ratio: wide.ms / plain.ms, target: '<= 200 ms', met: wide.ms <= 200 },
      { figure: `store affected, ${total} runs, ${narrow.found} found (SQLite)`, measured: fmtMs(narrow.ms), reference: '-', ratio: null, target: '<= 200 ms', met: narrow.ms <= 200 },
    ];
  } finally {
    await store.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

export async function benchReplay(root, { runs = 8, total = 100_000 } = {}) {
  log('\n== Replay ==');
  return [await overhead(root, runs), ...(await affectedFigure(total))];
}

/** Only the `store affected` figures (`node bench/run.js affected`): no registry, no ch-run. */
export async function benchAffected(root, { total = 100_000 } = {}) {
  log('\n== store affected ==');
  return affectedFigure(total);
}
