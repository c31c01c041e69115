#!/usr/bin/env node
/**
 * The fuzz driver: generates cases with fuzz/mutate.mjs, runs `node bin/containerspec.js ...` on
 * each (J at a time, 20 s kill timer, peak RSS measured), checks the CLI contract, and writes every
 * failing case (input, stdout, stderr, repro.sh) under --out.
 *
 *   node fuzz/run.mjs --minutes N --seed S [--cases K] [--out DIR] [--jobs J]
 *                     [--small] [--classes a,b] [--replay i,j] [--keep N] [--work DIR]
 *
 * The contract, for every input: exit 0, 1 or 3 with stdout JSON valid against its schema (with
 * --json; 1 and 3 only from check), or exit 2 with exactly one stderr line `containerspec: ...`
 * and nothing on stdout. Never another status, a signal, a stack trace or "internal error", a run
 * over 20 s, peak RSS over 256 MB, invalid JSON; and a case whose blob bytes changed without the
 * digests above being re-fixed must end in exit 2.
 *
 * Exit status: 0 when no case broke the contract, 1 otherwise (2 for bad options).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CLASSES, Fuzzer } from './mutate.mjs';

export const REPO = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const BIN = path.join(REPO, 'bin/containerspec.js');
const TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

export const DEFAULTS = { timeoutMs: 20_000, rssMb: 256, jobs: 2, keep: 25 };

// ------------------------------------------------------------------------------------------------
// running the CLI

/**
 * Run the CLI once. Returns { code, signal, stdout, stderr, rssKb, elapsedMs, timedOut }.
 * Peak RSS comes from GNU time (-f %M) when present, else from polling /proc/PID/status VmHWM.
 */
/** Whether process group `pgid` has a member that is running (not a zombie). Linux /proc. */
export function groupAlive(pgid) {
  let dirs;
  try {
    dirs = fs.readdirSync('/proc');
  } catch {
    return true; // no /proc: assume the worst
  }
  for (const d of dirs) {
    if (!/^\d+$/.test(d)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(f[2]) === pgid && f[0] !== 'Z' && f[0] !== 'X') return true;
  }
  return false;
}

export function runCli(args, { env = {}, timeoutMs = DEFAULTS.timeoutMs, measure = true } = {}) {
  // No layer-facts cache: every case must read its layers (a cached digest would stand in for mutated bytes).
  const childEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', CONTAINERSPEC_NO_CACHE: '1', ...env };
  delete childEnv.NODE_OPTIONS;
  const timeFile = measure && TIME ? path.join(os.tmpdir(), `csfuzz-time-${process.pid}-${Math.random().toString(36).slice(2)}`) : null;
  const argv = timeFile ? [TIME, ['-o', timeFile, '-f', '%M %e', process.execPath, BIN, ...args]] : [process.execPath, [BIN, ...args]];
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(argv[0], argv[1], { cwd: REPO, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out = [];
    const err = [];
    let outBytes = 0;
    let errBytes = 0;
    const CAP = 64 << 20;
    child.stdout.on('data', (c) => {
      if ((outBytes += c.length) <= CAP) out.push(c);
    });
    child.stderr.on('data', (c) => {
      if ((errBytes += c.length) <= CAP) err.push(c);
    });
    let timedOut = false;
    let hwm = 0;
    const poll = measure && !timeFile ? setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) hwm = Math.max(hwm, Number(m[1]));
      } catch {
        /* gone */
      }
    }, 25) : null;
    // A timer can fire late (the driver's event loop busy generating a big case): only a process
    // group with a live member when it fires is a hang; one whose members have all exited (zombies
    // not yet reaped by this loop) simply finished in time.
    const timer = setTimeout(() => {
      if (groupAlive(child.pid)) timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      resolve({ code: null, signal: null, stdout: '', stderr: `spawn failed: ${e.message}`, rssKb: 0, elapsedMs: 0, timedOut: false, spawnError: true });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      let elapsedMs = Date.now() - started;
      let rssKb = hwm;
      let sig = signal;
      let status = code;
      if (timeFile) {
        try {
          const t = fs.readFileSync(timeFile, 'utf8').trim().split('\n');
          const last = t[t.length - 1] ?? '';
          const m = /^(\d+) ([\d.]+)$/.exec(last);
          if (m) {
            rssKb = Number(m[1]);
            elapsedMs = Math.round(Number(m[2]) * 1000);
          }
          const s = t.map((l) => /Command terminated by signal (\d+)/.exec(l)).find(Boolean);
          if (s) {
            sig = os.constants.signals ? Object.entries(os.constants.signals).find(([, n]) => n === Number(s[1]))?.[0] ?? `SIG${s[1]}` : `SIG${s[1]}`;
            status = null;
          }
        } catch {
          /* killed before time wrote it */
        }
        fs.rmSync(timeFile, { force: true });
      }
      // Leftover children of the CLI (a zstd decoder) must not outlive the case.
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* none */
      }
      resolve({ code: status, signal: sig, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), rssKb, elapsedMs, timedOut, outBytes, errBytes });
    });
  });
}

