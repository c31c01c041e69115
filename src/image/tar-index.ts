import { open } from 'node:fs/promises';
import { FormatError, NotFoundError } from '../errors/index.js';

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
    // base-256 (GNU) for big sizes
    let n = 0;
    for (let i = 1; i < field.length; i++) n = n * 256 + (field[i] ?? 0);
    return n;
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

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(data.subarray(i, sp).toString('latin1'), 10);
    if (!Number.isFinite(len) || len <= 0 || i + len > data.length) break;
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/**
 * Index the members of an uncompressed tar archive (an oci-archive or docker-archive) by
 * reading only its headers, so blobs can later be streamed from byte ranges of the file.
 * Handles PAX and GNU long names. A corrupt header is a FormatError naming the file.
 */
export async function indexTar(file: string): Promise<Map<string, TarMember>> {
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
    let pax: Record<string, string> = {};
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
        else if (typeflag === 'x') pax = parsePax(data);
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
      const realSize = pax.size ? Number(pax.size) : size;
      name = name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
      members.set(name, { name, offset: dataStart, size: realSize, type: typeflag, linkname });
      longName = null;
      longLink = null;
      pax = {};
      pos = next;
    }
  } finally {
    await fh.close();
  }
  return members;
}
