import type { SparseFile, Warnings } from './bytes.js';
import type { DynStrings } from './dynamic.js';

/** Bound on Verneed / Verdef entries followed. */
const MAX_ENTRIES = 4096;
/** Bound on Vernaux entries followed, over all Verneed entries. */
const MAX_AUX = 65536;
/** VER_FLG_BASE: the Verdef entry naming the file itself. */
const VER_FLG_BASE = 1;

/**
 * Relative links (vn_next, vn_aux, ...) are unsigned, but a 32-bit loader adds them with wrap-around,
 * which makes them effectively signed; follow them the same way.
 */
const rel = (delta: number, bits: 32 | 64): number => (bits === 32 ? delta | 0 : delta);

function entryLimit(count: number | null, what: string, warn: Warnings): number {
  if (count === null) return MAX_ENTRIES;
  if (count > MAX_ENTRIES) warn.add(`${what}: absurd count ${count}, reading at most ${MAX_ENTRIES}`);
  return Math.min(count, MAX_ENTRIES);
}

/**
 * Walk a chain of fixed-size entries linked by a relative `next` field (Verneed, Vernaux, Verdef):
 * yields each entry's offset once it is known to lie inside the kept bytes; stops at a zero link,
 * after `max` entries, at an offset seen before (a loop), or at one outside the file, with a warning.
 */
function* chain(
  f: SparseFile,
  start: number,
  max: number,
  size: number,
  nextAt: number,
  bits: 32 | 64,
  seen: Set<number>,
  what: string,
  link: string,
  warn: Warnings,
): Generator<number> {
  let off = start;
  for (let i = 0; i < max; i++) {
    if (seen.has(off)) {
      warn.add(`${what}: ${link} loop`);
      return;
    }
    seen.add(off);
    if (!f.has(off, size)) {
      warn.add(`${what}: ${f.why(off, size)}`);
      return;
    }
    yield off;
    const next = f.u32(off + nextAt) ?? 0;
    if (next === 0) return;
    off += rel(next, bits);
  }
}

/** Reads the Elf_Verneed / Elf_Vernaux chains at file offset `off` (.gnu.version_r). */
export function readVersionNeeds(
  f: SparseFile,
  off: number,
  count: number | null,
  bits: 32 | 64,
  str: DynStrings,
  warn: Warnings,
): { file: string; versions: string[] }[] {
  const out: { file: string; versions: string[] }[] = [];
  const seen = new Set<number>();
  let budget = MAX_AUX;
  const what = 'version needs';
  for (const vn of chain(f, off, entryLimit(count, 'DT_VERNEEDNUM', warn), 16, 12, bits, seen, what, 'vn_next', warn)) {
    const cnt = f.u16(vn + 2) ?? 0;
    const file = str.get(f.u32(vn + 4) ?? 0, 'version needs file') ?? '';
    const versions: string[] = [];
    if (cnt > budget) warn.add('version needs: too many Vernaux entries');
    const aux = chain(f, vn + rel(f.u32(vn + 8) ?? 0, bits), Math.min(cnt, budget), 16, 12, bits, seen, what, 'vna_next', warn);
    for (const a of aux) {
      budget--;
      const name = str.get(f.u32(a + 8) ?? 0, 'version need name');
      if (name !== null) versions.push(name);
    }
    out.push({ file, versions });
  }
  return out;
}

/** Reads the Elf_Verdef chain at file offset `off` (.gnu.version_d): defined version names, without the VER_FLG_BASE entry. */
export function readVersionDefs(
  f: SparseFile,
  off: number,
  count: number | null,
  bits: 32 | 64,
  str: DynStrings,
  warn: Warnings,
): string[] {
  const out: string[] = [];
  const seen = new Set<number>();
  for (const vd of chain(f, off, entryLimit(count, 'DT_VERDEFNUM', warn), 20, 16, bits, seen, 'version definitions', 'vd_next', warn)) {
    const flags = f.u16(vd + 2) ?? 0;
    const cnt = f.u16(vd + 6) ?? 0;
    if ((flags & VER_FLG_BASE) === 0 && cnt > 0) {
      const a = vd + rel(f.u32(vd + 12) ?? 0, bits);
      const nameOff = f.u32(a);
      if (nameOff === null) warn.add(`version definitions: ${f.why(a, 8)}`);
      else {
        const name = str.get(nameOff, 'version definition name');
        if (name !== null) out.push(name);
      }
    }
  }
  return out;
}
