/**
 * Charliecloud's storage directory, as `ch-image` 0.31 lays it out (lib/filesystem.py `Storage`,
 * lib/image.py `Reference`): where it is, how an image name becomes a file name under `img/` and
 * back, which files the download cache `dlcache/` keeps for an image, and which images are there.
 * Nothing here runs Charliecloud or reads an image's content.
 *
 * Layout (storage version 5):
 * - `img/NAME` – each image unpacked, NAME written with `/` as `%` and `:` as `+`
 *   (`127.0.0.1:5000/lab/app:1` is `img/127.0.0.1+5000%lab%app+1`); with the build cache on, a
 *   git worktree (a `.git` file, `.gitignore`) with Charliecloud's metadata in `ch/`
 *   (`metadata.json`, `environment`, `config.pulled.json`, `git.pickle`).
 * - `dlcache/NAME.fat.json` – the answer to the first manifest request for NAME: the index of a
 *   multi-platform image, or the manifest itself for a single-platform one.
 * - `dlcache/NAME%HEX.manifest.json` – the platform manifest picked from the index (HEX its
 *   digest), or `dlcache/NAME%skinny.manifest.json` for a single-platform image.
 * - `dlcache/HEX.json` – config blobs, `dlcache/HEX.tar.gz` – layer blobs (whatever their
 *   compression), shared by every image, named by the hex of their sha256 digest.
 * - `bucache/` (the build cache, a git repository), `bularge/`, `ulcache/`, `imgtmp/`, `lock`, `version`.
 */
