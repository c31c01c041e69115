/**
 * `NVIDIA_REQUIRE_*` requirements as scheduler feature expressions (see src/sched/expr.ts), in
 * the features the gpu rule offers for a host (src/check/rules/gpu.ts):
 *
 * - `cuda<M>_<m>`: the driver supports CUDA M.m (a row of the driver table at or below the host's
 *   highest CUDA), so `cuda>=12.4` is `cuda12_4`;
 * - `nvidia<B>`: the driver's branch (major version), so `driver>=535,driver<536` is `nvidia535`;
 * - `gpu_<brand>`: the GPU brand as the toolkit names it, so `brand=tesla` is `gpu_tesla`;
 * - `sm<M>_<m>`: compute capability M.m or higher, so `arch>=8.0` is `sm8_0`.
 *
 * A requirement is alternatives (OR) of constraints (AND), as the hook reads it. What a feature
 * cannot say without a NOT (`cuda<12`, `driver=535.104.05`, a driver floor with no ceiling, a
 * constraint the hook would reject only on some hosts) becomes a note and is left out, so the
 * expression then selects more nodes than the hook accepts.
 */
import { and, anyOf, FALSE, feat, namePart, needs, or, TRUE, versionPart, type Expr, type Needs } from '../sched/expr.js';
import { compareTuples, type VersionTuple } from '../util/version.js';
import { loadCudaTable, type CudaTable } from './cuda-table.js';
import type { Constraint, ParsedRequirements, Requirement } from './nvidia-require.js';

/** GPU brands as nvidia-container-toolkit names them (`brand!=X` is any of the others). */
export const NVIDIA_BRANDS: readonly string[] = [
  'unknown', 'quadro', 'tesla', 'nvs', 'grid', 'geforce', 'titan', 'vapps', 'vpc', 'vcs', 'vws', 'cloudgaming',
  'quadrortx', 'nvidiartx', 'nvidia', 'geforcertx', 'titanrtx',
];

/** Compute capabilities of NVIDIA GPUs, ascending: a host offers `sm<M>_<m>` for its own and each lower one. */
export const COMPUTE_CAPABILITIES: readonly string[] = [
  '3.0', '3.2', '3.5', '3.7', '5.0', '5.2', '5.3', '6.0', '6.1', '6.2', '7.0', '7.2', '7.5', '8.0', '8.6', '8.7', '8.9', '9.0',
  '10.0', '10.1', '10.3', '11.0', '12.0', '12.1',
];
const CAPS = COMPUTE_CAPABILITIES.map((c) => ({ c, t: c.split('.').map(Number) }));

/** Driver branches a bounded `driver` range may span and still be written out as branches. */
const MAX_BRANCHES = 64;

/** The feature for "the driver supports CUDA `cuda`" (a driver-table row). */
export const cudaFeature = (cuda: string): string => `cuda${versionPart(cuda)}`;
/** The feature for a driver branch. */
export const branchFeature = (major: number): string => `nvidia${major}`;
/** The feature for a GPU brand. */
export const brandFeature = (brand: string): string => `gpu_${namePart(brand)}`;
/** The feature for a compute capability floor. */
export const capabilityFeature = (cap: string): string => `sm${versionPart(cap)}`;

/** Capability floors at or below a host's compute capability. */
export function capabilityFloors(arch: VersionTuple): string[] {
  return CAPS.filter((k) => compareTuples(k.t, arch) <= 0).map((k) => capabilityFeature(k.c));
}

const isZero = (v: VersionTuple): boolean => v.every((x) => x === 0);
/** A whole number `N` (written `N` or `N.0.0`), else null. */
const whole = (v: VersionTuple): number | null => (v.slice(1).every((x) => x === 0) && Number.isSafeInteger(v[0]) ? (v[0] ?? 0) : null);

/** The first entry (ascending) above `v` (`strict`) or at least `v`. */
function firstAtLeast<T>(list: readonly T[], tuple: (t: T) => VersionTuple, v: VersionTuple, strict: boolean): T | null {
  for (const x of list) {
    const c = compareTuples(tuple(x), v);
    if (c > 0 || (!strict && c === 0)) return x;
  }
  return null;
}

interface AltState {
  parts: Expr[];
  lo: number;
  hi: number;
  notes: string[];
}

