import {
  FACTS_SCHEMA_VERSION,
  type CommonFacts,
  type CpuFacts,
  type CudaFacts,
  type GpuFacts,
  type HostFacts,
  type ImageFacts,
  type KernelFacts,
  type LibcFacts,
  type OsFacts,
  type PermissionFacts,
  type PlatformFacts,
  type Requirements,
  type SystemFacts,
} from './facts.js';

/** Empty GPU facts (no driver, no devices). */
export function emptyGpu(): GpuFacts {
  return {
    driver: null, driverSource: null, kernelModule: null, cudaMax: null, brand: null, computeCapability: null,
    libraries: [], devices: [], rocm: null, amdDriver: null, amdModuleLoaded: false, evidence: [],
  };
}
/** Empty CPU facts. */
export function emptyCpu(): CpuFacts {
  return { microarch: null, vendor: null, family: null, model: null, features: [], cores: null, evidence: [] };
}
/** Empty kernel facts. */
export function emptyKernel(): KernelFacts {
  return { release: null, version: null, machine: null, cmdline: null, config: null, modules: [], builtinModules: null, sysctls: {}, userNamespaces: null, evidence: [] };
}
/** Empty CUDA facts. */
export function emptyCuda(): CudaFacts {
  return { runtime: null, runtimeFull: null, libraries: [], env: {}, compatDriver: null, evidence: [] };
}
/** No requirements. */
export function emptyRequirements(): Requirements {
  return { glibc: null, kernel: null, cuda: null, glibcxx: null, cxxabi: null, isaLevel: null, microarch: null };
}
/** Nothing to flatten. */
export function emptyPermissions(): PermissionFacts {
  return { setuid: [], setgid: [], nonRootOwned: { count: 0, examples: [] }, devices: [], acls: [], flattenable: true, notes: [] };
}
/** Unknown platform. */
export function emptyPlatform(): PlatformFacts {
  return { os: null, architecture: null, variant: null, evidence: [] };
}
/** Unknown distribution. */
export function emptyOs(): OsFacts {
  return { id: null, versionId: null, prettyName: null, idLike: [], evidence: [] };
}
/** No libc found. */
export function emptyLibc(): LibcFacts {
  return { family: null, version: null, loaders: [], evidence: [] };
}
/** Unknown system facts. */
export function emptySystem(): SystemFacts {
  return {
    hostname: null, memTotalBytes: null, cpu: { logical: null, physical: null, model: null },
    virtualization: { virtual: null, hypervisor: null, cpuCanVirtualize: null }, slow: false, evidence: [],
  };
}

function emptyCommon(name: string): CommonFacts {
  return {
    schemaVersion: FACTS_SCHEMA_VERSION,
    name,
    platform: emptyPlatform(),
    os: emptyOs(),
    libc: emptyLibc(),
    mpi: [],
    cuda: emptyCuda(),
    stats: { files: 0, elfFiles: 0, layers: 0, bytes: 0 },
    warnings: [],
  };
}

/** Image facts with everything unknown. */
export function emptyImageFacts(name: string, transport: string): ImageFacts {
  const c = emptyCommon(name);
  return {
    schemaVersion: FACTS_SCHEMA_VERSION,
    kind: 'image',
    name,
    transport,
    digest: null,
    config: { digest: null },
    layers: [],
    platform: c.platform,
    os: c.os,
    libc: c.libc,
    mpi: c.mpi,
    cuda: c.cuda,
    labels: {},
    env: {},
    permissions: emptyPermissions(),
    requires: emptyRequirements(),
    sonames: [],
    stats: c.stats,
    warnings: c.warnings,
  };
}

/** Host facts with everything unknown. */
export function emptyHostFacts(name: string): HostFacts {
  const c = emptyCommon(name);
  return {
    schemaVersion: FACTS_SCHEMA_VERSION,
    kind: 'host',
    name,
    platform: c.platform,
    os: c.os,
    libc: c.libc,
    mpi: c.mpi,
    cuda: c.cuda,
    cpu: emptyCpu(),
    kernel: emptyKernel(),
    gpu: emptyGpu(),
    emulators: [],
    binfmt: { status: null, evidence: [] },
    system: emptySystem(),
    stats: c.stats,
    warnings: c.warnings,
  };
}
