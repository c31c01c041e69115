/**
 * The layer-facts cache over real images (the fixtures built from Debian packages): a warm read
 * opens no layer, images sharing a base read only their own layers, an entry made under other wants
 * or limits is not used, a bad entry is a miss, a layer that fails to verify leaves nothing, two
 * processes writing at once both succeed, and prune keeps the cache bounded, least recently used
 * first. Layer opens are counted by wrapping each layer's own open().
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  defaultCacheDir,
  layerKey,
  openCache,
  parseSize,
  PACKAGE_VERSION,
  pruneCache,
  scanFingerprint,
  STALE_TEMP_MS,
  type FactsCache,
  type LayerKey,
} from '../src/cache/index.js';
import { layerEntryPath } from '../src/cache/layer-entry.js';
import { DigestMismatchError, FormatError, UsageError } from '../src/errors/index.js';
import { wantsFor } from '../src/extract/index.js';
import { openImage } from '../src/image/open.js';
import type { BlobLayer, Image, Layer } from '../src/image/types.js';
import { imageFacts } from '../src/image-facts.js';
import { readLayers } from '../src/layers/read.js';
import type { LayerScan } from '../src/layers/types.js';
import { WantSet } from '../src/layers/wants.js';
import { readLimits } from '../src/limits.js';
import { buildCli, REPO } from './helpers/cli.js';
import { buildFixtures } from './helpers/fixture-set.js';
import { FIXTURES, oci } from './helpers/images.js';

await buildFixtures(15 * 60_000);

const tmp = (tag = 'cache') => mkdtempSync(join(tmpdir(), `cs-${tag}-`));
const WANTS = wantsFor('image');

/** An image whose blob layers count their opens (the source's own open(), called through). */
function counting(image: Image): { image: Image; opened: number[] } {
  const opened: number[] = [];
  const layers: Layer[] = image.layers.map((l, i) =>
    l.kind === 'blob'
      ? (Object.create(l, {
          open: {
            value: () => {
              opened.push(i);
              return l.open();
            },
          },
        }) as BlobLayer)
      : l,
  );
  return { image: Object.create(image, { layers: { value: layers } }) as Image, opened };
}

/** Open a reference with counted layers and read it (with `cache`, or none). */
async function read(ref: string, cache: FactsCache | null, wants: WantSet = WANTS) {
  const { image, opened } = counting(await openImage(ref));
  const how: Record<number, string> = {};
  const scans = await readLayers(image, wants, { cache, onLayer: (i, h) => (how[i] = h) });
  return { image, scans, opened: opened.sort((a, b) => a - b), how, facts: imageFacts(image, scans) };
}

/** The key readLayers uses for layer `i` of an image. */
function keyOf(image: Image, i: number, wants: WantSet = WANTS): LayerKey {
  const l = image.layers[i]!;
  if (l.kind !== 'blob') throw new Error('not a blob layer');
  const k = layerKey(l, scanFingerprint(wants));
  if (!k) throw new Error('layer has no key');
  return k;
}

