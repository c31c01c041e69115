import { namePart, needs, TRUE } from '../../sched/expr.js';
import { compareTuples } from '../../util/version.js';
import type { CompiledImage, MpiKey, PreparedHost } from '../compile.js';
import { seriesOf } from '../mpi-abi.js';
import { better, constant, makeCheck, memoOf, memoSlot, pack, PASS, PENALTY, statusOf, UNKNOWN, WARN, type Evaluation, type Rule } from '../rule.js';

const SLOT = memoSlot();
const NO_MPI = constant(PASS, false);
const NO_HOST_MPI = constant(WARN, false, PENALTY.noHostMpi);

/** The best image/host MPI pair found, once per (image, host MPI profile). */
interface MpiEvaluation extends Evaluation {
  image: MpiKey;
  host: MpiKey;
}

/**
 * Compare one image MPI with one host MPI under the host-MPI (hybrid/bind) model. Whatever the
 * host has, the image's own MPI runs within one node, so nothing here blocks the verdict: a host
 * MPI that cannot stand in for the image's (another ABI family, another ABI series, older than
 * the image's within its series) is an advisory warning for multi-node runs, exactly as no host
 * MPI is; a version the ABI table cannot place is an advisory unknown.
 */
export function compareMpi(img: MpiKey, host: MpiKey): number {
  if (!img.abi || !host.abi || img.abi !== host.abi) return pack(WARN, false, PENALTY.noHostMpi);
  // Same ABI, other implementation (MPICH vs Intel MPI): the soname contract holds, versions do not compare.
  if (img.impl !== host.impl) return pack(WARN, true, PENALTY.crossImplementationMpi);
  const si = img.series;
  const sh = host.series;
  if (!si || !sh) return pack(UNKNOWN, false, PENALTY.unknown);
  return si === sh && compareTuples(host.version!, img.version!) >= 0 ? pack(PASS, true) : pack(WARN, false, PENALTY.noHostMpi);
}

/** `mpi_<abi>` for an implementation of its own ABI (`mpi_openmpi`, `mpi_mpich`), else `mpi_<abi>_<impl>` (`mpi_mpich_intel`). */
const libraryFeature = (abi: string, impl: string): string => (abi === impl ? `mpi_${namePart(abi)}` : `mpi_${namePart(abi)}_${namePart(impl)}`);
/** That library at MAJOR.MINOR or a later minor of the same major: `mpi_openmpi4_1`. */
const minorFeature = (abi: string, impl: string, major: number, minor: number): string => `${libraryFeature(abi, impl)}${major}_${minor}`;

/** Minor versions above this get no feature of their own (a bound on the feature list; real MPI minors are far below). */
const MAX_MINOR = 99;

const show = (m: MpiKey) => `${m.raw.implementation} ${m.raw.version ?? '?'} (${m.raw.abi ?? '?'} ABI, ${m.raw.soname ?? '?'})`;

/** mpi: host-MPI (hybrid/bind) model: same implementation and ABI series (data/mpi-abi.json), host version >= image's. No usable host MPI: an advisory warning (the image's own MPI runs within one node). */
function evaluate(ci: CompiledImage, ph: PreparedHost): Evaluation | MpiEvaluation {
  if (ci.mpi.length === 0) return NO_MPI;
  if (ph.mpi.length === 0) return NO_HOST_MPI;
  let best: MpiEvaluation | null = null;
  for (const im of ci.mpi) for (const hm of ph.mpi) {
    const o = compareMpi(im, hm);
    if (!best || better(o, best.outcome)) best = { outcome: o, image: im, host: hm };
  }
  return best!;
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
    let msg: string;
    let fix: string | undefined;
    if (!ci.mpi.length) msg = 'the image has no MPI library';
    else if (!('image' in e)) {
      msg = `the image's own MPI (${img}) works within one node; this host has no MPI to bind for multi-node runs`;
      fix = 'for multi-node jobs, run on a host with a compatible MPI (same implementation and ABI series, at least the image\'s version)';
    } else {
      const ev = e as MpiEvaluation;
      const im = ev.image;
      const hm = ev.host;
      const si = seriesOf(im.impl, im.abi, im.version);
      const sh = seriesOf(hm.impl, hm.abi, hm.version);
      const series = (x: NonNullable<typeof si>) => `${x.soname} series ${x.from}${x.before ? `-${x.before} (exclusive)` : '+'}`;
      if (s === PASS) msg = `image ${show(im)}; host ${show(hm)}: same ABI series (${series(si!)}), host version >= image's`;
      else if (s === WARN && im.impl !== hm.impl && im.abi && im.abi === hm.abi) msg = `image ${show(im)}; host ${show(hm)}: same ${im.abi === 'mpich' ? 'MPICH' : im.abi} ABI from another implementation (soname contract only)`;
      else if (s === UNKNOWN) msg = `image ${show(im)}; host ${show(hm)}: same ABI, but ${!im.version || !hm.version ? 'a version is unknown' : `the MPI ABI table does not list ${!si ? `${im.impl} ${im.raw.version}` : `${hm.impl} ${hm.raw.version}`}`}; the image's own MPI works within one node`;
      else {
        const why = !im.abi || !hm.abi || im.abi !== hm.abi ? `it is another ABI family (${hm.abi ?? '?'}, the image's is ${im.abi ?? '?'})`
          : si !== sh ? `it is another ABI series (${series(sh!)}; the image's is ${series(si!)})`
          : `it is older than the image's (a library runs binaries built against its own or older versions of its series)`;
        msg = `the image's own MPI (${show(im)}) works within one node; for multi-node runs the host's ${show(hm)} cannot stand in for it: ${why}`;
        fix = `for multi-node jobs, load a host ${im.raw.implementation} of the ${si ? series(si) : `${im.abi ?? '?'} ABI`} at version ${im.raw.version ?? '?'} or newer (e.g. module load ${im.raw.implementation})`;
      }
      if (s === UNKNOWN) fix = 'give the host MPI version (--set mpi=IMPL@VERSION), or add its series to the MPI ABI table (CONTAINERSPEC_MPI_ABI_TABLE)';
    }
    const sources = 'image' in e ? [seriesOf((e as MpiEvaluation).image.impl, (e as MpiEvaluation).image.abi, (e as MpiEvaluation).image.version)].filter((x) => x !== null).map((x) => ({ source: 'mpi-abi-table', detail: `${x!.implementation} ${x!.soname} ${x!.from}: ${x!.source}` })) : [];
    return [makeCheck('mpi', e.outcome, msg, ph.mpi.map((m) => m.raw), ci.mpi.map((m) => m.raw), fix, [...ci.mpi.flatMap((m) => m.raw.evidence), ...sources])];
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
  // No MPI outcome blocks the verdict (the image's own MPI runs within one node), so no image needs
  // an MPI feature; the features above are for a site's own multi-node constraints.
  constraint: () => needs(TRUE),
};
