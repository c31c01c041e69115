import { readCapped } from './paths.js';

const MAGIC = 'glibc-ld.so.cache1.1';
const HEADER = 48;
const ENTRY = 24;

/**
 * Library paths registered in glibc's loader cache (`/etc/ld.so.cache`, the "new" format every
 * glibc since 2.32 writes, also found after the old table in older caches). Offsets are checked
 * against the file; a malformed cache yields what could be read.
 */
export function parseLdCache(buf: Buffer): string[] {
  const p = buf.indexOf(MAGIC, 0, 'latin1');
  if (p < 0 || p + HEADER > buf.length) return [];
  const nlibs = buf.readUInt32LE(p + 20);
  const out: string[] = [];
  for (let i = 0; i < nlibs && i < 100_000; i++) {
    const e = p + HEADER + i * ENTRY;
    if (e + ENTRY > buf.length) break;
    const value = buf.readUInt32LE(e + 8);
    const start = p + value;
    if (start >= buf.length) continue;
    const end = buf.indexOf(0, start);
    if (end < 0 || end - start > 4096) continue;
    const path = buf.toString('utf8', start, end);
    if (path.startsWith('/')) out.push(path);
  }
  return out;
}

/** Directories named by the loader cache of a root (relative to it, no leading slash). */
export async function ldCacheDirs(root: string): Promise<string[]> {
  const r = await readCapped(`${root.replace(/\/$/, '')}/etc/ld.so.cache`, 16 * 1024 * 1024);
  if (r.kind !== 'ok') return [];
  const dirs = new Set<string>();
  for (const p of parseLdCache(r.data)) dirs.add(p.slice(1, p.lastIndexOf('/')));
  return [...dirs];
}
