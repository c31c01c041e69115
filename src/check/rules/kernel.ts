import { FALSE, feat, needs, TRUE, versionPart } from '../../sched/expr.js';
import { parseVersion } from '../../util/version.js';
import { kernelKey, type CompiledImage, type PreparedHost } from '../compile.js';
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

/**
 * Kernel floors offered as features (`kernel3_2` means a kernel >= 3.2.0): every minimum kernel that
 * glibc's ABI tags use across architectures (2.6.32, 3.2 x86_64, 3.7 aarch64, 3.10 ppc64le, 4.15
 * riscv64, 5.19 loongarch64, ...) and the long-term kernel series, so that a requirement lands on a
 * floor. One that does not is rounded up to the next floor, and says so.
 */
export const KERNEL_FLOORS: readonly string[] = [
  '2.6.16', '2.6.32', '3.2', '3.7', '3.10', '4.4', '4.9', '4.14', '4.15', '4.19', '5.4', '5.10', '5.15', '5.19', '6.1', '6.6', '6.12',
];
const FLOORS = KERNEL_FLOORS.map((v) => ({ name: `kernel${versionPart(v)}`, key: kernelKey(parseVersion(v)), v }));

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
  // Features: each floor of KERNEL_FLOORS at or below the host's kernel.
  features: (ph) => (ph.kernelKey < 0 ? [] : FLOORS.filter((f) => f.key <= ph.kernelKey).map((f) => f.name)),
  constraint(ci) {
    if (ci.kernelKey < 0) return needs(TRUE);
    const need = ci.facts.requires.kernel?.version ?? '?';
    const floor = FLOORS.find((f) => f.key >= ci.kernelKey);
    if (!floor) return needs(FALSE, [`kernel >= ${need} is above every kernel feature (the highest is ${KERNEL_FLOORS.at(-1)}): no node is selected`]);
    return needs(feat(floor.name), floor.key === ci.kernelKey ? [] : [`kernel >= ${need} is not a feature: asked as kernel >= ${floor.v} (${floor.name}), which leaves out nodes with a kernel in between`]);
  },
};
