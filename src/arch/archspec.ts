/**
 * The archspec microarchitecture database (`microarchitectures.json`): loading, the target
 * graph (ancestors, family, partial order), feature questions and compiler flags.
 *
 * The database is vendored in `data/archspec/` (MIT / Apache-2.0, see the notices there).
 * A newer copy can be used without rebuilding via `CONTAINERSPEC_ARCHSPEC`.
 */

import { loadTable, vendoredTablePath, type TableSpec } from '../data/tables.js';
import { FactsError, oneLine } from '../errors/index.js';

/** Environment variable naming a `microarchitectures.json` to use instead of the vendored one. */
export const ARCHSPEC_ENV = 'CONTAINERSPEC_ARCHSPEC';

/** Absolute path of the vendored `microarchitectures.json` (`data/archspec/`). */
export const DEFAULT_ARCHSPEC_FILE: string = vendoredTablePath('archspec/microarchitectures.json');

/**
 * One entry of a target's `compilers.<compiler>` list: a version range such as `"4.9:"`,
 * `"4.8:4.8.5"` or `":"`, and a flags template with `{name}`-style placeholders.
 */
export interface CompilerEntry {
  /** Version range `min:max`; either side may be empty (open). */
  readonly versions: string;
  /** Flags template, e.g. `-march={name} -mtune={name}`. */
  readonly flags: string;
  /** Every string field of the entry (`name`, `family`, `warnings`, ...), for placeholders. */
  readonly fields: Readonly<Record<string, string>>;
}

/** One microarchitecture of the database, as read from the JSON. */
export interface ArchTarget {
  /** Target name, e.g. `haswell`. */
  readonly name: string;
  /** Vendor, e.g. `GenuineIntel`, `AuthenticAMD`, `ARM`, or `generic`. */
  readonly vendor: string;
  /** The whole feature set (not only what the target adds); `ssse3` implies `sse3`. */
  readonly features: ReadonlySet<string>;
  /** Direct parents (`from`), in JSON order. */
  readonly parents: readonly string[];
  /** POWER generation (`generation`), 0 when the JSON has none. */
  readonly generation: number;
  /** ARM CPU part (`cpupart`, e.g. `0xd0c`), `''` when the JSON has none. */
  readonly cpupart: string;
  /** Compiler name → entries, in JSON order. */
  readonly compilers: Readonly<Record<string, readonly CompilerEntry[]>>;
}

/** A compiled `feature_aliases` rule set: every rule must hold. */
interface AliasRule {
  readonly anyOf: readonly string[] | undefined;
  readonly families: ReadonlySet<string> | undefined;
  /** The alias uses a rule kind we do not know: it never holds. */
  readonly unknown: boolean;
}

/** Per-target data computed once when the database is loaded. */
interface Node {
  readonly target: ArchTarget;
  /** Parents, then their ancestors, without repeats (archspec order). */
  readonly ancestors: readonly string[];
  /** The same names as a set, for O(1) partial-order tests. */
  readonly ancestorSet: ReadonlySet<string>;
  /** The root (target without parents) of the target's lineage. */
  readonly family: string;
}

/** The parsed database, validated. */
interface ArchspecData {
  readonly targets: readonly ArchTarget[];
  readonly aliases: ReadonlyMap<string, AliasRule>;
  readonly armVendors: ReadonlyMap<string, string>;
}

/**
 * The microarchitecture database with lookup maps built once. Name-based predicates
 * (`has`, `le`, `lt`, `comparable`, `hasFeature`) answer `false` for unknown names;
 * lookups that must name a target (`ancestors`, `family`, `compilerFlags`) throw
 * `FactsError` for an unknown name; `target` returns `undefined`.
 */
export class Archspec {
  /** The file this database was read from (or a description of its origin). */
  readonly source: string;
  readonly #nodes: ReadonlyMap<string, Node>;
  readonly #names: readonly string[];
  readonly #aliases: ReadonlyMap<string, AliasRule>;
  readonly #armVendors: ReadonlyMap<string, string>;