/** One well-formed constraint; driver bounds are gathered in the alternative's state. */
function constraintNeeds(c: Constraint, st: AltState, table: CudaTable): void {
  const v = c.version;
  const raw = c.raw;
  const note = (why: string): void => {
    st.notes.push(`${raw}: ${why}; left out of the constraint`);
  };
  if (Buffer.byteLength(raw) >= 120) return note('the hook refuses the image where this is false (its message overflows), which no feature can say');
  if (c.property === 'brand') {
    const b = c.brand ?? '';
    st.parts.push(c.op === '=' ? feat(brandFeature(b)) : or(...NVIDIA_BRANDS.filter((x) => x !== b).map((x) => feat(brandFeature(x)))));
    return;
  }
  if (!v) return note('not a version');
  if (v.some((x) => !Number.isSafeInteger(x))) return note('a version component too large to compare here');
  if (c.op === '>=' && isZero(v)) return; // every version is >= 0
  if (c.op === '<' && isZero(v)) {
    st.parts.push(FALSE);
    return;
  }
  if (c.property === 'cuda') {
    if (c.op !== '>=' && c.op !== '>') return note(`a ${c.op} bound on CUDA needs a NOT, which Slurm features lack`);
    const row = firstAtLeast(table.toolkits, (r) => r.version, v, c.op === '>');
    st.parts.push(row ? feat(cudaFeature(row.cuda)) : FALSE);
    return;
  }
  if (c.property === 'arch') {
    if (c.op !== '>=' && c.op !== '>') return note(`a ${c.op} bound on the compute capability needs a NOT, which Slurm features lack`);
    const cap = firstAtLeast(CAPS, (k) => k.t, v, c.op === '>');
    st.parts.push(cap ? feat(capabilityFeature(cap.c)) : FALSE);
    return;
  }
  // driver: whole-number bounds are branch ranges
  const n = whole(v);
  if (n === null || (c.op !== '>=' && c.op !== '<')) return note(`only whole-branch driver bounds (driver>=N, driver<N) are features`);
  if (c.op === '>=') st.lo = Math.max(st.lo, n);
  else st.hi = Math.min(st.hi, n);
}

/** One alternative (an AND of constraints): its expression, or null when it can never hold. */
function alternativeNeeds(tokens: readonly Constraint[], table: CudaTable, notes: string[]): Expr {
  const st: AltState = { parts: [], lo: 0, hi: Infinity, notes };
  for (const c of tokens) constraintNeeds(c, st, table);
  if (st.lo >= st.hi) return FALSE;
  if (st.hi !== Infinity) {
    if (st.hi - st.lo <= MAX_BRANCHES) {
      const branches: Expr[] = [];
      for (let b = st.lo; b < st.hi; b++) branches.push(feat(branchFeature(b)));
      st.parts.push(or(...branches));
    } else notes.push(`driver branches ${st.lo} to ${st.hi - 1} are too many to list; left out of the constraint`);
  } else if (st.lo > 0) notes.push(`driver>=${st.lo} with no upper bound needs a floor no feature gives; left out of the constraint`);
  return and(...st.parts);
}

/** One requirement (a variable's value): any alternative the hook can reach and accept. */
function requirementNeeds(req: Requirement, table: CudaTable, notes: string[]): Expr {
  const alts: Expr[] = [];
  for (const parsed of req.alternatives) {
    const bad = parsed.findIndex((t) => !t.ok);
    if (bad === 0) break; // the hook refuses here whenever it gets here: later alternatives never count
    if (bad > 0) {
      notes.push(`${req.variable}: "${parsed.map((t) => t.raw).join(',')}" makes the hook refuse the image where ${parsed.slice(0, bad).map((t) => t.raw).join(',')} holds, which needs a NOT; left out`);
      continue;
    }
    alts.push(alternativeNeeds(parsed as readonly Constraint[], table, notes));
  }
  if (req.tokens.length === 0) return TRUE; // comma-only first alternative: success
  return anyOf(alts);
}

/**
 * What a host must offer for the image's `NVIDIA_REQUIRE_*` to hold (beyond an NVIDIA driver,
 * which the caller asks for): every requirement, each any of its alternatives.
 */
export function requirementsNeeds(reqs: ParsedRequirements, table: CudaTable = loadCudaTable()): Needs {
  if (reqs.errors.length) return needs(FALSE); // the hook fails whatever the host
  // Images built on the same NVIDIA base share their requirement strings: translate each set once.
  const key = `${table.file}\u0000${reqs.requirements.map((r) => `${r.variable}=${r.raw}`).join('\u0000')}`;
  const hit = memo.get(key);
  if (hit) return hit;
  const notes: string[] = [];
  const parts = reqs.requirements.map((r) => requirementNeeds(r, table, notes));
  const n = needs(and(...parts), notes);
  if (memo.size >= MEMO_MAX) memo.clear();
  memo.set(key, n);
  return n;
}

/** Translations by requirement text (bounded: cleared when full). */
const memo = new Map<string, Needs>();
const MEMO_MAX = 512;
