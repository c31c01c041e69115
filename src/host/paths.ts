/**
 * Where the host probes read from, and the small, careful file readers they share.
 *
 * Every probe takes a {@link HostPaths}: the live host is `/proc`, `/sys` and `/`, but any
 * of the three can point at a copy (a tarball of another machine's files, a test fixture),
 * so a host can be judged from its files alone. Readers never throw for a missing file and
 * never read more than a size cap; nothing here shells out.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { resolveLinks } from '../layers/resolve.js';
import type { Evidence } from '../model/facts.js';

/** The three trees a host probe reads: procfs, sysfs and the root filesystem. */
export type { Evidence };

/** The three trees a host probe reads: procfs, sysfs and the root filesystem. */
export interface HostPaths {
  /** procfs mount, normally `/proc`. */
  proc: string;
  /** sysfs mount, normally `/sys`. */
  sys: string;
  /** Root filesystem, normally `/` (library directories, `/boot`, `/etc/os-release`, `/opt/rocm`). */
  root: string;
}

/** The live host's paths: `/proc`, `/sys`, `/`. */
export function defaultHostPaths(): HostPaths {
  return { proc: '/proc', sys: '/sys', root: '/' };
}

/**
 * Host trees given as copies (`--proc`, `--sys`, `--root` other than the live `/proc`, `/sys`, `/`):
 * each as given (resolved) → its real path. Whatever a reader opens under one must really be inside
 * it: a symlink in a copy that points outside (`cpuinfo -> /etc/shadow`) is not followed out.
 */
const trees = new Map<string, string>();

/** Fill the paths not given with the live host's, and register the copies' boundaries. */
export function hostPaths(partial: Partial<HostPaths> = {}): HostPaths {
  const d = defaultHostPaths();
  const paths = {
    proc: partial.proc ?? d.proc,
    sys: partial.sys ?? d.sys,
    root: partial.root ?? d.root,
  };
  for (const [given, live] of [[paths.proc, '/proc'], [paths.sys, '/sys'], [paths.root, '/']] as const) {
    const abs = resolve(given);
    if (abs === live || trees.has(abs)) continue;
    try {
      trees.set(abs, realpathSync(abs));
    } catch {
      /* a missing tree: every read in it is simply missing */
    }
  }
  return paths;
}

/** The real path of the copied host tree `path` lies in, or null for the live host (no boundary). */
function treeOf(path: string): string | null {
  const abs = resolve(path);
  let best: string | null = null;
  let bestLen = -1;
  for (const [given, real] of trees) {
    if ((abs === given || abs.startsWith(`${given}/`)) && given.length > bestLen) {
      best = real;
      bestLen = given.length;
    }
  }
  return best;
}

const inside = (real: string, tree: string) => real === tree || real.startsWith(tree.endsWith('/') ? tree : `${tree}/`);

/** True when `paths.proc` is the running kernel's `/proc`, so `node:os` answers describe the same host. */
export function isLiveProc(paths: HostPaths): boolean {
  return resolve(paths.proc) === '/proc';
}

/** True when all three paths are the live host's, so libraries that read fixed paths describe the same host. */
export function isLiveHost(paths: HostPaths): boolean {
  return isLiveProc(paths) && resolve(paths.sys) === '/sys' && resolve(paths.root) === '/';
}

/** Largest file any probe reads: 4 MiB. Procfs and sysfs files are far smaller; a bigger one is not what we expect. */
export const MAX_READ_BYTES = 4 * 1024 * 1024;

/** Outcome of {@link readCapped}. */
export type ReadResult =
  | { kind: 'ok'; data: Buffer }
  | { kind: 'missing' }
  | { kind: 'too-large'; cap: number }
  | { kind: 'error'; message: string };

/**
 * Read a whole file, at most `cap` bytes. Works on procfs/sysfs files, whose size is reported as 0
 * or 4096, by reading until end of file. A missing file (ENOENT, ENOTDIR) is `missing`; any other
 * failure is `error`; never throws.
 */
