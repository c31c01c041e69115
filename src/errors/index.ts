/**
 * One error class per kind of failure. The CLI maps every `ContainerspecError`
 * to exit status 2 and prints its one-line message; anything else is a bug.
 */

/** Base class: an error the user can act on, shown as one line. */
export class ContainerspecError extends Error {
  override name = 'ContainerspecError';
  /** Exit status the CLI uses for this error. */
  readonly exitCode: number = 2;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The command line itself is wrong (unknown flag, bad `--set` key, missing argument). */
export class UsageError extends ContainerspecError {
  override name = 'UsageError';
}

/** An image reference cannot be parsed or names a transport we do not know. */
export class ImageReferenceError extends ContainerspecError {
  override name = 'ImageReferenceError';
}

/** A file or blob that should exist does not (missing blob, missing index.json, missing path). */
export class NotFoundError extends ContainerspecError {
  override name = 'NotFoundError';
  constructor(message: string, readonly path: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Input is malformed: bad JSON, bad tar, truncated compression stream, unsafe path in a tar. */
export class FormatError extends ContainerspecError {
  override name = 'FormatError';
  constructor(message: string, readonly where: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** What kind of stream could not be decoded. */
export type DecodeKind = 'gzip' | 'zstd' | 'tar';

/**
 * A compressed stream or a tar inside a layer could not be decoded. `truncated` tells an early end
 * (a cut download, a short file) from corrupt bytes (null: the decoder cannot tell). Raised by the decoders and the walker, which
 * know which stage failed; callers never need to read the message to tell them apart.
 */
export class DecodeError extends FormatError {
  override name = 'DecodeError';
  constructor(readonly kind: DecodeKind, readonly truncated: boolean | null, where: string, detail: string, options?: { cause?: unknown }) {
    super(
      kind === 'tar'
        ? `malformed tar in ${where}${detail ? ` (${detail})` : ''}`
        : `${truncated === null ? 'truncated or corrupt' : truncated ? 'truncated' : 'corrupt'} ${kind} stream in ${where}${detail ? ` (${detail})` : ''}`,
      where,
      options,
    );
  }
}

/** A blob's content does not hash to the digest that names it. */
export class DigestMismatchError extends ContainerspecError {
  override name = 'DigestMismatchError';
  constructor(
    readonly where: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`digest mismatch in ${where}: expected ${expected}, content hashes to ${actual}`);
  }
}

/** No manifest in an index matches the requested platform. */
export class PlatformError extends ContainerspecError {
  override name = 'PlatformError';
  constructor(readonly wanted: string, readonly present: string[]) {
    super(
      `no image for platform ${wanted}; the index has: ${present.length ? present.join(', ') : '(no platforms)'} (choose one with --platform)`,
    );
  }
}

/** A host facts file or `--set` value is not what we expect. */
export class FactsError extends ContainerspecError {
  override name = 'FactsError';
}

/** Shorten a message to one line. */
export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * A registry could not be reached or refused a request: connection, TLS, timeout, authentication,
 * an answer that is not the registry API. `host` is the registry (`host[:port]`).
 */
export class RegistryError extends ContainerspecError {
  override name = 'RegistryError';
  constructor(message: string, readonly host: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The registry refused the credentials, or wants some and none were found. */
export class AuthError extends RegistryError {
  override name = 'AuthError';
}

/**
 * Charliecloud storage cannot be used: no `$USER` for the default path, a relative
 * `$CH_IMAGE_STORAGE`, an unreadable image directory. `storage` is the storage directory.
 */
export class StorageError extends ContainerspecError {
  override name = 'StorageError';
  constructor(message: string, readonly storage: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * An image in Charliecloud storage is not what containerspec verified when it pulled it: a kept
 * manifest that does not hash to the digest asked for, a kept config or layer that does not hash
 * to its name, or an unpacked tree that changed. `file` names what changed (a path in the download
 * cache, or a path inside the unpacked image); `expected` and `found` are what was recorded and
 * what is there now.
 */
export class StorageChangedError extends StorageError {
  override name = 'StorageChangedError';
  constructor(message: string, storage: string, readonly file: string, readonly expected: string, readonly found: string) {
    super(message, storage);
  }
}

/** A Charliecloud command (`ch-image`, `ch-run`) could not start or failed; `detail` is its last error line. */
export class CharliecloudError extends ContainerspecError {
  override name = 'CharliecloudError';
  constructor(message: string, readonly command: string, readonly status: number | null, readonly detail: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The provenance store cannot be opened or written: an unreachable server, a bad store URL, a
 * directory that cannot be created, a file that is not a SQLite database, a row that does not fit
 * the table. `location` is the store as shown to the user (a PostgreSQL URL without its password).
 */
export class StoreError extends ContainerspecError {
  override name = 'StoreError';
  constructor(message: string, readonly location: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * A Dockerfile cannot be analysed: it does not parse as a Dockerfile, a `FROM` names an `ARG` that
 * has no value, a registry has no such repository or tag for one of its `FROM`s, or it changed while
 * it was being rewritten. `file` is the Dockerfile, `line` the 1-based line (null: the whole file).
 */
export class DockerfileError extends ContainerspecError {
  override name = 'DockerfileError';
  constructor(message: string, readonly file: string, readonly line: number | null, options?: { cause?: unknown }) {
    super(message, options);
  }
}
