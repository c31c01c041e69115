import { open, stat } from 'node:fs/promises';
import { FormatError, NotFoundError } from '../errors/index.js';
import { limit, overLimit } from '../limits.js';
import { dict } from '../util/own.js';

/** Where a member's data lies inside an uncompressed tar file. */
export interface TarMember {
  name: string;
  offset: number;
  size: number;
  type: string;
  linkname: string;
}

function parseOctal(buf: Buffer, off: number, len: number): number {
  const field = buf.subarray(off, off + len);
  if ((field[0] ?? 0) & 0x80) {
    // base-256 (GNU) for big sizes; a set sign bit (0xff...) is a negative number: not a size
    if ((field[0] ?? 0) & 0x40) return NaN;
    let n = (field[0] ?? 0) & 0x3f;
    for (let i = 1; i < field.length; i++) n = n * 256 + (field[i] ?? 0);
    return Number.isSafeInteger(n) ? n : NaN;
  }
  const s = field.toString('latin1').replace(/\0.*$/s, '').trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) return NaN;
  return parseInt(s, 8);
}

function cstr(buf: Buffer, off: number, len: number): string {
  const f = buf.subarray(off, off + len);
  const z = f.indexOf(0);
  return f.subarray(0, z < 0 ? f.length : z).toString('utf8');
}

/**
 * PAX extended header records (`LEN KEY=VALUE\n`); a record whose length does not fit is a
 * FormatError naming `where`. Keys land in an object without a prototype.
 */
export function parsePax(data: Buffer, where: string): Record<string, string> {
  const out = dict<string>();
  let i = 0;
  while (i < data.length) {
    if (data[i] === 0) break; // NUL padding after the records
    const sp = data.indexOf(0x20, i);
    const lenText = sp < 0 ? '' : data.subarray(i, sp).toString('latin1');
    const len = /^[0-9]{1,9}$/.test(lenText) ? Number(lenText) : NaN;
    if (!(len > sp - i + 1) || i + len > data.length || data[i + len - 1] !== 0x0a) {
      throw new FormatError(`${where}: bad PAX record at byte ${i} of its extended header`, where);
    }
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/** A PAX `size` value: digits only, a safe integer; null when it is anything else. */
export function paxSize(v: string | undefined): number | null {
  if (v === undefined) return null;
  if (!/^[0-9]{1,16}$/.test(v)) return NaN;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : NaN;
}

/**
 * Index the members of an uncompressed tar archive (an oci-archive or docker-archive) by
 * reading only its headers, so blobs can later be streamed from byte ranges of the file.
 * Handles PAX and GNU long names. A corrupt header is a FormatError naming the file.
 */
export async function indexTar(file: string): Promise<Map<string, TarMember>> {
  // Only a regular file: a FIFO or device would block or never end.
  const st = await stat(file).catch(() => null);
  if (st && !st.isFile()) throw new FormatError(`${file} is not a regular file`, file);
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new NotFoundError(`no such archive: ${file}`, file);
    throw new FormatError(`cannot open ${file}: ${err.message}`, file, { cause: e });
  }
  const members = new Map<string, TarMember>();
  try {
    const { size: fileSize } = await fh.stat();
    const hdr = Buffer.alloc(512);
    let pos = 0;
    let longName: string | null = null;
    let longLink: string | null = null;
    let pax: Record<string, string> = dict<string>();
    let zeroBlocks = 0;
    for (;;) {
      if (pos + 512 > fileSize) {
        if (members.size === 0) throw new FormatError(`${file} is not a tar archive (no complete header)`, file);
        break; // tolerate a missing end-of-archive marker
      }
      await fh.read(hdr, 0, 512, pos);
      if (hdr.every((b) => b === 0)) {
        if (++zeroBlocks >= 2) break;
        pos += 512;
        continue;
      }
      zeroBlocks = 0;
      // checksum
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : hdr[i]!;
      const want = parseOctal(hdr, 148, 8);
      if (want !== sum) throw new FormatError(`${file} is not a valid tar archive (bad header checksum at byte ${pos})`, file);
      const size = parseOctal(hdr, 124, 12);
      if (!Number.isFinite(size) || size < 0) throw new FormatError(`${file}: bad size field at byte ${pos}`, file);
      const typeflag = String.fromCharCode(hdr[156] || 0x30);
      const dataStart = pos + 512;
      if (dataStart + size > fileSize) throw new FormatError(`${file} is truncated (member at byte ${pos} runs past the end)`, file);
      const next = dataStart + Math.ceil(size / 512) * 512;
      if (typeflag === 'L' || typeflag === 'K' || typeflag === 'x' || typeflag === 'g') {
        if (size > 1024 * 1024) throw new FormatError(`${file}: oversized extended header at byte ${pos}`, file);
        const data = Buffer.alloc(size);
        await fh.read(data, 0, size, dataStart);
        if (typeflag === 'L') longName = cstr(data, 0, size);
        else if (typeflag === 'K') longLink = cstr(data, 0, size);
        else if (typeflag === 'x') pax = parsePax(data, `${file} (member header at byte ${pos})`);
        pos = next;
        continue;
      }
      let name = cstr(hdr, 0, 100);
      const magic = hdr.subarray(257, 263).toString('latin1');
      if (magic.startsWith('ustar')) {
        const prefix = cstr(hdr, 345, 155);
        if (prefix) name = `${prefix}/${name}`;
      }
      if (longName !== null) name = longName;
      if (pax.path) name = pax.path;
      let linkname = cstr(hdr, 157, 100);
      if (longLink !== null) linkname = longLink;
      if (pax.linkpath) linkname = pax.linkpath;
      const fromPax = paxSize(pax.size);
      if (fromPax !== null && Number.isNaN(fromPax)) throw new FormatError(`${file}: bad PAX size ${JSON.stringify(pax.size)} for the member at byte ${pos}`, file);
      const realSize = fromPax ?? size;
      if (dataStart + realSize > fileSize) throw new FormatError(`${file} is truncated (member at byte ${pos} runs past the end)`, file);
      name = name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
      if (members.size >= limit('archiveMembers')) throw new FormatError(`${file}: ${overLimit('archiveMembers', `more than ${members.size} members`)}`, file);
      members.set(name, { name, offset: dataStart, size: realSize, type: typeflag, linkname });
      longName = null;
      longLink = null;
      pax = dict<string>();
      pos = dataStart + Math.ceil(realSize / 512) * 512;
    }
  } finally {
    await fh.close();
  }
  return members;
}
