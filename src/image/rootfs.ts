/**
 * Root filesystems that are not layered images: `dir:PATH` (an unpacked tree, e.g. a Charliecloud
 * image directory) and `tar:FILE` (a flat rootfs tarball, as `ch-convert -o tar` writes). Both have
 * no manifest and no config; their identity is a digest of their content (see {@link treeDigest}).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError, NotFoundError } from '../errors/index.js';
import { limit, overLimit } from '../limits.js';
import { mapLimit } from '../util/limit.js';
import type { Image } from './types.js';

/** sha256 of a file's bytes, streamed. */
async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The type letter of an lstat result. */
function typeOf(st: Awaited<ReturnType<typeof lstat>>): string {
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
 * The lines {@link treeDigest} hashes, one per entry below `root` (the root itself excluded),
 * sorted by path byte-wise, each without its newline:
 * `PATH \0 TYPE \0 MODE \0 UID:GID \0 LINK-TARGET \0 SHA256-OF-CONTENT`, where PATH is relative
 * with no leading slash, TYPE is file, dir, symlink, fifo, char:MAJ:MIN or block:MAJ:MIN, MODE is
 * the permission bits in octal (with setuid/setgid/sticky), LINK-TARGET is a symlink's target as
 * written (empty otherwise) and the content hash is a regular file's sha256 in hex (empty
 * otherwise). Kept by whoever must later say which entry of a tree changed (Charliecloud pull records).
 */
export async function treeListing(root: string): Promise<string[]> {
  const lines: string[] = [];
  const files: { index: number; path: string; size: number }[] = [];
  const stack = [''];
  while (stack.length) {
    const rel = stack.pop()!;
    const names = await readdir(join(root, rel));
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      const st = await lstat(join(root, path));
      const type = typeOf(st);
      const link = st.isSymbolicLink() ? await readlink(join(root, path)) : '';
      lines.push(`${path}\0${type}\0${(st.mode & 0o7777).toString(8).padStart(4, '0')}\0${st.uid}:${st.gid}\0${link}\0`);
      if (st.isFile()) files.push({ index: lines.length - 1, path, size: st.size });
      if (st.isDirectory()) stack.push(path);
    }
  }
  const total = files.reduce((n, f) => n + f.size, 0);
  if (total > limit('identityBytes')) throw new FormatError(`dir:${root}: its identity would hash ${overLimit('identityBytes', `${total} bytes`)}`, root);
  const hashes = await mapLimit(files, 4, (f) => fileSha256(join(root, f.path)));
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
