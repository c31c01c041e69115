/**
 * Run the real `containerspec` command (bin/containerspec.js over dist/) as a child process.
 *
 * `ensureCliBuilt()` compiles src/ to dist/ once per change of src/ (helpers/cli.ts buildCli: one
 * lock for all test files running in parallel).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';
import { buildCli } from './cli.js';
import { REPO } from './fixture-set.js';

export const BIN = join(REPO, 'bin', 'containerspec.js');

export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
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

/** Compile src/ to dist/ unless an up-to-date build exists (one build, one lock, shared with helpers/cli.ts). */
export async function ensureCliBuilt(): Promise<void> {
  await buildCli();
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
