/**
 * Feature expressions: what a host must offer, as AND / OR of named features, the form a
 * scheduler's node-feature constraint takes (Slurm `--constraint`). Each compatibility rule says
 * what it needs of a host in these terms (`Rule.constraint`), and which features a host offers
 * (`Rule.features`); `src/sched/constraint.ts` puts them together.
 *
 * There is no NOT: Slurm 22.05 has none, so a rule that would need one says so in a note instead
 * (see {@link Needs}). The constructors simplify as they build (constants fold, nested operators
 * flatten, duplicates go), so equal requirements print alike.
 */

/** A feature expression. */
export type Expr =
  | { readonly op: 'true' }
  | { readonly op: 'false' }
  | { readonly op: 'feat'; readonly name: string }
  | { readonly op: 'and' | 'or'; readonly args: readonly Expr[]; /** @internal identity for dedupe */ readonly key: string };

/** What a rule needs of a host: an expression, and what it could not express (one line each, for stderr). */
export interface Needs {
  readonly expr: Expr;
  /** Requirements a feature cannot express: left out of `expr` (so it selects more hosts than pass). */
  readonly notes: readonly string[];
}

/** Always true (the rule asks nothing of the host). */
export const TRUE: Expr = Object.freeze({ op: 'true' });
/** Never true (no host can pass). */
export const FALSE: Expr = Object.freeze({ op: 'false' });

/** A host must offer feature `name`. */
export function feat(name: string): Expr {
  return { op: 'feat', name };
}

const keyOf = (e: Expr): string => (e.op === 'feat' ? e.name : e.op === 'true' || e.op === 'false' ? e.op : e.key);
const compound = (op: 'and' | 'or', args: readonly Expr[]): Expr => ({ op, args, key: `${op}(${args.map(keyOf).join(',')})` });

function combine(op: 'and' | 'or', parts: readonly Expr[]): Expr {
  const unit = op === 'and' ? 'true' : 'false';
  const zero = op === 'and' ? FALSE : TRUE;
  const out: Expr[] = [];
  const seen = new Set<string>();
  for (const p of parts) {
    const flat = p.op === op ? p.args : [p];
    for (const q of flat) {
      if (q.op === unit) continue;
      if (q.op === zero.op) return zero;
      const k = keyOf(q);
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(q);
    }
  }
  if (out.length === 0) return op === 'and' ? TRUE : FALSE;
  if (out.length === 1) return out[0]!;
  // a | (a & b) is a; a & (a | b) is a (absorption keeps factored forms short)
  const inner = op === 'and' ? 'or' : 'and';
  const kept = out.filter((q) => !(q.op === inner && q.args.some((a) => seen.has(keyOf(a)))));
  return kept.length === 1 ? kept[0]! : compound(op, kept);
}

/** All of `parts`. */
export function and(...parts: Expr[]): Expr {
  return combine('and', parts);
}

/** Any of `parts`. */
export function or(...parts: Expr[]): Expr {
  return combine('or', parts);
}

/**
 * Any of the alternatives, each an AND of features, factored so a feature common to many
 * alternatives is written once: `(a&x)|(a&y)|(b&x)` becomes `(a&(x|y))|(b&x)`.
 */
export function anyOf(alternatives: readonly Expr[]): Expr {
  const terms = alternatives.map((a) => (a.op === 'and' ? [...a.args] : [a]));
  return mergeTails(factor(terms));
}

/** `(a&x)|(b&x)` as `(a|b)&x`: OR terms that differ only in one feature are written once. */
function mergeTails(e: Expr): Expr {
  if (e.op !== 'or') return e;
  const groups = new Map<string, { heads: Expr[]; tail: Expr }>();
  const rest: Expr[] = [];
  for (const a of e.args) {
    if (a.op === 'and' && a.args.length === 2 && a.args[0]!.op === 'feat') {
      const tail = a.args[1]!;
      const k = keyOf(tail);
      const g = groups.get(k);
      if (g) g.heads.push(a.args[0]!);
      else groups.set(k, { heads: [a.args[0]!], tail });
    } else rest.push(a);
  }
  return or(...[...groups.values()].map((g) => and(or(...g.heads), g.tail)), ...rest);
}

function factor(terms: Expr[][]): Expr {
  if (terms.some((t) => t.length === 0)) return TRUE;
  if (terms.length <= 1) return and(...(terms[0] ?? [FALSE]));
  const counts = new Map<string, { e: Expr; n: number }>();
  for (const t of terms) for (const k of new Set(t.map(keyOf))) {
    const e = t.find((x) => keyOf(x) === k)!;
    const c = counts.get(k);
    if (c) c.n++;
    else counts.set(k, { e, n: 1 });
  }
  let best: { e: Expr; n: number } | null = null;
  for (const c of counts.values()) if (!best || c.n > best.n) best = c;
  if (!best || best.n < 2) return or(...terms.map((t) => and(...t)));
  const k = keyOf(best.e);
  const withIt: Expr[][] = [];
  const without: Expr[][] = [];
  for (const t of terms) {
    if (t.some((e) => keyOf(e) === k)) withIt.push(t.filter((e) => keyOf(e) !== k));
    else without.push(t);
  }
  return or(and(best.e, factor(withIt)), ...(without.length ? [factor(without)] : []));
}

