/**
 * Is the image with digest D in Charliecloud storage? Charliecloud 0.31 records no digest in
 * storage and checks no layer hash when it pulls, so containerspec decides for itself, from three
 * things: (a) the manifest kept in the download cache hashes to D (for a multi-platform image, the
 * kept index hashes to D and the kept platform manifest to the digest the index names for it),
 * (b) the config and layer blobs, when still kept, hash to their digests, and (c) the unpacked
 * tree's identity (src/image/rootfs.ts `treeDigest`) is the one recorded when containerspec pulled
 * it (pull-record.ts). Anything missing means "absent" (pull again); anything that is there but
 * different is a StorageChangedError naming what changed.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { ImageReferenceError, StorageChangedError } from '../errors/index.js';
import { listingDigest, treeListing } from '../image/rootfs.js';
import { statIdentity } from '../util/stat-identity.js';
import { asDescriptor, manifestsOf, platformsIn, readConfig } from '../image/resolve.js';
import type { Descriptor, ImageConfig, Platform } from '../image/types.js';
import { readDocument } from '../model/boundary.js';
import { mapLimit } from '../util/limit.js';
import { HashCache } from './hash-cache.js';
import { hashCachePath, readPullListing, readPullRecord, type PullRecord, type RecordOptions } from './pull-record.js';
import { canonicalName, configFile, downloadFiles, imagePath, layerFile, parseChImageName, storageDir, type StorageOptions } from './storage.js';

/** Where to look: the storage directory (as for `ch-image -s`) and the pull records. */
export interface VerifyOptions extends StorageOptions, RecordOptions {
  /**
   * Hash every file and kept layer again, trusting no hash verified before (default false: a file
   * whose stat identity is unchanged since it was last verified is not read again; hash-cache.ts).
   */
  rehash?: boolean | undefined;
}

/** The image is there and is the one asked for. */
export interface PresentImage {
  state: 'present';
  /** The Charliecloud name, as Charliecloud writes it. */
  name: string;
  /** The digest asked for. */
  digest: string;
  storage: string;
  imgPath: string;
  /** The manifest unpacked: the digest asked for, or the platform manifest of the index it names. */
  manifestDigest: string;
  /** The digest asked for, when it names an index. */
  indexDigest: string | null;
  /** The platform of the manifest unpacked, as the index names it, when there is an index. */
  platform: Platform | null;
  /** The platforms the index offers, when there is one. */
  platforms: string[] | null;
  configDigest: string | null;
  /** The config blob, when the download cache still keeps it (verified). */
  config: ImageConfig | null;
  /** How many of the image's layers the download cache still keeps (each verified). */
  keptLayers: number;
  record: PullRecord;
}

/** The image is not (all) there: pull it again. */
export interface AbsentImage {
  state: 'absent';
  /** One line: what is missing. */
  why: string;
  storage: string;
  imgPath: string;
}

/** What {@link imageInStorage} found. */
export type StorageState = PresentImage | AbsentImage;

const DIGEST = /^sha256:[a-f0-9]{64}$/;

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function fileDigest(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return `sha256:${h.digest('hex')}`;
}

/** A file's bytes, or null when it does not exist. */
async function readMaybe(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw e;
  }
}

const exists = (file: string): Promise<boolean> => stat(file).then(() => true, () => false);

function changed(storage: string, file: string, what: string, expected: string, found: string): StorageChangedError {
  return new StorageChangedError(`${what} in Charliecloud storage ${storage} changed: ${file} should hash to ${expected}, it hashes to ${found} (delete it and pull the image again)`, storage, file, expected, found);
}

/** Whether bytes hashed already look like an index (a JSON object with a `manifests` list); junk is not. */
function isIndexShaped(data: Buffer): boolean {
  try {
    const json = JSON.parse(data.toString('utf8')) as unknown;
    return typeof json === 'object' && json !== null && Array.isArray((json as { manifests?: unknown }).manifests);
  } catch {
    return false;
  }
}

/** What the download cache keeps of one image, every kept file verified. */
export interface KeptImage {
  manifestDigest: string;
  indexDigest: string | null;
  platform: Platform | null;
  platforms: string[] | null;
  configDigest: string | null;
  layers: string[];
  config: ImageConfig | null;
  keptLayers: number;
}

/**
 * How to pick the platform manifest of an index: the one a pull record names, or (right after a
 * pull, with no record yet) the kept platform manifest written last whose architecture is `arch`
 * (Charliecloud rewrites the manifests on every pull and keeps no record of its own).
 */
export type PlatformPick = { manifestDigest: string } | { newestFor: string | null };

/**
 * Verify what the download cache of `storage` keeps for `name` against `digest`: (a) and (b)
 * above. Returns what it keeps, or why it is absent; throws StorageChangedError for a kept file
 * that does not hash to what names it.
 */
