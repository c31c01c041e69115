// Checks the test-image fixtures themselves (fixtures/build.mjs): blobs hash to their names, layer
// digests and diff_ids are right, expected.json agrees with the images, the malformed variants carry
// exactly their defect, and real peers (skopeo, umoci) accept the good images.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import tar from 'tar-stream';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIX = join(ROOT, 'fixtures');
const BUILD = join(FIX, 'build');
const SAMPLE = join(FIX, 'sample');

const MT = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  tar: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
};

// Names come from the recipes in fixtures/build.mjs (checked against build/index.json below).
const GOOD = ['bullseye-openmpi', 'trixie-mpich-cuda', 'bookworm-arm64', 'musl-static', 'whiteout', 'multiarch'];
const SUSPICIOUS = ['sus-symlink-loop', 'sus-corrupt-elf', 'sus-lying-config'];
const MALFORMED = ['bad-truncated-gzip', 'bad-digest', 'bad-dotdot', 'bad-missing-blob', 'bad-manifest-json'];

interface Descriptor { mediaType: string; digest: string; size: number; platform?: { architecture: string; os: string; variant?: string }; annotations?: Record<string, string> }
interface Manifest { schemaVersion: number; mediaType: string; config: Descriptor; layers: Descriptor[] }
interface Index { schemaVersion: number; mediaType: string; manifests: Descriptor[] }
interface Config { architecture: string; os: string; variant?: string; config: { Env?: string[]; Labels?: Record<string, string> }; rootfs: { type: string; diff_ids: string[] }; history?: unknown[] }
interface LayerFact { digest: string; diffId: string; mediaType: string; size: number }
interface Facts {
  name: string; kind: string; platform: { architecture: string; os: string; variant: string | null };
  packages: Record<string, string>; glibc: string | null; musl: string | null;
  os: { id: string; versionId: string } | null;
  mpi: { implementation: string; version: string; soname: string; path: string }[];
  cuda: { runtime: string; runtimeFull: string; compatDriver: string | null } | null;
  labels: Record<string, string>; env: Record<string, string>;
  manifestDigest: string; configDigest: string; layers: LayerFact[];
  indexDigest?: string; platforms?: Facts[]; docker25?: { manifestDigest: string; configDigest: string; layers: LayerFact[] };
  warning?: string; warningDetail?: Record<string, unknown>; whiteouts?: { removed: string[]; opaque: string[]; added: string[] };
  error?: { kind: string; blob: string };
  sources?: { package: string; version: string; architecture: string; suite: string }[];
}

const sha = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const readJson = <T>(p: string): T => JSON.parse(readFileSync(p, 'utf8')) as T;
const blobPath = (layout: string, digest: string): string => join(layout, 'blobs', 'sha256', digest.replace(/^sha256:/, ''));
const blob = (layout: string, digest: string): Buffer => readFileSync(blobPath(layout, digest));
const expected = (name: string): Facts => readJson<Facts>(join(BUILD, name, 'expected.json'));

function decompressLayer(mediaType: string, data: Buffer): Buffer {
  if (mediaType === MT.gzip) return gunzipSync(data);
  if (mediaType === MT.zstd) return Buffer.from(zstdDecompress(data));
  if (mediaType === MT.tar) return data;
  throw new Error(`unexpected layer media type ${mediaType}`);
}

async function tarEntries(buf: Buffer): Promise<Map<string, { type: string; data: Buffer; linkname?: string }>> {
  const out = new Map<string, { type: string; data: Buffer; linkname?: string }>();
  const ex = tar.extract();
  ex.end(buf);
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    const e: { type: string; data: Buffer; linkname?: string } = { type: entry.header.type ?? 'file', data: Buffer.concat(chunks) };
    if (entry.header.linkname) e.linkname = entry.header.linkname;
    out.set(entry.header.name, e);
  }
  return out;
}

