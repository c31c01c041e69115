/**
 * The package version (package.json's `version`), as a constant so that nothing reads files to know
 * it (the CLI's --version, the cache's fingerprint, the annotations of attached artifacts);
 * test/cache.test.ts checks that the two agree.
 */
export const PACKAGE_VERSION = '0.1.0';
