/**
 * The `ch-image:NAME` transport: an image unpacked in Charliecloud storage, read as a tree (like
 * `dir:`, through `dirImage`) with the config Charliecloud kept for it. `ch-image:NAME@sha256:D`
 * opens it only when {@link imageInStorage} says the image with digest D is there as containerspec
 * pulled it; its facts then carry the manifest digest (D for a single-platform image, the
 * platform manifest of index D otherwise, as for `docker://NAME@sha256:D`).
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { ImageReferenceError, NotFoundError, PlatformError } from '../errors/index.js';
import { configPlatform, readConfig, type ResolveOptions } from '../image/resolve.js';
import { formatPlatform, platformMatches } from '../image/platform.js';
import type { StorageReference } from '../image/reference.js';
import { dirImage } from '../image/rootfs.js';
import type { Image, ImageConfig, Platform } from '../image/types.js';
import { formatChImageName, imagePath, listImages, nearbyNames, parseChImageName, storageDir } from './storage.js';
import { imageInStorage } from './verify.js';

/** Charliecloud's `ch/metadata.json`, the parts read. */
interface Metadata {
  arch?: unknown;
  cwd?: unknown;
  env?: unknown;
  labels?: unknown;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The config of an unpacked Charliecloud image, from `ch/metadata.json` (what ch-image keeps up to
 * date through builds: architecture, environment, labels, working directory; ch-run reads its
 * environment from there), or null when there is none. Values that are not strings are dropped.
 */
export async function metadataConfig(imgPath: string): Promise<ImageConfig | null> {
  let m: Metadata;
  try {
    m = JSON.parse(await readFile(`${imgPath}/ch/metadata.json`, 'utf8')) as Metadata;
  } catch {
    return null;
  }
  if (!isRecord(m)) return null;
  const env = isRecord(m.env) ? Object.entries(m.env).filter(([, v]) => typeof v === 'string').map(([k, v]) => `${k}=${v as string}`) : [];
  const labels = isRecord(m.labels) ? Object.fromEntries(Object.entries(m.labels).filter(([, v]) => typeof v === 'string')) as Record<string, string> : {};
  const config: ImageConfig = { os: 'linux', config: { Env: env, Labels: labels, ...(typeof m.cwd === 'string' ? { WorkingDir: m.cwd } : {}) } };
  if (typeof m.arch === 'string' && m.arch !== '' && m.arch !== 'unknown') config.architecture = m.arch;
  return config;
}

/** The pulled config ch-image copied into the image (`ch/config.pulled.json`), when it hashes to `digest`. */
async function pulledConfig(imgPath: string, digest: string): Promise<ImageConfig | null> {
  const file = `${imgPath}/ch/config.pulled.json`;
  try {
    const data = await readFile(file);
    if (`sha256:${createHash('sha256').update(data).digest('hex')}` !== digest) return null;
    return readConfig(data, file);
  } catch {
    return null;
  }
}

/** The NotFoundError for a name not in storage: the storage directory and the names nearby. */
async function notInStorage(raw: string, name: string, storage: string, imgPath: string): Promise<NotFoundError> {
  const present = await stat(storage).then((s) => s.isDirectory(), () => false);
  if (!present) return new NotFoundError(`${raw}: no Charliecloud storage at ${storage} (set $CH_IMAGE_STORAGE, or pull the image with ch-image)`, imgPath);
  const names = await listImages(storage);
  const near = nearbyNames(name, names);
  const hint = names.length === 0 ? 'it holds no images'
    : near.length ? `nearby: ${near.join(', ')}`
    : `it holds ${names.length} image${names.length > 1 ? 's' : ''}: ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''}`;
  return new NotFoundError(`${raw}: no image ${name} in Charliecloud storage ${storage} (${hint})`, imgPath);
}

/**
 * Open `ch-image:NAME` from the storage directory `chStorage` (default `$CH_IMAGE_STORAGE`, else
 * `/var/tmp/$USER.ch`). Throws NotFoundError (naming the storage and nearby names) when the image
 * is not there or, for `NAME@sha256:D`, not verified (why, in one line); StorageChangedError when
 * it changed since containerspec pulled it; PlatformError when an explicit platform is not the
 * one unpacked.
 */
export async function openStorageImage(r: StorageReference, opts: ResolveOptions, chStorage: string | undefined): Promise<Image> {
  let n;
  try {
    n = parseChImageName(r.name);
  } catch (e) {
    throw new ImageReferenceError(`${r.raw}: ${(e as Error).message}`, { cause: e });
  }
  const name = formatChImageName(n);
  const storage = storageDir({ storage: chStorage });
  const imgPath = imagePath(storage, name);
  if (!(await stat(imgPath).then((s) => s.isDirectory(), () => false))) throw await notInStorage(r.raw, name, storage, imgPath);
  let manifestDigest: string | null = null;
  let configDigest: string | null = null;
  let config: ImageConfig | null;
  let indexPlatform: Platform | null = null;
  let indexPlatforms: string[] | null = null;
  if (n.digest !== null) {
    const state = await imageInStorage(name, `sha256:${n.digest.toLowerCase()}`, { storage });
    if (state.state === 'absent') throw new NotFoundError(`${r.raw}: not verified in Charliecloud storage ${storage}: ${state.why} (pull it by digest with containerspec)`, imgPath);
    manifestDigest = state.manifestDigest;
    configDigest = state.configDigest;
    config = state.config ?? (configDigest ? await pulledConfig(imgPath, configDigest) : null) ?? (await metadataConfig(imgPath));
    indexPlatform = state.platform;
    indexPlatforms = state.platforms;
  } else {
    config = await metadataConfig(imgPath);
  }
  const platform = indexPlatform ?? (config ? configPlatform(config) : null);
  if (opts.explicitPlatform && platform && !platformMatches(platform, opts.platform)) {
    throw new PlatformError(formatPlatform(opts.platform), [formatPlatform(platform)]);
  }
  const tree = dirImage(opts.ref, imgPath);
  const digest = manifestDigest;
  return {
    ...tree,
    transport: 'ch-image',
    manifestDigest,
    configDigest,
    config,
    platform,
    layers: [{ kind: 'tree', root: imgPath, where: `Charliecloud image ${name} (${imgPath})` }],
    ...(indexPlatforms ? { indexPlatforms } : {}),
    identity: digest ? () => Promise.resolve(digest) : tree.identity,
  };
}
