/**
 * The index and platform walk, and manifest → config → layers, written once over a small
 * {@link BlobSource} ("fetch this descriptor", "open this blob"), so every source that stores
 * content-addressed blobs (an OCI layout directory or archive, a Docker 25+ archive, a registry,
 * an in-memory map in the tests) reuses it unchanged. Every index, manifest and config is checked
 * against its descriptor's size and digest here; layer bytes are checked by the walker.
 */
import type { Readable } from 'node:stream';
import { FormatError, PlatformError } from '../errors/index.js';
import { limit, overLimit } from '../limits.js';
import { checkDocument, parseBoundedJson } from '../model/boundary.js';
import { splitDigest, verifyDigest } from './digest.js';
import { formatPlatform, platformMatches } from './platform.js';
import type { BlobLayer, Descriptor, Image, ImageConfig, Platform } from './types.js';

/** Media types of indexes (OCI and Docker). */
export const INDEX_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);
/** Media types of image manifests (OCI and Docker v2 schema 2). */
export const MANIFEST_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
]);
/** Docker v2 schema 1 manifests: refused with a clear message. */
const SCHEMA1_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);

/** Deepest nesting of indexes followed. */
export const MAX_INDEX_DEPTH = 8;

/** Where an image's blobs come from: the one thing a content-addressed source implements. */
export interface BlobSource {
  /** How to name this source in messages, e.g. `oci:fixtures/x`. */
  readonly label: string;
  /**
   * The bytes of a small blob (index, manifest, config), at most `max` bytes (a bigger one is a
   * FormatError). The core checks size and digest; the source need not.
   */
  fetch(desc: Descriptor, what: string, max: number): Promise<Buffer>;
  /** A fresh stream of a blob's stored bytes (a layer). The walker checks size and digest. */
  open(desc: Descriptor, what: string): Promise<Readable>;
}

/** A fetched document: an index or a manifest, with what is known about it. */
export interface Document {
  data: Buffer;
  /** Media type from the descriptor or the transport (an HTTP Content-Type); null to read it from the document. */
  mediaType: string | null;
  /** Digest, when known (null for index.json, which names nothing). */
  digest: string | null;
  /** Platform the referring index gave it, when any. */
  platform?: Platform;
  /** How to name it in messages. */
  where: string;
}

/** What the caller wants from an index. */
export interface ResolveOptions {
  /** Platform wanted. */
  platform: Platform;
  /** True when the user named the platform: a single-platform image of another platform is then an error. */
  explicitPlatform: boolean;
  /** The reference as given, for messages and the image. */
  ref: string;
  transport: string;
  /**
   * Told the manifest's digest as soon as the index walk has chosen it, before the config is
   * fetched: a caller with more to ask about that manifest (a registry's referrers) starts now.
   */
  onManifest?: ((digest: string) => void) | undefined;
}

function asObject(v: unknown, where: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new FormatError(`${where} is not a JSON object`, where);
  return v as Record<string, unknown>;
}

/** Read a descriptor from untrusted JSON. */
export function asDescriptor(v: unknown, where: string): Descriptor {
  const o = asObject(v, where);
  if (typeof o.digest !== 'string' || typeof o.mediaType !== 'string') {
    throw new FormatError(`${where} is not a valid descriptor (needs mediaType and digest)`, where);
  }
  splitDigest(o.digest, where);
  const d: Descriptor = { mediaType: o.mediaType, digest: o.digest, size: typeof o.size === 'number' && Number.isSafeInteger(o.size) && o.size >= 0 ? o.size : -1 };
  if (o.platform && typeof o.platform === 'object') {
    const p = o.platform as Record<string, unknown>;
    if (typeof p.architecture === 'string' && typeof p.os === 'string') {
      d.platform = { os: p.os, architecture: p.architecture, variant: typeof p.variant === 'string' ? p.variant : undefined };
    }
  }
  if (o.annotations && typeof o.annotations === 'object' && !Array.isArray(o.annotations)) {
    const ann: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [k, val] of Object.entries(o.annotations as Record<string, unknown>)) if (typeof val === 'string') ann[k] = val;
    d.annotations = ann;
  }
  return d;
}

/** The `manifests` list of an index document. */
export function manifestsOf(index: Record<string, unknown>, where: string): Descriptor[] {
  if (!Array.isArray(index.manifests)) throw new FormatError(`${where} has no "manifests" list`, where);
  return index.manifests.map((m, i) => asDescriptor(m, `${where} manifests[${i}]`));
}

