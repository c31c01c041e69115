import { FormatError, NotFoundError, PlatformError } from '../errors/index.js';
import { parseJson, type BlobStore } from './blob-store.js';
import { formatPlatform, platformMatches } from './platform.js';
import type { Descriptor, Image, ImageConfig, Layer, Platform } from './types.js';

/** Media types of indexes (OCI and Docker). */
const INDEX_TYPES = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);
/** Media types of image manifests (OCI and Docker). */
const MANIFEST_TYPES = new Set([
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
]);

const MAX_INDEX_DEPTH = 8;

function asObject(v: unknown, where: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new FormatError(`${where} is not a JSON object`, where);
  return v as Record<string, unknown>;
}

function asDescriptor(v: unknown, where: string): Descriptor {
  const o = asObject(v, where);
  if (typeof o.digest !== 'string' || typeof o.mediaType !== 'string') {
    throw new FormatError(`${where} is not a valid descriptor (needs mediaType and digest)`, where);
  }
  const d: Descriptor = { mediaType: o.mediaType, digest: o.digest, size: typeof o.size === 'number' ? o.size : -1 };
  if (o.platform && typeof o.platform === 'object') {
    const p = o.platform as Record<string, unknown>;
    if (typeof p.architecture === 'string' && typeof p.os === 'string') {
      d.platform = { os: p.os, architecture: p.architecture, variant: typeof p.variant === 'string' ? p.variant : undefined };
    }
  }
  if (o.annotations && typeof o.annotations === 'object') d.annotations = o.annotations as Record<string, string>;
  return d;
}

function manifestsOf(index: Record<string, unknown>, where: string): Descriptor[] {
  if (!Array.isArray(index.manifests)) throw new FormatError(`${where} has no "manifests" list`, where);
  return index.manifests.map((m, i) => asDescriptor(m, `${where} manifests[${i}]`));
}

/** Options for resolving an image in a store. */
export interface ResolveOptions {
  /** Tag (org.opencontainers.image.ref.name) to pick from index.json; null for the only / `latest` one. */
  tag: string | null;
  /** Platform wanted. */
  platform: Platform;
  /** True when the user named the platform (a single-platform image that differs is then an error). */
  explicitPlatform: boolean;
  /** The reference as given, for messages and facts. */
  ref: string;
  transport: string;
}

/** Pick the top-level descriptor in index.json by tag. */
function pickTagged(entries: Descriptor[], tag: string | null, where: string): Descriptor {
  const named = (d: Descriptor) => d.annotations?.['org.opencontainers.image.ref.name'] ?? null;
  if (tag !== null) {
    const hit = entries.find((d) => named(d) === tag || (named(d) ?? '').endsWith(`:${tag}`));
    if (!hit) {
      const tags = entries.map(named).filter(Boolean);
      throw new NotFoundError(`no tag ${JSON.stringify(tag)} in ${where}; it has: ${tags.length ? tags.join(', ') : '(no tags)'}`, where);
    }
    return hit;
  }
  if (entries.length === 1) return entries[0]!;
  const latest = entries.find((d) => named(d) === 'latest');
  if (latest) return latest;
  const tags = entries.map(named).filter(Boolean);
  if (entries.length === 0) throw new FormatError(`${where} lists no images`, where);
  // Several untagged entries may be the platforms of one image.
  if (tags.length === 0) return { mediaType: 'application/vnd.oci.image.index.v1+json', digest: '', size: -1 };
  throw new FormatError(`${where} holds several images; name one with :TAG (${tags.join(', ')})`, where);
}

/**
 * Resolve an image from an OCI layout (directory or archive): index.json, then (nested)
 * indexes down to the manifest for the wanted platform, then the config and the layers.
 * Every manifest, index and config blob is verified against its digest.
 */
