import { posix } from 'node:path';
import { FormatError } from '../errors/index.js';
import { limit, overLimit } from '../limits.js';

/** Prefix of a whiteout entry's basename. */
export const WHITEOUT_PREFIX = '.wh.';
/** Basename of an opaque-directory marker. */
export const OPAQUE_MARKER = '.wh..wh..opq';

/**
 * Clean a tar entry name into a path relative to the image root, without leading `./` or `/`
 * and without a trailing slash. Names that climb out of the root (`../x`, `/a/../../x`) are an
 * error: a layer that holds them is malformed, whatever the runtime would do.
 * The root itself is `''`.
 */
export function cleanEntryName(name: string, where: string): string {
  if (name.includes('\0')) throw new FormatError(`unsafe name with a NUL byte in ${where}`, where);
  if (name.length > limit('pathLength')) throw new FormatError(`${where}: a path of ${overLimit('pathLength', `${name.length} bytes`)}`, where);
  let n = name.replace(/^(\.\/)+/, '');
  const absolute = n.startsWith('/');
  n = n.replace(/^\/+/, '');
  if (n === '' || n === '.' || n === './') return '';
  // Check the raw segments before normalising, so `a/../../x` is caught.
  let depth = 0;
  for (const seg of n.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      depth -= 1;
      if (depth < 0) {
        throw new FormatError(`unsafe path ${JSON.stringify(name)} escapes the image root in ${where}`, where);
      }
    } else depth += 1;
  }
  const norm = posix.normalize(n).replace(/\/+$/, '');
  if (norm === '.' ) return '';
  void absolute;
  return norm;
}

/** What a cleaned entry path means for the layer stack. */
export type WhiteoutKind =
  | { kind: 'whiteout'; target: string }
  | { kind: 'opaque'; dir: string }
  | { kind: 'none' };

/**
 * Classify a cleaned path: `.wh.NAME` hides NAME in lower layers; `.wh..wh..opq` hides every
 * lower child of its directory. Matches on the basename prefix only.
 */
export function classifyWhiteout(path: string): WhiteoutKind {
  const slash = path.lastIndexOf('/');
  const dir = slash < 0 ? '' : path.slice(0, slash);
  const base = slash < 0 ? path : path.slice(slash + 1);
  if (!base.startsWith(WHITEOUT_PREFIX)) return { kind: 'none' };
  if (base === OPAQUE_MARKER) return { kind: 'opaque', dir };
  const hidden = base.slice(WHITEOUT_PREFIX.length);
  if (hidden === '' || hidden === '.' || hidden === '..') return { kind: 'none' };
  return { kind: 'whiteout', target: dir ? `${dir}/${hidden}` : hidden };
}

/** Parent directory of a cleaned path (`''` for top-level entries). */
export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** Basename of a cleaned path. */
export function baseOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? path : path.slice(i + 1);
}
