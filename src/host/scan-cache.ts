/**
 * What a host root's library scan found (libc, MPI, CUDA, os-release: the part of host facts read
 * from files), kept so that the next `host`, `check` or `runspec commit` on the same host does not
 * read them again while nothing they came from changed. An entry lists every path the scan
 * depended on (each directory listed, each file read: `scanTree`'s `touched`) with its stat
 * identity (device, inode, size, mtime and ctime in ns: src/util/stat-identity.ts); it is
 * used only when every one of them still has that identity. A library installed, removed,
 * replaced or upgraded changes its directory (a new entry, a rename) or the file itself. An entry
 * whose paths changed in the last 2 s before it was written is not written (a change in the same
 * clock tick would keep the identity: git's "racy" case).
 *
 * Entries live in the cache directory (`$XDG_CACHE_HOME/containerspec/host/`), one per root and
 * set of library directories, written atomically; a cache: a missing, unreadable, foreign or stale
 * entry only means the scan runs. Facts are the same with or without it.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeAtomic } from '../cache/atomic.js';
import { buildStamp, SCAN_LIMITS } from '../cache/fingerprint.js';
import { PACKAGE_VERSION } from '../cache/version.js';
import { settledAt, statIdentity } from '../util/stat-identity.js';
import { limit } from '../limits.js';
import type { HostFacts } from '../model/facts.js';

/** The entry layout; raise it when what an entry holds changes. */
const FORMAT = 1;

/** The file-derived part of host facts. */
export type RootScan = Pick<HostFacts, 'platform' | 'os' | 'libc' | 'mpi' | 'cuda' | 'stats' | 'warnings'>;

/** One root's scan, as kept. */
interface Entry {
  format: number;
  key: string;
  /** Root-relative path and its stat identity (`-` when it did not exist). */
  touched: [string, string][];
  scan: RootScan;
}

/** The stat identity of a path now, `-` when there is none. */
function identityOf(abs: string): string {
  try {
    return statIdentity(lstatSync(abs, { bigint: true }));
  } catch {
    return '-';
  }
}

/** A cache of host root scans in `dir` (a containerspec cache directory). */
export class RootScanCache {
  constructor(private readonly dir: string) {}

  /**
   * The key of a scan of `root` over `libDirs` for `machine` (and where it was read), by this build (its release and build
   * stamp fix the extractors and their wants) under the walker's limits in effect: the same inputs
   * make the same scan, so an entry is used only under its own key.
   */
  static key(root: string, libDirs: readonly string[], machine: { machine: string | null; source: string }): string {
    const limits = Object.fromEntries(SCAN_LIMITS.map((k) => [k, limit(k)]));
    return createHash('sha256').update(JSON.stringify({ format: FORMAT, version: PACKAGE_VERSION, build: buildStamp(), limits, root, libDirs: [...libDirs].sort(), machine })).digest('hex');
  }

  private file(key: string): string {
    return join(this.dir, 'host', `${key}.json`);
  }

  /** The kept scan of `root` under `key`, when every path it depended on is unchanged; else null. */
  get(root: string, key: string): RootScan | null {
    let e: Entry;
    try {
      e = JSON.parse(readFileSync(this.file(key), 'utf8')) as Entry;
    } catch {
      return null;
    }
    if (e.format !== FORMAT || e.key !== key || !Array.isArray(e.touched) || typeof e.scan !== 'object' || e.scan === null) return null;
    for (const [rel, id] of e.touched) if (identityOf(join(root, rel)) !== id) return null;
    return e.scan;
  }

  /**
   * Keep `scan` of `root` under `key`, with the identities of the paths it `touched` as they are
   * now. Not written when one of them changed within the last 2 s; a failed write is not an error.
   */
  put(root: string, key: string, touched: Iterable<string>, scan: RootScan, now = Date.now()): boolean {
    const list: [string, string][] = [];
    for (const rel of new Set(touched)) {
      const id = identityOf(join(root, rel));
      if (id !== '-' && !settledAt(id, now)) return false;
      list.push([rel, id]);
    }
    try {
      writeAtomic(this.file(key), JSON.stringify({ format: FORMAT, key, touched: list, scan } satisfies Entry));
      return true;
    } catch {
      return false;
    }
  }
}
