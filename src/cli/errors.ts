import { CommanderError } from 'commander';
import { ContainerspecError, oneLine } from '../errors/index.js';

/** Commander's codes for output that is not an error (help, version). */
const NOT_ERRORS = new Set(['commander.helpDisplayed', 'commander.version', 'commander.help', 'commander.executeSubCommandAsync']);

/**
 * The one top-level handler. Every error class carries its exit status: a ContainerspecError is the
 * user's to fix and prints as one line with its status (2 for bad input); a command-line error from
 * the parser prints one line and exits 2; help and version exit 0; anything else is a bug and
 * prints its stack (exit status 70).
 */
export function reportError(e: unknown, prog: string): number {
  if (e instanceof ContainerspecError) {
    process.stderr.write(`${prog}: ${oneLine(e.message)}\n`);
    return e.exitCode;
  }
  if (e instanceof CommanderError) {
    if (NOT_ERRORS.has(e.code)) return 0;
    process.stderr.write(`${prog}: ${oneLine(e.message.replace(/^error: /, '').split('\n')[0] ?? '')} (see ${prog} --help)\n`);
    return 2;
  }
  process.stderr.write(`${prog}: internal error (please report): ${(e as Error)?.stack ?? String(e)}\n`);
  return 70;
}
