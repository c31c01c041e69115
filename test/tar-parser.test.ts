// The walker's push tar parser against tar-stream (the parser it replaced), and the CRC-less
// gunzip against createGunzip, over many ways of cutting the input into chunks.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, symlinkSync, linkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGunzip, gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { createGunzipNoCrc } from '../src/layers/gunzip-raw.js';
import { TarParser, type TarHeader } from '../src/layers/tar.js';

const CUTS = [[1], [7], [511, 2], [512], [513], [4096, 1], [100_000, 3]];

function chunks(buf: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  let k = 0;
  while (i < buf.length) {
    const s = sizes[k++ % sizes.length]!;
    out.push(buf.subarray(i, i + s));
    i += s;
  }
  return out;
}

const show = (h: Pick<TarHeader, 'name' | 'type' | 'mode' | 'uid' | 'gid' | 'size' | 'linkname' | 'pax'>) =>
  JSON.stringify([h.name, h.type, h.mode, h.uid, h.gid, h.size, h.linkname, h.pax]);

async function viaTarStream(buf: Buffer): Promise<string[]> {
  const out: string[] = [];
  const ex = tar.extract();
  const done = (async () => {
    for await (const e of ex) {
      const h = createHash('sha256');
      for await (const c of e) h.update(c as Buffer);
      out.push(`${show(e.header as unknown as TarHeader)} ${h.digest('hex')}`);
    }
  })();
  for (let i = 0; i < buf.length; i += 777) ex.write(buf.subarray(i, i + 777));
  (ex as unknown as { end(): void }).end();
  await done.catch((e: Error) => out.push(`error: ${e.message}`));
  return out;
}

function viaParser(parts: Buffer[]): string[] {
  const out: string[] = [];
  let cur: TarHeader | null = null;
  let hash = createHash('sha256');
  const p = new TarParser({
    entry(h) {
      cur = h;
      hash = createHash('sha256');
      return true;
    },
    data(c) {
      hash.update(c);
      return true;
    },
    end() {
      out.push(`${show(cur!)} ${hash.digest('hex')}`);
    },
  });
  try {
    for (const c of parts) p.push(c);
    p.end();
  } catch (e) {
    out.push(`error: ${(e as Error).message}`);
  }
  return out;
}

function gnuTar(format: string, dir: string, names: string[]): Buffer {
  return execFileSync('tar', [`--format=${format}`, '--owner=0', '--group=0', '--numeric-owner', '-cf', '-', '-C', dir, ...names], { maxBuffer: 1 << 28 });
}

async function packed(entries: { header: Record<string, unknown>; body?: Buffer }[]): Promise<Buffer> {
  const pack = tar.pack();
  const parts: Buffer[] = [];
  pack.on('data', (d: unknown) => parts.push(d as Buffer));
  const end = new Promise<void>((r) => pack.on('end', () => r()));
  for (const e of entries) pack.entry(e.header as never, e.body ?? Buffer.alloc(0));
  pack.finalize();
  await end;
  return Buffer.concat(parts);
}

describe('TarParser agrees with tar-stream', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cs-tar-'));
  const deep = join(dir, 'd'.repeat(120), 'sub');
  mkdirSync(deep, { recursive: true });
  writeFileSync(join(deep, 'f'), 'hi\n');
  writeFileSync(join(dir, 'blob'), randomBytes(300_000));
  linkSync(join(dir, 'blob'), join(dir, 'blob-hard'));
  symlinkSync('L'.repeat(150), join(dir, 'longsym'));
  writeFileSync(join(dir, 'ünïcødé'), 'u');
  // a long name whose first 100 bytes end with '/': tar-stream still calls it a file
  mkdirSync(join(dir, 'e'.repeat(99)));
  writeFileSync(join(dir, 'e'.repeat(99), 'file'), 'data');
  const names = ['blob', 'blob-hard', 'longsym', 'ünïcødé', 'd'.repeat(120), 'e'.repeat(99)];
  const samples: Record<string, () => Promise<Buffer>> = {};
  for (const f of ['gnu', 'oldgnu', 'posix', 'ustar', 'v7']) samples[`GNU tar --format=${f}`] = async () => gnuTar(f, dir, f === 'ustar' || f === 'v7' ? ['blob', 'blob-hard'] : names);
  samples['tar-stream pack: pax records, xattrs, long link'] = () =>
    packed([
      { header: { name: 'etc/os-release', mode: 0o644, uid: 0, gid: 0 }, body: Buffer.from('ID=x\n') },
      { header: { name: 'caps', pax: { 'SCHILY.xattr.security.capability': 'x', 'SCHILY.xattr.user.a': 'b' } }, body: Buffer.from('abc') },
      { header: { name: 'p/'.repeat(80) + 'long', type: 'file' }, body: randomBytes(1000) },
      { header: { name: 'sym', type: 'symlink', linkname: 't/'.repeat(70) } },
      { header: { name: 'dev', type: 'character-device', devmajor: 1, devminor: 3 } },
      { header: { name: 'usr/.wh.gone' } },
    ]);
  it.each(Object.keys(samples))('%s', async (name) => {
    const buf = await samples[name]!();
    const ref = await viaTarStream(buf);
    expect(ref.length).toBeGreaterThan(0);
    for (const sizes of [[buf.length], ...CUTS]) expect(viaParser(chunks(buf, sizes))).toEqual(ref);
    // damaged: a flipped header byte, a truncated archive, garbage after the end
    const bad = Buffer.from(buf);
    bad[600] = (bad[600] ?? 0) ^ 1;
    for (const b of [bad, buf.subarray(0, Math.floor(buf.length / 2) + 100), buf.subarray(0, 1324), Buffer.concat([buf, Buffer.from('garbage'.repeat(100))])]) {
      const r = await viaTarStream(b);
      for (const sizes of [[b.length], [511, 2], [4096, 1]]) expect(viaParser(chunks(b, sizes))).toEqual(r);
    }
  });
});

