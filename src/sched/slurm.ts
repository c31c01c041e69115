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
import { hostFeatures, imageNeeds, type FeatureOptions, type ImageNeeds } from './constraint.js';
import { and, FALSE, feat, mapFeatures, normalForm, or, prune, toInfix, type Expr } from './expr.js';

/** Slurm refuses a longer `--constraint` ("Pathname of a file, directory or other parameter too long"). */
export const SLURM_CONSTRAINT_MAX = 1024;

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
 * no node can meet are dropped, as Slurm requires. `image` may be its needs already worked out
 * ({@link imageNeeds}), for callers that also look at them rule by rule.
 */
export function slurmConstraint(image: ImageFacts | CompiledImage | ImageNeeds, opts: SlurmOptions & { known?: ReadonlySet<string> } = {}): SlurmConstraint {
  const p = slurmPrefix(opts.prefix);
  const n = 'byRule' in image ? image : imageNeeds(image, opts);
  const fit = (e: Expr) => {
    const m = mapFeatures(e, (f) => p + f);
    return opts.known ? prune(m, opts.known) : m;
  };
  const expr = fit(n.expr);
  const impossible = expr.op === 'false' ? n.byRule.filter((b) => fit(b.needs.expr).op === 'false').map((b) => b.id) : [];
  return {
    constraint: expr.op === 'false' ? null : toSlurmSyntax(expr),
    expr: expr.op === 'false' ? FALSE : expr,
    notes: [...n.notes],
    impossible,
  };
}

/**
 * A plain Slurm constraint (features, `&` or `,`, `|`, parentheses) as an expression; null when it
 * uses what this does not read (`[...]` matching OR, `*N` counts) or is not well formed.
 */
export function parseSlurmConstraint(c: string): Expr | null {
  if (/[[\]*]/.test(c)) return null;
  let i = 0;
  const term = (): Expr => {
    if (c[i] === '(') {
      i++;
      const v = disj();
      if (c[i++] !== ')') throw new Error('unbalanced');
      return v;
    }
    const m = /^[^&|,()\s]+/.exec(c.slice(i));
    if (!m) throw new Error('no feature');
    i += m[0].length;
    return feat(m[0]);
  };
  const conj = (): Expr => {
    const parts = [term()];
    while (c[i] === '&' || c[i] === ',') {
      i++;
      parts.push(term());
    }
    return and(...parts);
  };
  const disj = (): Expr => {
    const parts = [conj()];
    while (c[i] === '|') {
      i++;
      parts.push(conj());
    }
    return or(...parts);
  };
  try {
    const v = disj();
    return i === c.length ? v : null;
  } catch {
    return null;
  }
}

/**
 * Our constraint ANDed with a user's own, in one level of parentheses when the user's is plain
 * syntax ({@link parseSlurmConstraint}); otherwise the user's kept whole in parentheses, which
 * works when ours needs none.
 */
export function andConstraint(user: string | null | undefined, ours: string): string {
  const u = user?.trim();
  if (!u) return ours;
  if (!ours) return u;
  const ue = parseSlurmConstraint(u);
  const oe = parseSlurmConstraint(ours);
  if (ue && oe) return toSlurmSyntax(and(ue, oe));
  return `(${u})&${/[()]/.test(ours) ? `(${ours})` : ours}`;
}

/**
 * An expression in the syntax Slurm 22.05 takes: `&`, `|` and ONE level of parentheses (it refuses
 * nested ones). The shorter of the product of sums (`a&(b|c)&d`) and the sum of products
 * (`(a&b)|(c&d)`); when neither exists within bounds, the nested infix form (which Slurm refuses:
 * {@link slurmSyntaxProblem} says so). `true` is the empty constraint.
 */
export function toSlurmSyntax(e: Expr): string {
  if (e.op === 'true') return '';
  const forms: string[] = [];
  const cnf = normalForm(e, 'and');
  if (cnf) forms.push(cnf.map((c) => (c.length > 1 ? `(${c.join('|')})` : c[0] ?? '')).join('&'));
  // The sum of products has (at most) the product of the clause sizes as terms: only worth it when few.
  const terms = cnf ? cnf.reduce((n, c) => n * c.length, 1) : 0;
  const dnf = !cnf || terms <= 16 ? normalForm(e, 'or') : null;
  if (dnf) forms.push(dnf.map((t) => (t.length > 1 && dnf.length > 1 ? `(${t.join('&')})` : t.join('&'))).join('|'));
  if (forms.length === 0) return toInfix(e);
  return forms.reduce((a, b) => (b.length < a.length ? b : a));
}

/** Why Slurm would refuse this constraint string as written (nested parentheses, length), or null. */
export function slurmSyntaxProblem(constraint: string): string | null {
  let depth = 0;
  for (const ch of constraint) {
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    if (depth > 1) return 'it needs nested parentheses, which Slurm 22.05 refuses';
  }
  if (constraint.length > SLURM_CONSTRAINT_MAX) return `it is ${constraint.length} characters, and Slurm takes at most ${SLURM_CONSTRAINT_MAX}`;
  return null;
}
