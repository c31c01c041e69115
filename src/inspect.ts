import type { Readable } from 'node:stream';
import type { FactsCache } from './cache/facts-cache.js';
import { imageKey } from './cache/image-entry.js';
import { imagePlatforms, openImage } from './image/open.js';
import type { BlobLayer, Image, Layer } from './image/types.js';
import type { ImageFacts } from './model/facts.js';
import { parseReference } from './image/reference.js';
import type { Registries, RegistryOptions } from './registry/client.js';

/** Options for {@link inspect}. */
export interface InspectOptions {
  /** `os/arch[/variant]` to pick from a multi-platform index; default: the host's. */
  platform?: string | undefined;
  /** Layers streamed at once; default: up to 4. */
  parallel?: number | undefined;
  /** False when `platform` is only a default (the host's): a single-platform image of another arch is then inspected, not refused. */
  explicitPlatform?: boolean | undefined;
  /** Also compute the image's content identity (`identity`; for dir: and tar: this reads every file). */
  identity?: boolean | undefined;
  /** How to reach registries (docker://): credentials, TLS, timeouts. */
  registry?: RegistryOptions | undefined;
  /** Registry clients shared by several inspects (made from `registry` when absent). */
  registries?: Registries | undefined;
  /** The layer-facts cache (src/cache): layers seen before are not read again. None when absent. */
  cache?: FactsCache | null | undefined;
  /**
   * For a registry image: use facts attached to exactly its manifest digest (`containerspec attach`)
   * when there are some, instead of reading its layers. Default false (inspect reads the layers).
   */
  attached?: boolean | undefined;
  /** Told what happens, for a progress display. */
  onProgress?: ((e: ProgressEvent) => void) | undefined;
  /** Charliecloud storage for `ch-image:` references (default `$CH_IMAGE_STORAGE`, else `/var/tmp/$USER.ch`). */
  chStorage?: string | undefined;
}

/** What an inspect tells a progress display. */
export type ProgressEvent =
  /** The image is open: its layers and their stored size (null when a size is unknown). */
  | { kind: 'image'; ref: string; layers: number; bytes: number | null }
  /** Stored bytes of a layer arrived. */
  | { kind: 'bytes'; layer: number; bytes: number }
  /** A layer is done: read, or taken from the cache. */
  | { kind: 'layer'; layer: number; how: 'cached' | 'read' }
  /** Facts came from an artifact attached to the manifest: no layer was read. */
  | { kind: 'attached'; ref: string; artifact: string };

export { envMap } from './extract/config.js';

/**
 * Inspect an image without running it: open the reference, stream every layer once (digests
 * verified), squash, and extract platform, libc, MPI, GPU, labels, permissions and requirements.
 * Throws a ContainerspecError for bad input (exit status 2 in the CLI).
 */
export async function inspect(ref: string, opts: InspectOptions = {}): Promise<ImageFacts> {
  const registries = await registriesFor([ref], opts);
  // Facts attached to the manifest are looked for as soon as its digest is known, while its config is fetched.
  const early: { digest?: string; found?: Promise<AttachedFound | null> } = {};
  const onManifest = opts.attached && registries && isRegistryRef(ref)
    ? (digest: string) => {
        early.digest = digest;
        early.found = lookUpAttached(ref, digest, registries, opts.cache ?? null);
        early.found.catch(() => {}); // awaited below, unless opening the image fails first
      }
    : undefined;
  const image = await openImage(ref, { platform: opts.platform, explicitPlatform: opts.explicitPlatform, registry: opts.registry, registries, blobCache: opts.cache ?? null, chStorage: opts.chStorage, onManifest });
  if (opts.attached && image.transport === 'docker' && image.manifestDigest) {
    const lookup = early.found && early.digest === image.manifestDigest ? early.found : lookUpAttached(image.ref, image.manifestDigest, registries!, opts.cache ?? null);
    const found = await attachedFor(image, lookup);
    if (found) {
      opts.onProgress?.({ kind: 'attached', ref, artifact: found.artifact });
      return found.facts;
    }
  }
  const onProgress = opts.onProgress;
  const layers = image.layers;
  // A manifest seen before by this build under the same limits: its facts, no layer read, no extractor loaded.
  // Only for images read from the layers their manifest names: an unpacked tree (ch-image:NAME@sha256:D)
  // is what was made of them, and its facts must neither come from nor stand for the layers'.
  const fromLayers = layers.every((l) => l.kind === 'blob');
  const key = opts.cache && image.manifestDigest && fromLayers ? imageKey(image.manifestDigest) : null;
  const known = key ? opts.cache!.getFacts(key) : null;
  if (known) {
    onProgress?.({ kind: 'image', ref, layers: layers.length, bytes: null });
    layers.forEach((_l, layer) => onProgress?.({ kind: 'layer', layer, how: 'cached' }));
    const facts = asOpened(known, image);
    if (opts.identity) facts.identity = await image.identity();
    return facts;
  }
  if (onProgress) {
    const sizes = layers.map((l) => (l.kind === 'blob' ? l.size : null));
    onProgress({ kind: 'image', ref, layers: layers.length, bytes: sizes.every((n) => n !== null) ? sizes.reduce<number>((a, n) => a + n!, 0) : null });
  }
  const counted: Image = onProgress ? { ...image, layers: layers.map((l, i) => countBytes(l, i, onProgress)) } : image;
  const { factsOfImage } = await import('./image-facts.js');
  const facts = await factsOfImage(counted, {
    parallel: opts.parallel,
    cache: opts.cache ?? null,
    ...(onProgress ? { onLayer: (layer: number, how: 'cached' | 'read') => onProgress({ kind: 'layer', layer, how }) } : {}),
  });
  if (key) opts.cache!.putFacts(key, facts);
  if (opts.identity) facts.identity = await image.identity();
  return facts;
}

