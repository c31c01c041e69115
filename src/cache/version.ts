/**
 * The versions a cache entry is made under. An entry is used only by the same format and the same
 * release that wrote it: a new release may read layers differently, so it starts a fresh cache.
 */

export { PACKAGE_VERSION } from '../util/package-version.js';

/**
 * The format of layer-facts entries and of the cache layout. Raise it whenever what the walker
 * records for the same bytes and the same wants changes within one release (the walker, the ELF
 * reader, the file sink), or the entry format changes: old entries are then never read again and
 * age out with `cache prune`.
 */
export const CACHE_FORMAT = 1;
