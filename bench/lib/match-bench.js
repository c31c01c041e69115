// Figure 3: matchPrepared over 10,000 hosts x 1,000 images of seeded, realistic facts.
// Run as its own process (`node bench/lib/match-bench.js single|workers`) so that its peak RSS
// is the match's alone; bench/run.js spawns it and reads the last line (RESULT {json}).
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { compileImage, prepareHost } from '../../dist/check/compile.js';
import { matchPrepared } from '../../dist/check/match.js';
import { makeDataSet, SEED } from './match-data.js';

const HOSTS = Number(process.env.BENCH_MATCH_HOSTS ?? 10_000);
const IMAGES = Number(process.env.BENCH_MATCH_IMAGES ?? 1_000);
const ROUNDS = Number(process.env.BENCH_MATCH_ROUNDS ?? 5);
const say = (s) => process.stdout.write(`${s}\n`);

function verdicts(rows) {
  let compatible = 0;
  let unknown = 0;
  let incompatible = 0;
  let sum = 0;
  for (const r of rows) {
    for (let i = 0; i < r.length; i++) {
      const v = r[i];
      sum += v;
      if (v >= 0) compatible++;
      else if (v === -1) incompatible++;
      else unknown++;
    }
  }
  return { compatible, unknown, incompatible, checksum: sum };
}

async function single() {
  let t0 = performance.now();
  const data = makeDataSet({ hosts: HOSTS, images: IMAGES, seed: SEED });
  const genMs = performance.now() - t0;
  const pairs = HOSTS * IMAGES;
  const runs = [];
  let prepMs = [];
  let v = null;
  for (let r = 1; r <= ROUNDS; r++) {
    // fresh compiled images and prepared hosts every round: the per-image rule caches start
    // empty, as they do in one `match` call
    t0 = performance.now();
    const ci = data.images.map((f) => compileImage(f, data.spec));
    const ph = data.hosts.map((f) => prepareHost(f, data.spec));
    prepMs.push(performance.now() - t0);
    t0 = performance.now();
    const rows = matchPrepared(ci, ph, data.spec);
    const ms = performance.now() - t0;
    runs.push(ms);
    v ??= verdicts(rows);
    say(`    round ${r}/${ROUNDS}: compile+prepare ${prepMs[r - 1].toFixed(0)} ms, matchPrepared ${ms.toFixed(0)} ms = ${((pairs / ms) * 1e3 / 1e6).toFixed(2)} M pairs/s`);
  }
  // the same compiled images again: every per-profile cache already filled (steady state of the scoring loop itself)
  const ci = data.images.map((f) => compileImage(f, data.spec));
  const ph = data.hosts.map((f) => prepareHost(f, data.spec));
  matchPrepared(ci, ph, data.spec);
  t0 = performance.now();
  matchPrepared(ci, ph, data.spec);
  const warmMs = performance.now() - t0;
  say(`    (context) same compiled images again, rule caches full: ${warmMs.toFixed(0)} ms = ${((pairs / warmMs) * 1e3 / 1e6).toFixed(2)} M pairs/s`);
  const best = Math.min(...runs);
  return {
    mode: 'single',
    hosts: HOSTS,
    images: IMAGES,
    genMs,
    prepareMs: Math.min(...prepMs),
    runsMs: runs,
    bestMs: best,
    pairsPerSec: (pairs / best) * 1e3,
    warmPairsPerSec: (pairs / warmMs) * 1e3,
    verdicts: v,
    maxRSS: process.resourceUsage().maxRSS * 1024,
  };
}

function waitFor(w, type) {
  return new Promise((resolve, reject) => {
    const on = (m) => {
      if (m.type === type) {
        w.off('message', on);
        w.off('error', reject);
        resolve(m);
      }
    };
    w.on('message', on);
    w.once('error', reject);
  });
}

async function workers(n = 2, split = 'hosts') {
  const url = new URL('./match-worker.js', import.meta.url);
  const ws = [];
  const t0 = performance.now();
  for (let part = 0; part < n; part++) {
    const w = new Worker(url, { workerData: { hosts: HOSTS, images: IMAGES, seed: SEED, part, parts: n, split } });
    ws.push(w);
  }
  await Promise.all(ws.map((w) => waitFor(w, 'loaded')));
  const genMs = performance.now() - t0;
  const pairs = HOSTS * IMAGES;
  const runs = [];
  let checksum = 0;
  for (let r = 1; r <= ROUNDS; r++) {
    const ready = await Promise.all(ws.map((w) => (w.postMessage('prepare'), waitFor(w, 'ready'))));
    const start = performance.now();
    const done = await Promise.all(ws.map((w) => (w.postMessage('go'), waitFor(w, 'done'))));
    const ms = performance.now() - start;
    runs.push(ms);
    checksum = done.reduce((s, d) => s + d.checksum, 0);
    say(
      `    round ${r}/${ROUNDS}: ${n} workers (${split} split), wall ${ms.toFixed(0)} ms = ${((pairs / ms) * 1e3 / 1e6).toFixed(2)} M pairs/s ` +
        `(per worker: ${done.map((d) => `${d.ms.toFixed(0)} ms`).join(', ')}; compile+prepare ${ready.map((d) => `${d.prepareMs.toFixed(0)} ms`).join(', ')})`,
    );
  }
  for (const w of ws) w.postMessage('exit');
  await Promise.all(ws.map((w) => new Promise((res) => w.once('exit', res))));
  const best = Math.min(...runs);
  return {
    mode: 'workers',
    workers: n,
    split,
    hosts: HOSTS,
    images: IMAGES,
    genMs,
    runsMs: runs,
    bestMs: best,
    pairsPerSec: (pairs / best) * 1e3,
    checksum,
    maxRSS: process.resourceUsage().maxRSS * 1024,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const mode = process.argv[2] ?? 'single';
  const res = mode === 'workers' ? await workers(Number(process.argv[3] ?? 2), process.argv[4] ?? 'hosts') : await single();
  say(`RESULT ${JSON.stringify(res)}`);
}