  /**
   * Build the database from the parsed content of a `microarchitectures.json`. Throws
   * `FactsError` naming `source` when the content has the wrong shape, a parent is undefined,
   * the graph has a cycle, or a target belongs to more than one family.
   */
  constructor(json: unknown, source = '(in-memory archspec data)') {
    this.source = source;
    let data: ArchspecData;
    try {
      data = parseData(json);
    } catch (err) {
      if (!(err instanceof ShapeError)) throw err;
      throw new FactsError(oneLine(`archspec data ${source} is not a microarchitectures.json: ${err.message}`));
    }
    this.#aliases = data.aliases;
    this.#armVendors = data.armVendors;
    const byName = new Map<string, ArchTarget>();
    for (const t of data.targets) byName.set(t.name, t);
    const ancestorsOf = new Map<string, readonly string[]>();
    const visiting = new Set<string>();
    const compute = (name: string): readonly string[] => {
      const done = ancestorsOf.get(name);
      if (done) return done;
      const t = byName.get(name);
      if (!t) throw new FactsError(`archspec data ${source}: unknown target ${name}`);
      if (visiting.has(name)) {
        throw new FactsError(`archspec data ${source}: target ${name} is its own ancestor`);
      }
      visiting.add(name);
      const value: string[] = [];
      for (const p of t.parents) {
        if (!byName.has(p)) {
          throw new FactsError(`archspec data ${source}: parent ${p} of ${name} is not defined`);
        }
        if (!value.includes(p)) value.push(p);
      }
      for (const p of t.parents) {
        for (const a of compute(p)) if (!value.includes(a)) value.push(a);
      }
      visiting.delete(name);
      Object.freeze(value);
      ancestorsOf.set(name, value);
      return value;
    };
    const nodes = new Map<string, Node>();
    for (const t of data.targets) {
      const ancestors = compute(t.name);
      const roots = [t.name, ...ancestors].filter((n) => byName.get(n)?.parents.length === 0);
      if (roots.length !== 1 || roots[0] === undefined) {
        throw new FactsError(
          `archspec data ${source}: target ${t.name} belongs to ${roots.length} families (${roots.join(', ')}), expected one`,
        );
      }
      nodes.set(t.name, { target: t, ancestors, ancestorSet: new Set(ancestors), family: roots[0] });
    }
    this.#nodes = nodes;
    this.#names = Object.freeze(data.targets.map((t) => t.name));
  }

