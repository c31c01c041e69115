/**
 * What containerspec saw when it pulled an image into Charliecloud storage. Charliecloud 0.31
 * records no image digest in storage and verifies no layer hash on pull, so the identity of the
 * unpacked tree right after a verified pull is kept here, and a later check compares against it.
 *
 * Layout: `$XDG_DATA_HOME/containerspec/charliecloud/<S>/<HEX>/<N>.json` (default
 * `~/.local/share/...`), where S is the sha256 of the storage directory's real path, HEX the hex
 * of the digest asked for, and N the first 16 hex digits of the sha256 of the Charliecloud name
 * (one storage may hold one digest under several names: `app@sha256:D` and `app:1`, each unpacked
 * on its own). Next to it, `<N>.tree.gz` keeps the tree's listing (src/image/rootfs.ts
 * `treeListing`), so that a changed tree can be reported by the entry that changed. Both are
 * written atomically (temporary file, rename); the `.json` is written last and is what counts.
 * `<N>.hashes.gz` is a cache of hashes verified since (hash-cache.ts).
 * Data, not cache: removing it makes every image it vouched for "absent" (pulled again).
 */
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { writeAtomic } from '../cache/atomic.js';
import { listingDigest } from '../image/rootfs.js';
import { canonicalName } from './storage.js';

/** The `format` of a pull record file. */
export const PULL_RECORD_FORMAT = 'containerspec-charliecloud-pull';
/** The version of the pull record layout and fields. */
export const PULL_RECORD_VERSION = 1;

/** One verified pull. */
export interface PullRecord {
  /** The Charliecloud name pulled, as Charliecloud writes it (`127.0.0.1:5000/lab/app@sha256:…`). */
  name: string;
  /** The digest asked for: the manifest's, or the index's for a multi-platform image. */
  digest: string;
  /** The manifest unpacked: `digest` itself, or the platform manifest `digest`'s index named. */
  manifestDigest: string;
  /** `digest` when it names an index, else null. */
  indexDigest: string | null;
  /** The platform of the manifest unpacked, as the index names it (`linux/arm64/v8`), when it came from one. */
  platform: string | null;
  /** The platforms the index offers, when there is one. */
  platforms: string[] | null;
  configDigest: string | null;
  /** Layer digests, base first. */
  layers: string[];
  /** The storage directory, absolute. */
  storage: string;
  /** The unpacked image: `STORAGE/img/NAME`. */
  imgPath: string;
  /** The unpacked tree's identity right after the pull (src/image/rootfs.ts `treeDigest`). */
  treeDigest: string;
  /** ISO 8601 time of the pull. */
  pulledAt: string;
  /** `ch-run --version`, when it answered. */
  charliecloudVersion: string | null;
}

/** Where pull records live. */
export interface RecordOptions {
  /** The directory holding `charliecloud/`; default `$XDG_DATA_HOME/containerspec`, else `~/.local/share/containerspec`. */
  dataDir?: string | undefined;
  /** Environment for the default; this process's when absent. */
  env?: NodeJS.ProcessEnv | undefined;
}

/** containerspec's data directory (XDG base directory spec: a relative `$XDG_DATA_HOME` is ignored). */
export function dataDir(opts: RecordOptions = {}): string {
  if (opts.dataDir !== undefined && opts.dataDir !== '') return resolve(opts.dataDir);
  const env = opts.env ?? process.env;
  const xdg = env.XDG_DATA_HOME;
  if (xdg !== undefined && xdg !== '' && isAbsolute(xdg)) return join(xdg, 'containerspec');
  return join(env.HOME !== undefined && env.HOME !== '' ? env.HOME : homedir(), '.local', 'share', 'containerspec');
}

const sha256Hex = (s: string): string => createHash('sha256').update(s).digest('hex');

/** A storage path as the records key it: its real path when it exists. */
function storageKey(storage: string): string {
  const abs = resolve(storage);
  try {
    return realpathSync(abs);
  } catch {
    return abs;
  }
}

const DIGEST = /^sha256:([a-f0-9]{64})$/;

