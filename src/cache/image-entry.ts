/**
 * One image-facts entry: the facts of a whole image by its manifest digest, so that a second inspect
 * of an image (any reference to the same manifest) runs no extractor at all. The manifest digest
 * names the config and every layer, so the facts are a function of it, of the code (format,
 * release, build) and of every limit (the entries limit decides whether an inspect succeeds). The file records its key and format; anything else is a miss, never an error.
 *
 * Layout: `images/v<FORMAT>/<FP16>/<ALG>/<HH>/<HEX>@facts.json`.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { LIMITS, limit } from '../limits.js';
import { FACTS_SCHEMA_VERSION, type ImageFacts } from '../model/facts.js';
import { buildStamp } from './fingerprint.js';
import { CACHE_FORMAT, PACKAGE_VERSION } from './version.js';

/** The `format` string every image entry carries. */
export const IMAGE_ENTRY_FORMAT = 'containerspec-image-facts';

const DIGEST = /^(sha256):([a-f0-9]{64})$|^(sha512):([a-f0-9]{128})$/;

/** What names one image-facts entry. */
export interface ImageKey {
  /** The image manifest's digest. */
  readonly digest: string;
  /** The code's fingerprint and every limit in effect, hashed: 64 hex digits. */
  readonly fingerprint: string;
}

/**
 * The key of an image's facts: its manifest digest, and a fingerprint of the code (cache format,
 * release, build time: what the extractors and the walker are) and of every limit. Null for a digest
 * that is not one. It needs no extractor's declared wants, so that a hit loads no extractor: any
 * change of the wants is a change of the code, hence of the build.
 */
export function imageKey(manifestDigest: string): ImageKey | null {
  if (!DIGEST.test(manifestDigest)) return null;
  const limits = Object.fromEntries(LIMITS.map((l) => [l.key, limit(l.key)]));
  const fingerprint = createHash('sha256').update(JSON.stringify({ format: CACHE_FORMAT, version: PACKAGE_VERSION, build: buildStamp(), limits })).digest('hex');
  return { digest: manifestDigest, fingerprint };
}

/** Where the entry for `key` lives under the cache directory `root`. */
export function imageEntryPath(root: string, key: ImageKey): string {
  const m = DIGEST.exec(key.digest)!;
  const [alg, hex] = m[1] ? [m[1], m[2]!] : [m[3]!, m[4]!];
  return join(root, 'images', `v${CACHE_FORMAT}`, key.fingerprint.slice(0, 16), alg, hex.slice(0, 2), `${hex}@facts.json`);
}

/** The bytes of the entry for `key`. */
export function encodeImageEntry(key: ImageKey, facts: ImageFacts): string {
  return JSON.stringify({ format: IMAGE_ENTRY_FORMAT, version: CACHE_FORMAT, key, facts });
}

/** The facts of an entry for exactly `key`, or null when the bytes are not one. Never throws. */
export function decodeImageEntry(data: Buffer, key: ImageKey): ImageFacts | null {
  let v: { format?: unknown; version?: unknown; key?: { digest?: unknown; fingerprint?: unknown }; facts?: Partial<ImageFacts> };
  try {
    v = JSON.parse(data.toString('utf8')) as typeof v;
  } catch {
    return null;
  }
  if (!v || typeof v !== 'object' || v.format !== IMAGE_ENTRY_FORMAT || v.version !== CACHE_FORMAT) return null;
  if (v.key?.digest !== key.digest || v.key?.fingerprint !== key.fingerprint) return null;
  const f = v.facts;
  if (!f || typeof f !== 'object' || f.kind !== 'image' || f.schemaVersion !== FACTS_SCHEMA_VERSION || f.digest !== key.digest) return null;
  if (!Array.isArray(f.layers) || !Array.isArray(f.warnings) || !f.platform || typeof f.platform !== 'object') return null;
  return f as ImageFacts;
}
