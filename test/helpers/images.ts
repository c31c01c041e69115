/**
 * Test images: the fixtures of fixtures/build.mjs (built, cached, with their expected.json), and
 * images built in code from real ELF files (this machine's glibc and /bin/ls, the fixtures' glibc).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './cli.js';
import { buildOci, type TEntry } from './oci.js';

export const FIXTURES = join(REPO, 'fixtures/build');

/** What fixtures/build.mjs recorded about an image (the parts the tests read). */
export interface Expected {
  name: string;
  platform: { architecture: string; os: string; variant: string | null };
  glibc: string | null;
  mpi: { implementation: string; version: string; soname: string; path: string }[];
  cuda: { runtime: string; runtimeFull: string; compatDriver: string | null } | null;
  env: Record<string, string>;
  manifestDigest: string;
  platforms?: Expected[];
}

/** Build (or reuse) the fixtures; the reason when that is impossible. */
export function ensureFixtures(): { ok: true } | { ok: false; reason: string } {
  const r = spawnSync(process.execPath, [join(REPO, 'fixtures/build.mjs')], { cwd: REPO, encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) return { ok: false, reason: `node fixtures/build.mjs failed: ${(r.stderr || r.stdout || r.error?.message || '').trim().split('\n').pop()}` };
  return { ok: true };
}

/**
 * The image made of the first `n` layers of a fixture, as an OCI layout in `dir` (its `oci:`
 * reference): the fixture's own layer blobs, a config whose diff_ids and history stop there, and
 * the fixture's labels. For an image that an upper layer of a fixture changed, such as the
 * bookworm Open MPI that the whiteout fixture deletes.
 */
export function lowerLayers(name: string, n: number, dir: string): string {
  const src = join(FIXTURES, name, 'oci');
  const blob = (d: string) => join(src, 'blobs', ...d.split(':'));
  const index = JSON.parse(readFileSync(join(src, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0]!.digest), 'utf8')) as { config: { digest: string }; layers: { digest: string }[] };
  const config = JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8')) as { rootfs: { diff_ids: string[] }; history?: { empty_layer?: boolean }[] };
  if (manifest.layers.length < n) throw new Error(`fixture ${name} has ${manifest.layers.length} layers, not ${n}`);
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (data: Buffer): { digest: string; size: number } => {
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), data);
    return { digest, size: data.length };
  };
  let left = n;
  const history = config.history?.filter((h) => (h.empty_layer ? left > 0 : left-- > 0));
  const cfg = put(Buffer.from(JSON.stringify({ ...config, rootfs: { ...config.rootfs, diff_ids: config.rootfs.diff_ids.slice(0, n) }, ...(history ? { history } : {}) })));
  for (const l of manifest.layers.slice(0, n)) copyFileSync(blob(l.digest), join(dir, 'blobs', 'sha256', l.digest.slice(7)));
  const m = put(Buffer.from(JSON.stringify({ ...manifest, config: { ...manifest.config, ...cfg }, layers: manifest.layers.slice(0, n) })));
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] }));
  return `oci:${dir}`;
}

export function expected(name: string): Expected {
  return JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8')) as Expected;
}

export const oci = (name: string): string => `oci:${join(FIXTURES, name, 'oci')}`;

/** A file's bytes, following symlinks on this machine. */
const real = (p: string): Buffer => readFileSync(realpathSync(p));

/** This machine's glibc and loader (x86-64 Debian layout), or null when they are not there. */
export function hostGlibcFiles(): { libc: string; ld: string } | null {
  const libc = '/lib/x86_64-linux-gnu/libc.so.6';
  const ld = '/lib64/ld-linux-x86-64.so.2';
  return existsSync(libc) && existsSync(ld) ? { libc, ld } : null;
}

/**
 * An amd64 image holding this machine's real glibc, with `labels` in its config: with
 * `io.archspec.target` it is an image built for that archspec target.
 */
export async function glibcImage(dir: string, labels: Record<string, string>): Promise<string> {
  const g = hostGlibcFiles();
  if (!g) throw new Error('no x86-64 glibc on this machine');
  const entries: TEntry[] = [
    { name: 'lib64/', type: 'directory' },
    { name: 'lib64/ld-linux-x86-64.so.2', content: real(g.ld), mode: 0o755 },
    { name: 'usr/', type: 'directory' },
    { name: 'usr/lib/', type: 'directory' },
    { name: 'usr/lib/x86_64-linux-gnu/', type: 'directory' },
    { name: 'usr/lib/x86_64-linux-gnu/libc.so.6', content: real(g.libc), mode: 0o755 },
  ];
  await buildOci(dir, [{ entries }], { architecture: 'amd64', Labels: labels });
  return `oci:${dir}`;
}

/**
 * A broken image: bullseye's glibc (the fixture's real libc-2.31.so as libc.so.6, and its loader)
 * with this machine's /bin/ls as /usr/bin/ls, which needs a newer GLIBC_ version.
 */
export async function brokenLibcImage(dir: string): Promise<string> {
  const b = join(FIXTURES, 'bullseye-openmpi/rootfs/lib/x86_64-linux-gnu');
  const entries: TEntry[] = [
    { name: 'lib64/', type: 'directory' },
    { name: 'lib64/ld-linux-x86-64.so.2', content: real(join(b, 'ld-linux-x86-64.so.2')), mode: 0o755 },
    { name: 'lib/', type: 'directory' },
    { name: 'lib/x86_64-linux-gnu/', type: 'directory' },
    { name: 'lib/x86_64-linux-gnu/libc.so.6', content: real(join(b, 'libc.so.6')), mode: 0o755 },
    { name: 'usr/', type: 'directory' },
    { name: 'usr/bin/', type: 'directory' },
    { name: 'usr/bin/ls', content: real('/bin/ls'), mode: 0o755 },
  ];
  await buildOci(dir, [{ entries }], { architecture: 'amd64', Labels: { 'org.opencontainers.image.title': 'broken-libc' } });
  return `oci:${dir}`;
}

/** The highest `GLIBC_x.y` version an ELF file needs (its .gnu.version_r), read with readelf; null when readelf is missing. */
export function readelfMaxGlibc(file: string): { max: string | null } | null {
  const r = spawnSync('readelf', ['-V', '--wide', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error || r.status !== 0) return null;
  const needs = r.stdout.slice(Math.max(0, r.stdout.indexOf("Version needs section")));
  if (!r.stdout.includes('Version needs section')) return { max: null };
  const versions = [...new Set([...needs.matchAll(/Name: GLIBC_(\d+(?:\.\d+)+)\s/g)].map((m) => m[1]!))];
  versions.sort(compareVersions);
  return { max: versions.length ? versions[versions.length - 1]! : null };
}

/** Compare dotted numeric versions. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
