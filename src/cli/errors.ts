import { ContainerspecError, oneLine } from '../errors/index.js';

/**
 * The one top-level handler: a ContainerspecError is the user's to fix and prints as one
 * line with exit status 2; anything else is a bug and prints its stack (exit status 70).
 */
export function reportError(e: unknown, prog: string): number {
  if (e instanceof ContainerspecError) {
    process.stderr.write(`${prog}: ${oneLine(e.message)}\n`);
    return e.exitCode;
  }
  const err = e as { code?: string; message?: string } | null;
  if (err && typeof err.code === 'string' && err.code.startsWith('commander.')) {
    return 2; // commander printed its own message
  }
  process.stderr.write(`${prog}: internal error (please report): ${(e as Error)?.stack ?? String(e)}\n`);
  return 70;
}
