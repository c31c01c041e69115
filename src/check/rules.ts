import type { Archspec } from '../arch/index.js';
import { cudaCompatibility, minimumDriverFor } from '../gpu/cuda-table.js';
import { evaluateRequirements } from '../gpu/nvidia-require.js';
import { compareTuples, compareVersions } from '../util/version.js';
import type { CompiledImage, MpiKey, PreparedHost } from './compile.js';

/**
 * Rule outcomes packed in one small integer, so matching millions of pairs allocates nothing:
 * bits 0-1 status, bit 2 required, bits 3+ penalty (points off the score).
 */
export const PASS = 0;
export const WARN = 1;
export const UNKNOWN = 2;
export const FAIL = 3;

/** Penalties (points off 100); the README's "The score" section documents them. */
export const PENALTY = {
  emulated: 40,
  unknown: 10,
  /** Per archspec generation between the image's target (or the generic family root) and the host's. */
  perGeneration: 2,
  microarchMax: 20,
  minorVersionCuda: 10,
  noHostMpi: 5,
  crossImplementationMpi: 5,
  provenanceDrift: 5,
  provenanceMax: 25,
} as const;

/** Pack an outcome. */
export function pack(status: number, required: boolean, penalty = 0): number {
  return status | (required ? 4 : 0) | (penalty << 3);
}
/** Status bits of an outcome. */
export const statusOf = (o: number): number => o & 3;
/** Required bit of an outcome. */
export const requiredOf = (o: number): boolean => (o & 4) !== 0;
/** Penalty of an outcome. */
export const penaltyOf = (o: number): number => o >>> 3;

/** arch: the image's architecture equals the host's; a registered binfmt emulator turns a fail into a warn. */
export function ruleArch(ci: CompiledImage, ph: PreparedHost): number {
  if (!ci.arch || !ph.arch) return pack(UNKNOWN, true, PENALTY.unknown);
  if (ci.arch === ph.arch) {
    // 32-bit ARM variants (v6/v7) must match; arm64 and amd64 variants are the microarch rule's business.
    if (ci.arch === 'arm' && ci.variant && ph.variant && ci.variant > ph.variant) return pack(FAIL, true);
    return pack(PASS, true);
  }
  if (ph.emulated.has(ci.arch)) return pack(WARN, true, PENALTY.emulated);
  return pack(FAIL, true);
}

/** microarch: an image built for an archspec target needs that target or a descendant; generic images score lower on newer CPUs. */
export function ruleMicroarch(ci: CompiledImage, ph: PreparedHost, spec: Archspec): number {
  const cached = ci.microCache[ph.microProfile];
  if (cached !== undefined) return cached;
  let o: number;
  if (!ci.arch || ci.arch !== ph.arch) o = pack(UNKNOWN, false, 0); // not applicable: emulated or unknown arch
  else if (ci.targetUnknown) o = pack(UNKNOWN, true, PENALTY.unknown);
  else if (!ph.target) o = ci.target ? pack(UNKNOWN, true, PENALTY.unknown) : pack(PASS, false, 0);
  else if (!ci.target) o = pack(PASS, false, Math.min(PENALTY.microarchMax, PENALTY.perGeneration * ph.targetDepth));
  else if (spec.le(ci.target, ph.target)) {
    const gap = ph.targetDepth - spec.ancestors(ci.target).length;
    o = pack(PASS, true, Math.min(PENALTY.microarchMax, PENALTY.perGeneration * Math.max(0, gap)));
  } else o = pack(FAIL, true);
  ci.microCache[ph.microProfile] = o;
  return o;
}

/** kernel: the image libc's minimum kernel (ELF ABI tag) is at most the host's kernel. */
export function ruleKernel(ci: CompiledImage, ph: PreparedHost): number {
  if (ci.kernelKey < 0) return pack(PASS, false);
  if (ph.kernelKey < 0) return pack(UNKNOWN, true, PENALTY.unknown);
  return ph.kernelKey >= ci.kernelKey ? pack(PASS, true) : pack(FAIL, true);
}

/** libc: the image is self-consistent: no ELF file in it needs a GLIBC_x.y newer than its own glibc. */
export function ruleLibc(ci: Pick<CompiledImage, 'glibc' | 'glibcNeed' | 'facts'>): number {
  if (!ci.glibcNeed) return pack(PASS, false);
  if (!ci.glibc) {
    if (ci.facts.libc.family === 'glibc') return pack(UNKNOWN, true, PENALTY.unknown);
    return pack(FAIL, true);
  }
  return compareTuples(ci.glibc, ci.glibcNeed) >= 0 ? pack(PASS, true) : pack(FAIL, true);
}

/** The CUDA version an image's runtime (or legacy CUDA_VERSION) asks for. */
export function runtimeCuda(ci: CompiledImage): string | null {
  if (ci.cudaRuntime) return ci.cudaRuntime;
  const v = ci.facts.cuda.env.CUDA_VERSION;
  return v && /^\d+\.\d+/.test(v) ? v.split('.').slice(0, 2).join('.') : null;
}

/**
 * CUDA forward compatibility: the image ships a newer user-mode driver under /usr/local/cuda/compat
 * that meets its runtime's minimum, and the host GPU is a datacenter one (brand tesla), where
 * NVIDIA supports those libraries on an older kernel driver. An unknown brand does not count.
 */
