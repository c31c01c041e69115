/**
 * The layer-facts cache: layer scans by layer digest (and the diff_id checked, and the fingerprint
 * of what decides a scan), and small blobs (manifests, configs) by digest, in one directory.
 *
 * It only ever holds what was verified: callers put a scan only after the walker checked the layer's
 * digest, and a blob only when its bytes hash to its digest (checked again here). Entries are
 * written atomically. A cache that cannot be read or written never fails an inspect: a bad entry is
 * a miss (and is removed), and the first failed write turns writing off with one warning.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors/index.js';
import type { LayerScan } from '../layers/types.js';
import { writeAtomic } from './atomic.js';
import { blobEntryPath, bytesMatch } from './blob-entry.js';
import { defaultCacheDir } from './dir.js';
import { decodeImageEntry, encodeImageEntry, imageEntryPath, type ImageKey } from './image-entry.js';
import { decodeLayerEntry, encodeLayerEntry, layerEntryPath, type CachedScan, type LayerKey } from './layer-entry.js';
import type { ImageFacts } from '../model/facts.js';

/** Options for {@link openCache}. */
export interface CacheOptions {
  /** The cache directory; default {@link defaultCacheDir}. */
  dir?: string | undefined;
  /** True when the user named the directory (`--cache-dir`): one that is not a directory is then a UsageError. */
  explicit?: boolean | undefined;
  /** Told once when the cache cannot be written (or read), with why; the inspect goes on without it. */
  onWarning?: ((message: string) => void) | undefined;
}

/** What one process did with the cache, for progress and tests. */
export interface CacheStats {
  hits: number;
  misses: number;
  writes: number;
  /** Entries found corrupt, foreign or for another key, and removed. */
  dropped: number;
}

/** Largest blob entry read back (manifests and configs are far smaller). */
const MAX_BLOB_BYTES = 64 * 1024 * 1024;

/** The [Cache Directory Tagging](https://bford.info/cachedir/) file: backup tools skip the directory. */
const CACHEDIR_TAG = 'Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by containerspec.\n# For information about cache directory tags, see https://bford.info/cachedir/\n';

const errText = (e: unknown) => {
  const err = e as NodeJS.ErrnoException;
  return err?.code ? `${err.code}${err.path ? ` ${err.path}` : ''}` : String((e as Error)?.message ?? e);
};

/** The layer-facts and blob cache in one directory (see the module comment; open with {@link openCache}). */
export class FactsCache {
  /** What this process did with the cache. */
  readonly stats: CacheStats = { hits: 0, misses: 0, writes: 0, dropped: 0 };
  private canWrite: boolean;
  private warned = false;

  /** Use {@link openCache}; this constructor does no I/O. */
  constructor(
    /** The cache directory. */
    readonly dir: string,
    writable: boolean,
    private readonly onWarning: (message: string) => void = () => {},
  ) {
    this.canWrite = writable;
  }

  /** False once a write failed (or the directory could not be made): the cache is then only read. */
  get writable(): boolean {
    return this.canWrite;
  }

  /** Where the entry for a layer key lives (for tests and `cache` commands). */
  layerPath(key: LayerKey): string {
    return layerEntryPath(this.dir, key);
  }

  /** Where the blob named `digest` lives, or null for a string that is not a digest. */
  blobPath(digest: string): string | null {
    return blobEntryPath(this.dir, digest);
  }

  /**
   * The cached scan of a layer, with `index` set to the layer's position in the image, or null on a
   * miss. An entry that is not a well-formed entry for exactly this key is removed and is a miss. A
   * hit touches the entry's mtime, so that pruning drops the least recently used first.
   */
  getScan(key: LayerKey, index = 0): CachedScan | null {
    return this.get(layerEntryPath(this.dir, key), Infinity, (data) => decodeLayerEntry(data, key, index));
  }

  /**
   * Keep a layer's scan under `key`: call only after the walker verified the layer (a scan that
   * threw is never put). `tarEntries` is what the entries limit counted for the layer. Returns
   * whether the entry was written; a failure is never thrown.
   */
  putScan(key: LayerKey, scan: LayerScan, tarEntries: number): boolean {
    if (scan.id !== key.digest || scan.compression === 'dir') return false;
    return this.write(layerEntryPath(this.dir, key), () => encodeLayerEntry(key, scan, tarEntries));
  }

  /**
   * The facts of a whole image by manifest digest (made under the same fingerprint and limits), or
   * null on a miss; a bad entry is removed and is a miss. A hit touches the entry.
   */
  getFacts(key: ImageKey): ImageFacts | null {
    return this.get(imageEntryPath(this.dir, key), Infinity, (data) => decodeImageEntry(data, key));
  }

