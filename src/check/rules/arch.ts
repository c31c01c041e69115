import { and, FALSE, feat, namePart, needs, or } from '../../sched/expr.js';
import type { CompiledImage, PreparedHost } from '../compile.js';
import { constant, FAIL, makeCheck, PASS, PENALTY, platformName, statusOf, UNKNOWN, WARN, type Evaluation, type Rule } from '../rule.js';

const PASS_EV = constant(PASS, true);
const FAIL_EV = constant(FAIL, true);
const EMULATED = constant(WARN, true, PENALTY.emulated);
/** Unknown: it may run only emulated, so it costs what emulation does (knowing less never scores higher). */
const UNKNOWN_EV = constant(UNKNOWN, true, PENALTY.emulated);

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

/** 32-bit ARM variants, oldest first: a host runs its own and older ones. */
const ARM_VARIANTS = ['v5', 'v6', 'v7', 'v8'] as const;

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
  // Features: `arch_<oci arch>` for the host's own architecture; on 32-bit ARM `arm_<variant>` for its
  // variant and older ones (every variant when the host's is unknown, as the rule lets any run);
  // `emu_<oci arch>` for each architecture a registered binfmt emulator runs.
  features(ph) {
    if (!ph.arch) return []; // an unknown host architecture is unknown for every image
    const out = [`arch_${namePart(ph.arch)}`];
    if (ph.arch === 'arm') for (const v of ARM_VARIANTS) if (!ph.variant || v <= ph.variant) out.push(`arm_${v}`);
    for (const e of ph.emulated) if (e !== ph.arch) out.push(`emu_${namePart(e)}`);
    return out;
  },
  constraint(ci) {
    if (!ci.arch) return needs(FALSE);
    const a = namePart(ci.arch);
    if (ci.arch !== 'arm' || !ci.variant) return needs(or(feat(`arch_${a}`), feat(`emu_${a}`)));
    const known = (ARM_VARIANTS as readonly string[]).includes(ci.variant);
    const native = known ? and(feat('arch_arm'), feat(`arm_${ci.variant}`)) : feat('arch_arm');
    return needs(or(native, feat('emu_arm')), known ? [] : [`arm variant ${ci.variant} is not a feature (known: ${ARM_VARIANTS.join(', ')}): any 32-bit ARM node is selected`]);
  },
};