/** The image manifests of a layout (following a nested index), each with the config. */
function manifestsOf(layout: string): { digest: string; manifest: Manifest; config: Config; platform?: Descriptor['platform'] }[] {
  const index = readJson<Index>(join(layout, 'index.json'));
  const out: ReturnType<typeof manifestsOf> = [];
  const visit = (d: Descriptor): void => {
    const raw = blob(layout, d.digest);
    expect(raw.length).toBe(d.size);
    if (d.mediaType === MT.index) {
      const inner = JSON.parse(raw.toString('utf8')) as Index;
      expect(inner.mediaType).toBe(MT.index);
      for (const m of inner.manifests) visit(m);
      return;
    }
    expect(d.mediaType).toBe(MT.manifest);
    const manifest = JSON.parse(raw.toString('utf8')) as Manifest;
    expect(manifest.schemaVersion).toBe(2);
    expect(manifest.config.mediaType).toBe(MT.config);
    const config = JSON.parse(blob(layout, manifest.config.digest).toString('utf8')) as Config;
    out.push({ digest: d.digest, manifest, config, ...(d.platform ? { platform: d.platform } : {}) });
  };
  for (const d of index.manifests) visit(d);
  return out;
}

function tool(name: string, args: string[]): string | null {
  const r = spawnSync(name, args, { encoding: 'utf8' });
  return r.error || r.status !== 0 ? null : (r.stdout || r.stderr).trim().split('\n')[0] ?? '';
}
const skopeoVersion = tool('skopeo', ['--version']);
const umociVersion = tool('umoci', ['--version']);
if (!skopeoVersion) console.warn('fixtures-build.test: skopeo is not installed (apt-get install skopeo): skipping the skopeo interop checks');
if (!umociVersion) console.warn('fixtures-build.test: umoci is not installed (apt-get install umoci): skipping the umoci interop check');
const itSkopeo = skopeoVersion ? it : it.skip;
const itUmoci = umociVersion ? it : it.skip;

