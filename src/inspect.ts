import { extractPermissions } from './extract/permissions.js';
import { factsFromView } from './extract/view-facts.js';
import { openImage } from './image/open.js';
import type { Image } from './image/types.js';
import { readLayers } from './layers/read.js';
import type { LayerScan } from './layers/types.js';
import { ImageView } from './layers/view.js';
import { emptyFacts } from './model/empty.js';
import type { Facts } from './model/facts.js';

/** Options for {@link inspect}. */
export interface InspectOptions {
  /** `os/arch[/variant]` to pick from a multi-platform index; default: the host's. */
  platform?: string | undefined;
  /** Layers streamed at once; default: the number of cores. */
  parallel?: number | undefined;
  /** False when `platform` is only a default (the host's): a single-platform image of another arch is then inspected, not refused. */
  explicitPlatform?: boolean | undefined;
}

export { envMap, factsFromView } from './extract/view-facts.js';

/** Build image facts from an opened image and its layer scans. */
export function imageFacts(image: Image, scans: LayerScan[]): Facts {
  const view = ImageView.fromScans(scans);
  const facts = emptyFacts('image', image.ref);
  facts.digest = image.manifestDigest;
  facts.config = { digest: image.configDigest };
  if (image.indexPlatforms) facts.platforms = image.indexPlatforms;
  facts.layers = image.layers.map((l, i) => ({ digest: l.digest ?? l.diffId, mediaType: l.mediaType, size: l.size, compression: scans[i]?.compression ?? 'none' }));
  for (const s of scans) facts.warnings.push(...s.warnings);
  factsFromView(view, facts, image);
  facts.permissions = extractPermissions(view);
  if (image.rootDir !== undefined) facts.permissions.notes.push('extended attributes (ACLs) are not read from a dir: image');
  facts.stats.layers = image.rootDir !== undefined ? 0 : scans.length;
  facts.stats.bytes = scans.reduce((n, s) => n + s.bytes.tar, 0);
  return facts;
}

/**
 * Inspect an image without running it: open the reference, stream every layer once (digests
 * verified), squash, and extract platform, libc, MPI, GPU, labels, permissions and requirements.
 * Throws a ContainerspecError for bad input (exit status 2 in the CLI).
 */
export async function inspect(ref: string, opts: InspectOptions = {}): Promise<Facts> {
  const image = await openImage(ref, { platform: opts.platform, explicitPlatform: opts.explicitPlatform });
  const scans = await readLayers(image, opts.parallel !== undefined ? { parallel: opts.parallel } : {});
  return imageFacts(image, scans);
}
