import { extractCuda } from './extract/gpu.js';
import { checkLabels } from './extract/labels.js';
import { extractLibc } from './extract/libc.js';
import { extractMpi } from './extract/mpi.js';
import { extractOs } from './extract/os-release.js';
import { installedPackages } from './extract/package-db.js';
import { extractPermissions } from './extract/permissions.js';
import { extractPlatform } from './extract/platform.js';
import { deriveRequirements } from './extract/requires.js';
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

/** Parse a config's `Env` list (`KEY=VALUE`). */
export function envMap(list: readonly string[] | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list ?? []) {
    const i = kv.indexOf('=');
    if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/**
 * Run every extractor over a squashed view. Shared by images and host roots: "the host is just
 * another root filesystem".
 */
export function factsFromView(view: ImageView, facts: Facts, image: Pick<Image, 'config' | 'platform'> | null): Facts {
  const config = image?.config ?? null;
  const labels = { ...(config?.config?.Labels ?? {}) };
  const env = envMap(config?.config?.Env);
  const plat = extractPlatform(view, config, image?.platform ?? null);
  const packages = installedPackages(view);
  const libc = extractLibc(view, packages, plat.facts.architecture);
  const mpi = extractMpi(view, packages);
  const cuda = extractCuda(view, env);
  facts.platform = plat.facts;
  facts.os = extractOs(view);
  facts.libc = libc.facts;
  facts.mpi = mpi;
  facts.cuda = cuda;
  facts.labels = labels;
  facts.env = env;
  facts.requires = deriveRequirements(
    view,
    libc.libPath && libc.libEntry ? { path: libc.libPath, entry: libc.libEntry } : null,
    cuda,
    labels,
    plat.facts,
  );
  facts.warnings.push(...view.warnings, ...plat.warnings, ...checkLabels(labels, libc.facts, mpi, cuda));
  let files = 0;
  let elfFiles = 0;
  const sonames = new Set<string>();
  for (const [path, e] of view.all()) {
    if (e.meta.type === 'file' || e.meta.type === 'hardlink') files++;
    const elf = e.result?.elf;
    if (elf) {
      elfFiles++;
      if (elf.type === 'dyn' && /\.so(?:\.|$)/.test(path)) sonames.add(elf.soname ?? path.slice(path.lastIndexOf('/') + 1));
    }
  }
  // Symlinks named like libraries (libfoo.so.1 -> libfoo.so.1.2.3) are what the loader finds too.
  for (const [path, e] of view.all()) {
    if (e.meta.type === 'symlink' && /\.so(?:\.\d+)*$/.test(path)) {
      const r = view.resolve(path);
      if (r.ok && r.entry.result?.elf) sonames.add(path.slice(path.lastIndexOf('/') + 1));
    }
  }
  if (facts.kind === 'image') facts.sonames = [...sonames].sort();
  facts.stats.files = files;
  facts.stats.elfFiles = elfFiles;
  return facts;
}

/** Build image facts from an opened image and its layer scans. */
export function imageFacts(image: Image, scans: LayerScan[]): Facts {
  const view = ImageView.fromScans(scans);
  const facts = emptyFacts('image', image.ref);
  facts.digest = image.manifestDigest;
  facts.config = { digest: image.configDigest };
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
