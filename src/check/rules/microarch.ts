import { FALSE, feat, namePart, needs, or, TRUE } from '../../sched/expr.js';
import type { CompiledImage, PreparedHost } from '../compile.js';
import { constant, FAIL, makeCheck, memoOf, memoSlot, pack, PASS, PENALTY, UNKNOWN, statusOf, type Evaluation, type Rule, type RuleContext } from '../rule.js';

const SLOT = memoSlot();
const NOT_NATIVE = constant(UNKNOWN, false);
const TARGET_UNKNOWN = constant(UNKNOWN, true, PENALTY.unknown);
const GENERIC_UNKNOWN_HOST = constant(PASS, false);
const FAIL_EV = constant(FAIL, true);

/** The one evaluation (see the rule below). */
function evaluate(ci: CompiledImage, ph: PreparedHost, { spec }: RuleContext): Evaluation {
  if (!ci.arch || ci.arch !== ph.arch) return NOT_NATIVE; // not applicable: emulated or unknown arch
  if (ci.targetUnknown) return TARGET_UNKNOWN;
  if (!ph.target) return ci.target ? TARGET_UNKNOWN : GENERIC_UNKNOWN_HOST;
  if (!ci.target) return { outcome: pack(PASS, false, Math.min(PENALTY.microarchMax, PENALTY.perGeneration * ph.targetDepth)) };
  if (spec.le(ci.target, ph.target)) {
    const gap = ph.targetDepth - spec.ancestors(ci.target).length;
    return { outcome: pack(PASS, true, Math.min(PENALTY.microarchMax, PENALTY.perGeneration * Math.max(0, gap))) };
  }
  return FAIL_EV;
}

/** microarch: an image built for an archspec target needs that target or a descendant; generic images score lower on newer CPUs. */
export const microarchRule: Rule<Evaluation> = {
  id: 'microarch',
  evaluate,
  outcome(ci, ph, ctx) {
    const memo = memoOf(ci, SLOT);
    let o = memo[ph.microProfile];
    if (o === undefined) memo[ph.microProfile] = o = evaluate(ci, ph, ctx).outcome;
    return o;
  },
  report(ev, ci, ph, { spec }) {
    const s = statusOf(ev.outcome);
    const target = ci.target;
    let msg: string;
    let fix: string | undefined;
    if (!ci.arch || ci.arch !== ph.arch) msg = 'not applicable: the image does not run natively here';
    else if (ci.targetUnknown) {
      msg = `the image is built for ${target}, which the archspec database does not know`;
      fix = 'update the archspec data (CONTAINERSPEC_ARCHSPEC) or check the label';
    } else if (!ph.target) {
      msg = target ? `the image is built for ${target}; this host's CPU target is unknown` : "generic image; this host's CPU target is unknown";
      if (target) fix = "give the host's target with --set microarch=NAME or a host facts file";
    } else if (!target) {
      msg = `generic ${spec.family(ph.target)} image on a ${ph.target} host: runs, without this CPU's newer instructions`;
      fix = `an image built for ${ph.target} (or an ancestor closer to it) would use the CPU fully`;
    } else if (s === PASS) {
      msg = target === ph.target ? `the image is built for ${target}, exactly this host's target` : `the image is built for ${target}; this host (${ph.target}) is a descendant and runs it`;
    } else {
      msg = `the image is built for ${target}; this host is ${ph.target}, which ${spec.comparable(target, ph.target) ? 'is older' : 'is on another branch of the archspec graph'} and may lack its instructions (illegal instruction at run time)`;
      fix = `run on a ${target} (or newer) node, or use an image built for ${ph.target} or a generic one`;
    }
    return [makeCheck('microarch', ev.outcome, msg, ph.target, target, fix, [...(ci.facts.requires.microarch?.evidence ?? []), ...ph.facts.cpu.evidence])];
  },
  // Features: the host's archspec target and every ancestor (`zen3` also offers `zen2`, `zen`,
  // `x86_64_v3`, `x86_64_v2`, `x86_64`), bare archspec names, as users write them.
  features(ph, { spec }) {
    return ph.target ? [ph.target, ...spec.ancestors(ph.target)].map(namePart) : [];
  },
  constraint(ci) {
    if (!ci.arch) return needs(TRUE); // the arch rule already needs a known architecture
    // Emulated hosts are outside this rule; emu_X is offered only by hosts that are not X.
    const emulated = feat(`emu_${namePart(ci.arch)}`);
    if (ci.targetUnknown) return needs(or(emulated, FALSE));
    return needs(ci.target ? or(feat(namePart(ci.target)), emulated) : TRUE);
  },
};
