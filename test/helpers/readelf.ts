/**
 * Independent ELF facts from binutils' readelf, to check containerspec's own ELF reader against.
 * Paths inside an unpacked root are resolved chroot-style (absolute symlinks stay inside the root).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, lstatSync, openSync, readdirSync, readSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

let availability: { ok: true } | { ok: false; reason: string } | undefined;

function hasReadelf(): boolean {
  return spawnSync('readelf', ['--version'], { encoding: 'utf8' }).status === 0;
}

/**
 * Is readelf there? When it is not and we are root, install binutils with apt-get (once).
 * Returns the reason it is still missing otherwise.
 */
export function readelfAvailable(): { ok: true } | { ok: false; reason: string } {
  if (availability) return availability;
  if (hasReadelf()) return (availability = { ok: true });
  if (process.getuid?.() !== 0) return (availability = { ok: false, reason: 'readelf (binutils) is not installed and we are not root to apt-get it' });
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '-q', 'binutils'], { encoding: 'utf8', env });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-q'], { encoding: 'utf8', env });
    r = spawnSync('apt-get', ['install', '-y', '-q', 'binutils'], { encoding: 'utf8', env });
  }
  if (hasReadelf()) return (availability = { ok: true });
  return (availability = { ok: false, reason: `readelf (binutils) is missing and "apt-get install binutils" failed: ${(r.stderr || r.stdout || '').trim().split('\n').pop()}` });
}

function readelf(args: string[]): string {
  const r = spawnSync('readelf', args, { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.error) throw r.error;
  return r.stdout;
}

/** Resolve `rel` (no leading slash needed) inside `root` as if root were `/`. Null when it does not exist. */
export function resolveInRoot(root: string, rel: string): string | null {
  let parts = rel.split('/').filter((p) => p && p !== '.');
  let cur: string[] = [];
  let hops = 0;
  while (parts.length) {
    const p = parts.shift()!;
    if (p === '..') {
      cur.pop();
      continue;
    }
    const candidate = join(root, ...cur, p);
    let st;
    try {
      st = lstatSync(candidate);
    } catch {
      return null;
    }
    if (st.isSymbolicLink()) {
      if (++hops > 40) return null;
      const target = readlinkSync(candidate);
      if (target.startsWith('/')) cur = [];
      parts = [...target.split('/').filter((x) => x && x !== '.'), ...parts];
    } else {
      cur.push(p);
    }
  }
  return join(root, ...cur);
}

function isElf(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b[0] === 0x7f && b.toString('latin1', 1, 4) === 'ELF';
  } finally {
    closeSync(fd);
  }
}

/** Every regular file under root that starts with the ELF magic (symlinks not followed). */
export function elfFilesUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, d.name);
      if (d.isDirectory()) walk(p);
      else if (d.isFile() && lstatSync(p).size >= 52 && isElf(p)) out.push(p);
    }
  };
  walk(root);
  return out;
}

export interface VersionNeed {
  /** The ELF file that needs the version (as given to readelf). */
  elf: string;
  /** The library the version is needed from (`File:` in the verneed entry). */
  from: string;
  /** Version name, e.g. GLIBC_2.29. */
  name: string;
}

/** Parse `readelf -V --wide` over one or more files: the entries of their Version needs sections. */
export function versionNeeds(files: string[]): VersionNeed[] {
  const needs: VersionNeed[] = [];
  const chunk = 200;
  for (let i = 0; i < files.length; i += chunk) {
    const batch = files.slice(i, i + chunk);
    const text = readelf(['-V', '--wide', ...batch]);
    let elf = batch.length === 1 ? batch[0]! : '';
    let inNeeds = false;
    let from = '';
    for (const line of text.split('\n')) {
      const header = /^File: (.+)$/.exec(line);
      if (header) {
        elf = header[1]!;
        inNeeds = false;
        continue;
      }
      if (/^Version needs section/.test(line)) {
        inNeeds = true;
        continue;
      }
      if (!line.trim() || /^\S/.test(line)) {
        inNeeds = false;
        continue;
      }
      if (!inNeeds) continue;
      const f = /\bFile: (\S+)/.exec(line);
      if (f) from = f[1]!;
      const n = /\bName: (\S+)/.exec(line);
      if (n) needs.push({ elf, from, name: n[1]! });
    }
  }
  return needs;
}

/** The NT_GNU_ABI_TAG `readelf -n` prints for a file ("3.2.0"), or null when it has none. */
export function abiTag(file: string): string | null {
  const m = /OS: Linux, ABI: (\d+\.\d+\.\d+)/.exec(readelf(['-n', '--wide', file]));
  return m ? m[1]! : null;
}

/** Numeric GLIBC_x.y[.z] version of a version name, or null for GLIBC_PRIVATE and the like. */
export function glibcVersionOf(name: string): string | null {
  const m = /^GLIBC_(\d+(?:\.\d+)+)$/.exec(name);
  return m ? m[1]! : null;
}

/**
 * Find glibc's libc.so.6 in an unpacked root: lib{,64}/ and usr/lib{,64}/ and their
 * multiarch subdirectories. Returns the resolved file, or null.
 */
export function findGlibcLibc(root: string): string | null {
  for (const base of ['lib', 'usr/lib', 'lib64', 'usr/lib64']) {
    const dir = resolveInRoot(root, base);
    if (!dir) continue;
    const direct = resolveInRoot(root, `${base}/libc.so.6`);
    if (direct) return direct;
    let subs: string[] = [];
    try {
      subs = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory() && /-linux-gnu/.test(d.name)).map((d) => d.name);
    } catch {
      continue;
    }
    for (const s of subs.sort()) {
      const f = resolveInRoot(root, `${base}/${s}/libc.so.6`);
      if (f) return f;
    }
  }
  return null;
}

/** `readelf -n` over many files: each file's NT_GNU_ABI_TAG version, or null when it has none. */
export function abiTags(files: string[]): Map<string, string | null> {
  const out = new Map<string, string | null>();
  const chunk = 200;
  for (let i = 0; i < files.length; i += chunk) {
    const batch = files.slice(i, i + chunk);
    for (const f of batch) out.set(f, null);
    const text = readelf(['-n', '--wide', ...batch]);
    let elf = batch.length === 1 ? batch[0]! : '';
    for (const line of text.split('\n')) {
      const header = /^File: (.+)$/.exec(line);
      if (header) {
        elf = header[1]!;
        continue;
      }
      const m = /OS: Linux, ABI: (\d+\.\d+\.\d+)/.exec(line);
      if (m && elf) out.set(elf, m[1]!);
    }
  }
  return out;
}
