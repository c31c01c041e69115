import { SparseFile, Warnings } from './bytes.js';
import type { Piece } from './bytes.js';
import { DynStrings, loadFor, readDynamic, vaddrToOffset } from './dynamic.js';
import {
  PT_DYNAMIC,
  PT_GNU_PROPERTY,
  PT_INTERP,
  PT_LOAD,
  PT_NOTE,
  headerSize,
  isElfMagic,
  machineToArch,
  parseHeader,
  parseSegments,
  typeName,
} from './header.js';
import type { ElfHeader, Segment } from './header.js';
import { readNotes } from './notes.js';
import type { NoteFacts } from './notes.js';
import type { ElfInfo } from './types.js';
import { readVersionDefs, readVersionNeeds } from './versions.js';

export { isElfMagic, machineToArch } from './header.js';
export { isaLevelName } from './notes.js';

/** Outcome of reading one file: the facts, or why the file could not be read as ELF at all. */
export type ElfResult = { ok: true; info: ElfInfo } | { ok: false; reason: string };

/** Options for {@link ElfCollector}. */
export interface ElfCollectorOptions {
  /** Most bytes kept from the start of the file (up to the end of the first PT_LOAD). Default 16 MiB. */
  maxKeep?: number;
  /** The file's size when known (a tar header's): kept ranges are then allocated once, at their final size. */
  size?: number;
}

const DEFAULT_MAX_KEEP = 16 << 20;
/** Most bytes kept of each PT_DYNAMIC / PT_NOTE / PT_INTERP / PT_GNU_PROPERTY segment and version table. */
const SEGMENT_CAP = 1 << 20;
const SEGMENT_NAMES: Record<number, string> = {
  [PT_DYNAMIC]: 'PT_DYNAMIC',
  [PT_INTERP]: 'PT_INTERP',
  [PT_NOTE]: 'PT_NOTE',
  [PT_GNU_PROPERTY]: 'PT_GNU_PROPERTY',
};

/**
 * A file range being kept; bytes `[from, from + have)` have arrived (from > start when the start had passed).
 * They are copied into one buffer, allocated for the whole range (capped by the file size when it is known)
 * or grown by doubling, so kept bytes are copied once and never merged.
 */
interface Keep {
  start: number;
  end: number;
  from: number;
  have: number;
  buf: Uint8Array;
}

const EMPTY = new Uint8Array(0);

function merged(k: Keep): Piece {
  return { start: k.from, data: k.buf.subarray(0, k.have) };
}

/**
 * Streaming ELF reader. Push the file's bytes in order, in chunks of any size, then call {@link finish}.
 * Only the byte ranges ELF facts need are kept: the ELF and program headers, the start of the file up to the
 * end of the first PT_LOAD (capped by `maxKeep`), the PT_DYNAMIC, PT_NOTE, PT_INTERP and PT_GNU_PROPERTY
 * segments, and the string and version tables named by PT_DYNAMIC when they lie after it. Never throws.
 */
export class ElfCollector {
  private readonly maxKeep: number;
  private pos = 0;
  /** Every byte from offset 0, until the program headers have been read (then dropped). */
  private head = new Uint8Array(0);
  private headLen = 0;
  private phase: 'header' | 'phdrs' | 'ranges' = 'header';
  private header: ElfHeader | null = null;
  private phEnd = 0;
  private failure: string | null = null;
  private segments: Segment[] = [];
  private keeps: Keep[] = [];
  /** End of the furthest range wanted. */
  private wantEnd = 0;
  /** PT_DYNAMIC not yet looked at for tables it points to. */
  private pendingDynamic: Segment | null = null;
  private keptInRanges = 0;
  /** Bytes of all kept ranges together (bounded, see addKeep). */
  private planned = 0;
  private readonly warn = new Warnings();
  private readonly sizeHint: number | null;

  /** @param opts see {@link ElfCollectorOptions} */
  constructor(opts: ElfCollectorOptions = {}) {
    const m = opts.maxKeep ?? DEFAULT_MAX_KEEP;
    this.maxKeep = Number.isSafeInteger(m) && m >= 64 ? m : 64;
    const z = opts.size;
    this.sizeHint = z !== undefined && Number.isSafeInteger(z) && z >= 0 ? z : null;
  }

