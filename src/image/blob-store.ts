import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DigestMismatchError, FormatError, NotFoundError } from '../errors/index.js';
import type { LayerLocation } from './types.js';
import { indexTar, type TarMember } from './tar-index.js';

/** Largest manifest, index or config we read into memory. */
export const JSON_CAP = 8 * 1024 * 1024;

/** Validate a digest string and split it. */
export function splitDigest(digest: string, where: string): { alg: string; hex: string } {
  const m = /^(sha256):([a-f0-9]{64})$/.exec(digest) ?? /^(sha512):([a-f0-9]{128})$/.exec(digest);
  if (!m) throw new FormatError(`invalid digest ${JSON.stringify(digest)} in ${where}`, where);
  return { alg: m[1]!, hex: m[2]! };
}

/** Hash bytes and compare with a digest; throws DigestMismatchError. */
export function verifyDigest(data: Buffer, digest: string, where: string): void {
  const { alg } = splitDigest(digest, where);
  const actual = `${alg}:${createHash(alg).update(data).digest('hex')}`;
  if (actual !== digest) throw new DigestMismatchError(where, digest, actual);
}

/** Parse JSON read from a blob or file, with a one-line error naming it. */
export function parseJson(data: Buffer, where: string): unknown {
  try {
    return JSON.parse(data.toString('utf8'));
  } catch (e) {
    throw new FormatError(`${where} is not valid JSON (${(e as Error).message})`, where, { cause: e });
  }
}

/** Content-addressed storage of an OCI layout or archive: files by name, blobs by digest. */
export interface BlobStore {
  /** How to name this store in messages, e.g. `oci:fixtures/x`. */
  readonly label: string;
  /** Read a small named file (index.json, manifest.json); null when absent. */
  readFile(name: string): Promise<Buffer | null>;
  /** Where a named file lies; throws NotFoundError when absent. */
  fileLocation(name: string, what: string): Promise<LayerLocation & { length: number }>;
  /** Read a small blob and verify its digest. */
  readBlob(digest: string, what: string): Promise<Buffer>;
  /** Where a blob lies (for streaming); throws NotFoundError when absent. */
  blobLocation(digest: string, what: string): Promise<LayerLocation & { length: number }>;
}

/** An OCI layout directory. */
export class DirBlobStore implements BlobStore {
  constructor(readonly root: string, readonly label: string) {}

  async readFile(name: string): Promise<Buffer | null> {
    try {
      const st = await stat(join(this.root, name));
      if (st.size > JSON_CAP) throw new FormatError(`${this.label}: ${name} is too large (${st.size} bytes)`, name);
      return await readFile(join(this.root, name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
      throw e;
    }
  }

  async fileLocation(name: string, what: string) {
    const file = join(this.root, name);
    try {
      const st = await stat(file);
      return { file, start: 0, length: st.size };
    } catch {
      throw new NotFoundError(`missing ${what}: ${name} in ${this.label}`, file);
    }
  }

  async blobLocation(digest: string, what: string) {
    const { alg, hex } = splitDigest(digest, `${what} of ${this.label}`);
    return this.fileLocation(join('blobs', alg, hex), `blob ${digest} (${what})`);
  }

  async readBlob(digest: string, what: string): Promise<Buffer> {
    const loc = await this.blobLocation(digest, what);
    if (loc.length > JSON_CAP) throw new FormatError(`${what} ${digest} in ${this.label} is too large (${loc.length} bytes)`, loc.file);
    const data = await readFile(loc.file);
    verifyDigest(data, digest, `${what} ${digest} of ${this.label}`);
    return data;
  }
}

/** An uncompressed tar archive holding an OCI layout or a docker save (indexed by headers). */
export class TarBlobStore implements BlobStore {
  private constructor(readonly file: string, readonly members: Map<string, TarMember>, readonly label: string) {}

  /** Index an archive file. */
  static async open(file: string, label: string): Promise<TarBlobStore> {
    return new TarBlobStore(file, await indexTar(file), label);
  }

  private member(name: string): TarMember | undefined {
    let m = this.members.get(name.replace(/^\.\//, ''));
    // follow symlinks / hard links inside the archive (docker save uses them for shared layers)
    for (let i = 0; m && (m.type === '1' || m.type === '2') && i < 8; i++) {
      const target = m.type === '2' ? join(name, '..', m.linkname).replace(/^\.\//, '') : m.linkname;
      m = this.members.get(target.replace(/^\.\//, ''));
    }
    return m;
  }

  async readFile(name: string): Promise<Buffer | null> {
    const m = this.member(name);
    if (!m) return null;
    if (m.size > JSON_CAP) throw new FormatError(`${this.label}: ${name} is too large (${m.size} bytes)`, name);
    const { open } = await import('node:fs/promises');
    const fh = await open(this.file, 'r');
    try {
      const buf = Buffer.alloc(m.size);
      await fh.read(buf, 0, m.size, m.offset);
      return buf;
    } finally {
      await fh.close();
    }
  }

  async fileLocation(name: string, what: string) {
    const m = this.member(name);
    if (!m) throw new NotFoundError(`missing ${what}: ${name} in ${this.label}`, `${this.file}:${name}`);
    return { file: this.file, start: m.offset, length: m.size };
  }

  async blobLocation(digest: string, what: string) {
    const { alg, hex } = splitDigest(digest, `${what} of ${this.label}`);
    return this.fileLocation(`blobs/${alg}/${hex}`, `blob ${digest} (${what})`);
  }

  async readBlob(digest: string, what: string): Promise<Buffer> {
    const { alg, hex } = splitDigest(digest, `${what} of ${this.label}`);
    const data = await this.readFile(`blobs/${alg}/${hex}`);
    if (!data) throw new NotFoundError(`missing blob ${digest} (${what}) in ${this.label}`, `${this.file}:blobs/${alg}/${hex}`);
    verifyDigest(data, digest, `${what} ${digest} of ${this.label}`);
    return data;
  }
}
