/**
 * Root filesystems that are not layered images: `dir:PATH` (an unpacked tree, e.g. a Charliecloud
 * image directory) and `tar:FILE` (a flat rootfs tarball, as `ch-convert -o tar` writes). Both have
 * no manifest and no config; their identity is a digest of their content (see {@link treeDigest}).
 */
import { createHash } from 'node:crypto';
import { createReadStream, type BigIntStats } from 'node:fs';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError, ImageReferenceError, NotFoundError } from '../errors/index.js';
import { limit, overLimit } from '../limits.js';
import { mapLimit } from '../util/limit.js';
import { statIdentity } from '../util/stat-identity.js';
import type { Image } from './types.js';

/** sha256 of a file's bytes, streamed. */
async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The type letter of an lstat result. */
function typeOf(st: Pick<BigIntStats, 'isFile' | 'isDirectory' | 'isSymbolicLink' | 'isCharacterDevice' | 'isBlockDevice' | 'isFIFO' | 'rdev'>): string {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return `char:${Math.floor(Number(st.rdev) / 256)}:${Number(st.rdev) % 256}`;
  if (st.isBlockDevice()) return `block:${Math.floor(Number(st.rdev) / 256)}:${Number(st.rdev) % 256}`;
  if (st.isFIFO()) return 'fifo';
  return 'other';
}

/** Byte-wise comparison of paths (stable across locales). */
const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * Content hashes an earlier listing of the same tree computed, offered to {@link treeListing} so
 * that it reads only the files whose stat identity changed since.
 */
export interface HashReuse {
  /** The sha256 (hex) known for `path` while its stat identity is `identity`, if any. */
  get(path: string, identity: string): string | undefined;
  /** Told of every regular file listed: its identity and hash. */
  seen(path: string, identity: string, sha: string): void;
}

/**
 * The lines {@link treeDigest} hashes, one per entry below `root` (the root itself excluded),
 * sorted by path byte-wise, each without its newline:
 * `PATH \0 TYPE \0 MODE \0 UID:GID \0 LINK-TARGET \0 SHA256-OF-CONTENT`, where PATH is relative
 * with no leading slash, TYPE is file, dir, symlink, fifo, char:MAJ:MIN or block:MAJ:MIN, MODE is
 * the permission bits in octal (with setuid/setgid/sticky), LINK-TARGET is a symlink's target as
 * written (empty otherwise) and the content hash is a regular file's sha256 in hex (empty
 * otherwise). Kept by whoever must later say which entry of a tree changed (Charliecloud pull records).
 */
export async function treeListing(root: string, reuse?: HashReuse): Promise<string[]> {
  const lines: string[] = [];
  const files: { index: number; path: string; size: number; identity: string }[] = [];
  const stack = [''];
  while (stack.length) {
    const rel = stack.pop()!;
    const names = await readdir(join(root, rel));
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      const st = await lstat(join(root, path), { bigint: true });
      const type = typeOf(st);
      const link = st.isSymbolicLink() ? await readlink(join(root, path)) : '';
      lines.push(`${path}\0${type}\0${(Number(st.mode) & 0o7777).toString(8).padStart(4, '0')}\0${st.uid}:${st.gid}\0${link}\0`);
      if (st.isFile()) files.push({ index: lines.length - 1, path, size: Number(st.size), identity: statIdentity(st) });
      if (st.isDirectory()) stack.push(path);
    }
  }
  const total = files.reduce((n, f) => n + f.size, 0);
  if (total > limit('identityBytes')) throw new FormatError(`dir:${root}: its identity would hash ${overLimit('identityBytes', `${total} bytes`)}`, root);
  const hashes = await mapLimit(files, 4, async (f) => {
    const sha = reuse?.get(f.path, f.identity) ?? (await fileSha256(join(root, f.path)));
    reuse?.seen(f.path, f.identity, sha);
    return sha;
  });
  files.forEach((f, i) => (lines[f.index] += hashes[i]!));
  return lines.map((l) => ({ l, p: l.slice(0, l.indexOf('\0')) })).sort((a, b) => byBytes(a.p, b.p)).map((o) => o.l);
}

/** The digest of a {@link treeListing}: `sha256:` of its lines, each followed by a newline. */
export function listingDigest(lines: readonly string[]): string {
  const h = createHash('sha256');
  for (const l of lines) h.update(`${l}\n`);
  return `sha256:${h.digest('hex')}`;
}

/**
 * The content identity of an unpacked root filesystem: `sha256:` of its {@link treeListing}, one
 * line per entry, each followed by a newline. Modification times are not part of it (copies and
 * re-unpacks change them). Any changed file, mode, owner or link changes the digest.
 */
export async function treeDigest(root: string): Promise<string> {
  return listingDigest(await treeListing(root));
}

/** `dir:PATH`: an unpacked root filesystem, walked as one tree layer. */
export function dirImage(ref: string, path: string): Image {
  return {
    ref,
    transport: 'dir',
    manifestDigest: null,
    configDigest: null,
    config: null,
    platform: null,
    layers: [{ kind: 'tree', root: path, where: `directory ${path}` }],
    identity: () => treeDigest(path),
  };
}

