/**
 * Charliecloud storage (src/charliecloud/): image names to img/ paths and back by Charliecloud
 * 0.31's rules; with a real TLS registry and the real `ch-image pull` by digest into a temp storage
 * directory: pull → present, `inspect ch-image:` reports what the registry image reports, and
 * every way the storage can stop vouching for the image: a changed file in the unpacked tree, a
 * changed kept manifest or layer (errors naming them), a removed download cache (absent).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { charliecloudEnv, charliecloudVersion, pullByDigest, type PullResult } from '../src/charliecloud/pull.js';
import { hashCachePath, readPullRecord } from '../src/charliecloud/pull-record.js';
import {
  canonicalName, downloadFiles, imagePath, layerFile, listImages, nameToPath, nearbyNames, parseChImageName, pathToName, storageDir,
} from '../src/charliecloud/storage.js';
import { imageInStorage, treeChanges } from '../src/charliecloud/verify.js';
import { CharliecloudError, ImageReferenceError, NotFoundError, StorageChangedError, StorageError } from '../src/errors/index.js';
import { openImage } from '../src/image/open.js';
import { inspect } from '../src/inspect.js';
import type { ImageFacts } from '../src/model/facts.js';
import { buildCli, expectOneLineError, runCli, show } from './helpers/cli.js';
import type { ExpectedImage } from './helpers/fixture-set.js';
import { ensureFixtures, expected as expectedOf, oci } from './helpers/images.js';
import { registryMissing, removeTestCerts, runTool, startRegistry, type TestRegistry } from './helpers/registry.js';

describe('Charliecloud image names and storage paths (no Charliecloud needed)', () => {
  it('names with a host, a port, path components, a tag or a digest round-trip through their img/ file names', () => {
    const hex = 'ab'.repeat(32);
    const names = [
      'alpine',
      'alpine:3.19',
      'lab/mpi',
      '127.0.0.1:5000/lab/app:1',
      `127.0.0.1:5000/lab/app@sha256:${hex}`,
      'registry.example.org/a/b/c/d:v1.2-rc_3',
      'localhost:5000/x',
      `ghcr.io/hpc/lammps@sha256:${hex}`,
    ];
    for (const n of names) {
      const p = nameToPath(n);
      expect(p).not.toMatch(/[/:]/);
      expect(pathToName(p)).toBe(n);
      expect(canonicalName(p), 'the file-name form is a name too (ch-image reads % as / and + as :)').toBe(n);
    }
    expect(nameToPath('127.0.0.1:5000/lab/app:1')).toBe('127.0.0.1+5000%lab%app+1');
    expect(nameToPath(`127.0.0.1:5000/lab/app@sha256:${hex}`)).toBe(`127.0.0.1+5000%lab%app@sha256+${hex}`);
    expect(imagePath('/var/tmp/u.ch', 'lab/mpi:1')).toBe('/var/tmp/u.ch/img/lab%mpi+1');
  });

  it('parses as ch-image does: a port is a number, a first component without a dot or port is a path component', () => {
    expect(canonicalName('host:05000/x:1')).toBe('host:5000/x:1');
    expect(parseChImageName('localhost/x')).toMatchObject({ host: null, path: ['localhost'], name: 'x' });
    expect(parseChImageName('localhost:5000/x')).toMatchObject({ host: 'localhost', port: 5000, path: [], name: 'x' });
    expect(parseChImageName('reg.lab/a/b:2')).toMatchObject({ host: 'reg.lab', path: ['a'], name: 'b', tag: '2', digest: null });
  });

  it('refuses what ch-image refuses, with one line: both a tag and a digest, upper-case path components, dot names', () => {
    const hex = 'ab'.repeat(32);
    expect(() => parseChImageName(`lab/app:1@sha256:${hex}`)).toThrow(/tag or by a digest, not both/);
    expect(() => parseChImageName('Lab/App')).toThrow(ImageReferenceError);
    expect(() => nameToPath('..')).toThrow(ImageReferenceError);
    expect(() => parseChImageName('a b')).toThrow(/not a Charliecloud image name/);
  });

  it('the storage directory: the option, else $CH_IMAGE_STORAGE (absolute only), else /var/tmp/$USER.ch', () => {
    expect(storageDir({ storage: '/s/x', env: { CH_IMAGE_STORAGE: '/s/env', USER: 'u' } })).toBe('/s/x');
    expect(storageDir({ storage: 'rel', env: {} })).toBe(join(process.cwd(), 'rel'));
    expect(storageDir({ env: { CH_IMAGE_STORAGE: '/s/env', USER: 'u' } })).toBe('/s/env');
    expect(storageDir({ env: { USER: 'alice' } })).toBe('/var/tmp/alice.ch');
    expect(() => storageDir({ env: { CH_IMAGE_STORAGE: 'relative/dir' } })).toThrow(StorageError);
    expect(() => storageDir({ env: { CH_IMAGE_STORAGE: 'relative/dir' } })).toThrow(/not an absolute path/);
  });

  it('ch-image runs with /usr/bin first on PATH, $USER set, and no CA bundle variables under --tls-no-verify', () => {
    const env = charliecloudEnv({ env: { PATH: '/root/.pyenv/shims:/usr/bin:/bin', REQUESTS_CA_BUNDLE: '/etc/ssl/x.pem', CURL_CA_BUNDLE: '/etc/ssl/x.pem', USER: 'u' }, tlsNoVerify: true });
    expect(env.PATH).toBe('/usr/bin:/root/.pyenv/shims:/bin');
    expect(env.USER).toBe('u');
    expect(env.REQUESTS_CA_BUNDLE).toBeUndefined();
    expect(env.CURL_CA_BUNDLE).toBeUndefined();
    expect(charliecloudEnv({ env: { PATH: '/bin' }, caBundle: '/tmp/ca.pem' }).REQUESTS_CA_BUNDLE).toBe('/tmp/ca.pem');
  });

  it('nearby names: other tags and digests of the same repository first, then names a few edits away', () => {
    const names = ['lab/mpi:1', 'lab/mpi:2', 'lab/mpich:1', 'other/thing:9'];
    expect(nearbyNames('lab/mpi:3', names)).toEqual(['lab/mpi:1', 'lab/mpi:2', 'lab/mpich:1']);
    expect(nearbyNames('zzz', names)).toEqual([]);
  });

  it('tree changes name the entry and what changed', () => {
    const line = (p: string, sha: string, mode = '0644') => `${p}\0file\0${mode}\x000:0\0\0${sha}`;
    const was = [line('etc/a', 'aa'), line('etc/b', 'bb'), line('etc/c', 'cc')];
    const now = [line('etc/a', 'a2'), line('etc/c', 'cc', '0755'), line('etc/d', 'dd')];
    expect(treeChanges(was, now)).toEqual([
      { path: 'etc/a', what: 'content changed', expected: 'sha256:aa', found: 'sha256:a2' },
      { path: 'etc/b', what: 'removed', expected: 'file', found: 'absent' },
      { path: 'etc/c', what: 'mode changed', expected: '0644', found: '0755' },
      { path: 'etc/d', what: 'added', expected: 'absent', found: 'file' },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------

/** Why the real ch-image tests cannot run here, or null. */
function chImageMissing(): string | null {
  const r = spawnSync('ch-image', ['--version'], { env: charliecloudEnv(), encoding: 'utf8' });
  if (r.error || r.status !== 0) return `ch-image cannot run here (${(r.error?.message ?? r.stderr ?? '').trim().split('\n').pop() || `exit ${r.status}`}); npm test installs charliecloud-builders`;
  return registryMissing();
}
const missing = chImageMissing();
if (missing) console.warn(`skipping Charliecloud storage tests with real ch-image: ${missing}`);