  /** False once every range the reader wants has gone by (or the file is not ELF): the rest may be skipped. */
  get wantsMore(): boolean {
    return this.failure === null && (this.phase !== 'ranges' || this.pos < this.wantEnd);
  }

  /**
   * The next file offset whose bytes the reader wants, or null when it wants no more. A reader with
   * random access may {@link seek} there instead of feeding every byte in between: a file with
   * tables far from its start (or a huge sparse one) costs what its headers and tables cost.
   */
  nextWanted(): number | null {
    if (!this.wantsMore) return null;
    if (this.phase === 'header') return this.pos;
    if (this.phase === 'phdrs') {
      // The head buffer takes every byte from 0 up to maxKeep; past it, only the program headers.
      if (this.pos < Math.min(this.maxKeep, this.phEnd)) return this.pos;
    }
    let next: number | null = null;
    const d = this.pendingDynamic;
    if (d !== null) next = Math.max(this.pos, d.offset);
    for (const k of this.keeps) {
      const at = k.from + k.have;
      if (at >= k.end) continue;
      const want = Math.max(at, this.pos);
      if (next === null || want < next) next = want;
    }
    return next;
  }

  /** Skip ahead to `offset` (at most {@link nextWanted}): the bytes in between are not wanted. */
  seek(offset: number): void {
    const next = this.nextWanted();
    if (next === null || offset <= this.pos) return;
    this.pos = Math.min(offset, next);
  }

  /** Bytes currently held in memory (copies of the kept ranges). */
  get keptBytes(): number {
    return this.headLen + this.keptInRanges;
  }

  /** Feeds the next bytes of the file. The chunk is not retained; kept bytes are copied. */
  push(chunk: Uint8Array): void {
    let off = 0;
    // Header decisions, and the look at PT_DYNAMIC, happen at exact offsets: feed up to them piecewise.
    while (off < chunk.length && this.failure === null && (this.phase !== 'ranges' || this.pendingDynamic !== null)) {
      const n = Math.max(1, Math.min(chunk.length - off, this.target() - this.pos));
      this.take(chunk.subarray(off, off + n));
      off += n;
      this.step();
    }
    if (off === 0) this.take(chunk);
    else if (off < chunk.length) this.take(chunk.subarray(off));
  }

  /**
   * Reads the facts from the kept bytes. `size` is the file's full size when the caller stopped pushing early
   * (after {@link wantsMore} turned false); it only tells "outside the file" from "not kept" in warnings.
   */
  finish(size?: number): ElfResult {
    try {
      return this.result(size);
    } catch (e) {
      return { ok: false, reason: `internal error: ${e instanceof Error ? e.message : String(e)}` };
    }
  }

  private result(size: number | undefined): ElfResult {
    if (this.failure !== null) return { ok: false, reason: this.failure };
    if (this.phase === 'header') {
      const h = parseHeader(this.head.subarray(0, this.headLen));
      return { ok: false, reason: typeof h === 'string' ? h : 'truncated ELF header' };
    }
    if (this.phase === 'phdrs' || this.header === null) {
      return { ok: false, reason: `program header table out of range (ends at ${this.phEnd}, file has ${this.pos} bytes)` };
    }
    const fileSize = size !== undefined && Number.isSafeInteger(size) ? Math.max(size, this.pos) : this.pos;
    const warn = new Warnings();
    for (const w of this.warn.list) warn.add(w);
    return { ok: true, info: analyze(this.header, this.segments, this.file(fileSize), warn) };
  }

  private file(size: number): SparseFile {
    return new SparseFile(this.keeps.map(merged), size, this.header?.endian !== 'big');
  }

  /** File offset to reach before the next decision. */
  private target(): number {
    const d = this.pendingDynamic;
    if (this.phase === 'ranges') return d ? d.offset + Math.min(d.filesz, SEGMENT_CAP) : this.pos;
    if (this.phase === 'phdrs') return this.phEnd;
    return this.headLen < 16 ? 16 : (headerSize(this.head.subarray(0, this.headLen)) ?? 16);
  }

