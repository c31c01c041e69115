import { compareTuples } from '../../util/version.js';
import { FALSE, needs, TRUE } from '../../sched/expr.js';
import type { CompiledImage } from '../compile.js';
import { constant, FAIL, makeCheck, PASS, passes, PENALTY, statusOf, UNKNOWN, type Evaluation, type Rule } from '../rule.js';

const NO_NEED = constant(PASS, false);
const PASS_EV = constant(PASS, true);
const FAIL_EV = constant(FAIL, true);
const UNKNOWN_EV = constant(UNKNOWN, true, PENALTY.unknown);

/** The one evaluation (see the rule below). */
function evaluate(ci: CompiledImage): Evaluation {
  if (!ci.glibcNeed) return NO_NEED;
  if (!ci.glibc) return ci.facts.libc.family === 'glibc' ? UNKNOWN_EV : FAIL_EV;
  return compareTuples(ci.glibc, ci.glibcNeed) >= 0 ? PASS_EV : FAIL_EV;
}

/** libc: the image is self-consistent: no ELF file in it needs a GLIBC_x.y newer than its own glibc. Depends on the image alone. */
export const libcRule: Rule<Evaluation> = {
  id: 'libc',
  evaluate,
  outcome: (ci) => evaluate(ci).outcome,
  report(ev, ci) {
    const need = ci.facts.requires.glibc;
    const lib = ci.facts.libc;
    const have = lib.family ? `${lib.family} ${lib.version ?? '?'}` : 'none';
    const s = statusOf(ev.outcome);
    const msg = !need ? `no file in the image needs a versioned glibc (${have})`
      : s === PASS ? `the image's own glibc ${lib.version} provides GLIBC_${need.version}, the highest any of its files needs`
      : s === UNKNOWN ? `files need GLIBC_${need.version}; the image's glibc version is unknown`
      : lib.family === 'glibc' ? `the image is broken: /${need.evidence[0]?.path ?? '?'} needs GLIBC_${need.version} but the image's glibc is ${lib.version}`
      : `the image is broken: /${need.evidence[0]?.path ?? '?'} needs GLIBC_${need.version} but the image has ${have} libc`;
    const fix = s === FAIL ? 'rebuild the image so its binaries match its own C library' : undefined;
    return [makeCheck('libc', ev.outcome, msg, null, { libc: have, needs: need?.version ?? null }, fix, [...lib.evidence, ...(need?.evidence ?? [])])];
  },
  // The image alone decides: every host, or none.
  constraint: (ci) => needs(passes(evaluate(ci).outcome) ? TRUE : FALSE),
};