  /** Keep an image's facts: call only after every layer verified and the facts were made. A failure is never thrown. */
  putFacts(key: ImageKey, facts: ImageFacts): boolean {
    if (facts.digest !== key.digest) return false;
    return this.write(imageEntryPath(this.dir, key), () => encodeImageEntry(key, facts));
  }

  /**
   * The bytes of a blob by digest (a manifest or config seen before), or null on a miss. Bytes that
   * do not hash to the digest are removed and are a miss.
   */
  getBlob(digest: string): Buffer | null {
    const file = blobEntryPath(this.dir, digest);
    if (file === null) return null;
    return this.get(file, MAX_BLOB_BYTES, (data) => (bytesMatch(data, digest) ? data : null));
  }

  /**
   * Keep a blob's bytes under its digest. Bytes that do not hash to `digest` are not kept (the cache
   * holds verified bytes only). Returns whether the entry was written; a failure is never thrown.
   */
  putBlob(digest: string, data: Buffer): boolean {
    const file = blobEntryPath(this.dir, digest);
    if (file === null || data.length > MAX_BLOB_BYTES || !bytesMatch(data, digest)) return false;
    // A manifest asked for by tag comes back on every run: an entry of its size is kept as it is
    // (touched), not written again; its bytes are checked against the digest whenever it is read.
    if (this.sizeOf(file) === data.length) {
      this.touch(file);
      return true;
    }
    return this.write(file, () => data);
  }

  private sizeOf(file: string): number | null {
    try {
      return statSync(file).size;
    } catch {
      return null;
    }
  }

  /**
   * Read an entry and decode it: a missing entry is a miss; one that does not decode (null) is
   * removed and is a miss; a hit touches the entry's mtime (least recently used goes first).
   */
  private get<T>(file: string, max: number, decode: (data: Buffer) => T | null): T | null {
    const data = this.read(file, max);
    if (data === null) return this.miss();
    const hit = decode(data);
    if (hit === null) {
      this.drop(file);
      return this.miss();
    }
    this.touch(file);
    this.stats.hits++;
    return hit;
  }

  private miss(): null {
    this.stats.misses++;
    return null;
  }

  /** An entry's bytes, or null when there is none (or it cannot be read: warned once). */
  private read(file: string, max = Infinity): Buffer | null {
    try {
      if (max !== Infinity && statSync(file).size > max) return null;
      return readFileSync(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException)?.code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') this.warn(`cannot read the cache entry (${errText(e)})`);
      return null;
    }
  }

  private write(file: string, bytes: () => string | Buffer): boolean {
    if (!this.canWrite) return false;
    try {
      writeAtomic(file, bytes());
      this.stats.writes++;
      return true;
    } catch (e) {
      this.canWrite = false;
      this.warn(`cannot write to the cache in ${this.dir} (${errText(e)}); going on without storing layer facts`);
      return false;
    }
  }

  private drop(file: string): void {
    this.stats.dropped++;
    try {
      rmSync(file, { force: true });
    } catch {
      /* a read-only cache keeps its bad entry; it stays a miss */
    }
  }

  private touch(file: string): void {
    if (!this.canWrite) return;
    try {
      const now = new Date();
      utimesSync(file, now, now);
    } catch {
      /* another process pruned it, or the cache is read-only: the hit stands */
    }
  }

  private warn(message: string): void {
    if (this.warned) return;
    this.warned = true;
    this.onWarning(message);
  }
}

/**
 * Open the cache directory, creating it (and its CACHEDIR.TAG) when missing. A directory that cannot
 * be made or written is still read (a shared read-only cache works) and writes are skipped, with one
 * warning. An explicit directory (`--cache-dir`) that exists and is not a directory, or lies under a
 * file, is a UsageError.
 */
export function openCache(opts: CacheOptions = {}): FactsCache {
  const dir = opts.dir ?? defaultCacheDir();
  const warn = opts.onWarning ?? (() => {});
  const notDir = () => new UsageError(`--cache-dir ${dir}: not a directory`);
  try {
    mkdirSync(dir, { recursive: true });
    const st = statSync(dir);
    if (!st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException)?.code;
    if ((code === 'ENOTDIR' || code === 'EEXIST') && opts.explicit) throw notDir();
    warn(`cannot use the cache directory ${dir} (${errText(e)}); going on without a cache`);
    return new FactsCache(dir, false, () => {});
  }
  const cache = new FactsCache(dir, true, warn);
  tagCacheDir(dir);
  return cache;
}

/** Write CACHEDIR.TAG once (best effort: a read-only directory gets none). */
function tagCacheDir(dir: string): void {
  const tag = join(dir, 'CACHEDIR.TAG');
  try {
    const fd = openSync(tag, 'wx', 0o644);
    try {
      writeFileSync(fd, CACHEDIR_TAG);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* there already, or not writable */
  }
}
