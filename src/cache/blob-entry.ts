/**
 * Small blobs by digest (manifests, configs): stored as their own bytes, which name themselves: an
 * entry is used only when its bytes hash to the digest it is filed under.
 *
 * Layout: `blobs/v<FORMAT>/<ALG>/<HH>/<HEX>` (HH: the first two hex digits).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { CACHE_FORMAT } from './version.js';

const DIGEST = /^(sha256):([a-f0-9]{64})$|^(sha512):([a-f0-9]{128})$/;

/** Where the blob named `digest` lives under `root`, or null when `digest` is not a sha256 / sha512 digest. */
export function blobEntryPath(root: string, digest: string): string | null {
  const m = DIGEST.exec(digest);
  if (!m) return null;
  const [alg, hex] = m[1] ? [m[1], m[2]!] : [m[3]!, m[4]!];
  return join(root, 'blobs', `v${CACHE_FORMAT}`, alg, hex.slice(0, 2), hex);
}

/** Whether `data` hashes to `digest` (a sha256 or sha512 digest). */
export function bytesMatch(data: Buffer, digest: string): boolean {
  const i = digest.indexOf(':');
  const alg = digest.slice(0, i);
  if (alg !== 'sha256' && alg !== 'sha512') return false;
  return `${alg}:${createHash(alg).update(data).digest('hex')}` === digest;
}
