/**
 * The fuzzer's mutation engine: seeded, so a case is reproduced from (seed, index) alone.
 *
 * Inputs are the fixture images of fixtures/build/ (OCI layouts, oci-archive and docker-archive
 * tars, rootfs/ dirs, rootfs.tar) and small fake host trees built the way test/helpers/fake-host.ts
 * builds them. Each case copies one input into its own directory (big unchanged files are
 * hard-linked, never written: every change unlinks first), applies one mutation class, and says
 * which CLI arguments to run and whether the contract requires exit status 2 (a blob's bytes
 * changed without re-fixing the digests above it).
 *
 * Most classes re-fix the chain (blob digest and size in the manifest, diff_ids in the config,
 * config and manifest digests up through nested indexes and index.json, docker-archive config
 * names) so the mutated bytes reach the inner parsers instead of stopping at a digest check.
 *
 * Plain Node ESM, no build step, no dependencies beyond Node (tar headers are written by hand so
 * they can be wrong on purpose).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

// ------------------------------------------------------------------------------------------------
// PRNG

/** mulberry32: a small, fast 32-bit PRNG. */
export function mulberry32(a) {
  return function next() {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The PRNG seed of case `index` of run `seed`. */
export function caseSeed(seed, index) {
  return createHash('sha256').update(`containerspec-fuzz:${seed}:${index}`).digest().readUInt32LE(0);
}

export class Rng {
  constructor(seed) {
    this.next = mulberry32(seed >>> 0);
  }
  int(n) {
    return Math.floor(this.next() * n);
  }
  range(a, b) {
    return a + this.int(b - a + 1);
  }
  chance(p) {
    return this.next() < p;
  }
  pick(arr) {
    return arr[this.int(arr.length)];
  }
  /** Pick from [[weight, value], ...]. */
  weighted(pairs) {
    const total = pairs.reduce((n, [w]) => n + w, 0);
    let r = this.next() * total;
    for (const [w, v] of pairs) {
      if ((r -= w) < 0) return v;
    }
    return pairs[pairs.length - 1][1];
  }
  bytes(n) {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  shuffle(arr) {
    const a = [...arr];
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }
}

// ------------------------------------------------------------------------------------------------
// small helpers

export const sha256hex = (b) => createHash('sha256').update(b).digest('hex');
const digestOf = (b) => `sha256:${sha256hex(b)}`;

let SANDBOX = null;

/** Every write of the engine must land below this directory (checked through symlinks). */
export function setSandbox(dir) {
  mkdirp(dir);
  SANDBOX = fs.realpathSync(dir);
}

const insideSandbox = (real) => real === SANDBOX || real.startsWith(`${SANDBOX}${path.sep}`);

/**
 * Refuse to write `p` unless it is below the sandbox after following every symlink among its
 * ancestors: fixture trees are hard-linked copies and may hold absolute or dangling links.
 */
function guard(p) {
  if (SANDBOX === null) return;
  const abs = path.resolve(p);
  if (!insideSandbox(abs)) throw new Error(`refusing to write ${p}: outside the sandbox ${SANDBOX}`);
  let cur = SANDBOX;
  for (const seg of path.relative(SANDBOX, path.dirname(abs)).split(path.sep).filter(Boolean)) {
    cur = path.join(cur, seg);
    let st;
    try {
      st = fs.lstatSync(cur);
    } catch {
      return; // missing: created below as real directories
    }
    if (st.isSymbolicLink()) {
      let real;
      try {
        real = fs.realpathSync(cur);
      } catch {
        throw new Error(`refusing to write ${p}: ${cur} is a dangling symlink`);
      }
      if (!insideSandbox(real)) throw new Error(`refusing to write ${p}: ${cur} resolves to ${real}, outside the sandbox`);
      cur = real;
    }
  }
}

function mkdirp(p) {
  guard(path.join(p, 'x'));
  fs.mkdirSync(p, { recursive: true });
  return p;
}

/** Write a file at `p`, unlinking whatever is there first (never write through a hard link). */
export function writeFresh(p, data) {
  guard(p);
  fs.rmSync(p, { force: true, recursive: true });
  mkdirp(path.dirname(p));
  fs.writeFileSync(p, data);
  return p;
}

function symlinkFresh(target, p) {
  guard(p);
  fs.rmSync(p, { force: true, recursive: true });
  mkdirp(path.dirname(p));
  fs.symlinkSync(target, p);
}

/** Hard-link copy of a tree (cp -al): files are shared with the source and must never be written. */
function linkTree(src, dst) {
  mkdirp(path.dirname(dst));
  const r = spawnSync('cp', ['-al', src, dst], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cp -al ${src} ${dst}: ${r.stderr}`);
}

/** A real copy of a small tree. */
function copyTree(src, dst) {
  mkdirp(path.dirname(dst));
  const r = spawnSync('cp', ['-a', src, dst], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cp -a ${src} ${dst}: ${r.stderr}`);
}

function linkOrCopy(src, dst) {
  guard(dst);
  mkdirp(path.dirname(dst));
  try {
    fs.linkSync(src, dst);
  } catch {
    fs.copyFileSync(src, dst);
  }
}

function readSlice(file, off, size) {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(size);
    let got = 0;
    while (got < size) {
      const n = fs.readSync(fd, buf, got, size - got, off + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}

function mkfifo(p) {
  guard(p);
  fs.rmSync(p, { force: true, recursive: true });
  mkdirp(path.dirname(p));
  const r = spawnSync('mkfifo', [p]);
  if (r.status !== 0) throw new Error(`mkfifo ${p} failed`);
}

const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;

/** A device node when running as root (else a FIFO stands in). */
function mknod(p, kind, major, minor) {
  guard(p);
  fs.rmSync(p, { force: true, recursive: true });
  mkdirp(path.dirname(p));
  if (!IS_ROOT) return mkfifo(p);
  const r = spawnSync('mknod', [p, kind, String(major), String(minor)]);
  if (r.status !== 0) mkfifo(p);
}

/** A Unix socket file left behind by a process that exits without closing it. */
function mksock(p) {
  guard(p);
  fs.rmSync(p, { force: true, recursive: true });
  mkdirp(path.dirname(p));
  if (Buffer.byteLength(p) > 100) return mkfifo(p); // sun_path is short
  spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(p)},()=>process.exit(0))`], { timeout: 5000 });
  if (!fs.existsSync(p)) mkfifo(p);
}

function sparse(p, size, head = null) {
  guard(p);
  fs.rmSync(p, { force: true, recursive: true });
  mkdirp(path.dirname(p));
  fs.writeFileSync(p, head ?? Buffer.alloc(0));
  fs.truncateSync(p, size);
}

// ------------------------------------------------------------------------------------------------
// compression

export function detectCompression(b) {
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
  if (b.length >= 4 && b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) return 'zstd';
  return 'none';
}

function zstdRun(args, input) {
  const r = spawnSync('zstd', [...args, '-q', '-c'], { input, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`zstd ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

export function decompress(kind, b) {
  if (kind === 'gzip') return zlib.gunzipSync(b, { maxOutputLength: 1 << 30 });
  if (kind === 'zstd') return zstdRun(['-d'], b);
  return b;
}

export function compress(kind, b, level = 1) {
  if (kind === 'gzip') return zlib.gzipSync(b, { level });
  if (kind === 'zstd') return zstdRun([`-${Math.max(1, Math.min(level, 3))}`, '-T1'], b);
  return b;
}

// ------------------------------------------------------------------------------------------------
// tar, by hand (so fields can be wrong on purpose)

const BLOCK = 512;
const ZERO_BLOCK = Buffer.alloc(BLOCK);
const pad512 = (n) => Math.ceil(n / BLOCK) * BLOCK;

function putField(b, off, len, v) {
  const src = Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'latin1');
  b.fill(0, off, off + len);
  src.copy(b, off, 0, Math.min(len, src.length));
}

const oct = (n, len) => `${Math.max(0, n).toString(8).padStart(len - 1, '0')}\0`;

/** Recompute the checksum of the header at `off` in place. */
export function fixChecksum(b, off = 0) {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : b[off + i];
  putField(b, off + 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
}

/**
 * One ustar header. `raw` overrides fields with exact bytes: { size: '-1', name: Buffer, ... }.
 * Names too long for the name field are split into prefix/name when possible.
 */
export function tarHeader(h, { checksum = true } = {}) {
  const b = Buffer.alloc(BLOCK);
  let name = h.name ?? '';
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    const i = name.lastIndexOf('/', name.length - 1);
    if (i > 0 && i <= 155 && Buffer.byteLength(name.slice(i + 1)) <= 100) {
      prefix = name.slice(0, i);
      name = name.slice(i + 1);
    }
  }
  const f = {
    name: Buffer.from(name, 'utf8'),
    mode: oct(h.mode ?? (h.type === '5' ? 0o755 : 0o644), 8),
    uid: oct(h.uid ?? 0, 8),
    gid: oct(h.gid ?? 0, 8),
    size: oct(h.size ?? 0, 12),
    mtime: oct(h.mtime ?? 0, 12),
    type: h.type ?? '0',
    linkname: Buffer.from(h.linkname ?? '', 'utf8'),
    magic: 'ustar\0',
    version: '00',
    uname: '',
    gname: '',
    devmajor: oct(h.devmajor ?? 0, 8),
    devminor: oct(h.devminor ?? 0, 8),
    prefix: Buffer.from(prefix, 'utf8'),
    ...(h.raw ?? {}),
  };
  putField(b, 0, 100, f.name);
  putField(b, 100, 8, f.mode);
  putField(b, 108, 8, f.uid);
  putField(b, 116, 8, f.gid);
  putField(b, 124, 12, f.size);
  putField(b, 136, 12, f.mtime);
  putField(b, 156, 1, f.type);
  putField(b, 157, 100, f.linkname);
  putField(b, 257, 6, f.magic);
  putField(b, 263, 2, f.version);
  putField(b, 265, 32, f.uname);
  putField(b, 297, 32, f.gname);
  putField(b, 329, 8, f.devmajor);
  putField(b, 337, 8, f.devminor);
  putField(b, 345, 155, f.prefix);
  if (checksum) fixChecksum(b, 0);
  else putField(b, 148, 8, '0000000\0');
  return b;
}

/** PAX records text from [key, value] pairs (a string is a raw record, written as is). */
export function paxRecords(records) {
  const parts = records.map((r) => {
    if (typeof r === 'string' || Buffer.isBuffer(r)) return Buffer.from(r);
    const [k, v] = r;
    const body = Buffer.concat([Buffer.from(` ${k}=`), Buffer.isBuffer(v) ? v : Buffer.from(String(v)), Buffer.from('\n')]);
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    return Buffer.concat([Buffer.from(String(len)), body]);
  });
  return Buffer.concat(parts);
}

const padData = (d) => Buffer.concat([d, Buffer.alloc(pad512(d.length) - d.length)]);

/** A whole entry: optional PAX header, header, data padded to a block. */
export function tarEntry(e) {
  const data = e.data === undefined ? Buffer.alloc(0) : Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data);
  const parts = [];
  const pax = [...(e.pax ?? [])];
  let name = e.name;
  const nameBytes = Buffer.byteLength(name);
  const splittable = nameBytes <= 100 || (() => {
    const i = name.lastIndexOf('/');
    return i > 0 && i <= 155 && Buffer.byteLength(name.slice(i + 1)) <= 100;
  })();
  if (!splittable && !e.raw?.name) {
    pax.unshift(['path', name]);
    name = name.slice(0, 99);
  }
  if (e.linkname && Buffer.byteLength(e.linkname) > 100 && !e.raw?.linkname) pax.unshift(['linkpath', e.linkname]);
  if (pax.length) {
    const pd = paxRecords(pax);
    parts.push(tarHeader({ name: 'PaxHeader', type: 'x', size: pd.length }), padData(pd));
  }
  parts.push(tarHeader({ ...e, name, size: e.size ?? data.length, linkname: (e.linkname ?? '').slice(0, 100) }, { checksum: e.checksum ?? true }));
  if (data.length) parts.push(padData(data));
  return Buffer.concat(parts);
}

function parseOctalField(b, off, len) {
  const f = b.subarray(off, off + len);
  if (f[0] & 0x80) {
    let n = f[0] & 0x7f;
    for (let i = 1; i < f.length; i++) n = n * 256 + f[i];
    return n;
  }
  const s = f.toString('latin1').replace(/\0.*$/s, '').trim();
  return s === '' ? 0 : parseInt(s, 8);
}

const cstring = (b) => {
  const z = b.indexOf(0);
  return b.subarray(0, z < 0 ? b.length : z).toString('utf8');
};

/**
 * Parse an (intact) tar held in memory: every entry with the offset of its first header (PAX or
 * GNU long-name headers included), its own header, its data and size; `end` is where the
 * end-of-archive marker starts (or the buffer's end).
 */
export function parseTar(b) {
  const entries = [];
  let pos = 0;
  let start = null;
  let pax = {};
  let longName = null;
  while (pos + BLOCK <= b.length) {
    const h = b.subarray(pos, pos + BLOCK);
    if (h.equals(ZERO_BLOCK)) return { entries, end: pos };
    const type = String.fromCharCode(h[156] || 0x30);
    let size = parseOctalField(h, 124, 12);
    if (!Number.isFinite(size) || size < 0) break;
    const dataOff = pos + BLOCK;
    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      if (start === null) start = pos;
      const d = b.subarray(dataOff, dataOff + size);
      if (type === 'x') {
        const t = d.toString('utf8');
        for (const m of t.matchAll(/\d+ ([^=\n]+)=([^\n]*)\n/g)) pax[m[1]] = m[2];
      } else if (type === 'L') longName = cstring(d);
      pos = dataOff + pad512(size);
      continue;
    }
    let name = cstring(h.subarray(0, 100));
    const prefix = cstring(h.subarray(345, 500));
    if (h.subarray(257, 262).toString('latin1') === 'ustar' && prefix) name = `${prefix}/${name}`;
    if (longName !== null) name = longName;
    if (pax.path !== undefined) name = pax.path;
    if (pax.size !== undefined && /^\d+$/.test(pax.size)) size = Number(pax.size);
    const linkname = pax.linkpath ?? cstring(h.subarray(157, 257));
    entries.push({ start: start ?? pos, hdr: pos, dataOff, size, name, type, linkname });
    start = null;
    pax = {};
    longName = null;
    pos = dataOff + pad512(size);
  }
  return { entries, end: Math.min(pos, b.length) };
}

/** Insert `bytes` at `off`. */
const insertAt = (b, off, bytes) => Buffer.concat([b.subarray(0, off), bytes, b.subarray(off)]);

/** Add entries before the end-of-archive marker. */
export function appendEntries(tar, entryBufs) {
  const { end } = parseTar(tar);
  return Buffer.concat([tar.subarray(0, end), ...entryBufs, ZERO_BLOCK, ZERO_BLOCK]);
}

/** Replace one entry's data (its header's size follows; PAX size records are dropped). */
function replaceEntryData(tar, e, data, extraRaw = {}) {
  const hdr = Buffer.from(tar.subarray(e.hdr, e.hdr + BLOCK));
  const pre = tar.subarray(e.start, e.hdr);
  let keepPre = pre;
  if (pre.length && /\d+ size=/.test(pre.toString('latin1'))) keepPre = Buffer.alloc(0); // a PAX size would lie now
  putField(hdr, 124, 12, oct(data.length, 12));
  for (const [off, len, v] of Object.values(extraRaw)) putField(hdr, off, len, v);
  fixChecksum(hdr, 0);
  return Buffer.concat([tar.subarray(0, e.start), keepPre, hdr, padData(data), tar.subarray(e.dataOff + pad512(e.size))]);
}

// ------------------------------------------------------------------------------------------------
// member stores: an OCI layout (from a directory or an archive) or a docker save archive

/**
 * Named members, in order: `{ name, type: '0'|'5'|'1'|'2', linkname, buf | file+off, size }`.
 * File-backed members are read lazily and hard-linked when written out unchanged.
 */
class Members {
  constructor() {
    this.map = new Map();
  }
  static fromDir(dir) {
    const m = new Members();
    const walk = (rel) => {
      for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
        const r = rel ? `${rel}/${name}` : name;
        const st = fs.lstatSync(path.join(dir, r));
        if (st.isDirectory()) {
          m.map.set(r, { name: r, type: '5' });
          walk(r);
        } else if (st.isSymbolicLink()) m.map.set(r, { name: r, type: '2', linkname: fs.readlinkSync(path.join(dir, r)) });
        else if (st.isFile()) m.map.set(r, { name: r, type: '0', file: path.join(dir, r), off: 0, size: st.size, whole: true });
      }
    };
    walk('');
    return m;
  }
  static fromTar(file) {
    const m = new Members();
    for (const e of indexTarFile(file)) {
      const name = e.name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
      if (e.type === '5') m.map.set(name, { name, type: '5' });
      else if (e.type === '1' || e.type === '2') m.map.set(name, { name, type: e.type, linkname: e.linkname });
      else m.map.set(name, { name, type: '0', file, off: e.dataOff, size: e.size });
    }
    return m;
  }
  has(name) {
    return this.map.has(name);
  }
  get(name) {
    const m = this.map.get(name);
    if (!m || m.type !== '0') return null;
    if (!m.buf) m.buf = readSlice(m.file, m.off, m.size);
    return m.buf;
  }
  size(name) {
    const m = this.map.get(name);
    return m ? (m.buf ? m.buf.length : m.size) : null;
  }
  set(name, buf) {
    const dir = path.posix.dirname(name);
    if (dir !== '.' && !this.map.has(dir)) this.map.set(dir, { name: dir, type: '5' });
    this.map.set(name, { name, type: '0', buf, size: buf.length });
  }
  setLink(name, type, linkname) {
    this.map.set(name, { name, type, linkname });
  }
  delete(name) {
    this.map.delete(name);
  }
  names() {
    return [...this.map.keys()];
  }
  /** Write as a directory (unchanged whole files are hard-linked). */
  writeDir(dir) {
    mkdirp(dir);
    for (const m of this.map.values()) {
      const p = path.join(dir, m.name);
      if (m.type === '5') mkdirp(p);
      else if (m.type === '2') symlinkFresh(m.linkname, p);
      else if (m.type === '1') linkOrCopy(path.join(dir, m.linkname), p);
      else if (!m.buf && m.whole) linkOrCopy(m.file, p);
      else writeFresh(p, this.get(m.name));
    }
  }
  /** Write as an uncompressed tar; returns the member table (header and data offsets). */
  writeTar(file) {
    mkdirp(path.dirname(file));
    const fd = fs.openSync(file, 'w');
    const table = [];
    let pos = 0;
    const put = (b) => {
      fs.writeSync(fd, b, 0, b.length, pos);
      pos += b.length;
    };
    try {
      const names = [...this.map.keys()];
      for (const name of names) {
        const m = this.map.get(name);
        if (m.type === '5') {
          const e = tarEntry({ name: `${name}/`, type: '5' });
          table.push({ name, start: pos, hdr: pos + e.length - BLOCK, dataOff: pos + e.length, size: 0, type: '5' });
          put(e);
          continue;
        }
        if (m.type === '1' || m.type === '2') {
          const e = tarEntry({ name, type: m.type, linkname: m.linkname });
          table.push({ name, start: pos, hdr: pos + e.length - BLOCK, dataOff: pos + e.length, size: 0, type: m.type });
          put(e);
          continue;
        }
        const size = m.buf ? m.buf.length : m.size;
        const h = tarEntry({ name, size, data: Buffer.alloc(0) });
        const start = pos;
        put(h);
        table.push({ name, start, hdr: pos - BLOCK, dataOff: pos, size, type: '0' });
        if (m.buf) put(m.buf);
        else {
          const chunk = 1 << 20;
          for (let at = 0; at < size; at += chunk) put(readSlice(m.file, m.off + at, Math.min(chunk, size - at)));
        }
        const padN = pad512(size) - size;
        if (padN) put(Buffer.alloc(padN));
      }
      put(Buffer.alloc(BLOCK * 2));
    } finally {
      fs.closeSync(fd);
    }
    return table;
  }
}

