/** A slice of the file that was kept: bytes `[start, start + data.length)`. */
export interface Piece {
  start: number;
  data: Uint8Array;
}

interface View {
  start: number;
  end: number;
  data: Uint8Array;
  dv: DataView;
}

const decoder = new TextDecoder('utf-8');

/** Longest string read from the file (PT_INTERP, sonames, version names are far shorter). */
export const MAX_STRING = 4096;

/**
 * Bounds-checked, endian-aware reads at absolute file offsets over the few ranges of a file that were kept.
 * Every read returns null when the bytes are not available; nothing here throws.
 */
export class SparseFile {
  private readonly views: View[];

  /**
   * @param pieces the kept ranges (may overlap)
   * @param size the file size, used to tell "outside the file" from "not kept"
   * @param little true for little-endian
   */
  constructor(
    pieces: readonly Piece[],
    readonly size: number,
    readonly little: boolean,
  ) {
    this.views = pieces
      .filter((p) => p.data.length > 0)
      .map((p) => ({
        start: p.start,
        end: p.start + p.data.length,
        data: p.data,
        dv: new DataView(p.data.buffer, p.data.byteOffset, p.data.byteLength),
      }));
  }

  private find(off: number, len: number): View | null {
    if (!Number.isSafeInteger(off) || off < 0 || !Number.isSafeInteger(len) || len < 0) return null;
    for (const v of this.views) if (off >= v.start && off + len <= v.end) return v;
    return null;
  }

  /** True when all of `[off, off + len)` was kept. */
  has(off: number, len: number): boolean {
    return this.find(off, len) !== null;
  }

  /** Why `[off, off + len)` cannot be read: outside the file, or not kept. */
  why(off: number, len: number): string {
    if (!Number.isSafeInteger(off) || off < 0 || off + len > this.size) {
      return `offset 0x${off.toString(16)} (+${len}) points outside the file (size ${this.size})`;
    }
    return `offset 0x${off.toString(16)} (+${len}) lies beyond the bytes kept`;
  }

  /** Unsigned 16-bit value at `off`, or null. */
  u16(off: number): number | null {
    const v = this.find(off, 2);
    return v ? v.dv.getUint16(off - v.start, this.little) : null;
  }

  /** Unsigned 32-bit value at `off`, or null. */
  u32(off: number): number | null {
    const v = this.find(off, 4);
    return v ? v.dv.getUint32(off - v.start, this.little) : null;
  }

  /** Unsigned 64-bit value at `off`; null when unavailable or above Number.MAX_SAFE_INTEGER. */
  u64(off: number): number | null {
    const v = this.find(off, 8);
    if (!v) return null;
    const a = v.dv.getUint32(off - v.start, this.little);
    const b = v.dv.getUint32(off - v.start + 4, this.little);
    const [lo, hi] = this.little ? [a, b] : [b, a];
    return hi <= 0x1fffff ? hi * 0x1_0000_0000 + lo : null;
  }

  /** A native word (u32 for ELF32, u64 for ELF64). */
  word(off: number, bits: 32 | 64): number | null {
    return bits === 64 ? this.u64(off) : this.u32(off);
  }

  /**
   * The NUL-terminated string at `off`, which must end before `limit` (exclusive file offset) and within
   * MAX_STRING bytes. Null when unavailable or unterminated.
   */
  cstr(off: number, limit = Number.MAX_SAFE_INTEGER): string | null {
    const v = this.find(off, 1);
    if (!v) return null;
    const i = off - v.start;
    const stop = Math.min(v.data.length, limit - v.start, i + MAX_STRING);
    if (stop <= i) return null;
    const nul = v.data.subarray(i, stop).indexOf(0);
    return nul < 0 ? null : decoder.decode(v.data.subarray(i, i + nul));
  }
}

/** Collects warnings, dropping duplicates and capping their number. */
export class Warnings {
  /** The warnings, in the order found. */
  readonly list: string[] = [];
  private dropped = 0;
  private static readonly MAX = 50;

  /** Records `msg` unless it was already recorded. */
  add(msg: string): void {
    if (this.list.includes(msg)) return;
    if (this.list.length < Warnings.MAX) this.list.push(msg);
    else this.dropped++;
  }

  /** The final list, with a note when some were dropped. */
  done(): string[] {
    return this.dropped > 0 ? [...this.list, `${this.dropped} more warnings not shown`] : [...this.list];
  }
}
