/**
 * Artifacts attached to an image manifest, ORAS-style (OCI distribution spec 1.1): a manifest whose
 * `subject` is the image's, found through the referrers API, or, where the registry lacks it, through
 * the referrers tag schema: an index tagged `sha256-<hex>` listing them, read and updated as the
 * spec (and the ORAS CLI) do.
 */
import { FormatError, NotFoundError } from '../errors/index.js';
import { sha256Digest } from '../image/digest.js';
import { asDescriptor, manifestsOf } from '../image/resolve.js';
import { limit } from '../limits.js';
import { parseBoundedJson } from '../model/boundary.js';
import type { RegistryClient } from './client.js';
import { byDigest, type BlobCache } from './source.js';

/** OCI media types used here. */
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
/** The empty config of an artifact manifest: `{}`. */
export const EMPTY_CONFIG = {
  mediaType: 'application/vnd.oci.empty.v1+json',
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
} as const;
const EMPTY_BYTES = Buffer.from('{}');

/** The manifest an artifact refers to. */
export interface Subject {
  mediaType: string;
  digest: string;
  size: number;
}

/** One attached artifact, as the referrers list names it. */
export interface Referrer {
  mediaType: string;
  digest: string;
  size: number;
  artifactType: string | null;
  annotations: Record<string, string>;
}

/** The artifacts attached to a manifest, and how they were found. */
export interface Referrers {
  subject: string;
  /** `referrers-api`, or `tag-schema` (the `sha256-<hex>` tag fallback). */
  via: 'referrers-api' | 'tag-schema';
  referrers: Referrer[];
}

/** The referrers tag schema's tag for a digest: `<alg>-<hex>`, at most 128 characters. */
export function fallbackTag(digest: string): string {
  return digest.replace(':', '-').slice(0, 128);
}

/** The descriptors of a referrers index (API answer or tag-schema index). */
function referrersOf(data: Buffer, where: string): Referrer[] {
  const json = parseBoundedJson(data, where);
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new FormatError(`${where} is not a JSON object`, where);
  const raw = (json as { manifests?: unknown[] }).manifests ?? [];
  return manifestsOf(json as Record<string, unknown>, where).map((d, i) => {
    const o = raw[i] as { artifactType?: unknown };
    return { mediaType: d.mediaType, digest: d.digest, size: d.size, artifactType: typeof o.artifactType === 'string' ? o.artifactType : null, annotations: { ...(d.annotations ?? {}) } };
  });
}

/** The tag-schema index for a subject, or null when the tag does not exist. */
async function fallbackIndex(client: RegistryClient, repo: string, subject: string): Promise<Buffer | null> {
  try {
    return (await client.getManifest(repo, fallbackTag(subject), limit('jsonBytes'))).data;
  } catch (e) {
    if (e instanceof NotFoundError) return null;
    throw e;
  }
}

/** The artifacts attached to `subject` (optionally of one artifact type), newest first by `org.opencontainers.image.created`. */
export async function listReferrers(client: RegistryClient, repo: string, subject: string, artifactType?: string): Promise<Referrers> {
  const where = `referrers of ${subject} in ${client.domain}/${repo}`;
  // Both at once: a registry without the API (most, today) would otherwise cost a second round trip.
  const tag = fallbackIndex(client, repo, subject);
  tag.catch(() => {}); // awaited only when the API is missing
  const api = await client.referrers(repo, subject, limit('jsonBytes'));
  let via: Referrers['via'] = 'referrers-api';
  let data = api;
  if (data === null) {
    via = 'tag-schema';
    data = await tag;
  }
  const all = data ? referrersOf(data, where) : [];
  const wanted = artifactType ? all.filter((r) => r.artifactType === artifactType) : all;
  const created = (r: Referrer) => r.annotations['org.opencontainers.image.created'] ?? '';
  wanted.sort((a, b) => (created(a) < created(b) ? 1 : created(a) > created(b) ? -1 : 0));
  return { subject, via, referrers: wanted };
}

