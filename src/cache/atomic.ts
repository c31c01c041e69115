/**
 * Atomic writes: an entry is written to a temporary file in its own directory, then renamed over
 * its final name. A reader sees the old entry, the new one, or none, never half of one; two
 * processes writing the same entry both succeed and the last rename wins (both wrote the same
 * facts). No fsync: an entry cut short by a crash is read as a miss and removed.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** What every temporary file's name holds after the final name: `NAME.tmp-PID-RANDOM`. */
export const TEMP_MARK = '.tmp-';

/** A unique temporary name next to `file` (process id and 48 random bits). */
export function tempNameFor(file: string): string {
  return join(dirname(file), `${basename(file)}${TEMP_MARK}${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** Whether a file name is one of {@link tempNameFor}'s. */
export function isTempName(name: string): boolean {
  return /\.tmp-\d+-[0-9a-f]{12}$/.test(name);
}

/**
 * Write `data` to `file` atomically, creating its directory. Throws the file system's error (the
 * temporary file is removed first); the callers decide what a failed cache write means.
 */
export function writeAtomic(file: string, data: string | Buffer): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = tempNameFor(file);
  try {
    writeFileSync(tmp, data, { flag: 'wx', mode: 0o644 });
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
