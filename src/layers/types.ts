import type { ElfInfo } from '../elf/types.js';

/** Entry kinds, as the walker records them. */
export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo' | 'other';

/** Metadata of one entry of a layer (or of a root filesystem directory). */
export interface EntryMeta {
  path: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Symlink target as written, or the cleaned hard-link target path. */
  linkname?: string;
  /** POSIX ACL and other extended attributes from PAX `SCHILY.xattr.*` records (names only matter). */
  xattrs?: string[];
}

/** What the walker kept of one file's content. */
export interface FileResult {
  /** Kept text (capped), decoded as UTF-8. */
  text?: string;
  /** True when the text was cut at the cap. */
  truncated?: boolean;
  /** Streaming-search matches by rule id (capture group 1), distinct, in order of appearance. */
  scans?: Record<string, string[]>;
  /** True when the search stopped at the scanned-bytes limit before the end of the file. */
  scanCut?: boolean;
  /** ELF facts when the file is an ELF object. */
  elf?: ElfInfo;
  /** Why an ELF-looking file could not be read. */
  elfError?: string;
}

/** A problem with one file or entry: a warning with coordinates, not an exception. */
export interface Warning {
  code: string;
  message: string;
  path?: string;
  layer?: string | null;
}

/** The result of one streaming pass over one layer. */
export interface LayerScan {
  /** Layer digest (compressed blob) or diff id when only that is known; null for rootfs sources. */
  id: string | null;
  index: number;
  /** Entries in tar order (whiteout markers excluded). */
  entries: EntryMeta[];
  /** Paths hidden in lower layers by `.wh.NAME`. */
  whiteouts: string[];
  /** Directories whose lower children are hidden by `.wh..wh..opq`. */
  opaques: string[];
  /** Kept content, by path. */
  results: Record<string, FileResult>;
  warnings: Warning[];
  /** Byte counts: stored (compressed) and tar. */
  bytes: { stored: number; tar: number };
  /** Compression seen: gzip, zstd or none. */
  compression: 'gzip' | 'zstd' | 'none' | 'dir';
  /** What this kind of scan cannot see (e.g. a directory walk reads no extended attributes). */
  notes: string[];
}

/** A layer scan with nothing in it yet. */
export function emptyScan(id: string | null, index: number, compression: LayerScan['compression']): LayerScan {
  return { id, index, entries: [], whiteouts: [], opaques: [], results: Object.create(null) as Record<string, FileResult>, warnings: [], bytes: { stored: 0, tar: 0 }, compression, notes: [] };
}
