import type { MpiFact } from '../../model/facts.js';
import { FALSE, feat, namePart, needs, or, TRUE, type Expr } from '../../sched/expr.js';
import type { CompiledImage, MpiKey, PreparedHost } from '../compile.js';
import { better, constant, FAIL, makeCheck, memoOf, memoSlot, pack, PASS, PENALTY, statusOf, UNKNOWN, WARN, type Evaluation, type Rule } from '../rule.js';

const SLOT = memoSlot();
const NO_MPI = constant(PASS, false);
const NO_HOST_MPI = constant(WARN, false, PENALTY.noHostMpi);

/** The best image/host MPI pair found, once per (image, host MPI profile). */
interface MpiEvaluation extends Evaluation {
  image: MpiKey;
  host: MpiKey;
}

/** Compare one image MPI with one host MPI: the packed outcome. */
export function compareMpi(img: MpiKey, host: MpiKey): number {
  if (!img.abi || !host.abi || img.abi !== host.abi) return pack(FAIL, true);
  // Same ABI, other implementation (MPICH vs Intel MPI): the soname contract holds, versions do not compare.
  if (img.impl !== host.impl) return pack(WARN, true, PENALTY.crossImplementationMpi);
  if (!img.version || !host.version) return pack(UNKNOWN, true, PENALTY.unknown);
  const sameMajor = (img.version[0] ?? 0) === (host.version[0] ?? 0);
  const minorOk = (host.version[1] ?? 0) >= (img.version[1] ?? 0);
  return sameMajor && minorOk ? pack(PASS, true) : pack(FAIL, true);
}

/**
 * The implementations that provide each ABI family, as the MPI classifier (src/extract/mpi.ts) reads
 * libraries: "another implementation of the same ABI" is one of these. A host fact pairing them
 * otherwise (hand-written) still gets its feature, but no image constraint asks for it.
 */
const PROVIDERS: Readonly<Record<NonNullable<MpiFact['abi']>, readonly MpiFact['implementation'][]>> = {
  openmpi: ['openmpi'],
  mpich: ['mpich', 'intel', 'mvapich', 'cray'],
  'mpi-abi': ['mpich'],
};

/** `mpi_<abi>` for an implementation of its own ABI (`mpi_openmpi`, `mpi_mpich`), else `mpi_<abi>_<impl>` (`mpi_mpich_intel`). */
const libraryFeature = (abi: string, impl: string): string => (abi === impl ? `mpi_${namePart(abi)}` : `mpi_${namePart(abi)}_${namePart(impl)}`);
/** That library at MAJOR.MINOR or a later minor of the same major: `mpi_openmpi4_1`. */
const minorFeature = (abi: string, impl: string, major: number, minor: number): string => `${libraryFeature(abi, impl)}${major}_${minor}`;

/** Minor versions above this get no feature of their own (a bound on the feature list; real MPI minors are far below). */
const MAX_MINOR = 99;

/** A host with an MPI that this image MPI runs against (what compareMpi passes or warns on). */
function pairNeeds(im: MpiKey): Expr {
  if (!im.abi) return FALSE;
  const abi = im.abi;
  const others = (PROVIDERS[abi] ?? []).filter((i) => i !== im.impl).map((i) => feat(libraryFeature(abi, i)));
  const same = im.version && (im.version[1] ?? 0) <= MAX_MINOR ? feat(minorFeature(abi, im.impl, im.version[0] ?? 0, im.version[1] ?? 0)) : FALSE;
  return or(same, ...others);
}

const show = (m: MpiKey) => `${m.raw.implementation} ${m.raw.version ?? '?'} (${m.raw.abi ?? '?'} ABI, ${m.raw.soname ?? '?'})`;