  private step(): void {
    if (this.phase === 'header') {
      const head = this.head.subarray(0, this.headLen);
      if (this.headLen >= 4 && !isElfMagic(head)) this.failure = 'not an ELF file';
      const size = headerSize(head);
      if (this.failure !== null || this.headLen < 16 || (size !== null && this.headLen < size)) return;
      const h = parseHeader(head);
      if (typeof h === 'string') {
        this.failure = h;
        return;
      }
      this.header = h;
      this.phase = 'phdrs';
      this.phEnd = h.phoff + h.phnum * h.phentsize;
      this.addKeep(h.phoff, this.phEnd);
    }
    if (this.phase === 'phdrs' && this.pos >= this.phEnd) this.decide();
    else if (this.phase === 'ranges') this.checkDynamic();
  }

  /** Program headers are in: choose the ranges to keep, then drop the head buffer. */
  private decide(): void {
    const h = this.header;
    if (h === null) return;
    this.phase = 'ranges';
    const phdrs = this.keeps.map(merged);
    const f = new SparseFile([{ start: 0, data: this.head.subarray(0, this.headLen) }, ...phdrs], this.pos, h.endian === 'little');
    this.segments = parseSegments(f, h, this.warn);
    this.keeps = [];
    this.planned = 0;
    this.keptInRanges = 0;
    this.wantEnd = 0;
    const load = this.segments.find((s) => s.type === PT_LOAD);
    if (load) this.addKeep(0, Math.min(load.offset + load.filesz, this.maxKeep));
    for (const s of this.segments) {
      const name = SEGMENT_NAMES[s.type];
      if (name === undefined) continue;
      if (s.filesz > SEGMENT_CAP) this.warn.add(`${name} segment of ${s.filesz} bytes: only the first ${SEGMENT_CAP} are read`);
      this.addKeep(s.offset, s.offset + Math.min(s.filesz, SEGMENT_CAP));
    }
    this.pendingDynamic = this.segments.find((s) => s.type === PT_DYNAMIC) ?? null;
    this.head = new Uint8Array(0);
    this.headLen = 0;
    this.checkDynamic();
  }

  private addKeep(start: number, end: number): void {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end <= start) return;
    if (this.keeps.some((k) => k.start <= start && end <= k.end)) return;
    // All ranges together stay within twice maxKeep: thousands of segments (a hostile program
    // header table) cannot make one file hold gigabytes.
    if (this.planned + (end - start) > 2 * this.maxKeep) {
      this.warn.add(`kept-bytes limit: the range ${start}-${end} is not read (raise CONTAINERSPEC_MAX_KEPT_BYTES)`);
      return;
    }
    this.planned += end - start;
    const k: Keep = { start, end, from: Math.max(start, this.pos), have: 0, buf: EMPTY };
    if (start < this.headLen) {
      const stop = Math.min(end, this.headLen);
      k.from = start;
      this.append(k, this.head.subarray(start, stop));
    }
    this.keeps.push(k);
    this.wantEnd = Math.max(this.wantEnd, end);
  }

  private take(piece: Uint8Array): void {
    const start = this.pos;
    const stop = start + piece.length;
    this.pos = stop;
    if (this.failure !== null) return;
    if (this.phase !== 'ranges' && start < this.maxKeep) this.appendHead(piece.subarray(0, this.maxKeep - start));
    if (start >= this.wantEnd) return;
    for (const k of this.keeps) {
      const s = Math.max(k.start, start);
      const e = Math.min(k.end, stop);
      if (s < e && s === k.from + k.have) this.append(k, piece.subarray(s - start, e - start));
    }
  }

  /** Copy the next bytes of a kept range into its buffer. */
  private append(k: Keep, bytes: Uint8Array): void {
    const need = k.have + bytes.length;
    if (need > k.buf.length) {
      const full = Math.max(need, (this.sizeHint !== null ? Math.min(k.end, Math.max(this.sizeHint, this.pos)) : k.end) - k.from);
      const size = this.sizeHint !== null ? full : Math.min(full, Math.max(need, k.buf.length * 2, 4096));
      const grown = new Uint8Array(size);
      grown.set(k.buf.subarray(0, k.have));
      k.buf = grown;
    }
    k.buf.set(bytes, k.have);
    k.have = need;
    this.keptInRanges += bytes.length;
  }

  private appendHead(bytes: Uint8Array): void {
    const need = this.headLen + bytes.length;
    if (need > this.head.length) {
      const grown = new Uint8Array(Math.min(Math.max(need, this.head.length * 2, 256), this.maxKeep));
      grown.set(this.head.subarray(0, this.headLen));
      this.head = grown;
    }
    this.head.set(bytes, this.headLen);
    this.headLen = need;
  }

  /**
   * Once PT_DYNAMIC has arrived, keep the string and version tables it points to when they lie after the bytes
   * already seen and outside the kept ranges (as when patchelf moves .dynstr to the end of a library).
   */
  private checkDynamic(): void {
    const seg = this.pendingDynamic;
    const h = this.header;
    if (seg === null || h === null || this.pos < seg.offset + Math.min(seg.filesz, SEGMENT_CAP)) return;
    this.pendingDynamic = null;
    const d = readDynamic(this.file(this.pos), seg, h.bits, SEGMENT_CAP, new Warnings());
    const want = (va: number | null, size: number | null, cap: number): void => {
      const load = va === null ? null : loadFor(this.segments, va);
      if (va === null || load === null) return;
      const off = load.offset + (va - load.vaddr);
      const end = Math.min(load.offset + load.filesz, off + Math.min(size ?? cap, cap));
      if (end > this.pos) this.addKeep(off, end);
    };
    want(d.strtab, d.strsz, this.maxKeep);
    want(d.verneed, null, SEGMENT_CAP);
    want(d.verdef, null, SEGMENT_CAP);
  }
}

