import { mkdtempSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspect } from '../src/inspect.js';
import { classifyWhiteout, cleanEntryName } from '../src/layers/paths.js';
import { openImage } from '../src/image/open.js';
import { readLayers } from '../src/layers/read.js';
import { wantsFor } from '../src/extract/index.js';
import { ImageView } from '../src/layers/view.js';
import { ContainerspecError } from '../src/errors/index.js';
import { buildOci, layerBlob, replaceLayerBlob } from './helpers/oci.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'cs-walker-'));
const libc = readFileSync('/usr/lib/x86_64-linux-gnu/libc.so.6');

async function viewOf(dir: string): Promise<ImageView> {
  const img = await openImage(`oci:${dir}`);
  return ImageView.fromScans(await readLayers(img, wantsFor('image')));
}

describe('entry names', () => {
  it('cleans ./ and leading slashes and rejects escapes', () => {
    expect(cleanEntryName('./usr/lib/', 'x')).toBe('usr/lib');
    expect(cleanEntryName('/etc//passwd', 'x')).toBe('etc/passwd');
    expect(cleanEntryName('a/b/../c', 'x')).toBe('a/c');
    expect(() => cleanEntryName('../../etc/evil', 'layer L')).toThrow(/escapes the image root in layer L/);
    expect(() => cleanEntryName('/abs/../../escape', 'x')).toThrow(/escapes/);
  });
  it('classifies whiteouts by basename prefix only', () => {
    expect(classifyWhiteout('usr/lib/.wh.libx.so')).toEqual({ kind: 'whiteout', target: 'usr/lib/libx.so' });
    expect(classifyWhiteout('opt/.wh..wh..opq')).toEqual({ kind: 'opaque', dir: 'opt' });
    expect(classifyWhiteout('usr/lib/not.wh.file')).toEqual({ kind: 'none' });
  });
});

