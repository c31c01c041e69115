/**
 * An OCI image layout (a directory for `oci:`, an archive for `oci-archive:`, and the OCI half of a
 * Docker 25+ `docker save`) as a {@link BlobSource}: blobs under `blobs/<alg>/<hex>`, the entry point
 * `index.json`, images picked from it by their `org.opencontainers.image.ref.name`.
 */
import type { Readable } from 'node:stream';
import { FormatError, NotFoundError } from '../errors/index.js';
import { limit } from '../limits.js';
import { readDocument } from '../model/boundary.js';
import { splitDigest } from './digest.js';
import type { FileStore } from './files.js';
import { INDEX_TYPES, fetchDocument, listPlatforms, manifestsOf, resolveImage, type BlobSource, type Document, type ResolveOptions } from './resolve.js';
import type { Descriptor, Image } from './types.js';

const REF_NAME = 'org.opencontainers.image.ref.name';

/** The blobs of a layout, by digest. */
export class LayoutBlobs implements BlobSource {
  constructor(readonly files: FileStore) {}

  get label(): string {
    return this.files.label;
  }

  private name(digest: string, what: string): string {
    const { alg, hex } = splitDigest(digest, `${what} of ${this.label}`);
    return `blobs/${alg}/${hex}`;
  }

  async fetch(desc: Descriptor, what: string, max: number): Promise<Buffer> {
    const name = this.name(desc.digest, what);
    const data = await this.files.read(name, max);
    if (!data) throw new NotFoundError(`missing blob ${desc.digest} (${what}) in ${this.label}`, this.files.locate(name));
    return data;
  }

  async open(desc: Descriptor, what: string): Promise<Readable> {
    const name = this.name(desc.digest, what);
    const size = await this.files.size(name);
    if (size === null) throw new NotFoundError(`missing blob ${desc.digest} (${what}) in ${this.label}`, this.files.locate(name));
    if (desc.size >= 0 && size !== desc.size) throw new FormatError(`${what}: blob is ${size} bytes, the manifest says ${desc.size}`, what);
    return this.files.open(name, `blob ${desc.digest} (${what})`);
  }
}

/** Does this store hold an OCI layout? */
export async function isLayout(files: FileStore): Promise<boolean> {
  return (await files.size('index.json')) !== null;
}

/**
 * The document to start the walk from: the index.json entry with the wanted tag, the only entry,
 * or the one tagged `latest`; with several untagged entries, index.json itself is the platform index.
 */
async function startDocument(blobs: LayoutBlobs, tag: string | null): Promise<Document> {
  const where = `index.json of ${blobs.label}`;
  const data = await blobs.files.read('index.json', limit('jsonBytes'));
  if (!data) throw new NotFoundError(`${blobs.label} is not an OCI layout (no index.json)`, blobs.files.locate('index.json'));
  const layoutFile = await blobs.files.read('oci-layout', limit('jsonBytes'));
  if (layoutFile) readDocument('oci-layout', layoutFile, `oci-layout of ${blobs.label}`);
  const top = readDocument('oci-index', data, where) as Record<string, unknown>;
  const entries = manifestsOf(top, where);
  const named = (d: Descriptor) => d.annotations?.[REF_NAME] ?? null;
  const tags = entries.map(named).filter((t): t is string => t !== null);
  let pick: Descriptor | undefined;
  if (tag !== null) {
    pick = entries.find((d) => named(d) === tag || (named(d) ?? '').endsWith(`:${tag}`));
    if (!pick) throw new NotFoundError(`no tag ${JSON.stringify(tag)} in ${where}; it has: ${tags.length ? tags.join(', ') : '(no tags)'}`, where);
  } else if (entries.length === 1) pick = entries[0];
  else pick = entries.find((d) => named(d) === 'latest');
  if (pick) return fetchDocument(blobs, pick, INDEX_TYPES.has(pick.mediaType) ? 'index' : 'manifest');
  if (entries.length === 0) throw new FormatError(`${where} lists no images`, where);
  // Several untagged entries are the platforms of one image: index.json is the platform index.
  if (tags.length === 0) return { data, mediaType: 'application/vnd.oci.image.index.v1+json', digest: null, where };
  throw new FormatError(`${where} holds several images; name one with :TAG (${tags.join(', ')})`, where);
}

/** Resolve the image a layout holds under `tag` (or its only / latest one) for the wanted platform. */
export async function openLayout(files: FileStore, tag: string | null, opts: ResolveOptions): Promise<Image> {
  const blobs = new LayoutBlobs(files);
  return resolveImage(blobs, await startDocument(blobs, tag), opts);
}

/** The platforms the layout's image offers (null: a single-platform image). Reads no layer. */
export async function layoutPlatforms(files: FileStore, tag: string | null): Promise<string[] | null> {
  const blobs = new LayoutBlobs(files);
  return listPlatforms(blobs, await startDocument(blobs, tag));
}