/** Reads the facts from the kept bytes of a file whose header and program headers are known. */
function analyze(h: ElfHeader, segs: readonly Segment[], f: SparseFile, warn: Warnings): ElfInfo {
  const info: ElfInfo = {
    bits: h.bits,
    endian: h.endian,
    machine: h.machine,
    arch: machineToArch(h.machine, h.bits, h.endian),
    type: typeName(h.type),
    osabi: h.osabi,
    interpreter: null,
    abiTag: null,
    needed: [],
    soname: null,
    versionNeeds: [],
    versionDefs: [],
    x86IsaNeeded: null,
    warnings: [],
  };

  const interp = segs.find((s) => s.type === PT_INTERP);
  if (interp) {
    const s = f.cstr(interp.offset, interp.offset + Math.min(interp.filesz, SEGMENT_CAP));
    if (s !== null) info.interpreter = s;
    else warn.add(`PT_INTERP: ${f.has(interp.offset, 1) ? 'unterminated string' : f.why(interp.offset, interp.filesz)}`);
  }

  const notes: NoteFacts = { abiTag: null, x86IsaNeeded: null };
  const seen = new Set<string>();
  for (const s of segs) {
    const key = `${s.offset}:${s.filesz}`;
    if ((s.type !== PT_NOTE && s.type !== PT_GNU_PROPERTY) || seen.has(key)) continue;
    seen.add(key);
    readNotes(f, s, h.bits, SEGMENT_CAP, notes, warn);
  }
  info.abiTag = notes.abiTag;
  info.x86IsaNeeded = notes.x86IsaNeeded;

  const dseg = segs.find((s) => s.type === PT_DYNAMIC);
  if (dseg) {
    const d = readDynamic(f, dseg, h.bits, SEGMENT_CAP, warn);
    const map = (va: number | null, what: string): number | null => {
      if (va === null) return null;
      const off = vaddrToOffset(segs, va);
      if (off === null) warn.add(`${what} address 0x${va.toString(16)} is not in any PT_LOAD segment`);
      return off;
    };
    const str = new DynStrings(f, map(d.strtab, 'DT_STRTAB'), d.strsz, warn);
    for (const i of d.needed) {
      const s = str.get(i, 'DT_NEEDED');
      if (s !== null) info.needed.push(s);
    }
    if (d.soname !== null) info.soname = str.get(d.soname, 'DT_SONAME');
    const vn = map(d.verneed, 'DT_VERNEED');
    if (vn !== null) info.versionNeeds = readVersionNeeds(f, vn, d.verneednum, h.bits, str, warn);
    const vd = map(d.verdef, 'DT_VERDEF');
    if (vd !== null) info.versionDefs = readVersionDefs(f, vd, d.verdefnum, h.bits, str, warn);
  }
  info.warnings = warn.done();
  return info;
}

/** Reads a whole file held in memory (one push, then finish). */
export function parseElf(buf: Uint8Array): ElfResult {
  const c = new ElfCollector();
  c.push(buf);
  return c.finish();
}