describe('layer squashing', () => {
  it('whiteouts and opaque markers hide lower layers only, wherever they stand in the tar', async () => {
    const dir = tmp();
    await buildOci(dir, [
      { entries: [
        { name: 'opt', type: 'directory' },
        { name: 'opt/old', content: 'lower' },
        { name: 'opt/sub', type: 'directory' },
        { name: 'opt/sub/deep', content: 'lower' },
        { name: 'keep', content: 'k' },
        { name: 'gone', content: 'g' },
      ] },
      { entries: [
        { name: 'opt', type: 'directory' },
        { name: 'opt/new', content: 'upper' }, // before the marker in the tar: must survive
        { name: 'opt/.wh..wh..opq', content: '' },
        { name: '.wh.gone', content: '' },
        { name: 'gone2', content: 'x' },
        { name: '.wh.gone2', content: '' }, // same-layer whiteout must not hide the layer's own file
      ] },
    ]);
    const v = await viewOf(dir);
    expect(v.get('opt/new')).toBeDefined();
    expect(v.get('opt/old')).toBeUndefined();
    expect(v.get('opt/sub/deep')).toBeUndefined();
    expect(v.get('gone')).toBeUndefined();
    expect(v.get('gone2')).toBeDefined();
    expect(v.get('keep')).toBeDefined();
  });

  it('resolves relative and absolute symlinks inside the root, merged /usr, and flags loops', async () => {
    const dir = tmp();
    await buildOci(dir, [{ entries: [
      { name: 'usr/lib/x86_64-linux-gnu/libc.so.6', content: libc },
      { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
      { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
      { name: 'usr/lib/os-release', content: 'ID=debian\nVERSION_ID="13"\nPRETTY_NAME="Debian GNU/Linux 13 (trixie)"\n' },
      { name: 'escape', type: 'symlink', linkname: '../../../../usr/lib/os-release' },
      { name: 'a', type: 'symlink', linkname: 'b' },
      { name: 'b', type: 'symlink', linkname: '/a' },
    ] }]);
    const v = await viewOf(dir);
    const r = v.resolve('lib/x86_64-linux-gnu/libc.so.6');
    expect(r.ok && r.path).toBe('usr/lib/x86_64-linux-gnu/libc.so.6');
    const esc = v.resolve('escape');
    expect(esc.ok && esc.path).toBe('usr/lib/os-release');
    expect(v.resolve('a')).toMatchObject({ ok: false, reason: 'loop' });
    expect(v.warnings.map((w) => w.code)).toContain('symlink-loop');
    const facts = await inspect(`oci:${dir}`);
    expect(facts.os).toMatchObject({ id: 'debian', versionId: '13' });
    expect(facts.os.evidence[0]?.path).toBe('usr/lib/os-release');
    expect(facts.libc.family).toBe('glibc');
    expect(facts.warnings.some((w) => w.code === 'symlink-loop')).toBe(true);
  });

  it('a hard link carries its target\'s content facts', async () => {
    const dir = tmp();
    await buildOci(dir, [{ entries: [
      { name: 'usr/lib/x86_64-linux-gnu/libc-real.so', content: libc },
      { name: 'usr/lib/x86_64-linux-gnu/libc.so.6', type: 'link', linkname: 'usr/lib/x86_64-linux-gnu/libc-real.so' },
    ] }]);
    const facts = await inspect(`oci:${dir}`);
    expect(facts.libc.family).toBe('glibc');
    expect(facts.libc.evidence[0]?.path).toBe('usr/lib/x86_64-linux-gnu/libc.so.6');
  });

  it('reads gzip, zstd and plain layers alike, in parallel or serially with equal results', async () => {
    const dir = tmp();
    await buildOci(dir, [
      { entries: [{ name: 'usr/lib/x86_64-linux-gnu/libc.so.6', content: libc }], compression: 'gzip' },
      { entries: [{ name: 'usr/bin/ls', content: readFileSync('/bin/ls') }], compression: 'zstd' },
      { entries: [{ name: 'etc/os-release', content: 'ID=test\n' }], compression: 'none' },
    ]);
    const serial = await inspect(`oci:${dir}`, { parallel: 1 });
    const parallel = await inspect(`oci:${dir}`, { parallel: 3 });
    expect(parallel).toEqual(serial);
    expect(serial.layers?.map((l) => l.compression)).toEqual(['gzip', 'zstd', 'none']);
    expect(serial.os.id).toBe('test');
    expect(serial.stats.elfFiles).toBe(2);
  });
});

describe('permissions', () => {
  it('reports setuid, foreign owners, devices and ACL xattrs', async () => {
    const dir = tmp();
    await buildOci(dir, [{ entries: [
      { name: 'usr/bin/su', content: 'x', mode: 0o4755 },
      { name: 'home/u/f', content: 'x', uid: 1000, gid: 1000 },
      { name: 'dev/null', type: 'character-device' },
      { name: 'srv/shared', content: 'x', pax: { 'SCHILY.xattr.system.posix_acl_access': 'AgAAAAEABgD/////' } },
    ] }]);
    const f = await inspect(`oci:${dir}`);
    expect(f.permissions?.setuid).toEqual(['/usr/bin/su']);
    expect(f.permissions?.nonRootOwned.count).toBe(1);
    expect(f.permissions?.devices).toEqual(['/dev/null']);
    expect(f.permissions?.acls).toEqual(['/srv/shared']);
    expect(f.permissions?.flattenable).toBe(false);
  });
});

describe('bad input is an error naming the layer', () => {
  it('rejects a ../ entry', async () => {
    const dir = tmp();
    const built = await buildOci(dir, [{ entries: [{ name: '../../etc/evil', content: 'x' }] }]);
    await expect(inspect(`oci:${dir}`)).rejects.toThrow(new RegExp(`escapes the image root in layer ${built.layerDigests[0]}`));
  });
  it('rejects a blob whose content does not match its digest', async () => {
    const dir = tmp();
    const built = await buildOci(dir, [{ entries: [{ name: 'f', content: 'hello' }], compression: 'none' }]);
    const blob = join(dir, 'blobs/sha256', built.layerDigests[0]!.slice(7));
    const data = readFileSync(blob);
    data[600] = data[600]! ^ 1;
    writeFileSync(blob, data);
    const err = await inspect(`oci:${dir}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContainerspecError);
    expect(String((err as Error).message)).toMatch(/digest mismatch in layer sha256:/);
  });
  it('rejects a truncated gzip layer', async () => {
    const dir = tmp();
    await buildOci(dir, [{ entries: [{ name: 'big', content: libc }] }]);
    // cut the blob and rewrite it under its new digest so only the gzip stream is broken
    const d = replaceLayerBlob(dir, 0, layerBlob(dir, 0).subarray(0, 5000));
    await expect(inspect(`oci:${dir}`)).rejects.toThrow(new RegExp(`truncated gzip stream in layer ${d}`));
    expect(readdirSync(dir)).toContain('index.json');
  });
});

describe('zstd layers', () => {
  it('a truncated zstd layer is an error naming the layer (zstd command and fzstd alike)', async () => {
    const dir = tmp();
    await buildOci(dir, [{ entries: [{ name: 'usr/lib/x86_64-linux-gnu/libc.so.6', content: libc }], compression: 'zstd' }]);
    const cut = layerBlob(dir, 0).subarray(0, 3000);
    const d = replaceLayerBlob(dir, 0, cut);
    await expect(inspect(`oci:${dir}`)).rejects.toThrow(new RegExp(`zstd stream.* in layer ${d}`));
    // the pure-JavaScript decoder reports the same cut
    const { createZstdDecompress } = await import('../src/layers/decompress.js');
    const dec = createZstdDecompress();
    const err = await new Promise<Error | null>((resolve) => {
      dec.on('error', resolve);
      dec.on('end', () => resolve(null));
      dec.resume();
      dec.end(cut);
    });
    expect(err?.message).toMatch(/truncated or corrupt zstd stream/);
  });
});
