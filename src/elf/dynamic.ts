import type { SparseFile, Warnings } from './bytes.js';
import { PT_LOAD } from './header.js';
import type { Segment } from './header.js';

const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_STRSZ = 10;
const DT_SONAME = 14;
const DT_VERDEF = 0x6ffffffc;
const DT_VERDEFNUM = 0x6ffffffd;
const DT_VERNEED = 0x6ffffffe;
const DT_VERNEEDNUM = 0x6fffffff;
/** Bound on DT_NEEDED entries kept. */
const MAX_NEEDED = 4096;

/** The dynamic-section entries the reader uses; addresses are virtual, as stored. */
export interface DynamicTable {
  needed: number[];
  soname: number | null;
  strtab: number | null;
  strsz: number | null;
  verneed: number | null;
  verneednum: number | null;
  verdef: number | null;
  verdefnum: number | null;
}

/** Reads the PT_DYNAMIC entries (the first `cap` bytes of the segment) up to DT_NULL. */
export function readDynamic(f: SparseFile, seg: Segment, bits: 32 | 64, cap: number, warn: Warnings): DynamicTable {
  const t: DynamicTable = {
    needed: [],
    soname: null,
    strtab: null,
    strsz: null,
    verneed: null,
    verneednum: null,
    verdef: null,
    verdefnum: null,
  };
  const ent = bits === 64 ? 16 : 8;
  const n = Math.floor(Math.min(seg.filesz, cap) / ent);
  for (let i = 0; i < n; i++) {
    const off = seg.offset + i * ent;
    if (!f.has(off, ent)) {
      warn.add(`dynamic section: ${f.why(off, ent)}`);
      break;
    }
    const tag = f.word(off, bits);
    const val = f.word(off + ent / 2, bits);
    if (tag === DT_NULL) break;
    if (val === null) continue; // a value this reader cannot represent; none of the tags it uses can need one
    switch (tag) {
      case DT_NEEDED:
        if (t.needed.length < MAX_NEEDED) t.needed.push(val);
        break;
      case DT_SONAME:
        t.soname ??= val;
        break;
      case DT_STRTAB:
        t.strtab ??= val;
        break;
      case DT_STRSZ:
        t.strsz ??= val;
        break;
      case DT_VERNEED:
        t.verneed ??= val;
        break;
      case DT_VERNEEDNUM:
        t.verneednum ??= val;
        break;
      case DT_VERDEF:
        t.verdef ??= val;
        break;
      case DT_VERDEFNUM:
        t.verdefnum ??= val;
        break;
    }
  }
  return t;
}

/** The PT_LOAD segment whose file image contains virtual address `va`, or null. */
export function loadFor(segs: readonly Segment[], va: number): Segment | null {
  for (const s of segs) if (s.type === PT_LOAD && va >= s.vaddr && va < s.vaddr + s.filesz) return s;
  return null;
}

/** Maps a virtual address to a file offset through the PT_LOAD segments, or null. */
export function vaddrToOffset(segs: readonly Segment[], va: number): number | null {
  const s = loadFor(segs, va);
  return s ? s.offset + (va - s.vaddr) : null;
}

/** Reads strings from the dynamic string table, checking offsets against DT_STRSZ. */
export class DynStrings {
  private readonly end: number;

  /**
   * @param f the file
   * @param base file offset of the string table, null when unknown
   * @param size DT_STRSZ, null when absent
   * @param warn where problems go
   */
  constructor(
    private readonly f: SparseFile,
    private readonly base: number | null,
    private readonly size: number | null,
    private readonly warn: Warnings,
  ) {
    this.end = base !== null && size !== null ? base + size : Number.MAX_SAFE_INTEGER;
  }

  /** The string at offset `i`, or null (with a warning naming `what`). */
  get(i: number, what: string): string | null {
    if (this.base === null) {
      this.warn.add('dynamic string table (DT_STRTAB) missing or not mapped by any PT_LOAD');
      return null;
    }
    if (this.size !== null && i >= this.size) {
      this.warn.add(`${what}: string offset ${i} beyond DT_STRSZ ${this.size}`);
      return null;
    }
    const s = this.f.cstr(this.base + i, this.end);
    if (s === null) {
      const at = this.base + i;
      this.warn.add(`${what}: ${this.f.has(at, 1) ? `unterminated string at 0x${at.toString(16)}` : this.f.why(at, 1)}`);
    }
    return s;
  }
}