export async function resolveOciLayout(store: BlobStore, opts: ResolveOptions): Promise<Image> {
  const indexBuf = await store.readFile('index.json');
  if (!indexBuf) {
    throw new NotFoundError(`${store.label} is not an OCI layout (no index.json)`, store.label);
  }
  const top = asObject(parseJson(indexBuf, `index.json of ${store.label}`), `index.json of ${store.label}`);
  const topEntries = manifestsOf(top, `index.json of ${store.label}`);
  let desc = pickTagged(topEntries, opts.tag, `index.json of ${store.label}`);
  let indexPlatforms: string[] | undefined;
  if (desc.digest === '') {
    // index.json itself is the platform index
    const r = selectPlatform(topEntries, opts, `index.json of ${store.label}`);
    indexPlatforms = r.present;
    desc = r.chosen;
  }
  for (let depth = 0; ; depth++) {
    if (depth > MAX_INDEX_DEPTH) throw new FormatError(`indexes nested too deep in ${store.label}`, store.label);
    if (INDEX_TYPES.has(desc.mediaType)) {
      const where = `index ${desc.digest} of ${store.label}`;
      const idx = asObject(parseJson(await store.readBlob(desc.digest, 'index'), where), where);
      const r = await selectFromIndex(store, manifestsOf(idx, where), opts, where);
      indexPlatforms = r.present;
      desc = r.chosen;
      continue;
    }
    break;
  }
  if (!MANIFEST_TYPES.has(desc.mediaType)) {
    throw new FormatError(`${store.label}: unsupported manifest media type ${desc.mediaType} (${desc.digest})`, store.label);
  }
  const mWhere = `manifest ${desc.digest} of ${store.label}`;
  const manifest = asObject(parseJson(await store.readBlob(desc.digest, 'manifest'), mWhere), mWhere);
  const configDesc = asDescriptor(manifest.config, `${mWhere} config`);
  const cWhere = `config ${configDesc.digest} of ${store.label}`;
  const config = asObject(parseJson(await store.readBlob(configDesc.digest, 'config'), cWhere), cWhere) as ImageConfig;
  if (!Array.isArray(manifest.layers)) throw new FormatError(`${mWhere} has no "layers" list`, mWhere);
  const diffIds = config.rootfs?.diff_ids ?? [];
  const layers: Layer[] = [];
  for (const [i, l] of manifest.layers.entries()) {
    const d = asDescriptor(l, `${mWhere} layers[${i}]`);
    const where = `layer ${d.digest} of ${store.label}`;
    const location = await store.blobLocation(d.digest, `layer ${i}`);
    if (d.size >= 0 && location.length !== d.size) {
      throw new FormatError(`${where}: blob is ${location.length} bytes, the manifest says ${d.size}`, where);
    }
    layers.push({ digest: d.digest, diffId: diffIds[i] ?? null, mediaType: d.mediaType, size: location.length, where, location });
  }
  const platform: Platform | null = desc.platform ?? (config.architecture ? { os: config.os ?? 'linux', architecture: config.architecture, variant: config.variant } : null);
  if (opts.explicitPlatform && !indexPlatforms && platform && !platformMatches(platform, opts.platform)) {
    throw new PlatformError(formatPlatform(opts.platform), [formatPlatform(platform)]);
  }
  const img: Image = {
    ref: opts.ref,
    transport: opts.transport,
    manifestDigest: desc.digest,
    configDigest: configDesc.digest,
    config,
    layers,
    platform,
  };
  if (indexPlatforms) img.indexPlatforms = indexPlatforms;
  return img;
}

function isAttestation(d: Descriptor): boolean {
  return d.platform?.os === 'unknown' || d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest';
}

function selectPlatform(entries: Descriptor[], opts: ResolveOptions, where: string): { chosen: Descriptor; present: string[] } {
  const usable = entries.filter((d) => !isAttestation(d));
  const present = usable.filter((d) => d.platform).map((d) => formatPlatform(d.platform!));
  const hit = usable.find((d) => d.platform && platformMatches(d.platform, opts.platform));
  if (hit) return { chosen: hit, present };
  const unplatformed = usable.filter((d) => !d.platform);
  if (usable.length === 1 && unplatformed.length === 1) return { chosen: unplatformed[0]!, present };
  void where;
  throw new PlatformError(formatPlatform(opts.platform), present);
}

/** Choose from an index: matching platform entries first, then nested indexes without a platform. */
async function selectFromIndex(
  store: BlobStore,
  entries: Descriptor[],
  opts: ResolveOptions,
  where: string,
): Promise<{ chosen: Descriptor; present: string[] }> {
  const nested = entries.filter((d) => INDEX_TYPES.has(d.mediaType) && !d.platform);
  if (nested.length === 1 && entries.length === 1) return { chosen: nested[0]!, present: [] };
  return selectPlatform(entries, opts, where);
}
