/**
 * Hashes already verified, so that checking an image in Charliecloud storage a second time reads
 * only what changed since: for every regular file of the unpacked tree and every kept layer blob,
 * its stat identity (src/util/stat-identity.ts: device, inode, size, mtime and ctime in ns) and the
 * hash it had. A file whose identity differs is read and hashed again; one that holds is taken as
 * unchanged, as git's index does. Files changed in the last two seconds before the cache is
 * written are left out (a write in the same clock tick would keep the identity: git's "racy" case).
 *
 * Kept next to the pull record (`<N>.hashes.gz`), written atomically; a cache, not data: a missing,
 * unreadable or foreign one only means everything is hashed again. `rehash: true` ignores it.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { writeAtomic } from '../cache/atomic.js';
import type { HashReuse } from '../image/rootfs.js';
import { settledAt } from '../util/stat-identity.js';

const FORMAT = 'containerspec-verified-hashes';
const VERSION = 1;

/** Path (or file) to its stat identity and the hash it had with it. */
type Known = Map<string, { identity: string; hash: string }>;

/** The verified hashes of one pulled image: its tree's files and its kept blobs. */
export class HashCache {
  private readonly known = { tree: new Map() as Known, blobs: new Map() as Known };
  private dirty = false;
  /** What the tree listing may reuse (root-relative paths). */
  readonly tree: HashReuse = this.reuseOf(this.known.tree);
  /** The same for the kept layer blobs (absolute file names; hashes are digests). */
  readonly blobs: HashReuse = this.reuseOf(this.known.blobs);

  private constructor(
    private readonly file: string,
    /** The tree identity the hashes belong to (the pull record's). */
    private readonly treeDigest: string,
  ) {}

  /** The cache at `file` for the tree `treeDigest`; empty when there is none, it is unreadable, or another tree's. */
  static load(file: string, treeDigest: string): HashCache {
    const c = new HashCache(file, treeDigest);
    try {
      const j = JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')) as { format?: unknown; version?: unknown; treeDigest?: unknown; tree?: unknown; blobs?: unknown };
      if (j.format !== FORMAT || j.version !== VERSION || j.treeDigest !== treeDigest) return c;
      fill(c.known.tree, j.tree);
      fill(c.known.blobs, j.blobs);
    } catch {
      // none yet, or unreadable: hash everything
    }
    return c;
  }

  /** An empty cache that is never written (`rehash`). */
  static none(): HashCache {
    return new HashCache('', '');
  }

  /**
   * Write what was verified, when anything new was (call only after verification passed). A failed
   * write costs only a re-hash next time, so it is not an error.
   */
  save(now = Date.now()): void {
    if (!this.dirty || this.file === '') return;
    const settled = (m: Known) => Object.fromEntries([...m].filter(([, k]) => settledAt(k.identity, now)).map(([p, k]) => [p, [k.identity, k.hash]]));
    try {
      writeAtomic(this.file, gzipSync(JSON.stringify({ format: FORMAT, version: VERSION, treeDigest: this.treeDigest, tree: settled(this.known.tree), blobs: settled(this.known.blobs) })));
      this.dirty = false;
    } catch {
      // a cache: next time hashes again
    }
  }

  private reuseOf(known: Known): HashReuse {
    return {
      get: (path, identity) => {
        const k = known.get(path);
        return k && k.identity === identity ? k.hash : undefined;
      },
      seen: (path, identity, hash) => {
        const k = known.get(path);
        if (!k || k.identity !== identity || k.hash !== hash) {
          known.set(path, { identity, hash });
          this.dirty = true;
        }
      },
    };
  }
}

function fill(into: Known, from: unknown): void {
  if (typeof from !== 'object' || from === null) return;
  for (const [path, v] of Object.entries(from as Record<string, unknown>)) {
    if (Array.isArray(v) && typeof v[0] === 'string' && typeof v[1] === 'string') into.set(path, { identity: v[0], hash: v[1] });
  }
}