/** Does this reference name a registry image (docker://, or no transport)? False for one that does not parse (opening it says why). */
export function isRegistryRef(ref: string): boolean {
  try {
    return parseReference(ref).transport === 'docker';
  } catch {
    return false;
  }
}

/**
 * Registry clients to share among these references: the caller's, or new ones when some reference
 * names a registry image (only then is the HTTP stack loaded).
 */
export async function registriesFor(refs: readonly string[], opts: Pick<InspectOptions, 'registry' | 'registries'>): Promise<Registries | undefined> {
  if (opts.registries) return opts.registries;
  if (!refs.some(isRegistryRef)) return undefined;
  const { Registries: R } = await import('./registry/client.js');
  return new R(opts.registry ?? {});
}

/** Facts made (or attached) earlier, naming the image as opened now: its reference, transport and index platforms. */
function asOpened(facts: ImageFacts, image: Image): ImageFacts {
  const f: ImageFacts = { ...facts, name: image.ref, transport: image.transport };
  if (image.indexPlatforms) f.platforms = [...image.indexPlatforms];
  else delete f.platforms;
  return f;
}

/** A blob layer whose stream tells the progress display of its bytes. */
function countBytes(l: Layer, index: number, onProgress: (e: ProgressEvent) => void): Layer {
  if (l.kind !== 'blob') return l;
  const counted: BlobLayer = {
    ...l,
    open: async (): Promise<Readable> => {
      const s = await l.open();
      s.on('data', (c: Buffer) => onProgress({ kind: 'bytes', layer: index, bytes: c.length }));
      return s;
    },
  };
  return counted;
}

type AttachedFound = Awaited<ReturnType<typeof import('./registry/attach.js').attachedFacts>>;

/** The facts artifact attached to the manifest `digest` of the registry image `ref`, or null. */
async function lookUpAttached(ref: string, digest: string, registries: Registries, cache: FactsCache | null): Promise<AttachedFound | null> {
  const r = parseReference(ref);
  if (r.transport !== 'docker') return null;
  const { attachedFacts } = await import('./registry/attach.js');
  return attachedFacts(await registries.for(r.docker.domain), r.docker, digest, cache);
}

/** Attached facts (as {@link lookUpAttached} found them) of a registry image's manifest, with the facts naming the reference as given now. */
async function attachedFor(image: Image, lookup: Promise<AttachedFound | null>): Promise<{ facts: ImageFacts; artifact: string } | null> {
  const found = await lookup;
  if (!found) return null;
  const facts = asOpened(found.facts, image);
  facts.warnings = [...facts.warnings, { code: 'attached-facts', message: `facts read from the artifact ${found.artifact.digest} attached to ${image.manifestDigest} (${found.artifact.annotations['org.opencontainers.image.created'] ?? 'undated'}); --no-attached reads the layers` }];
  return { facts, artifact: found.artifact.digest };
}

/**
 * Facts for every platform of a multi-platform image (`inspect --platform all`), in index order;
 * one element for a single-platform image.
 */
export async function inspectAll(ref: string, opts: InspectOptions = {}): Promise<ImageFacts[]> {
  const registries = await registriesFor([ref], opts);
  const shared: InspectOptions = { ...opts, ...(registries ? { registries } : {}) };
  const present = await imagePlatforms(ref, { registry: opts.registry, registries, blobCache: opts.cache ?? null, chStorage: opts.chStorage });
  if (!present || present.length === 0) return [await inspect(ref, { ...shared, platform: undefined, explicitPlatform: false })];
  const out: ImageFacts[] = [];
  for (const p of present) out.push(await inspect(ref, { ...shared, platform: p, explicitPlatform: true }));
  return out;
}
