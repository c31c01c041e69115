import type { CompiledImage, PreparedHost } from '../compile.js';
import { constant, FAIL, makeCheck, PASS, PENALTY, statusOf, UNKNOWN, type Evaluation, type Rule } from '../rule.js';

const NO_NEED = constant(PASS, false);
const PASS_EV = constant(PASS, true);
const FAIL_EV = constant(FAIL, true);
const UNKNOWN_EV = constant(UNKNOWN, true, PENALTY.unknown);

/** The one evaluation (see the rule below). */
function evaluate(ci: CompiledImage, ph: PreparedHost): Evaluation {
  if (ci.kernelKey < 0) return NO_NEED;
  if (ph.kernelKey < 0) return UNKNOWN_EV;
  return ph.kernelKey >= ci.kernelKey ? PASS_EV : FAIL_EV;
}

/** kernel: the image libc's minimum kernel (ELF ABI tag) is at most the host's kernel. */
export const kernelRule: Rule<Evaluation> = {
  id: 'kernel',
  evaluate,
  outcome: (ci, ph) => evaluate(ci, ph).outcome,
  report(ev, ci, ph) {
    const need = ci.facts.requires.kernel?.version ?? null;
    const have = ph.facts.kernel.release;
    const s = statusOf(ev.outcome);
    const msg = !need ? 'the image states no minimum kernel'
      : s === UNKNOWN ? `needs kernel >= ${need}; this host's kernel is unknown`
      : s === PASS ? `needs kernel >= ${need}; this host has ${have}`
      : `needs kernel >= ${need} (its libc's ABI tag); this host has ${have}`;
    const fix = s === FAIL ? `run on a node with kernel >= ${need}, or use an image with an older libc` : s === UNKNOWN ? 'give --set kernel=RELEASE' : undefined;
    return [makeCheck('kernel', ev.outcome, msg, have, need, fix, ci.facts.requires.kernel?.evidence ?? [])];
  },
};