export function forwardCompatible(ci: CompiledImage, ph: PreparedHost, runtime: string): boolean {
  const compat = ci.facts.cuda.compatDriver;
  const min = minimumDriverFor(runtime);
  return Boolean(compat && min && ph.gpu.brand === 'tesla' && compareVersions(compat, min) >= 0);
}

/** gpu: NVIDIA_REQUIRE_* expressions, else the CUDA runtime, against the host driver (driver table, minor-version compatibility). */
export function ruleGpu(ci: CompiledImage, ph: PreparedHost): number {
  if (!ci.needsGpu) return pack(PASS, false);
  const cached = ci.gpuCache[ph.gpuProfile];
  if (cached !== undefined) return cached;
  let o: number;
  if (!ph.driver) o = pack(FAIL, true);
  else {
    const runtime = runtimeCuda(ci);
    let runtimeStatus: 'full' | 'minor-version' | 'none' | 'unknown' = 'full';
    if (runtime) runtimeStatus = minimumDriverFor(runtime) ? cudaCompatibility(runtime, ph.driver).status : 'unknown';
    if (runtimeStatus !== 'full' && runtime && forwardCompatible(ci, ph, runtime)) runtimeStatus = 'full';
    if (ci.gpuHasReq) {
      const r = evaluateRequirements(ci.gpuReq, ph.gpu).status;
      if (r === 'fail') o = pack(FAIL, true);
      else if (r === 'unknown') o = pack(UNKNOWN, true, PENALTY.unknown);
      else o = runtimeStatus === 'minor-version' ? pack(WARN, true, PENALTY.minorVersionCuda) : pack(PASS, true);
    } else if (runtimeStatus === 'unknown') o = pack(UNKNOWN, true, PENALTY.unknown);
    else if (runtimeStatus === 'none') o = pack(FAIL, true);
    else o = runtimeStatus === 'minor-version' ? pack(WARN, true, PENALTY.minorVersionCuda) : pack(PASS, true);
  }
  ci.gpuCache[ph.gpuProfile] = o;
  return o;
}

/** Compare one image MPI with one host MPI: the packed outcome. */
export function compareMpi(img: MpiKey, host: MpiKey): number {
  if (!img.abi || !host.abi || img.abi !== host.abi) return pack(FAIL, true);
  if (img.impl !== host.impl) {
    // Same ABI, other implementation (MPICH vs Intel MPI): the soname contract holds, versions do not compare.
    return pack(WARN, true, PENALTY.crossImplementationMpi);
  }
  if (!img.version || !host.version) return pack(UNKNOWN, true, PENALTY.unknown);
  const sameMajor = (img.version[0] ?? 0) === (host.version[0] ?? 0);
  const minorOk = (host.version[1] ?? 0) >= (img.version[1] ?? 0);
  return sameMajor && minorOk ? pack(PASS, true) : pack(FAIL, true);
}

/** Rank outcomes: pass best, then warn, unknown, fail; lower penalty better. */
export function better(a: number, b: number): boolean {
  const sa = statusOf(a);
  const sb = statusOf(b);
  return sa !== sb ? sa < sb : penaltyOf(a) < penaltyOf(b);
}

/** mpi: host-MPI (hybrid/bind) model: same ABI family, host minor >= image minor within the same major. No host MPI: a warning. */
export function ruleMpi(ci: CompiledImage, ph: PreparedHost): number {
  if (ci.mpi.length === 0) return pack(PASS, false);
  const cached = ci.mpiCache[ph.mpiProfile];
  if (cached !== undefined) return cached;
  let o: number;
  if (ph.mpi.length === 0) o = pack(WARN, false, PENALTY.noHostMpi);
  else {
    o = pack(FAIL, true);
    for (const im of ci.mpi) for (const hm of ph.mpi) {
      const c = compareMpi(im, hm);
      if (better(c, o)) o = c;
    }
  }
  ci.mpiCache[ph.mpiProfile] = o;
  return o;
}

/** Sum a set of outcomes into a verdict and a score. */
export function summarise(outcomes: readonly number[]): { verdict: 'compatible' | 'incompatible' | 'unknown'; score: number } {
  let penalty = 0;
  let unknown = false;
  for (const o of outcomes) {
    const s = statusOf(o);
    if (s === FAIL && requiredOf(o)) return { verdict: 'incompatible', score: 0 };
    if (s === UNKNOWN && requiredOf(o)) unknown = true;
    penalty += penaltyOf(o);
  }
  return { verdict: unknown ? 'unknown' : 'compatible', score: Math.max(0, 100 - penalty) };
}

/** Score one pair without building messages (the matching hot path). Same rules as the report. Returns 0..100 for compatible, -1 incompatible, -2-score unknown. */
export function scorePair(ci: CompiledImage, ph: PreparedHost, spec: Archspec): number {
  let penalty = 0;
  let unknown = false;
  let o = ruleArch(ci, ph);
  for (let i = 0; ; i++) {
    const s = o & 3;
    if (s === FAIL && o & 4) return -1;
    if (s === UNKNOWN && o & 4) unknown = true;
    penalty += o >>> 3;
    if (i === 0) o = ruleMicroarch(ci, ph, spec);
    else if (i === 1) o = ruleKernel(ci, ph);
    else if (i === 2) o = ci.libcOutcome;
    else if (i === 3) o = ruleGpu(ci, ph);
    else if (i === 4) o = ruleMpi(ci, ph);
    else break;
  }
  const score = penalty >= 100 ? 0 : 100 - penalty;
  return unknown ? -2 - score : score;
}
