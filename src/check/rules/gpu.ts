import { cudaCompatibility, loadCudaTable, minimumDriverFor, toolkitRow, type CudaCompatibility } from '../../gpu/cuda-table.js';
import { brandFeature, branchFeature, capabilityFloors, cudaFeature, requirementsNeeds } from '../../gpu/require-features.js';
import { and, FALSE, feat, needs, or, TRUE as TRUE_EXPR } from '../../sched/expr.js';
import { parseVersion } from '../../util/version.js';
import { describeRequirement, evaluateRequirements, type RequirementsEvaluation } from '../../gpu/nvidia-require.js';
import { compareTuples, compareVersions } from '../../util/version.js';
import type { CompiledImage, PreparedHost } from '../compile.js';
import { constant, FAIL, makeCheck, memoOf, memoSlot, pack, PASS, PENALTY, statusOf, UNKNOWN, WARN, type Evaluation, type Rule } from '../rule.js';

const SLOT = memoSlot();
const NO_GPU_NEEDED = constant(PASS, false);

/** What the gpu rule found, once per (image, host GPU profile). */
interface GpuEvaluation extends Evaluation {
  /** The CUDA version the image's runtime (or legacy CUDA_VERSION) asks for. */
  runtime: string | null;
  /** The driver table's verdict on that runtime with this driver (null: no runtime, no driver, or not in the table). */
  compat: CudaCompatibility | null;
  /** The image's forward-compatibility driver makes up for an old host driver (null: it would on a data center GPU, and this one's kind is unknown). */
  forward: boolean | null;
  /** NVIDIA_REQUIRE_* evaluated against the host, when the image has requirements. */
  requirements: RequirementsEvaluation | null;
}

/** The CUDA version an image's runtime (or legacy CUDA_VERSION) asks for. */
export function runtimeCuda(ci: CompiledImage): string | null {
  if (ci.cudaRuntime) return ci.cudaRuntime;
  const v = ci.facts.cuda.env.CUDA_VERSION;
  return v && /^\d+\.\d+/.test(v) ? v.split('.').slice(0, 2).join('.') : null;
}

/**
 * CUDA forward compatibility: the image ships a newer user-mode driver under /usr/local/cuda/compat
 * that meets its runtime's minimum, and the host GPU is a data center one, where NVIDIA supports
 * those libraries on an older kernel driver (`PreparedHost.gpuDatacenter`, from the brand or the GPU
 * model table). True when both hold; false when the image has no such driver or the GPU is not a
 * data center one; null when the driver covers the runtime but the GPU's kind is unknown.
 */
export function forwardCompatible(ci: CompiledImage, ph: PreparedHost, runtime: string): boolean | null {
  return compatDriverCovers(ci, minimumDriverFor(runtime)) ? ph.gpuDatacenter : false;
}

/** The image ships a forward-compatibility driver (`/usr/local/cuda/compat`) of at least `minimumDriver`, its runtime's minimum. */
export function compatDriverCovers(ci: CompiledImage, minimumDriver: string | null): boolean {
  const compat = ci.facts.cuda.compatDriver;
  return Boolean(compat && minimumDriver && compareVersions(compat, minimumDriver) >= 0);
}

/** The Slurm/NFD-style feature a host with data center NVIDIA GPUs offers (what forward compatibility needs). */
export const DATACENTER_FEATURE = 'gpu_datacenter';