/** The record file for one name and digest in one storage (`.json`; the listing is the same path with `.tree.gz`). */
export function pullRecordPath(storage: string, digest: string, name: string, opts: RecordOptions = {}): string {
  const m = DIGEST.exec(digest);
  if (!m) throw new TypeError(`not a sha256 digest: ${digest}`);
  return join(dataDir(opts), 'charliecloud', sha256Hex(storageKey(storage)), m[1]!, `${sha256Hex(canonicalName(name)).slice(0, 16)}.json`);
}

const listingPath = (recordPath: string): string => recordPath.replace(/\.json$/, '.tree.gz');

/** Where the hashes verified for a record's image are kept (hash-cache.ts): `<N>.hashes.gz` next to it. */
export function hashCachePath(record: PullRecord, opts: RecordOptions = {}): string {
  return pullRecordPath(record.storage, record.digest, record.name, opts).replace(/\.json$/, '.hashes.gz');
}

/**
 * Record a verified pull, with the tree's listing when given (its digest must be the record's
 * `treeDigest`). Written atomically, the listing first; returns the record's path.
 */
export async function recordPull(record: PullRecord, listing?: readonly string[], opts: RecordOptions = {}): Promise<string> {
  const file = pullRecordPath(record.storage, record.digest, record.name, opts);
  if (listing) {
    if (listingDigest(listing) !== record.treeDigest) throw new TypeError(`the listing given hashes to ${listingDigest(listing)}, not the record's tree digest ${record.treeDigest}`);
    writeAtomic(listingPath(file), await promisify(gzip)(Buffer.from(listing.map((l) => `${l}\n`).join(''))));
  }
  writeAtomic(file, `${JSON.stringify({ format: PULL_RECORD_FORMAT, version: PULL_RECORD_VERSION, record }, null, 2)}\n`);
  return file;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isStringOrNull = (v: unknown): v is string | null => v === null || typeof v === 'string';
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);

/** A record read back, or null when the bytes are not one of this version. */
function decode(data: Buffer): PullRecord | null {
  let v: { format?: unknown; version?: unknown; record?: Record<string, unknown> };
  try {
    v = JSON.parse(data.toString('utf8')) as typeof v;
  } catch {
    return null;
  }
  const r = v.record;
  if (v.format !== PULL_RECORD_FORMAT || v.version !== PULL_RECORD_VERSION || typeof r !== 'object' || r === null) return null;
  const ok = isString(r.name) && isString(r.digest) && isString(r.manifestDigest) && isStringOrNull(r.indexDigest) && isStringOrNull(r.platform)
    && (r.platforms === null || isStrings(r.platforms)) && isStringOrNull(r.configDigest) && isStrings(r.layers) && isString(r.storage)
    && isString(r.imgPath) && isString(r.treeDigest) && isString(r.pulledAt) && isStringOrNull(r.charliecloudVersion);
  return ok ? (r as unknown as PullRecord) : null;
}

/**
 * The record of the pull of `name` with `digest` into `storage`, or null when there is none (or
 * it is unreadable, or of another version, or for another name or storage: all mean "not vouched for").
 */
export async function readPullRecord(storage: string, digest: string, name: string, opts: RecordOptions = {}): Promise<PullRecord | null> {
  let data: Buffer;
  try {
    data = await readFile(pullRecordPath(storage, digest, name, opts));
  } catch {
    return null;
  }
  const r = decode(data);
  if (!r || r.digest !== digest || r.name !== canonicalName(name) || storageKey(r.storage) !== storageKey(storage)) return null;
  return r;
}

/** The tree listing kept with a record, or null when it is missing or is not the record's tree. */
export async function readPullListing(record: PullRecord, opts: RecordOptions = {}): Promise<string[] | null> {
  try {
    const text = (await promisify(gunzip)(await readFile(listingPath(pullRecordPath(record.storage, record.digest, record.name, opts))))).toString('utf8');
    const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
    return listingDigest(lines) === record.treeDigest ? lines : null;
  } catch {
    return null;
  }
}