function skopeoInspect(ref: string, extra: string[] = []): { Architecture: string; Os: string; Digest: string; Layers: string[]; Labels: Record<string, string> | null } {
  const out = execFileSync('skopeo', ['inspect', ...extra, ref], { encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(out) as ReturnType<typeof skopeoInspect>;
}

beforeAll(() => {
  // cached: returns at once when fixtures/build/STAMP matches build.mjs
  execFileSync(process.execPath, [join(FIX, 'build.mjs')], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 900_000 });
}, 900_000);

describe('fixtures/build index', () => {
  it('lists every image with its kind and existing paths', () => {
    const index = readJson<{ images: { name: string; kind: string; paths: Record<string, string> }[] }>(join(BUILD, 'index.json'));
    const kinds = Object.fromEntries(index.images.map((i) => [i.name, i.kind]));
    expect(kinds).toEqual({
      ...Object.fromEntries(GOOD.map((n) => [n, 'good'])),
      ...Object.fromEntries(SUSPICIOUS.map((n) => [n, 'suspicious'])),
      ...Object.fromEntries(MALFORMED.map((n) => [n, 'malformed'])),
    });
    for (const img of index.images) {
      for (const p of Object.values(img.paths)) expect(existsSync(join(BUILD, p)), `${img.name}: ${p}`).toBe(true);
    }
  });
});

describe.each([...GOOD, ...SUSPICIOUS])('fixture %s', (name) => {
  const layout = join(BUILD, name, 'oci');

  it('every blob hashes to its name', () => {
    const dir = join(layout, 'blobs', 'sha256');
    const names = readdirSync(dir);
    expect(names.length).toBeGreaterThan(2);
    for (const n of names) expect(sha(readFileSync(join(dir, n)))).toBe(`sha256:${n}`);
    expect(readJson<{ imageLayoutVersion: string }>(join(layout, 'oci-layout')).imageLayoutVersion).toBe('1.0.0');
    const index = readJson<Index>(join(layout, 'index.json'));
    expect(index.manifests[0]?.annotations?.['org.opencontainers.image.ref.name']).toBe('latest');
  });

  it('layer digests, sizes and diff_ids are right; expected.json matches', () => {
    const exp = expected(name);
    const images = manifestsOf(layout);
    const all = exp.platforms ?? [exp];
    expect(images.length).toBe(all.length);
    for (const [i, { digest, manifest, config, platform }] of images.entries()) {
      const facts = all[i]!;
      expect(digest).toBe(facts.manifestDigest);
      expect(manifest.config.digest).toBe(facts.configDigest);
      expect(config.architecture).toBe(facts.platform.architecture);
      expect(config.os).toBe('linux');
      expect(config.variant ?? null).toBe(facts.platform.variant);
      if (platform) expect(platform.architecture).toBe(config.architecture);
      expect(config.rootfs.type).toBe('layers');
      expect(config.rootfs.diff_ids.length).toBe(manifest.layers.length);
      expect(config.history?.length).toBe(manifest.layers.length);
      expect(config.config.Labels).toEqual(exp.labels);
      expect(Object.fromEntries((config.config.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]))).toEqual(exp.env);
      expect(manifest.layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size })))
        .toEqual(facts.layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size })));
      for (const [j, l] of manifest.layers.entries()) {
        const data = blob(layout, l.digest);
        expect(data.length).toBe(l.size);
        expect(sha(data)).toBe(l.digest);
        expect(sha(decompressLayer(l.mediaType, data))).toBe(config.rootfs.diff_ids[j]);
        expect(facts.layers[j]!.diffId).toBe(config.rootfs.diff_ids[j]);
      }
    }
  }, 120_000);

  it('facts in expected.json are what the root file system holds', async () => {
    const exp = expected(name);
    const rootfs = join(BUILD, name, 'rootfs');
    const status = readFileSync(join(rootfs, 'var/lib/dpkg/status'), 'utf8');
    const pkgs: Record<string, string> = {};
    for (const para of status.trim().split(/\n\n/)) {
      const pkg = /^Package: (.*)$/m.exec(para)?.[1];
      const ver = /^Version: (.*)$/m.exec(para)?.[1];
      expect(para).toMatch(/^Status: install ok installed$/m);
      if (pkg && ver) pkgs[pkg] = ver;
    }
    expect(pkgs).toEqual(exp.packages);
    if (exp.glibc) expect(exp.packages.libc6?.startsWith(`${exp.glibc}-`)).toBe(true);
    if (exp.musl) expect(exp.packages.musl?.startsWith(exp.musl)).toBe(true);
    if (exp.os) {
      const osr = readFileSync(join(rootfs, existsSync(join(rootfs, 'etc/os-release')) ? 'etc/os-release' : 'usr/lib/os-release'), 'utf8');
      expect(osr).toMatch(new RegExp(`^ID=${exp.os.id}$`, 'm'));
      expect(osr).toMatch(new RegExp(`^VERSION_ID="?${exp.os.versionId}"?$`, 'm'));
    }
    for (const m of exp.mpi) {
      expect(existsSync(join(rootfs, m.path))).toBe(true);
      expect(m.path.endsWith(m.soname) || m.path.includes(`/${m.soname}.`)).toBe(true);
    }
    if (exp.cuda) {
      expect(exp.env.CUDA_VERSION).toBe(exp.cuda.runtimeFull);
      expect(exp.env.NVIDIA_REQUIRE_CUDA?.startsWith(`cuda>=${exp.cuda.runtime} `)).toBe(true);
      expect(existsSync(join(rootfs, `usr/lib/x86_64-linux-gnu/libcudart.so.${exp.cuda.runtimeFull}`))).toBe(true);
      expect(existsSync(join(rootfs, `usr/local/cuda/compat/libcuda.so.${exp.cuda.compatDriver}`))).toBe(true);
    }
    // rootfs.tar holds the same tree as rootfs/
    const flat = await tarEntries(readFileSync(join(BUILD, name, 'rootfs.tar')));
    const names = [...flat.keys()].map((n) => n.replace(/\/$/, ''));
    for (const n of names.slice(0, 200)) expect(existsSync(join(rootfs, n)) || flat.get(n)?.type === 'symlink' || flat.get(`${n}/`) !== undefined).toBe(true);
    // copyright files of every installed package are in the image
    for (const p of Object.keys(exp.packages)) expect(existsSync(join(rootfs, 'usr/share/doc', p, 'copyright')), p).toBe(true);
  }, 120_000);

  it('docker.tar is a classic docker-archive whose layer.tar files match the diff_ids', async () => {
    const entries = await tarEntries(readFileSync(join(BUILD, name, 'docker.tar')));
    const manifest = JSON.parse(entries.get('manifest.json')!.data.toString('utf8')) as { Config: string; RepoTags: string[]; Layers: string[] }[];
    expect(manifest.length).toBe(1);
    const m = manifest[0]!;
    expect(m.RepoTags).toEqual([`${name}:latest`]);
    expect(entries.has('repositories')).toBe(true);
    const configBuf = entries.get(m.Config)!.data;
    expect(`sha256:${m.Config.replace(/\.json$/, '')}`).toBe(sha(configBuf));
    expect(sha(configBuf)).toBe(expected(name).configDigest);
    const config = JSON.parse(configBuf.toString('utf8')) as Config;
    expect(m.Layers.map((l) => sha(entries.get(l)!.data))).toEqual(config.rootfs.diff_ids);
    for (const l of m.Layers) expect(l).toMatch(/^[0-9a-f]{64}\/layer\.tar$/);
  }, 120_000);

  itSkopeo('skopeo inspect accepts the OCI layout and the docker-archive', () => {
    const exp = expected(name);
    const oci = skopeoInspect(`oci:${layout}:latest`);
    expect(oci.Architecture).toBe(exp.platform.architecture);
    expect(oci.Os).toBe('linux');
    expect(oci.Layers).toEqual(exp.layers.map((l) => l.digest));
    const docker = skopeoInspect(`docker-archive:${join(BUILD, name, 'docker.tar')}`);
    expect(docker.Architecture).toBe(exp.platform.architecture);
    expect(docker.Layers.length).toBe(exp.layers.length);
  });
});

