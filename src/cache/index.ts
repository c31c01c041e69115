/**
 * The layer-facts cache (DESIGN.md, cache/): layer scans by layer digest, small blobs by digest,
 * under the XDG cache directory, written atomically, only for verified bytes, kept bounded by
 * `cache prune`.
 */
export { defaultCacheDir } from './dir.js';
export { FactsCache, openCache, type CacheOptions, type CacheStats } from './facts-cache.js';
export { layerKey, type CachedScan, type LayerKey } from './layer-entry.js';
export { imageKey, type ImageKey } from './image-entry.js';
export { scanFingerprint, SCAN_LIMITS } from './fingerprint.js';
export { pruneCache, parseSize, DEFAULT_MAX_CACHE_BYTES, STALE_TEMP_MS, type PruneOptions, type PruneResult } from './prune.js';
export { CACHE_FORMAT, PACKAGE_VERSION } from './version.js';
