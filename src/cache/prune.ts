/**
 * `containerspec cache prune`: keep the cache under a size by removing the least recently used
 * entries first (an entry's mtime is touched on every hit), and sweep temporary files left by
 * writers that died. Only what the cache itself writes is ever removed: files under `layers/` and
 * `blobs/` named like entries or temporary files; symlinks are not followed.
 */
import { lstatSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors/index.js';
import { isTempName } from './atomic.js';

/** The default bound of `cache prune` without `--max-size`: 1 GiB. */
export const DEFAULT_MAX_CACHE_BYTES = 1024 ** 3;

/** A temporary file older than this (ms) belongs to a writer that is gone. */
export const STALE_TEMP_MS = 60 * 60 * 1000;

/** Options for {@link pruneCache}. */
export interface PruneOptions {
  /** Keep at most this many bytes of entries. */
  maxBytes: number;
  /** The time to judge temporary files' age by (ms since the epoch); default now. */
  now?: number | undefined;
}

/** What {@link pruneCache} did. */
export interface PruneResult {
  /** Files removed: entries and stale temporary files. */
  removed: number;
  removedBytes: number;
  /** Entries left, and their bytes. */
  kept: number;
  keptBytes: number;
}

interface Found {
  path: string;
  size: number;
  mtimeMs: number;
}

const ENTRY_NAME = /^[a-f0-9]{64,128}(@[a-z0-9-]+\.json)?$/;

/** Every regular file under `dir`, and the directories (deepest first) for the empty-directory sweep. */
function walk(dir: string, files: Found[], temps: Found[], dirs: string[]): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const p = join(dir, name);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue; // removed meanwhile
    }
    if (st.isDirectory()) {
      walk(p, files, temps, dirs);
      dirs.push(p);
    } else if (st.isFile()) {
      const f = { path: p, size: st.size, mtimeMs: st.mtimeMs };
      if (isTempName(name)) temps.push(f);
      else if (ENTRY_NAME.test(name)) files.push(f);
    }
  }
}

/**
 * Remove least recently used entries until the entries left take at most `maxBytes`, and
 * temporary files older than an hour; then remove directories left empty. Entries of old formats
 * and fingerprints are entries like any other: unused, they go first. Never throws for a file that
 * vanished or cannot be removed (it is counted as kept).
 */
export function pruneCache(dir: string, opts: PruneOptions): PruneResult {
  if (!Number.isSafeInteger(opts.maxBytes) || opts.maxBytes < 0) throw new UsageError(`cache prune: a size is a whole number of bytes >= 0, not ${opts.maxBytes}`);
  const now = opts.now ?? Date.now();
  const files: Found[] = [];
  const temps: Found[] = [];
  const dirs: string[] = [];
  for (const top of ['layers', 'images', 'blobs']) walk(join(dir, top), files, temps, dirs);
  const out: PruneResult = { removed: 0, removedBytes: 0, kept: 0, keptBytes: 0 };
  const remove = (f: Found): boolean => {
    try {
      rmSync(f.path);
    } catch (e) {
      return (e as NodeJS.ErrnoException)?.code === 'ENOENT'; // gone already: as good as removed
    }
    out.removed++;
    out.removedBytes += f.size;
    return true;
  };
  for (const t of temps) if (now - t.mtimeMs > STALE_TEMP_MS) remove(t);
  // Oldest first; the path breaks ties so the order is the same on every run.
  files.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  let total = files.reduce((n, f) => n + f.size, 0);
  for (const f of files) {
    if (total > opts.maxBytes && remove(f)) {
      total -= f.size;
      continue;
    }
    out.kept++;
    out.keptBytes += f.size;
  }
  for (const d of dirs) {
    try {
      rmdirSync(d); // only succeeds when empty
    } catch {
      /* not empty, or in use */
    }
  }
  return out;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * A size as `--max-size` takes it: bytes (`1048576`), or a number with a binary unit `k`, `M`, `G`,
 * `T` (any case, optionally followed by `B` or `iB`: `500M`, `2GiB`, `1.5G`, `10k`). Anything else
 * is a UsageError.
 */
export function parseSize(s: string, option = '--max-size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|(b)?)\s*$/i.exec(s);
  const bad = () => new UsageError(`${option} ${JSON.stringify(s)}: expected a size such as 1048576 (bytes), 10k, 500M or 2G`);
  if (!m) throw bad();
  const unit = (m[2] ?? m[3] ?? '').toLowerCase();
  const n = Math.floor(Number(m[1]) * UNITS[unit]!);
  if (!Number.isSafeInteger(n)) throw bad();
  return n;
}