/** `tar:FILE`: a flat rootfs tarball, streamed as one uncompressed (or compressed) layer; its identity is the file's sha256. */
export function tarImage(ref: string, file: string, size: number): Image {
  return {
    ref,
    transport: 'tar',
    manifestDigest: null,
    configDigest: null,
    config: null,
    platform: null,
    layers: [
      {
        kind: 'blob',
        digest: null,
        diffId: null,
        mediaType: 'application/x-tar',
        size,
        where: `rootfs tarball ${file}`,
        open: async () => {
          const s = createReadStream(file, { highWaterMark: 512 * 1024 });
          await new Promise<void>((resolve, reject) => {
            s.once('open', () => resolve());
            s.once('error', (e) => reject(new NotFoundError(`cannot read ${file}: ${(e as Error).message}`, file)));
          });
          return s;
        },
      },
    ],
    identity: async () => {
      if (size > limit('identityBytes')) throw new FormatError(`tar:${file}: its identity would hash ${overLimit('identityBytes', `${size} bytes`)}`, file);
      return `sha256:${await fileSha256(file)}`;
    },
  };
}

/**
 * What a directory given as `dir:` is when it is not a root filesystem: an OCI image layout
 * (`oci-layout`, `index.json`), an unpacked `docker save` (`manifest.json` with `repositories` or
 * layer directories), or nothing at all. A wrong input is an error naming what the thing is and the
 * reference to use, never a verdict on an "image" with no files.
 */
export async function assertRootfsDir(ref: string, path: string): Promise<void> {
  const names = await readdir(path);
  if (names.length === 0) throw new ImageReferenceError(`${ref}: ${path} is an empty directory, not a root filesystem: nothing to judge`);
  const has = new Set(names);
  if (has.has('oci-layout') || (has.has('index.json') && has.has('blobs'))) {
    throw new ImageReferenceError(`${ref}: ${path} is an OCI image layout, not a root filesystem: use oci:${path}`);
  }
  if (has.has('manifest.json') && (has.has('repositories') || names.some((n) => /^[0-9a-f]{64}$/.test(n)))) {
    throw new ImageReferenceError(`${ref}: ${path} is an unpacked "docker save" archive, not a root filesystem: use docker-archive: on the tar it came from`);
  }
}

/** The names of the first members of an uncompressed tar (up to `max`), or null when it is compressed or not a tar. Reads headers only. */
async function firstMembers(file: string, max: number): Promise<{ names: string[]; complete: boolean } | null> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const hdr = Buffer.alloc(512);
    const names: string[] = [];
    let pos = 0;
    let longName: string | null = null;
    while (names.length < max) {
      if (pos + 512 > size) return { names, complete: true };
      await fh.read(hdr, 0, 512, pos);
      if (hdr.every((b) => b === 0)) return { names, complete: true };
      if (hdr.subarray(257, 262).toString('latin1') !== 'ustar') return null; // compressed, or not a tar: the walker decides
      const len = parseInt(hdr.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
      if (!Number.isSafeInteger(len) || len < 0) return null;
      const type = String.fromCharCode(hdr[156] || 0x30);
      if (type === 'L' && len <= 65536) {
        const b = Buffer.alloc(len);
        await fh.read(b, 0, len, pos + 512);
        longName = b.toString('utf8').replace(/\0.*$/s, '');
      } else if (type !== 'x' && type !== 'g') {
        const cstr = (o: number, n: number) => hdr.subarray(o, o + n).toString('utf8').replace(/\0.*$/s, '');
        const prefix = cstr(345, 155);
        const name = longName ?? (prefix ? `${prefix}/${cstr(0, 100)}` : cstr(0, 100));
        names.push(name.replace(/^(\.\/)+/, '').replace(/\/+$/, ''));
        longName = null;
      }
      pos += 512 + Math.ceil(len / 512) * 512;
    }
    return { names, complete: false };
  } finally {
    await fh.close();
  }
}

/**
 * Refuse a `tar:` file that is an image archive rather than a flat root filesystem: a `docker save`
 * tar (`manifest.json` with layer tars or `repositories`; Docker 25+ writes an OCI layout beside it)
 * or an OCI archive (`oci-layout`, `index.json`). Archives of images hold a few dozen members, so
 * the first 512 headers decide; a compressed tarball is left to the walker.
 */
export async function assertRootfsTar(ref: string, file: string): Promise<void> {
  const m = await firstMembers(file, 512).catch(() => null);
  if (!m) return;
  const has = new Set(m.names);
  if (m.names.length === 0 && m.complete) throw new ImageReferenceError(`${ref}: ${file} is an empty tar archive, not a root filesystem: nothing to judge`);
  if (has.has('manifest.json') && (has.has('repositories') || m.names.some((n) => /(^|\/)layer\.tar$/.test(n) || n.startsWith('blobs/')))) {
    throw new ImageReferenceError(`${ref}: ${file} is a "docker save" archive, not a root filesystem tarball: use docker-archive:${file}`);
  }
  if (has.has('oci-layout') && has.has('index.json')) {
    throw new ImageReferenceError(`${ref}: ${file} is an OCI image archive, not a root filesystem tarball: use oci-archive:${file}`);
  }
}
