import type { SparseFile, Warnings } from './bytes.js';
import type { Segment } from './header.js';

/** NT_GNU_ABI_TAG. */
const NT_GNU_ABI_TAG = 1;
/** NT_GNU_PROPERTY_TYPE_0. */
const NT_GNU_PROPERTY_TYPE_0 = 5;
/** GNU_PROPERTY_X86_ISA_1_NEEDED. */
const GNU_PROPERTY_X86_ISA_1_NEEDED = 0xc0008002;
/** Bound on the notes and properties read from one segment. */
const MAX_ITEMS = 4096;
const ABI_OS = ['linux', 'hurd', 'solaris', 'freebsd'];

/** Facts gathered from notes, accumulated over all note segments. */
export interface NoteFacts {
  abiTag: { os: string; kernel: string } | null;
  x86IsaNeeded: number | null;
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/**
 * Reads the notes of one PT_NOTE / PT_GNU_PROPERTY segment (only its first `cap` bytes) into `out`:
 * the first NT_GNU_ABI_TAG, and GNU_PROPERTY_X86_ISA_1_NEEDED bits OR-ed over all property notes.
 */
export function readNotes(
  f: SparseFile,
  seg: Segment,
  bits: 32 | 64,
  cap: number,
  out: NoteFacts,
  warn: Warnings,
): void {
  const align = seg.align === 8 ? 8 : 4;
  const end = seg.offset + Math.min(seg.filesz, cap);
  if (!f.has(seg.offset, end - seg.offset)) {
    warn.add(`note segment: ${f.why(seg.offset, end - seg.offset)}`);
    return;
  }
  let p = seg.offset;
  for (let i = 0; i < MAX_ITEMS && p + 12 <= end; i++) {
    const namesz = f.u32(p) ?? 0;
    const descsz = f.u32(p + 4) ?? 0;
    const type = f.u32(p + 8) ?? 0;
    const desc = p + alignUp(12 + namesz, align);
    if (desc + descsz > end) {
      warn.add(`note at 0x${p.toString(16)} extends past its segment`);
      return;
    }
    const isGnu = namesz === 4 && f.cstr(p + 12, p + 16) === 'GNU';
    if (isGnu && type === NT_GNU_ABI_TAG && descsz >= 16 && out.abiTag === null) {
      const [os, a, b, c] = [0, 4, 8, 12].map((k) => f.u32(desc + k) ?? 0) as [number, number, number, number];
      out.abiTag = { os: ABI_OS[os] ?? `os-${os}`, kernel: `${a}.${b}.${c}` };
    } else if (isGnu && type === NT_GNU_PROPERTY_TYPE_0) {
      readProperties(f, desc, desc + descsz, bits, out, warn);
    }
    p = alignUp(desc + descsz, align);
  }
}

function readProperties(
  f: SparseFile,
  start: number,
  end: number,
  bits: 32 | 64,
  out: NoteFacts,
  warn: Warnings,
): void {
  let q = start;
  for (let i = 0; i < MAX_ITEMS && q + 8 <= end; i++) {
    const type = f.u32(q) ?? 0;
    const size = f.u32(q + 4) ?? 0;
    q += 8;
    if (q + size > end) {
      warn.add(`GNU property 0x${type.toString(16)} extends past its note`);
      return;
    }
    if (type === GNU_PROPERTY_X86_ISA_1_NEEDED && size >= 4) {
      out.x86IsaNeeded = ((out.x86IsaNeeded ?? 0) | (f.u32(q) ?? 0)) >>> 0;
    }
    q += alignUp(size, bits === 64 ? 8 : 4);
  }
}

/**
 * Names the x86-64 micro-architecture level for a GNU_PROPERTY_X86_ISA_1_NEEDED mask, from its highest known
 * bit: bit 3 `x86-64-v4`, bit 2 `x86-64-v3`, bit 1 `x86-64-v2`, bit 0 `x86-64` (baseline). Null when no known bit is set.
 */
export function isaLevelName(mask: number | null): string | null {
  if (mask === null) return null;
  if (mask & 8) return 'x86-64-v4';
  if (mask & 4) return 'x86-64-v3';
  if (mask & 2) return 'x86-64-v2';
  if (mask & 1) return 'x86-64';
  return null;
}