/** An artifact to attach: its type, one layer of content, annotations. */
export interface Artifact {
  artifactType: string;
  layerMediaType: string;
  data: Buffer;
  /** Name of the layer (`org.opencontainers.image.title`), as `oras pull` writes it. */
  title: string;
  annotations: Record<string, string>;
}

/**
 * Push an artifact whose subject is an image manifest: the empty config, the layer, the manifest by
 * digest. A registry that does not answer with `OCI-Subject` has no referrers API: the subject's
 * `sha256-<hex>` index is then read (or started) and pushed again with the artifact added.
 */
export async function pushArtifact(client: RegistryClient, repo: string, subject: Subject, a: Artifact): Promise<{ digest: string; via: Referrers['via'] }> {
  await client.pushBlob(repo, EMPTY_BYTES, EMPTY_CONFIG.digest);
  const layerDigest = await client.pushBlob(repo, a.data);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: a.artifactType,
    config: EMPTY_CONFIG,
    layers: [{ mediaType: a.layerMediaType, digest: layerDigest, size: a.data.length, annotations: { 'org.opencontainers.image.title': a.title } }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: a.annotations,
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const digest = sha256Digest(bytes);
  const put = await client.putManifest(repo, digest, bytes, OCI_MANIFEST);
  if (put.subject !== null) return { digest, via: 'referrers-api' };
  await addToFallback(client, repo, subject.digest, { mediaType: OCI_MANIFEST, digest, size: bytes.length, artifactType: a.artifactType, annotations: a.annotations });
  return { digest, via: 'tag-schema' };
}

/** Add a descriptor to the subject's tag-schema index (made when missing), as the distribution spec says. */
async function addToFallback(client: RegistryClient, repo: string, subject: string, d: Referrer): Promise<void> {
  const where = `referrers index ${fallbackTag(subject)} in ${client.domain}/${repo}`;
  const current = await fallbackIndex(client, repo, subject);
  const index: { schemaVersion: number; mediaType: string; manifests: unknown[] } = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] };
  if (current) {
    const json = parseBoundedJson(current, where) as { manifests?: unknown[] };
    const list = Array.isArray(json?.manifests) ? json.manifests : [];
    list.forEach((m, i) => asDescriptor(m, `${where} manifests[${i}]`));
    index.manifests = list;
  }
  if (index.manifests.some((m) => (m as { digest?: string }).digest === d.digest)) return;
  index.manifests.push({ mediaType: d.mediaType, digest: d.digest, size: d.size, artifactType: d.artifactType, annotations: d.annotations });
  await client.putManifest(repo, fallbackTag(subject), Buffer.from(JSON.stringify(index)), OCI_INDEX);
}

/**
 * The manifest of an artifact and its first layer's bytes (at most `max`), checked against their
 * digests (from the blob cache when it has them: both are content-addressed).
 */
export async function fetchArtifact(client: RegistryClient, repo: string, r: Referrer, subject: string, max: number, cache: BlobCache | null = null): Promise<{ layerMediaType: string; data: Buffer } | null> {
  const where = `artifact ${r.digest} in ${client.domain}/${repo}`;
  const manifest = await byDigest(cache, r.digest, async () => (await client.getManifest(repo, r.digest, limit('jsonBytes'))).data);
  const json = parseBoundedJson(manifest, where) as { subject?: unknown; layers?: unknown[] } | null;
  if (!json || typeof json !== 'object') return null;
  const subj = json.subject ? asDescriptor(json.subject, `${where} subject`) : null;
  if (subj?.digest !== subject) return null; // listed for another manifest: not this image's
  const layer = Array.isArray(json.layers) && json.layers[0] ? asDescriptor(json.layers[0], `${where} layers[0]`) : null;
  if (!layer || layer.size > max) return null;
  return { layerMediaType: layer.mediaType, data: await byDigest(cache, layer.digest, () => client.getBlob(repo, layer.digest, max)) };
}
