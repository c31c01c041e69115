#!/usr/bin/env node
// containerspec benchmarks: prints figures as ratios against references measured in the same
// run (see bench/README.md). Asserts nothing; exits 0 unless something crashes.
//
//   npm run bench                     build, then every figure
//   node bench/run.js inspect match   only some figures (inspect, host, match, registry, slurm, store, runspec, replay, dockerfile;
//                                     affected: only the store affected figures of replay)
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmtMB, log } from './lib/util.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const all = ['inspect', 'host', 'match', 'registry', 'slurm', 'store', 'runspec', 'replay', 'dockerfile'];
// Named only, never part of "all": a part of another figure (`affected` is in `replay`).
const parts = ['affected'];
const wanted = process.argv.slice(2).filter((a) => all.includes(a) || parts.includes(a));
const figures = wanted.length ? wanted : all;

if (!existsSync(join(root, 'dist', 'inspect.js'))) {
  console.error('dist/ is missing: run `npx tsc -p tsconfig.json` (or `npm run bench`, which builds first)');
  process.exit(1);
}

/** Run bench/lib/match-bench.js in its own process (clean peak RSS), echoing its progress. */
function matchChild(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'bench', 'lib', 'match-bench.js'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    let result = null;
    child.stdout.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith('RESULT ')) result = JSON.parse(line.slice(7));
        else log(line);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`match-bench ${args.join(' ')} exited ${code}`))));
  });
}

const M = (x) => `${(x / 1e6).toFixed(2)} M pairs/s`;

async function benchMatch() {
  log('\n== 3. Match ==');
  log('  10,000 hosts x 1,000 images (seeded); each round compiles fresh images (rule caches empty), best of 5');
  const s = await matchChild(['single']);
  const v = s.verdicts;
  const total = v.compatible + v.unknown + v.incompatible;
  log(
    `  data: generated in ${s.genMs.toFixed(0)} ms; compileImage+prepareHost ${s.prepareMs.toFixed(0)} ms; verdicts ` +
      `${((100 * v.compatible) / total).toFixed(1)}% compatible, ${((100 * v.unknown) / total).toFixed(1)}% unknown, ` +
      `${((100 * v.incompatible) / total).toFixed(1)}% incompatible`,
  );
  log(`  -> single thread: ${M(s.pairsPerSec)} (best ${s.bestMs.toFixed(0)} ms)  (target >= 5 M/s); peak RSS ${fmtMB(s.maxRSS)}`);
  const rows = [
    { figure: 'match, 1 thread', measured: M(s.pairsPerSec), reference: '-', ratio: null, target: '>= 5 M/s', met: s.pairsPerSec >= 5e6 },
    { figure: 'match process peak RSS (1 thread)', measured: fmtMB(s.maxRSS), reference: '-', ratio: null, target: '(report)', met: null },
  ];
  if (s.pairsPerSec < 5e6) {
    log('  single thread below target: two worker threads, hosts split in halves (each builds its own data from the seed)');
    const w = await matchChild(['workers', '2', 'hosts']);
    if (w.checksum !== v.checksum) log(`  !! checksum differs from the single-thread run (${w.checksum} vs ${v.checksum})`);
    log(`  -> 2 workers: ${M(w.pairsPerSec)} (best ${w.bestMs.toFixed(0)} ms)  (target >= 5 M/s); peak RSS ${fmtMB(w.maxRSS)}`);
    rows.push(
      { figure: 'match, 2 workers (hosts split)', measured: M(w.pairsPerSec), reference: M(s.pairsPerSec), ratio: w.pairsPerSec / s.pairsPerSec, target: '>= 5 M/s', met: w.pairsPerSec >= 5e6 },
      { figure: 'match process peak RSS (2 workers)', measured: fmtMB(w.maxRSS), reference: '-', ratio: null, target: '(report)', met: null },
    );
    log('  (context) two workers, images split in halves: each worker fills the per-profile rule caches of its own images only');
    const wi = await matchChild(['workers', '2', 'images']);
    if (wi.checksum !== v.checksum) log(`  !! checksum differs from the single-thread run (${wi.checksum} vs ${v.checksum})`);
    log(`  -> 2 workers, images split: ${M(wi.pairsPerSec)} (best ${wi.bestMs.toFixed(0)} ms)`);
    rows.push({ figure: '(context) match, 2 workers (images split)', measured: M(wi.pairsPerSec), reference: M(s.pairsPerSec), ratio: wi.pairsPerSec / s.pairsPerSec, target: '-', met: null });
  }
  log(`  (context) scoring loop with every rule cache already full: ${M(s.warmPairsPerSec)}`);
  return rows;
}

function table(rows) {
  const head = ['figure', 'measured', 'reference', 'ratio', 'target', 'met'];
  const cells = rows.map((r) => [
    r.figure,
    r.extra ? `${r.measured} (+${r.extra})` : r.measured,
    r.reference,
    r.ratio === null || r.ratio === undefined ? '-' : r.ratio.toFixed(2),
    r.target,
    r.met === null || r.met === undefined ? '-' : r.met ? 'met' : 'NOT MET',
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => String(c[i]).length)));
  const line = (c) => c.map((x, i) => String(x).padEnd(w[i])).join('  ');
  log(`\n${line(head)}\n${w.map((n) => '-'.repeat(n)).join('  ')}`);
  for (const c of cells) log(line(c));
}

const t0 = performance.now();
log(`containerspec bench: node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), ${fmtMB(totalmem())} RAM`);
log(`figures: ${figures.join(', ')}`);
const rows = [];
if (figures.includes('inspect')) {
  const { benchInspect } = await import('./lib/inspect-bench.js');
  rows.push(...(await benchInspect(root)));
}
if (figures.includes('host')) {
  const { benchHost } = await import('./lib/host-bench.js');
  rows.push(...(await benchHost(root)));
}
if (figures.includes('match')) rows.push(...(await benchMatch()));
if (figures.includes('registry')) {
  const { benchRegistry } = await import('./lib/registry-bench.js');
  rows.push(...(await benchRegistry(root)));
}
if (figures.includes('slurm')) {
  const { benchSlurm } = await import('./lib/slurm-bench.js');
  rows.push(...(await benchSlurm(root)));
}
if (figures.includes('store')) {
  const { benchStore } = await import('./lib/store-bench.js');
  rows.push(...(await benchStore(root)));
}
if (figures.includes('runspec')) {
  const { benchRunspec } = await import('./lib/runspec-bench.js');
  rows.push(...(await benchRunspec(root)));
}
if (figures.includes('replay')) {
  const { benchReplay } = await import('./lib/replay-bench.js');
  rows.push(...(await benchReplay(root)));
}
if (figures.includes('affected') && !figures.includes('replay')) {
  const { benchAffected } = await import('./lib/replay-bench.js');
  rows.push(...(await benchAffected(root)));
}
if (figures.includes('dockerfile')) {
  const { benchDockerfile } = await import('./lib/dockerfile-bench.js');
  rows.push(...(await benchDockerfile(root)));
}
table(rows);
log(`\nbench finished in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
