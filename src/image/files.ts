/**
 * Named files of a local image store: an OCI layout directory, or an uncompressed tar archive
 * (oci-archive, docker-archive) indexed by its headers so members stream from byte ranges of the
 * file. The sources built on these (oci-layout.ts, docker-archive.ts) turn names into blobs.
 */
import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { FormatError, NotFoundError } from '../errors/index.js';
import { limit } from '../limits.js';
import { indexTar, type TarMember } from './tar-index.js';

/** Chunk size for streaming layer blobs from disk: fewer reads and callbacks on the main thread. */
const READ_CHUNK = 512 * 1024;

/** Named files of a local store. */
export interface FileStore {
  /** How to name the store in messages. */
  readonly label: string;
  /** Read a small named file whole, at most `max` bytes; null when absent. */
  read(name: string, max: number): Promise<Buffer | null>;
  /** Size of a named file; null when absent. */
  size(name: string): Promise<number | null>;
  /** Stream a named file; a NotFoundError naming `what` when absent. */
  open(name: string, what: string): Promise<Readable>;
  /** Where a name is, for messages (`DIR/blobs/sha256/…`, `FILE:blobs/sha256/…`). */
  locate(name: string): string;
  /**
   * What a name's bytes physically are within the store, after links are followed: two names
   * with the same answer stream the same bytes. Null when absent.
   */
  identity(name: string): Promise<string | null>;
}

function tooLarge(label: string, name: string, size: number): FormatError {
  return new FormatError(`${label}: ${name} is too large (${size} bytes)`, name);
}

/** The files of a directory (an OCI layout). */
export class DirFiles implements FileStore {
  constructor(readonly root: string, readonly label: string) {}

  locate(name: string): string {
    return join(this.root, name);
  }

  async size(name: string): Promise<number | null> {
    try {
      const st = await stat(this.locate(name));
      return st.isFile() ? st.size : null;
    } catch {
      return null;
    }
  }

  async read(name: string, max: number): Promise<Buffer | null> {
    const size = await this.size(name);
    if (size === null) return null;
    if (size > max) throw tooLarge(this.label, name, size);
    return readFile(this.locate(name));
  }

  async identity(name: string): Promise<string | null> {
    try {
      const st = await stat(this.locate(name));
      return st.isFile() ? `${st.dev}:${st.ino}` : null;
    } catch {
      return null;
    }
  }

  async open(name: string, what: string): Promise<Readable> {
    const file = this.locate(name);
    if ((await this.size(name)) === null) throw new NotFoundError(`missing ${what}: ${name} in ${this.label}`, file);
    return createReadStream(file, { highWaterMark: READ_CHUNK });
  }
}

/** The members of an uncompressed tar archive, found by reading only its headers. */
export class TarFiles implements FileStore {
  private constructor(readonly file: string, private readonly members: Map<string, TarMember>, readonly label: string) {}

  /** Index an archive file. */
  static async open(file: string, label: string): Promise<TarFiles> {
    return new TarFiles(file, await indexTar(file), label);
  }

  locate(name: string): string {
    return `${this.file}:${name}`;
  }

  /** The member a name means, following symlinks and hard links inside the archive (docker save uses them for shared layers). */
  private member(name: string): TarMember | undefined {
    const clean = (n: string) => n.replace(/^(\.\/)+/, '');
    let cur = clean(name);
    let m = this.members.get(cur);
    const hops = limit('linkHops');
    for (let i = 0; m && (m.type === '1' || m.type === '2') && i < hops; i++) {
      cur = clean(m.type === '2' ? posix.join(posix.dirname(cur), m.linkname) : m.linkname);
      m = this.members.get(cur);
    }
    return m && m.type !== '1' && m.type !== '2' ? m : undefined;
  }

  async size(name: string): Promise<number | null> {
    return this.member(name)?.size ?? null;
  }

  async identity(name: string): Promise<string | null> {
    const m = this.member(name);
    return m ? `${m.offset}+${m.size}` : null;
  }

  async read(name: string, max: number): Promise<Buffer | null> {
    const m = this.member(name);
    if (!m) return null;
    if (m.size > max) throw tooLarge(this.label, name, m.size);
    const fh = await open(this.file, 'r');
    try {
      const buf = Buffer.alloc(m.size);
      await fh.read(buf, 0, m.size, m.offset);
      return buf;
    } finally {
      await fh.close();
    }
  }

  async open(name: string, what: string): Promise<Readable> {
    const m = this.member(name);
    if (!m) throw new NotFoundError(`missing ${what}: ${name} in ${this.label}`, this.locate(name));
    if (m.size === 0) return Readable.from([]); // an empty member: an empty stream
    return createReadStream(this.file, { start: m.offset, end: m.offset + m.size - 1, highWaterMark: READ_CHUNK });
  }
}