  #node(name: string): Node {
    const n = this.#nodes.get(name);
    if (!n) throw new FactsError(`unknown microarchitecture ${name} (not in ${this.source})`);
    return n;
  }

  /** All target names, in the database's order. */
  names(): readonly string[] {
    return this.#names;
  }

  /** Whether the database defines a target with this name. */
  has(name: string): boolean {
    return this.#nodes.has(name);
  }

  /** The target's data, or `undefined` when the database does not define it. */
  target(name: string): ArchTarget | undefined {
    return this.#nodes.get(name)?.target;
  }

  /**
   * The target's ancestors: its parents, then each parent's ancestors, without repeats
   * (archspec's order). Computed once at load; the returned array is frozen and shared.
   */
  ancestors(name: string): readonly string[] {
    return this.#node(name).ancestors;
  }

  /** The target's family: the ancestor (or itself) without parents, e.g. `x86_64`, `aarch64`. */
  family(name: string): string {
    return this.#node(name).family;
  }

  /** `a <= b` in the partial order: `a` is `b` or one of its ancestors. O(1). */
  le(a: string, b: string): boolean {
    const nb = this.#nodes.get(b);
    if (!nb) return false;
    return a === b || nb.ancestorSet.has(a);
  }

  /** `a < b` in the partial order: `a` is a (strict) ancestor of `b`. O(1). */
  lt(a: string, b: string): boolean {
    return this.#nodes.get(b)?.ancestorSet.has(a) ?? false;
  }

  /** Whether `a <= b` or `b <= a` (false for targets on separate branches, e.g. cascadelake / cannonlake). */
  comparable(a: string, b: string): boolean {
    return this.le(a, b) || this.le(b, a);
  }

  /**
   * Whether the target has `feature`: listed in its features, or true by a `feature_aliases`
   * rule (`any_of`: one of the listed features is present; `families`: the target's family is
   * listed; every rule of the alias must hold; `reason` is a comment). False for unknown names.
   */
  hasFeature(name: string, feature: string): boolean {
    const n = this.#nodes.get(name);
    if (!n) return false;
    if (n.target.features.has(feature)) return true;
    const rule = this.#aliases.get(feature);
    if (!rule || rule.unknown) return false;
    if (rule.anyOf && !rule.anyOf.some((f) => n.target.features.has(f))) return false;
    if (rule.families && !rule.families.has(n.family)) return false;
    return true;
  }

  /** Vendor name for an ARM `CPU implementer` code (`conversions.arm_vendors`), if known. */
  armVendor(implementer: string): string | undefined {
    return this.#armVendors.get(implementer);
  }

  /**
   * The optimisation flags for building for `name` with `compiler` at `version` (e.g.
   * `compilerFlags('haswell', 'gcc', '12')` → `-march=haswell -mtune=haswell`), as archspec
   * computes them: the first entry (JSON order) whose `versions` range contains the version
   * wins, and its `{name}`-style placeholders are filled from the entry (`name` defaults to the
   * target name). Without a version, the first entry whose range has no upper bound (the newest
   * compilers) is used. Versions compare by their leading numeric part, dot by dot.
   *
   * Returns `null` when there is no answer: the family knows nothing of the compiler (archspec
   * returns `""`), the target has no entry for it but an ancestor has (archspec raises; no
   * guess is made), or no range contains the version. Throws `FactsError` for an unknown target.
   */
  compilerFlags(name: string, compiler: string, version?: string): string | null {
    const n = this.#node(name);
    const familyTarget = this.#node(n.family).target;
    if (!Object.hasOwn(familyTarget.compilers, compiler)) return null;
    if (!Object.hasOwn(n.target.compilers, compiler)) return null;
    const entries = n.target.compilers[compiler] ?? [];
    let wanted: number[] | undefined;
    if (version !== undefined) {
      wanted = versionTuple(version);
      if (wanted === undefined) return null;
    }
    for (const entry of entries) {
      if (!rangeContains(entry.versions, wanted)) continue;
      const fields: Record<string, string> = { name, ...entry.fields };
      return entry.flags.replace(/\{(\w+)\}/g, (m, key: string) => fields[key] ?? m);
    }
    return null;
  }
}

/** The leading numeric part of a version (`"12.2.0-ubuntu"` → [12, 2, 0]); undefined if none. */
function versionTuple(v: string): number[] | undefined {
  const m = /^[\d.]*/.exec(v.trim());
  const parts = (m?.[0] ?? '').split('.').filter((p) => p !== '');
  if (parts.length === 0) return undefined;
  return parts.map(Number);
}

