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

const plain = new WeakMap<Archspec, { ctx: RuleContext; score: Scorer }>();

/** A scorer for a fixed list of rules: `(image, host, context) => raw score` (see {@link scorePair}). */
export type Scorer = (ci: CompiledImage, ph: PreparedHost, ctx: RuleContext) => number;

const scorers = new WeakMap<readonly Rule[], Scorer>();

/**
 * The scoring loop for one list of rules, unrolled into straight-line code with one call site per
 * rule, so each call site always calls the same function and the JIT can inline it (a loop over the
 * list would make one call site see every rule). Generated once per list, as ajv generates its
 * validators; the arithmetic is {@link scorePair}'s.
 */
export function scorerFor(rules: readonly Rule[]): Scorer {
  let s = scorers.get(rules);
  if (s) return s;
  const names = rules.map((_, i) => `r${i}`);
  const steps = names.map((r) => `o = ${r}(ci, ph, ctx); if ((o & 3) === 3 && (o & 4) !== 0) return -1; if ((o & 3) === 2 && (o & 4) !== 0) u = true; p += o >>> 3;`);
  const body = `return function score(ci, ph, ctx) { let o = 0, p = 0, u = false; ${steps.join(' ')} const score = p >= 100 ? 0 : 100 - p; return u ? -2 - score : score; };`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  s = new Function(...names, body)(...rules.map((r) => r.outcome)) as Scorer;
  scorers.set(rules, s);
  return s;
}

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
  if (!('spec' in ctxOrSpec)) {
    let p = plain.get(ctxOrSpec);
    if (!p) {
      const ctx = plainContext(ctxOrSpec);
      plain.set(ctxOrSpec, (p = { ctx, score: scorerFor(activeRules(ctx)) }));
    }
    return p.score(ci, ph, p.ctx);
  }
  const ctx = ctxOrSpec;
  const list = rules ?? activeRules(ctx);
  let penalty = 0;
  let unknown = false;
  for (let i = 0; i < list.length; i++) {
    const o = list[i]!.outcome(ci, ph, ctx);
    const s = o & 3;
    if (s === FAIL && o & 4) return -1;
    if (s === UNKNOWN && o & 4) unknown = true;
    penalty += o >>> 3;
  }
  const score = penalty >= 100 ? 0 : 100 - penalty;
  return unknown ? -2 - score : score;
}
