/**
 * Build the CLI once (shared by test files running in parallel) and run it as a real process.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

/** The repository root. */
export const REPO = fileURLToPath(new URL('../..', import.meta.url));

const key = createHash('sha256').update(REPO).digest('hex').slice(0, 12);
const LOCK = join(tmpdir(), `containerspec-tsc-${key}.lock`);
const STAMP = join(tmpdir(), `containerspec-tsc-${key}.stamp`);

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Wait for an exclusive lock (an atomic mkdir); a lock older than 5 minutes is stale. */
export async function withLock<T>(lock: string, fn: () => Promise<T> | T): Promise<T> {
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      try {
        if (Date.now() - statSync(lock).mtimeMs > 300_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        /* gone already */
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * `tsc -p tsconfig.json` into dist/, once for all test files: skipped when a build by this helper
 * finished after the newest file in src/ changed. Type errors (others may be editing src/) are
 * printed; a build that leaves no dist/cli/main.js throws.
 */
export async function buildCli(): Promise<void> {
  await withLock(LOCK, () => {
    const srcNewest = Math.max(newestMtime(join(REPO, 'src')), statSync(join(REPO, 'tsconfig.json')).mtimeMs);
    const built = existsSync(STAMP) ? Number(readFileSync(STAMP, 'utf8')) : 0;
    if (built > srcNewest && existsSync(join(REPO, 'dist/cli/main.js'))) return;
    const started = Date.now();
    const r = spawnSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 240_000,
    });
    if (r.status !== 0) console.warn(`tsc reported problems (the tests use what it emitted):\n${r.stdout}${r.stderr}`);
    if (!existsSync(join(REPO, 'dist/cli/main.js'))) throw new Error(`tsc produced no dist/cli/main.js:\n${r.stdout}${r.stderr}`);
    writeFileSync(STAMP, String(started));
  });
}

export interface CliResult {
  /** Exit status; null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Run `bin/<bin>.js ARGS` (default cwd: the repository root), with colour off and stdin closed (or
 * fed `input`). `env` is added to this process's environment. Unless `env` names a cache directory,
 * each run gets an empty layer-facts cache of its own (removed afterwards), so that no run sees
 * another's cached facts.
 */
export function runCli(args: string[], opts: { bin?: 'containerspec' | 'can-i-run'; cwd?: string; timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const bin = join(REPO, 'bin', `${opts.bin ?? 'containerspec'}.js`);
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...(opts.env ?? {}) };
  delete env.NODE_OPTIONS;
  let ownCache: string | null = null;
  if (!opts.env?.CONTAINERSPEC_CACHE_DIR) env.CONTAINERSPEC_CACHE_DIR = ownCache = mkdtempSync(join(tmpdir(), 'cs-cli-cache-'));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: opts.cwd ?? REPO, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (ownCache) rmSync(ownCache, { recursive: true, force: true });
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Assert the shape of a CLI error: exactly one line on stderr, `<prog>: ...`, no stack trace. */
export function errorLine(r: CliResult, prog = 'containerspec'): string {
  const all = lines(r.stderr);
  if (all.length !== 1) throw new Error(`expected one stderr line, got ${all.length}:\n${r.stderr}`);
  const line = all[0]!;
  if (!line.startsWith(`${prog}: `)) throw new Error(`stderr line does not start with "${prog}: ": ${line}`);
  if (/\bat .*\(.*:\d+:\d+\)/.test(r.stderr) || line.includes('internal error')) throw new Error(`stack trace or internal error: ${line}`);
  return line;
}

/** The non-empty lines of a stream. */
export function lines(s: string): string[] {
  return s.split('\n').filter((l) => l.trim() !== '');
}

/** A readable dump of a CLI result for assertion messages. */
export function show(r: CliResult): string {
  return `exit ${r.code ?? r.signal}\n--- stdout ---\n${r.stdout.slice(0, 2000)}\n--- stderr ---\n${r.stderr.slice(0, 2000)}`;
}

/**
 * The CLI's contract for bad input: exit status 2, nothing on stdout, exactly one line on stderr
 * starting `containerspec: `, and no stack trace. Returns that line.
 */
export function expectOneLineError(r: CliResult): string {
  expect(r.code, show(r)).toBe(2);
  const line = errorLine(r);
  // Under --json the error is also on stdout as the error JSON (schemas/error-1.0.schema.json), with the same message.
  if (r.stdout !== '') expect(errorJson(r).error.message, show(r)).toBe(line.slice(line.indexOf(': ') + 2));
  return line;
}

/** The error JSON a command run with --json printed on stdout (throws when stdout is not one). */
export function errorJson(r: CliResult): { schemaVersion: string; error: { kind: string; message: string; where: string | null } } {
  const doc = JSON.parse(r.stdout) as { schemaVersion: string; error: { kind: string; message: string; where: string | null } };
  if (doc.schemaVersion !== '1.0' || typeof doc.error?.message !== 'string') throw new Error(`not an error JSON: ${r.stdout.slice(0, 500)}`);
  return doc;
}
