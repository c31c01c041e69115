import type { Archspec } from '../arch/index.js';
import type { CompiledImage, PreparedHost } from './compile.js';
import { FAIL, requiredOf, statusOf, UNKNOWN, penaltyOf, type Rule, type RuleContext } from './rule.js';
import { RULES } from './rules/index.js';

/** The rules that take part in a context (bind only with libraries, provenance only with a history). */
export function activeRules(ctx: RuleContext): readonly Rule[] {
  return RULES.filter((r) => !r.applies || r.applies(ctx));
}

/** A context with no binds and no history: what matching many pairs uses. */
export function plainContext(spec: Archspec): RuleContext {
  return { spec, binds: null, history: null };
}

const plain = new WeakMap<Archspec, { ctx: RuleContext; rules: readonly Rule[] }>();

/** Sum a set of outcomes into a verdict and a score. */
export function summarise(outcomes: readonly number[]): { verdict: 'compatible' | 'incompatible' | 'unknown'; score: number } {
  let penalty = 0;
  let unknown = false;
  for (const o of outcomes) {
    const s = statusOf(o);
    if (s === FAIL && requiredOf(o)) return { verdict: 'incompatible', score: 0 };
    if (s === UNKNOWN && requiredOf(o)) unknown = true;
    penalty += penaltyOf(o);
  }
  return { verdict: unknown ? 'unknown' : 'compatible', score: Math.max(0, 100 - penalty) };
}

/**
 * Score one pair without building messages (the matching hot path): the same rules, evaluated the
 * same way as the report. Returns 0..100 for compatible, -1 incompatible, -2-score unknown.
 * `ctxOrSpec` is a rule context, or just the archspec database (no binds, no history).
 */
export function scorePair(ci: CompiledImage, ph: PreparedHost, ctxOrSpec: RuleContext | Archspec, rules?: readonly Rule[]): number {
  let ctx: RuleContext;
  let list: readonly Rule[];
  if ('spec' in ctxOrSpec) {
    ctx = ctxOrSpec;
    list = rules ?? activeRules(ctx);
  } else {
    let p = plain.get(ctxOrSpec);
    if (!p) {
      const c = plainContext(ctxOrSpec);
      plain.set(ctxOrSpec, (p = { ctx: c, rules: activeRules(c) }));
    }
    ctx = p.ctx;
    list = p.rules;
  }
  let penalty = 0;
  let unknown = false;
  for (let i = 0; i < list.length; i++) {
    const o = list[i]!.evaluate(ci, ph, ctx).outcome;
    const s = o & 3;
    if (s === FAIL && o & 4) return -1;
    if (s === UNKNOWN && o & 4) unknown = true;
    penalty += o >>> 3;
  }
  const score = penalty >= 100 ? 0 : 100 - penalty;
  return unknown ? -2 - score : score;
}
