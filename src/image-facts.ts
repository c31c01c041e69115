/**
 * Image facts from an opened image: read its layers (src/layers, with the cache) and run the
 * extractors over the squashed view. Kept apart from inspect.ts, which loads it only when the facts
 * are not already known (a whole-image cache hit, attached facts), so that such runs never load the
 * extractors, the ELF reader or the walker.
 */
import { extract, wantsFor } from './extract/index.js';
import type { Image } from './image/types.js';
import { readLayers, type ReadOptions } from './layers/read.js';
import type { LayerScan } from './layers/types.js';
import { ImageView } from './layers/view.js';
import { FormatError } from './errors/index.js';
import { emptyImageFacts } from './model/empty.js';
import type { ImageFacts } from './model/facts.js';

/** Build image facts from an opened image and its layer scans (the extractors run over the squashed view). */
export function imageFacts(image: Image, scans: readonly LayerScan[]): ImageFacts {
  const view = ImageView.fromScans(scans);
  const found = extract({ view, kind: 'image', config: image.config, platform: image.platform });
  const blobs = image.layers.flatMap((l, i) => (l.kind === 'blob' ? [{ l, scan: scans[i] }] : []));
  const warnings = scans.flatMap((s) => s.warnings);
  warnings.push(...found.warnings);
  if (found.stats.files === 0) {
    throw new FormatError(`${image.ref}: the image holds no files at all (${scans.length} layer${scans.length === 1 ? '' : 's'}): nothing to judge`, image.ref);
  }
  const facts: ImageFacts = {
    ...emptyImageFacts(image.ref, image.transport),
    digest: image.manifestDigest,
    config: { digest: image.configDigest },
    ...(image.indexPlatforms ? { platforms: [...image.indexPlatforms] } : {}),
    layers: blobs.map(({ l, scan }) => ({
      digest: l.digest ?? l.diffId,
      mediaType: l.mediaType,
      size: l.size,
      compression: scan === undefined || scan.compression === 'dir' ? 'none' : scan.compression,
    })),
    platform: found.platform,
    os: found.os,
    libc: found.libc,
    mpi: found.mpi,
    cuda: found.cuda,
    labels: found.labels,
    env: found.env,
    permissions: found.permissions,
    requires: found.requires,
    sonames: found.sonames,
    stats: { ...found.stats, layers: blobs.length, bytes: scans.reduce((n, s) => n + s.bytes.tar, 0) },
    warnings,
  };
  return facts;
}

/** Read an image's layers (verified, with the cache when given) and make its facts. */
export async function factsOfImage(image: Image, opts: ReadOptions = {}): Promise<ImageFacts> {
  return imageFacts(image, await readLayers(image, wantsFor('image'), opts));
}
