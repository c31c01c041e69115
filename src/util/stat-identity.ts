import type { BigIntStats } from 'node:fs';

/**
 * A file's stat identity: device, inode, size, and modification and change times in nanoseconds.
 * While it holds, the file's content is taken to be unchanged (as git's index and rsync do): any
 * write or chmod moves the change time, which only the clock can set back.
 */
export function statIdentity(st: Pick<BigIntStats, 'dev' | 'ino' | 'size' | 'mtimeNs' | 'ctimeNs'>): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}
