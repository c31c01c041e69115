/**
 * Hashes already verified, so that checking an image in Charliecloud storage a second time reads
 * only what changed since: for every regular file of the unpacked tree and every kept layer blob,
 * its stat identity (src/image/rootfs.ts `statIdentity`: device, inode, size, mtime and ctime in
 * ns) and the hash it had. A file whose identity differs is read and hashed again; one that holds
 * is taken as unchanged, as git's index does. Files changed in the last two seconds before the
 * cache is written are left out (a write in the same clock tick would keep the identity: git's
 * "racy" case).
 *
 * Kept next to the pull record (`<N>.hashes.gz`), written atomically; a cache, not data: a missing,
 * unreadable or foreign one only means everything is hashed again. `rehash: true` ignores it.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { writeAtomic } from '../cache/atomic.js';
import type { HashReuse } from '../image/rootfs.js';

const FORMAT = 'containerspec-verified-hashes';
const VERSION = 1;
/** A file changed this recently (ms) before the write is not remembered. */
const RACY_MS = 2000;

type Known = Map<string, { identity: string; hash: string; ctimeMs: number }>;

/** The verified hashes of one pulled image: its tree's files and its kept blobs. */
export class HashCache {
  private readonly tree: Known = new Map();
  private readonly blobs: Known = new Map();
  private dirty = false;

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
      fill(c.tree, j.tree);
      fill(c.blobs, j.blobs);
    } catch {
      // none yet, or unreadable: hash everything
    }
    return c;
  }

  /** An empty cache that is never written (`rehash`). */
  static none(): HashCache {
    return new HashCache('', '');
  }

  /** What the tree listing may reuse. */
  get treeReuse(): HashReuse {
    return reuseOf(this.tree, () => (this.dirty = true));
  }

  /** The digest known for a blob file while its identity holds. */
  blob(file: string, identity: string): string | undefined {
    const k = this.blobs.get(file);
    return k && k.identity === identity ? k.hash : undefined;
  }

  /** Remember a blob file's verified digest. */
  rememberBlob(file: string, identity: string, hash: string, ctimeMs: number): void {
    const k = this.blobs.get(file);
    if (!k || k.identity !== identity || k.hash !== hash) {
      this.blobs.set(file, { identity, hash, ctimeMs });
      this.dirty = true;
    }
  }

  /**
   * Write what was verified, when anything new was (call only after verification passed). A failed
   * write costs only a re-hash next time, so it is not an error.
   */
  save(now = Date.now()): void {
    if (!this.dirty || this.file === '') return;
    const settled = (m: Known) => Object.fromEntries([...m].filter(([, k]) => k.ctimeMs < now - RACY_MS).map(([p, k]) => [p, [k.identity, k.hash, k.ctimeMs]]));
    try {
      writeAtomic(this.file, gzipSync(JSON.stringify({ format: FORMAT, version: VERSION, treeDigest: this.treeDigest, tree: settled(this.tree), blobs: settled(this.blobs) })));
      this.dirty = false;
    } catch {
      // a cache: next time hashes again
    }
  }
}

function fill(into: Known, from: unknown): void {
  if (typeof from !== 'object' || from === null) return;
  for (const [path, v] of Object.entries(from as Record<string, unknown>)) {
    if (Array.isArray(v) && typeof v[0] === 'string' && typeof v[1] === 'string' && typeof v[2] === 'number') into.set(path, { identity: v[0], hash: v[1], ctimeMs: v[2] });
  }
}

function reuseOf(known: Known, changed: () => void): HashReuse {
  return {
    get: (path, identity) => {
      const k = known.get(path);
      return k && k.identity === identity ? k.hash : undefined;
    },
    seen: (path, identity, hash, ctimeMs) => {
      const k = known.get(path);
      if (!k || k.identity !== identity || k.hash !== hash) {
        known.set(path, { identity, hash, ctimeMs });
        changed();
      }
    },
  };
}
