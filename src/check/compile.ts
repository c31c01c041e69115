import { loadArchspec, type Archspec } from '../arch/index.js';
import { maxCudaForDriver } from '../gpu/cuda-table.js';
import { datacenterGpu } from '../gpu/gpu-models.js';
import { parseRequirements, prepareHost as prepareGpuHost, type ParsedRequirements, type PreparedGpuHost } from '../gpu/nvidia-require.js';
import type { HostFacts, ImageFacts, MpiFact } from '../model/facts.js';
import { parseVersion, type VersionTuple } from '../util/version.js';
import { seriesOf, type MpiSeries } from './mpi-abi.js';

/** An MPI library reduced to what the ABI rule compares. */
export interface MpiKey {
  impl: MpiFact['implementation'];
  abi: MpiFact['abi'];
  version: VersionTuple | null;
  /** The ABI series of the MPI ABI table this library belongs to (mpi-abi.ts), or null; looked up once here, not per pair. */
  series: MpiSeries | null;
  raw: MpiFact;
}

/** An image's requirements compiled once, so scoring one more host is cheap. */
export interface CompiledImage {
  facts: ImageFacts;
  arch: string | null;
  variant: string | null;
  /** archspec target the image is built for, or null for a generic image. */
  target: string | null;
  /** True when the image names a target archspec does not know. */
  targetUnknown: boolean;
  kernel: VersionTuple | null;
  /** The kernel requirement as one comparable number (see {@link kernelKey}); -1 when none. */
  kernelKey: number;
  glibc: VersionTuple | null;
  glibcNeed: VersionTuple | null;
  needsGpu: boolean;
  gpuReq: ParsedRequirements;
  /** Requirements present and not disabled. */
  gpuHasReq: boolean;
  cudaRuntime: string | null;
  mpi: MpiKey[];
  /** Rules' per-host-profile caches of outcomes, by memo slot (see rule.ts memoizedOutcome): rules whose inputs repeat across hosts. */
  memo: number[][];
}

/** A host's facts pre-parsed once for many images. */
export interface PreparedHost {
  facts: HostFacts;
  arch: string | null;
  variant: string | null;
  emulated: Set<string>;
  target: string | null;
  /** Depth of the host target in the archspec graph (number of ancestors). */
  targetDepth: number;
  kernel: VersionTuple | null;
  /** The kernel release as one comparable number; -1 when unknown. */
  kernelKey: number;
  glibc: VersionTuple | null;
  driver: string | null;
  cudaMax: string | null;
  gpu: PreparedGpuHost;
  /** Data center NVIDIA GPUs (CUDA forward compatibility supported); null when unknown or no driver ({@link datacenterGpu}). */
  gpuDatacenter: boolean | null;
  mpi: MpiKey[];
  /** Small integers naming this host's GPU / MPI / CPU situation, shared by hosts that are alike (cache keys). */
  gpuProfile: number;
  mpiProfile: number;
  microProfile: number;
}

const profiles = { gpu: new Map<string, number>(), mpi: new Map<string, number>(), micro: new Map<string, number>() };
function profileId(kind: keyof typeof profiles, key: string): number {
  const m = profiles[kind];
  let id = m.get(key);
  if (id === undefined) {
    id = m.size;
    m.set(key, id);
  }
  return id;
}

function mpiKeys(list: readonly MpiFact[]): MpiKey[] {
  return list.map((m) => {
    const version = m.version ? parseVersion(m.version) : null;
    return { impl: m.implementation, abi: m.abi, version, series: seriesOf(m.implementation, m.abi, version), raw: m };
  });
}

/** A kernel version as one number (major, minor, patch; 1024 values each), so comparing is one integer compare. */
export function kernelKey(v: VersionTuple | null): number {
  if (!v) return -1;
  const c = (i: number) => Math.min(1023, v[i] ?? 0);
  return c(0) * 1048576 + c(1) * 1024 + c(2);
}

/** Does this image need a GPU? NVIDIA_REQUIRE_* (not disabled), CUDA_VERSION, or a CUDA runtime in it. */
function imageNeedsGpu(f: ImageFacts, req: ParsedRequirements): boolean {
  if (req.disabled) return Boolean(f.cuda.runtime);
  return req.requirements.length > 0 || req.errors.length > 0 || Boolean(f.cuda.runtime) || Boolean(f.cuda.env.CUDA_VERSION);
}

/** Compile an image's facts into its requirements. */
export function compileImage(facts: ImageFacts, spec: Archspec = loadArchspec()): CompiledImage {
  const req = parseRequirements(facts.cuda.env);
  const target = facts.requires.microarch?.version ?? null;
  const kernel = facts.requires.kernel ? parseVersion(facts.requires.kernel.version) : null;
  const ci: CompiledImage = {
    facts,
    arch: facts.platform.architecture,
    variant: facts.platform.variant,
    target,
    targetUnknown: target !== null && !spec.has(target),
    kernel,
    kernelKey: kernelKey(kernel),
    glibc: facts.libc.family === 'glibc' && facts.libc.version ? parseVersion(facts.libc.version) : null,
    glibcNeed: facts.requires.glibc ? parseVersion(facts.requires.glibc.version) : null,
    needsGpu: imageNeedsGpu(facts, req),
    gpuReq: req,
    gpuHasReq: !req.disabled && (req.requirements.length > 0 || req.errors.length > 0),
    cudaRuntime: facts.cuda.runtime,
    mpi: mpiKeys(facts.mpi),
    memo: [],
  };
  return ci;
}

/** Prepare a host's facts for many checks. */
export function prepareHost(facts: HostFacts, spec: Archspec = loadArchspec()): PreparedHost {
  const target = facts.cpu.microarch && spec.has(facts.cpu.microarch) ? facts.cpu.microarch : null;
  const driver = facts.gpu.driver;
  const cudaMax = facts.gpu.cudaMax ?? (driver ? maxCudaForDriver(driver) : null);
  const brand = facts.gpu.brand;
  const gpuArch = facts.gpu.computeCapability;
  const datacenter = driver ? datacenterGpu(facts.gpu) : null;
  const mpi = mpiKeys(facts.mpi);
  const kernel = facts.kernel.release ? parseVersion(facts.kernel.release) : null;
  return {
    facts,
    arch: facts.platform.architecture,
    variant: facts.platform.variant,
    emulated: new Set(facts.emulators.map((e) => e.architecture).filter((a): a is string => Boolean(a))),
    target,
    targetDepth: target ? spec.ancestors(target).length : 0,
    kernel,
    kernelKey: kernelKey(kernel),
    glibc: facts.libc.family === 'glibc' && facts.libc.version ? parseVersion(facts.libc.version) : null,
    driver,
    cudaMax,
    gpu: prepareGpuHost({ cuda: cudaMax, driver, brand, arch: gpuArch }),
    gpuDatacenter: datacenter,
    mpi,
    gpuProfile: profileId('gpu', `${driver}|${cudaMax}|${brand}|${gpuArch}|${datacenter}`),
    mpiProfile: profileId('mpi', mpi.map((m) => `${m.impl}/${m.abi}/${m.raw.version}`).join(',')),
    microProfile: profileId('micro', `${facts.platform.architecture}|${target}|${[...new Set(facts.emulators.map((e) => e.architecture))].join(',')}`),
  };
}