/** Read the member table of a tar file by its headers only (ustar, PAX path/size, GNU long names). */
export function indexTarFile(file) {
  const st = fs.statSync(file);
  const fd = fs.openSync(file, 'r');
  const out = [];
  try {
    const h = Buffer.alloc(BLOCK);
    let pos = 0;
    let pax = {};
    let longName = null;
    let longLink = null;
    let start = null;
    while (pos + BLOCK <= st.size) {
      fs.readSync(fd, h, 0, BLOCK, pos);
      if (h.equals(ZERO_BLOCK)) break;
      const type = String.fromCharCode(h[156] || 0x30);
      let size = parseOctalField(h, 124, 12);
      const dataOff = pos + BLOCK;
      if ('xgLK'.includes(type)) {
        if (start === null) start = pos;
        const d = readSlice(file, dataOff, size);
        if (type === 'x') for (const m of d.toString('utf8').matchAll(/\d+ ([^=\n]+)=([^\n]*)\n/g)) pax[m[1]] = m[2];
        if (type === 'L') longName = cstring(d);
        if (type === 'K') longLink = cstring(d);
        pos = dataOff + pad512(size);
        continue;
      }
      let name = cstring(h.subarray(0, 100));
      const prefix = cstring(h.subarray(345, 500));
      if (h.subarray(257, 262).toString('latin1') === 'ustar' && prefix) name = `${prefix}/${name}`;
      if (longName !== null) name = longName;
      if (pax.path !== undefined) name = pax.path;
      if (pax.size !== undefined && /^\d+$/.test(pax.size)) size = Number(pax.size);
      const linkname = pax.linkpath ?? longLink ?? cstring(h.subarray(157, 257));
      out.push({ name, type, linkname, start: start ?? pos, hdr: pos, dataOff, size });
      pax = {};
      longName = null;
      longLink = null;
      start = null;
      pos = dataOff + pad512(size);
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

function tryJson(buf) {
  if (!buf || buf.length > 1 << 20) return undefined;
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** An OCI layout over a member store (`prefix` '' : the layout is the store's root). */
class Layout {
  constructor(members) {
    this.m = members;
  }
  blobName(hex) {
    return `blobs/sha256/${hex}`;
  }
  blob(hex) {
    return this.m.get(this.blobName(hex));
  }
  json(hex) {
    return tryJson(this.blob(hex));
  }
  /**
   * Walk from index.json to the manifest for `arch` as the opener does (the only entry or the
   * `latest` one; a lone platform-less nested index; the platform's entry). Every blob passed is
   * in `used`; `layers` are the manifest's layer descriptors and `config` its config digest.
   */
  walk(arch) {
    const used = new Set();
    const docs = [];
    const out = { used, docs, manifest: null, config: null, layers: [], diffIds: [] };
    const top = tryJson(this.m.get('index.json'));
    if (!top || !Array.isArray(top.manifests)) return out;
    const named = (d) => d?.annotations?.['org.opencontainers.image.ref.name'] ?? null;
    let desc = top.manifests.length === 1 ? top.manifests[0] : top.manifests.find((d) => named(d) === 'latest');
    let doc = null;
    if (!desc) {
      if (top.manifests.some((d) => named(d) !== null)) return out;
      doc = top; // index.json is the platform index
    }
    for (let depth = 0; depth < 10; depth++) {
      let mediaType;
      if (doc === null) {
        const hex = typeof desc?.digest === 'string' ? desc.digest.replace(/^sha256:/, '') : null;
        if (!hex) return out;
        used.add(hex);
        doc = this.json(hex);
        docs.push(hex);
        if (!doc) return out;
        mediaType = desc.mediaType;
      } else mediaType = INDEX_TYPES.has(doc.mediaType) ? doc.mediaType : 'application/vnd.oci.image.index.v1+json';
      if (INDEX_TYPES.has(mediaType) || (!mediaType && Array.isArray(doc.manifests))) {
        const entries = Array.isArray(doc.manifests) ? doc.manifests : [];
        const only = entries.length === 1 ? entries[0] : null;
        if (only && INDEX_TYPES.has(only.mediaType) && !only.platform) desc = only;
        else {
          const usable = entries.filter((d) => d?.platform?.os !== 'unknown');
          desc = usable.find((d) => d?.platform?.architecture === arch && (d.platform.os ?? 'linux') === 'linux') ?? (usable.length === 1 && !usable[0].platform ? usable[0] : null);
          if (!desc) return out;
        }
        doc = null;
        continue;
      }
      out.manifest = docs[docs.length - 1] ?? null;
      const cfgHex = typeof doc.config?.digest === 'string' ? doc.config.digest.replace(/^sha256:/, '') : null;
      if (cfgHex) {
        used.add(cfgHex);
        out.config = cfgHex;
        const cfg = this.json(cfgHex);
        out.diffIds = Array.isArray(cfg?.rootfs?.diff_ids) ? cfg.rootfs.diff_ids : [];
      }
      for (const l of Array.isArray(doc.layers) ? doc.layers : []) {
        const hex = typeof l?.digest === 'string' ? l.digest.replace(/^sha256:/, '') : null;
        if (!hex) continue;
        used.add(hex);
        out.layers.push({ hex, mediaType: l.mediaType, size: l.size });
      }
      return out;
    }
    return out;
  }
  /** Every JSON document of the layout, deepest first (configs, manifests, indexes; index.json last). */
  jsonDocs() {
    const docs = [];
    for (const name of this.m.names()) {
      if (!name.startsWith('blobs/sha256/')) continue;
      const size = this.m.size(name);
      if (size === null || size > 1 << 20) continue;
      const j = tryJson(this.m.get(name));
      if (!j || typeof j !== 'object') continue;
      const rank = Array.isArray(j.manifests) ? 2 : Array.isArray(j.layers) || j.config?.digest ? 1 : 0;
      docs.push({ name, hex: name.slice('blobs/sha256/'.length), rank });
    }
    docs.sort((a, b) => a.rank - b.rank);
    return docs;
  }
  /** Store a blob; returns its hex. */
  put(buf) {
    const hex = sha256hex(buf);
    this.m.set(this.blobName(hex), buf);
    return hex;
  }
  /**
   * Re-fix every document that names a replaced blob (digest and size) or a replaced diff_id,
   * deepest first, until nothing changes; the docker25 manifest.json follows blob paths too.
   * `repl`: Map 'sha256:old' -> { digest, size }; `diffRepl`: Map old diff_id -> new.
   */
  propagate(repl, diffRepl = new Map()) {
    for (let pass = 0; pass < 6; pass++) {
      let changed = false;
      for (const d of this.jsonDocs()) {
        const j = tryJson(this.m.get(d.name));
        if (!substitute(j, repl, diffRepl)) continue;
        const buf = Buffer.from(JSON.stringify(j));
        const hex = this.put(buf);
        if (hex === d.hex) continue;
        repl.set(`sha256:${d.hex}`, { digest: `sha256:${hex}`, size: buf.length });
        changed = true;
      }
      const top = tryJson(this.m.get('index.json'));
      if (top && substitute(top, repl, diffRepl)) this.m.set('index.json', Buffer.from(JSON.stringify(top)));
      if (!changed) break;
    }
    const dm = tryJson(this.m.get('manifest.json'));
    if (Array.isArray(dm)) {
      let ch = false;
      for (const e of dm) {
        const fix = (s) => {
          const mm = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(s ?? '');
          const r = mm ? repl.get(`sha256:${mm[1]}`) : null;
          if (!r) return s;
          ch = true;
          return `blobs/sha256/${r.digest.slice(7)}`;
        };
        if (e && typeof e === 'object') {
          if (typeof e.Config === 'string') e.Config = fix(e.Config);
          if (Array.isArray(e.Layers)) e.Layers = e.Layers.map((l) => (typeof l === 'string' ? fix(l) : l));
        }
      }
      if (ch) this.m.set('manifest.json', Buffer.from(JSON.stringify(dm)));
    }
  }
  /** Replace blob `hex` with `buf` and re-fix the chain above it. */
  replaceBlob(hex, buf, diffRepl = new Map()) {
    const nh = this.put(buf);
    const repl = new Map();
    if (nh !== hex) repl.set(`sha256:${hex}`, { digest: `sha256:${nh}`, size: buf.length });
    this.propagate(repl, diffRepl);
    return nh;
  }
  /** Replace a JSON document's text (a blob, or 'index.json') and re-fix the chain above it. */
  replaceDoc(which, text) {
    const buf = Buffer.isBuffer(text) ? text : Buffer.from(text);
    if (which === 'index.json' || which === 'oci-layout' || which === 'manifest.json') {
      this.m.set(which, buf);
      return;
    }
    this.replaceBlob(which, buf);
  }
}

/** Apply digest/size and diff_id replacements in a parsed document; true when anything changed. */
function substitute(v, repl, diffRepl) {
  let changed = false;
  const visit = (x, depth) => {
    if (depth > 80 || x === null || typeof x !== 'object') return;
    if (Array.isArray(x)) {
      for (let i = 0; i < x.length; i++) {
        if (typeof x[i] === 'string' && diffRepl.has(x[i])) {
          x[i] = diffRepl.get(x[i]);
          changed = true;
        } else visit(x[i], depth + 1);
      }
      return;
    }
    if (typeof x.digest === 'string' && repl.has(x.digest)) {
      const r = repl.get(x.digest);
      x.digest = r.digest;
      if (typeof x.size === 'number') x.size = r.size;
      changed = true;
    }
    for (const k of Object.keys(x)) if (k !== 'digest') visit(x[k], depth + 1);
  };
  visit(v, 0);
  return changed;
}

/** A classic `docker save` archive over a member store. */
class DockerClassic {
  constructor(members) {
    this.m = members;
    this.manifest = tryJson(members.get('manifest.json')) ?? [];
  }
  get entry() {
    return this.manifest[0] ?? {};
  }
  get configName() {
    return this.entry.Config;
  }
  config() {
    return tryJson(this.m.get(this.configName));
  }
  layerNames() {
    return Array.isArray(this.entry.Layers) ? this.entry.Layers : [];
  }
  used() {
    return new Set([this.configName, ...this.layerNames()].filter(Boolean));
  }
  saveManifest() {
    this.m.set('manifest.json', Buffer.from(JSON.stringify(this.manifest)));
  }
  /** Write a new config (named by its digest when the old one was) and point manifest.json at it. */
  setConfigText(buf) {
    const old = this.configName;
    const hexNamed = /^[a-f0-9]{64}\.json$/.test(old ?? '');
    const name = hexNamed ? `${sha256hex(buf)}.json` : old;
    if (old && old !== name) this.m.delete(old);
    this.m.set(name, buf);
    this.entry.Config = name;
    this.saveManifest();
  }
  /** Replace layer i's tar; re-fix its diff_id in the config (unless told not to). */
  replaceLayer(i, stored, uncompressed = stored) {
    const name = this.layerNames()[i];
    const oldTar = this.m.get(name);
    this.m.set(name, stored);
    const cfg = this.config();
    const ids = cfg?.rootfs?.diff_ids;
    if (!Array.isArray(ids) || uncompressed === null) return;
    const oldId = digestOf(oldTar);
    const newId = digestOf(uncompressed);
    cfg.rootfs.diff_ids = ids.map((d) => (d === oldId ? newId : d));
    this.setConfigText(Buffer.from(JSON.stringify(cfg)));
  }
  /** Append a layer (member `<id>/layer.tar`, diff_id). */
  addLayer(tar) {
    const id = sha256hex(Buffer.concat([tar, Buffer.from('id')]));
    const name = `${id}/layer.tar`;
    this.m.set(name, tar);
    this.entry.Layers = [...this.layerNames(), name];
    const cfg = this.config();
    if (cfg?.rootfs && Array.isArray(cfg.rootfs.diff_ids)) cfg.rootfs.diff_ids.push(digestOf(tar));
    this.setConfigText(Buffer.from(JSON.stringify(cfg)));
  }
}

// ------------------------------------------------------------------------------------------------
// JSON mutation

const SPECIAL_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'then', 'length'];
const WEIRD_STRINGS = [
  '', ' ', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '\u0000', '\u0000x', '../../../../etc/passwd', '/', '.', '..',
  '\ud800', '\udfff\ud800', '\u2028\u2029', '\u0085', '\r\n', 'a\nb', 'sha256:', `sha256:${'0'.repeat(64)}`, `sha256:${'A'.repeat(64)}`, `sha512:${'f'.repeat(128)}`,
  `md5:${'0'.repeat(32)}`, 'null', 'true', '1e400', '-1', '0x10', '99999999999999999999.99999999999999999999', '١٢.٣', 'v', 'v12.4', '1..2', '.1', '1.',
  '1.2.3.4.5.6.7.8.9.10.11.12', 'linux/amd64', 'amd64\n', '\t', 'x'.repeat(5000), '%s%s%s%n', '${HOME}', '$(id)', '`id`', '"quoted"', '\\', 'é', '😀',
  'cuda>=12.4', 'driver>=470 brand=tesla', 'openmpi@4.1', 'skylake_avx512', 'x86_64_v4', 'aarch64', 'application/vnd.oci.image.index.v1+json',
];
const WEIRD_NUMBERS = ['-1', '0', '-0', '0.5', '1e308', '1e400', '-1e400', '9007199254740993', '18446744073709551616', '123456789012345678901234567890', '1E2', '2.0', '4294967296', '-9007199254740993'];
const INTERESTING_KEYS = new Set([
  'manifests', 'layers', 'config', 'digest', 'size', 'mediaType', 'rootfs', 'diff_ids', 'Env', 'Labels', 'architecture', 'os', 'variant', 'platform',
  'annotations', 'schemaVersion', 'Config', 'Layers', 'RepoTags', 'imageLayoutVersion', 'org.opencontainers.image.ref.name', 'type', 'history',
  'kind', 'microarch', 'release', 'driver', 'cudaMax', 'brand', 'computeCapability', 'version', 'implementation', 'abi', 'emulators', 'glibc', 'kernel',
  'platforms', 'requires', 'env', 'labels', 'libc', 'mpi', 'cuda', 'gpu', 'cpu', 'family', 'features', 'machine', 'runtime', 'musl', 'os.features', 'Cmd', 'Entrypoint',
]);

/** Every path in a JSON value (at most `max`), with the value there. */
function jsonPaths(v, max = 4000) {
  const out = [];
  const visit = (x, p) => {
    if (out.length >= max) return;
    out.push([p, x]);
    if (x && typeof x === 'object') {
      if (Array.isArray(x)) x.slice(0, 50).forEach((y, i) => visit(y, [...p, i]));
      else for (const k of Object.keys(x)) visit(x[k], [...p, k]);
    }
  };
  visit(v, []);
  return out;
}

function getAt(v, p) {
  let x = v;
  for (const k of p) x = x?.[k];
  return x;
}

function setAt(v, p, val) {
  if (p.length === 0) return val;
  const parent = getAt(v, p.slice(0, -1));
  parent[p[p.length - 1]] = val;
  return v;
}

function pickPath(rng, v, filter = () => true) {
  const all = jsonPaths(v).filter(([p, x]) => filter(p, x));
  if (!all.length) return null;
  return rng.weighted(all.map(([p, x]) => [INTERESTING_KEYS.has(String(p[p.length - 1])) ? 6 : 1, [p, x]]));
}

/** A JSON text fragment of some value, often the wrong type, huge or deep. */
function randomValueText(rng) {
  return rng.weighted([
    [3, () => 'null'],
    [2, () => rng.pick(['true', 'false'])],
    [4, () => rng.pick(WEIRD_NUMBERS)],
    [5, () => JSON.stringify(rng.pick(WEIRD_STRINGS))],
    [2, () => '[]'],
    [2, () => '{}'],
    [1, () => `[${Array.from({ length: rng.range(1, 5) }, () => JSON.stringify(rng.pick(WEIRD_STRINGS))).join(',')}]`],
    [1, () => deepText(rng.pick([30, 63, 64, 65, 200, 5000]), rng.chance(0.5))],
    [1, () => `[${'0,'.repeat(rng.pick([1000, 100000]))}0]`],
    [1, () => `{${rng.shuffle(SPECIAL_KEYS).slice(0, 3).map((k) => `${JSON.stringify(k)}:${rng.pick(['1', '{}', '[]', 'null', '"x"'])}`).join(',')}}`],
    [1, () => JSON.stringify('x'.repeat(rng.pick([65536, 1 << 20])))],
  ])();
}

function deepText(depth, objects) {
  return objects ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}` : `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

/** Replace placeholders (strings `@@Mn@@`) in stringified JSON with raw text. */
function withRaw(v, raws) {
  let t = JSON.stringify(v);
  raws.forEach((r, i) => {
    t = t.split(JSON.stringify(`@@M${i}@@`)).join(r);
  });
  return t;
}

const NVIDIA_PROPS = ['cuda', 'driver', 'arch', 'brand', 'CUDA', 'Driver', 'foo', ''];
const NVIDIA_OPS = ['>=', '<=', '=', '!=', '<', '>', '>>', '!', '==', '=<', '=>', ''];
const NVIDIA_VALS = ['12.4', '11', '470', '535.54.03', '8.0', 'tesla', 'geforce', '', '.', '..1', '1..2', '99999999999999999999999', '18446744073709551615', '18446744073709551616.1', 'x', '1.2.3.4.5.6', '0'];

/** A random NVIDIA_REQUIRE_* value (the grammar's pieces, sometimes broken). */
export function nvidiaRequireValue(rng) {
  const alts = Array.from({ length: rng.range(1, 4) }, () =>
    Array.from({ length: rng.range(1, 4) }, () => `${rng.pick(NVIDIA_PROPS)}${rng.pick(NVIDIA_OPS)}${rng.pick(NVIDIA_VALS)}`).join(rng.pick([',', ',', ',,', '\t,']))
  );
  return alts.join(rng.pick([' ', ' ', '  ', '\t', ' , ']));
}

function semanticConfig(rng, cfg) {
  cfg.config ??= {};
  const c = cfg.config;
  rng.weighted([
    [4, () => {
      const env = Array.isArray(c.Env) ? c.Env : [];
      for (let i = rng.range(1, 4); i > 0; i--) {
        env.push(rng.weighted([
          [5, () => `NVIDIA_REQUIRE_${rng.pick(['CUDA', 'DRIVER', 'X', 'JETPACK', ''])}=${nvidiaRequireValue(rng)}`],
          [2, () => `CUDA_VERSION=${rng.pick(['12.4.127', '11.2.2.1', 'latest', 'v11.6', '12', ' 12.4', '4294967296.0', '12.4-rc1', ''])}`],
          [1, () => `NVIDIA_DISABLE_REQUIRE=${rng.pick(['1', 'true', 'yes', ' true', ''])}`],
          [1, () => rng.pick(['NOEQUALS', '=value', '__proto__=x', 'constructor=1', `BIG=${'x'.repeat(1 << 16)}`, 'PATH=', 'A=1\nB=2'])],
        ])());
      }
      if (rng.chance(0.1)) for (let i = 0; i < 40; i++) env.push(`NVIDIA_REQUIRE_V${i}=cuda>=1`);
      c.Env = env;
    }],
    [3, () => {
      const labels = c.Labels && typeof c.Labels === 'object' ? c.Labels : {};
      const key = rng.pick(['io.archspec.target', 'org.supercontainers.arch', 'org.supercontainers.mpi', 'org.opencontainers.image.title', '__proto__', 'constructor']);
      labels[key] = rng.pick(['skylake_avx512', 'x86_64_v3', 'zen4', 'neoverse_v1', 'a64fx', 'power9le', '__proto__', 'constructor', 'toString', '', 'openmpi', 'mpich', 'intel', 'mvapich2', 'cray-mpich', 'openmpi@4.1.0', 'x86_64', 'aarch64', 'nonexistent', 'x'.repeat(10000)]);
      c.Labels = labels;
    }],
    [2, () => {
      const k = rng.pick(['architecture', 'os', 'variant']);
      cfg[k] = rng.pick(['amd64', 'arm64', 'arm', '386', 'ppc64le', 's390x', 'riscv64', 'mips64le', 'loong64', 'wasm', '__proto__', 'constructor', '', 'AMD64', 'x86_64', 'aarch64', 'v8', 'v7', 'v2', 'v3', 'v4', 'v9', 'windows', 'linux']);
    }],
    [1, () => {
      c.Env = Array.from({ length: rng.pick([1000, 20000]) }, (_, i) => `V${i}=${i}`);
    }],
  ])();
}

/**
 * Mutate a JSON document's text. `kind` steers what is interesting (config semantics, facts
 * values). Returns { text: Buffer, op }.
 */
export function mutateJson(rng, buf, kind, ctx = {}) {
  const text = buf.toString('utf8');
  let v;
  try {
    v = JSON.parse(text);
  } catch {
    v = undefined;
  }
  const raws = [];
  const mark = (raw) => {
    raws.push(raw);
    return `@@M${raws.length - 1}@@`;
  };
  const ops = [
    [v !== undefined ? 6 : 0, 'replace'],
    [v !== undefined ? 3 : 0, 'delete'],
    [v !== undefined ? 6 : 0, 'preserve-type'],
    [v !== undefined ? 2 : 0, 'special-key'],
    [v !== undefined ? 2 : 0, 'dup-array'],
    [v !== undefined ? 1 : 0, 'empty'],
    [v !== undefined && /index|manifest/.test(kind) ? 3 : 0, 'digest'],
    [v !== undefined && kind === 'config' ? 6 : 0, 'config-semantics'],
    [v !== undefined && kind.startsWith('facts') ? 4 : 0, 'facts-semantics'],
    [2, 'text'],
  ];
  const op = rng.weighted(ops.map(([w, o]) => [w, o]));
  let out;
  switch (op) {
    case 'replace': {
      const [p] = pickPath(rng, v, (pp) => pp.length > 0) ?? [[]];
      out = p.length ? withRaw(setAt(v, p, mark(randomValueText(rng))), raws) : randomValueText(rng);
      break;
    }
    case 'delete': {
      const hit = pickPath(rng, v, (pp) => pp.length > 0);
      if (hit) {
        const [p] = hit;
        const parent = getAt(v, p.slice(0, -1));
        if (Array.isArray(parent)) parent.splice(p[p.length - 1], 1);
        else delete parent[p[p.length - 1]];
      }
      out = JSON.stringify(v);
      break;
    }
    case 'preserve-type': {
      const hit = pickPath(rng, v, (pp, x) => pp.length > 0 && (x === null || typeof x !== 'object'));
      if (hit) {
        const [p, x] = hit;
        const raw = typeof x === 'string' ? JSON.stringify(rng.pick(WEIRD_STRINGS)) : typeof x === 'number' ? rng.pick(WEIRD_NUMBERS) : typeof x === 'boolean' ? String(!x) : randomValueText(rng);
        setAt(v, p, mark(raw));
      }
      out = withRaw(v, raws);
      break;
    }
    case 'special-key': {
      const hit = pickPath(rng, v, (_p, x) => x && typeof x === 'object' && !Array.isArray(x));
      if (hit) {
        const [p] = hit;
        const obj = getAt(v, p) ?? v;
        const key = rng.pick(SPECIAL_KEYS);
        // JSON.stringify drops an own __proto__ only if set through the setter: define it.
        Object.defineProperty(obj, `@@K@@`, { value: mark(rng.pick(['{"polluted":true}', '1', 'null', '[]', '"x"', '{"architecture":"arm64"}'])), enumerable: true, configurable: true, writable: true });
        out = withRaw(v, raws).replace('"@@K@@"', JSON.stringify(key));
      } else out = JSON.stringify(v);
      break;
    }
    case 'dup-array': {
      const hit = pickPath(rng, v, (_p, x) => Array.isArray(x) && x.length > 0);
      if (hit) {
        const [p, arr] = hit;
        const n = rng.pick([2, 3, 10, 100, 513, 2000]);
        const dup = [];
        for (let i = 0; i < n; i++) dup.push(...arr);
        setAt(v, p, dup);
      }
      out = JSON.stringify(v);
      break;
    }
    case 'empty': {
      const hit = pickPath(rng, v, (_p, x) => x && typeof x === 'object');
      if (hit) setAt(v, hit[0], Array.isArray(hit[1]) ? [] : {});
      out = JSON.stringify(hit && hit[0].length === 0 ? (Array.isArray(v) ? [] : {}) : v);
      break;
    }
    case 'digest': {
      const hit = pickPath(rng, v, (pp, x) => pp[pp.length - 1] === 'digest' || pp[pp.length - 1] === 'size' || pp[pp.length - 1] === 'mediaType');
      if (hit) {
        const [p] = hit;
        const key = p[p.length - 1];
        const others = ctx.blobs ?? [];
        let val;
        if (key === 'digest') {
          val = rng.weighted([
            [3, () => (others.length ? `sha256:${rng.pick(others)}` : `sha256:${'0'.repeat(64)}`)],
            [1, () => `sha256:${'0'.repeat(63)}`],
            [1, () => `sha256:${sha256hex('x').toUpperCase()}`],
            [1, () => `sha512:${'0'.repeat(128)}`],
            [1, () => 'sha256:../../../../etc/passwd'],
            [1, () => `sha256:${'a'.repeat(64)}\n`],
            [1, () => `md5:${'0'.repeat(32)}`],
          ])();
          // Pointing at another blob: give it that blob's size so the size check passes.
          const parent = getAt(v, p.slice(0, -1));
          const m = /^sha256:([a-f0-9]{64})$/.exec(val);
          if (m && ctx.sizeOf && typeof parent.size === 'number') parent.size = ctx.sizeOf(m[1]) ?? parent.size;
          setAt(v, p, val);
          out = JSON.stringify(v);
        } else if (key === 'size') {
          setAt(v, p, mark(rng.pick(['-1', '0', '1', '0.5', '"12"', 'null', '1e400', '9007199254740993', String((getAt(v, p) ?? 0) + 1), String((getAt(v, p) ?? 0) - 1), '8388609', '17179869184'])));
          out = withRaw(v, raws);
        } else {
          setAt(v, p, rng.pick([
            'application/vnd.oci.image.index.v1+json', 'application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json',
            'application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.docker.distribution.manifest.v1+prettyjws', 'application/vnd.oci.image.layer.v1.tar+zstd',
            'application/vnd.oci.image.layer.v1.tar', 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', 'application/vnd.oci.image.config.v1+json',
            'application/octet-stream', '', 'text/html', '__proto__',
          ]));
          out = JSON.stringify(v);
        }
      } else out = JSON.stringify(v);
      break;
    }
    case 'config-semantics':
      semanticConfig(rng, v);
      out = JSON.stringify(v);
      break;
    case 'facts-semantics': {
      const hit = pickPath(rng, v, (pp, x) => typeof x === 'string' || typeof x === 'number');
      if (hit) {
        const [p, x] = hit;
        const vals = typeof x === 'number'
          ? [-1, 0, 1e308, 2 ** 53 + 2, 0.5, 1e-300]
          : ['99999999999999999999.1', '18446744073709551616', '0.0.0', '535.54.03', '12.4', '9999.9999', '__proto__', 'constructor', '', 'x86_64_v4', 'skylake_avx512', 'nonexistent_target', 'arm64', 'amd64', 's390x', 'openmpi', 'mpich', 'intel', 'tesla', '8.0', '2.41', '1.2.3.4.5.6.7', 'a'.repeat(3000)];
        setAt(v, p, rng.pick(vals));
      }
      out = JSON.stringify(v);
      break;
    }
    default: {
      // text level
      const t = v === undefined ? text : JSON.stringify(v);
      out = rng.weighted([
        [2, () => (t.startsWith('{') ? `{"${rng.pick(['layers', 'manifests', 'config', 'schemaVersion', 'kind', 'architecture', 'rootfs'])}":${randomValueText(rng)},${t.slice(1)}` : t)],
        [1, () => `\ufeff${t}`],
        [1, () => `${t}${rng.pick(['garbage', '}', ']', '\0', ' {}', '\n\n\n'])}`],
        [1, () => t.slice(0, rng.int(t.length + 1))],
        [1, () => { const n = rng.pick([63, 65, 1000, 100000]); return `${'{"a":'.repeat(n)}${t}${'}'.repeat(n)}`; }],
        [1, () => `${'['.repeat(rng.pick([60, 65, 100000]))}${t}${']'.repeat(rng.pick([60, 65, 100000]))}`],
        [1, () => `${t}${' '.repeat(rng.pick([8 * 1024 * 1024 + 1, 1000]))}`],
        [1, () => t.replace(/"([a-zA-Z]+)":/, (_m, k) => `"${[...k].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}":`)],
        [1, () => t.replace(/"(sha256:[a-f0-9]+)"/, '"$1\\u0000"')],
      ])();
      if (rng.chance(0.1)) {
        const b = Buffer.from(out);
        const i = rng.int(b.length + 1);
        return { text: Buffer.concat([b.subarray(0, i), Buffer.from([rng.pick([0xff, 0xfe, 0xc0, 0x80, 0x00])]), b.subarray(i)]), op: 'text-bytes' };
      }
    }
  }
  return { text: Buffer.from(out), op };
}

// ------------------------------------------------------------------------------------------------
// tar mutations (on an uncompressed tar held in memory)

const WANTED_PATHS = [
  'etc/os-release', 'usr/lib/os-release', 'var/lib/dpkg/status', 'lib/apk/db/installed', 'usr/lib/x86_64-linux-gnu/libc.so.6', 'lib/x86_64-linux-gnu/libc.so.6',
  'lib64/ld-linux-x86-64.so.2', 'usr/lib/x86_64-linux-gnu/libmpi.so.40', 'usr/lib/x86_64-linux-gnu/libcudart.so.12', 'usr/local/cuda/compat/libcuda.so.1', 'usr/lib',
  'lib', 'usr/lib/x86_64-linux-gnu', 'bin/busybox', 'lib/ld-musl-x86_64.so.1', 'usr/lib/aarch64-linux-gnu/libc.so.6', 'usr/lib/x86_64-linux-gnu/libmpich.so.12',
];

const BAD_NAMES = [
  '../../etc/evil', '/abs/../../escape', 'a/../../b', '..', '../', './../x', 'etc/../../x', '/', '', '.', './', 'a//b', 'x/./y', '.wh.', '.wh..', '.wh...',
  '.wh..wh..opq', 'etc/.wh.os-release', '.wh.etc', 'usr/.wh..wh..opq', `${'d/'.repeat(60)}f`, 'x'.repeat(100), 'é/ü', '\u00ff\u00fe', 'etc/os-release/', 'etc',
];

/** Corrupt one field of one header (checksum re-fixed most of the time). */
function mutTarHeader(rng, tar) {
  const { entries } = parseTar(tar);
  if (!entries.length) return { tar: Buffer.concat([tar, rng.bytes(BLOCK)]), op: 'no-entries' };
  const e = rng.pick(entries);
  const out = Buffer.from(tar);
  const h = e.hdr;
  const field = rng.weighted([[5, 'size'], [2, 'mode'], [1, 'uid'], [1, 'mtime'], [3, 'type'], [4, 'name'], [2, 'linkname'], [1, 'magic'], [2, 'prefix'], [1, 'dev'], [1, 'checksum-only']]);
  const put = (off, len, v) => putField(out, h + off, len, v);
  let op = field;
  switch (field) {
    case 'size': {
      const v = rng.pick(['-1', '-0000000001', 'abc', '0.5', '77777777777', '99999999999', '', ' ', '00000000000 ', '1e3', 'base256-huge', 'base256-neg', 'plus1', 'minus1', 'plus512', 'zero']);
      op = `size=${v}`;
      if (v === 'base256-huge') put(124, 12, Buffer.from([0x80, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
      else if (v === 'base256-neg') put(124, 12, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]));
      else if (v === 'plus1') put(124, 12, oct(e.size + 1, 12));
      else if (v === 'minus1') put(124, 12, oct(Math.max(0, e.size - 1), 12));
      else if (v === 'plus512') put(124, 12, oct(e.size + 512, 12));
      else if (v === 'zero') put(124, 12, oct(0, 12));
      else put(124, 12, v);
      break;
    }
    case 'mode':
      put(100, 8, rng.pick(['9999999', '-1', '7777777', 'abcdefg', '', '0004755', '0006755', '0001777']));
      break;
    case 'uid':
      put(rng.pick([108, 116]), 8, rng.pick(['-1', '7777777', Buffer.from([0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 'zzz']));
      break;
    case 'mtime':
      put(136, 12, rng.pick(['-1', 'abc', Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])]));
      break;
    case 'type': {
      const t = rng.pick(['\0', '1', '2', '3', '4', '5', '6', '7', 'g', 'x', 'L', 'K', 'S', 'V', 'M', 'D', 'Z', 'A', ' ']);
      op = `type=${JSON.stringify(t)}`;
      put(156, 1, t);
      break;
    }
    case 'name': {
      const n = rng.pick([...BAD_NAMES, ...WANTED_PATHS, 'NUL']);
      op = `name=${JSON.stringify(n)}`;
      if (n === 'NUL') put(0, 100, Buffer.concat([Buffer.from(e.name.slice(0, 20)), Buffer.from([0]), Buffer.from('tail')]));
      else put(0, 100, Buffer.from(n, 'utf8'));
      if (n.length > 0) put(345, 155, '');
      break;
    }
    case 'linkname':
      put(156, 1, rng.pick(['1', '2']));
      put(157, 100, rng.pick(['../../../../etc/passwd', '/', '', e.name, '..', 'etc/os-release', '/etc/shadow', 'x'.repeat(100), 'nonexistent']));
      break;
    case 'magic':
      put(257, 8, rng.pick(['ustar  \0', 'xxxxxx00', '\0\0\0\0\0\0\0\0', 'ustar\x0000']));
      break;
    case 'prefix':
      put(345, 155, rng.pick(['../..', '/', 'a/../..', 'x'.repeat(155), '\u00ff']));
      break;
    case 'dev':
      put(156, 1, rng.pick(['3', '4']));
      put(329, 8, rng.pick(['7777777', '-1', 'abc']));
      put(337, 8, rng.pick(['7777777', '-1', 'abc']));
      break;
    default:
      break;
  }
  if (field === 'checksum-only' || rng.chance(0.15)) {
    put(148, 8, rng.pick(['0000000\0', 'abcdefg\0', '        ', '\0\0\0\0\0\0\0\0']));
    op += '+bad-checksum';
  } else fixChecksum(out, h);
  return { tar: out, op };
}

const PAX_RECORDS = [
  ['size', '-1'], ['size', 'abc'], ['size', '0.5'], ['size', '99999999999999999999'], ['size', '1e3'], ['size', ''], ['size', ' 12'], ['size', '0'],
  ['size', String(2 ** 53)], ['size', '+5'], ['size', '0x10'], ['size', 'SIZE+1'], ['size', 'SIZE-1'], ['size', 'SIZE+512'],
  ['path', '../../etc/evil'], ['path', '/abs/../../x'], ['path', 'a\u0000b'], ['path', ''], ['path', 'x'.repeat(5000)], ['path', `${'a/'.repeat(2100)}f`],
  ['path', 'etc/.wh..wh..opq'], ['path', '.wh.etc'], ['path', 'etc/os-release'], ['path', 'usr/lib/x86_64-linux-gnu/libc.so.6'], ['path', '..'],
  ['linkpath', '../../../etc/shadow'], ['linkpath', 'x'.repeat(100000)], ['linkpath', ''], ['linkpath', '/'],
  ['uid', '-1'], ['uid', '99999999999999999999'], ['gid', 'abc'], ['mtime', 'nan'], ['mtime', '1e400'], ['mtime', '-99999999999.5'],
  ['SCHILY.xattr.security.capability', Buffer.from([1, 0, 0, 2, 0xff, 0xff, 0xff, 0xff])], ['SCHILY.xattr.system.posix_acl_access', Buffer.from([2, 0, 0, 0, 1, 0, 7, 0])],
  ['SCHILY.xattr.', 'x'], ['SCHILY.xattr.__proto__', 'x'], ['__proto__', 'x'], ['constructor', 'y'], ['toString', 'z'], ['hdrcharset', 'BINARY'],
  ['GNU.sparse.size', '999999999999'], ['GNU.sparse.map', '0,1,2'], ['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.name', 'x'],
  ['GNU.sparse.realsize', '-5'], ['comment', 'x'.repeat(1 << 20)], ['', 'empty-key'], ['=', '='],
];
const RAW_PAX = [
  '5 path=x\n', '999 path=x\n', 'abc path=x\n', '-1 path=x\n', '0 path=x\n', '12path=xyz\n', '  12 path=x\n', '10 pathxx\n', '11 path=xy', '13 pa\u0000th=xyz\n',
  `${'9'.repeat(30)} path=x\n`, '3 \n', '2 \n', '1\n', '', '\n', '18 size=123456789\n\0\0\0', '12 size=-1\n', '11 size=.5\n', '6 a=b\n6 a=c\n',
];

function paxValue(v, e) {
  if (typeof v === 'string' && v.startsWith('SIZE')) {
    const n = e.size + (v === 'SIZE+1' ? 1 : v === 'SIZE-1' ? -1 : 512);
    return String(Math.max(0, n));
  }
  return v;
}

/** Insert a PAX (or GNU long-name) header with bad records before one entry. */
function mutTarPax(rng, tar) {
  const { entries } = parseTar(tar);
  const e = entries.length ? rng.pick(entries) : null;
  const at = e ? e.start : parseTar(tar).end;
  const kind = rng.weighted([[6, 'x'], [1, 'g'], [2, 'L'], [1, 'K'], [1, 'x-huge']]);
  let data;
  let op;
  if (kind === 'L' || kind === 'K') {
    const v = rng.pick(['../../etc/evil', 'x'.repeat(5000), `${'a/'.repeat(2100)}b`, 'etc/os-release', '', 'a\u0000b', 'x'.repeat(2 << 20)]);
    data = Buffer.from(v);
    op = `gnu-${kind}(${v.length > 40 ? `${v.length} bytes` : JSON.stringify(v)})`;
  } else if (kind === 'x-huge') {
    data = paxRecords([['comment', 'x'.repeat(rng.pick([1 << 20, 8 << 20]))]]);
    op = `pax-huge(${data.length})`;
  } else {
    const recs = [];
    const names = [];
    for (let i = rng.range(1, 3); i > 0; i--) {
      if (rng.chance(0.3)) {
        const r = rng.pick(RAW_PAX);
        recs.push(r);
        names.push(`raw:${JSON.stringify(r).slice(0, 30)}`);
      } else {
        const [k, v] = rng.pick(PAX_RECORDS);
        recs.push([k, e ? paxValue(v, e) : v]);
        names.push(`${k}=${Buffer.isBuffer(v) ? 'bin' : String(v).length > 20 ? `${String(v).length}ch` : JSON.stringify(v)}`);
      }
    }
    data = paxRecords(recs);
    op = `pax-${kind}(${names.join(',')})`;
  }
  const hdrSize = rng.chance(0.1) ? data.length + rng.pick([1, -1, 100, 512]) : data.length;
  const h = tarHeader({ name: 'PaxHeaders/x', type: kind === 'x-huge' ? 'x' : kind, size: Math.max(0, hdrSize) });
  if (hdrSize !== data.length) op += `+hdr-size-${hdrSize - data.length}`;
  return { tar: insertAt(tar, at, Buffer.concat([h, padData(data)])), op };
}

/** Symlink cycles, long chains, hard-link loops at paths the extractors read. */
function linkEntries(rng) {
  const at = rng.pick(WANTED_PATHS);
  const variant = rng.weighted([[3, 'cycle'], [3, 'chain'], [1, 'self'], [1, 'dotdot'], [2, 'hard'], [1, 'dir-loop'], [1, 'absolute-loop']]);
  const out = [];
  switch (variant) {
    case 'cycle': {
      const n = rng.pick([2, 3, 40, 41, 200]);
      for (let i = 0; i < n; i++) out.push({ name: i === 0 ? at : `loop/l${i}`, type: '2', linkname: i === n - 1 ? `/${at}` : `/loop/l${i + 1}` });
      break;
    }
    case 'chain': {
      const n = rng.pick([39, 40, 41, 100, 2000]);
      for (let i = 0; i < n; i++) out.push({ name: i === 0 ? at : `chain/c${i}`, type: '2', linkname: i === n - 1 ? rng.pick(['/bin/busybox', '/usr/lib/os-release', '/nonexistent']) : `c${i + 1}`.replace(/^/, i === 0 ? '/chain/' : '') });
      break;
    }
    case 'self':
      out.push({ name: at, type: '2', linkname: rng.pick([path.posix.basename(at), `/${at}`, `./${path.posix.basename(at)}`, `../${path.posix.basename(path.posix.dirname(at) || '.')}/${path.posix.basename(at)}`]) });
      break;
    case 'dotdot':
      out.push({ name: at, type: '2', linkname: `${'../'.repeat(rng.pick([1, 10, 1000]))}${rng.pick(['etc/passwd', '', at])}` });
      break;
    case 'hard': {
      const v = rng.pick(['self', 'missing', 'dotdot', 'chain', 'dir']);
      if (v === 'self') out.push({ name: at, type: '1', linkname: at });
      else if (v === 'missing') out.push({ name: at, type: '1', linkname: 'does/not/exist' });
      else if (v === 'dotdot') out.push({ name: at, type: '1', linkname: '../../etc/passwd' });
      else if (v === 'dir') out.push({ name: at, type: '1', linkname: 'usr' });
      else for (let i = 0; i < 50; i++) out.push({ name: i === 0 ? at : `hl/h${i}`, type: '1', linkname: i === 49 ? at : `hl/h${i + 1}` });
      break;
    }
    case 'dir-loop':
      out.push({ name: 'usr/lib/x86_64-linux-gnu/loop', type: '2', linkname: '.' }, { name: 'usr/lib/up', type: '2', linkname: '..' }, { name: at, type: '2', linkname: `/usr/lib/x86_64-linux-gnu/loop/loop/loop/${path.posix.basename(at)}` });
      break;
    default:
      out.push({ name: at, type: '2', linkname: `/${at}/../${path.posix.basename(at)}` });
  }
  return { entries: out.map((e) => tarEntry(e)), op: `${variant}@${at}` };
}

function specialEntries(rng) {
  const at = rng.pick(WANTED_PATHS);
  const t = rng.pick(['3', '4', '6', '7', 'S', 'V', 'Z', '\0']);
  const e = { name: at, type: t, devmajor: rng.pick([1, 7, 4095, 2097151]), devminor: rng.pick([3, 5, 0, 1048575]), mode: rng.pick([0o666, 0o4755, 0o6777]) };
  if (t === '7' || t === 'S' || t === '\0') e.data = rng.bytes(rng.int(2000));
  return { entries: [tarEntry(e)], op: `type-${JSON.stringify(t)}@${at}` };
}

/** Mutate the content of one file an extractor reads (ELF headers, text). */
function mutFileContent(rng, data, name) {
  const b = Buffer.from(data);
  const isElf = b.length >= 64 && b.readUInt32BE(0) === 0x7f454c46;
  if (isElf) {
    const is64 = b[4] === 2;
    const le = b[5] !== 2;
    const w = (off, bytes, v) => {
      if (off + bytes > b.length) return;
      if (bytes === 2) le ? b.writeUInt16LE(v & 0xffff, off) : b.writeUInt16BE(v & 0xffff, off);
      else if (bytes === 4) le ? b.writeUInt32LE(v >>> 0, off) : b.writeUInt32BE(v >>> 0, off);
      else le ? b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)), off) : b.writeBigUInt64BE(BigInt.asUintN(64, BigInt(v)), off);
    };
    const phoff = is64 ? Number(le ? b.readBigUInt64LE(32) : b.readBigUInt64BE(32)) : le ? b.readUInt32LE(28) : b.readUInt32BE(28);
    const phnum = is64 ? (le ? b.readUInt16LE(56) : b.readUInt16BE(56)) : le ? b.readUInt16LE(44) : b.readUInt16BE(44);
    const phent = is64 ? 56 : 32;
    const op = rng.weighted([[2, 'e_phoff'], [2, 'e_phnum'], [1, 'e_phentsize'], [1, 'class'], [1, 'data'], [4, 'phdr-field'], [3, 'flip-head'], [2, 'truncate'], [1, 'e_machine']]);
    switch (op) {
      case 'e_phoff':
        w(is64 ? 32 : 28, is64 ? 8 : 4, rng.pick([0, 1, 0xffffffff, 2 ** 40, b.length - 8, 2 ** 53, -1]));
        break;
      case 'e_phnum':
        w(is64 ? 56 : 44, 2, rng.pick([0, 0xffff, 0xfffe, 1, 100]));
        break;
      case 'e_phentsize':
        w(is64 ? 54 : 42, 2, rng.pick([0, 1, 0xffff, 8]));
        break;
      case 'class':
        b[4] = rng.pick([0, 1, 2, 3, 0xff]);
        break;
      case 'data':
        b[5] = rng.pick([0, 1, 2, 3]);
        break;
      case 'e_machine':
        w(18, 2, rng.pick([0, 3, 40, 62, 183, 243, 0xffff]));
        break;
      case 'phdr-field': {
        const i = rng.int(Math.max(1, phnum));
        const base = phoff + i * phent;
        if (base + phent <= b.length) {
          const f = rng.pick(is64 ? [[0, 4], [4, 4], [8, 8], [16, 8], [32, 8], [40, 8], [48, 8]] : [[0, 4], [4, 4], [8, 4], [16, 4], [20, 4], [28, 4]]);
          w(base + f[0], f[1], rng.pick([0, 1, 2, 3, 4, 0x6474e553, 0xffffffff, 2 ** 40, 2 ** 63, b.length, b.length + 1, -1]));
        }
        break;
      }
      case 'flip-head':
        for (let i = rng.range(1, 16); i > 0; i--) {
          const off = rng.chance(0.5) ? rng.int(Math.min(b.length, 64)) : rng.int(Math.min(b.length, Math.max(64, phoff + phnum * phent)));
          b[off] ^= 1 + rng.int(255);
        }
        break;
      default:
        return { data: b.subarray(0, rng.pick([4, 16, 52, 63, 64, 65, phoff, phoff + phent - 1, Math.floor(b.length / 2)]).valueOf()), op: 'elf-truncate' };
    }
    return { data: b, op: `elf-${op}` };
  }
  const text = b.toString('latin1');
  const op = rng.weighted([[3, 'flip'], [2, 'garbage-lines'], [1, 'huge-line'], [1, 'nul'], [1, 'truncate'], [2, 'fields']]);
  switch (op) {
    case 'flip':
      for (let i = rng.range(1, 20); i > 0 && b.length; i--) b[rng.int(b.length)] ^= 1 + rng.int(255);
      return { data: b, op: 'text-flip' };
    case 'garbage-lines':
      return { data: Buffer.concat([b, rng.bytes(rng.range(1, 4000))]), op: 'text-garbage' };
    case 'huge-line':
      return { data: Buffer.concat([b, Buffer.from(`\nVERSION_ID=${'9'.repeat(rng.pick([1000, 3 << 20]))}\n`)]), op: 'text-huge-line' };
    case 'nul':
      return { data: Buffer.from(text.replace(/\n/g, '\0')), op: 'text-nul' };
    case 'truncate':
      return { data: b.subarray(0, rng.int(b.length + 1)), op: 'text-truncate' };
    default: {
      const extra = rng.pick([
        'ID=__proto__\nVERSION_ID="\nID_LIKE=constructor\n', 'Package: __proto__\nStatus: install ok installed\nVersion: 99999999999999999999:1.0-1\n\n',
        'Package: libc6\nStatus: install ok installed\nVersion: \nArchitecture: __proto__\n\n', 'VERSION_ID=1e400\nVERSION_CODENAME=\u0000\n',
        `Package: libopenmpi3\nStatus: install ok installed\nVersion: ${'1.'.repeat(5000)}1\n\n`, 'P:musl\nV:\nA:x86_64\n\nP:__proto__\nV:1\n',
      ]);
      return { data: Buffer.concat([b, Buffer.from(`\n${extra}`)]), op: 'text-fields' };
    }
  }
}

// ------------------------------------------------------------------------------------------------
// compressed-byte mutations

function mutCodec(rng, blob, tar, kind) {
  const k = kind === 'none' ? rng.pick(['gzip', 'zstd']) : kind;
  const base = kind === 'none' ? compress(k, tar) : blob;
  const b = Buffer.from(base);
  if (k === 'gzip') {
    const op = rng.weighted([[3, 'flip-body'], [2, 'truncate'], [2, 'append-garbage'], [1, 'second-member'], [2, 'bad-trailer'], [1, 'fextra'], [1, 'fname-unterminated'], [1, 'method'], [1, 'header-only'], [1, 'empty'], [1, 'stored'], [1, 'to-zstd']]);
    switch (op) {
      case 'flip-body':
        for (let i = rng.range(1, 8); i > 0; i--) b[10 + rng.int(Math.max(1, b.length - 18))] ^= 1 + rng.int(255);
        return { blob: b, op: `gzip-${op}` };
      case 'truncate':
        return { blob: b.subarray(0, rng.int(b.length)), op: `gzip-${op}` };
      case 'append-garbage':
        return { blob: Buffer.concat([b, rng.bytes(rng.range(1, 5000))]), op: `gzip-${op}` };
      case 'second-member':
        return { blob: Buffer.concat([b, zlib.gzipSync(rng.chance(0.5) ? tar : rng.bytes(3000))]), op: `gzip-${op}` };
      case 'bad-trailer':
        b[b.length - 1 - rng.int(8)] ^= 0xff;
        return { blob: b, op: `gzip-${op}` };
      case 'fextra': {
        const h = Buffer.from(b.subarray(0, 10));
        h[3] |= 4;
        const xlen = rng.pick([0xffff, 4, 0]);
        const x = Buffer.alloc(2);
        x.writeUInt16LE(xlen);
        return { blob: Buffer.concat([h, x, rng.bytes(Math.min(xlen, rng.pick([0, 4, 100]))), b.subarray(10)]), op: `gzip-fextra-${xlen}` };
      }
      case 'fname-unterminated': {
        const h = Buffer.from(b.subarray(0, 10));
        h[3] |= 8 | 16;
        return { blob: Buffer.concat([h, Buffer.from('name-without-end'.repeat(rng.pick([1, 1000])))]), op: `gzip-${op}` };
      }
      case 'method':
        b[2] = rng.pick([0, 7, 9, 0xff]);
        return { blob: b, op: `gzip-${op}` };
      case 'header-only':
        return { blob: b.subarray(0, 10), op: `gzip-${op}` };
      case 'empty':
        return { blob: zlib.gzipSync(Buffer.alloc(0)), op: 'gzip-of-nothing' };
      case 'stored':
        return { blob: zlib.gzipSync(tar, { level: 0 }), op: 'gzip-stored' };
      default:
        return { blob: compress('zstd', tar), op: 'gzip-to-zstd' };
    }
  }
  const op = rng.weighted([[3, 'flip'], [2, 'truncate'], [2, 'append-garbage'], [1, 'skippable'], [2, 'window'], [1, 'fcs'], [1, 'dict'], [1, 'second-frame'], [1, 'reserved'], [1, 'to-gzip']]);
  const fhd = 4;
  switch (op) {
    case 'flip':
      for (let i = rng.range(1, 8); i > 0; i--) b[4 + rng.int(Math.max(1, b.length - 4))] ^= 1 + rng.int(255);
      break;
    case 'truncate':
      return { blob: b.subarray(0, rng.int(b.length)), op: `zstd-${op}` };
    case 'append-garbage':
      return { blob: Buffer.concat([b, rng.bytes(rng.range(1, 5000))]), op: `zstd-${op}` };
    case 'skippable': {
      const h = Buffer.alloc(8);
      h.writeUInt32LE(0x184d2a50 + rng.int(16), 0);
      const n = rng.pick([0, 16, 0xffffffff]);
      h.writeUInt32LE(n, 4);
      return { blob: Buffer.concat([h, rng.bytes(Math.min(n, 16)), b]), op: `zstd-skippable-${n}` };
    }
    case 'window': {
      // Frame header: single-segment off, window descriptor = the largest window.
      const d = b[fhd];
      const fcsFlag = d >> 6;
      const single = (d >> 5) & 1;
      if (!single) b[fhd + 1] = 0xff;
      else {
        // Rewrite the header without single segment and with a huge window descriptor.
        const dictFlag = d & 3;
        const dictLen = [0, 1, 2, 4][dictFlag];
        const fcsLen = [1, 2, 4, 8][fcsFlag];
        const newD = (d & ~0x20) & 0xff;
        const newFcsLen = fcsFlag === 0 ? 0 : fcsLen;
        const rest = b.subarray(fhd + 1 + dictLen + fcsLen);
        const fcs = newFcsLen ? b.subarray(fhd + 1 + dictLen, fhd + 1 + dictLen + fcsLen) : Buffer.alloc(0);
        return { blob: Buffer.concat([b.subarray(0, fhd), Buffer.from([newD, 0xff]), b.subarray(fhd + 1, fhd + 1 + dictLen), fcs, rest]), op: 'zstd-huge-window' };
      }
      return { blob: b, op: 'zstd-huge-window' };
    }
    case 'fcs': {
      const d = b[fhd];
      const single = (d >> 5) & 1;
      const fcsFlag = d >> 6;
      const dictLen = [0, 1, 2, 4][d & 3];
      const off = fhd + 1 + (single ? 0 : 1) + dictLen;
      const len = fcsFlag === 0 ? (single ? 1 : 0) : [1, 2, 4, 8][fcsFlag];
      for (let i = 0; i < len; i++) b[off + i] = rng.pick([0, 0xff, rng.int(256)]);
      return { blob: b, op: 'zstd-wrong-content-size' };
    }
    case 'dict': {
      const d = b[fhd];
      if ((d & 3) === 0) {
        const single = (d >> 5) & 1;
        const insertAtOff = fhd + 1 + (single ? 0 : 1);
        return { blob: Buffer.concat([b.subarray(0, fhd), Buffer.from([d | 1]), b.subarray(fhd + 1, insertAtOff), Buffer.from([rng.range(1, 255)]), b.subarray(insertAtOff)]), op: 'zstd-dict-id' };
      }
      return { blob: b, op: 'zstd-dict-id' };
    }
    case 'second-frame':
      return { blob: Buffer.concat([b, compress('zstd', rng.chance(0.5) ? tar : rng.bytes(3000))]), op: `zstd-${op}` };
    case 'reserved':
      b[fhd] |= 0x08;
      break;
    default:
      return { blob: compress('gzip', tar), op: 'zstd-to-gzip' };
  }
  return { blob: b, op: `zstd-${op}` };
}

// ------------------------------------------------------------------------------------------------
// the fuzzer

export const CLASSES = [
  'byte-flip', 'truncate', 'append', 'tar-header', 'pax', 'json-shape', 'codec', 'file-content',
  'link-cycle', 'special-files', 'sparse', 'same-layer', 'facts-json', 'host-tree', 'stale-diff-id', 'entry-bomb',
];

const CLASS_WEIGHTS = {
  'byte-flip': 10, truncate: 6, append: 5, 'tar-header': 12, pax: 10, 'json-shape': 14, codec: 7, 'file-content': 8,
  'link-cycle': 8, 'special-files': 5, sparse: 4, 'same-layer': 4, 'facts-json': 5, 'host-tree': 6, 'stale-diff-id': 3, 'entry-bomb': 1,
};

/** Fixture images, with how often each is chosen (small ones more often: cases stay fast). */
const IMAGE_WEIGHTS = {
  sample: 6, 'musl-static': 8, 'bad-digest': 1, 'bad-dotdot': 1, 'bad-manifest-json': 1, 'bad-missing-blob': 1, 'bad-truncated-gzip': 1,
  'sus-corrupt-elf': 4, 'sus-symlink-loop': 4, 'sus-lying-config': 2, 'bookworm-arm64': 2, multiarch: 5, 'bullseye-openmpi': 3, whiteout: 3, 'trixie-mpich-cuda': 1,
};
const SMALL_IMAGES = new Set(['sample', 'musl-static', 'bad-digest', 'bad-dotdot', 'bad-manifest-json', 'bad-missing-blob', 'bad-truncated-gzip', 'multiarch', 'sus-corrupt-elf', 'sus-symlink-loop']);

const HOST_SPECS = [
  { name: 'skylake', cpuinfo: 'linux-rhel7-skylake_avx512', osrelease: '5.14.0-362.24.1.el9_3.x86_64', rootfs: 'bullseye-openmpi', arch: 'amd64' },
  { name: 'gpu', cpuinfo: 'linux-centos7-cascadelake', osrelease: '4.18.0-513.el8.x86_64', rootfs: 'trixie-mpich-cuda', nvidia: '535.54.03', arch: 'amd64' },
  { name: 'zen', cpuinfo: 'linux-rhel7-zen', osrelease: '3.10.0-1160.el7.x86_64', rootfs: 'musl-static', arch: 'amd64' },
  { name: 'arm', cpuinfo: 'linux-amazon-neoverse_n1', osrelease: '6.1.0-18-arm64', rootfs: 'bookworm-arm64', kernelArch: 'aarch64', arch: 'arm64' },
  { name: 'bare', cpuinfo: 'linux-rhel7-haswell', osrelease: '5.15.0-91-generic', rootfs: null, arch: 'amd64' },
];

const ROCKY9 = 'NAME="Rocky Linux"\nVERSION="9.3 (Blue Onyx)"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\nPRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"\n';

function nvidiaVersionFile(v) {
  return `NVRM version: NVIDIA UNIX x86_64 Kernel Module  ${v}  Tue Jun  6 22:20:39 UTC 2023\nGCC version:  gcc version 11.3.1 20221121 (Red Hat 11.3.1-4) (GCC)\n`;
}

/**
 * The mutation engine. `repo` is the project root (its fixtures/build and test/data are read),
 * `work` a scratch directory for cases. `small` restricts inputs to the small fixture images.
 */
export class Fuzzer {
  constructor({ repo, work, seed, small = false, classes = null, runCli = null }) {
    this.repo = repo;
    this.fixtures = path.join(repo, 'fixtures/build');
    this.work = work;
    this.seed = seed;
    this.small = small;
    this.classes = classes ?? CLASSES;
    this.runCli = runCli;
    this.tarCache = new Map();
    this.tarCacheBytes = 0;
    this.walkCache = new Map();
    this.archiveTables = new Map();
    setSandbox(work);
  }

  /** Index the fixtures and build the fake hosts (and their baseline host facts, by the CLI). */
  async init() {
    const idx = JSON.parse(fs.readFileSync(path.join(this.fixtures, 'index.json'), 'utf8'));
    this.allImages = idx.images;
    this.images = idx.images.filter((i) => !this.small || SMALL_IMAGES.has(i.name));
    this.images.push({ name: 'sample', kind: 'good', paths: { oci: '../sample' } });
    this.hostsDir = mkdirp(path.join(this.work, 'hosts'));
    this.hosts = [];
    for (const spec of HOST_SPECS) {
      const h = this.makeHost(this.hostsDir, spec);
      this.hosts.push(h);
    }
    if (this.runCli) {
      for (const h of this.hosts) {
        const r = await this.runCli(['host', '--json', '--proc', h.proc, '--sys', h.sys, '--root', h.root]);
        if (r.code !== 0) throw new Error(`baseline host facts for ${h.name} failed (exit ${r.code}): ${r.stderr.slice(0, 500)}`);
        h.json = path.join(this.hostsDir, `${h.name}.json`);
        fs.writeFileSync(h.json, r.stdout);
      }
      const r = await this.runCli(['inspect', `oci:${path.join(this.repo, 'fixtures/sample')}`, '--json']);
      if (r.code !== 0) throw new Error(`baseline image facts failed (exit ${r.code}): ${r.stderr.slice(0, 500)}`);
      this.imageFactsJson = path.join(this.hostsDir, 'sample-image.json');
      fs.writeFileSync(this.imageFactsJson, r.stdout);
    }
    this.facts10 = path.join(this.repo, 'test/data/facts-1.0');
  }

  /** A fake host tree (proc/, sys/, root/), root hard-linked from a fixture rootfs. */
  makeHost(base, spec) {
    const dir = path.join(base, spec.name);
    fs.rmSync(dir, { recursive: true, force: true });
    const h = { ...spec, dir, proc: path.join(dir, 'proc'), sys: path.join(dir, 'sys'), root: path.join(dir, 'root') };
    mkdirp(h.proc);
    mkdirp(h.sys);
    const rootfs = spec.rootfs ? this.allImages.find((i) => i.name === spec.rootfs)?.paths.rootfs : null;
    if (rootfs) linkTree(path.join(this.fixtures, rootfs), h.root);
    else mkdirp(h.root);
    const P = (rel, data) => writeFresh(path.join(h.proc, rel), data);
    const S = (rel, data) => writeFresh(path.join(h.sys, rel), data);
    const R = (rel, data) => writeFresh(path.join(h.root, rel), data);
    fs.copyFileSync(path.join(this.repo, 'test/data/archspec-targets', spec.cpuinfo), path.join(h.proc, 'cpuinfo'));
    P('sys/kernel/hostname', `${spec.name}\n`);
    P('sys/kernel/osrelease', `${spec.osrelease}\n`);
    if (spec.kernelArch) P('sys/kernel/arch', `${spec.kernelArch}\n`);
    P('meminfo', 'MemTotal:       263889908 kB\nMemFree:        1000000 kB\n');
    P('cmdline', 'BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro\n');
    P('modules', 'overlay 151552 0 - Live 0x0000000000000000\nnvidia 56713216 0 - Live 0x0000000000000000\n');
    P('sys/user/max_user_namespaces', '63435\n');
    P('sys/kernel/unprivileged_userns_clone', '1\n');
    P('sys/fs/binfmt_misc/status', 'enabled\n');
    P('sys/fs/binfmt_misc/qemu-aarch64', 'enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POCF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n');
    if (spec.nvidia) {
      P('driver/nvidia/version', nvidiaVersionFile(spec.nvidia));
      P('driver/nvidia/gpus/0000:3b:00.0/information', 'Model: \t\t Tesla V100-SXM2-32GB\nIRQ:   \t\t 0\nGPU UUID: \t GPU-00000000-0000-0000-0000-000000000000\nBus Location: \t 0000:3b:00.0\n');
      S('bus/pci/devices/0000:3b:00.0/vendor', '0x10de\n');
      S('bus/pci/devices/0000:3b:00.0/device', '0x1db5\n');
      S('bus/pci/devices/0000:3b:00.0/class', '0x030200\n');
      S('module/nvidia/version', `${spec.nvidia}\n`);
    }
    S('devices/system/cpu/cpu0/topology/physical_package_id', '0\n');
    S('devices/system/cpu/cpu0/topology/core_id', '0\n');
    S('class/dmi/id/sys_vendor', 'QEMU\n');
    R('etc/os-release', ROCKY9);
    R('etc/ld.so.conf', 'include /etc/ld.so.conf.d/*.conf\n/opt/site/lib\n');
    R('etc/ld.so.conf.d/site.conf', '/opt/mpi/lib\n# comment\n');
    R('etc/environment-modules/modulespath', '/usr/share/modules/modulefiles\n');
    R('usr/share/modules/modulefiles/openmpi/4.1', '#%Module\nprepend-path LD_LIBRARY_PATH /opt/openmpi/lib\n');
    if (fs.existsSync('/etc/ld.so.cache')) R('etc/ld.so.cache', fs.readFileSync('/etc/ld.so.cache'));
    return h;
  }

  // ---------------------------------------------------------------------------------------------

  chooseImage(rng, need) {
    const list = this.images.filter((i) => need(i));
    return rng.weighted(list.map((i) => [IMAGE_WEIGHTS[i.name] ?? 1, i]));
  }

  /** A layer tar of a fixture blob, decompressed once and cached (bounded). */
  tarOf(key, loader) {
    const hit = this.tarCache.get(key);
    if (hit) {
      this.tarCache.delete(key);
      this.tarCache.set(key, hit);
      return hit;
    }
    const v = loader();
    this.tarCache.set(key, v);
    this.tarCacheBytes += v.tar.length + (v.blob?.length ?? 0);
    while (this.tarCacheBytes > 400 << 20 && this.tarCache.size > 1) {
      const [k, old] = this.tarCache.entries().next().value;
      this.tarCache.delete(k);
      this.tarCacheBytes -= old.tar.length + (old.blob?.length ?? 0);
    }
    return v;
  }

  /** Which kind of image source to use, for a class. */
  pickSource(rng, img, { allowRootfs = true } = {}) {
    const opts = [[6, 'oci']];
    if (img.paths.dockerArchive) opts.push([2, 'docker']);
    if (img.paths.ociArchive) opts.push([3, 'oci-archive']);
    if (img.paths.docker25Archive) opts.push([3, 'docker25']);
    if (allowRootfs && img.paths.rootfsTar) opts.push([1, 'tar']);
    return rng.weighted(opts);
  }

  /** Load an image source as a member store (and its layout / docker view). */
  load(img, source) {
    const p = (k) => path.join(this.fixtures, img.paths[k]);
    if (source === 'oci') {
      const m = Members.fromDir(p('oci'));
      return { source, members: m, layout: new Layout(m), file: p('oci') };
    }
    if (source === 'oci-archive' || source === 'docker25') {
      const file = p(source === 'oci-archive' ? 'ociArchive' : 'docker25Archive');
      const m = Members.fromTar(file);
      return { source, members: m, layout: new Layout(m), file };
    }
    if (source === 'docker') {
      const file = p('dockerArchive');
      const m = Members.fromTar(file);
      return { source, members: m, docker: new DockerClassic(m), file };
    }
    throw new Error(`bad source ${source}`);
  }

  /** Write a loaded source into the case directory; returns the image reference. */
  emit(dir, loaded) {
    if (loaded.source === 'oci') {
      const out = path.join(dir, 'oci');
      loaded.members.writeDir(out);
      return { ref: `oci:${out}`, file: out };
    }
    const file = path.join(dir, loaded.source === 'oci-archive' ? 'image.oci.tar' : 'image.docker.tar');
    const table = loaded.members.writeTar(file);
    return { ref: `${loaded.source === 'oci-archive' ? 'oci-archive' : 'docker-archive'}:${file}`, file, table };
  }

  /** Walk a fixture's layout for an architecture (cached). */
  walk(img, source, loaded, arch) {
    const key = `${img.name}/${source}/${arch}`;
    if (!this.walkCache.has(key)) this.walkCache.set(key, loaded.layout.walk(arch));
    return this.walkCache.get(key);
  }

  /** The arguments of an image command and the architectures it reads. */
  imageCommand(rng, dir, ref, { mustOnly = false } = {}) {
    const hosts = mustOnly ? this.hosts.filter((h) => h.arch === 'amd64') : this.hosts;
    const copyHost = (h) => {
      const f = path.join(dir, `host-${h.name}.json`);
      fs.copyFileSync(h.json, f);
      return f;
    };
    const json = rng.chance(0.92) ? ['--json'] : [];
    const r = rng.next();
    const [pInspect, pCheck] = this.small ? [0.7, 0.95] : [0.55, 0.87];
    if (r < pInspect || !hosts.length) {
      const extra = [];
      if (rng.chance(0.08)) extra.push('--identity');
      if (rng.chance(0.1)) extra.push('--parallel', String(rng.pick([1, 2, 8])));
      if (!mustOnly && rng.chance(0.05)) extra.push('--platform', rng.pick(['linux/__proto__', 'linux', '/', 'linux/amd64/v8/x', '', 'windows/amd64', 'linux/arm64/v8', 'linux/arm/v7', 'linux/constructor', 'LINUX/AMD64', 'linux/amd64/']));
      if (!mustOnly && rng.chance(0.05)) extra.push(...this.limitOption(rng));
      return { args: ['inspect', ref, ...json, ...extra], archs: ['amd64'] };
    }
    if (r < pCheck) {
      const h = rng.pick(hosts);
      const extra = [];
      if (rng.chance(0.15)) {
        extra.push('--set', rng.pick(['cuda.driver=535.54.03', 'cuda.driver=none', 'mpi=openmpi@4.1.4', 'mpi=mpich@4.2.1', 'glibc=2.17', 'kernel=3.10.0', 'microarch=zen4', 'cuda.brand=tesla', 'cuda.arch=8.0', 'emulators=arm64']));
      }
      if (!mustOnly && rng.chance(0.04)) extra.push(...this.limitOption(rng));
      return { args: ['check', ref, '--host', copyHost(h), ...json, ...extra], archs: [h.arch] };
    }
    const hs = rng.shuffle(hosts).slice(0, rng.range(1, 2));
    return { args: ['match', '--hosts', ...hs.map(copyHost), '--images', ref, ...json], archs: [...new Set(hs.map((h) => h.arch))] };
  }

  /** A --limit that small inputs hit (or a malformed one). */
  limitOption(rng) {
    return ['--limit', rng.pick(['layers=1', 'entriesPerLayer=10', 'archiveMembers=3', 'pathLength=8', 'jsonBytes=100', 'jsonDepth=2', 'keptBytesPerFile=64', 'scannedBytesPerFile=1', 'linkHops=1', 'layers=0', 'layers=abc', 'nosuch=1', 'layers', '=5', 'linkHops=9007199254740993'])];
  }

  /**
   * Make case `index`: its directory, arguments, and whether exit 2 is required.
   * Returns { index, cls, op, dir, args, mustExit2, env, note }.
   */
  makeCase(index, forceClass = null) {
    const rng = new Rng(caseSeed(this.seed, index));
    const cls = forceClass ?? rng.weighted(this.classes.map((c) => [CLASS_WEIGHTS[c] ?? 1, c]));
    const dir = path.join(this.work, `c${index}`);
    fs.rmSync(dir, { recursive: true, force: true });
    mkdirp(dir);
    const c = { index, cls, dir, mustExit2: false, env: {}, op: '' };
    const fn = {
      'byte-flip': () => this.unfixed(rng, c, 'flip'),
      truncate: () => this.unfixed(rng, c, 'truncate'),
      append: () => this.unfixed(rng, c, 'append'),
      'tar-header': () => this.layerCase(rng, c, 'tar-header'),
      pax: () => this.layerCase(rng, c, 'pax'),
      codec: () => this.layerCase(rng, c, 'codec'),
      'file-content': () => this.fileContent(rng, c),
      'json-shape': () => this.jsonShape(rng, c),
      'link-cycle': () => this.linkCycle(rng, c),
      'special-files': () => this.special(rng, c),
      sparse: () => this.sparseCase(rng, c),
      'same-layer': () => this.sameLayer(rng, c),
      'facts-json': () => this.factsJson(rng, c),
      'host-tree': () => this.hostTree(rng, c),
      'stale-diff-id': () => this.staleDiffId(rng, c),
      'entry-bomb': () => this.entryBomb(rng, c),
    }[cls];
    fn();
    return c;
  }

  // ---- unfixed blob changes: must be exit 2 when the blob is read -----------------------------

  /** Flip, truncate or append to one stored file without re-fixing anything. */
  unfixed(rng, c, how) {
    const img = this.chooseImage(rng, (i) => i.paths.oci);
    const source = rng.weighted([[6, 'oci'], [img.paths.dockerArchive ? 2 : 0, 'docker'], [img.paths.ociArchive ? 2 : 0, 'oci-archive'], [img.paths.docker25Archive ? 2 : 0, 'docker25'], [img.paths.rootfsTar ? 1 : 0, 'tar']]);
    const change = (b) => {
      if (how === 'flip') {
        const out = Buffer.from(b);
        const n = rng.pick([1, 1, 2, 8]);
        const offs = [];
        for (let i = 0; i < n && out.length; i++) {
          const off = rng.int(out.length);
          out[off] ^= 1 + rng.int(255);
          offs.push(off);
        }
        return { buf: out, offs };
      }
      if (how === 'truncate') {
        const n = b.length ? rng.int(b.length) : 0;
        return { buf: b.subarray(0, n), offs: [n] };
      }
      const g = rng.weighted([[3, () => rng.bytes(rng.range(1, 4096))], [1, () => Buffer.alloc(1024)], [1, () => Buffer.from('\n')]])();
      return { buf: Buffer.concat([b, g]), offs: [b.length] };
    };
    if (source === 'tar') {
      const file = path.join(c.dir, 'rootfs.tar');
      const b = fs.readFileSync(path.join(this.fixtures, img.paths.rootfsTar));
      const { buf } = change(b);
      writeFresh(file, buf);
      c.op = `${how}@rootfs.tar`;
      Object.assign(c, this.imageCommand(rng, c.dir, `tar:${file}`));
      return;
    }
    if (source === 'oci') {
      const loaded = this.load(img, 'oci');
      const cmd = this.imageCommand(rng, c.dir, 'REF', { mustOnly: true });
      const used = new Set();
      for (const a of cmd.archs) for (const h of this.walk(img, 'oci', loaded, a).used) used.add(h);
      const names = loaded.members.names().filter((n) => loaded.members.map.get(n).type === '0');
      const targets = rng.chance(0.85) ? names.filter((n) => used.has(n.slice('blobs/sha256/'.length))) : names;
      const name = targets.length ? rng.pick(targets) : rng.pick(names);
      const origLen = loaded.members.size(name);
      const { buf } = change(loaded.members.get(name));
      loaded.members.set(name, buf);
      const { ref } = this.emit(c.dir, loaded);
      c.op = `${how}@oci:${name.startsWith('blobs/') ? blobRole(loaded.layout, name, this.walk(img, 'oci', loaded, cmd.archs[0])) : name}`;
      c.sigKey = c.op.replace(/^[a-z]+@/, '');
      c.mustExit2 = name.startsWith('blobs/sha256/') && used.has(name.slice(13)) && !(how === 'truncate' && buf.length === origLen);
      c.args = cmd.args.map((a) => (a === 'REF' ? ref : a));
      return;
    }
    // An archive: change its bytes in place (a copy) at an offset of a member's data or anywhere.
    const loaded = this.load(img, source);
    const cmd = this.imageCommand(rng, c.dir, 'REF', { mustOnly: true });
    let usedNames;
    if (source === 'docker') usedNames = loaded.docker.used();
    else {
      usedNames = new Set();
      for (const a of cmd.archs) for (const h of this.walk(img, source, loaded, a).used) usedNames.add(`blobs/sha256/${h}`);
    }
    const table = indexTarFile(loaded.file);
    const file = path.join(c.dir, source === 'oci-archive' ? 'image.oci.tar' : 'image.docker.tar');
    fs.copyFileSync(loaded.file, file);
    const size = fs.statSync(file).size;
    const usedMembers = table.filter((e) => usedNames.has(e.name.replace(/^(\.\/)+/, '')) && e.size > 0);
    const verified = (e) => source !== 'docker' || /^[a-f0-9]{64}\.json$/.test(e.name) || (e.name.endsWith('/layer.tar') && Array.isArray(loaded.docker.config()?.rootfs?.diff_ids));
    let must = false;
    if (how === 'flip') {
      const b = fs.readFileSync(file);
      let target = null;
      if (rng.chance(0.8) && usedMembers.length) target = rng.pick(usedMembers);
      const offs = [];
      for (let i = rng.pick([1, 1, 2, 8]); i > 0; i--) {
        const off = target ? target.dataOff + rng.int(target.size) : rng.int(b.length);
        b[off] ^= 1 + rng.int(255);
        offs.push(off);
      }
      writeFresh(file, b);
      must = offs.some((o) => usedMembers.some((e) => o >= e.dataOff && o < e.dataOff + e.size && verified(e)));
      c.op = `flip@${source}:${target ? memberRole(target.name, loaded) : 'anywhere'}`;
    } else if (how === 'truncate') {
      const target = rng.chance(0.7) && usedMembers.length ? rng.pick(usedMembers) : null;
      const n = target ? target.dataOff + rng.int(target.size) : rng.int(size);
      fs.truncateSync(file, n);
      must = usedMembers.some((e) => n < e.dataOff + e.size);
      c.op = `truncate@${source}:${target ? memberRole(target.name, loaded) : 'anywhere'}`;
    } else {
      fs.appendFileSync(file, rng.bytes(rng.range(1, 4096)));
      c.op = `append@${source}`;
    }
    c.mustExit2 = must;
    c.sigKey = c.op.replace(/^[a-z]+@/, '');
    c.args = cmd.args.map((a) => (a === 'REF' ? `${source === 'oci-archive' ? 'oci-archive' : 'docker-archive'}:${file}` : a));
  }

  // ---- re-fixed layer mutations -----------------------------------------------------------------

  /**
   * Pick a layer of an image source, give `mutate(tar, blob, compression)` its tar, and write the
   * image back with the chain re-fixed. `mutate` returns { tar } (recompressed like the original)
   * or { blob } (stored bytes as they are), and { op }.
   */
  withLayer(rng, c, mutate, { allowRootfs = true, wantLayer = null } = {}) {
    const img = this.chooseImage(rng, (i) => i.paths.oci && (!wantLayer || i.kind !== 'malformed'));
    const source = this.pickSource(rng, img, { allowRootfs });
    if (source === 'tar') {
      const fixture = path.join(this.fixtures, img.paths.rootfsTar);
      const { tar } = this.tarOf(`rootfs:${img.name}`, () => ({ tar: fs.readFileSync(fixture) }));
      const r = mutate(tar, null, 'none');
      let out = r.blob ?? r.tar;
      const comp = r.blob ? 'as-is' : rng.weighted([[5, 'none'], [1, 'gzip'], [1, 'zstd']]);
      if (!r.blob && comp !== 'none') out = compress(comp, out);
      const file = path.join(c.dir, 'rootfs.tar');
      writeFresh(file, out);
      c.op = `${r.op}@tar:${comp}`;
      Object.assign(c, this.imageCommand(rng, c.dir, `tar:${file}`));
      return;
    }
    const loaded = this.load(img, source);
    if (source === 'docker') {
      const d = loaded.docker;
      const names = d.layerNames();
      if (!names.length) throw new Error(`no layers in ${img.name}`);
      const i = rng.int(names.length);
      const tar = d.m.get(names[i]);
      const r = mutate(tar, null, 'none');
      let plain = r.tar ?? null;
      if (r.blob) {
        try {
          plain = decompress(detectCompression(r.blob), r.blob);
        } catch {
          plain = null; // undecodable: the diff_id stays
        }
      }
      d.replaceLayer(i, r.blob ?? r.tar, plain);
      const { ref } = this.emit(c.dir, loaded);
      c.op = `${r.op}@docker:layer${i}`;
      Object.assign(c, this.imageCommand(rng, c.dir, ref));
      return;
    }
    const arch = rng.chance(0.85) ? 'amd64' : 'arm64';
    const w = this.walk(img, source, loaded, arch);
    const layers = w.layers.filter((l) => loaded.members.has(`blobs/sha256/${l.hex}`));
    if (!layers.length) {
      // nothing to mutate (a malformed fixture): run it as is
      const { ref } = this.emit(c.dir, loaded);
      c.op = 'no-layer';
      Object.assign(c, this.imageCommand(rng, c.dir, ref));
      return;
    }
    const L = rng.pick(layers);
    const { blob, tar, kind } = this.tarOf(`${img.name}:${L.hex}`, () => {
      const b = loaded.layout.blob(L.hex);
      const k = detectCompression(b);
      let t;
      try {
        t = decompress(k, b);
      } catch {
        t = Buffer.alloc(0);
      }
      return { blob: b, tar: t, kind: k };
    });
    const r = mutate(tar, blob, kind);
    const newBlob = r.blob ?? compress(kind, r.tar);
    const diffRepl = new Map();
    const li = w.layers.indexOf(L);
    if (r.tar && w.diffIds[li]) diffRepl.set(w.diffIds[li], digestOf(r.tar));
    else if (r.blob && w.diffIds[li]) {
      try {
        diffRepl.set(w.diffIds[li], digestOf(decompress(detectCompression(r.blob), r.blob)));
      } catch {
        /* undecodable: the diff_id stays */
      }
    }
    loaded.layout.replaceBlob(L.hex, newBlob, diffRepl);
    const { ref } = this.emit(c.dir, loaded);
    c.op = `${r.op}@${source}:${kind}`;
    const cmd = this.imageCommand(rng, c.dir, ref);
    Object.assign(c, cmd);
  }

  layerCase(rng, c, what) {
    if (what === 'tar-header') return this.withLayer(rng, c, (tar) => mutTarHeader(rng, tar));
    if (what === 'pax') {
      // Sometimes in an archive's own member headers instead of a layer.
      if (rng.chance(0.25)) return this.archiveHeaderCase(rng, c, 'pax');
      return this.withLayer(rng, c, (tar) => mutTarPax(rng, tar));
    }
    return this.withLayer(rng, c, (tar, blob, kind) => {
      const r = mutCodec(rng, blob, tar, kind);
      if (r.op.startsWith('zstd') && rng.chance(0.5)) {
        c.env.CONTAINERSPEC_ZSTD = 'js';
        r.op += '+fzstd';
      }
      return { blob: r.blob, op: r.op };
    }, { allowRootfs: true });
  }

  /**
   * Corrupt the tar headers of an archive itself (oci-archive, docker-archive): a header field or a
   * PAX record of a member. Changing a used, digest-covered member's size (the bytes read as the
   * blob) without re-fixing must end in exit 2.
   */
  archiveHeaderCase(rng, c, what) {
    const img = this.chooseImage(rng, (i) => i.paths.dockerArchive || i.paths.ociArchive);
    const source = rng.weighted([[img.paths.dockerArchive ? 3 : 0, 'docker'], [img.paths.ociArchive ? 2 : 0, 'oci-archive'], [img.paths.docker25Archive ? 2 : 0, 'docker25']]);
    const loaded = this.load(img, source);
    const cmd = this.imageCommand(rng, c.dir, 'REF', { mustOnly: true });
    let usedNames;
    if (source === 'docker') usedNames = loaded.docker.used();
    else {
      usedNames = new Set();
      for (const a of cmd.archs) for (const h of this.walk(img, source, loaded, a).used) usedNames.add(`blobs/sha256/${h}`);
    }
    const buf = fs.readFileSync(loaded.file);
    const r = what === 'pax' ? mutTarPax(rng, buf) : mutTarHeader(rng, buf);
    // Which member was hit: the first whose header moved or changed.
    const before = parseTar(buf).entries;
    let hitName = null;
    let sizeChanged = false;
    try {
      const after = new Map(indexTarFile(writeFresh(path.join(c.dir, 'probe.tar'), r.tar)).map((e) => [e.name, e]));
      for (const b of before) {
        const a = after.get(b.name);
        if (!a || a.size !== b.size || a.type !== b.type) {
          hitName = b.name;
          sizeChanged = !!a && a.size !== b.size;
          break;
        }
      }
    } catch {
      /* unparseable for our indexer too */
    }
    fs.rmSync(path.join(c.dir, 'probe.tar'), { force: true });
    const file = path.join(c.dir, source === 'oci-archive' ? 'image.oci.tar' : 'image.docker.tar');
    writeFresh(file, r.tar);
    const verified = (n) => source !== 'docker' || /^[a-f0-9]{64}\.json$/.test(n) || (n.endsWith('/layer.tar') && Array.isArray(loaded.docker.config()?.rootfs?.diff_ids));
    c.mustExit2 = Boolean(hitName && sizeChanged && usedNames.has(hitName) && verified(hitName) && /size/.test(r.op));
    c.op = `archive-${r.op}@${source}:${hitName ? memberRole(hitName, loaded) : '?'}`;
    c.sigKey = `archive-header@${source}:${hitName ? memberRole(hitName, loaded) : '?'}`;
    c.args = cmd.args.map((a) => (a === 'REF' ? `${source === 'oci-archive' ? 'oci-archive' : 'docker-archive'}:${file}` : a));
    c.archs = cmd.archs;
  }

  /**
   * Change a layer's tar, recompress it, re-fix the manifest (digest, size) and everything above
   * it, but leave the config's diff_id stale: by the contract's letter a digest above the changed
   * bytes was not re-fixed, so the run must end in exit 2.
   */
  staleDiffId(rng, c) {
    const img = this.chooseImage(rng, (i) => i.paths.oci && i.kind !== 'malformed');
    const source = rng.weighted([[6, 'oci'], [img.paths.ociArchive ? 2 : 0, 'oci-archive'], [img.paths.docker25Archive ? 2 : 0, 'docker25']]);
    const loaded = this.load(img, source);
    const cmd = this.imageCommand(rng, c.dir, 'REF', { mustOnly: true });
    const w = this.walk(img, source, loaded, cmd.archs[0]);
    const usedAll = new Set();
    for (const a of cmd.archs) for (const h of this.walk(img, source, loaded, a).used) usedAll.add(h);
    const layers = w.layers.filter((l, i) => loaded.members.has(`blobs/sha256/${l.hex}`) && typeof w.diffIds[i] === 'string');
    if (!layers.length) {
      const { ref } = this.emit(c.dir, loaded);
      c.op = 'no-layer';
      c.args = cmd.args.map((a) => (a === 'REF' ? ref : a));
      return;
    }
    const L = rng.pick(layers);
    const { tar, kind } = this.tarOf(`${img.name}:${L.hex}`, () => {
      const b = loaded.layout.blob(L.hex);
      const k = detectCompression(b);
      return { blob: b, tar: decompress(k, b), kind: k };
    });
    const { entries } = parseTar(tar);
    const files = entries.filter((e) => (e.type === '0' || e.type === '\0') && e.size > 0);
    let out;
    if (files.length && rng.chance(0.7)) {
      const e = rng.pick(files);
      out = Buffer.from(tar);
      out[e.dataOff + rng.int(e.size)] ^= 1 + rng.int(255);
      c.op = `stale-diff-id:content-byte@${source}:${kind}`;
    } else {
      out = appendEntries(tar, [tarEntry({ name: 'etc/os-release', data: 'ID=changed\nVERSION_ID="99"\n' })]);
      c.op = `stale-diff-id:added-entry@${source}:${kind}`;
    }
    loaded.layout.replaceBlob(L.hex, compress(kind, out));
    const { ref } = this.emit(c.dir, loaded);
    c.args = cmd.args.map((a) => (a === 'REF' ? ref : a));
    c.archs = cmd.archs;
    c.mustExit2 = usedAll.has(L.hex);
    c.sigKey = `stale-diff-id@${source}`;
  }

  /**
   * A small compressed layer that holds a great many entries, very long PAX paths or link
   * targets, or a big zero-filled file at a path the string scans read: what the entry, path and
   * scan limits are for. Written as concatenated gzip members (one per chunk), appended as a new
   * top layer of a small image (diff_id and digests re-fixed).
   */
  entryBomb(rng, c) {
    const variant = rng.weighted([[3, 'many-entries'], [2, 'long-paths'], [1, 'long-links'], [1, 'many-whiteouts'], [1, 'deep-path'], [1, 'big-file'], [1, 'many-pax-records']]);
    const p = { variant };
    switch (variant) {
      case 'many-entries': p.n = rng.pick([300_000, 1_000_000, 2_000_000]); p.type = rng.pick(['0', '5', '2']); break;
      case 'long-paths': p.n = rng.pick([100, 400, 1000]); p.len = rng.pick([256 << 10, 1 << 20]); break;
      case 'long-links': p.n = rng.pick([100, 400]); p.len = rng.pick([128 << 10, 512 << 10]); break;
      case 'many-whiteouts': p.n = rng.pick([200_000, 1_000_000]); break;
      case 'deep-path': p.n = rng.pick([50_000, 500_000]); break;
      case 'big-file':
        p.n = rng.pick([256, 1024, 2048]);
        p.at = rng.pick(['usr/lib/x86_64-linux-gnu/libc.so.6', 'usr/lib/x86_64-linux-gnu/libmpi.so.40', 'usr/lib/x86_64-linux-gnu/libcudart.so.12', 'var/lib/dpkg/status', 'etc/os-release', 'opt/big.bin']);
        p.elf = rng.chance(0.5);
        break;
      default: p.n = rng.pick([100_000, 400_000]);
    }
    const key = JSON.stringify(p);
    this.bombCache ??= new Map();
    let built = this.bombCache.get(key);
    if (!built) {
      built = buildBomb(p);
      let total = built.blob.length;
      for (const v of this.bombCache.values()) total += v.blob.length;
      if (total > 300 << 20) this.bombCache.clear();
      this.bombCache.set(key, built);
    }
    const { blob, diffId } = built;
    c.op = p.variant === 'big-file' ? `entry-bomb:big-file-${p.n}MiB@${p.at}${p.elf ? '-elf' : ''}` : `entry-bomb:${p.variant}-${p.n}${p.len ? `x${p.len}` : ''}${p.type ? `-type${p.type}` : ''}`;
    // Append it as the top layer of a small image.
    const img = this.images.find((i) => i.name === rng.pick(['sample', 'musl-static'])) ?? this.images.find((i) => i.name === 'sample');
    const loaded = this.load(img, 'oci');
    const L = loaded.layout;
    const w = L.walk('amd64');
    const man = L.json(w.manifest);
    const cfg = L.json(w.config);
    const hex = L.put(blob);
    man.layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${hex}`, size: blob.length });
    cfg.rootfs.diff_ids.push(diffId);
    const cfgBuf = Buffer.from(JSON.stringify(cfg));
    man.config = { ...man.config, digest: `sha256:${L.put(cfgBuf)}`, size: cfgBuf.length };
    L.replaceDoc(w.manifest, JSON.stringify(man));
    const { ref } = this.emit(c.dir, loaded);
    Object.assign(c, this.imageCommand(rng, c.dir, ref));
  }

  /** A real shared library of this machine or the fixtures (for --bind). */
  realLib(rng) {
    const cands = ['/usr/lib/x86_64-linux-gnu/libm.so.6', '/usr/lib/x86_64-linux-gnu/libz.so.1', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/x86_64-linux-gnu/libstdc++.so.6',
      path.join(this.fixtures, 'bullseye-openmpi/rootfs/usr/lib/x86_64-linux-gnu/libmpi.so.40.30.0'), path.join(this.fixtures, 'bookworm-arm64/rootfs/usr/lib/aarch64-linux-gnu/libc.so.6')];
    const ok = cands.filter((p) => fs.existsSync(p) && fs.statSync(p).isFile());
    return ok.length ? rng.pick(ok) : null;
  }

  fileContent(rng, c) {
    if (rng.chance(0.1)) {
      // --bind: a host library read whole by check, here a mutated copy of a real one.
      const lib = this.realLib(rng);
      const f = path.join(c.dir, 'libbind.so.1');
      const r = lib ? mutFileContent(rng, fs.readFileSync(lib), lib) : { data: rng.bytes(100), op: 'garbage' };
      writeFresh(f, r.data);
      c.op = `bind-${r.op}@${lib ? path.basename(lib) : '-'}`;
      const h = rng.pick(this.hosts);
      c.args = ['check', `oci:${path.join(this.repo, rng.pick(['fixtures/sample', 'fixtures/build/bullseye-openmpi/oci', 'fixtures/build/musl-static/oci']))}`, '--host', writeFresh(path.join(c.dir, 'h.json'), fs.readFileSync(h.json)), '--bind', f, '--json'];
      return;
    }
    if (rng.chance(0.25)) return this.dirTreeCase(rng, c, 'content');
    if (rng.chance(0.15)) return this.hostTree(rng, c, 'lib-content');
    return this.withLayer(rng, c, (tar) => {
      const { entries } = parseTar(tar);
      const files = entries.filter((e) => (e.type === '0' || e.type === '\0') && e.size > 0);
      if (!files.length) return { tar, op: 'no-files' };
      const key = files.filter((e) => /libc\.so|libc-|ld-linux|ld-musl|libmpi|libmpich|libcuda|libcudart|busybox|libm\.so/.test(e.name));
      const elfs = key.length && rng.chance(0.7) ? key : files.filter((e) => /\.so(\.|$)|bin\/|ld-/.test(e.name));
      const texts = files.filter((e) => /os-release|dpkg\/status|apk\/db/.test(e.name));
      const e = rng.weighted([[elfs.length ? 5 : 0, () => rng.pick(elfs)], [texts.length ? 3 : 0, () => rng.pick(texts)], [1, () => rng.pick(files)]])();
      const data = tar.subarray(e.dataOff, e.dataOff + e.size);
      const r = mutFileContent(rng, data, e.name);
      return { tar: replaceEntryData(tar, e, r.data), op: `${r.op}:${path.posix.basename(e.name)}` };
    }, { wantLayer: true });
  }

  // ---- JSON documents ---------------------------------------------------------------------------

  jsonShape(rng, c) {
    const img = this.chooseImage(rng, (i) => i.paths.oci);
    const source = this.pickSource(rng, img, { allowRootfs: false });
    const loaded = this.load(img, source);
    if (source === 'docker') {
      const d = loaded.docker;
      const which = rng.weighted([[3, 'manifest.json'], [3, 'config'], [1, 'repositories']]);
      if (which === 'config') {
        const { text, op } = mutateJson(rng, d.m.get(d.configName), 'config');
        d.setConfigText(text);
        c.op = `${op}@docker:config`;
      } else if (which === 'manifest.json') {
        const { text, op } = mutateJson(rng, d.m.get('manifest.json'), 'docker-manifest');
        d.m.set('manifest.json', text);
        c.op = `${op}@docker:manifest.json`;
      } else {
        const { text, op } = mutateJson(rng, d.m.get('repositories') ?? Buffer.from('{}'), 'repositories');
        d.m.set('repositories', text);
        c.op = `${op}@docker:repositories`;
      }
      const { ref } = this.emit(c.dir, loaded);
      Object.assign(c, this.imageCommand(rng, c.dir, ref));
      return;
    }
    const L = loaded.layout;
    const arch = rng.chance(0.8) ? 'amd64' : 'arm64';
    const w = this.walk(img, source, loaded, arch);
    const choices = [[3, 'index.json'], [1, 'oci-layout']];
    for (const hex of w.docs) choices.push([3, hex]);
    if (w.config) choices.push([5, w.config]);
    if (source === 'docker25') choices.push([1, 'manifest.json']);
    const which = rng.weighted(choices);
    const kind = which === 'index.json' ? 'index' : which === 'oci-layout' ? 'layout' : which === 'manifest.json' ? 'docker-manifest' : which === w.config ? 'config' : Array.isArray(L.json(which)?.manifests) ? 'index' : 'manifest';
    const orig = which.length === 64 ? L.blob(which) : L.m.get(which) ?? Buffer.from('{}');
    const blobs = L.m.names().filter((n) => n.startsWith('blobs/sha256/')).map((n) => n.slice(13));
    const { text, op } = mutateJson(rng, orig, kind, { blobs, sizeOf: (hex) => L.m.size(`blobs/sha256/${hex}`) });
    L.replaceDoc(which, text);
    const { ref } = this.emit(c.dir, loaded);
    c.op = `${op}@${source}:${kind}`;
    Object.assign(c, this.imageCommand(rng, c.dir, ref));
  }

  factsJson(rng, c) {
    const h = rng.pick(this.hosts);
    const variant = rng.weighted([[5, 'check-host'], [2, 'match-hosts'], [2, 'match-images'], [1, 'history'], [1, 'facts-1.0']]);
    const img = `oci:${path.join(this.repo, 'fixtures/sample')}`;
    const json = ['--json'];
    if (variant === 'facts-1.0') {
      const f = rng.pick(['host.json', 'sample-image.json']);
      const { text, op } = mutateJson(rng, fs.readFileSync(path.join(this.facts10, f)), f === 'host.json' ? 'facts-host' : 'facts-image');
      const out = writeFresh(path.join(c.dir, `v1-${f}`), text);
      c.op = `${op}@facts-1.0:${f}`;
      c.args = f === 'host.json' ? ['check', img, '--host', out, ...json] : ['match', '--hosts', h.json && writeFresh(path.join(c.dir, 'h.json'), fs.readFileSync(h.json)), '--images', out, ...json];
      return;
    }
    if (variant === 'match-images') {
      const { text, op } = mutateJson(rng, fs.readFileSync(this.imageFactsJson), 'facts-image');
      const out = writeFresh(path.join(c.dir, 'image.json'), text);
      const hj = writeFresh(path.join(c.dir, 'h.json'), fs.readFileSync(h.json));
      c.op = `${op}@image-facts`;
      c.args = ['match', '--hosts', hj, '--images', out, ...json];
      return;
    }
    const { text, op } = mutateJson(rng, fs.readFileSync(h.json), 'facts-host');
    const out = writeFresh(path.join(c.dir, 'host.json'), text);
    c.op = `${op}@host-facts:${variant}`;
    if (variant === 'check-host') c.args = ['check', img, '--host', out, ...json];
    else if (variant === 'history') c.args = ['check', img, '--host', writeFresh(path.join(c.dir, 'h.json'), fs.readFileSync(h.json)), '--history', out, ...json];
    else c.args = ['match', '--hosts', out, writeFresh(path.join(c.dir, 'h2.json'), fs.readFileSync(rng.pick(this.hosts).json)), '--images', img, ...json];
  }

  // ---- links, special files, sparse files ------------------------------------------------------

  linkCycle(rng, c) {
    const where = rng.weighted([[4, 'layer'], [2, 'archive'], [2, 'dir'], [2, 'host']]);
    if (where === 'dir') return this.dirTreeCase(rng, c, 'links');
    if (where === 'host') return this.hostTree(rng, c, 'links');
    if (where === 'archive') return this.archiveLinks(rng, c);
    return this.withEntries(rng, c, linkEntries);
  }

  /** Append the entries `make(rng)` gives ({ entries, op }) to a layer of a fixture image. */
  withEntries(rng, c, make) {
    return this.withLayer(rng, c, (tar) => {
      const r = make(rng);
      return { tar: appendEntries(tar, r.entries), op: r.op };
    });
  }

  /** Archive members that are symlinks or hard links: cycles, chains, links out of the archive. */
  archiveLinks(rng, c) {
    const img = this.chooseImage(rng, (i) => i.paths.dockerArchive || i.paths.ociArchive);
    const source = rng.weighted([[img.paths.dockerArchive ? 3 : 0, 'docker'], [img.paths.ociArchive ? 2 : 0, 'oci-archive'], [img.paths.docker25Archive ? 1 : 0, 'docker25']]);
    const loaded = this.load(img, source);
    const m = loaded.members;
    let target;
    if (source === 'docker') target = rng.pick([...loaded.docker.layerNames(), 'manifest.json', loaded.docker.configName].filter(Boolean));
    else {
      const w = this.walk(img, source, loaded, 'amd64');
      target = rng.pick(['index.json', 'oci-layout', ...[...w.used].map((h) => `blobs/sha256/${h}`)]);
    }
    const variant = rng.weighted([[3, 'chain'], [3, 'cycle'], [1, 'self'], [1, 'outside'], [1, 'dangling']]);
    const type = rng.pick(['1', '2']);
    const data = m.get(target);
    if (variant === 'chain') {
      // target -> l1 -> l2 ... -> real copy: within the limit it resolves, past it it does not.
      const n = rng.pick([1, 10, 39, 40, 41, 100]);
      const real = `real/${path.posix.basename(target)}`;
      if (data) m.set(real, data);
      let prev = real;
      for (let i = n; i >= 1; i--) {
        const name = i === 1 ? target : `links/l${i}`;
        m.delete(name);
        m.setLink(name, type, type === '2' ? relLink(name, prev) : prev);
        prev = name;
      }
      c.op = `archive-${type === '2' ? 'symlink' : 'hardlink'}-chain-${n}@${source}:${memberRole(target, loaded)}`;
    } else if (variant === 'cycle') {
      const n = rng.pick([1, 2, 3, 50]);
      const names = [target, ...Array.from({ length: n - 1 }, (_, i) => `cyc/c${i}`)];
      names.forEach((name, i) => {
        m.delete(name);
        const next = names[(i + 1) % names.length];
        m.setLink(name, type, type === '2' ? relLink(name, next) : next);
      });
      c.op = `archive-${type === '2' ? 'symlink' : 'hardlink'}-cycle-${n}@${source}:${memberRole(target, loaded)}`;
    } else if (variant === 'self') {
      m.delete(target);
      m.setLink(target, type, type === '2' ? path.posix.basename(target) : target);
      c.op = `archive-self-link@${source}:${memberRole(target, loaded)}`;
    } else if (variant === 'outside') {
      m.delete(target);
      m.setLink(target, type, rng.pick(['/etc/passwd', '../../../../etc/passwd', '/proc/self/environ', '/dev/zero']));
      c.op = `archive-link-outside@${source}:${memberRole(target, loaded)}`;
    } else {
      m.delete(target);
      m.setLink(target, type, 'nowhere/at/all');
      c.op = `archive-dangling-link@${source}:${memberRole(target, loaded)}`;
    }
    const { ref } = this.emit(c.dir, loaded);
    Object.assign(c, this.imageCommand(rng, c.dir, ref));
  }

  special(rng, c) {
    const where = rng.weighted([[3, 'layer'], [3, 'dir'], [3, 'host'], [2, 'ref']]);
    if (where === 'dir') return this.dirTreeCase(rng, c, 'special');
    if (where === 'host') return this.hostTree(rng, c, 'special');
    if (where === 'ref') return this.specialRef(rng, c);
    return this.withEntries(rng, c, specialEntries);
  }

  /** A reference or facts file that is itself a FIFO, device, socket or directory. */
  specialRef(rng, c) {
    const kind = rng.pick(['fifo', 'char', 'socket', 'dir']);
    const p = path.join(c.dir, `special-${kind}`);
    const make = (q) => {
      if (kind === 'fifo') mkfifo(q);
      else if (kind === 'char') mknod(q, 'c', 1, rng.pick([3, 5, 8]));
      else if (kind === 'socket') mksock(q);
      else {
        guard(q);
        fs.rmSync(q, { force: true, recursive: true });
        mkdirp(q);
      }
    };
    const sample = path.join(this.repo, 'fixtures/sample');
    const what = rng.pick(['oci-archive', 'docker-archive', 'tar', 'host-json', 'images-json', 'index.json', 'blob', 'oci-layout', 'history', 'bind']);
    c.op = `${kind}-as-${what}`;
    const hostJson = () => writeFresh(path.join(c.dir, 'h.json'), fs.readFileSync(this.hosts[0].json));
    if (what === 'index.json' || what === 'blob' || what === 'oci-layout') {
      const loaded = this.load(this.images.find((i) => i.name === 'sample'), 'oci');
      const { ref } = this.emit(c.dir, loaded);
      const lay = path.join(c.dir, 'oci');
      let q = path.join(lay, 'index.json');
      if (what === 'oci-layout') q = path.join(lay, 'oci-layout');
      if (what === 'blob') {
        const w = loaded.layout.walk('amd64');
        q = path.join(lay, 'blobs/sha256', rng.pick([...w.used]));
      }
      make(q);
      Object.assign(c, this.imageCommand(rng, c.dir, ref));
      return;
    }
    make(p);
    if (what === 'host-json') c.args = ['check', `oci:${sample}`, '--host', p, '--json'];
    else if (what === 'history') c.args = ['check', `oci:${sample}`, '--host', hostJson(), '--history', p, '--json'];
    else if (what === 'bind') c.args = ['check', `oci:${sample}`, '--host', hostJson(), '--bind', p, '--json'];
    else if (what === 'images-json') {
      const q = `${p}.json`;
      fs.renameSync(p, q);
      c.args = ['match', '--hosts', hostJson(), '--images', q, '--json'];
    } else c.args = ['inspect', `${what}:${p}`, '--json'];
  }

  sparseCase(rng, c) {
    const where = rng.weighted([[5, 'dir'], [3, 'host'], [2, 'facts'], [1, 'bind']]);
    if (where === 'dir') return this.dirTreeCase(rng, c, 'sparse');
    if (where === 'host') return this.hostTree(rng, c, 'sparse');
    if (where === 'bind') {
      const size = rng.pick([300 << 20, 3 * 2 ** 30]);
      const f = path.join(c.dir, 'libhuge.so.1');
      const lib = this.realLib(rng);
      sparse(f, size, lib ? readSlice(lib, 0, 4096) : null);
      c.op = `sparse-bind-${size}`;
      c.args = ['check', `oci:${path.join(this.repo, 'fixtures/sample')}`, '--host', writeFresh(path.join(c.dir, 'h.json'), fs.readFileSync(this.hosts[0].json)), '--bind', f, '--json'];
      return;
    }
    const size = rng.pick([300 << 20, 3 * 2 ** 30, 64 * 2 ** 30]);
    const f = path.join(c.dir, 'huge.json');
    const head = rng.chance(0.5) ? fs.readFileSync(this.hosts[0].json) : Buffer.from('{"schemaVersion":"2.0","kind":"host",');
    sparse(f, size, head);
    c.op = `sparse-facts-${size}`;
    const sample = `oci:${path.join(this.repo, 'fixtures/sample')}`;
    c.args = rng.chance(0.7) ? ['check', sample, '--host', f, '--json'] : ['match', '--hosts', f, '--images', sample, '--json'];
  }

  // ---- same layer many times -------------------------------------------------------------------

  sameLayer(rng, c) {
    const img = this.chooseImage(rng, (i) => i.paths.oci && i.kind !== 'malformed');
    const source = rng.weighted([[5, 'oci'], [img.paths.dockerArchive ? 3 : 0, 'docker'], [img.paths.ociArchive ? 1 : 0, 'oci-archive']]);
    const loaded = this.load(img, source);
    const n = rng.pick([2, 10, 100, 511, 512, 513, 3000]);
    if (source === 'docker') {
      const d = loaded.docker;
      const names = d.layerNames();
      const i = rng.int(names.length);
      const cfg = d.config();
      const ids = cfg?.rootfs?.diff_ids ?? [];
      const unfixed = rng.chance(0.3);
      if (unfixed) {
        // A second member holding a changed copy of the layer, listed with the same diff_id.
        const copyName = `copy${i}/layer.tar`;
        const b = Buffer.from(d.m.get(names[i]));
        const off = rng.int(b.length);
        b[off] ^= 1 + rng.int(255);
        d.m.set(copyName, b);
        d.entry.Layers = [...names, copyName];
        if (Array.isArray(cfg?.rootfs?.diff_ids)) cfg.rootfs.diff_ids = [...ids, ids[i]];
        d.setConfigText(Buffer.from(JSON.stringify(cfg)));
        c.mustExit2 = Array.isArray(cfg?.rootfs?.diff_ids);
        c.op = 'docker-changed-copy-same-diff-id';
      } else {
        d.entry.Layers = [...names, ...Array(n).fill(names[i])];
        if (Array.isArray(cfg?.rootfs?.diff_ids)) cfg.rootfs.diff_ids = [...ids, ...Array(n).fill(ids[i])];
        d.setConfigText(Buffer.from(JSON.stringify(cfg)));
        c.op = `docker-layer-x${n}`;
      }
      const { ref } = this.emit(c.dir, loaded);
      const cmd = this.imageCommand(rng, c.dir, ref, { mustOnly: c.mustExit2 });
      Object.assign(c, cmd);
      return;
    }
    const L = loaded.layout;
    const w = this.walk(img, source, loaded, 'amd64');
    if (!w.manifest || !w.config) {
      const { ref } = this.emit(c.dir, loaded);
      c.op = 'no-manifest';
      Object.assign(c, this.imageCommand(rng, c.dir, ref));
      return;
    }
    const man = L.json(w.manifest);
    const cfg = L.json(w.config);
    const i = rng.int(man.layers.length);
    const interleave = rng.chance(0.3);
    const addL = [];
    const addD = [];
    for (let k = 0; k < n; k++) {
      addL.push(man.layers[interleave ? k % man.layers.length : i]);
      addD.push(cfg.rootfs.diff_ids[interleave ? k % man.layers.length : i]);
    }
    man.layers = [...man.layers, ...addL];
    cfg.rootfs.diff_ids = [...cfg.rootfs.diff_ids, ...addD];
    const cfgBuf = Buffer.from(JSON.stringify(cfg));
    const cfgHex = L.put(cfgBuf);
    man.config.digest = `sha256:${cfgHex}`;
    man.config.size = cfgBuf.length;
    L.replaceDoc(w.manifest, JSON.stringify(man));
    const { ref } = this.emit(c.dir, loaded);
    c.op = `${interleave ? 'interleaved' : 'same'}-layer-x${n}@${source}`;
    Object.assign(c, this.imageCommand(rng, c.dir, ref));
  }

  // ---- dir: trees ------------------------------------------------------------------------------

  dirTreeCase(rng, c, what) {
    const img = this.chooseImage(rng, (i) => i.paths.rootfs);
    const root = path.join(c.dir, 'rootfs');
    linkTree(path.join(this.fixtures, img.paths.rootfs), root);
    const existing = listFiles(root);
    const wanted = [...WANTED_PATHS.filter((p) => existing.has(p)), ...WANTED_PATHS];
    const at = rng.pick(wanted);
    const full = path.join(root, at);
    switch (what) {
      case 'links': {
        const variant = rng.pick(['cycle', 'chain', 'self', 'dir-loop', 'dotdot', 'deep-dirs']);
        if (variant === 'cycle') {
          const n = rng.pick([2, 3, 41]);
          for (let i = 0; i < n; i++) symlinkFresh(i === n - 1 ? `/${at}` : `/loop/l${i + 1}`, i === 0 ? full : path.join(root, `loop/l${i}`));
        } else if (variant === 'chain') {
          const n = rng.pick([39, 40, 41, 500]);
          for (let i = 0; i < n; i++) symlinkFresh(i === n - 1 ? '/bin/busybox' : `/chain/c${i + 1}`, i === 0 ? full : path.join(root, `chain/c${i}`));
        } else if (variant === 'self') symlinkFresh(path.basename(at), full);
        else if (variant === 'dotdot') symlinkFresh(`${'../'.repeat(30)}etc/passwd`, full);
        else if (variant === 'deep-dirs') {
          let d = path.join(root, 'deep');
          for (let i = 0; i < 200; i++) d = path.join(d, 'd');
          mkdirp(d);
          symlinkFresh('../../../../../../..', path.join(d, 'up'));
        } else {
          symlinkFresh('.', path.join(root, 'usr/lib/x86_64-linux-gnu/self'));
          symlinkFresh('..', path.join(root, 'usr/lib/x86_64-linux-gnu/parent'));
          symlinkFresh('/', path.join(root, 'usr/lib/rootlink'));
        }
        c.op = `dir-${variant}@${at}`;
        break;
      }
      case 'special': {
        const kind = rng.pick(['fifo', 'fifo', 'char', 'block', 'socket']);
        if (kind === 'fifo') mkfifo(full);
        else if (kind === 'char') mknod(full, 'c', 1, rng.pick([3, 5, 8, 9]));
        else if (kind === 'block') mknod(full, 'b', 7, rng.pick([0, 200]));
        else mksock(full);
        c.op = `dir-${kind}@${at}`;
        break;
      }
      case 'sparse': {
        const size = rng.pick([64 * 2 ** 30, 2 ** 40, 300 << 20]);
        let head = null;
        if (rng.chance(0.6)) {
          // A real ELF header whose tables are said to lie far out in the hole.
          const elfSrc = ['usr/lib/x86_64-linux-gnu/libc.so.6', 'lib/x86_64-linux-gnu/libc.so.6', 'bin/busybox'].map((p) => path.join(root, p)).find((p) => fs.existsSync(p) && fs.statSync(p).isFile());
          if (elfSrc) {
            head = Buffer.from(readSlice(elfSrc, 0, 4096));
            if (head.length >= 64 && rng.chance(0.5) && head[4] === 2) {
              head.writeBigUInt64LE(BigInt(size - 4096), 32);
              head.writeBigUInt64LE(BigInt(size - 8192), 40);
            }
          }
        }
        sparse(full, size, head);
        c.op = `dir-sparse-${size}${head ? '-elfhead' : ''}@${at}`;
        break;
      }
      default: {
        const files = [...existing].filter((p) => fs.lstatSync(path.join(root, p)).isFile() && /\.so|bin\/|os-release|dpkg\/status/.test(p));
        const p = files.length ? rng.pick(files) : at;
        const data = fs.existsSync(path.join(root, p)) ? fs.readFileSync(path.join(root, p)) : Buffer.from('x');
        const r = mutFileContent(rng, data, p);
        writeFresh(path.join(root, p), r.data);
        c.op = `dir-${r.op}@${p}`;
      }
    }
    Object.assign(c, this.imageCommand(rng, c.dir, `dir:${root}`));
  }

  // ---- host trees ------------------------------------------------------------------------------

  /** Copy a fake host (proc/sys real copies, root hard-linked) and mutate it; run `host`. */
  hostTree(rng, c, what = null) {
    // Small runs copy the hosts with small roots only (the GPU host's root is the CUDA image's).
    const base = rng.pick(this.small ? this.hosts.filter((h) => ['zen', 'bare', 'arm', 'skylake'].includes(h.name)) : this.hosts);
    const h = { proc: path.join(c.dir, 'proc'), sys: path.join(c.dir, 'sys'), root: path.join(c.dir, 'root') };
    copyTree(base.proc, h.proc);
    copyTree(base.sys, h.sys);
    linkTree(base.root, h.root);
    const kind = what ?? rng.weighted([[5, 'content'], [2, 'links'], [2, 'special'], [1, 'sparse'], [2, 'lib-content'], [2, 'conf']]);
    const procFiles = ['cpuinfo', 'sys/kernel/osrelease', 'sys/kernel/arch', 'sys/kernel/hostname', 'meminfo', 'cmdline', 'modules', 'driver/nvidia/version', 'driver/nvidia/gpus/0000:3b:00.0/information', 'sys/fs/binfmt_misc/status', 'sys/fs/binfmt_misc/qemu-aarch64', 'config.gz', 'sys/user/max_user_namespaces'];
    const sysFiles = ['bus/pci/devices/0000:3b:00.0/vendor', 'bus/pci/devices/0000:3b:00.0/class', 'module/nvidia/version', 'module/amdgpu/version', 'class/kfd/kfd/topology/nodes/1/properties', 'devices/system/cpu/cpu0/topology/core_id', 'class/dmi/id/sys_vendor'];
    const rootFiles = ['etc/os-release', 'etc/ld.so.conf', 'etc/ld.so.conf.d/site.conf', 'etc/ld.so.cache', 'etc/environment-modules/modulespath', 'usr/share/modules/modulefiles/openmpi/4.1', 'opt/rocm/.info/version', 'boot/config-5.14.0-362.24.1.el9_3.x86_64', 'var/lib/dpkg/status'];
    const pickFile = () => rng.weighted([[5, () => path.join(h.proc, rng.pick(procFiles))], [2, () => path.join(h.sys, rng.pick(sysFiles))], [3, () => path.join(h.root, rng.pick(rootFiles))]])();
    const rel = (p) => path.relative(c.dir, p);
    switch (kind) {
      case 'content': {
        const f = pickFile();
        const old = fs.existsSync(f) && fs.statSync(f).isFile() ? fs.readFileSync(f) : Buffer.from('');
        const data = rng.weighted([
          [3, () => mutFileContent(rng, old.length ? old : Buffer.from('x\n'), f).data],
          [2, () => rng.bytes(rng.range(0, 3000))],
          [1, () => Buffer.alloc(0)],
          [2, () => Buffer.from(rng.pick([
            '__proto__\n', 'constructor\n', '99999999999999999999.99999.1\n', 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  99999999999999999999.1.1  x\n',
            'NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  535.104.05  Release Build\n', 'processor\t: 0\nflags\t\t: \nmodel name\t: __proto__\n',
            `processor\t: 0\nflags\t\t: ${'avx512f '.repeat(100000)}\n`, 'processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\n\n'.repeat(5000),
            'enabled\ninterpreter /usr/bin/qemu-x\nflags: F\noffset 99999999999\nmagic zz\nmask \n', '0x10de\n', '0x1002\n', 'gfx_target_version 90010\n',
            `ID=rocky\nVERSION_ID="${'9.'.repeat(10000)}"\n`, 'include /etc/ld.so.conf\n', 'include /etc/[\ninclude /etc/(*.conf\ninclude /etc/**/**/**\n',
            'CONFIG_X=y\n'.repeat(300000), '\0\0\0\0', 'MemTotal: 99999999999999999999999 kB\n', 'x86_64\0garbage\n', 'aarch64\n', 'ppc64le\n', 's390x\n',
          ]))],
          [1, () => (f.endsWith('config.gz') ? zlib.gzipSync(Buffer.alloc(rng.pick([1 << 20, 64 << 20]), 'CONFIG_Y=y\n')) : Buffer.from('x'))],
        ])();
        writeFresh(f, data);
        c.op = `host-content@${rel(f)}`;
        break;
      }
      case 'lib-content': {
        const libs = [...listFiles(h.root)].filter((p) => /\.so/.test(p) && fs.lstatSync(path.join(h.root, p)).isFile());
        if (libs.length) {
          const p = rng.pick(libs);
          const r = mutFileContent(rng, fs.readFileSync(path.join(h.root, p)), p);
          writeFresh(path.join(h.root, p), r.data);
          c.op = `host-${r.op}@root/${p}`;
        } else {
          writeFresh(path.join(h.root, 'usr/lib/x86_64-linux-gnu/libc.so.6'), rng.bytes(200));
          c.op = 'host-garbage-libc';
        }
        break;
      }
      case 'links': {
        const variant = rng.pick(['proc-outside', 'proc-loop', 'root-loop', 'conf-include-loop', 'lib-dir-loop', 'modules-loop', 'sys-loop', 'root-outside']);
        if (variant === 'proc-outside') symlinkFresh(rng.pick(['/etc/passwd', '/proc/self/environ', '../../../../../../etc/hostname']), path.join(h.proc, rng.pick(['cpuinfo', 'sys/kernel/osrelease', 'driver/nvidia/version'])));
        else if (variant === 'proc-loop') symlinkFresh('cpuinfo', path.join(h.proc, 'cpuinfo'));
        else if (variant === 'root-loop') {
          symlinkFresh('os-release2', path.join(h.root, 'etc/os-release'));
          symlinkFresh('/etc/os-release', path.join(h.root, 'etc/os-release2'));
        } else if (variant === 'conf-include-loop') {
          writeFresh(path.join(h.root, 'etc/ld.so.conf'), 'include /etc/ld.so.conf\ninclude /etc/ld.so.conf.d/*.conf\n');
          writeFresh(path.join(h.root, 'etc/ld.so.conf.d/a.conf'), 'include /etc/ld.so.conf.d/*.conf\ninclude /etc/ld.so.conf\n/usr/lib/../../../../lib\n');
          for (let i = 0; i < 300; i++) writeFresh(path.join(h.root, `etc/ld.so.conf.d/n${i}.conf`), `include /etc/ld.so.conf.d/n${i + 1}.conf\n/opt/l${i}\n`);
        } else if (variant === 'lib-dir-loop') {
          symlinkFresh('.', path.join(h.root, 'usr/lib/x86_64-linux-gnu/openmpi'));
          symlinkFresh('../lib64', path.join(h.root, 'lib64'));
          symlinkFresh('/usr/local/lib', path.join(h.root, 'usr/local/lib'));
        } else if (variant === 'modules-loop') {
          writeFresh(path.join(h.root, 'etc/environment-modules/modulespath'), '/m\n/m/../m\n/usr/share/modules/modulefiles\n');
          mkdirp(path.join(h.root, 'm'));
          symlinkFresh('/m', path.join(h.root, 'm/self'));
          symlinkFresh('..', path.join(h.root, 'usr/share/modules/modulefiles/up'));
          for (let i = 0; i < 300; i++) writeFresh(path.join(h.root, `m/f${i}`), 'prepend-path LD_LIBRARY_PATH /opt/x/lib\n');
        } else if (variant === 'sys-loop') {
          symlinkFresh('../../../bus/pci/devices', path.join(h.sys, 'bus/pci/devices/0000:00:00.0'));
          symlinkFresh('.', path.join(h.sys, 'class/kfd/kfd/topology/nodes/1'));
        } else symlinkFresh('/', path.join(h.root, 'usr/lib/x86_64-linux-gnu/rootlink'));
        c.op = `host-${variant}`;
        break;
      }
      case 'special': {
        const f = pickFile();
        const k = rng.pick(['fifo', 'fifo', 'char', 'block', 'socket', 'dir']);
        if (k === 'fifo') mkfifo(f);
        else if (k === 'char') mknod(f, 'c', 1, rng.pick([3, 5, 8]));
        else if (k === 'block') mknod(f, 'b', 7, rng.pick([0, 200]));
        else if (k === 'socket') mksock(f);
        else {
          fs.rmSync(f, { force: true, recursive: true });
          mkdirp(f);
        }
        c.op = `host-${k}@${rel(f)}`;
        break;
      }
      case 'sparse': {
        const f = rng.weighted([[3, () => pickFile()], [1, () => path.join(h.root, 'usr/lib/x86_64-linux-gnu/libc.so.6')], [1, () => path.join(h.root, 'usr/local/cuda/compat/libcuda.so.1')]])();
        const size = rng.pick([5 << 20, 17 << 20, 64 * 2 ** 30]);
        sparse(f, size, rng.chance(0.3) ? Buffer.from('processor\t: 0\n') : null);
        c.op = `host-sparse-${size}@${rel(f)}`;
        break;
      }
      default: {
        // ld.so.conf and modulespath shapes
        const variant = rng.pick(['glob-regex', 'many-includes', 'dotdot', 'huge-modulespath', 'cache-garbage']);
        if (variant === 'glob-regex') writeFresh(path.join(h.root, 'etc/ld.so.conf'), rng.pick(['include /etc/ld.so.conf.d/[a-\n', 'include /etc/(\n', 'include /etc/ld.so.conf.d/*.conf*\\\n', 'include ***\n', 'include /\n', 'include\n', 'include /etc/ld.so.conf.d/$(id)\n', 'include /etc/ld.so.conf.d/.*\n']));
        else if (variant === 'many-includes') writeFresh(path.join(h.root, 'etc/ld.so.conf'), Array.from({ length: 5000 }, (_, i) => `include /etc/x${i}/*.conf\n/opt/lib${i}\n`).join(''));
        else if (variant === 'dotdot') writeFresh(path.join(h.root, 'etc/ld.so.conf'), '/../../../../usr/lib\ninclude /../../../../etc/*\n');
        else if (variant === 'huge-modulespath') writeFresh(path.join(h.root, 'etc/environment-modules/modulespath'), Array.from({ length: 20000 }, (_, i) => `/p${i}`).join(':'));
        else {
          const f = path.join(h.root, 'etc/ld.so.cache');
          const b = Buffer.alloc(4096);
          b.write('glibc-ld.so.cache1.1', 0, 'latin1');
          b.writeUInt32LE(rng.pick([0xffffffff, 100000, 1000]), 20);
          for (let i = 48; i < b.length; i += 4) b.writeUInt32LE(rng.int(2 ** 32), i);
          writeFresh(f, rng.chance(0.5) ? b : Buffer.concat([Buffer.from('ld.so-1.7.0'), b]));
        }
        c.op = `host-conf-${variant}`;
      }
    }
    c.args = ['host', '--proc', h.proc, '--sys', h.sys, '--root', h.root];
    if (rng.chance(0.92)) c.args.push('--json');
  }
}

/** Build an entry-bomb layer (concatenated gzip members) and its diff_id. */
function buildBomb(p) {
  const hash = createHash('sha256');
  const members = [];
  let chunk = [];
  let chunkBytes = 0;
  const flush = () => {
    if (!chunk.length) return;
    const b = Buffer.concat(chunk);
    hash.update(b);
    members.push(zlib.gzipSync(b, { level: 1 }));
    chunk = [];
    chunkBytes = 0;
  };
  const push = (b) => {
    chunk.push(b);
    chunkBytes += b.length;
    if (chunkBytes >= 8 << 20) flush();
  };
  const { variant } = p;
  switch (variant) {
    case 'many-entries': {
      const { n, type } = p;
      for (let i = 0; i < n; i++) push(tarHeader({ name: `m/${(i % 1000).toString(36)}/${i.toString(36)}`, type, linkname: type === '2' ? 'x' : '' }));
      break;
    }
    case 'long-paths': {
      const { n, len } = p;
      const base = 'p/'.repeat(len / 2);
      for (let i = 0; i < n; i++) push(tarEntry({ name: `${base}${i}`, data: '' }));
      break;
    }
    case 'long-links': {
      const { n } = p;
      const target = 'l/'.repeat(p.len);
      for (let i = 0; i < n; i++) push(tarEntry({ name: `links/${i}`, type: '2', linkname: target }));
      break;
    }
    case 'many-whiteouts': {
      const { n } = p;
      for (let i = 0; i < n; i++) push(tarHeader({ name: `usr/lib/.wh.x${i.toString(36)}` }));
      push(tarHeader({ name: 'usr/.wh..wh..opq' }));
      break;
    }
    case 'deep-path': {
      const { n } = p;
      push(tarEntry({ name: `${'a/'.repeat(n)}f`, data: 'x' }));
      push(tarEntry({ name: 'etc/os-release', type: '2', linkname: `${'../'.repeat(n)}${'a/'.repeat(n)}f` }));
      break;
    }
    case 'big-file': {
      const { n, at } = p; // MiB
      const head = p.elf ? Buffer.from('\x7fELF\x02\x01\x01', 'latin1') : Buffer.alloc(0);
      push(tarHeader({ name: at, size: n * 1048576 }));
      if (head.length) {
        const first = Buffer.alloc(1 << 20);
        head.copy(first);
        push(first);
      }
      flush();
      const zeros = Buffer.alloc(64 << 20);
      const zgz = zlib.gzipSync(zeros, { level: 9 });
      let left = n * 1048576 - (head.length ? 1 << 20 : 0);
      while (left >= zeros.length) {
        hash.update(zeros);
        members.push(zgz);
        left -= zeros.length;
      }
      if (left > 0) push(Buffer.alloc(left));
      break;
    }
    default: {
      const { n } = p;
      const recs = [];
      for (let i = 0; i < n; i++) recs.push([`x.k${i}`, 'v']);
      push(tarEntry({ name: 'pax-many', data: 'x', pax: recs }));
    }
  }
  push(Buffer.alloc(1024));
  flush();
  return { blob: Buffer.concat(members), diffId: `sha256:${hash.digest('hex')}` };
}

/** A relative symlink target from member `from` to member `to`. */
function relLink(from, to) {
  return path.posix.relative(path.posix.dirname(from), to) || path.posix.basename(to);
}

/** Role of a blob in the walk, for case names (config, manifest, index, layer). */
function blobRole(layout, name, w) {
  const hex = name.slice('blobs/sha256/'.length);
  if (w.config === hex) return 'config';
  if (w.manifest === hex) return 'manifest';
  if (w.docs.includes(hex)) return 'index';
  if (w.layers.some((l) => l.hex === hex)) return 'layer';
  return 'unused-blob';
}

function memberRole(name, loaded) {
  if (loaded.docker) {
    if (name === 'manifest.json') return 'manifest.json';
    if (name === loaded.docker.configName) return 'config';
    if (name.endsWith('layer.tar')) return 'layer';
    return name;
  }
  if (name.startsWith('blobs/sha256/')) return blobRole(loaded.layout, name, loaded.layout.walk('amd64'));
  return name;
}

/** Relative paths of the files and links under a root. */
function listFiles(root) {
  const out = new Set();
  const walk = (rel, depth) => {
    if (depth > 12) return;
    let names;
    try {
      names = fs.readdirSync(path.join(root, rel));
    } catch {
      return;
    }
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      const st = fs.lstatSync(path.join(root, r));
      if (st.isDirectory()) walk(r, depth + 1);
      else out.add(r);
    }
  };
  walk('', 0);
  return out;
}

export const _internal = { parseTar, tarEntry, mutTarHeader, mutTarPax, mutFileContent, mutCodec, linkEntries, Members, Layout, DockerClassic, os };
