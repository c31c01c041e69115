/**
 * Slurm node features and `--constraint` expressions from containerspec's rules
 * (`src/sched/constraint.ts`), every name under one prefix (default `cs_`) so a site's own
 * features are never touched.
 *
 * Slurm 22.05's constraint syntax has `&` (AND), `|` (OR) and parentheses, and no NOT; it refuses
 * a job whose constraint names a feature no node has ("Invalid feature specification"), even in
 * an OR term, so a constraint for a real cluster is pruned to the features its nodes offer
 * ({@link slurmConstraint} with `known`).
 */
import { UsageError } from '../errors/index.js';
import type { HostFacts, ImageFacts } from '../model/facts.js';
import type { CompiledImage, PreparedHost } from '../check/compile.js';
import { hostFeatures, imageNeeds, type FeatureOptions } from './constraint.js';
import { FALSE, mapFeatures, prune, toInfix, type Expr } from './expr.js';

/** The prefix of every feature containerspec sets. */
export const DEFAULT_SLURM_PREFIX = 'cs_';

/** Options for the Slurm functions. */
export interface SlurmOptions extends FeatureOptions {
  /** Feature name prefix (default `cs_`): letters, digits and `_`, starting with a letter. */
  prefix?: string;
}

/** A checked prefix: a feature name must stay a valid, unambiguous Slurm feature. */
export function slurmPrefix(prefix: string = DEFAULT_SLURM_PREFIX): string {
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(prefix)) {
    throw new UsageError(`--prefix ${JSON.stringify(prefix)}: a feature prefix is letters, digits and _ and starts with a letter (default ${DEFAULT_SLURM_PREFIX})`);
  }
  return prefix;
}

/** A node's features for Slurm (`Features=` / `AvailableFeatures`), prefixed. */
export function slurmFeatures(host: HostFacts | PreparedHost, opts: SlurmOptions = {}): string[] {
  const p = slurmPrefix(opts.prefix);
  return hostFeatures(host, opts).map((f) => p + f);
}

/** An image's Slurm constraint. */
export interface SlurmConstraint {
  /** The `--constraint` value; null when no node can run the image (see `impossible`). */
  constraint: string | null;
  /** The expression behind it (prefixed, pruned when `known` was given). */
  expr: Expr;
  /** Requirements no feature expresses (left out: the constraint then selects more nodes than pass). */
  notes: string[];
  /** The rules whose needs no node can meet (no feature, or none of the known ones), when `constraint` is null. */
  impossible: string[];
}

/**
 * The Slurm `--constraint` that selects the nodes an image passes `check` on, given the nodes'
 * features from {@link slurmFeatures}. With `known` (every feature the cluster's nodes have), terms
 * no node can meet are dropped, as Slurm requires.
 */
export function slurmConstraint(image: ImageFacts | CompiledImage, opts: SlurmOptions & { known?: ReadonlySet<string> } = {}): SlurmConstraint {
  const p = slurmPrefix(opts.prefix);
  const n = imageNeeds(image, opts);
  const fit = (e: Expr) => {
    const m = mapFeatures(e, (f) => p + f);
    return opts.known ? prune(m, opts.known) : m;
  };
  const expr = fit(n.expr);
  const impossible = expr.op === 'false' ? n.byRule.filter((b) => fit(b.needs.expr).op === 'false').map((b) => b.id) : [];
  return {
    constraint: expr.op === 'false' ? null : expr.op === 'true' ? '' : toInfix(expr),
    expr: expr.op === 'false' ? FALSE : expr,
    notes: [...n.notes],
    impossible,
  };
}

/** `a` ANDed with a user's own constraint (kept whole, in parentheses). */
export function andConstraint(user: string | null | undefined, ours: string): string {
  const u = user?.trim();
  if (!u) return ours;
  if (!ours) return u;
  return `(${u})&(${ours})`;
}