import { readdir, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { ImageReferenceError, StorageError } from '../errors/index.js';

/** Where to look for the storage directory. */
export interface StorageOptions {
  /** The storage directory (`ch-image -s DIR`); relative to the working directory. */
  storage?: string | undefined;
  /** The environment to read `$CH_IMAGE_STORAGE` and `$USER` from; default: this process's. */
  env?: NodeJS.ProcessEnv | undefined;
}

/** The user name Charliecloud's default storage path is made of: `$USER`, else the login name. */
export function storageUser(env: NodeJS.ProcessEnv = process.env): string {
  const user = env.USER;
  if (user !== undefined && user !== '') return user;
  try {
    return userInfo().username;
  } catch {
    throw new StorageError('cannot tell the Charliecloud storage directory: $USER is not set (set it, $CH_IMAGE_STORAGE or the storage option)', '/var/tmp/$USER.ch');
  }
}

/**
 * The storage directory, chosen as `ch-image` chooses it: the explicit option (made absolute
 * against the working directory), else `$CH_IMAGE_STORAGE` (which must be absolute, as ch-image
 * requires), else `/var/tmp/$USER.ch`. Reads nothing from disk.
 */
export function storageDir(opts: StorageOptions = {}): string {
  const env = opts.env ?? process.env;
  if (opts.storage !== undefined && opts.storage !== '') return resolve(opts.storage);
  if (env.CH_GROW_STORAGE !== undefined) {
    throw new StorageError('$CH_GROW_STORAGE is set: Charliecloud no longer reads it; use $CH_IMAGE_STORAGE', env.CH_GROW_STORAGE);
  }
  const fromEnv = env.CH_IMAGE_STORAGE;
  if (fromEnv !== undefined) {
    if (!isAbsolute(fromEnv)) throw new StorageError(`$CH_IMAGE_STORAGE is not an absolute path: ${JSON.stringify(fromEnv)} (ch-image refuses it too)`, fromEnv);
    return resolve(fromEnv);
  }
  return `/var/tmp/${storageUser(env)}.ch`;
}

/** An image name as Charliecloud 0.31 parses it: `[HOST[:PORT]/][PATH/]NAME[:TAG|@sha256:HEX]`. */
export interface ChImageName {
  /** Registry host, when the name has one (a first component with a dot or a port). */
  host: string | null;
  port: number | null;
  /** Path components between the host and the name. */
  path: string[];
  name: string;
  tag: string | null;
  /** The hex digits after `@sha256:`, as written. */
  digest: string | null;
}

// Charliecloud 0.31's GRAMMAR_IMAGE_REF: a tag or a digest, never both.
const NAME_RE = /^(?:([A-Za-z0-9_.-]+)(?::([0-9]+))?\/)?((?:[a-z0-9_.-]+\/)*)([a-z0-9_.-]+)(?::([A-Za-z0-9_.-]+)|@sha256:([0-9A-Fa-f]+))?$/;

/**
 * Parse an image name as `ch-image` does: the file-name form is accepted too (`%` read as `/`, `+`
 * as `:`), and a first component with neither a dot nor a port is a path component, not a host.
 * Throws ImageReferenceError for a name ch-image would refuse (a name with both a tag and a digest
 * among them: Charliecloud 0.31's grammar has one or the other).
 */
export function parseChImageName(raw: string): ChImageName {
  const s = raw.replace(/%/g, '/').replace(/\+/g, ':');
  const m = NAME_RE.exec(s);
  if (!m) {
    const both = /:[A-Za-z0-9_.-]+@sha256:/.test(s.slice(s.lastIndexOf('/') + 1));
    throw new ImageReferenceError(`${JSON.stringify(raw)} is not a Charliecloud image name${both ? ' (Charliecloud 0.31 names an image by a tag or by a digest, not both)' : ' ([HOST[:PORT]/][PATH/]NAME[:TAG|@sha256:HEX], path components in lower case)'}`);
  }
  let host = m[1] ?? null;
  const port = m[2] !== undefined ? Number(m[2]) : null;
  const path = (m[3] ?? '').split('/').filter((c) => c !== '');
  if (host !== null && !host.includes('.') && port === null) {
    path.unshift(host);
    host = null;
  }
  return { host, port, path, name: m[4]!, tag: m[5] ?? null, digest: m[6] ?? null };
}

/** The name as Charliecloud writes it (its `str(Reference)`): what `ch-image list` prints. */
export function formatChImageName(n: ChImageName): string {
  let out = '';
  if (n.host !== null) out += n.host;
  if (n.port !== null) out += `:${n.port}`;
  if (n.host !== null) out += '/';
  out += [...n.path, n.name].join('/');
  if (n.tag !== null) out += `:${n.tag}`;
  if (n.digest !== null) out += `@sha256:${n.digest}`;
  return out;
}

/** A name in Charliecloud's written form (`host:05000/x` is `host:5000/x`). Throws ImageReferenceError. */
export function canonicalName(raw: string): string {
  return formatChImageName(parseChImageName(raw));
}

/** The file name of an image under `img/` (and the stem of its files in `dlcache/`): `/` as `%`, `:` as `+`. */
export function nameToPath(name: string): string {
  const p = canonicalName(name).replace(/\//g, '%').replace(/:/g, '+');
  if (p === '.' || p === '..') throw new ImageReferenceError(`${JSON.stringify(name)} is not a Charliecloud image name`);
  return p;
}

/** The image name a file name under `img/` stands for (`+` as `:`, `%` as `/`). */
export function pathToName(entry: string): string {
  return entry.replace(/\+/g, ':').replace(/%/g, '/');
}

/** The repository part of a name: no tag, no digest (`127.0.0.1:5000/lab/app`). */
export function repositoryOf(name: string): string {
  return formatChImageName({ ...parseChImageName(name), tag: null, digest: null });
}

/** Where the unpacked image `name` is in `storage`. */
export function imagePath(storage: string, name: string): string {
  return join(storage, 'img', nameToPath(name));
}

/** The download cache directory of `storage`. */
export function downloadCache(storage: string): string {
  return join(storage, 'dlcache');
}

/** The files of the download cache that belong to one image name, by Charliecloud's rules. */
export interface DownloadFiles {
  /** `NAME.fat.json`: the index (multi-platform), or the manifest (single-platform). */
  fat: string;
  /** `NAME%skinny.manifest.json`: the manifest of a single-platform image. */
  skinny: string;
  /** `NAME%HEX.manifest.json`: the manifest of one platform of an index. */
  platform(digest: string): string;
}

const hexOf = (digest: string): string => digest.slice(digest.indexOf(':') + 1);

/** Where Charliecloud keeps the manifests it downloaded for `name`. */
export function downloadFiles(storage: string, name: string): DownloadFiles {
  const stem = join(downloadCache(storage), nameToPath(name));
  return {
    fat: `${stem}.fat.json`,
    skinny: `${stem}%skinny.manifest.json`,
    platform: (digest) => `${stem}%${hexOf(digest)}.manifest.json`,
  };
}

/** Where Charliecloud keeps a config blob (`HEX.json`). */
export function configFile(storage: string, digest: string): string {
  return join(downloadCache(storage), `${hexOf(digest)}.json`);
}

/** Where Charliecloud keeps a layer blob (`HEX.tar.gz`, whatever its compression). */
export function layerFile(storage: string, digest: string): string {
  return join(downloadCache(storage), `${hexOf(digest)}.tar.gz`);
}

/**
 * The images unpacked in `storage`, by name as `ch-image list` prints them, sorted; empty when the
 * storage directory or its `img/` does not exist.
 */
export async function listImages(storage: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(join(storage, 'img'), { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw new StorageError(`cannot list the images of Charliecloud storage ${storage}: ${(e as Error).message}`, storage, { cause: e });
  }
  const names: string[] = [];
  for (const e of entries) {
    if (e.isDirectory() || (e.isSymbolicLink() && (await stat(join(storage, 'img', e.name)).then((s) => s.isDirectory(), () => false)))) names.push(pathToName(e.name));
  }
  return names.sort();
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_v, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * Names in `names` close to `name`, best first, at most `max`: those of the same repository (other
 * tags and digests), then those within a few edits.
 */
export function nearbyNames(name: string, names: readonly string[], max = 5): string[] {
  let repo: string | null;
  try {
    repo = repositoryOf(name);
  } catch {
    repo = null;
  }
  const sameRepo = (n: string): boolean => {
    try {
      return repo !== null && repositoryOf(n) === repo;
    } catch {
      return false;
    }
  };
  const scored = names
    .filter((n) => n !== name)
    .map((n) => ({ n, same: sameRepo(n), d: distance(n, name) }))
    .filter((x) => x.same || x.d <= Math.max(3, Math.floor(name.length / 4)))
    .sort((a, b) => Number(b.same) - Number(a.same) || a.d - b.d || (a.n < b.n ? -1 : 1));
  return scored.slice(0, max).map((x) => x.n);
}
