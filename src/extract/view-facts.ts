import { extractCuda } from './gpu.js';
import { checkLabels } from './labels.js';
import { extractLibc } from './libc.js';
import { extractMpi } from './mpi.js';
import { extractOs } from './os-release.js';
import { installedPackages } from './package-db.js';
import { extractPlatform } from './platform.js';
import { deriveRequirements } from './requires.js';
import type { Image } from '../image/types.js';
import type { ImageView } from '../layers/view.js';
import type { Facts } from '../model/facts.js';

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
  if (facts.kind === 'image') for (const [path, e] of view.all()) {
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