/** Lexicographic comparison of version tuples (a shorter prefix is smaller, as in Python). */
function compareTuples(a: readonly number[], b: readonly number[]): number {
  const len = Math.min(a.length, b.length);
  for (let i = 0; i < len; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Whether the `min:max` range contains `v`; `v` undefined means "newest" (open upper end only). */
function rangeContains(range: string, v: readonly number[] | undefined): boolean {
  const sides = range.split(':');
  if (sides.length !== 2) return false;
  const [lo, hi] = sides as [string, string];
  const min = versionTuple(lo);
  const max = versionTuple(hi);
  if (v === undefined) return max === undefined;
  if (min && compareTuples(v, min) < 0) return false;
  if (max && compareTuples(v, max) > 0) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Loading and validation

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

/** Thrown inside validation; turned into a FactsError naming the file. */
class ShapeError extends Error {}

function parseCompilers(v: unknown, where: string): Record<string, readonly CompilerEntry[]> {
  if (v === undefined) return {};
  if (!isObject(v)) throw new ShapeError(`${where} is not an object`);
  const out: Record<string, readonly CompilerEntry[]> = {};
  for (const [compiler, list] of Object.entries(v)) {
    if (!Array.isArray(list)) throw new ShapeError(`${where}.${compiler} is not a list`);
    out[compiler] = Object.freeze(
      list.map((e, i): CompilerEntry => {
        if (!isObject(e) || typeof e['versions'] !== 'string' || typeof e['flags'] !== 'string') {
          throw new ShapeError(`${where}.${compiler}[${i}] needs string versions and flags`);
        }
        const fields: Record<string, string> = {};
        for (const [k, x] of Object.entries(e)) if (typeof x === 'string') fields[k] = x;
        return Object.freeze({ versions: e['versions'], flags: e['flags'], fields: Object.freeze(fields) });
      }),
    );
  }
  return Object.freeze(out);
}

function parseTarget(name: string, v: unknown): ArchTarget {
  const where = `microarchitectures.${name}`;
  if (!isObject(v)) throw new ShapeError(`${where} is not an object`);
  const from = v['from'];
  const vendor = v['vendor'];
  const features = v['features'];
  if (!isStringArray(from)) throw new ShapeError(`${where}.from is not a list of strings`);
  if (typeof vendor !== 'string') throw new ShapeError(`${where}.vendor is not a string`);
  if (!isStringArray(features)) throw new ShapeError(`${where}.features is not a list of strings`);
  const generation = v['generation'] ?? 0;
  if (typeof generation !== 'number') throw new ShapeError(`${where}.generation is not a number`);
  const cpupart = v['cpupart'] ?? '';
  if (typeof cpupart !== 'string') throw new ShapeError(`${where}.cpupart is not a string`);
  const featureSet = new Set(features);
  if (featureSet.has('ssse3')) featureSet.add('sse3');
  return Object.freeze({
    name,
    vendor,
    features: featureSet,
    parents: Object.freeze([...from]),
    generation,
    cpupart,
    compilers: parseCompilers(v['compilers'], `${where}.compilers`),
  });
}

function parseData(json: unknown): ArchspecData {
  if (!isObject(json)) throw new ShapeError('top level is not an object');
  const micro = json['microarchitectures'];
  if (!isObject(micro)) throw new ShapeError('microarchitectures is missing or not an object');
  const targets = Object.entries(micro).map(([name, v]) => parseTarget(name, v));
  if (targets.length === 0) throw new ShapeError('microarchitectures is empty');

  const aliases = new Map<string, AliasRule>();
  const fa = json['feature_aliases'] ?? {};
  if (!isObject(fa)) throw new ShapeError('feature_aliases is not an object');
  for (const [alias, rules] of Object.entries(fa)) {
    if (!isObject(rules)) throw new ShapeError(`feature_aliases.${alias} is not an object`);
    let anyOf: string[] | undefined;
    let families: Set<string> | undefined;
    let unknown = false;
    for (const [kind, arg] of Object.entries(rules)) {
      if (kind === 'reason') continue;
      if ((kind === 'any_of' || kind === 'families') && !isStringArray(arg)) {
        throw new ShapeError(`feature_aliases.${alias}.${kind} is not a list of strings`);
      }
      if (kind === 'any_of') anyOf = arg as string[];
      else if (kind === 'families') families = new Set(arg as string[]);
      else unknown = true;
    }
    aliases.set(alias, { anyOf, families, unknown });
  }

  const armVendors = new Map<string, string>();
  const conv = json['conversions'];
  const av = isObject(conv) ? conv['arm_vendors'] : undefined;
  if (isObject(av)) {
    for (const [code, vendor] of Object.entries(av)) {
      if (typeof vendor === 'string') armVendors.set(code, vendor);
    }
  }
  return { targets, aliases, armVendors };
}

/** How the archspec table is found and parsed (the shared data-table loader does the rest). */
const ARCHSPEC_TABLE: TableSpec<Archspec> = {
  what: 'archspec data',
  vendored: 'archspec/microarchitectures.json',
  env: ARCHSPEC_ENV,
  parse: (json, file) => new Archspec(json, file),
};

/**
 * Load the microarchitecture database. The file is `file` if given, else the path in
 * `CONTAINERSPEC_ARCHSPEC` if set (a newer `microarchitectures.json`), else the vendored copy.
 * Loads are cached by absolute path for the life of the process. A missing, unreadable,
 * non-JSON or wrongly shaped file throws `FactsError` with a one-line message naming the file.
 */
export function loadArchspec(file?: string): Archspec {
  return loadTable(ARCHSPEC_TABLE, file);
}
