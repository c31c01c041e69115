/**
 * Scheduler-neutral node features and image constraints, from the compatibility rules: each rule
 * says which features a host offers (`Rule.features`) and what an image needs (`Rule.constraint`),
 * so "the host's features satisfy the image's constraint" is "check passes" (compatible), rule by
 * rule, without a second copy of the rules. Slurm names (with a prefix) are in `slurm.ts`.
 */
import { loadArchspec, type Archspec } from '../arch/index.js';
import { compileImage, prepareHost, type CompiledImage, type PreparedHost } from '../check/compile.js';
import type { Rule, RuleContext } from '../check/rule.js';
import { activeRules, plainContext } from '../check/score.js';
import type { CheckId } from '../model/report.js';
import type { HostFacts, ImageFacts } from '../model/facts.js';
import { and, type Expr, type Needs } from './expr.js';

/** Options for {@link hostFeatures} and {@link imageNeeds}. */
export interface FeatureOptions {
  /** archspec database (default: the vendored one). */
  archspec?: Archspec;
}

/** What an image needs of a node: the whole expression, and each rule's part. */
export interface ImageNeeds extends Needs {
  /** Each rule's needs, in report order (a rule whose needs are `false` is why no node can run it). */
  readonly byRule: readonly { readonly id: CheckId; readonly needs: Needs }[];
}

const contexts = new WeakMap<Archspec, { ctx: RuleContext; rules: readonly Rule[] }>();

/** The rules that take part when matching (no binds, no history), each with features and needs. */
function rulesFor(spec: Archspec): { ctx: RuleContext; rules: readonly Rule[] } {
  let c = contexts.get(spec);
  if (!c) {
    const ctx = plainContext(spec);
    const rules = activeRules(ctx);
    const lacking = rules.filter((r) => !r.constraint);
    if (lacking.length) throw new Error(`rules without scheduler needs: ${lacking.map((r) => r.id).join(', ')}`);
    contexts.set(spec, (c = { ctx, rules }));
  }
  return c;
}

/** The features a host offers, without a prefix, in rule order, without repeats. */
export function hostFeatures(host: HostFacts | PreparedHost, opts: FeatureOptions = {}): string[] {
  const spec = opts.archspec ?? loadArchspec();
  const ph = 'facts' in host ? host : prepareHost(host, spec);
  const { ctx, rules } = rulesFor(spec);
  const out = new Set<string>();
  for (const r of rules) for (const f of r.features?.(ph, ctx) ?? []) out.add(f);
  return [...out];
}

/** What an image needs of a node, as a feature expression over {@link hostFeatures}' names. */
export function imageNeeds(image: ImageFacts | CompiledImage, opts: FeatureOptions = {}): ImageNeeds {
  const spec = opts.archspec ?? loadArchspec();
  const ci = 'memo' in image ? image : compileImage(image, spec);
  const { ctx, rules } = rulesFor(spec);
  const byRule = rules.map((r) => ({ id: r.id, needs: r.constraint!(ci, ctx) }));
  const expr: Expr = and(...byRule.map((b) => b.needs.expr));
  return { expr, notes: byRule.flatMap((b) => b.needs.notes), byRule };
}
