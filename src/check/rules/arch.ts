import type { CompiledImage, PreparedHost } from '../compile.js';
import { constant, FAIL, makeCheck, PASS, PENALTY, platformName, statusOf, UNKNOWN, WARN, type Evaluation, type Rule } from '../rule.js';

const PASS_EV = constant(PASS, true);
const FAIL_EV = constant(FAIL, true);
const EMULATED = constant(WARN, true, PENALTY.emulated);
const UNKNOWN_EV = constant(UNKNOWN, true, PENALTY.unknown);

/** The one evaluation (see the rule below). */
function evaluate(ci: CompiledImage, ph: PreparedHost): Evaluation {
  if (!ci.arch || !ph.arch) return UNKNOWN_EV;
  if (ci.arch === ph.arch) {
    // 32-bit ARM variants (v6/v7) must match; arm64 and amd64 variants are the microarch rule's business.
    if (ci.arch === 'arm' && ci.variant && ph.variant && ci.variant > ph.variant) return FAIL_EV;
    return PASS_EV;
  }
  return ph.emulated.has(ci.arch) ? EMULATED : FAIL_EV;
}

/** arch: the image's architecture (and 32-bit ARM variant) equals the host's; a registered binfmt emulator turns a fail into a warn. */
export const archRule: Rule<Evaluation> = {
  id: 'arch',
  evaluate,
  outcome: (ci, ph) => evaluate(ci, ph).outcome,
  report(ev, ci, ph) {
    const img = platformName(ci.arch, ci.variant);
    const host = platformName(ph.arch, ph.variant);
    const s = statusOf(ev.outcome);
    const msg =
      s === PASS ? `image is ${img}; host is ${host}`
      : s === WARN ? `image is ${img}, host is ${host}: runs emulated by a registered binfmt handler (qemu), slowly`
      : s === UNKNOWN ? `cannot tell: image architecture ${img}, host architecture ${host}`
      : `image is ${img} but this host is ${host}, and no emulator for ${ci.arch} is registered`;
    const fix = s === FAIL
      ? `use a ${host} image (for a multi-platform index: --platform ${host}), or register qemu-user-static for ${ci.arch}`
      : s === WARN ? `use a ${host} image for full speed` : undefined;
    return [makeCheck('arch', ev.outcome, msg, host, img, fix, [...ci.facts.platform.evidence, ...ph.facts.platform.evidence])];
  },
};