async function decode(make: () => NodeJS.ReadWriteStream, parts: Buffer[], wait: boolean): Promise<string> {
  const d = make();
  const h = createHash('sha256');
  let n = 0;
  return new Promise((resolve) => {
    let settled = false;
    const done = (s: string) => {
      if (!settled) resolve(s);
      settled = true;
    };
    d.on('data', (c: Buffer) => {
      h.update(c);
      n += c.length;
    });
    d.on('end', () => done(`ok ${n} ${h.digest('hex')}`));
    d.on('error', (e: NodeJS.ErrnoException) => done(`error ${e.code} ${e.message}`));
    void (async () => {
      for (const c of parts) if (!d.write(c) && wait) await new Promise((r) => d.once('drain', r));
      d.end();
    })();
  });
}

describe('createGunzipNoCrc', () => {
  const data = Buffer.concat([randomBytes(20_000), Buffer.alloc(300_000, 7), randomBytes(5000)]);
  const g = gzipSync(data);
  const flip = (b: Buffer, i: number, m: number) => {
    const c = Buffer.from(b);
    c[i < 0 ? c.length + i : i]! ^= m;
    return c;
  };
  const named = Buffer.concat([flip(g, 3, 0x18).subarray(0, 10), Buffer.from('name.tar\0comment\0'), g.subarray(10)]);
  const extra = Buffer.concat([flip(g, 3, 0x04).subarray(0, 10), Buffer.from([5, 0, 1, 2, 3, 4, 5]), g.subarray(10)]);
  const same: Record<string, Buffer> = {
    single: g, named, extra,
    'two members': Buffer.concat([g, gzipSync(Buffer.from('hello'))]),
    'zero padding': Buffer.concat([g, Buffer.alloc(1000)]),
    'trailing garbage': Buffer.concat([g, Buffer.from('garbage')]),
    'truncated header': g.subarray(0, 5),
    'truncated data': g.subarray(0, 1000),
    'truncated trailer': g.subarray(0, g.length - 3),
    'no trailer': g.subarray(0, g.length - 8),
    'bad magic': flip(g, 1, 1),
    'bad method': flip(g, 2, 1),
    'reserved flags': flip(g, 3, 0x80),
    'bad length': flip(g, -2, 1),
  };
  it.each(Object.keys(same))('%s: as createGunzip', async (name) => {
    const buf = same[name]!;
    for (const sizes of [[buf.length], [buf.length - 8, 8], [10, 100_000], [7], [511, 2], [4096, 1]]) {
      const parts = chunks(buf, sizes);
      const ref = await decode(() => createGunzip({ chunkSize: 1 << 20 }), parts, true);
      for (const wait of [true, false]) expect(await decode(() => createGunzipNoCrc({ chunkSize: 1 << 20 }), parts, wait)).toBe(ref);
    }
  });
  it('does not check the CRC-32 (the digest of the stored bytes does)', async () => {
    expect(await decode(() => createGunzipNoCrc({ chunkSize: 1 << 20 }), [flip(g, -6, 1)], true)).toBe(await decode(() => createGunzip(), [g], true));
  });
});
