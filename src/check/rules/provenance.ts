import { makeCheck, pack, PASS, PENALTY, WARN, type Evaluation, type ProvenanceFacts, type Rule, type RuleContext } from '../rule.js';
import type { HostFacts } from '../../model/facts.js';

/** The facts compared for drift, by the name a drift is reported under. */
export const PROVENANCE_KEYS = ['kernel', 'driver', 'glibc', 'microarch', 'mpi', 'charliecloud'] as const;
/** One compared fact. */
export type ProvenanceKey = (typeof PROVENANCE_KEYS)[number];

/** The host's MPI as `impl@version`, sorted and comma-separated, or null for none. */
export function mpiText(f: HostFacts): string | null {
  return f.mpi.map((m) => `${m.implementation}@${m.version ?? '?'}`).sort().join(',') || null;
}

/**
 * The compared facts of a host. The Charliecloud version is compared only when both sides know
 * it: an earlier run recorded by `replay` does, a `--history` facts file does not.
 */
function provenanceKeys(f: ProvenanceFacts, charliecloud: string | null | undefined): Partial<Record<ProvenanceKey, string | null>> {
  const k: Partial<Record<ProvenanceKey, string | null>> = {
    kernel: f.kernel.release,
    driver: f.gpu.driver,
    glibc: f.libc.version,
    microarch: f.cpu.microarch,
    mpi: mpiText(f),
  };
  if (charliecloud !== undefined) k.charliecloud = charliecloud;
  return k;
}

/** One drifted fact: what the last successful run had, what this host has. */
export interface Drift {
  fact: ProvenanceKey;
  then: string | null;
  now: string | null;
}

/** The drift of this host from the last successful run. */
export interface ProvenanceEvaluation extends Evaluation {
  then: Partial<Record<ProvenanceKey, string | null>>;
  now: Partial<Record<ProvenanceKey, string | null>>;
  drift: Drift[];
  runs: number;
}

/** The drift of `host` from the last of `history` (oldest first). */
export function provenanceDrift(host: HostFacts, history: readonly ProvenanceFacts[], ctx: Pick<RuleContext, 'charliecloud'> = {}): ProvenanceEvaluation {
  const last = history[history.length - 1]!;
  const compareCh = last.charliecloudVersion !== undefined && ctx.charliecloud !== undefined;
  const then = provenanceKeys(last, compareCh ? last.charliecloudVersion : undefined);
  const now = provenanceKeys(host, compareCh ? ctx.charliecloud : undefined);
  const drift = PROVENANCE_KEYS.filter((k) => k in now && (then[k] ?? null) !== (now[k] ?? null)).map((k) => ({ fact: k, then: then[k] ?? null, now: now[k] ?? null }));
  const penalty = Math.min(PENALTY.provenanceMax, PENALTY.provenanceDrift * drift.length);
  return { outcome: drift.length ? pack(WARN, false, penalty) : pack(PASS, false), then, now, drift, runs: history.length };
}

/**
 * provenance: facts recorded with earlier successful runs (kernel, GPU driver, glibc, CPU target,
 * MPI, Charliecloud version) versus this host; each drifted fact lowers the score. Applies only with
 * a history, so it takes no part in matching many hosts (and offers no scheduler features).
 */
export const provenanceRule: Rule<ProvenanceEvaluation> = {
  id: 'provenance',
  applies: (ctx) => Boolean(ctx.history?.length),
  outcome(ci, ph, ctx) {
    return provenanceRule.evaluate(ci, ph, ctx).outcome;
  },
  evaluate(_ci, ph, ctx) {
    return provenanceDrift(ph.facts, ctx.history ?? [], ctx);
  },
  report(ev) {
    const { now, then, drift, runs } = ev;
    const compared = Object.keys(now).join(', ');
    const msg = drift.length
      ? `differs from the last successful run (${runs} recorded): ${drift.map((d) => `${d.fact} ${d.then ?? 'none'} -> ${d.now ?? 'none'}`).join(', ')}`
      : `matches the last successful run (${runs} recorded) in ${compared}`;
    return [makeCheck('provenance', ev.outcome, msg, now, then, drift.length ? 'expect different results or performance; re-validate the run' : undefined, [])];
  },
};
