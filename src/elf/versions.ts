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
  const max = entryLimit(count, 'DT_VERNEEDNUM', warn);
  for (let i = 0; i < max; i++) {
    if (seen.has(off)) {
      warn.add('version needs: vn_next loop');
      break;
    }
    seen.add(off);
    if (!f.has(off, 16)) {
      warn.add(`version needs: ${f.why(off, 16)}`);
      break;
    }
    const cnt = f.u16(off + 2) ?? 0;
    const file = str.get(f.u32(off + 4) ?? 0, 'version needs file') ?? '';
    const versions: string[] = [];
    let a = off + rel(f.u32(off + 8) ?? 0, bits);
    for (let j = 0; j < cnt; j++) {
      if (budget-- <= 0) {
        warn.add('version needs: too many Vernaux entries');
        break;
      }
      if (seen.has(a)) {
        warn.add('version needs: vna_next loop');
        break;
      }
      seen.add(a);
      if (!f.has(a, 16)) {
        warn.add(`version needs: ${f.why(a, 16)}`);
        break;
      }
      const name = str.get(f.u32(a + 8) ?? 0, 'version need name');
      if (name !== null) versions.push(name);
      const next = f.u32(a + 12) ?? 0;
      if (next === 0) break;
      a += rel(next, bits);
    }
    out.push({ file, versions });
    const next = f.u32(off + 12) ?? 0;
    if (next === 0) break;
    off += rel(next, bits);
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
  const max = entryLimit(count, 'DT_VERDEFNUM', warn);
  for (let i = 0; i < max; i++) {
    if (seen.has(off)) {
      warn.add('version definitions: vd_next loop');
      break;
    }
    seen.add(off);
    if (!f.has(off, 20)) {
      warn.add(`version definitions: ${f.why(off, 20)}`);
      break;
    }
    const flags = f.u16(off + 2) ?? 0;
    const cnt = f.u16(off + 6) ?? 0;
    if ((flags & VER_FLG_BASE) === 0 && cnt > 0) {
      const a = off + rel(f.u32(off + 12) ?? 0, bits);
      const nameOff = f.u32(a);
      if (nameOff === null) warn.add(`version definitions: ${f.why(a, 8)}`);
      else {
        const name = str.get(nameOff, 'version definition name');
        if (name !== null) out.push(name);
      }
    }
    const next = f.u32(off + 16) ?? 0;
    if (next === 0) break;
    off += rel(next, bits);
  }
  return out;
}
