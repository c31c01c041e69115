// Small helpers shared by the bench figures: timing whole processes (wall time and peak RSS),
// statistics and formatting.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const log = (msg) => process.stdout.write(`${msg}\n`);

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export const min = (xs) => Math.min(...xs);
export const fmtS = (s) => `${s.toFixed(s < 1 ? 3 : 2)} s`;
export const fmtMs = (ms) => `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
export const fmtMB = (bytes) => `${(bytes / 1048576).toFixed(0)} MB`;

/** GNU time, when installed: gives the peak RSS of a whole process tree's main process (%M, KiB). */
export const GNU_TIME = process.env.BENCH_NO_GNU_TIME ? null : ['/usr/bin/time', '/bin/time'].find((p) => existsSync(p) && spawnSync(p, ['-f', '%M', 'true']).status === 0) ?? null;

/** Peak RSS (VmHWM, bytes) of a live process, or null once it is gone. */
function vmHwm(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Run a command to completion with stdout to /dev/null (or a file); returns { wall (s), peakRss (bytes|null), code }.
 * Peak RSS comes from GNU time when `rss` is set and it is installed, else from polling VmHWM every 20 ms
 * (which can miss a final spike of less than 20 ms).
 */
export function runTimed(cmd, args, { rss = false, stdout = '/dev/null', cwd } = {}) {
  return new Promise((resolve, reject) => {
    let dir = null;
    let timeOut = null;
    let argv = [cmd, ...args];
    if (rss && GNU_TIME) {
      dir = mkdtempSync(join(tmpdir(), 'csbench-'));
      timeOut = join(dir, 'time.txt');
      argv = [GNU_TIME, '-f', '%M', '-o', timeOut, cmd, ...args];
    }
    const out = openSync(stdout, 'w');
    const t0 = process.hrtime.bigint();
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', out, 'pipe'], cwd });
    closeSync(out);
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    let peak = null;
    let poll = null;
    if (rss && !GNU_TIME) {
      poll = setInterval(() => {
        const v = vmHwm(child.pid);
        if (v !== null) peak = Math.max(peak ?? 0, v);
      }, 20);
    }
    child.on('error', reject);
    child.on('close', (code) => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      if (poll) clearInterval(poll);
      if (timeOut) {
        try {
          const lines = readFileSync(timeOut, 'utf8').trim().split('\n');
          peak = Number(lines[lines.length - 1]) * 1024;
        } catch {
          peak = null;
        }
        rmSync(dir, { recursive: true, force: true });
      }
      if (code !== 0) {
        reject(new Error(`${argv.join(' ')} exited ${code}: ${err.slice(0, 2000)}`));
        return;
      }
      resolve({ wall, peakRss: peak, code });
    });
  });
}

/** Seeded PRNG (mulberry32): the same seed gives the same data on every run and in every worker. */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r = {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
    pick: (xs) => xs[Math.floor(next() * xs.length)],
    /** Pick from [[weight, value], ...]. */
    weighted: (pairs) => {
      const total = pairs.reduce((s, [w]) => s + w, 0);
      let x = next() * total;
      for (const [w, v] of pairs) {
        if ((x -= w) < 0) return v;
      }
      return pairs[pairs.length - 1][1];
    },
  };
  return r;
}
