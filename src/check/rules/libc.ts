import { compareTuples } from '../../util/version.js';
import { constant, FAIL, makeCheck, memoOf, memoSlot, PASS, PENALTY, statusOf, UNKNOWN, type Evaluation, type Rule } from '../rule.js';

const SLOT = memoSlot();
const NO_NEED = constant(PASS, false);
const PASS_EV = constant(PASS, true);
const FAIL_EV = constant(FAIL, true);
const UNKNOWN_EV = constant(UNKNOWN, true, PENALTY.unknown);

/** libc: the image is self-consistent: no ELF file in it needs a GLIBC_x.y newer than its own glibc. Depends on the image alone. */
export const libcRule: Rule<Evaluation> = {
  id: 'libc',
  evaluate(ci) {
    const memo = memoOf<Evaluation>(ci, SLOT);
    const hit = memo[0];
    if (hit !== undefined) return hit;
    let ev: Evaluation;
    if (!ci.glibcNeed) ev = NO_NEED;
    else if (!ci.glibc) ev = ci.facts.libc.family === 'glibc' ? UNKNOWN_EV : FAIL_EV;
    else ev = compareTuples(ci.glibc, ci.glibcNeed) >= 0 ? PASS_EV : FAIL_EV;
    memo[0] = ev;
    return ev;
  },
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
};
