import type { SparseFile, Warnings } from './bytes.js';
import type { ElfInfo } from './types.js';

/** Program header types the reader uses. */
export const PT_LOAD = 1;
/** Dynamic linking table. */
export const PT_DYNAMIC = 2;
/** Program interpreter path. */
export const PT_INTERP = 3;
/** Auxiliary notes. */
export const PT_NOTE = 4;
/** GNU property note (.note.gnu.property). */
export const PT_GNU_PROPERTY = 0x6474e553;

/** Largest program header table accepted, in bytes. */
export const MAX_PHDR_TABLE = 1 << 20;

/** The parts of the ELF header the reader needs. */
export interface ElfHeader {
  bits: 32 | 64;
  endian: 'little' | 'big';
  /** e_type, raw. */
  type: number;
  machine: number;
  osabi: number;
  phoff: number;
  phentsize: number;
  phnum: number;
}

/** One program header, with values that fit in a JS number. */
export interface Segment {
  type: number;
  offset: number;
  vaddr: number;
  filesz: number;
  align: number;
}

/** True when `head` starts with the ELF magic `\x7fELF`. */
export function isElfMagic(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46;
}

/** Size of the ELF header for the class in `head[4]`, or null when the class byte is absent or invalid. */
export function headerSize(head: Uint8Array): 52 | 64 | null {
  return head[4] === 1 ? 52 : head[4] === 2 ? 64 : null;
}

/**
 * Parses the ELF header from the first bytes of the file. Returns a reason string when the header is
 * unusable (bad magic, class or data encoding, truncated, program header table that cannot be right).
 */
export function parseHeader(head: Uint8Array): ElfHeader | string {
  if (!isElfMagic(head)) return 'not an ELF file';
  if (head.length < 6) return 'truncated ELF header';
  const size = headerSize(head);
  if (size === null) return `bad ELF class ${head[4]}`;
  if (head[5] !== 1 && head[5] !== 2) return `bad ELF data encoding ${head[5]}`;
  if (head.length < size) return `truncated ELF header (${head.length} of ${size} bytes)`;
  const little = head[5] === 1;
  const dv = new DataView(head.buffer, head.byteOffset, size);
  const bits = size === 64 ? 64 : 32;
  let phoff: number;
  if (bits === 64) {
    const lo = dv.getUint32(32, little);
    const hi = dv.getUint32(36, little);
    const [l, h] = little ? [lo, hi] : [hi, lo];
    phoff = h <= 0x1fffff ? h * 0x1_0000_0000 + l : Number.POSITIVE_INFINITY;
  } else {
    phoff = dv.getUint32(28, little);
  }
  const phentsize = dv.getUint16(bits === 64 ? 54 : 42, little);
  const phnum = dv.getUint16(bits === 64 ? 56 : 44, little);
  if (phnum === 0xffff) return 'e_phnum is PN_XNUM (extended program header numbering is not supported)';
  if (phnum > 0) {
    if (phentsize < (bits === 64 ? 56 : 32)) return `bad e_phentsize ${phentsize}`;
    if (!Number.isSafeInteger(phoff)) return 'program header table out of range';
    if (phnum * phentsize > MAX_PHDR_TABLE) return `program header table too large (${phnum} entries)`;
  }
  return {
    bits,
    endian: little ? 'little' : 'big',
    type: dv.getUint16(16, little),
    machine: dv.getUint16(18, little),
    osabi: head[7] ?? 0,
    phoff: phnum > 0 ? phoff : 0,
    phentsize,
    phnum,
  };
}

/** Reads the program header table; entries with values beyond Number.MAX_SAFE_INTEGER are skipped with a warning. */
export function parseSegments(f: SparseFile, h: ElfHeader, warn: Warnings): Segment[] {
  const out: Segment[] = [];
  for (let i = 0; i < h.phnum; i++) {
    const p = h.phoff + i * h.phentsize;
    const type = f.u32(p);
    const seg =
      h.bits === 64
        ? { offset: f.u64(p + 8), vaddr: f.u64(p + 16), filesz: f.u64(p + 32), align: f.u64(p + 48) }
        : { offset: f.u32(p + 4), vaddr: f.u32(p + 8), filesz: f.u32(p + 16), align: f.u32(p + 28) };
    const { offset, vaddr, filesz, align } = seg;
    if (type === null || offset === null || vaddr === null || filesz === null || align === null) {
      warn.add(`program header ${i} has values out of range`);
      continue;
    }
    out.push({ type, offset, vaddr, filesz, align });
  }
  return out;
}

/** Maps e_type to the names used in ElfInfo. */
export function typeName(t: number): ElfInfo['type'] {
  return t === 1 ? 'rel' : t === 2 ? 'exec' : t === 3 ? 'dyn' : t === 4 ? 'core' : 'other';
}

export { machineToArch } from './machines.js';
