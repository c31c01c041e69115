import type { HostFacts } from '../../model/facts.js';
import { makeCheck, pack, PASS, PENALTY, WARN, type Evaluation, type Rule } from '../rule.js';

/** The facts compared for drift. */
function provenanceKeys(f: HostFacts): Record<string, string | null> {
  return {
    kernel: f.kernel.release,
    driver: f.gpu.driver,
    glibc: f.libc.version,
    microarch: f.cpu.microarch,
    mpi: f.mpi.map((m) => `${m.implementation}@${m.version ?? '?'}`).sort().join(',') || null,
  };
}

/** The drift of this host from the last successful run. */
interface ProvenanceEvaluation extends Evaluation {
  then: Record<string, string | null>;
  now: Record<string, string | null>;
  drift: string[];
  runs: number;
}

/** provenance: facts recorded with earlier successful runs versus this host; each drifted fact lowers the score. */
export const provenanceRule: Rule<ProvenanceEvaluation> = {
  id: 'provenance',
  applies: (ctx) => Boolean(ctx.history?.length),
  outcome(ci, ph, ctx) {
    return provenanceRule.evaluate(ci, ph, ctx).outcome;
  },
  evaluate(_ci, ph, ctx) {
    const history = ctx.history ?? [];
    const last = history[history.length - 1]!;
    const then = provenanceKeys(last);
    const now = provenanceKeys(ph.facts);
    const drift = Object.keys(now).filter((k) => then[k] !== now[k]);
    const penalty = Math.min(PENALTY.provenanceMax, PENALTY.provenanceDrift * drift.length);
    return { outcome: drift.length ? pack(WARN, false, penalty) : pack(PASS, false), then, now, drift, runs: history.length };
  },
  report(ev) {
    const { then, now, drift, runs } = ev;
    const msg = drift.length
      ? `differs from the last successful run (${runs} recorded): ${drift.map((k) => `${k} ${then[k] ?? 'none'} -> ${now[k] ?? 'none'}`).join(', ')}`
      : `matches the last successful run (${runs} recorded) in kernel, driver, glibc, microarch and MPI`;
    return [makeCheck('provenance', ev.outcome, msg, now, then, drift.length ? 'expect different results or performance; re-validate the run' : undefined, [])];
  },
};
