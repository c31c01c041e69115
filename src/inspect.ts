import { extract, wantsFor } from './extract/index.js';
import { openImage } from './image/open.js';
import type { Image } from './image/types.js';
import { readLayers } from './layers/read.js';
import type { LayerScan } from './layers/types.js';
import { ImageView } from './layers/view.js';
import { emptyImageFacts } from './model/empty.js';
import type { ImageFacts } from './model/facts.js';

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
}

export { envMap } from './extract/config.js';

/** Build image facts from an opened image and its layer scans (the extractors run over the squashed view). */
export function imageFacts(image: Image, scans: readonly LayerScan[]): ImageFacts {
  const view = ImageView.fromScans(scans);
  const found = extract({ view, kind: 'image', config: image.config, platform: image.platform });
  const blobs = image.layers.flatMap((l, i) => (l.kind === 'blob' ? [{ l, scan: scans[i] }] : []));
  const warnings = scans.flatMap((s) => s.warnings);
  warnings.push(...found.warnings);
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

/**
 * Inspect an image without running it: open the reference, stream every layer once (digests
 * verified), squash, and extract platform, libc, MPI, GPU, labels, permissions and requirements.
 * Throws a ContainerspecError for bad input (exit status 2 in the CLI).
 */
export async function inspect(ref: string, opts: InspectOptions = {}): Promise<ImageFacts> {
  const image = await openImage(ref, { platform: opts.platform, explicitPlatform: opts.explicitPlatform });
  const scans = await readLayers(image, wantsFor('image'), opts.parallel !== undefined ? { parallel: opts.parallel } : {});
  const facts = imageFacts(image, scans);
  if (opts.identity) facts.identity = await image.identity();
  return facts;
}