export async function readCapped(path: string, cap: number = MAX_READ_BYTES): Promise<ReadResult> {
  // Synchronous on purpose: probes read dozens of tiny procfs/sysfs files, and a thread-pool round
  // trip per open/read/close costs more than the read itself (it was a third of `host` time).
  let fd: number;
  try {
    // Non-blocking: opening a FIFO for reading must not wait for a writer.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    return failure(e);
  }
  try {
    // Only regular files are read (procfs and sysfs files are regular files): never a FIFO or device.
    if (!fstatSync(fd).isFile()) return { kind: 'error', message: 'not a regular file' };
    const tree = treeOf(path);
    if (tree !== null && !inside(readlinkSync(`/proc/self/fd/${fd}`), tree)) return { kind: 'error', message: 'resolves outside the host tree it was read from' };
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const want = Math.min(64 * 1024, cap + 1 - total);
      const buf = Buffer.allocUnsafe(want);
      const bytesRead = readSync(fd, buf, 0, want, null);
      if (bytesRead === 0) break;
      chunks.push(buf.subarray(0, bytesRead));
      total += bytesRead;
      if (total > cap) return { kind: 'too-large', cap };
    }
    return { kind: 'ok', data: Buffer.concat(chunks, total) };
  } catch (e) {
    return failure(e);
  } finally {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
  }
}

function failure(e: unknown): ReadResult {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' };
  const message = e instanceof Error ? e.message : String(e);
  return { kind: 'error', message: code ? `${code}: ${message}` : message };
}

/** Describe a failed {@link ReadResult} in a few words for an evidence entry. */
export function describeFailure(r: Exclude<ReadResult, { kind: 'ok' }>): string {
  switch (r.kind) {
    case 'missing':
      return 'missing';
    case 'too-large':
      return `too large (over ${r.cap} bytes), not read`;
    case 'error':
      return `unreadable: ${r.message}`;
  }
}

/**
 * Read a text file for the fact `source`, pushing one evidence entry either way.
 * Returns the text (untrimmed) or null when the file is missing, too large or unreadable.
 * `describe` turns the text into the evidence detail (default: the trimmed first line, shortened).
 */
export async function readTextEvidence(
  source: string,
  path: string,
  evidence: Evidence[],
  describe: (text: string) => string = (t) => shorten(t.trim().split('\n')[0] ?? ''),
  cap: number = MAX_READ_BYTES,
): Promise<string | null> {
  const r = await readCapped(path, cap);
  if (r.kind !== 'ok') {
    evidence.push({ source, path, detail: describeFailure(r) });
    return null;
  }
  const text = r.data.toString('utf8');
  evidence.push({ source, path, detail: describe(text) });
  return text;
}

/** Read a text file quietly: the text, or null for any failure. For probes that log their own evidence. */
export async function readTextQuiet(path: string, cap: number = MAX_READ_BYTES): Promise<string | null> {
  const r = await readCapped(path, cap);
  return r.kind === 'ok' ? r.data.toString('utf8') : null;
}

/** List a directory's entry names, sorted; null when it is missing or unreadable. */
export async function listDir(path: string): Promise<string[] | null> {
  try {
    const tree = treeOf(path);
    if (tree !== null && !inside(realpathSync(path), tree)) return null;
    return readdirSync(path).sort();
  } catch {
    return null;
  }
}

/** Shorten a detail string to one line of at most `max` characters. */
export function shorten(s: string, max = 200): string {
  const one = s.replace(/\s*\n\s*/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** Join a procfs-relative path (`sys/kernel/osrelease`) onto `paths.proc`. */
export function procPath(paths: HostPaths, rel: string): string {
  return join(paths.proc, rel);
}

/** Join a sysfs-relative path (`bus/pci/devices`) onto `paths.sys`. */
export function sysPath(paths: HostPaths, rel: string): string {
  return join(paths.sys, rel);
}

/**
 * Resolve `rel` (e.g. `opt/rocm/.info/version`) inside `root` the way the host would see it:
 * absolute symlinks are taken relative to `root`, not to the machine running the probe, and `..`
 * never climbs above `root` (the same resolver the image view uses). For the live root (`/`) this is
 * plain path joining. Never throws: a missing component is joined on, so the caller's read reports
 * the file as missing.
 */
export async function resolveInRoot(root: string, rel: string): Promise<string> {
  const base = resolve(root);
  if (base === '/') return resolve('/', rel);
  const r = resolveLinks(rel, (p) => {
    try {
      const full = join(base, p);
      return lstatSync(full).isSymbolicLink() ? readlinkSync(full) : null;
    } catch {
      return null;
    }
  });
  return join(base, r.path);
}
