/**
 * What the extractors want from a layer's content, declared before the pass (snyk's
 * ExtractAction, syft's catalogers): the walker keeps only these bytes while streaming.
 * Plain data with regular expressions, so a worker thread can import it as well.
 */

/** A streaming search inside files whose path matches `path`. */
export interface ScanRule {
  /** Name of the rule; results are keyed by it. */
  id: string;
  /** Which files (cleaned path, no leading slash). */
  path: RegExp;
  /** What to find, on the bytes read as latin1; capture group 1 (or the whole match) is kept. Must be global. */
  pattern: RegExp;
  /** Stop after this many distinct matches. */
  max: number;
  /**
   * A literal every match contains. When set, the scanner finds it with a native byte search and
   * runs the pattern only on a window of `window` bytes around each hit, instead of on every byte.
   */
  anchor?: string;
  window?: number;
}

/** Size cap for a kept text file. */
export const TEXT_CAP = 4 * 1024 * 1024;
/** Size cap for the dpkg / apk package databases. */
export const PACKAGE_DB_CAP = 16 * 1024 * 1024;
/** Overlap kept between chunks so a match that straddles two chunks is found. */
export const SCAN_OVERLAP = 512;

/** Exact paths whose text is kept (capped). */
export const TEXT_PATHS: ReadonlySet<string> = new Set([
  'etc/os-release',
  'usr/lib/os-release',
  'etc/lsb-release',
  'etc/debian_version',
  'etc/alpine-release',
  'etc/redhat-release',
  'etc/centos-release',
  'etc/system-release',
  'etc/ld.so.conf',
  'var/lib/dpkg/status',
  'lib/apk/db/installed',
  'usr/local/cuda/version.json',
  'usr/local/cuda/version.txt',
  'opt/rocm/.info/version',
]);

/** Path patterns whose text is kept (capped). */
export const TEXT_PATTERNS: readonly RegExp[] = [
  /^etc\/ld\.so\.conf\.d\/[^/]+\.conf$/,
  /^var\/lib\/dpkg\/status\.d\/[^/]+$/,
];

const LIB = String.raw`(?:^|/)`;

/** Streaming searches, by file. */
export const SCAN_RULES: readonly ScanRule[] = [
  {
    // glibc's banner: "GNU C Library (Debian GLIBC 2.36-9+deb12u4) stable release version 2.36."
    id: 'glibc-banner',
    path: new RegExp(`${LIB}(?:libc\\.so\\.6|libc-2\\.\\d+\\.so)$`),
    pattern: /GNU C Library[^\n\0]{0,120}? release version (\d+\.\d+(?:\.\d+)?)/g,
    max: 1,
    anchor: 'GNU C Library',
    window: 200,
  },
  {
    // Open MPI keeps its version as a standalone string next to the "Open MPI" ident:
    // "%s:version:full\0v4.1.4\0Open MPI\0"; some builds also carry "Open MPI v4.1.4".
    id: 'openmpi-version',
    path: new RegExp(`${LIB}libmpi\\.so[.0-9]*$`),
    pattern: /(?:\0v|Open MPI v)(\d+\.\d+(?:\.\d+)?(?:[a-z]+\d*)?)(?:\0Open MPI\0|[,\s])/g,
    max: 4,
    anchor: 'Open MPI',
    window: 64,
  },
  {
    // MPICH keeps MPII_Version_string right after the build date: "Thu Apr  7 12:34:45 CDT 2022\0" "4.0.2\0".
    // Only MPICH-ABI libraries are searched (the pattern has no literal to anchor on).
    id: 'mpich-version',
    path: new RegExp(`${LIB}(?:libmpich\\.so[.0-9]*|libmpi\\.so\\.12[.0-9]*|libmpi_cray\\.so[.0-9]*|libmpi_abi\\.so[.0-9]*)$`),
    pattern: /[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d [A-Z]{2,5} \d{4}\0(\d+\.\d+(?:\.\d+)?(?:[a-z]+\d*)?)\0/g,
    max: 1,
  },
  {
    // Derivatives that embed "MPICH Version:\t4.2.0" literally.
    id: 'mpich-version',
    path: new RegExp(`${LIB}(?:libmpich\\.so[.0-9]*|libmpi\\.so\\.12[.0-9]*|libmpi_cray\\.so[.0-9]*|libmpi_abi\\.so[.0-9]*)$`),
    pattern: /MPICH Version:[ \t]*(\d+\.\d+(?:\.\d+)?(?:[a-z]+\d*)?)(?=\0|\s)/g,
    max: 1,
    anchor: 'MPICH Version:',
    window: 64,
  },
  {
    id: 'intelmpi-version',
    path: new RegExp(`${LIB}libmpi(?:fort)?\\.so[.0-9]*$`),
    pattern: /Intel\(R\) MPI Library (\d{4}(?:\.\d+)*|\d+\.\d+(?:\.\d+)?)/g,
    max: 4,
    anchor: 'Intel(R) MPI Library',
    window: 64,
  },
  {
    id: 'mvapich-version',
    path: new RegExp(`${LIB}libmpi(?:ch)?\\.so[.0-9]*$`),
    pattern: /MVAPICH2? Version:\s*(\d+\.\d+(?:\.\d+)?(?:[a-z]+\d*)?)/g,
    max: 4,
    anchor: 'MVAPICH',
    window: 64,
  },
  {
    id: 'cray-mpich-version',
    path: new RegExp(`${LIB}libmpi(?:_[a-z]+)?\\.so[.0-9]*$`),
    pattern: /CRAY MPICH version (\d+\.\d+(?:\.\d+)?)/g,
    max: 4,
    anchor: 'CRAY MPICH',
    window: 64,
  },
  {
    // musl prints "musl libc (x86_64)\nVersion %s" when run; the version itself is a standalone
    // string in its libc. Debian ships the loader as a symlink to lib/x86_64-linux-musl/libc.so.
    id: 'musl-version',
    path: new RegExp(`${LIB}(?:ld-musl-[a-z0-9_]+\\.so\\.1|libc\\.musl-[a-z0-9_]+\\.so\\.1|[a-z0-9_]+-linux-musl[a-z]*/libc\\.so)$`),
    pattern: /\0(\d\.\d+\.\d+(?:_git\d+)?)\0/g,
    max: 3,
  },
  {
    // Marks a musl libc (the loader banner format string).
    id: 'musl-banner',
    path: new RegExp(`${LIB}(?:ld-musl-[a-z0-9_]+\\.so\\.1|libc\\.musl-[a-z0-9_]+\\.so\\.1|[a-z0-9_]+-linux-musl[a-z]*/libc\\.so)$`),
    pattern: /musl libc \(([a-z0-9_]+)\)/g,
    max: 1,
  },
];

/** Is the text of this path kept? */
export function wantsText(path: string): boolean {
  if (TEXT_PATHS.has(path)) return true;
  for (const re of TEXT_PATTERNS) if (re.test(path)) return true;
  return false;
}

/** The cap for one text path. */
export function textCap(path: string): number {
  return path === 'var/lib/dpkg/status' || path === 'lib/apk/db/installed' ? PACKAGE_DB_CAP : TEXT_CAP;
}

/** The scan rules that apply to a path. */
export function scanRulesFor(path: string): ScanRule[] {
  const out: ScanRule[] = [];
  for (const r of SCAN_RULES) if (r.path.test(path)) out.push(r);
  return out;
}