// ------------------------------------------------------------------------------------------------
// the contract

let validators = null;

async function loadValidators() {
  if (validators) return validators;
  const mod = await import(pathToFileURL(path.join(REPO, 'node_modules/ajv/dist/ajv.js')).href);
  const Ajv = mod.default?.default ?? mod.default ?? mod;
  const compile = (name) => new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(fs.readFileSync(path.join(REPO, 'schemas', `${name}.schema.json`), 'utf8')));
  validators = { facts: compile('facts-2.1'), report: compile('report-2.1'), match: compile('match-1.1'), error: compile('error-1.0') };
  return validators;
}

const STACK = /^\s+at .+(:\d+:\d+\)?|\(native\)|<anonymous>\)?)$/m;

/** The schema a command's --json output must satisfy. */
function schemaFor(args) {
  return { inspect: 'facts', host: 'facts', check: 'report', match: 'match' }[args[0]] ?? null;
}

/**
 * The contract violations of one run: [{ kind, detail }] (empty when the run is fine).
 */
export function checkContract(c, r, v, limits = DEFAULTS) {
  const out = [];
  const add = (kind, detail = '') => out.push({ kind, detail });
  const stderrLines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  if (r.spawnError) add('spawn-error', r.stderr);
  if (r.timedOut || r.elapsedMs > limits.timeoutMs) add('timeout', `ran ${r.elapsedMs} ms`);
  else if (r.signal) add('signal', r.signal);
  if (r.rssKb > limits.rssMb * 1024) add('rss', `peak RSS ${Math.round(r.rssKb / 1024)} MB`);
  if (r.timedOut || r.signal || r.spawnError) return out;
  if (r.stderr.includes('internal error')) add('internal-error', stderrLines[0] ?? '');
  else if (STACK.test(r.stderr)) add('stack-trace', stderrLines.find((l) => /^\s+at /.test(l)) ?? '');
  const isCheck = c.args[0] === 'check';
  if (r.code === 2) {
    if (stderrLines.length !== 1) add('stderr-lines', `${stderrLines.length} stderr lines with exit 2`);
    else if (!stderrLines[0].startsWith('containerspec: ')) add('stderr-prefix', stderrLines[0].slice(0, 200));
    if (!c.args.includes('--json')) {
      if (r.stdout !== '') add('stdout-on-error', `${r.stdout.length} bytes on stdout with exit 2`);
      return out;
    }
    // --json: the error JSON (schemas/error-1.0.schema.json) on stdout, with the stderr line's message
    let doc;
    try {
      doc = JSON.parse(r.stdout);
    } catch (e) {
      add('error-json', `not JSON on stdout with exit 2 and --json: ${e.message}`);
      return out;
    }
    if (!v.error(doc)) add('error-json', `error: ${v.error.errors?.[0]?.instancePath || '/'} ${v.error.errors?.[0]?.message ?? ''}`);
    else if (stderrLines.length === 1 && `containerspec: ${doc.error.message}` !== stderrLines[0]) add('error-json', 'the error JSON message differs from the stderr line');
    return out;
  }
  if (r.code === 0 || r.code === 1 || r.code === 3) {
    if (!isCheck && r.code !== 0) add('exit-status', `exit ${r.code} from ${c.args[0]}`);
    if (c.mustExit2) add('must-exit-2', `exit ${r.code}: a blob changed without re-fixing its digest was read`);
    if (c.args.includes('--json')) {
      let doc;
      try {
        doc = JSON.parse(r.stdout);
      } catch (e) {
        add('bad-json', `${e.message}; ${r.outBytes ?? r.stdout.length} bytes`);
        return out;
      }
      const s = schemaFor(c.args);
      if (s && !v[s](doc)) {
        const e = v[s].errors?.[0];
        add('schema', `${s}: ${e?.instancePath || '/'} ${e?.message ?? ''}`);
      }
    }
    return out;
  }
  add('exit-status', `exit ${r.code}`);
  return out;
}