describe('specific fixtures', () => {
  it('trixie-mpich-cuda has a zstd layer, merged /usr and real CUDA versions', () => {
    const exp = expected('trixie-mpich-cuda');
    expect(exp.layers.map((l) => l.mediaType)).toEqual([MT.gzip, MT.gzip, MT.gzip, MT.zstd]);
    expect(exp.cuda?.runtimeFull).toMatch(/^\d+\.\d+\.\d+$/);
    expect(exp.cuda?.compatDriver).toMatch(/^\d+\.\d+(\.\d+)?$/);
    expect(exp.mpi.map((m) => m.implementation)).toEqual(['mpich']);
    const rootfs = join(BUILD, 'trixie-mpich-cuda', 'rootfs');
    for (const d of ['bin', 'lib', 'lib64', 'sbin']) expect(readdirSync(rootfs, { withFileTypes: true }).find((e) => e.name === d)?.isSymbolicLink(), d).toBe(true);
  });

  it('whiteout: individual whiteouts, an opaque dir and an uncompressed layer', async () => {
    const exp = expected('whiteout');
    const layout = join(BUILD, 'whiteout', 'oci');
    expect(exp.layers.map((l) => l.mediaType)).toEqual([MT.gzip, MT.gzip, MT.tar]);
    const l2 = await tarEntries(gunzipSync(blob(layout, exp.layers[1]!.digest)));
    const names = [...l2.keys()];
    expect(names.filter((n) => /\/\.wh\.libmpi\.so\.40/.test(n)).length).toBeGreaterThanOrEqual(2);
    expect(names).toContain('usr/lib/x86_64-linux-gnu/openmpi/.wh..wh..opq');
    const rootfs = join(BUILD, 'whiteout', 'rootfs');
    expect(readdirSync(join(rootfs, 'usr/lib/x86_64-linux-gnu')).filter((n) => n.startsWith('libmpi.so.40'))).toEqual([]);
    expect(readdirSync(join(rootfs, 'usr/lib/x86_64-linux-gnu/openmpi'))).toEqual(['README.fixture']);
    expect(exp.labels['org.supercontainers.mpi']).toBe('openmpi');
    expect(exp.mpi).toEqual([]);
    expect(exp.warning).toBe('label-mismatch');
  });

  it('multiarch: nested index, docker25 and oci-archive tars', async () => {
    const exp = expected('multiarch');
    const layout = join(BUILD, 'multiarch', 'oci');
    const top = readJson<Index>(join(layout, 'index.json'));
    expect(top.manifests.map((m) => m.mediaType)).toEqual([MT.index]);
    expect(top.manifests[0]!.digest).toBe(exp.indexDigest);
    const platforms = manifestsOf(layout).map((m) => m.platform);
    expect(platforms).toEqual([{ architecture: 'amd64', os: 'linux' }, { architecture: 'arm64', os: 'linux', variant: 'v8' }]);

    const d25 = await tarEntries(readFileSync(join(BUILD, 'multiarch', 'docker25.tar')));
    for (const f of ['manifest.json', 'repositories', 'oci-layout', 'index.json']) expect(d25.has(f), f).toBe(true);
    for (const [n, e] of d25) if (n.startsWith('blobs/sha256/') && e.type === 'file') expect(sha(e.data)).toBe(`sha256:${n.slice(13)}`);
    const dm = JSON.parse(d25.get('manifest.json')!.data.toString('utf8')) as { Config: string; Layers: string[] }[];
    expect(dm[0]!.Config).toBe(`blobs/sha256/${exp.configDigest.slice(7)}`);
    expect(dm[0]!.Layers.map((l) => `sha256:${l.slice(13)}`)).toEqual(exp.layers.map((l) => l.diffId));
    const d25index = JSON.parse(d25.get('index.json')!.data.toString('utf8')) as Index;
    expect(d25index.manifests[0]!.digest).toBe(exp.docker25!.manifestDigest);

    const oa = await tarEntries(readFileSync(join(BUILD, 'multiarch', 'oci-archive.tar')));
    expect(JSON.parse(oa.get('index.json')!.data.toString('utf8'))).toEqual(top);
    expect(oa.has(`blobs/sha256/${exp.indexDigest!.slice(7)}`)).toBe(true);
  });

  itSkopeo('skopeo picks each platform from the nested index and reads docker25.tar and oci-archive.tar', () => {
    const exp = expected('multiarch');
    const layout = join(BUILD, 'multiarch', 'oci');
    expect(skopeoInspect(`oci:${layout}:latest`, ['--override-arch', 'amd64']).Architecture).toBe('amd64');
    expect(skopeoInspect(`oci:${layout}:latest`, ['--override-arch', 'arm64', '--override-variant', 'v8']).Architecture).toBe('arm64');
    const d25 = skopeoInspect(`docker-archive:${join(BUILD, 'multiarch', 'docker25.tar')}`);
    expect(d25.Architecture).toBe('amd64');
    expect(d25.Layers).toEqual(exp.docker25!.layers.map((l) => l.digest));
    expect(skopeoInspect(`oci-archive:${join(BUILD, 'multiarch', 'oci-archive.tar')}:latest`, ['--override-arch', 'amd64']).Architecture).toBe('amd64');
  });

  it('suspicious fixtures carry their defect', () => {
    const loop = join(BUILD, 'sus-symlink-loop', 'rootfs');
    expect(expected('sus-symlink-loop').warning).toBe('symlink-loop');
    expect(readlinkSync(join(loop, 'a'))).toBe('b');
    expect(readlinkSync(join(loop, 'b'))).toBe('a');
    expect(readlinkSync(join(loop, 'usr/lib/loop'))).toBe('loop');

    const elfDir = join(BUILD, 'sus-corrupt-elf', 'rootfs', 'usr/lib/x86_64-linux-gnu');
    const broken = readFileSync(join(elfDir, 'libbroken.so.1'));
    expect(broken.readUInt32BE(0)).toBe(0x7f454c46);
    expect(Number(broken.readBigUInt64LE(32))).toBeGreaterThan(broken.length);
    expect(readFileSync(join(elfDir, 'libtruncated.so.1')).length).toBe(100);

    const lying = expected('sus-lying-config');
    expect(lying.platform.architecture).toBe('amd64');
    expect(lying.warningDetail).toMatchObject({ configArchitecture: 'amd64', elfArchitecture: 'arm64' });
    const libc = readFileSync(join(BUILD, 'sus-lying-config', 'rootfs', 'lib/aarch64-linux-gnu/libc.so.6'));
    expect(libc.readUInt16LE(18)).toBe(183); // EM_AARCH64
  });

  itUmoci('umoci unpacks bullseye-openmpi (rootless) to the same tree', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'containerspec-umoci-'));
    try {
      execFileSync('umoci', ['unpack', '--rootless', '--image', `${join(BUILD, 'bullseye-openmpi', 'oci')}:latest`, join(tmp, 'bundle')], { stdio: 'pipe', timeout: 120_000 });
      const exp = expected('bullseye-openmpi');
      const mpi = exp.mpi[0]!;
      expect(readFileSync(join(tmp, 'bundle', 'rootfs', mpi.path))).toEqual(readFileSync(join(BUILD, 'bullseye-openmpi', 'rootfs', mpi.path)));
      expect(readdirSync(join(tmp, 'bundle', 'rootfs')).sort()).toEqual(readdirSync(join(BUILD, 'bullseye-openmpi', 'rootfs')).sort());
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('malformed fixtures carry exactly their defect', () => {
  const single = (name: string): { layout: string; exp: Facts; manifestDesc: Descriptor } => {
    const layout = join(BUILD, name, 'oci');
    const exp = expected(name);
    expect(exp.kind).toBe('malformed');
    const index = readJson<Index>(join(layout, 'index.json'));
    return { layout, exp, manifestDesc: index.manifests[0]! };
  };
  const manifestOf = (layout: string, d: Descriptor): Manifest => JSON.parse(blob(layout, d.digest).toString('utf8')) as Manifest;

  it('bad-truncated-gzip: digest and size match, the gzip stream is cut', () => {
    const { layout, exp, manifestDesc } = single('bad-truncated-gzip');
    expect(exp.error?.kind).toBe('truncated-gzip');
    const m = manifestOf(layout, manifestDesc);
    const l = m.layers.find((x) => x.digest === exp.error!.blob)!;
    const data = blob(layout, l.digest);
    expect(sha(data)).toBe(l.digest);
    expect(data.length).toBe(l.size);
    expect(() => gunzipSync(data)).toThrow();
  });

  it('bad-digest: the blob does not hash to its name but is still a valid gzip of the same size', () => {
    const { layout, exp, manifestDesc } = single('bad-digest');
    expect(exp.error?.kind).toBe('digest-mismatch');
    const m = manifestOf(layout, manifestDesc);
    const l = m.layers.find((x) => x.digest === exp.error!.blob)!;
    const data = blob(layout, l.digest);
    expect(sha(data)).not.toBe(l.digest);
    expect(data.length).toBe(l.size);
    expect(() => gunzipSync(data)).not.toThrow();
  });

  it('bad-dotdot: a correct layer with ../ and absolute escaping entries', async () => {
    const { layout, exp, manifestDesc } = single('bad-dotdot');
    expect(exp.error?.kind).toBe('unsafe-path');
    const m = manifestOf(layout, manifestDesc);
    const config = JSON.parse(blob(layout, m.config.digest).toString('utf8')) as Config;
    const j = m.layers.findIndex((x) => x.digest === exp.error!.blob);
    const data = blob(layout, exp.error!.blob);
    expect(sha(data)).toBe(exp.error!.blob);
    const raw = gunzipSync(data);
    expect(sha(raw)).toBe(config.rootfs.diff_ids[j]);
    expect([...(await tarEntries(raw)).keys()]).toEqual(['../../etc/evil', '/abs/../../escape']);
  });

  it('bad-missing-blob: the manifest names a layer that is not there', () => {
    const { layout, exp, manifestDesc } = single('bad-missing-blob');
    expect(exp.error?.kind).toBe('missing-blob');
    const m = manifestOf(layout, manifestDesc);
    expect(m.layers.map((l) => l.digest)).toContain(exp.error!.blob);
    expect(existsSync(blobPath(layout, exp.error!.blob))).toBe(false);
    expect(existsSync(blobPath(layout, m.config.digest))).toBe(true);
  });

  it('bad-manifest-json: the manifest blob hashes right but is not JSON', () => {
    const { layout, exp, manifestDesc } = single('bad-manifest-json');
    expect(exp.error).toEqual({ kind: 'bad-json', blob: manifestDesc.digest });
    const data = blob(layout, manifestDesc.digest);
    expect(sha(data)).toBe(manifestDesc.digest);
    expect(() => JSON.parse(data.toString('utf8'))).toThrow();
  });
});

describe('committed sample (fixtures/sample)', () => {
  const exp = readJson<Facts>(join(FIX, 'sample.expected.json'));

  it('is a small valid OCI layout matching sample.expected.json', () => {
    const dir = join(SAMPLE, 'blobs', 'sha256');
    let total = 0;
    for (const n of readdirSync(dir)) {
      const data = readFileSync(join(dir, n));
      total += data.length;
      expect(sha(data)).toBe(`sha256:${n}`);
    }
    expect(total).toBeLessThan(1.5 * 1024 * 1024);
    const [img] = manifestsOf(SAMPLE);
    expect(img!.digest).toBe(exp.manifestDigest);
    expect(img!.config.config.Labels?.['org.opencontainers.image.title']).toBe('containerspec-sample');
    for (const [j, l] of img!.manifest.layers.entries()) {
      expect(sha(decompressLayer(l.mediaType, blob(SAMPLE, l.digest)))).toBe(img!.config.rootfs.diff_ids[j]);
    }
  });

  it('regenerates byte for byte from the same packages', (ctx) => {
    const tmp = mkdtempSync(join(tmpdir(), 'containerspec-sample-'));
    try {
      execFileSync(process.execPath, [join(FIX, 'build.mjs'), '--sample', '--out', join(tmp, 'sample')], { stdio: 'pipe', timeout: 300_000 });
      const again = readJson<Facts>(join(tmp, 'sample.expected.json'));
      if (JSON.stringify(again.sources) !== JSON.stringify(exp.sources)) {
        console.warn('fixtures-build.test: the sample\'s pinned package versions are gone from the archive; cannot check byte-for-byte regeneration (run node fixtures/build.mjs --sample to refresh the sample)');
        ctx.skip();
        return;
      }
      expect(again.manifestDigest).toBe(exp.manifestDigest);
      expect(readdirSync(join(tmp, 'sample', 'blobs', 'sha256')).sort()).toEqual(readdirSync(join(SAMPLE, 'blobs', 'sha256')).sort());
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 300_000);

  itSkopeo('skopeo inspect accepts the sample', () => {
    const r = skopeoInspect(`oci:${SAMPLE}:latest`);
    expect(r.Architecture).toBe('amd64');
    expect(r.Digest).toBe(exp.manifestDigest);
  });
});