export async function verifyDownloadCache(storage: string, name: string, digest: string, pick: PlatformPick, hashes: HashCache = HashCache.none()): Promise<KeptImage | { absent: string }> {
  const files = downloadFiles(storage, name);
  const fat = await readMaybe(files.fat);
  let index: Descriptor[] | null = null;
  let indexDigest: string | null = null;
  let platforms: string[] | null = null;
  if (fat) {
    const found = sha256(fat);
    const isIndex = isIndexShaped(fat);
    if (isIndex) {
      const entries = manifestsOf(readDocument('oci-index', fat, files.fat) as Record<string, unknown>, files.fat);
      if (found === digest) {
        indexDigest = digest;
      } else if (!entries.some((d) => d.digest === digest)) {
        throw changed(storage, files.fat, `the index kept for ${name}`, digest, found);
      }
      index = entries;
      platforms = platformsIn(entries);
    } else if (found !== digest) {
      throw changed(storage, files.fat, `the manifest kept for ${name}`, digest, found);
    }
  }
  let manifestDigest = digest;
  let platform: Platform | null = null;
  let manifestFile: string;
  if (indexDigest !== null && index !== null) {
    const entry = await pickEntry(index, pick, files.platform);
    if ('absent' in entry) return entry;
    manifestDigest = entry.digest;
    platform = entry.platform ?? null;
    manifestFile = files.platform(manifestDigest);
  } else {
    if (index) platform = index.find((d) => d.digest === digest)?.platform ?? null;
    manifestFile = (await exists(files.skinny)) ? files.skinny : files.platform(digest);
  }
  const manifest = await readMaybe(manifestFile);
  if (!manifest) return { absent: `the download cache keeps no manifest file ${manifestFile}` };
  const found = sha256(manifest);
  if (found !== manifestDigest) throw changed(storage, manifestFile, `the ${indexDigest ? 'platform ' : ''}manifest kept for ${name}`, manifestDigest, found);
  const m = readDocument('oci-manifest', manifest, manifestFile) as { config?: unknown; layers?: unknown[] };
  const configDigest = m.config !== undefined ? asDescriptor(m.config, `${manifestFile} config`).digest : null;
  const layers = (m.layers ?? []).map((l, i) => asDescriptor(l, `${manifestFile} layers[${i}]`).digest);
  let config: ImageConfig | null = null;
  if (configDigest) {
    const file = configFile(storage, configDigest);
    const data = await readMaybe(file);
    if (data) {
      const got = sha256(data);
      if (got !== configDigest) throw changed(storage, file, `the config kept for ${name}`, configDigest, got);
      config = readConfig(data, file);
    }
  }
  const kept = await mapLimit(layers, 2, async (d, i) => {
    const file = layerFile(storage, d);
    const st = await stat(file, { bigint: true }).catch(() => null);
    if (!st) return false;
    const identity = statIdentity(st);
    const got = hashes.blobs.get(file, identity) ?? (await fileDigest(file));
    if (got !== d) throw changed(storage, file, `layer ${i + 1}/${layers.length} kept for ${name}`, d, got);
    hashes.blobs.seen(file, identity, got);
    return true;
  });
  return { manifestDigest, indexDigest, platform, platforms, configDigest, layers, config, keptLayers: kept.filter(Boolean).length };
}

/** The index entry to verify: the recorded one, or the newest kept one (right after a pull). */
async function pickEntry(index: readonly Descriptor[], pick: PlatformPick, fileOf: (d: string) => string): Promise<Descriptor | { absent: string }> {
  if ('manifestDigest' in pick) {
    const d = index.find((e) => e.digest === pick.manifestDigest);
    if (!d) return { absent: `the kept index does not list the manifest ${pick.manifestDigest} recorded at the pull` };
    return d;
  }
  const candidates: { d: Descriptor; mtime: number }[] = [];
  for (const d of index) {
    if (d.platform && d.platform.os !== 'linux') continue;
    if (pick.newestFor !== null && d.platform && d.platform.architecture !== pick.newestFor) continue;
    const st = await stat(fileOf(d.digest)).catch(() => null);
    if (st) candidates.push({ d, mtime: st.mtimeMs });
  }
  candidates.sort((a, b) => b.mtime - a.mtime);
  const best = candidates[0];
  return best ? best.d : { absent: `the download cache keeps no platform manifest of the index${pick.newestFor ? ` for ${pick.newestFor}` : ''}` };
}

/** One entry of a tree listing, split. */
interface Entry {
  type: string;
  mode: string;
  owner: string;
  link: string;
  sha: string;
}

function entries(listing: readonly string[]): Map<string, Entry> {
  const out = new Map<string, Entry>();
  for (const l of listing) {
    const [path = '', type = '', mode = '', owner = '', link = '', sha = ''] = l.split('\0');
    out.set(path, { type, mode, owner, link, sha });
  }
  return out;
}

/** One change between two listings. */
export interface TreeChange {
  /** The path inside the image. */
  path: string;
  /** What changed, for a message: `content changed`, `added`, `removed`, `mode changed`, ... */
  what: string;
  expected: string;
  found: string;
}