/** Fetch a small blob and check its size and digest. */
export async function fetchVerified(source: BlobSource, desc: Descriptor, what: string): Promise<Buffer> {
  const where = `${what} ${desc.digest} of ${source.label}`;
  splitDigest(desc.digest, where);
  const max = limit('jsonBytes');
  if (desc.size > max) throw new FormatError(`${where}: ${overLimit('jsonBytes', `${desc.size} bytes`)}`, where);
  const data = await source.fetch(desc, what, max);
  if (desc.size >= 0 && data.length !== desc.size) {
    throw new FormatError(`${where}: blob is ${data.length} bytes, the descriptor says ${desc.size}`, where);
  }
  verifyDigest(data, desc.digest, where);
  return data;
}

/** Fetch the document a descriptor names. */
export async function fetchDocument(source: BlobSource, desc: Descriptor, what: string): Promise<Document> {
  const data = await fetchVerified(source, desc, what);
  const doc: Document = { data, mediaType: desc.mediaType, digest: desc.digest, where: `${what} ${desc.digest} of ${source.label}` };
  if (desc.platform) doc.platform = desc.platform;
  return doc;
}

/**
 * Parse a document within the limits, tell an index from a manifest (its media type, or its shape
 * when the type is missing), and check it against that schema.
 */
function readIndexOrManifest(doc: Document): { kind: 'index' | 'manifest'; json: Record<string, unknown> } {
  const json = asObject(parseBoundedJson(doc.data, doc.where), doc.where);
  const kind = kindOf(doc, json);
  checkDocument(kind === 'index' ? 'oci-index' : 'oci-manifest', json, doc.where);
  return { kind, json };
}

/** The kind of a parsed document: its media type, or its shape when the type is missing. */
function kindOf(doc: Document, json: Record<string, unknown>): 'index' | 'manifest' {
  const mt = doc.mediaType ?? (typeof json.mediaType === 'string' ? json.mediaType : null);
  if (mt && INDEX_TYPES.has(mt)) return 'index';
  if (mt && MANIFEST_TYPES.has(mt)) return 'manifest';
  if ((mt && SCHEMA1_TYPES.has(mt)) || json.schemaVersion === 1) {
    throw new FormatError(`${doc.where} is a Docker v2 schema 1 manifest, which is not supported (deprecated since 2017; re-push the image with a current tool)`, doc.where);
  }
  if (mt) throw new FormatError(`${doc.where}: unsupported manifest media type ${mt}`, doc.where);
  if (Array.isArray(json.manifests)) return 'index';
  if (Array.isArray(json.layers) && json.config) return 'manifest';
  throw new FormatError(`${doc.where} is neither an image index nor an image manifest`, doc.where);
}

/** Attestation and signature entries of an index (BuildKit `unknown/unknown`): never an image to run. */
function isAttestation(d: Descriptor): boolean {
  return d.platform?.os === 'unknown' || d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest';
}

/** Platforms an index offers, as `os/arch[/variant]`. */
export function platformsIn(entries: readonly Descriptor[]): string[] {
  return entries.filter((d) => d.platform && !isAttestation(d)).map((d) => formatPlatform(d.platform!));
}

/**
 * One step down an index: the nested index when it is the index's only entry and has no platform;
 * else the entry for the wanted platform; else the only platform-less entry; else a PlatformError
 * listing the platforms present.
 */
function choose(entries: readonly Descriptor[], want: Platform): { next: Descriptor; present: string[] | null } {
  const only = entries.length === 1 ? entries[0]! : null;
  if (only && INDEX_TYPES.has(only.mediaType) && !only.platform) return { next: only, present: null };
  const usable = entries.filter((d) => !isAttestation(d));
  const present = platformsIn(usable);
  const hit = usable.find((d) => d.platform && platformMatches(d.platform, want));
  if (hit) return { next: hit, present };
  const unplatformed = usable.filter((d) => !d.platform);
  if (usable.length === 1 && unplatformed.length === 1) return { next: unplatformed[0]!, present };
  throw new PlatformError(formatPlatform(want), present);
}

/** The outcome of walking indexes down to one manifest. */
export interface Walked {
  manifest: Record<string, unknown>;
  doc: Document;
  /** Platforms of the innermost index passed through, when any. */
  indexPlatforms: string[] | null;
}

/**
 * Walk from a document (an index or a manifest) down to the manifest for the wanted platform,
 * through nested indexes (at most {@link MAX_INDEX_DEPTH}).
 */
