/**
 * Run the real `containerspec` command (bin/containerspec.js over dist/) as a child process.
 *
 * `ensureCliBuilt()` compiles src/ to dist/ with tsc once per change of src/: test files run in
 * parallel workers, so the build is serialised with a lock directory and skipped when a build
 * that started after the newest src/ change already finished.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { REPO } from './fixture-set.js';

export const BIN = join(REPO, 'bin', 'containerspec.js');
const TSC = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
const KEY = createHash('sha256').update(REPO).digest('hex').slice(0, 12);
const LOCK = join(tmpdir(), `containerspec-test-build-${KEY}.lock`);
const STAMP = join(tmpdir(), `containerspec-test-build-${KEY}.stamp`);

export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    newest = Math.max(newest, d.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function pidAlive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function withLock<T>(fn: () => Promise<T>, timeoutMs = 5 * 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(join(LOCK, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let pid = 0;
      try {
        pid = Number(readFileSync(join(LOCK, 'pid'), 'utf8')) || 0;
      } catch {
        /* being created or removed */
      }
      if (pid && !pidAlive(pid)) rmSync(LOCK, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`timed out waiting for the build lock ${LOCK} (pid ${pid})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number; input?: string } = {}): Promise<CliResult> {
  return new Promise((res, rej) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };
    delete env.NODE_OPTIONS;
    const child = spawn(cmd, args, { cwd: opts.cwd ?? REPO, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      res({ status, signal, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Compile src/ to dist/ unless an up-to-date build exists. Type errors are warned about, not fatal. */
export async function ensureCliBuilt(): Promise<void> {
  await withLock(async () => {
    const srcNewest = newestMtime(join(REPO, 'src'));
    const stampTime = existsSync(STAMP) ? Number(readFileSync(STAMP, 'utf8')) || 0 : 0;
    if (existsSync(join(REPO, 'dist', 'cli', 'main.js')) && stampTime > srcNewest) return;
    const started = Date.now();
    const r = await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { timeoutMs: 5 * 60_000 });
    if (r.status !== 0) {
      console.warn(`tsc -p tsconfig.json exited ${r.status}; testing the JavaScript it emitted anyway:\n${(r.stdout + r.stderr).split('\n').slice(0, 20).join('\n')}`);
    }
    if (!existsSync(join(REPO, 'dist', 'cli', 'main.js'))) throw new Error(`tsc produced no dist/cli/main.js:\n${r.stdout}${r.stderr}`);
    writeFileSync(STAMP, String(started));
  });
}

/** Run `containerspec ARGS...` (cwd: the repository). */
export function runCli(args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return run(process.execPath, [BIN, ...args], opts);
}

/** The non-empty lines of a stream. */
export function lines(s: string): string[] {
  return s.split('\n').filter((l) => l.trim() !== '');
}

/** A readable dump of a CLI result for assertion messages. */
export function show(r: CliResult): string {
  return `exit ${r.status ?? r.signal}\n--- stdout ---\n${r.stdout.slice(0, 2000)}\n--- stderr ---\n${r.stderr.slice(0, 2000)}`;
}

/**
 * The CLI's contract for bad input: exit status 2, nothing on stdout, exactly one line on
 * stderr starting `containerspec: `, and no stack trace. Returns that line.
 */
export function expectOneLineError(r: CliResult): string {
  const errLines = lines(r.stderr);
  expect(r.status, show(r)).toBe(2);
  expect(r.stdout, show(r)).toBe('');
  expect(errLines, show(r)).toHaveLength(1);
  expect(errLines[0], show(r)).toMatch(/^containerspec: \S/);
  expect(r.stderr, show(r)).not.toMatch(/^\s+at /m);
  return errLines[0] ?? '';
}