/** Mask paths, digests and long numbers so one failure cause is one signature. */
export function mask(line) {
  return (line ?? '')
    .replace(/sha(256|512):[0-9a-f]{16,}/g, 'sha$1:<digest>')
    .replace(/\b[0-9a-f]{40,}\b/g, '<hex>')
    .replace(/(?:file:\/\/)?(?:\/[^\s:'"(),\]]+)+/g, '<path>')
    .replace(/\b\d{3,}\b/g, 'N')
    .slice(0, 300);
}

/** The first stack frame inside the project, as `fn (dist/x.js:line)`. */
function topFrame(stderr) {
  for (const l of stderr.split('\n')) {
    const m = /^\s+at (?:(.+?) \()?(?:file:\/\/)?([^()\s]+):(\d+):\d+\)?$/.exec(l);
    if (m && m[2].includes(REPO) && !m[2].includes('node_modules')) return { fn: m[1] ?? '<anonymous>', file: path.relative(REPO, m[2]), line: Number(m[3]) };
  }
  for (const l of stderr.split('\n')) {
    const m = /^\s+at (?:(.+?) \()?(?:file:\/\/)?([^()\s]+):(\d+):\d+\)?$/.exec(l);
    if (m) return { fn: m[1] ?? '<anonymous>', file: m[2].includes('node_modules') ? m[2].slice(m[2].indexOf('node_modules')) : m[2], line: Number(m[3]) };
  }
  return null;
}

/** An op name without its parameters (for grouping must-exit-2, timeout and RSS failures). */
const opFamily = (op) => (op ?? '').replace(/\(.*?\)/g, '').replace(/"[^"]*"/g, '"…"').replace(/-?\d+/g, 'N');

export function signatureOf(c, r, violations) {
  const v = violations[0];
  const first = mask(r.stderr.split('\n').find((l) => l.trim() !== '') ?? '');
  switch (v.kind) {
    case 'internal-error':
    case 'stack-trace': {
      const f = topFrame(r.stderr);
      return `${v.kind}: ${first}${f ? ` @ ${f.fn} (${f.file})` : ''}`;
    }
    case 'must-exit-2':
      return `must-exit-2: exit ${r.code} [${c.cls} ${c.sigKey ?? opFamily(c.op)}]`;
    case 'timeout':
    case 'rss':
    case 'signal':
      return `${v.kind}${v.kind === 'signal' ? ` ${r.signal}` : ''} [${c.cls} ${c.sigKey ?? opFamily(c.op)}]`;
    case 'schema':
      return `schema: ${v.detail.replace(/\/\d+/g, '/N')}`;
    case 'exit-status':
      return `exit-status: ${v.detail}${first ? `: ${first}` : ''}`;
    default:
      return `${v.kind}: ${mask(v.detail)}${first ? ` | ${first}` : ''}`;
  }
}

// ------------------------------------------------------------------------------------------------
// failing cases on disk

const shq = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

/** The options besides the seed that decide what a case index generates. */
function genOptions(o) {
  return `${o.small ? ' --small' : ''}${o.classes ? ` --classes ${o.classes.join(',')}` : ''}`;
}

function reproScript(c, seed, violations, regen) {
  const arg = (a) =>
    String(a)
      .split(c.dir)
      .map((part) => part.split(REPO).map(shq).join('"$REPO"'))
      .join('"$HERE/input"');
  const envs = Object.entries(c.env ?? {}).map(([k, v]) => `${k}=${shq(v)} `).join('');
  return [
    '#!/bin/sh',
    `# containerspec fuzz case: class ${c.cls}, op ${c.op}`,
    `# seed ${seed}, index ${c.index}; must end in exit 2: ${c.mustExit2 ? 'yes' : 'no'}`,
    ...violations.map((v) => `# violation: ${v.kind}: ${v.detail.replace(/\n/g, ' ')}`),
    `# regenerate the input from the seed instead: ${regen.replace('node fuzz/', 'node "$REPO"/fuzz/')}`,
    'HERE=$(cd "$(dirname "$0")" && pwd)',
    `REPO=\${CONTAINERSPEC_REPO:-${REPO}}`,
    'cd "$REPO" || exit 99',
    `${envs}node "$REPO/bin/containerspec.js" ${c.args.map(arg).join(' ')}`,
    'echo "exit status $?" >&2',
    '',
  ].join('\n');
}

/** The command a failing case is reproduced with, with the case directory as given. */
function commandLine(c) {
  const envs = Object.entries(c.env ?? {}).map(([k, v]) => `${k}=${shq(v)} `).join('');
  return `${envs}node bin/containerspec.js ${c.args.map(shq).join(' ')}`;
}

function moveTree(src, dst) {
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  try {
    fs.renameSync(src, dst);
  } catch {
    spawnSync('cp', ['-a', '--sparse=always', src, dst]);
    fs.rmSync(src, { recursive: true, force: true });
  }
}

function saveFailure(outDir, c, seed, r, violations, regen) {
  const dir = path.join(outDir, `${c.cls}-${seed}-${c.index}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  moveTree(c.dir, path.join(dir, 'input'));
  fs.writeFileSync(path.join(dir, 'stdout'), r.stdout);
  fs.writeFileSync(path.join(dir, 'stderr'), r.stderr);
  fs.writeFileSync(path.join(dir, 'case.json'), `${JSON.stringify({ class: c.cls, op: c.op, seed, index: c.index, mustExit2: c.mustExit2, args: c.args, env: c.env, exit: r.code, signal: r.signal, rssKb: r.rssKb, elapsedMs: r.elapsedMs, violations }, null, 2)}\n`);
  const repro = path.join(dir, 'repro.sh');
  fs.writeFileSync(repro, reproScript(c, seed, violations, regen), { mode: 0o755 });
  return repro;
}

// ------------------------------------------------------------------------------------------------
// the run

/**
 * Run the fuzzer. Options: seed, minutes, cases, jobs, out, small, classes, replay (indices),
 * keep (full case directories kept per signature), quiet, work.
 * Returns { cases, elapsedMs, failures: [...], generatorErrors: [...], byClass, bySignature }.
 */
export async function runFuzz(opts) {
  const o = { ...DEFAULTS, minutes: null, cases: null, small: false, classes: null, replay: null, quiet: false, ...opts };
  const started = Date.now();
  const work = o.work ?? fs.mkdtempSync(path.join(os.tmpdir(), 'csfuzz-'));
  const out = o.out ?? path.join(os.tmpdir(), `csfuzz-out-${o.seed}`);
  fs.mkdirSync(out, { recursive: true });
  const v = await loadValidators();
  const fuzzer = new Fuzzer({ repo: REPO, work, seed: o.seed, small: o.small, classes: o.classes, runCli: (a) => runCli(a, { measure: false, timeoutMs: 120_000 }) });
  await fuzzer.init();
  const failuresLog = path.join(out, 'failures.jsonl');
  const failures = [];
  const generatorErrors = [];
  const byClass = {};
  const bySignature = new Map();
  let done = 0;
  let next = o.start ?? 0;
  const replay = o.replay ? [...o.replay] : null;
  const deadline = o.minutes !== null ? started + o.minutes * 60_000 : Infinity;
  const tty = process.stdout.isTTY && !o.quiet;
  const log = (s) => {
    if (!o.quiet) process.stdout.write(`${s}\n`);
  };
  const progress = () => {
    const secs = (Date.now() - started) / 1000;
    const line = `${done} cases, ${failures.length} failures, ${bySignature.size} signatures, ${(done / Math.max(secs, 1)).toFixed(1)}/s, ${Math.round(secs)} s`;
    if (tty) process.stdout.write(`\r${line}   `);
    else if (!o.quiet && done % 100 === 0) log(line);
  };
  const takeIndex = () => {
    if (replay) return replay.length ? replay.shift() : null;
    if (o.cases !== null && next >= (o.start ?? 0) + o.cases) return null;
    if (Date.now() >= deadline) return null;
    return next++;
  };
  const worker = async () => {
    for (;;) {
      const index = takeIndex();
      if (index === null) return;
      let c;
      const genStart = Date.now();
      try {
        c = fuzzer.makeCase(index);
      } catch (e) {
        generatorErrors.push({ index, error: String(e?.stack ?? e).split('\n').slice(0, 3).join(' | ') });
        fs.rmSync(path.join(work, `c${index}`), { recursive: true, force: true });
        continue;
      }
      const genMs = Date.now() - genStart;
      const r = await runCli(c.args, { env: c.env, timeoutMs: o.timeoutMs });
      const violations = checkContract(c, r, v, o);
      if (o.log) {
        fs.appendFileSync(o.log, `${JSON.stringify({ index: c.index, class: c.cls, op: c.op, must: c.mustExit2, cmd: c.args[0], genMs, exit: r.timedOut ? 'timeout' : r.signal ?? r.code, ms: r.elapsedMs, rssMb: Math.round(r.rssKb / 1024), stderr: (r.stderr.split('\n')[0] ?? '').slice(0, 240), violations: violations.map((x) => x.kind) })}\n`);
      }
      const cls = (byClass[c.cls] ??= { cases: 0, failures: 0, exit: {} });
      cls.cases++;
      const ek = r.timedOut ? 'timeout' : r.signal ? r.signal : String(r.code);
      cls.exit[ek] = (cls.exit[ek] ?? 0) + 1;
      if (violations.length) {
        cls.failures++;
        const sig = signatureOf(c, r, violations);
        let s = bySignature.get(sig);
        if (!s) bySignature.set(sig, (s = { signature: sig, count: 0, classes: {}, saved: 0, example: null, frame: topFrame(r.stderr), stderr: r.stderr.split('\n').slice(0, 12).join('\n') }));
        s.count++;
        s.classes[c.cls] = (s.classes[c.cls] ?? 0) + 1;
        let repro = null;
        const regenerate = `node fuzz/run.mjs --seed ${o.seed}${genOptions(o)} --replay ${c.index}`;
        if (s.saved < o.keep) {
          repro = saveFailure(out, c, o.seed, r, violations, regenerate);
          s.saved++;
        } else fs.rmSync(c.dir, { recursive: true, force: true });
        const rec = { class: c.cls, op: c.op, seed: o.seed, index: c.index, signature: sig, violations, exit: r.code, rssKb: r.rssKb, elapsedMs: r.elapsedMs, command: commandLine(c), repro, regenerate };
        s.example ??= rec;
        failures.push(rec);
        fs.appendFileSync(failuresLog, `${JSON.stringify(rec)}\n`);
        if (!tty && !o.quiet && s.count === 1) log(`new failure signature (case ${c.index}, ${c.cls}): ${sig}`);
      } else fs.rmSync(c.dir, { recursive: true, force: true });
      done++;
      progress();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.jobs) }, worker));
  if (tty) process.stdout.write('\n');
  if (!o.work) fs.rmSync(work, { recursive: true, force: true });
  const result = {
    seed: o.seed,
    cases: done,
    elapsedMs: Date.now() - started,
    failures,
    generatorErrors,
    byClass,
    bySignature: [...bySignature.values()].sort((a, b) => b.count - a.count),
    out,
  };
  fs.writeFileSync(path.join(out, `summary-${o.seed}.json`), `${JSON.stringify({ ...result, failures: undefined }, null, 2)}\n`);
  return result;
}

/** The final report, as text. */
export function formatSummary(res) {
  const lines = [];
  const secs = res.elapsedMs / 1000;
  lines.push(`seed ${res.seed}: ${res.cases} cases in ${secs.toFixed(0)} s (${(res.cases / Math.max(secs, 1)).toFixed(2)}/s), ${res.failures.length} contract failures, ${res.bySignature.length} distinct signatures, ${res.generatorErrors.length} generator errors`);
  lines.push('', 'by class:            cases  failures  exit statuses');
  for (const cls of [...CLASSES].filter((k) => res.byClass[k])) {
    const b = res.byClass[cls];
    lines.push(`  ${cls.padEnd(18)} ${String(b.cases).padStart(6)} ${String(b.failures).padStart(9)}  ${Object.entries(b.exit).map(([k, n]) => `${k}:${n}`).join(' ')}`);
  }
  if (res.bySignature.length) {
    lines.push('', 'by failure signature:');
    for (const s of res.bySignature) {
      lines.push(`  ${String(s.count).padStart(5)}  ${s.signature}`);
      lines.push(`         classes: ${Object.entries(s.classes).map(([k, n]) => `${k} ${n}`).join(', ')}${s.frame ? `; top frame ${s.frame.fn} ${s.frame.file}:${s.frame.line}` : ''}`);
      lines.push(`         repro: ${s.example.repro ?? s.example.regenerate}`);
    }
  }
  if (res.generatorErrors.length) {
    lines.push('', 'generator errors (fuzzer bugs, not contract failures):');
    for (const g of res.generatorErrors.slice(0, 10)) lines.push(`  case ${g.index}: ${g.error}`);
  }
  lines.push('', `failing cases: ${res.out}`);
  return lines.join('\n');
}

function parseArgs(argv) {
  const o = {};
  const need = (i) => {
    if (argv[i + 1] === undefined) throw new Error(`${argv[i]} needs a value`);
    return argv[i + 1];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (x) => {
      const n = Number(x);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${a} takes a number, not ${x}`);
      return n;
    };
    switch (a) {
      case '--minutes': o.minutes = num(need(i)); i++; break;
      case '--seed': o.seed = need(i); i++; break;
      case '--cases': o.cases = num(need(i)); i++; break;
      case '--start': o.start = num(need(i)); i++; break;
      case '--out': o.out = path.resolve(need(i)); i++; break;
      case '--work': o.work = path.resolve(need(i)); i++; break;
      case '--jobs': o.jobs = num(need(i)); i++; break;
      case '--keep': o.keep = need(i) === 'all' ? Infinity : num(need(i)); i++; break;
      case '--timeout-ms': o.timeoutMs = num(need(i)); i++; break;
      case '--rss-mb': o.rssMb = num(need(i)); i++; break;
      case '--classes': o.classes = need(i).split(','); i++;
        for (const c of o.classes) if (!CLASSES.includes(c)) throw new Error(`unknown class ${c} (one of ${CLASSES.join(', ')})`);
        break;
      case '--replay': o.replay = need(i).split(',').map(num); i++; break;
      case '--small': o.small = true; break;
      case '--log': o.log = path.resolve(need(i)); i++; break;
      case '--quiet': o.quiet = true; break;
      case '-h': case '--help':
        process.stdout.write(`usage: node fuzz/run.mjs --minutes N --seed S [--cases K] [--out DIR] [--jobs J] [--small] [--classes ${CLASSES.join(',')}] [--replay I,J] [--keep N|all] [--start I]\n`);
        process.exit(0);
      default: throw new Error(`unknown option ${a}`);
    }
  }
  if (o.seed === undefined) throw new Error('--seed S is required');
  if (o.minutes === undefined && o.cases === undefined && !o.replay) throw new Error('give --minutes N, --cases K or --replay I');
  return o;
}

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`fuzz/run.mjs: ${e.message}\n`);
    process.exit(2);
  }
  if (!fs.existsSync(path.join(REPO, 'fixtures/build/index.json'))) {
    process.stderr.write('fuzz/run.mjs: fixtures/build is missing; run node fixtures/build.mjs first\n');
    process.exit(2);
  }
  if (!fs.existsSync(path.join(REPO, 'dist/cli/main.js'))) {
    process.stderr.write('fuzz/run.mjs: dist/ is missing; run npx tsc -p tsconfig.json first\n');
    process.exit(2);
  }
  const res = await runFuzz(o);
  process.stdout.write(`${formatSummary(res)}\n`);
  process.exit(res.failures.length ? 1 : 0);
}

if (process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url) await main();