const IMG = 'bullseye-openmpi';

/** What fixtures/build.mjs recorded about a fixture image. */
const expected = (name: string): ExpectedImage => expectedOf(name) as unknown as ExpectedImage;

const sha256Hex = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** The facts a user compares across transports: everything but the names and where evidence came from. */
function essentials(f: ImageFacts) {
  return {
    digest: f.digest,
    config: f.config,
    platform: { os: f.platform.os, architecture: f.platform.architecture, variant: f.platform.variant },
    platforms: f.platforms,
    os: { id: f.os?.id, versionId: f.os?.versionId },
    libc: { family: f.libc.family, version: f.libc.version, loaders: f.libc.loaders },
    mpi: f.mpi.map((m) => [m.implementation, m.version, m.abi, m.soname, m.path]),
    cuda: f.cuda.runtime,
    labels: f.labels,
    env: f.env,
    requires: { glibc: f.requires.glibc?.version ?? null, kernel: f.requires.kernel?.version ?? null },
    sonames: f.sonames,
  };
}

describe.skipIf(missing !== null)('Charliecloud storage with real ch-image pull by digest', () => {
  let reg: TestRegistry;
  const tmp = mkdtempSync(join(tmpdir(), 'cs-chstore-'));
  const storage = join(tmp, 'storage');
  const data = join(tmp, 'data');
  let mpiDigest: string;
  let multiDigest: string;
  let mpiName: string;
  let pulled: PullResult;
  const opts = () => ({ storage, env: { ...process.env, XDG_DATA_HOME: data } });

  beforeAll(async () => {
    const f = ensureFixtures();
    if (!f.ok) throw new Error(f.reason);
    reg = await startRegistry();
    [mpiDigest, multiDigest] = await Promise.all([reg.push(`${oci(IMG)}:latest`, 'lab/mpi:1'), reg.push(`${oci('multiarch')}:latest`, 'lab/multi:1', { all: true })]);
    mpiName = `${reg.host}/lab/mpi@${mpiDigest}`;
    // The ch-image: transport reads storage and records from the environment, as the CLI does.
    vi.stubEnv('CH_IMAGE_STORAGE', storage);
    vi.stubEnv('XDG_DATA_HOME', data);
  }, 300_000);

  afterAll(async () => {
    vi.unstubAllEnvs();
    await reg?.stop();
    removeTestCerts();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('pull by digest (trusting the test CA) → present, recorded with the tree identity and the Charliecloud version', async () => {
    const lines: string[] = [];
    pulled = await pullByDigest(`${reg.host}/lab/mpi:1`, mpiDigest, { ...opts(), caBundle: reg.caFile, onProgress: (l) => lines.push(l) });
    expect(pulled.name, 'a tag in the name is replaced by the digest').toBe(mpiName);
    expect(pulled.imgPath).toBe(join(storage, 'img', nameToPath(mpiName)));
    expect(pulled.manifestDigest).toBe(mpiDigest);
    expect(pulled.indexDigest).toBeNull();
    expect(pulled.replaced).toBe(false);
    expect(pulled.charliecloudVersion).toBe(await charliecloudVersion());
    expect(pulled.charliecloudVersion).toMatch(/^\d+\.\d+/);
    expect(lines.some((l) => /pulling image/.test(l)), lines.join('\n')).toBe(true);
    expect(await listImages(storage)).toEqual([mpiName]);

    const record = await readPullRecord(storage, mpiDigest, mpiName, { env: { XDG_DATA_HOME: data } });
    expect(record).toMatchObject({ name: mpiName, digest: mpiDigest, storage, imgPath: pulled.imgPath, treeDigest: pulled.treeDigest, charliecloudVersion: pulled.charliecloudVersion });
    expect(record?.layers).toEqual(expected(IMG).layers.map((l) => l.digest));
    expect(pulled.recordPath.startsWith(join(data, 'containerspec', 'charliecloud'))).toBe(true);

    const state = await imageInStorage(mpiName, mpiDigest, opts());
    expect(state.state).toBe('present');
    if (state.state === 'present') {
      expect(state.keptLayers, 'Charliecloud keeps the layer tarballs in dlcache/').toBe(2);
      expect(state.configDigest).toBe(expected(IMG).configDigest);
    }
  });

  it('inspect ch-image:NAME@sha256:D reports what inspecting the registry image reports, digest D', async () => {
    const viaRegistry = await inspect(`docker://${mpiName}`, { registry: { caFile: reg.caFile } });
    const viaStorage = await inspect(`ch-image:${mpiName}`);
    expect(viaStorage.transport).toBe('ch-image');
    expect(viaStorage.name).toBe(`ch-image:${mpiName}`);
    expect(viaStorage.digest).toBe(mpiDigest);
    expect(essentials(viaStorage)).toEqual(essentials(viaRegistry));
    expect(viaStorage.libc.version).toBe(expected(IMG).glibc);
    // The file-name form names the same image.
    const viaPath = await inspect(`ch-image:${nameToPath(mpiName)}`);
    expect(viaPath.digest).toBe(mpiDigest);
  });

  it('the CLI: inspect ch-image: with $CH_IMAGE_STORAGE, and a name not in storage is one line naming the storage and nearby names', async () => {
    await buildCli();
    const env = { CH_IMAGE_STORAGE: storage, XDG_DATA_HOME: data };
    const ok = await runCli(['inspect', `ch-image:${mpiName}`, '--json'], { env });
    expect(ok.code, show(ok)).toBe(0);
    const f = JSON.parse(ok.stdout) as ImageFacts;
    expect([f.transport, f.digest, f.libc.version]).toEqual(['ch-image', mpiDigest, expected(IMG).glibc]);
    const line = expectOneLineError(await runCli(['inspect', `ch-image:${reg.host}/lab/mpi:2`], { env }));
    expect(line).toContain(storage);
    expect(line).toContain(`no image ${reg.host}/lab/mpi:2`);
    expect(line, 'the other tag and digest of the repository are suggested').toContain(mpiName);
  });

  it('a name not in storage is a NotFoundError naming the storage dir; a missing storage says so', async () => {
    const e = await openImage(`ch-image:${reg.host}/lab/nothing:1`, { chStorage: storage }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(NotFoundError);
    expect((e as NotFoundError).message).toContain(`no image ${reg.host}/lab/nothing:1 in Charliecloud storage ${storage}`);
    expect((e as NotFoundError).path).toBe(join(storage, 'img', nameToPath(`${reg.host}/lab/nothing:1`)));
    const none = await openImage('ch-image:lab/x:1', { chStorage: join(tmp, 'no-storage') }).catch((x: unknown) => x);
    expect(none).toBeInstanceOf(NotFoundError);
    expect((none as Error).message).toContain(`no Charliecloud storage at ${join(tmp, 'no-storage')}`);
  });

  it('an image ch-image pulled by tag opens unverified (no digest claimed); by digest it is absent: no record vouches for it', async () => {
    const r = await runTool('ch-image', ['pull', '-s', storage, `${reg.host}/lab/mpi:1`], { env: charliecloudEnv({ caBundle: reg.caFile }), timeoutMs: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const f = await inspect(`ch-image:${reg.host}/lab/mpi:1`);
    expect(f.digest).toBeNull();
    expect(f.libc.version).toBe(expected(IMG).glibc);
    expect(f.labels).toEqual(expected(IMG).labels);
    const state = await imageInStorage(`${reg.host}/lab/mpi:1`, mpiDigest, opts());
    expect(state.state).toBe('absent');
    if (state.state === 'absent') expect(state.why).toMatch(/no record of pulling/);
  });

  it('a changed file in the unpacked tree: the error names it, expected and found; a pull by digest replaces the image', async () => {
    const file = join(pulled.imgPath, 'etc/debian_version');
    const before = readFileSync(file);
    appendFileSync(file, 'tampered\n');
    const e = await imageInStorage(mpiName, mpiDigest, opts()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StorageChangedError);
    const err = e as StorageChangedError;
    expect(err.message).toContain('etc/debian_version content changed');
    expect(err.message).not.toContain('\n');
    expect(err.file).toBe(file);
    expect(err.expected).toBe(`sha256:${sha256Hex(before)}`);
    expect(err.found).toBe(`sha256:${sha256Hex(readFileSync(file))}`);
    await expect(inspect(`ch-image:${mpiName}`)).rejects.toThrow(/etc\/debian_version content changed/);

    const again = await pullByDigest(`${reg.host}/lab/mpi`, mpiDigest, { ...opts(), caBundle: reg.caFile });
    expect(again.replaced, 'ch-image alone does not restore a changed image it finds checked out').toBe(true);
    expect(again.treeDigest).toBe(pulled.treeDigest);
    expect(readFileSync(file)).toEqual(before);
    expect((await imageInStorage(mpiName, mpiDigest, opts())).state).toBe('present');
  });

  it('hashes verified once are reused while a file is unchanged; a same-size edit with its mtime set back is still caught; rehash trusts nothing', async () => {
    // Files changed in the last 2 s are never remembered (a write in the same clock tick keeps the identity).
    const file = join(pulled.imgPath, 'etc/debian_version');
    await new Promise((ok) => setTimeout(ok, Math.max(0, statSync(file).ctimeMs + 2100 - Date.now())));
    expect((await imageInStorage(mpiName, mpiDigest, opts())).state).toBe('present');
    const cacheFile = hashCachePath(pulled.record, opts());
    const cache = JSON.parse(gunzipSync(readFileSync(cacheFile)).toString('utf8')) as { treeDigest: string; tree: Record<string, [string, string]>; blobs: Record<string, unknown> };
    expect(cache.treeDigest).toBe(pulled.treeDigest);
    expect(Object.keys(cache.tree)).toContain('etc/debian_version');
    expect(Object.keys(cache.blobs).length, 'the kept layers too').toBeGreaterThan(0);

    // The cache is what a second check reads: a hash forged in it (for the file as it is) is believed...
    const forged = structuredClone(cache);
    forged.tree['etc/debian_version']![1] = '0'.repeat(64);
    writeFileSync(cacheFile, gzipSync(JSON.stringify({ format: 'containerspec-verified-hashes', version: 1, ...forged })));
    await expect(imageInStorage(mpiName, mpiDigest, opts())).rejects.toThrow(/etc\/debian_version content changed/);
    // ...and rehash reads every file again.
    expect((await imageInStorage(mpiName, mpiDigest, { ...opts(), rehash: true })).state).toBe('present');
    writeFileSync(cacheFile, gzipSync(JSON.stringify({ format: 'containerspec-verified-hashes', version: 1, ...cache })));
    expect((await imageInStorage(mpiName, mpiDigest, opts())).state).toBe('present');

    // An edit that keeps the size and puts the mtime back still moves the change time: caught.
    const before = readFileSync(file);
    const st = statSync(file);
    const edited = Buffer.from(before);
    edited[0] = edited[0] === 0x31 ? 0x32 : 0x31;
    writeFileSync(file, edited);
    utimesSync(file, st.atime, st.mtime);
    try {
      await expect(imageInStorage(mpiName, mpiDigest, opts())).rejects.toThrow(/etc\/debian_version content changed/);
    } finally {
      writeFileSync(file, before);
    }
    expect((await imageInStorage(mpiName, mpiDigest, opts())).state).toBe('present');
  });

  it('a changed manifest or layer in the download cache is a mismatch naming the file, expected and found', async () => {
    const files = downloadFiles(storage, mpiName);
    const manifest = readFileSync(files.skinny);
    writeFileSync(files.skinny, Buffer.concat([manifest, Buffer.from(' ')]));
    try {
      const e = await imageInStorage(mpiName, mpiDigest, opts()).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(StorageChangedError);
      expect((e as StorageChangedError).file).toBe(files.skinny);
      expect((e as StorageChangedError).expected).toBe(mpiDigest);
      expect((e as Error).message).toContain(`${files.skinny} should hash to ${mpiDigest}`);
    } finally {
      writeFileSync(files.skinny, manifest);
    }
    const layer = layerFile(storage, expected(IMG).layers[1]!.digest);
    const bytes = readFileSync(layer);
    writeFileSync(layer, Buffer.concat([bytes, Buffer.alloc(1)]));
    try {
      const e = await imageInStorage(mpiName, mpiDigest, opts()).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(StorageChangedError);
      expect((e as Error).message).toMatch(/layer 2\/2 kept for .* changed/);
      expect((e as StorageChangedError).file).toBe(layer);
    } finally {
      writeFileSync(layer, bytes);
    }
    expect((await imageInStorage(mpiName, mpiDigest, opts())).state).toBe('present');
  });

  it('a removed download cache: absent (pull again), and ch-image:NAME@D says it is not verified', async () => {
    const dl = join(storage, 'dlcache');
    renameSync(dl, `${dl}.gone`);
    try {
      const state = await imageInStorage(mpiName, mpiDigest, opts());
      expect(state.state).toBe('absent');
      if (state.state === 'absent') expect(state.why).toMatch(/keeps no manifest/);
      const e = await inspect(`ch-image:${mpiName}`).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(NotFoundError);
      expect((e as Error).message).toMatch(/not verified in Charliecloud storage .*keeps no manifest/);
    } finally {
      rmSync(dl, { recursive: true, force: true });
      renameSync(`${dl}.gone`, dl);
    }
  });

  it('a multi-platform image: the index hashes to D, the platform manifest unpacked is what docker:// reports', async () => {
    const p = await pullByDigest(`${reg.host}/lab/multi`, multiDigest, { ...opts(), tlsNoVerify: true });
    const amd64 = expected('multiarch').platforms?.find((x) => x.platform.architecture === 'amd64');
    expect(p.indexDigest).toBe(multiDigest);
    expect(p.manifestDigest).toBe(amd64?.manifestDigest);
    expect(p.record.platforms).toEqual(['linux/amd64', 'linux/arm64/v8']);
    const viaRegistry = await inspect(`docker://${reg.host}/lab/multi@${multiDigest}`, { registry: { caFile: reg.caFile }, platform: 'linux/amd64' });
    const viaStorage = await inspect(`ch-image:${p.name}`);
    expect(essentials(viaStorage)).toEqual(essentials(viaRegistry));
    await expect(inspect(`ch-image:${p.name}`, { platform: 'linux/arm64' })).rejects.toThrow(/no image for platform linux\/arm64.*linux\/amd64/);
    // The index changed: a mismatch naming it.
    const fat = downloadFiles(storage, p.name).fat;
    const bytes = readFileSync(fat);
    writeFileSync(fat, Buffer.concat([bytes, Buffer.from('\n')]));
    try {
      await expect(imageInStorage(p.name, multiDigest, opts())).rejects.toThrow(/the index kept for .* changed/);
    } finally {
      writeFileSync(fat, bytes);
    }
  });

  it('ch-image failures are one line with its own error: a digest the registry lacks, a certificate it cannot verify', async () => {
    const nope = `sha256:${'0'.repeat(64)}`;
    const e = await pullByDigest(`${reg.host}/lab/mpi`, nope, { ...opts(), caBundle: reg.caFile }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CharliecloudError);
    expect((e as Error).message).toMatch(/^ch-image pull .*@sha256:0{64} failed \(exit 1\): error: unauthorized or not in registry/);
    expect((e as Error).message).not.toContain('\n');
    const tls = await pullByDigest(`${reg.host}/lab/mpi`, mpiDigest, { storage: join(tmp, 'other'), env: { ...process.env, XDG_DATA_HOME: data } }).catch((x: unknown) => x);
    expect(tls).toBeInstanceOf(CharliecloudError);
    expect((tls as Error).message).toMatch(/CERTIFICATE_VERIFY_FAILED|certificate verify failed/);
  });
});
