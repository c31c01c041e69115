import { FACTS_SCHEMA_VERSION, type CpuFacts, type CudaFacts, type Facts, type GpuFacts, type KernelFacts, type Requirements } from './facts.js';

/** Empty GPU facts (no driver, no devices). */
export function emptyGpu(): GpuFacts {
  return { driver: null, cudaMax: null, devices: [], rocm: null, evidence: [] };
}
/** Empty CPU facts. */
export function emptyCpu(): CpuFacts {
  return { microarch: null, vendor: null, family: null, model: null, features: [], cores: null, evidence: [] };
}
/** Empty kernel facts. */
export function emptyKernel(): KernelFacts {
  return { release: null, version: null, machine: null, cmdline: null, configSource: null, config: null, modules: [], sysctls: {}, userNamespaces: null, evidence: [] };
}
/** Empty CUDA facts. */
export function emptyCuda(): CudaFacts {
  return { runtime: null, runtimeFull: null, libraries: [], env: {}, compatDriver: null, evidence: [] };
}
/** No requirements. */
export function emptyRequirements(): Requirements {
  return { glibc: null, kernel: null, cuda: null, glibcxx: null, cxxabi: null, isaLevel: null, microarch: null };
}

/** A facts skeleton with everything unknown. */
export function emptyFacts(kind: 'image' | 'host', name: string): Facts {
  return {
    schemaVersion: FACTS_SCHEMA_VERSION,
    kind,
    name,
    platform: { os: null, architecture: null, variant: null, evidence: [] },
    os: { id: null, versionId: null, prettyName: null, idLike: [], evidence: [] },
    libc: { family: null, version: null, loaders: [], evidence: [] },
    mpi: [],
    cuda: emptyCuda(),
    gpu: emptyGpu(),
    cpu: emptyCpu(),
    kernel: emptyKernel(),
    emulators: [],
    labels: {},
    env: {},
    permissions: null,
    requires: emptyRequirements(),
    stats: { files: 0, elfFiles: 0, layers: 0, bytes: 0 },
    warnings: [],
  };
}