/** mpi: host-MPI (hybrid/bind) model: same ABI family, host minor >= image minor within the same major. No host MPI: a warning. */
function evaluate(ci: CompiledImage, ph: PreparedHost): Evaluation | MpiEvaluation {
  if (ci.mpi.length === 0) return NO_MPI;
  if (ph.mpi.length === 0) return NO_HOST_MPI;
  let best: MpiEvaluation = { outcome: pack(FAIL, true), image: ci.mpi[0]!, host: ph.mpi[0]! };
  for (const im of ci.mpi) for (const hm of ph.mpi) {
    const o = compareMpi(im, hm);
    if (better(o, best.outcome)) best = { outcome: o, image: im, host: hm };
  }
  return best;
}

export const mpiRule: Rule<Evaluation | MpiEvaluation> = {
  id: 'mpi',
  evaluate,
  outcome(ci, ph) {
    if (ci.mpi.length === 0) return NO_MPI.outcome;
    const memo = memoOf(ci, SLOT);
    let o = memo[ph.mpiProfile];
    if (o === undefined) memo[ph.mpiProfile] = o = evaluate(ci, ph).outcome;
    return o;
  },
  report(e, ci, ph) {
    const s = statusOf(e.outcome);
    const img = ci.mpi.map(show).join(', ');
    const host = ph.mpi.map(show).join(', ');
    let msg: string;
    let fix: string | undefined;
    if (!ci.mpi.length) msg = 'the image has no MPI library';
    else if (!('image' in e)) {
      msg = `the image's own MPI (${img}) works within one node; this host has no MPI to bind for multi-node runs`;
      fix = 'for multi-node jobs, run on a host with a compatible MPI (same ABI family, same major version)';
    } else {
      const ev = e as MpiEvaluation;
      const best = ev.image;
      if (s === PASS) msg = `image ${show(best)}; host ${show(ev.host)}: same ABI, host minor version >= image's`;
      else if (s === WARN) msg = `image ${show(best)}; host ${show(ev.host)}: same MPICH ABI from another implementation (soname contract only)`;
      else if (s === UNKNOWN) msg = `image ${show(best)}; host ${show(ev.host)}: same ABI, but a version is unknown`;
      else if (best.abi !== ev.host.abi) msg = `image ${img} and host ${host} are different MPI ABI families`;
      else msg = `image ${show(best)} needs host ${best.raw.implementation} ${best.version?.[0] ?? '?'}.x with minor >= ${best.version?.[1] ?? '?'}; this host has ${show(ev.host)}`;
      if (s === FAIL) fix = `load a host MPI of the ${best.abi ?? '?'} ABI family, version ${best.version?.[0] ?? '?'}.${best.version?.[1] ?? '?'} or newer within ${best.version?.[0] ?? '?'}.x (e.g. module load ${best.raw.implementation})`;
    }
    return [makeCheck('mpi', e.outcome, msg, ph.mpi.map((m) => m.raw), ci.mpi.map((m) => m.raw), fix, ci.mpi.flatMap((m) => m.raw.evidence))];
  },
  // Features: `mpi_none` for a host without MPI (the image's own MPI still runs on one node);
  // per host MPI of a known ABI, the library (`mpi_openmpi`, `mpi_mpich_intel`) and its version
  // as MAJOR_MINOR for its minor and every lower one of the same major (`mpi_openmpi4_0`,
  // `mpi_openmpi4_1` for Open MPI 4.1.6).
  features(ph) {
    if (ph.mpi.length === 0) return ['mpi_none'];
    const out = new Set<string>();
    for (const m of ph.mpi) {
      if (!m.abi) continue;
      out.add(libraryFeature(m.abi, m.impl));
      if (!m.version) continue;
      const major = m.version[0] ?? 0;
      for (let minor = 0; minor <= Math.min(MAX_MINOR, m.version[1] ?? 0); minor++) out.add(minorFeature(m.abi, m.impl, major, minor));
    }
    return [...out];
  },
  constraint(ci) {
    if (ci.mpi.length === 0) return needs(TRUE);
    return needs(or(feat('mpi_none'), ...ci.mpi.map(pairNeeds)));
  },
};
