/**
 * Tags as versions: which tags of a repository are newer than the one a Dockerfile names. Pure.
 *
 * A tag is read as PREFIX VERSION [PRERELEASE] SUFFIX: an optional prefix (`v`, or a word ending in a
 * separator such as `jammy-`), a version of one to four dot-separated numbers (`3`, `3.12`, `1.2.3`,
 * `2024.03`, `20240301`), an optional pre-release (`-rc1`, `b2`, `-alpha.1`), and a suffix (`-slim`,
 * `-alpine3.19`, `-cuda12.4-devel`). Versions are compared with semver after coercion (`3.12` is
 * 3.12.0, `v1.2` is 1.2.0, `2024.03` is 2024.3.0), a fourth number breaking ties.
 *
 * Tags compare only within their family: the same prefix, the same suffix, the same kind (a
 * calendar version such as `2024.03` or `20240301` is never compared with `22.04`) and the same
 * precision (`3.12` moves with every 3.12.x, so 3.12.1 is not "newer" than it; 3.13 is). `latest`
 * and words (`bookworm`, `edge`) have no family: nothing is newer than them, only their digest can
 * be stale. A pre-release is offered only to a Dockerfile already on a pre-release.
 */
import semver from 'semver';

/** How a tag reads. */
export type TagKind = 'version' | 'date' | 'latest' | 'other';

/** A tag read as a version. */
export interface TagInfo {
  tag: string;
  kind: TagKind;
  /** The family key (prefix, kind, precision, suffix); null for `latest` and words. */
  family: string | null;
  prefix: string;
  suffix: string;
  /** The version coerced to semver (`3.12` -> `3.12.0`), with the pre-release; null without one. */
  version: string | null;
  /** The numbers as written (`[3, 12]`). */
  numbers: number[];
  prerelease: string | null;
}

/** Pre-release markers after the version (`rc1`, `-beta.2`, `a1`). */
const PRERELEASE = /^[-.]?((?:rc|alpha|beta|pre|dev|a|b)\.?\d*)(?=$|[-_.+])/i;

/** Is this version a calendar date (`20240301`, `2024.03`, `2024.03.01`, `2024`)? */
function isDate(numbers: number[], core: string): boolean {
  const y = numbers[0]!;
  if (/^(?:19|20)\d{6}$/.test(core)) return true; // 20240301
  if (numbers.length >= 2 && y >= 1990 && y <= 2100 && numbers[1]! >= 1 && numbers[1]! <= 12) return true; // 2024.03[.01]
  return numbers.length === 1 && /^(?:19|20)\d{2}$/.test(core);
}

/** Read a tag. */
export function parseTag(tag: string): TagInfo {
  const none: TagInfo = { tag, kind: tag === 'latest' ? 'latest' : 'other', family: null, prefix: '', suffix: '', version: null, numbers: [], prerelease: null };
  const m = /^(v|V|[A-Za-z]+(?:[-_][A-Za-z]+)*[-_.]|)(\d+(?:\.\d+){0,3})(.*)$/.exec(tag);
  if (!m) return none;
  const [, prefix = '', core = '', restAll = ''] = m;
  let rest = restAll;
  // A version must end at a separator or the end: `3.12-slim`, `3.12rc1`; not `2x`, not `1.2.3.4.5`.
  if (/^\.\d/.test(rest)) return none;
  let prerelease: string | null = null;
  const pre = PRERELEASE.exec(rest);
  if (pre) {
    prerelease = pre[1]!.toLowerCase();
    rest = rest.slice(pre[0].length);
  }
  if (rest !== '' && !/^[-_+.]/.test(rest) && !/^[a-z]/i.test(rest)) return none;
  const numbers = core.split('.').map(Number);
  const kind: TagKind = isDate(numbers, core) ? 'date' : 'version';
  // semver.coerce would read `2024.03` as 2024.0.0 (a leading zero ends a number there): build it from the numbers.
  const coerced = semver.valid(`${numbers[0]}.${numbers[1] ?? 0}.${numbers[2] ?? 0}`);
  const version = coerced === null ? null : prerelease ? `${coerced}-${prerelease.replace(/[^0-9A-Za-z.]/g, '')}` : coerced;
  return { tag, kind, family: `${prefix}|${kind}|${numbers.length}|${rest}`, prefix, suffix: rest, version, numbers, prerelease };
}

/** Order two tags of one family (negative: `a` is older). */
export function compareTagInfo(a: TagInfo, b: TagInfo): number {
  if (a.version && b.version) {
    const c = semver.compare(a.version, b.version);
    if (c !== 0) return c;
  }
  for (let i = 0; i < Math.max(a.numbers.length, b.numbers.length); i++) {
    const d = (a.numbers[i] ?? 0) - (b.numbers[i] ?? 0);
    if (d !== 0) return d;
  }
  // Same numbers: a release after its pre-releases; then by the text (stable order).
  if (a.prerelease !== b.prerelease) return a.prerelease === null ? 1 : b.prerelease === null ? -1 : a.prerelease < b.prerelease ? -1 : 1;
  return a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0;
}

/** Whether two tags are of one family (and so comparable). */
export function sameFamily(a: string, b: string): boolean {
  const fa = parseTag(a).family;
  return fa !== null && fa === parseTag(b).family;
}

/**
 * The tags of `all` newer than `current` in its family, newest first. Empty for `latest` and
 * words. Pre-releases only when `current` is one.
 */
export function newerTags(current: string, all: readonly string[]): string[] {
  const cur = parseTag(current);
  if (cur.family === null) return [];
  const out: TagInfo[] = [];
  for (const t of all) {
    if (t === current) continue;
    const info = parseTag(t);
    if (info.family !== cur.family) continue;
    if (info.prerelease !== null && cur.prerelease === null) continue;
    if (compareTagInfo(info, cur) > 0) out.push(info);
  }
  return out.sort((a, b) => compareTagInfo(b, a)).map((i) => i.tag);
}

/** Sort tags of any families: grouped by family, each family oldest first; words and `latest` last. */
export function sortTags(all: readonly string[]): string[] {
  const infos = all.map(parseTag);
  return infos
    .sort((a, b) => {
      if (a.family !== b.family) return a.family === null ? 1 : b.family === null ? -1 : a.family < b.family ? -1 : 1;
      return a.family === null ? (a.tag < b.tag ? -1 : 1) : compareTagInfo(a, b);
    })
    .map((i) => i.tag);
}
