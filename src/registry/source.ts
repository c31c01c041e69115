/**
 * The `docker://` source: a registry repository as a {@link BlobSource} for the shared index and
 * platform walk (src/image/resolve.ts). Manifests and configs come by digest (from the manifest
 * cache when it has them, checked again on the way out), layers stream straight from the registry
 * into the walker, never to disk.
 */
import type { Readable } from 'node:stream';
import type { DockerReference } from '../image/docker-reference.js';
import { INDEX_TYPES, MANIFEST_TYPES, resolveImage, type BlobSource, type Document, type ResolveOptions } from '../image/resolve.js';
import type { Descriptor, Image } from '../image/types.js';
import { limit } from '../limits.js';
import type { RegistryClient } from './client.js';

/** What the source asks of a cache of small blobs by digest (src/cache): it re-checks what it returns. */
export interface BlobCache {
  getBlob(digest: string): Buffer | null;
  putBlob(digest: string, data: Buffer): void;
}

/**
 * A small blob by digest: from the cache when it has it, else fetched (the client checks it against
 * the digest) and kept.
 */
export async function byDigest(cache: BlobCache | null, digest: string, fetch: () => Promise<Buffer>): Promise<Buffer> {
  const hit = cache?.getBlob(digest);
  if (hit) return hit;
  const data = await fetch();
  cache?.putBlob(digest, data);
  return data;
}

/** `docker://host/repo`, for messages. */
export function registryLabel(ref: DockerReference): string {
  return `docker://${ref.domain}/${ref.path}`;
}

/** A repository of a registry as a blob source. */
export function registrySource(client: RegistryClient, ref: DockerReference, cache: BlobCache | null): BlobSource {
  const repo = ref.path;
  return {
    label: registryLabel(ref),
    fetch(desc: Descriptor, _what: string, max: number): Promise<Buffer> {
      const isManifest = INDEX_TYPES.has(desc.mediaType) || MANIFEST_TYPES.has(desc.mediaType);
      return byDigest(cache, desc.digest, async () => (isManifest ? (await client.getManifest(repo, desc.digest, max)).data : client.getBlob(repo, desc.digest, max)));
    },
    open(desc: Descriptor): Promise<Readable> {
      return client.openBlob(repo, desc.digest, desc.size >= 0 ? desc.size : null);
    },
  };
}

/**
 * The document a reference names: by digest (from the cache when there), or by tag (always asked
 * of the registry: tags move).
 */
export async function startDocument(client: RegistryClient, ref: DockerReference, cache: BlobCache | null): Promise<Document> {
  const name = ref.digest ?? ref.tag ?? 'latest';
  const where = `manifest ${name} of ${registryLabel(ref)}`;
  const hit = ref.digest ? cache?.getBlob(ref.digest) : null;
  if (hit && ref.digest) return { data: hit, mediaType: null, digest: ref.digest, where };
  const m = await client.getManifest(ref.path, name, limit('jsonBytes'));
  cache?.putBlob(m.digest, m.data);
  return { data: m.data, mediaType: m.mediaType, digest: m.digest, where };
}

/** Open a registry image for one platform: manifest (through indexes), config, layers (not read here). */
export async function openRegistryImage(client: RegistryClient, ref: DockerReference, opts: ResolveOptions, cache: BlobCache | null): Promise<Image> {
  const source = registrySource(client, ref, cache);
  return resolveImage(source, await startDocument(client, ref, cache), opts);
}
