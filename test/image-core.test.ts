/**
 * The image core: a new source is one small BlobSource. An in-memory source serving blobs from a
 * Map goes through the same index walk, platform selection, digest checks and layer walker as the
 * OCI layout on disk, and gives the same facts. Also: sha512 digests, a layer named twice, dir: and
 * tar: identities, reference hints, and the walker serving a want no built-in extractor declares.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { ContainerspecError, DigestMismatchError, FormatError, ImageReferenceError, NotFoundError, PlatformError } from '../src/errors/index.js';
import { wantsFor } from '../src/extract/index.js';
import { sha256Digest } from '../src/image/digest.js';
import { openImage } from '../src/image/open.js';
import { parseReference } from '../src/image/reference.js';
import { fetchDocument, resolveImage, type BlobSource, type ResolveOptions } from '../src/image/resolve.js';
import type { Descriptor } from '../src/image/types.js';
import { imageFacts } from '../src/image-facts.js';
import { inspect } from '../src/inspect.js';
import { readLayers } from '../src/layers/read.js';
import { scanBlob } from '../src/layers/scan.js';
import { WantSet, matchesOf, type ScanRule } from '../src/layers/wants.js';
import { buildCli, errorLine, runCli } from './helpers/cli.js';
import { buildOci, buildOciIndex, packTar } from './helpers/oci.js';

const libc = readFileSync('/usr/lib/x86_64-linux-gnu/libc.so.6');
const osRelease = 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n';
const base = mkdtempSync(join(tmpdir(), 'cs-core-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const tmp = () => join(base, `t${n++}`);

/** Every blob of an OCI layout directory, by digest. */
function blobsOf(dir: string): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (const alg of readdirSync(join(dir, 'blobs'))) {
    for (const hex of readdirSync(join(dir, 'blobs', alg))) m.set(`${alg}:${hex}`, readFileSync(join(dir, 'blobs', alg, hex)));
  }
  return m;
}

/** The whole of a new source: blobs from a Map, served in small chunks; it verifies nothing itself. */
class MemorySource implements BlobSource {
  readonly opened: string[] = [];
  constructor(readonly blobs: Map<string, Buffer>, readonly label = 'memory') {}
  async fetch(desc: Descriptor): Promise<Buffer> {
    const b = this.blobs.get(desc.digest);
    if (!b) throw new NotFoundError(`no blob ${desc.digest} in ${this.label}`, desc.digest);
    return b;
  }
  async open(desc: Descriptor): Promise<Readable> {
    const b = this.blobs.get(desc.digest);
    if (!b) throw new NotFoundError(`no blob ${desc.digest} in ${this.label}`, desc.digest);
    this.opened.push(desc.digest);
    const chunks: Buffer[] = [];
    for (let i = 0; i < b.length; i += 1000) chunks.push(b.subarray(i, i + 1000));
    return Readable.from(chunks);
  }
}

const opts = (platform: string | null, ref = 'memory:test'): ResolveOptions => ({
  platform: platform ? { os: 'linux', architecture: platform.split('/')[1]!, variant: platform.split('/')[2] } : { os: 'linux', architecture: 'amd64' },
  explicitPlatform: platform !== null,
  ref,
  transport: 'memory',
});

async function twoPlatformLayout(): Promise<{ dir: string; indexDigest: string; manifests: Record<string, string> }> {
  return buildOciIndex(tmp(), [
    { platform: { os: 'linux', architecture: 'amd64' }, layers: [{ entries: [{ name: 'usr/lib/x86_64-linux-gnu/libc.so.6', content: libc }, { name: 'etc/os-release', content: osRelease }] }] },
    { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, layers: [{ entries: [{ name: 'etc/os-release', content: osRelease.replace('12', '13') }] }, { entries: [{ name: 'opt/x', content: 'x' }], compression: 'zstd' }] },
  ]);
}

