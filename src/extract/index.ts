/**
 * The extractor registry: every extractor, in the order they run (a later one may read what an
 * earlier one found). To add one, write its module and add it here.
 */
import { WantSet } from '../layers/wants.js';
import { emptyCuda, emptyLibc, emptyOs, emptyPermissions, emptyPlatform, emptyRequirements } from '../model/empty.js';
import { configExtractor } from './config.js';
import { cudaExtractor } from './gpu.js';
import { inventoryExtractor } from './inventory.js';
import { labelsExtractor } from './labels.js';
import { libcExtractor } from './libc.js';
import { mpiExtractor } from './mpi.js';
import { osExtractor } from './os-release.js';
import { packagesExtractor } from './package-db.js';
import { permissionsExtractor } from './permissions.js';
import { platformExtractor } from './platform.js';
import { requiresExtractor } from './requires.js';
import { sonamesExtractor } from './sonames.js';
import type { ExtractInput, Extractor, Found } from './types.js';

export type { ExtractInput, Extractor, Found } from './types.js';

/** Every extractor, in running order. */
export const EXTRACTORS: readonly Extractor[] = [
  inventoryExtractor,
  configExtractor,
  platformExtractor,
  osExtractor,
  packagesExtractor,
  libcExtractor,
  mpiExtractor,
  cudaExtractor,
  labelsExtractor,
  requiresExtractor,
  permissionsExtractor,
  sonamesExtractor,
];

const forKind = (kind: 'image' | 'host') => EXTRACTORS.filter((x) => !x.kinds || x.kinds.includes(kind));
const wantSets = new Map<'image' | 'host', WantSet>();

/** What the extractors for images (or host roots) want from file contents, compiled once. */
export function wantsFor(kind: 'image' | 'host'): WantSet {
  let w = wantSets.get(kind);
  if (!w) wantSets.set(kind, (w = new WantSet(forKind(kind).map((x) => ({ owner: x.name, wants: x.wants })))));
  return w;
}

/** Nothing found yet. */
export function emptyFound(): Found {
  return {
    platform: emptyPlatform(),
    os: emptyOs(),
    libc: emptyLibc(),
    mpi: [],
    cuda: emptyCuda(),
    labels: {},
    env: {},
    requires: emptyRequirements(),
    permissions: emptyPermissions(),
    sonames: [],
    stats: { files: 0, elfFiles: 0 },
    warnings: [],
    packages: new Map(),
    libcFile: null,
  };
}

/**
 * Run every extractor for `input.kind` over the view, in order. `seed` pre-fills slots a caller
 * knows better (a host's platform comes from its machine, not from its libraries).
 */
export function extract(input: ExtractInput, seed: Partial<Found> = {}): Found {
  const found: Found = { ...emptyFound(), ...seed };
  for (const x of forKind(input.kind)) x.run(input, found);
  return found;
}