/** The changes from the tree as recorded to the tree as found, in path order. */
export function treeChanges(recorded: readonly string[], now: readonly string[]): TreeChange[] {
  const a = entries(recorded);
  const b = entries(now);
  const out: TreeChange[] = [];
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  for (const path of paths) {
    const was = a.get(path);
    const is = b.get(path);
    if (!was) out.push({ path, what: 'added', expected: 'absent', found: is!.type });
    else if (!is) out.push({ path, what: 'removed', expected: was.type, found: 'absent' });
    else if (was.type !== is.type) out.push({ path, what: 'type changed', expected: was.type, found: is.type });
    else if (was.sha !== is.sha) out.push({ path, what: 'content changed', expected: `sha256:${was.sha}`, found: `sha256:${is.sha}` });
    else if (was.link !== is.link) out.push({ path, what: 'link target changed', expected: was.link, found: is.link });
    else if (was.mode !== is.mode) out.push({ path, what: 'mode changed', expected: was.mode, found: is.mode });
    else if (was.owner !== is.owner) out.push({ path, what: 'owner changed', expected: was.owner, found: is.owner });
  }
  return out;
}

/** The error for an unpacked tree that is not the one recorded: the first change named, the others counted. */
async function treeChanged(record: PullRecord, now: readonly string[], found: string, opts: RecordOptions): Promise<StorageChangedError> {
  const recorded = await readPullListing(record, opts);
  const head = `image ${record.name} in Charliecloud storage ${record.storage} changed since containerspec pulled it (${record.pulledAt})`;
  const redo = `(ch-image delete ${record.name}, then pull it again by digest)`;
  const changes = recorded ? treeChanges(recorded, now) : [];
  const first = changes[0];
  if (!first) {
    return new StorageChangedError(`${head}: its tree identity was ${record.treeDigest}, it is now ${found} ${redo}`, record.storage, record.imgPath, record.treeDigest, found);
  }
  const more = changes.length > 1 ? `; and ${changes.length - 1} more change${changes.length > 2 ? 's' : ''}` : '';
  const detail = first.what === 'added' || first.what === 'removed' ? `${first.path} ${first.what}` : `${first.path} ${first.what}: expected ${first.expected}, found ${first.found}`;
  return new StorageChangedError(`${head}: ${detail}${more} ${redo}`, record.storage, `${record.imgPath}/${first.path}`, first.expected, first.found);
}

/**
 * Is the image `name` (a Charliecloud name: `127.0.0.1:5000/lab/app@sha256:…`, `app:1`) with
 * digest `digest` in Charliecloud storage, as containerspec pulled it? "present" when (a), (b) and
 * (c) above hold; "absent", with why, when something is missing (no such image, no kept
 * manifest, no record of a pull by containerspec); a StorageChangedError when something is there
 * but is not what was verified (a kept manifest, config or layer that does not hash to its digest,
 * an unpacked tree that changed: the message names the file, expected and found). Reads every kept
 * layer and every file of the tree the first time; later, only those whose stat identity changed
 * since they were verified (hash-cache.ts), unless `rehash`.
 */
export async function imageInStorage(name: string, digest: string, opts: VerifyOptions = {}): Promise<StorageState> {
  if (!DIGEST.test(digest)) throw new ImageReferenceError(`${JSON.stringify(digest)} is not a sha256 digest (sha256: and 64 lower-case hex digits)`);
  const n = parseChImageName(name);
  if (n.digest !== null && `sha256:${n.digest.toLowerCase()}` !== digest) {
    throw new ImageReferenceError(`the image name ${name} holds the digest sha256:${n.digest}, not ${digest}`);
  }
  const canonical = canonicalName(name);
  const storage = storageDir(opts);
  const imgPath = imagePath(storage, canonical);
  const absent = (why: string): AbsentImage => ({ state: 'absent', why, storage, imgPath });
  const st = await stat(imgPath).catch(() => null);
  if (!st?.isDirectory()) return absent(`no image ${canonical} in Charliecloud storage ${storage}`);
  const record = await readPullRecord(storage, digest, canonical, opts);
  if (!record) return absent(`containerspec has no record of pulling ${canonical} (${digest}) into ${storage}, so it cannot vouch for the unpacked tree`);
  if (record.imgPath !== imgPath) return absent(`the pull of ${canonical} was recorded at ${record.imgPath}, not ${imgPath}`);
  const hashes = opts.rehash ? HashCache.none() : HashCache.load(hashCachePath(record, opts), record.treeDigest);
  const kept = await verifyDownloadCache(storage, canonical, digest, { manifestDigest: record.manifestDigest }, hashes);
  if ('absent' in kept) return absent(kept.absent);
  if (kept.manifestDigest !== record.manifestDigest) return absent(`the pull record names the manifest ${record.manifestDigest}, the download cache ${kept.manifestDigest}`);
  const now = await treeListing(imgPath, hashes.tree);
  const found = listingDigest(now);
  if (found !== record.treeDigest) throw await treeChanged(record, now, found, opts);
  hashes.save();
  return {
    state: 'present',
    name: canonical,
    digest,
    storage,
    imgPath,
    manifestDigest: kept.manifestDigest,
    indexDigest: kept.indexDigest,
    platform: kept.platform,
    platforms: kept.platforms,
    configDigest: kept.configDigest,
    config: kept.config,
    keptLayers: kept.keptLayers,
    record,
  };
}