/** Does a host offering `has` satisfy `e`? */
export function satisfies(e: Expr, has: (feature: string) => boolean): boolean {
  switch (e.op) {
    case 'true': return true;
    case 'false': return false;
    case 'feat': return has(e.name);
    case 'and': return e.args.every((a) => satisfies(a, has));
    default: return e.args.some((a) => satisfies(a, has));
  }
}

/**
 * `e` with every feature outside `known` taken as false: a scheduler refuses a constraint that names
 * a feature no node has, even in an OR term, and such a term cannot be met anyway.
 */
export function prune(e: Expr, known: ReadonlySet<string>): Expr {
  switch (e.op) {
    case 'feat': return known.has(e.name) ? e : FALSE;
    case 'and': return and(...e.args.map((a) => prune(a, known)));
    case 'or': return or(...e.args.map((a) => prune(a, known)));
    default: return e;
  }
}

/** Rename every feature (e.g. add a scheduler's prefix). `f` must be one-to-one: the shape is kept as it is. */
export function mapFeatures(e: Expr, f: (name: string) => string): Expr {
  switch (e.op) {
    case 'feat': return feat(f(e.name));
    case 'and':
    case 'or': return compound(e.op, e.args.map((a) => mapFeatures(a, f)));
    default: return e;
  }
}

/**
 * The expression in the usual infix syntax, `&` binding tighter than `|`, parenthesised only
 * where needed: `a&(b|c)`. Constants print as `true` / `false` (callers decide what those mean
 * for their scheduler: no constraint at all, and no host).
 */
export function toInfix(e: Expr): string {
  switch (e.op) {
    case 'true':
    case 'false': return e.op;
    case 'feat': return e.name;
    case 'and': return e.args.map((a) => (a.op === 'or' ? `(${toInfix(a)})` : toInfix(a))).join('&');
    default: return e.args.map(toInfix).join('|');
  }
}

/** A version as part of a feature name: `12.4` is `12_4`, `2.6.32` is `2_6_32`. */
export function versionPart(v: string | readonly number[]): string {
  return (typeof v === 'string' ? v.trim() : v.join('.')).replace(/[^0-9a-z]+/gi, '_').toLowerCase();
}

/** A free-form value (a GPU brand, an implementation name) as part of a feature name: `[a-z0-9_]`. */
export function namePart(s: string): string {
  return s.trim().toLowerCase().replace(/[^a-z0-9]+/g, '_');
}

/** A rule's needs with no notes. */
export function needs(expr: Expr, notes: readonly string[] = []): Needs {
  return { expr, notes };
}

/** Clauses or terms of a normal form: each a sorted list of feature names. */
export type NormalForm = string[][];

/** Drop duplicates and every set that contains another (`a & (a|b)` is `a`), keeping the order of first appearance. */
function absorb(sets: string[][]): string[][] {
  const uniq = new Map<string, string[]>();
  for (const s of sets) {
    const u = [...new Set(s)];
    const k = [...u].sort().join('\u0000');
    if (!uniq.has(k)) uniq.set(k, u);
  }
  const list = [...uniq.values()];
  if (list.length < 2) return list;
  const bySize = list.map((s, i) => ({ s, set: new Set(s), i })).sort((a, b) => a.s.length - b.s.length);
  const kept: typeof bySize = [];
  for (const x of bySize) {
    if (!kept.some((k) => k.s.length <= x.s.length && k.s.every((f) => x.set.has(f)))) kept.push(x);
  }
  return kept.sort((a, b) => a.i - b.i).map((x) => x.s);
}

/**
 * `e` as a product of sums (CNF: AND of clauses, each an OR of features) when `outer` is 'and', or
 * a sum of products (DNF) when 'or'; null when it would take more than `cap` sets. `[]` is the empty
 * AND (true) for CNF, the empty OR (false) for DNF; `[[]]` the opposite.
 */
export function normalForm(e: Expr, outer: 'and' | 'or', cap = 256): NormalForm | null {
  const go = (x: Expr): NormalForm | null => {
    if (x.op !== 'and' && x.op !== 'or') return base(x);
    // Sub-expressions repeat across images (the same NVIDIA base, the same MPI): convert each once.
    const k = `${outer}${cap}${x.key}`;
    let f = forms.get(k);
    if (f === undefined) {
      if (forms.size >= FORMS_MAX) forms.clear();
      forms.set(k, (f = base(x)));
    }
    return f;
  };
  const base = (x: Expr): NormalForm | null => {
    switch (x.op) {
      case 'feat': return [[x.name]];
      case 'true': return outer === 'and' ? [] : [[]];
      case 'false': return outer === 'and' ? [[]] : [];
      default: {
        const parts = x.args.map(go);
        if (parts.some((p) => p === null)) return null;
        const ps = parts as NormalForm[];
        if (x.op === outer) {
          const all = absorb(ps.flat());
          return all.length > cap ? null : all;
        }
        // the inner operator distributes: one set from each part, joined
        let acc: NormalForm = [[]];
        for (const p of ps) {
          const next: string[][] = [];
          for (const a of acc) for (const b of p) next.push([...a, ...b]);
          if (next.length > cap * 4) return null;
          acc = absorb(next);
          if (acc.length > cap) return null;
        }
        return acc;
      }
    }
  };
  return go(e);
}

/** Normal forms of compound expressions by key (bounded: cleared when full). Callers must not change what they get. */
const forms = new Map<string, NormalForm | null>();
const FORMS_MAX = 4096;
