import { FALSE, feat, namePart, needs, or, TRUE } from '../../sched/expr.js';
import type { Archspec } from '../../arch/index.js';
import type { CompiledImage, PreparedHost } from '../compile.js';
import { constant, FAIL, makeCheck, memoOf, memoSlot, pack, PASS, PENALTY, UNKNOWN, statusOf, type Evaluation, type Rule, type RuleContext } from '../rule.js';

const SLOT = memoSlot();
/** Not applicable (emulated): the arch rule's warning carries the cost. */
const NOT_NATIVE = constant(UNKNOWN, false);
/** The image's or host's architecture unknown: the worst passing microarch outcome (knowing less never scores higher). */
const ARCH_UNKNOWN = constant(UNKNOWN, false, PENALTY.microarchUnused);
const TARGET_UNKNOWN = constant(UNKNOWN, true, PENALTY.microarchUnused);
const GENERIC_UNKNOWN_HOST = constant(PASS, false, PENALTY.microarchUnused);
const FAIL_EV = constant(FAIL, true);

/** How much of a host target's CPU an image target (null: generic) uses. */
export interface CpuUse {
  /** Features (or generations) of the host's target the image's target also has. */
  used: number;
  /** Features (or generations) of the host's target past its family's baseline. */
  total: number;
  unit: 'features' | 'generations';
  /** Points off: the unused share times PENALTY.microarchUnused, rounded. */
  points: number;
}

/**
 * The share of the host target's instruction-set features (archspec's whole feature sets) that
 * the image's target has; for a family whose targets list no features (POWER), the share of the
 * host's generations (ancestors) that the image's target reaches. `image` must be `host` or one of
 * its ancestors. A host at its family's baseline offers nothing to waste: no points.
 */
export function cpuUse(image: string | null, host: string, spec: Archspec): CpuUse {
  const hf = spec.target(host)?.features ?? new Set<string>();
  let used: number;
  let total: number;
  let unit: CpuUse['unit'];
  if (hf.size > 0) {
    unit = 'features';
    total = hf.size;
    const imf = image ? spec.target(image)?.features : undefined;
    used = 0;
    if (imf) for (const f of hf) if (imf.has(f)) used++;
  } else {
    unit = 'generations';
    total = spec.ancestors(host).length;
    used = image ? Math.min(total, spec.ancestors(image).length) : 0;
  }
  const points = total === 0 ? 0 : Math.round((PENALTY.microarchUnused * (total - used)) / total);
  return { used, total, unit, points };
}

/** `an icelake`, `a zen3`. */
const an = (w: string): string => `${/^[aeiou]/i.test(w) ? 'an' : 'a'} ${w}`;

const pointsCache = new WeakMap<Archspec, Map<string, Map<string | null, number>>>();
/** `cpuUse(image, host, spec).points`, computed once per pair of targets (the matcher meets the same few pairs again and again). */
export function cpuPoints(image: string | null, host: string, spec: Archspec): number {
  let bySpec = pointsCache.get(spec);
  if (!bySpec) pointsCache.set(spec, (bySpec = new Map()));
  let byHost = bySpec.get(host);
  if (!byHost) bySpec.set(host, (byHost = new Map()));
  let p = byHost.get(image);
  if (p === undefined) byHost.set(image, (p = cpuUse(image, host, spec).points));
  return p;
}

/** The one evaluation (see the rule below). */
function evaluate(ci: CompiledImage, ph: PreparedHost, { spec }: RuleContext): Evaluation {
  if (!ci.arch || !ph.arch) return ARCH_UNKNOWN;
  if (ci.arch !== ph.arch) return NOT_NATIVE; // not applicable: emulated
  if (ci.targetUnknown) return TARGET_UNKNOWN;
  if (!ph.target) return ci.target ? TARGET_UNKNOWN : GENERIC_UNKNOWN_HOST;
  if (!ci.target) return { outcome: pack(PASS, false, cpuPoints(null, ph.target, spec)) };
  if (spec.le(ci.target, ph.target)) return { outcome: pack(PASS, true, cpuPoints(ci.target, ph.target, spec)) };
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
    let reason: string | undefined;
    if (!ci.arch || !ph.arch) {
      msg = `cannot tell: the ${!ci.arch ? "image's" : "host's"} architecture is unknown`;
      reason = `CPU fit unknown (the ${!ci.arch ? "image's" : "host's"} architecture is unknown): counted as a generic image's`;
    } else if (ci.arch !== ph.arch) msg = `the image (${ci.arch}) does not run natively on this ${ph.arch} host, so its CPU target does not apply`;
    else if (ci.targetUnknown) {
      msg = `the image is built for ${target}, which the archspec database does not know`;
      fix = 'update the archspec data (CONTAINERSPEC_ARCHSPEC) or check the label';
      reason = `CPU fit unknown (archspec does not know ${target}): counted as a generic image's`;
    } else if (!ph.target) {
      msg = target ? `the image is built for ${target}; this host's CPU target is unknown` : "generic image; this host's CPU target is unknown";
      fix = "give the host's target with --set microarch=NAME or a host facts file";
      reason = `CPU fit unknown (the host's CPU target is unknown): counted as a generic image's`;
    } else if (s === PASS) {
      const use = cpuUse(target, ph.target, spec);
      const fam = spec.family(ph.target);
      const what = use.unit === 'features' ? 'instruction-set features' : 'generations';
      const share = `${use.used} of the ${use.total} ${what} of ${ph.target} past ${fam}`;
      if (!target) {
        msg = use.total === 0 ? `generic ${fam} image on ${an(ph.target)} host, which has nothing past ${fam} to use` : `generic ${fam} image on ${an(ph.target)} host: runs, using none of its ${use.total} ${what} past ${fam}`;
        if (use.points) fix = `an image built for ${ph.target} (or an ancestor closer to it) would use the CPU fully`;
        reason = `generic ${fam} image: uses none of ${ph.target}'s ${what} past ${fam}`;
      } else {
        msg = target === ph.target ? `the image is built for ${target}, exactly this host's target` : `the image is built for ${target}; this host (${ph.target}) is a descendant and runs it, using ${share}`;
        reason = `image built for ${target}: uses ${share}`;
      }
    } else {
      msg = `the image is built for ${target}; this host is ${ph.target}, which ${spec.comparable(target!, ph.target) ? 'is older' : 'is on another branch of the archspec graph'} and may lack its instructions (illegal instruction at run time)`;
      fix = `run on a ${target} (or newer) node, or use an image built for ${ph.target} or a generic one`;
    }
    const c = makeCheck('microarch', ev.outcome, msg, ph.target, target, fix, [...(ci.facts.requires.microarch?.evidence ?? []), ...ph.facts.cpu.evidence], reason);
    if (ev === NOT_NATIVE) c.status = 'not-applicable';
    return [c];
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