/** Every file under a directory, relative. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

const cold: Record<string, Awaited<ReturnType<typeof read>>> = {};
async function coldRead(name: string) {
  return (cold[name] ??= await read(oci(name), null));
}

const savedEnv = { ...process.env };
afterEach(() => {
  for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
  Object.assign(process.env, savedEnv);
  readLimits();
});

describe('where the cache lives and what it is keyed by', () => {
  it('PACKAGE_VERSION is package.json version', () => {
    expect(PACKAGE_VERSION).toBe((JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version);
  });

  it('defaultCacheDir: CONTAINERSPEC_CACHE_DIR, else $XDG_CACHE_HOME/containerspec, else ~/.cache/containerspec', () => {
    expect(defaultCacheDir({ CONTAINERSPEC_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x', HOME: '/h' })).toBe('/c');
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x', HOME: '/h' })).toBe('/x/containerspec');
    expect(defaultCacheDir({ XDG_CACHE_HOME: 'relative', HOME: '/h' })).toBe('/h/.cache/containerspec');
    expect(defaultCacheDir({ HOME: '/h' })).toBe('/h/.cache/containerspec');
  });

  it('a WantSet fingerprint ignores declaration order and changes with any cap, pattern or rule field', () => {
    const a = { owner: 'a', wants: { text: [{ path: 'etc/os-release', cap: 100 }], elf: /\.so/ } };
    const b = { owner: 'b', wants: { text: [{ path: /^usr\/lib\/.*\.pc$/, cap: 10 }], scans: [{ id: 'v', path: /libfoo/, pattern: /FOO (\d+)/g, max: 1 }] } };
    const fp = (w: ConstructorParameters<typeof WantSet>[0]) => new WantSet(w).fingerprint();
    expect(fp([a, b])).toBe(fp([b, a]));
    expect(fp([a, b])).not.toBe(fp([{ ...a, wants: { ...a.wants, text: [{ path: 'etc/os-release', cap: 101 }] } }, b]));
    expect(fp([a, b])).not.toBe(fp([a, { ...b, wants: { ...b.wants, scans: [{ id: 'v', path: /libfoo/, pattern: /FOO (\d+)/g, max: 2 }] } }]));
    expect(fp([a, b])).not.toBe(fp([a, { ...b, wants: { ...b.wants, scans: [{ id: 'v', path: /libfoo/, pattern: /FOO (\d+)/gi, max: 1 }] } }]));
    expect(fp([a, b])).not.toBe(fp([{ ...a, wants: { ...a.wants, elf: true } }, b]));
    expect(fp([a])).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('lays entries out by fingerprint, digest and diff_id', async () => {
    const img = await openImage(oci('trixie-mpich-cuda'));
    const k = keyOf(img, 0);
    const hex = k.digest.slice('sha256:'.length);
    expect(layerEntryPath('/c', k)).toBe(`/c/layers/v1/${k.fingerprint.slice(0, 16)}/sha256/${hex.slice(0, 2)}/${hex}@sha256-${k.diffId!.slice(7, 39)}.json`);
    expect(layerEntryPath('/c', { ...k, diffId: null })).toMatch(/@none\.json$/);
  });
});

describe('reading with a cache', () => {
  it('a warm read opens no layer and gives the facts of a cold read', async () => {
    const dir = tmp();
    const c0 = await coldRead('trixie-mpich-cuda');
    const first = await read(oci('trixie-mpich-cuda'), openCache({ dir }));
    expect(first.opened).toEqual([0, 1, 2, 3]);
    expect(Object.values(first.how)).toEqual(['read', 'read', 'read', 'read']);
    expect(first.facts).toEqual(c0.facts);

    const cache = openCache({ dir });
    const warm = await read(oci('trixie-mpich-cuda'), cache);
    expect(warm.opened).toEqual([]);
    expect(Object.values(warm.how)).toEqual(['cached', 'cached', 'cached', 'cached']);
    expect(cache.stats).toMatchObject({ hits: 4, misses: 0, writes: 0 });
    expect(warm.facts).toEqual(c0.facts);
    expect(JSON.stringify(warm.facts)).toBe(JSON.stringify(c0.facts));
    expect(warm.scans.map((s) => s.index)).toEqual([0, 1, 2, 3]);
    expect(warm.scans).toEqual(c0.scans);
  });

  it('an image sharing a base layer with one seen before reads only its new layers', async () => {
    const dir = tmp();
    const a = await read(oci('sus-corrupt-elf'), openCache({ dir }));
    expect(a.opened).toEqual([0, 1]);
    const b = await read(oci('sus-symlink-loop'), openCache({ dir }));
    expect(b.image.layers[0]).toMatchObject({ digest: (a.image.layers[0] as BlobLayer).digest });
    expect(b.opened).toEqual([1]);
    expect(b.how).toEqual({ 0: 'cached', 1: 'read' });
    expect(b.facts).toEqual((await coldRead('sus-symlink-loop')).facts);
  });

  it('an entry made under other wants or other limits is not used', async () => {
    const dir = tmp();
    await read(oci('sus-corrupt-elf'), openCache({ dir }));
    // Other wants: one more scan rule.
    const more = new WantSet([{ owner: 'image', wants: {} }, { owner: 'extra', wants: { scans: [{ id: 'extra.rule', path: /libc\.so/, pattern: /GNU C Library[^\n]*?version ([\d.]+)/g, max: 1 }] } }]);
    const other = await read(oci('sus-corrupt-elf'), openCache({ dir }), more);
    expect(other.opened).toEqual([0, 1]);
    // Other limits: a smaller scanned-bytes limit may cut searches, so the scans may differ.
    process.env.CONTAINERSPEC_MAX_SCANNED_BYTES = String(1 << 20);
    const limited = await read(oci('sus-corrupt-elf'), openCache({ dir }));
    expect(limited.opened).toEqual([0, 1]);
    delete process.env.CONTAINERSPEC_MAX_SCANNED_BYTES;
    const again = await read(oci('sus-corrupt-elf'), openCache({ dir }));
    expect(again.opened).toEqual([]);
    expect(again.facts).toEqual((await coldRead('sus-corrupt-elf')).facts);
    // Three fingerprints, three sets of entries.
    expect(readdirSync(join(dir, 'layers/v1'))).toHaveLength(3);
  });

  it('a cached layer still counts its entries against the entries limit', async () => {
    const dir = tmp();
    await read(oci('sus-corrupt-elf'), openCache({ dir }));
    process.env.CONTAINERSPEC_MAX_ENTRIES = '50';
    const coldErr = await read(oci('sus-corrupt-elf'), null).catch((e: unknown) => e);
    const warmErr = await read(oci('sus-corrupt-elf'), openCache({ dir })).catch((e: unknown) => e);
    expect(coldErr).toBeInstanceOf(FormatError);
    expect(warmErr).toBeInstanceOf(FormatError);
    expect((warmErr as Error).message).toBe((coldErr as Error).message);
    expect((warmErr as Error).message).toMatch(/over the limit of 50 tar entries/);
  });

  it('a corrupt, truncated, misshapen or foreign entry is a miss, is removed, and the facts are still right', async () => {
    const dir = tmp();
    const c0 = await coldRead('trixie-mpich-cuda');
    const { image } = await read(oci('trixie-mpich-cuda'), openCache({ dir }));
    const path = (i: number) => layerEntryPath(dir, keyOf(image, i));
    const valid = (i: number) => JSON.parse(readFileSync(path(i), 'utf8')) as { key: LayerKey; scan: LayerScan };
    truncateSync(path(0), Math.floor(statSync(path(0)).size / 2));
    writeFileSync(path(1), 'garbage \x00\xff');
    writeFileSync(path(2), readFileSync(path(3))); // a valid entry for another key
    const misshapen = valid(3);
    (misshapen.scan as unknown as Record<string, unknown>).entries = 'not a list';
    writeFileSync(path(3), JSON.stringify(misshapen));

    const cache = openCache({ dir });
    const r = await read(oci('trixie-mpich-cuda'), cache);
    expect(r.opened).toEqual([0, 1, 2, 3]);
    expect(cache.stats).toMatchObject({ hits: 0, misses: 4, dropped: 4, writes: 4 });
    expect(r.facts).toEqual(c0.facts);
    // Rewritten, each entry is good again.
    for (let i = 0; i < 4; i++) expect(valid(i).key.digest).toBe((image.layers[i] as BlobLayer).digest);
    expect((await read(oci('trixie-mpich-cuda'), openCache({ dir }))).opened).toEqual([]);

    // Removed even when nothing is put back (getScan alone).
    writeFileSync(path(0), '{"format":"containerspec-layer-facts","version":1}');
    expect(openCache({ dir }).getScan(keyOf(image, 0))).toBeNull();
    expect(existsSync(path(0))).toBe(false);
  });

  it('a layer whose digest fails to verify leaves nothing in the cache', async () => {
    const dir = tmp();
    const bad = JSON.parse(readFileSync(join(FIXTURES, 'bad-digest/expected.json'), 'utf8')) as { error: { blob: string } };
    const hex = bad.error.blob.slice('sha256:'.length);
    const cache = openCache({ dir });
    await expect(read(oci('bad-digest'), cache)).rejects.toBeInstanceOf(DigestMismatchError);
    const files = filesUnder(join(dir, 'layers'));
    expect(files.filter((f) => f.includes(hex))).toEqual([]);
    expect(files.filter((f) => f.includes('.tmp-'))).toEqual([]);
    // And again, now that the good layer may be cached: still refused, still nothing for the bad one.
    await expect(read(oci('bad-digest'), openCache({ dir }))).rejects.toBeInstanceOf(DigestMismatchError);
    expect(filesUnder(join(dir, 'layers')).filter((f) => f.includes(hex))).toEqual([]);
  });

  it('a cached layer whose descriptor names another size is read, and refused as without a cache', async () => {
    const dir = tmp();
    await read(oci('sus-corrupt-elf'), openCache({ dir }));
    const { image } = counting(await openImage(oci('sus-corrupt-elf')));
    const l0 = image.layers[0] as BlobLayer;
    const lying = Object.create(image, { layers: { value: [Object.create(l0, { size: { value: l0.size! + 1 } }), image.layers[1]] } }) as Image;
    await expect(readLayers(lying, WANTS, { cache: openCache({ dir }) })).rejects.toThrow(/bytes arrived, its descriptor says/);
  });

  it('layers not named by a digest are never cached: a classic docker-archive, a dir: tree', async () => {
    const dir = tmp();
    const cache = openCache({ dir });
    const dock = await read(`docker-archive:${join(FIXTURES, 'bullseye-openmpi/docker.tar')}`, cache);
    expect(dock.image.layers.every((l) => l.kind === 'blob' && l.digest === null)).toBe(true);
    await read(`dir:${join(FIXTURES, 'bullseye-openmpi/rootfs')}`, cache);
    expect(cache.stats.writes).toBe(0);
    expect(filesUnder(join(dir, 'layers'))).toEqual([]);
    // Read again: still streamed.
    expect((await read(`docker-archive:${join(FIXTURES, 'bullseye-openmpi/docker.tar')}`, cache)).opened).toEqual([0, 1]);
  });
});

describe('a cache that cannot be used never fails an inspect', () => {
  it('a cache that cannot be written is skipped with one warning; the facts are right', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'layers'), 'a file where the cache wants a directory');
    const warnings: string[] = [];
    const cache = openCache({ dir, explicit: true, onWarning: (m) => warnings.push(m) });
    const r = await read(oci('trixie-mpich-cuda'), cache);
    expect(r.facts).toEqual((await coldRead('trixie-mpich-cuda')).facts);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/cannot write to the cache/);
    expect(cache.writable).toBe(false);
  });

  // Permissions do not bind root: there the directory stays writable and this would show nothing.
  if (process.getuid?.() === 0) console.warn('skipping "a read-only cache is still read": running as root, which writes through read-only permissions');
  it.skipIf(process.getuid?.() === 0)('a read-only cache is still read', async () => {
    const dir = tmp();
    await read(oci('sus-corrupt-elf'), openCache({ dir }));
    const ro = join(dir, 'layers');
    const chmodAll = (p: string, mode: number) => {
      for (const f of readdirSync(p, { recursive: true }).map((n) => join(p, String(n)))) if (statSync(f).isDirectory()) chmodSync(f, mode);
      chmodSync(p, mode);
    };
    chmodAll(ro, 0o555);
    try {
      const r = await read(oci('sus-corrupt-elf'), openCache({ dir }));
      expect(r.opened).toEqual([]);
    } finally {
      chmodAll(ro, 0o755);
    }
  });

  it('an explicit --cache-dir that is not a directory is a UsageError; a default one is skipped', () => {
    const dir = tmp();
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    expect(() => openCache({ dir: file, explicit: true })).toThrow(UsageError);
    expect(() => openCache({ dir: join(file, 'below'), explicit: true })).toThrow(UsageError);
    const warnings: string[] = [];
    const c = openCache({ dir: file, onWarning: (m) => warnings.push(m) });
    expect(c.writable).toBe(false);
    expect(warnings).toHaveLength(1);
  });

  it('opening makes the directory with a CACHEDIR.TAG', () => {
    const dir = join(tmp(), 'a/b/containerspec');
    openCache({ dir });
    expect(readFileSync(join(dir, 'CACHEDIR.TAG'), 'utf8')).toMatch(/^Signature: 8a477f597d28d172789f06886806bc55/);
  });
});

describe('blobs by digest', () => {
  it('keeps verified bytes only, and drops bytes that no longer match', async () => {
    const dir = tmp();
    const cache = openCache({ dir });
    const img = await openImage(oci('trixie-mpich-cuda'));
    const hex = img.manifestDigest!.slice('sha256:'.length);
    const bytes = readFileSync(join(FIXTURES, 'trixie-mpich-cuda/oci/blobs/sha256', hex));
    expect(cache.getBlob(img.manifestDigest!)).toBeNull();
    expect(cache.putBlob(img.manifestDigest!, Buffer.from('not the manifest'))).toBe(false);
    expect(cache.getBlob(img.manifestDigest!)).toBeNull();
    expect(cache.putBlob(img.manifestDigest!, bytes)).toBe(true);
    expect(openCache({ dir }).getBlob(img.manifestDigest!)).toEqual(bytes);
    const file = cache.blobPath(img.manifestDigest!)!;
    // The same manifest again (a tag asked on every run): the entry stays, not written anew.
    const { ino } = statSync(file);
    const writes = cache.stats.writes;
    expect(cache.putBlob(img.manifestDigest!, bytes)).toBe(true);
    expect([statSync(file).ino, cache.stats.writes]).toEqual([ino, writes]);
    writeFileSync(file, Buffer.concat([bytes, Buffer.from(' ')]));
    expect(cache.getBlob(img.manifestDigest!)).toBeNull();
    expect(existsSync(file)).toBe(false);
    expect(cache.getBlob('sha256:../../etc/passwd')).toBeNull();
  });
});

describe('two processes at once', () => {
  let script = '';
  beforeAll(async () => {
    await buildCli();
    const dist = (p: string) => pathToFileURL(join(REPO, 'dist', p)).href;
    script = join(tmp('cache-proc'), 'child.mjs');
    writeFileSync(
      script,
      `
import { readFileSync } from 'node:fs';
const { openCache } = await import(${JSON.stringify(dist('cache/index.js'))});
const [mode, dir, arg] = process.argv.slice(2);
const cache = openCache({ dir, onWarning: (m) => { console.error(m); process.exitCode = 3; } });
if (mode === 'inspect') {
  const { openImage } = await import(${JSON.stringify(dist('image/open.js'))});
  const { readLayers } = await import(${JSON.stringify(dist('layers/read.js'))});
  const { wantsFor } = await import(${JSON.stringify(dist('extract/index.js'))});
  await readLayers(await openImage(arg), wantsFor('image'), { cache, parallel: 4 });
} else {
  // hammer: write one entry again and again, reading it back after each write
  const { key, tarEntries, scan } = JSON.parse(readFileSync(arg, 'utf8'));
  for (let i = 0; i < 200; i++) {
    if (!cache.putScan(key, scan, tarEntries)) { console.error('put failed at ' + i); process.exit(4); }
    if (!cache.getScan(key)) { console.error('read back a bad entry at ' + i); process.exit(5); }
  }
}
console.log(JSON.stringify(cache.stats));
`,
    );
  });

  const run = (args: string[]) =>
    new Promise<{ code: number | null; out: string; err: string }>((res, rej) => {
      const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.on('error', rej);
      child.on('close', (code) => res({ code, out, err }));
    });

  it('two inspects of one image into an empty cache both succeed and leave one good entry per layer', async () => {
    const dir = tmp();
    const rs = await Promise.all([run(['inspect', dir, oci('trixie-mpich-cuda')]), run(['inspect', dir, oci('trixie-mpich-cuda')])]);
    for (const r of rs) expect(r, r.err).toMatchObject({ code: 0, err: '' });
    const files = filesUnder(join(dir, 'layers'));
    expect(files).toHaveLength(4);
    expect(files.filter((f) => f.includes('.tmp-'))).toEqual([]);
    // Read back by the same build that wrote them (the fingerprint holds the build's time): all four are good hits.
    const warm = await run(['inspect', dir, oci('trixie-mpich-cuda')]);
    expect(warm, warm.err).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(warm.out)).toMatchObject({ hits: 4, misses: 0, writes: 0, dropped: 0 });
  });

  it('two processes writing the same entry 200 times each never read a half-written one', async () => {
    const dir = tmp();
    const { image } = await read(oci('trixie-mpich-cuda'), openCache({ dir }));
    const entry = layerEntryPath(dir, keyOf(image, 0)); // the biggest: the base layer's facts
    const rs = await Promise.all([run(['hammer', dir, entry]), run(['hammer', dir, entry])]);
    for (const r of rs) expect(r, r.err).toMatchObject({ code: 0, err: '' });
    for (const r of rs) expect(JSON.parse(r.out)).toMatchObject({ hits: 200, writes: 200, dropped: 0 });
    expect(readdirSync(join(entry, '..'))).toEqual([entry.slice(entry.lastIndexOf('/') + 1)]);
    expect(openCache({ dir }).getScan(keyOf(image, 0))).not.toBeNull();
  });
});

describe('cache prune', () => {
  it('removes least recently used entries first down to the limit; the rest stay readable', async () => {
    const dir = tmp();
    const cache = openCache({ dir });
    const { image } = await read(oci('trixie-mpich-cuda'), cache);
    const keys = [0, 1, 2, 3].map((i) => keyOf(image, i));
    const paths = keys.map((k) => layerEntryPath(dir, k));
    const size = paths.map((p) => statSync(p).size);
    // Written long ago in the order 0,1,2,3; then a hit on 0 makes it the most recently used.
    const day = 86_400;
    const t0 = Date.now() / 1000 - 10 * day;
    paths.forEach((p, i) => utimesSync(p, t0 + i * day, t0 + i * day));
    expect(cache.getScan(keys[0]!)).not.toBeNull();
    // Leftovers: a stale temp file, a fresh one, and files that are not the cache's.
    const stale = `${paths[1]}.tmp-123-0123456789ab`;
    const fresh = `${paths[1]}.tmp-124-0123456789ab`;
    writeFileSync(stale, 'half');
    writeFileSync(fresh, 'half');
    const old = (Date.now() - STALE_TEMP_MS - 60_000) / 1000;
    utimesSync(stale, old, old);
    writeFileSync(join(dir, 'layers', 'README'), 'not an entry');
    mkdirSync(join(dir, 'mine'));
    writeFileSync(join(dir, 'mine', 'notes.json'), '{}');

    // Room for entries 0 and 3 only: 1 and 2 (least recently used) go.
    const r = pruneCache(dir, { maxBytes: size[0]! + size[3]! });
    expect(r).toEqual({ removed: 3, removedBytes: size[1]! + size[2]! + 4, kept: 2, keptBytes: size[0]! + size[3]! });
    expect(paths.map((p) => existsSync(p))).toEqual([true, false, false, true]);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
    expect(existsSync(join(dir, 'layers', 'README'))).toBe(true);
    expect(existsSync(join(dir, 'mine', 'notes.json'))).toBe(true);
    const after = openCache({ dir });
    expect(after.getScan(keys[0]!)).not.toBeNull();
    expect(after.getScan(keys[3]!)).not.toBeNull();
    const again = await read(oci('trixie-mpich-cuda'), after);
    expect(again.opened).toEqual([1, 2]);

    // Zero empties it, and removes the directories it leaves empty.
    expect(pruneCache(dir, { maxBytes: 0 }).kept).toBe(0);
    expect(filesUnder(join(dir, 'layers')).filter((f) => f.endsWith('.json'))).toEqual([]);
    expect(existsSync(join(dir, 'layers', 'v1'))).toBe(true); // still holds the fresh temp file's directory
  });

  it('parseSize reads bytes and binary units, and refuses anything else', () => {
    expect(parseSize('1048576')).toBe(1048576);
    expect(parseSize('10k')).toBe(10240);
    expect(parseSize('500M')).toBe(500 * 1024 ** 2);
    expect(parseSize('2G')).toBe(2 * 1024 ** 3);
    expect(parseSize('2GiB')).toBe(2 * 1024 ** 3);
    expect(parseSize('1.5g')).toBe(1.5 * 1024 ** 3);
    expect(parseSize('0')).toBe(0);
    expect(parseSize('512b')).toBe(512);
    for (const bad of ['', 'M', '-1', '1e9', '2X', '1 000', '10kk', '0x10', '99999999999T']) expect(() => parseSize(bad), bad).toThrow(UsageError);
    expect(() => parseSize('lots')).toThrow(/--max-size "lots": expected a size/);
  });
});

describe('whole-image facts by manifest digest', () => {
  /** Inspect with a cache, counting stored bytes read and how each layer was had. */
  async function inspectCounting(ref: string, cache: FactsCache) {
    const { inspect } = await import('../src/inspect.js');
    let bytes = 0;
    const how: string[] = [];
    const facts = await inspect(ref, { cache, onProgress: (e) => (e.kind === 'bytes' ? (bytes += e.bytes) : e.kind === 'layer' ? how.push(e.how) : undefined) });
    return { facts, bytes, how };
  }
  const imageEntries = (dir: string) => (existsSync(join(dir, 'images')) ? readdirSync(join(dir, 'images'), { recursive: true }).map(String).filter((f) => f.endsWith('@facts.json')) : []);

  it('a second inspect of the same manifest reads nothing and gives the same facts; a bad entry falls back to the layer entries', async () => {
    const dir = tmp('image-cache');
    const cache = openCache({ dir });
    const ref = oci('trixie-mpich-cuda');
    const cold = await inspectCounting(ref, cache);
    expect(cold.bytes).toBeGreaterThan(0);
    expect(imageEntries(dir)).toHaveLength(1);
    const warm = await inspectCounting(ref, cache);
    expect(warm.bytes).toBe(0);
    expect(warm.facts).toEqual(cold.facts);
    // Garbage in the image entry: a miss, removed; the layer entries still spare the reads.
    const entry = join(dir, 'images', imageEntries(dir)[0]!);
    writeFileSync(entry, '{"format":"containerspec-image-facts","version":1,"key":{}}');
    const again = await inspectCounting(ref, cache);
    expect(again.bytes).toBe(0);
    expect(again.how.every((h) => h === 'cached')).toBe(true);
    expect(again.facts).toEqual(cold.facts);
    expect(JSON.parse(readFileSync(entry, 'utf8')).facts.digest).toBe(cold.facts.digest); // rewritten
  });

  it('an entry made under other limits is not used: a lower entries limit fails as it does without a cache', async () => {
    const dir = tmp('image-limits');
    const cache = openCache({ dir });
    const ref = oci('bullseye-openmpi');
    await inspectCounting(ref, cache);
    process.env.CONTAINERSPEC_MAX_ENTRIES = '10';
    try {
      readLimits();
      await expect(inspectCounting(ref, cache)).rejects.toThrow(/entries/);
    } finally {
      delete process.env.CONTAINERSPEC_MAX_ENTRIES;
      readLimits();
    }
  });
});
