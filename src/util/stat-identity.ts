import type { BigIntStats } from 'node:fs';

/**
 * A file's stat identity: device, inode, size, and modification and change times in nanoseconds.
 * While it holds, the file's content is taken to be unchanged (as git's index and rsync do): any
 * write or chmod moves the change time, which only the clock can set back.
 */
export function statIdentity(st: Pick<BigIntStats, 'dev' | 'ino' | 'size' | 'mtimeNs' | 'ctimeNs'>): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/**
 * A change this recent (ms) before `now` may share a clock tick with a later one that keeps the
 * identity (git's "racy" case): what it vouches for is not remembered.
 */
export const RACY_MS = 2000;

/** Whether the change time an identity holds lies at least {@link RACY_MS} before `now` (ms since the epoch). */
export function settledAt(identity: string, now: number): boolean {
  return BigInt(identity.slice(identity.lastIndexOf(':') + 1)) <= BigInt(now - RACY_MS) * 1_000_000n;
}
