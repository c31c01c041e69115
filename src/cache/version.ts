/**
 * The versions a cache entry is made under. An entry is used only by the same format and the same
 * release that wrote it: a new release may read layers differently, so it starts a fresh cache.
 */

/**
 * The package version (package.json's `version`), as a constant so nothing reads files to know it;
 * test/cache.test.ts checks that the two agree.
 */
export const PACKAGE_VERSION = '0.1.0';

/**
 * The format of layer-facts entries and of the cache layout. Raise it whenever what the walker
 * records for the same bytes and the same wants changes within one release (the walker, the ELF
 * reader, the file sink), or the entry format changes: old entries are then never read again and
 * age out with `cache prune`.
 */
export const CACHE_FORMAT = 1;