function evaluateGpu(ci: CompiledImage, ph: PreparedHost): GpuEvaluation {
  const runtime = runtimeCuda(ci);
  if (!ph.driver) return { outcome: pack(FAIL, true), runtime, compat: null, forward: false, requirements: null };
  const inTable = runtime ? minimumDriverFor(runtime) !== null : false;
  const compat = runtime && inTable ? cudaCompatibility(runtime, ph.driver) : null;
  const forward = compat !== null && compat.status !== 'full' && runtime !== null ? forwardCompatible(ci, ph, runtime) : false;
  // No native way, and the forward-compatibility driver would do on a data center GPU: cannot tell.
  const runtimeStatus = !runtime ? 'full' : !compat ? 'unknown' : forward === true ? 'full' : forward === null && compat.status === 'none' ? 'unknown' : compat.status;
  const fromRuntime = runtimeStatus === 'minor-version' ? pack(WARN, true, PENALTY.minorVersionCuda) : pack(PASS, true);
  if (ci.gpuHasReq) {
    const r = evaluateRequirements(ci.gpuReq, ph.gpu);
    const outcome = r.status === 'fail' ? pack(FAIL, true) : r.status === 'unknown' ? pack(UNKNOWN, true, PENALTY.unknown) : fromRuntime;
    return { outcome, runtime, compat, forward, requirements: r };
  }
  const outcome = runtimeStatus === 'unknown' ? pack(UNKNOWN, true, PENALTY.unknown) : runtimeStatus === 'none' ? pack(FAIL, true) : fromRuntime;
  return { outcome, runtime, compat, forward, requirements: null };
}

/** gpu: NVIDIA_REQUIRE_* as NVIDIA's runtime hook judges them, else the CUDA runtime, against the host driver (driver table, minor-version and forward compatibility). */
function evaluate(ci: CompiledImage, ph: PreparedHost): Evaluation | GpuEvaluation {
  return ci.needsGpu ? evaluateGpu(ci, ph) : NO_GPU_NEEDED;
}

