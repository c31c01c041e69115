/** Digests (sha256, sha512) and small JSON documents read from blobs. */
import { createHash, type Hash } from 'node:crypto';
import { DigestMismatchError, FormatError } from '../errors/index.js';

/** Largest manifest, index or config read into memory. */
export const JSON_CAP = 8 * 1024 * 1024;

/** Digest algorithms verified (the OCI image spec's registered ones that Node implements). */
export type DigestAlgorithm = 'sha256' | 'sha512';

const DIGEST = /^(sha256):([a-f0-9]{64})$|^(sha512):([a-f0-9]{128})$/;

/** Validate a digest string and split it; a FormatError naming `where` otherwise. */
export function splitDigest(digest: string, where: string): { alg: DigestAlgorithm; hex: string } {
  const m = DIGEST.exec(digest);
  if (!m) throw new FormatError(`invalid digest ${JSON.stringify(digest)} in ${where}`, where);
  return m[1] ? { alg: 'sha256', hex: m[2]! } : { alg: 'sha512', hex: m[4]! };
}

/** A hash for the algorithm a digest names (checked with {@link splitDigest}). */
export function hasherFor(digest: string, where: string): Hash {
  return createHash(splitDigest(digest, where).alg);
}

/** `alg:hex` of a finished hash for the same algorithm as `digest`. */
export function digestOf(hash: Hash, like: string): string {
  return `${like.slice(0, like.indexOf(':'))}:${hash.digest('hex')}`;
}

/** Hash bytes and compare with a digest; throws DigestMismatchError naming `where`. */
export function verifyDigest(data: Buffer, digest: string, where: string): void {
  const { alg } = splitDigest(digest, where);
  const actual = `${alg}:${createHash(alg).update(data).digest('hex')}`;
  if (actual !== digest) throw new DigestMismatchError(where, digest, actual);
}

/** sha256 digest of bytes, `sha256:<hex>`. */
export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Parse JSON read from a blob or file, with a one-line error naming it. */
export function parseJson(data: Buffer, where: string): unknown {
  try {
    return JSON.parse(data.toString('utf8'));
  } catch (e) {
    throw new FormatError(`${where} is not valid JSON (${(e as Error).message})`, where, { cause: e });
  }
}