export async function walkToManifest(source: BlobSource, start: Document, want: Platform): Promise<Walked> {
  let doc = start;
  let indexPlatforms: string[] | null = null;
  for (let depth = 0; ; depth++) {
    if (depth > MAX_INDEX_DEPTH) throw new FormatError(`indexes nested more than ${MAX_INDEX_DEPTH} deep in ${source.label}`, source.label);
    const { kind, json } = readIndexOrManifest(doc);
    if (kind === 'manifest') return { manifest: json, doc, indexPlatforms };
    const { next, present } = choose(manifestsOf(json, doc.where), want);
    if (present) indexPlatforms = present;
    doc = await fetchDocument(source, next, INDEX_TYPES.has(next.mediaType) ? 'index' : 'manifest');
  }
}

/**
 * The platforms a document offers (following a nested index that is the only entry), or null when
 * it is a single manifest. Nothing below the platform list is fetched.
 */
export async function listPlatforms(source: BlobSource, start: Document): Promise<string[] | null> {
  let doc = start;
  for (let depth = 0; depth <= MAX_INDEX_DEPTH; depth++) {
    const { kind, json } = readIndexOrManifest(doc);
    if (kind === 'manifest') return null;
    const entries = manifestsOf(json, doc.where);
    const only = entries.length === 1 ? entries[0]! : null;
    if (only && INDEX_TYPES.has(only.mediaType) && !only.platform) {
      doc = await fetchDocument(source, only, 'index');
      continue;
    }
    return platformsIn(entries);
  }
  throw new FormatError(`indexes nested more than ${MAX_INDEX_DEPTH} deep in ${source.label}`, source.label);
}

/** Parse and check an image config (OCI and Docker configs share the shape containerspec reads). */
export function readConfig(data: Buffer, where: string): ImageConfig {
  const json = asObject(parseBoundedJson(data, where), where);
  checkDocument('oci-config', json, where);
  return json as ImageConfig;
}

/** Platform of a config, when it names an architecture. */
export function configPlatform(config: ImageConfig): Platform | null {
  return config.architecture ? { os: config.os ?? 'linux', architecture: config.architecture, variant: config.variant } : null;
}

/** A layer streamed from a blob source. */
export function blobLayer(source: BlobSource, d: Descriptor, diffId: string | null, where: string): BlobLayer {
  return {
    kind: 'blob',
    digest: d.digest,
    diffId,
    mediaType: d.mediaType,
    size: d.size >= 0 ? d.size : null,
    where,
    open: () => source.open(d, where),
  };
}

/**
 * Resolve an image from a starting document: walk indexes to the manifest for the wanted
 * platform, fetch and check the config, and list the layers (not read here).
 */
export async function resolveImage(source: BlobSource, start: Document, opts: ResolveOptions): Promise<Image> {
  const { manifest, doc, indexPlatforms } = await walkToManifest(source, start, opts.platform);
  if (doc.digest) opts.onManifest?.(doc.digest);
  const mWhere = doc.where;
  const configDesc = asDescriptor(manifest.config, `${mWhere} config`);
  const cWhere = `config ${configDesc.digest} of ${source.label}`;
  const config = readConfig(await fetchVerified(source, configDesc, 'config'), cWhere);
  if (!Array.isArray(manifest.layers)) throw new FormatError(`${mWhere} has no "layers" list`, mWhere);
  if (manifest.layers.length > limit('layers')) throw new FormatError(`${mWhere}: ${overLimit('layers', `${manifest.layers.length} layers`)}`, mWhere);
  const diffIds = Array.isArray(config.rootfs?.diff_ids) ? config.rootfs.diff_ids : [];
  const layers = manifest.layers.map((l, i) => {
    const d = asDescriptor(l, `${mWhere} layers[${i}]`);
    return blobLayer(source, d, typeof diffIds[i] === 'string' ? diffIds[i]! : null, `layer ${d.digest} of ${source.label}`);
  });
  const platform = doc.platform ?? configPlatform(config);
  if (opts.explicitPlatform && !indexPlatforms && platform && !platformMatches(platform, opts.platform)) {
    throw new PlatformError(formatPlatform(opts.platform), [formatPlatform(platform)]);
  }
  const manifestDigest = doc.digest;
  const image: Image = {
    ref: opts.ref,
    transport: opts.transport,
    manifestDigest,
    configDigest: configDesc.digest,
    config,
    layers,
    platform,
    ...(indexPlatforms ? { indexPlatforms } : {}),
    identity: async () => manifestDigest ?? configDesc.digest,
  };
  return image;
}
