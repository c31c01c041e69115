/**
 * Debian's real `libcuda1` package (non-free), downloaded once per machine into a cache under the
 * temp directory and shared by the test files. When the system's apt sources lack non-free (the
 * usual case), a PRIVATE apt state is used whose only source is the system's own Debian archive
 * with the non-free component; the system's apt configuration and state are not touched.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withLock } from './cli.js';

export interface Libcuda1 {
  /** The downloaded .deb. */
  deb: string;
  /** Path of the versioned library inside the package, e.g. `usr/lib/x86_64-linux-gnu/nvidia/current/libcuda.so.535.261.03`. */
  relPath: string;
  /** The driver version in that file name, e.g. `535.261.03`. */
  version: string;
}

const CACHE = join(tmpdir(), `containerspec-test-cache-${process.getuid?.() ?? 'u'}`, 'libcuda1');

function debIn(dir: string, name = 'libcuda1'): string | null {
  const f = existsSync(dir) ? readdirSync(dir).find((n) => n.startsWith(`${name}_`) && n.endsWith('.deb')) : undefined;
  return f ? join(dir, f) : null;
}

function lastLine(s: string | undefined): string {
  return (s ?? '').trim().split('\n').pop() ?? '';
}

/** The system's main Debian archive (URI, suite, keyring) from its apt sources. */
function systemArchive(): { uri: string; suite: string; signedBy: string | null } | null {
  const entries: { uri: string; suite: string; signedBy: string | null }[] = [];
  const dir = '/etc/apt/sources.list.d';
  for (const f of existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.sources')) : []) {
    for (const stanza of readFileSync(join(dir, f), 'utf8').split(/\n\s*\n/)) {
      const field = (k: string) => new RegExp(`^${k}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim();
      if (!field('Types')?.split(/\s+/).includes('deb') || /^Enabled:\s*no/im.test(stanza)) continue;
      for (const uri of field('URIs')?.split(/\s+/) ?? []) for (const suite of field('Suites')?.split(/\s+/) ?? []) entries.push({ uri, suite, signedBy: field('Signed-By') ?? null });
    }
  }
  for (const file of ['/etc/apt/sources.list', ...(existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.list')).map((n) => join(dir, n)) : [])]) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
      if (m?.[2] && m[3]) entries.push({ uri: m[2], suite: m[3], signedBy: /signed-by=(\S+)/.exec(m[1] ?? '')?.[1] ?? null });
    }
  }
  return entries.find((e) => /debian/.test(e.uri) && !/security/.test(e.uri) && !e.suite.includes('-') && !e.suite.includes('/')) ?? null;
}

/** The .deb of a Debian package of the system's suite (main, else non-free through private apt state), downloaded once into `dir`; or why it cannot be had. */
function nonFreeDeb(name: string, dir: string): string | { reason: string } {
    mkdirSync(dir, { recursive: true });
    const attempts: string[] = [];
    const download = (extra: string[]): string | null => {
      const r = spawnSync('apt-get', [...extra, '-o', 'APT::Sandbox::User=root', 'download', name], { cwd: dir, encoding: 'utf8', timeout: 240_000 });
      const deb = debIn(dir, name);
      if (r.status === 0 && deb) return deb;
      attempts.push(`${extra.length ? 'private non-free sources' : 'system sources'}: ${lastLine(r.stderr || r.error?.message || `exit ${r.status}`)}`);
      return null;
    };
    let deb = debIn(dir, name) ?? download([]);
    if (deb === null) {
      const a = systemArchive();
      if (!a) attempts.push('no Debian archive in the apt sources');
      else {
        const state = join(CACHE, 'apt');
        mkdirSync(state, { recursive: true });
        for (const d of ['lists/partial', 'cache/archives/partial']) mkdirSync(join(state, d), { recursive: true });
        const opt = a.signedBy && existsSync(a.signedBy) ? `[signed-by=${a.signedBy}]` : '[trusted=yes]';
        writeFileSync(join(state, 'sources.list'), `deb ${opt} ${a.uri} ${a.suite} non-free\n`);
        const extra = [
          '-o', `Dir::Etc::SourceList=${join(state, 'sources.list')}`,
          '-o', 'Dir::Etc::SourceParts=/dev/null',
          '-o', `Dir::State::Lists=${join(state, 'lists')}`,
          '-o', `Dir::Cache=${join(state, 'cache')}`,
          '-o', 'Dir::State::status=/dev/null',
        ];
        const up = spawnSync('apt-get', [...extra, '-o', 'APT::Sandbox::User=root', 'update'], { encoding: 'utf8', timeout: 240_000 });
        if (up.status === 0) deb = download(extra);
        else attempts.push(`apt-get update (private non-free): ${lastLine(up.stderr || `exit ${up.status}`)}`);
      }
    }
    return deb ?? { reason: `cannot download ${name}: ${attempts.join('; ')}` };
}

/** Debian's real packages `names` (non-free allowed), downloaded once each; their .deb files, or why not. */
export async function debianPackages(names: readonly string[]): Promise<string[] | { reason: string }> {
  for (const tool of ['apt-get', 'dpkg-deb']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return { reason: `${tool} is not installed` };
  }
  mkdirSync(CACHE, { recursive: true });
  return withLock(`${CACHE}.lock`, () => {
    const debs: string[] = [];
    for (const n of names) {
      const d = nonFreeDeb(n, n === 'libcuda1' ? CACHE : join(CACHE, 'debs', n));
      if (typeof d !== 'string') return d;
      debs.push(d);
    }
    return debs;
  });
}

/** The package, downloading it on first use; or the reason it cannot be had. */
export async function libcuda1(): Promise<Libcuda1 | { reason: string }> {
  const got = await debianPackages(['libcuda1']);
  if (!Array.isArray(got)) return got;
  const deb = got[0]!;
  {
    const listing = spawnSync('dpkg-deb', ['-c', deb], { encoding: 'utf8', maxBuffer: 16 << 20 });
    if (listing.status !== 0) return { reason: `dpkg-deb -c ${deb}: ${lastLine(listing.stderr)}` };
    const files = listing.stdout
      .split('\n')
      .filter((l) => l.startsWith('-'))
      .map((l) => (l.trim().split(/\s+/).pop() ?? '').replace(/^\.\//, ''))
      .map((p) => ({ p, m: /(?:^|\/)libcuda\.so\.(\d+\.\d+(?:\.\d+)?)$/.exec(p) }))
      .filter((x) => x.m !== null);
    if (files.length !== 1) return { reason: `libcuda1 (${deb}) holds ${files.length} versioned libcuda files, expected 1` };
    return { deb, relPath: files[0]!.p, version: files[0]!.m![1]! };
  }
}

/** Unpack the package into a root directory (`dpkg-deb -x`). */
export function unpackInto(pkg: Libcuda1, root: string): void {
  mkdirSync(root, { recursive: true });
  const r = spawnSync('dpkg-deb', ['-x', pkg.deb, root], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dpkg-deb -x ${pkg.deb}: ${r.stderr}`);
}