describe('an in-memory source through the same core', () => {
  it('walks the index, picks the platform and gives the facts the OCI layout gives', async () => {
    const built = await twoPlatformLayout();
    const src = new MemorySource(blobsOf(built.dir));
    const start = await fetchDocument(src, { mediaType: 'application/vnd.oci.image.index.v1+json', digest: built.indexDigest, size: -1 }, 'index');
    for (const p of ['linux/amd64', 'linux/arm64/v8']) {
      const img = await resolveImage(src, start, opts(p));
      expect(img.manifestDigest).toBe(built.manifests[p]);
      const mem = imageFacts(img, await readLayers(img, wantsFor('image')));
      const disk = await inspect(`oci:${built.dir}`, { platform: p });
      const { name: _a, transport: _b, layers: ml, ...memRest } = mem;
      const { name: _c, transport: _d, layers: dl, ...diskRest } = disk;
      expect(memRest).toEqual(diskRest);
      expect(ml.map((l) => l.digest)).toEqual(dl.map((l) => l.digest));
      expect(mem.platforms).toEqual(['linux/amd64', 'linux/arm64/v8']);
    }
    expect(src.opened.length).toBe(3); // each layer streamed once, none of the other platform's
  });

  it('a platform the index lacks is a PlatformError listing what it has', async () => {
    const built = await twoPlatformLayout();
    const src = new MemorySource(blobsOf(built.dir));
    const start = await fetchDocument(src, { mediaType: 'application/vnd.oci.image.index.v1+json', digest: built.indexDigest, size: -1 }, 'index');
    const err = await resolveImage(src, start, opts('linux/s390x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect((err as Error).message).toMatch(/linux\/s390x.*linux\/amd64, linux\/arm64\/v8/);
  });

  it('the core checks every blob the source serves: a changed layer byte, config or manifest is a digest mismatch', async () => {
    const built = await twoPlatformLayout();
    const start = { mediaType: 'application/vnd.oci.image.index.v1+json', digest: built.indexDigest, size: -1 };
    const blobs = blobsOf(built.dir);
    const manifest = JSON.parse(blobs.get(built.manifests['linux/amd64']!)!.toString()) as { config: Descriptor; layers: Descriptor[] };
    const flip = (digest: string) => {
      const m = new Map(blobs);
      const b = Buffer.from(m.get(digest)!);
      b[b.length >> 1]! ^= 1;
      m.set(digest, b);
      return new MemorySource(m);
    };
    // a gzip layer: the decoder or the digest catches it while it streams
    const lsrc = flip(manifest.layers[0]!.digest);
    const img = await resolveImage(lsrc, await fetchDocument(lsrc, start, 'index'), opts('linux/amd64'));
    const lerr = await readLayers(img, wantsFor('image')).catch((x: unknown) => x);
    expect(lerr).toBeInstanceOf(ContainerspecError);
    expect((lerr as Error).message).toContain(manifest.layers[0]!.digest);
    // an uncompressed layer whose changed byte lies inside a file: only the digest can tell
    const plainDir = tmp();
    const plain = await buildOci(plainDir, [{ entries: [{ name: 'usr/lib/x86_64-linux-gnu/libc.so.6', content: libc }], compression: 'none' }]);
    const psrc = (() => {
      const m = blobsOf(plainDir);
      const b = Buffer.from(m.get(plain.layerDigests[0]!)!);
      b[b.length >> 1]! ^= 1;
      m.set(plain.layerDigests[0]!, b);
      return new MemorySource(m);
    })();
    const pimg = await resolveImage(psrc, { data: psrc.blobs.get(plain.manifestDigest)!, mediaType: null, digest: plain.manifestDigest, where: 'manifest' }, opts(null));
    await expect(readLayers(pimg, wantsFor('image'))).rejects.toBeInstanceOf(DigestMismatchError);
    // the config and the manifest: caught before any layer is read
    for (const d of [manifest.config.digest, built.manifests['linux/amd64']!]) {
      const src = flip(d);
      await expect(resolveImage(src, await fetchDocument(src, start, 'index'), opts('linux/amd64'))).rejects.toBeInstanceOf(DigestMismatchError);
    }
    // a source that serves fewer bytes than the descriptor says
    const short = new Map(blobs);
    short.set(manifest.layers[0]!.digest, blobs.get(manifest.layers[0]!.digest)!.subarray(0, 100));
    const ssrc = new MemorySource(short);
    const simg = await resolveImage(ssrc, await fetchDocument(ssrc, start, 'index'), opts('linux/amd64'));
    const e = await readLayers(simg, wantsFor('image')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ContainerspecError);
    expect((e as Error).message).toContain(manifest.layers[0]!.digest);
  });

  it('a layer named twice in one manifest is streamed once and applied twice', async () => {
    const dir = tmp();
    const built = await buildOci(dir, [{ entries: [{ name: 'etc/os-release', content: osRelease }] }, { entries: [{ name: '.wh.etc', content: '' }] }]);
    const blobs = blobsOf(dir);
    const m = JSON.parse(blobs.get(built.manifestDigest)!.toString()) as { layers: Descriptor[] };
    m.layers.push(m.layers[0]!); // A, B (hides /etc), A again: /etc/os-release is back
    const mbuf = Buffer.from(JSON.stringify(m));
    blobs.set(sha256Digest(mbuf), mbuf);
    const src = new MemorySource(blobs);
    const img = await resolveImage(src, { data: mbuf, mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256Digest(mbuf), where: 'manifest' }, opts(null));
    const facts = imageFacts(img, await readLayers(img, wantsFor('image')));
    expect(src.opened.filter((d) => d === built.layerDigests[0])).toHaveLength(1);
    expect(facts.os.id).toBe('debian');
    expect(facts.layers).toHaveLength(3);
  });
});

describe('sha512', () => {
  /** Rewrite a layout's blobs under sha512 names and digests. */
  function toSha512(dir: string, built: { manifestDigest: string }): void {
    const blobs = blobsOf(dir);
    const rename = new Map<string, string>();
    const d512 = (b: Buffer) => `sha512:${createHash('sha512').update(b).digest('hex')}`;
    const manifest = JSON.parse(blobs.get(built.manifestDigest)!.toString()) as { config: Descriptor; layers: Descriptor[] };
    mkdirSync(join(dir, 'blobs', 'sha512'), { recursive: true });
    for (const d of [manifest.config, ...manifest.layers]) {
      const b = blobs.get(d.digest)!;
      rename.set(d.digest, d512(b));
      d.digest = d512(b);
      writeFileSync(join(dir, 'blobs', 'sha512', d.digest.slice(7)), b);
    }
    const mb = Buffer.from(JSON.stringify(manifest));
    writeFileSync(join(dir, 'blobs', 'sha512', d512(mb).slice(7)), mb);
    rmSync(join(dir, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d512(mb), size: mb.length }] }));
  }

  it('sha512-named blobs are read and verified; a changed byte is a mismatch', async () => {
    const dir = tmp();
    const built = await buildOci(dir, [{ entries: [{ name: 'etc/os-release', content: osRelease }] }]);
    toSha512(dir, built);
    const facts = await inspect(`oci:${dir}`);
    expect(facts.digest).toMatch(/^sha512:[a-f0-9]{128}$/);
    expect(facts.layers[0]!.digest).toMatch(/^sha512:/);
    expect(facts.os.id).toBe('debian');
    const layerFile = readdirSync(join(dir, 'blobs', 'sha512')).map((h) => join(dir, 'blobs', 'sha512', h)).find((f) => readFileSync(f)[0] === 0x1f)!;
    const b = readFileSync(layerFile);
    b[b.length - 20]! ^= 0xff;
    writeFileSync(layerFile, b);
    const err = await inspect(`oci:${dir}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContainerspecError);
    expect((err as Error).message).toMatch(/sha512:/);
  });
});

describe('content identity', () => {
  it('oci: is the manifest digest; tar: is the file digest', async () => {
    const dir = tmp();
    const built = await buildOci(dir, [{ entries: [{ name: 'etc/os-release', content: osRelease }] }]);
    expect((await inspect(`oci:${dir}`, { identity: true })).identity).toBe(built.manifestDigest);
    expect((await inspect(`oci:${dir}`)).identity).toBeUndefined(); // only when asked for
    const tarFile = join(tmp() + '.tar');
    writeFileSync(tarFile, await packTar([{ name: 'etc/os-release', content: osRelease }]));
    const sum = execFileSync('sha256sum', [tarFile], { encoding: 'utf8' }).split(' ')[0];
    expect((await inspect(`tar:${tarFile}`, { identity: true })).identity).toBe(`sha256:${sum}`);
  });

  it('dir: is a digest over the tree: the same for a copy, changed by a file, a mode, a link target', async () => {
    const root = tmp();
    mkdirSync(join(root, 'etc'), { recursive: true });
    mkdirSync(join(root, 'usr/lib'), { recursive: true });
    writeFileSync(join(root, 'etc/os-release'), osRelease);
    writeFileSync(join(root, 'usr/lib/libc.so.6'), libc);
    symlinkSync('usr/lib', join(root, 'lib'));
    const id = async (d: string) => (await openImage(`dir:${d}`)).identity();
    const first = await id(root);
    expect(first).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(await id(root)).toBe(first);
    const copy = tmp();
    cpSync(root, copy, { recursive: true, preserveTimestamps: false, verbatimSymlinks: true });
    expect(await id(copy)).toBe(first); // times are not part of it
    writeFileSync(join(copy, 'etc/os-release'), osRelease.replace('12', '13'));
    const changedFile = await id(copy);
    expect(changedFile).not.toBe(first);
    chmodSync(join(copy, 'etc/os-release'), 0o600);
    const changedMode = await id(copy);
    expect(changedMode).not.toBe(changedFile);
    unlinkSync(join(copy, 'lib'));
    symlinkSync('/usr/lib', join(copy, 'lib'));
    expect(await id(copy)).not.toBe(changedMode);
    // the CLI prints it with --identity
    await buildCli();
    const r = await runCli(['inspect', `dir:${root}`, '--identity', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).identity).toBe(first);
  });
});

describe('references', () => {
  it('parsing does no I/O: the same answer whether or not the path exists', () => {
    const there = tmp();
    mkdirSync(there);
    expect(parseReference(`oci:${there}:v2`)).toMatchObject({ transport: 'oci', path: there, tag: 'v2' });
    expect(parseReference(`oci:${there}-missing:v2`)).toMatchObject({ transport: 'oci', path: `${there}-missing`, tag: 'v2' });
    expect(parseReference('ubuntu')).toMatchObject({ transport: 'docker', docker: { canonical: 'docker.io/library/ubuntu:latest' } });
    expect(parseReference('docker://ghcr.io/lab/lammps:2024')).toMatchObject({ transport: 'docker', docker: { domain: 'ghcr.io', path: 'lab/lammps', tag: '2024' } });
  });

  it('a directory whose name holds a colon still opens (the opener falls back to the whole path)', async () => {
    const dir = join(tmp(), 'app:v1');
    const built = await buildOci(dir, [{ entries: [{ name: 'etc/os-release', content: osRelease }] }]);
    expect((await inspect(`oci:${dir}`)).digest).toBe(built.manifestDigest);
  });

  it('a bare local path gets a hint naming the transport to use', async () => {
    const layout = tmp();
    await buildOci(layout, [{ entries: [{ name: 'etc/os-release', content: osRelease }] }]);
    const rootfs = `./${join('test', 'data')}`; // a plain directory of this repository
    await buildCli();
    const r1 = await runCli(['inspect', layout]);
    expect(r1.code).toBe(2);
    expect(errorLine(r1)).toContain(`did you mean oci:${layout}?`);
    const r2 = await runCli([rootfs], { bin: 'can-i-run' });
    expect(r2.code).toBe(2);
    expect(errorLine(r2, 'can-i-run')).toContain(`did you mean dir:${rootfs}?`);
    await expect(openImage(layout)).rejects.toBeInstanceOf(ImageReferenceError);
  });
});

describe('the walker serves wants it knows nothing about', () => {
  it('a scan rule no built-in extractor declares is searched for, and only for its paths', async () => {
    const rule: ScanRule = { id: 'test.version', path: /(?:^|\/)app\.bin$/, pattern: /APPVER=(\d+\.\d+)/g, max: 1 };
    const wants = new WantSet([{ owner: 'test', wants: { scans: [rule], text: [{ path: 'etc/app.conf', cap: 16 }] } }]);
    const tar = await packTar([
      { name: 'opt/app.bin', content: Buffer.concat([Buffer.alloc(100000), Buffer.from('xxAPPVER=3.14\0'), Buffer.alloc(1000)]) },
      { name: 'opt/other.bin', content: 'APPVER=9.9' },
      { name: 'etc/app.conf', content: 'a long configuration file' },
    ]);
    const data = gzipSync(tar);
    const layer = { kind: 'blob' as const, digest: sha256Digest(data), diffId: null, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: data.length, where: 'layer in memory', open: async () => Readable.from([data]) };
    const scan = await scanBlob(layer, 0, wants);
    expect(matchesOf(scan.results['opt/app.bin'], rule)).toEqual(['3.14']);
    expect(scan.results['opt/other.bin']).toBeUndefined();
    expect(scan.results['etc/app.conf']).toEqual({ text: 'a long configura', truncated: true }); // kept up to its 16-byte cap
    // the image extractors' wants do not include it
    expect(wantsFor('image').scanRules('opt/app.bin')).toEqual([]);
  });

  it('two extractors declaring the same scan rule id is refused', () => {
    const r: ScanRule = { id: 'dup', path: /x/, pattern: /x/g, max: 1 };
    expect(() => new WantSet([{ owner: 'a', wants: { scans: [r] } }, { owner: 'b', wants: { scans: [r] } }])).toThrow(/declared by both a and b/);
  });

  it('a layer stream that errors is a one-line error naming the layer, not a crash', async () => {
    const layer = {
      kind: 'blob' as const, digest: null, diffId: null, mediaType: 'application/x-tar', size: null, where: 'layer L',
      open: async () => new Readable({ read() { this.destroy(new Error('connection reset')); } }),
    };
    const err = await scanBlob(layer, 0, wantsFor('image')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as Error).message).toBe('cannot read layer L: connection reset');
  });
});
