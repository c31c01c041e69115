import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError } from '../errors/index.js';
import { FileSink } from './file-sink.js';
import type { EntryMeta, EntryType, LayerScan } from './types.js';

/** Options for scanning a root filesystem directory. */
export interface DirScanOptions {
  /** Decide whether to descend into a directory (cleaned relative path). Default: everything. */
  descend?: (path: string) => boolean;
  /** Decide whether to read a regular file's content (ELF sniffing, kept text). Default: everything. */
  read?: (path: string) => boolean;
  /** Stop listing after this many entries (a safety bound for host roots). */
  maxEntries?: number;
}

function typeOf(st: Awaited<ReturnType<typeof lstat>>): EntryType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return 'other';
}

async function readInto(file: string, sink: FileSink): Promise<void> {
  const s = createReadStream(file, { highWaterMark: 256 * 1024 });
  try {
    for await (const chunk of s) {
      sink.push(chunk as Buffer);
      if (!sink.needsMore) break;
    }
  } finally {
    s.destroy();
  }
}

/**
 * Walk an unpacked root filesystem (a `dir:` image such as a Charliecloud directory, or a host
 * root) into the same shape a layer scan has, so the same extractors read it. Files on disk
 * can be read partially: reading stops once every extractor has what it wants. Unreadable
 * files are warnings, not errors.
 */
export async function scanDirectory(root: string, opts: DirScanOptions = {}): Promise<LayerScan> {
  const scan: LayerScan = {
    id: null,
    index: 0,
    entries: [],
    whiteouts: [],
    opaques: [],
    results: {},
    warnings: [],
    bytes: { stored: 0, tar: 0 },
    compression: 'dir',
  };
  try {
    const st = await lstat(root);
    if (!st.isDirectory()) throw new NotFoundError(`${root} is not a directory`, root);
  } catch (e) {
    if (e instanceof NotFoundError) throw e;
    throw new NotFoundError(`no such directory: ${root}`, root);
  }
  const max = opts.maxEntries ?? Infinity;
  const stack: string[] = [''];
  while (stack.length) {
    const rel = stack.pop()!;
    let names: string[];
    try {
      names = (await readdir(join(root, rel))).sort();
    } catch (e) {
      scan.warnings.push({ code: 'unreadable', message: `cannot list /${rel}: ${(e as Error).message}`, path: rel, layer: null });
      continue;
    }
    for (const name of names) {
      if (scan.entries.length >= max) {
        scan.warnings.push({ code: 'too-many-entries', message: `stopped after ${max} entries under ${root}`, layer: null });
        return scan;
      }
      const path = rel ? `${rel}/${name}` : name;
      const full = join(root, path);
      let st;
      try {
        st = await lstat(full);
      } catch {
        continue;
      }
      const type = typeOf(st);
      const meta: EntryMeta = { path, type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: type === 'file' ? st.size : 0 };
      if (type === 'symlink') {
        try {
          meta.linkname = await readlink(full);
        } catch {
          /* unreadable link: keep it dangling */
        }
      }
      scan.entries.push(meta);
      if (type === 'dir') {
        if (!opts.descend || opts.descend(path)) stack.push(path);
      } else if (type === 'file' && st.size > 0 && (!opts.read || opts.read(path))) {
        const sink = new FileSink(path);
        try {
          await readInto(full, sink);
          const r = sink.finish();
          if (r) {
            scan.results[path] = r;
            if (r.elfError && r.elfError !== 'not an ELF file') {
              scan.warnings.push({ code: 'corrupt-elf', message: `corrupt ELF file ${path}: ${r.elfError}`, path, layer: null });
            }
          }
          scan.bytes.tar += st.size;
        } catch (e) {
          scan.warnings.push({ code: 'unreadable', message: `cannot read /${path}: ${(e as Error).message}`, path, layer: null });
        }
      }
    }
  }
  return scan;
}