export const gpuRule: Rule<Evaluation | GpuEvaluation> = {
  id: 'gpu',
  evaluate,
  outcome(ci, ph) {
    if (!ci.needsGpu) return NO_GPU_NEEDED.outcome;
    const memo = memoOf(ci, SLOT);
    let o = memo[ph.gpuProfile];
    if (o === undefined) memo[ph.gpuProfile] = o = evaluateGpu(ci, ph).outcome;
    return o;
  },
  report(e, ci, ph) {
    const ev = 'runtime' in e ? (e as GpuEvaluation) : null;
    const s = statusOf(e.outcome);
    const runtime = ev?.runtime ?? runtimeCuda(ci);
    const env = ci.facts.cuda.env;
    const needTxt = ci.gpuHasReq
      ? ci.gpuReq.requirements.map((r) => describeRequirement(r, {})).join('; and ') || 'NVIDIA_REQUIRE_* (malformed)'
      : runtime ? `CUDA ${runtime}` : 'a GPU';
    const minDriver = runtime ? minimumDriverFor(runtime) : null;
    const hostTxt = ph.driver ? `NVIDIA driver ${ph.driver}${ph.cudaMax ? ` (CUDA <= ${ph.cudaMax})` : ''}` : 'no NVIDIA driver';
    let msg: string;
    let fix: string | undefined;
    if (!ci.needsGpu || !ev) msg = 'the image needs no GPU';
    else if (!ph.driver) {
      msg = `needs an NVIDIA GPU${minDriver ? ` with driver >= ${minDriver}` : ''} (${needTxt}); this host has no NVIDIA driver`;
      fix = 'run on a GPU node (e.g. sbatch --gres=gpu:1)';
    } else if (ev.requirements) {
      const r = ev.requirements;
      msg = s === WARN && ev.compat ? `${r.message}; ${ev.compat.message}` : r.message;
      if (s === FAIL && r.refusalKind === 'malformed') {
        fix = "fix the image's NVIDIA_REQUIRE_* / CUDA_VERSION: NVIDIA's runtime hook refuses them on any host (or set NVIDIA_DISABLE_REQUIRE=true)";
      } else if (s === FAIL) fix = minDriver ? `needs an NVIDIA driver >= ${minDriver}; this host has ${ph.driver}` : `a driver that satisfies ${env.NVIDIA_REQUIRE_CUDA ?? 'the requirement'}`;
      if (s === UNKNOWN && r.missing.length) {
        fix = `tell the ${r.missing.join(' and ')} with --set ${r.missing.map((m) => (m === 'brand' ? 'cuda.brand=tesla' : m === 'arch' ? 'cuda.arch=8.0' : `cuda.${m}`)).join(' ')}`;
      }
    } else if (runtime && ev.compat && s === UNKNOWN && ev.forward === null) {
      msg = `${ev.compat.message}; the image's forward-compatibility driver ${ci.facts.cuda.compatDriver} covers CUDA ${runtime} on a data center GPU, and whether this host's GPU is one is unknown (${ph.gpu.brand ? `its brand, ${ph.gpu.brand}, does not say` : 'its brand is unknown'}, and the GPU model table does not mark its models)`;
      fix = `if the GPU is a data center one (Tesla, A100, H100, ...), say so with --set cuda.brand=tesla; else it needs an NVIDIA driver >= ${minDriver}`;
    } else if (runtime && ev.compat) {
      msg = s === PASS ? `CUDA ${runtime} runtime; this host has ${hostTxt}` : ev.compat.message;
      if (s !== PASS) fix = `needs an NVIDIA driver >= ${minDriver}; this host has ${ph.driver}`;
    } else {
      msg = `the image needs CUDA ${runtime ?? '?'}, which the driver table does not list`;
      fix = 'update the CUDA driver table (CONTAINERSPEC_CUDA_TABLE)';
    }
    if (s === WARN) fix ??= minDriver ? `a driver >= ${minDriver} gives CUDA ${runtime} its full feature set` : undefined;
    if (s === PASS && ev?.forward) {
      msg += `; CUDA ${runtime} runs through the image's forward-compatibility driver ${ci.facts.cuda.compatDriver} (data center GPU)`;
    }
    if (s === FAIL && ci.facts.cuda.compatDriver) msg += ` (the image ships forward-compatibility libraries for driver ${ci.facts.cuda.compatDriver}; they help only on data center GPUs${ph.gpuDatacenter === false ? ', and this host\'s are not' : ''})`;
    return [makeCheck('gpu', e.outcome, msg, { driver: ph.driver, cudaMax: ph.cudaMax }, { needs: ci.needsGpu ? needTxt : null, runtime, env }, fix, ci.facts.cuda.evidence)];
  },
  // Features (src/gpu/require-features.ts): `nvidia` for an NVIDIA driver and `nvidia<branch>`;
  // `cuda<M>_<m>` for each driver-table CUDA version up to the host's highest; `cuda<M>_minorcompat`
  // where the driver runs every CUDA M.x under minor-version compatibility; `gpu_<brand>`;
  // `sm<M>_<m>` for the compute capability and each lower one; `gpu_datacenter` for data center GPUs.
  features(ph) {
    if (!ph.driver) return [];
    const table = loadCudaTable();
    const out = ['nvidia'];
    const d = ph.gpu.driver;
    if (d && Number.isSafeInteger(d[0])) out.push(branchFeature(d[0] ?? 0));
    const max = ph.gpu.cuda;
    if (max) for (const row of table.toolkits) if (compareTuples(row.version, max) <= 0) out.push(cudaFeature(row.cuda));
    if (d) for (const f of table.families.values()) if (compareTuples(d, f.driver) >= 0) out.push(`cuda${f.major}_minorcompat`);
    if (ph.gpu.brandKey) out.push(brandFeature(ph.gpu.brandKey));
    if (ph.gpu.arch) out.push(...capabilityFloors(ph.gpu.arch));
    if (ph.gpuDatacenter) out.push(DATACENTER_FEATURE);
    return out;
  },
  constraint(ci) {
    if (!ci.needsGpu) return needs(TRUE_EXPR);
    const driver = feat('nvidia');
    if (ci.gpuHasReq) {
      const r = requirementsNeeds(ci.gpuReq);
      return needs(and(driver, r.expr), r.notes);
    }
    const runtime = runtimeCuda(ci);
    if (!runtime) return needs(driver);
    const rv = parseVersion(runtime);
    const row = rv ? toolkitRow(rv) : null;
    if (!rv || !row) return needs(FALSE); // not in the driver table: unknown on every host
    const family = loadCudaTable().families.get(rv[0] ?? 0);
    const forward = compatDriverCovers(ci, row.minimumDriver);
    return needs(and(driver, or(feat(cudaFeature(row.cuda)), family ? feat(`cuda${family.major}_minorcompat`) : FALSE, forward ? feat(DATACENTER_FEATURE) : FALSE)));
  },
};
