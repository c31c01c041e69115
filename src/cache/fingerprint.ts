/**
 * What, besides a layer's bytes, decides what its scan holds: the cache format, the release, the
 * extractors' declared wants and the limits the walker applies while it streams. Two reads with the
 * same fingerprint make equal scans of the same bytes, so an entry is used only under its own.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { WantSet } from '../layers/wants.js';
import { limit, type LimitKey } from '../limits.js';
import { CACHE_FORMAT, PACKAGE_VERSION } from './version.js';

/**
 * The limits the layer walker consults per layer (src/layers/scan.ts, paths.ts, file-sink.ts): a
 * different value can change a scan or make it fail. `entries` is not here: it is counted across
 * an image, and a cached layer still counts its entries. A limit the walker starts to consult
 * belongs here.
 */
export const SCAN_LIMITS: readonly LimitKey[] = ['pathLength', 'keptBytesPerFile', 'scannedBytesPerFile'];

let build: number | null = null;

/**
 * When this build of the code was made: the modification time of the compiled extractor list. A
 * build (tsc) rewrites every file, so a developer's changed extractor or walker never meets facts a
 * former build cached under the same release number; an installed package keeps its files' times,
 * so its cache lasts. 0 when the file cannot be read.
 */
export function buildStamp(): number {
  if (build === null) {
    try {
      build = statSync(fileURLToPath(new URL('../extract/index.js', import.meta.url))).mtimeMs;
    } catch {
      build = 0;
    }
  }
  return build;
}

/** The fingerprint of scans made now with `wants`, under the limits in effect: 64 hex digits. */
export function scanFingerprint(wants: WantSet): string {
  const parts = {
    format: CACHE_FORMAT,
    version: PACKAGE_VERSION,
    build: buildStamp(),
    wants: wants.fingerprint(),
    limits: Object.fromEntries(SCAN_LIMITS.map((k) => [k, limit(k)])),
  };
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}
