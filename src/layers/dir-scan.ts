import { constants, readlinkSync, type Dirent } from 'node:fs';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError } from '../errors/index.js';
import { Budget } from '../limits.js';
import { FileSink, recordResult } from './file-sink.js';
import { emptyScan, type EntryMeta, type EntryType, type FileResult, type LayerScan } from './types.js';
import { WantSet } from './wants.js';

/** Options for scanning a root filesystem directory. */
export interface DirScanOptions {
  /** Decide whether to descend into a directory (cleaned relative path). Default: everything. */
  descend?: (path: string) => boolean;
  /**
   * Stop listing after this many entries with a warning (a host root: its facts are still useful).
   * Without it the entries limit applies (through `budget`), and going past it is an error (an image).
   */
  maxEntries?: number;
  /** The image's entries budget (shared with its other layers). */
  budget?: Budget;
  /** Read owner and mode of every entry (default true); false takes types from the directory listing alone (fast, for host roots). */
  fullMetadata?: boolean;
  /** Decide whether to read a symlink's target (default: every symlink). Unread ones stay unresolved. */
  readLink?: (path: string) => boolean;
  /**
   * Told every path the scan depends on: each directory it listed (or failed to list; `''` is the
   * root) and each file whose content it read. What a scan found stays true while none of them
   * changed (src/host/scan-cache.ts relies on it).
   */
  touched?: (path: string) => void;
}

/** Entry type from an lstat result or a directory entry (both answer isFile(), isDirectory(), ...). */
function typeOf(st: Pick<Dirent, 'isFile' | 'isDirectory' | 'isSymbolicLink' | 'isCharacterDevice' | 'isBlockDevice' | 'isFIFO'>): EntryType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return 'other';
}

/** Bytes read per positional read. */
const CHUNK = 256 * 1024;

/**
 * Feed a file on disk to a sink by position: the sink says which offset it wants next, so an ELF
 * file's tables are read where they lie and the rest is skipped (a huge or sparse file costs what
 * its headers cost); text and string searches read in order, within their caps.
 */
async function readInto(file: string, size: number, sink: FileSink): Promise<void> {
  const fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (!(await fh.stat()).isFile()) throw new Error('not a regular file');
    for (;;) {
      const at = sink.nextOffset();
      if (at === null || at >= size) break;
      sink.seek(at);
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, size - at));
      const { bytesRead } = await fh.read(buf, 0, buf.length, at);
      if (bytesRead === 0) break;
      sink.push(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
      if (!sink.needsMore) break;
    }
  } finally {
    await fh.close();
  }
}

/**
 * The ELF facts of one file on disk (a `--bind` library), read by position like a dir: image's
 * files: only its headers and tables, never the whole file.
 */
export async function readElfFile(file: string, size: number): Promise<FileResult | null> {
  const sink = new FileSink(file, ELF_ONLY, size);
  await readInto(file, size, sink);
  return sink.finish(size);
}

const ELF_ONLY = new WantSet([{ owner: 'elf', wants: { elf: true } }]);

async function readFileFacts(root: string, path: string, size: number, scan: LayerScan, wants: WantSet): Promise<void> {
  const sink = new FileSink(path, wants, size);
  try {
    await readInto(join(root, path), size, sink);
    recordResult(scan, path, sink.finish(size));
    scan.bytes.tar += size;
  } catch (e) {
    scan.warnings.push({ code: 'unreadable', message: `cannot read /${path}: ${(e as Error).message}`, path, layer: null });
  }
}

/**
 * Walk an unpacked root filesystem (a `dir:` image such as a Charliecloud directory, or a host
 * root) into the same shape a layer scan has, so the same extractors read it. Files on disk
 * can be read partially: reading stops once every extractor has what it wants. Unreadable
 * files are warnings, not errors.
 */
export async function scanTree(root: string, index: number, wants: WantSet, opts: DirScanOptions = {}): Promise<LayerScan> {
  const scan = emptyScan(null, index, 'dir');
  scan.notes.push('extended attributes (ACLs) are not read from a dir: image');
  try {
    const st = await lstat(root);
    if (!st.isDirectory()) throw new NotFoundError(`${root} is not a directory`, root);
  } catch (e) {
    if (e instanceof NotFoundError) throw e;
    throw new NotFoundError(`no such directory: ${root}`, root);
  }
  const max = opts.maxEntries ?? Infinity;
  const budget = opts.maxEntries === undefined ? (opts.budget ?? new Budget('entries')) : null;
  const full_ = opts.fullMetadata ?? true;
  const stack: string[] = [''];
  while (stack.length) {
    const rel = stack.pop()!;
    let dirents: Dirent[];
    opts.touched?.(rel);
    try {
      dirents = (await readdir(join(root, rel), { withFileTypes: true })).sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    } catch (e) {
      scan.warnings.push({ code: 'unreadable', message: `cannot list /${rel}: ${(e as Error).message}`, path: rel, layer: null });
      continue;
    }
    budget?.take(root, dirents.length);
    if (scan.entries.length + dirents.length > max) {
      scan.warnings.push({ code: 'too-many-entries', message: `stopped after ${max} entries under ${root}`, layer: null });
      return scan;
    }
    // Metadata for the whole directory at once (the awaits overlap).
    const metas = await Promise.all(
      dirents.map(async (d): Promise<EntryMeta | null> => {
        const path = rel ? `${rel}/${d.name}` : d.name;
        const full = join(root, path);
        let meta: EntryMeta;
        const wantsRead = d.isFile() && wants.wantsContent(path);
        if (full_ || wantsRead) {
          const st = await lstat(full).catch(() => null);
          if (!st) return null;
          const type = typeOf(st);
          meta = { path, type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: type === 'file' ? st.size : 0 };
        } else {
          meta = { path, type: typeOf(d), mode: 0, uid: 0, gid: 0, size: 0 };
        }
        if (meta.type === 'symlink' && (!opts.readLink || opts.readLink(path))) {
          // Host roots list hundreds of library symlinks: a synchronous readlink avoids a thread-pool round trip each.
          let l: string | null = null;
          try {
            l = full_ ? await readlink(full) : readlinkSync(full);
          } catch {
            /* unreadable link: keep it dangling */
          }
          if (l !== null) meta.linkname = l;
        }
        return meta;
      }),
    );
    const reads: Promise<void>[] = [];
    for (const meta of metas) {
      if (!meta) continue;
      const { path, type } = meta;
      scan.entries.push(meta);
      if (type === 'dir') {
        if (!opts.descend || opts.descend(path)) stack.push(path);
      } else if (type === 'file' && wants.wantsContent(path)) {
        opts.touched?.(path); // an empty file too: written in place, it would be read
        if (meta.size > 0) reads.push(readFileFacts(root, path, meta.size, scan, wants));
      }
    }
    await Promise.all(reads);
  }
  return scan;
}
