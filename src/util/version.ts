/**
 * Dotted versions (driver, CUDA, glibc, compute capability) as integer tuples.
 *
 * Versions are never compared as floats or strings: `2.41 > 2.5` and
 * `535.104.05 > 535.54.03` only hold component by component as integers.
 * Missing trailing components count as 0, so `12.4` equals `12.4.0`.
 */

import { FactsError } from '../errors/index.js';

/** A parsed version: non-negative integer components, most significant first. */
export type VersionTuple = readonly number[];

/** Something a comparison accepts: a version string (parsed with {@link parseVersion}) or a tuple. */
export type VersionLike = string | VersionTuple;

const LEADING = /^\s*[vV]?(\d+(?:\.\d+)*)/;

/**
 * Parse a dotted version into integer components.
 *
 * Rules, kept deliberately simple:
 * - surrounding whitespace and one leading `v`/`V` are ignored;
 * - the version is the longest leading run of `digits(.digits)*`; anything after
 *   it is ignored, so `4.1.0rc1`, `4.1.0-rc1` and `4.1.0+cuda` all give `[4, 1, 0]`
 *   (pre-release tags are *not* ordered before the release);
 * - leading zeros are insignificant (`535.104.05` gives `[535, 104, 5]`);
 * - anything that does not start with a digit (after the optional `v`), or a
 *   component beyond `Number.MAX_SAFE_INTEGER`, gives `null`.
 *
 * @example parseVersion('535.104.05') // [535, 104, 5]
 * @example parseVersion('v12.4')      // [12, 4]
 * @example parseVersion('garbage')    // null
 */
export function parseVersion(s: string): number[] | null {
  const m = LEADING.exec(s);
  if (m === null || m[1] === undefined) return null;
  const parts = m[1].split('.');
  const out = new Array<number>(parts.length);
  for (let i = 0; i < parts.length; i++) {
    const n = Number(parts[i]);
    if (!Number.isSafeInteger(n)) return null;
    out[i] = n;
  }
  return out;
}

/**
 * Compare two integer tuples; missing components are 0. Allocation-free, for hot loops.
 *
 * @returns -1 when `a < b`, 0 when equal, 1 when `a > b`.
 */
export function compareTuples(a: VersionTuple, b: VersionTuple): -1 | 0 | 1 {
  // No out-of-bounds reads: they are slow in V8, and this runs in tight loops.
  const na = a.length;
  const nb = b.length;
  const n = na < nb ? na : nb;
  for (let i = 0; i < n; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (x !== y) return x < y ? -1 : 1;
  }
  for (let i = n; i < na; i++) if ((a[i] as number) !== 0) return 1;
  for (let i = n; i < nb; i++) if ((b[i] as number) !== 0) return -1;
  return 0;
}

function toTuple(v: VersionLike): VersionTuple {
  if (typeof v !== 'string') return v;
  const t = parseVersion(v);
  if (t === null) throw new FactsError(`not a version: ${JSON.stringify(v)} (expected digits and dots, e.g. 535.104.05)`);
  return t;
}

/**
 * Compare two versions (strings or tuples) component by component as integers;
 * missing components are 0 (`12.4` == `12.4.0`).
 *
 * @throws FactsError when a string argument is not a version (see {@link parseVersion}).
 * @returns -1 when `a < b`, 0 when equal, 1 when `a > b`.
 */
export function compareVersions(a: VersionLike, b: VersionLike): -1 | 0 | 1 {
  return compareTuples(toTuple(a), toTuple(b));
}

/**
 * True when version `a` is at least `b` (`a >= b`).
 *
 * @throws FactsError when a string argument is not a version.
 */
export function versionAtLeast(a: VersionLike, b: VersionLike): boolean {
  return compareTuples(toTuple(a), toTuple(b)) >= 0;
}

/**
 * Format a tuple as a dotted string, padding with zeros to at least `minParts`
 * components. Leading zeros of the original string are not restored
 * (`[535, 104, 5]` gives `535.104.5`), so show users the original string where you have it.
 *
 * @example formatVersion([12], 2) // '12.0'
 */
export function formatVersion(v: VersionTuple, minParts = 1): string {
  const parts = v.map(String);
  while (parts.length < minParts) parts.push('0');
  return parts.join('.');
}
