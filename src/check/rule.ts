/**
 * The rule interface. Each compatibility rule is one module (`rules/*.ts`) that evaluates once,
 * returning a packed outcome and whatever its report needs, and turns that one evaluation into the
 * report's checks (message, fix, evidence). `scorePair` (the matcher's hot path) and `check` (the
 * report) walk the same list of rules (`rules/index.ts`), so they cannot disagree.
 */
import type { Archspec } from '../arch/index.js';
import type { ElfInfo } from '../elf/index.js';
import type { HostFacts } from '../model/facts.js';
import type { Check, CheckId } from '../model/report.js';
import type { Needs } from '../sched/expr.js';
import type { CompiledImage, PreparedHost } from './compile.js';

/**
 * Rule outcomes packed in one small integer, so matching millions of pairs allocates nothing:
 * bits 0-1 status, bit 2 required, bits 3+ penalty (points off the score).
 */
export const PASS = 0;
export const WARN = 1;
export const UNKNOWN = 2;
export const FAIL = 3;

/** Status names by status number. */
export const STATUS = ['pass', 'warn', 'unknown', 'fail'] as const;

/**
 * Penalties (points off 100). The README's "The score" table is generated from these
 * (`scoreTable()` in score-doc.ts; a test keeps the README equal to it).
 *
 * Two rules make the score mean something: every point off is explained by the check that takes
 * it (the report's `penalties`), and knowing less never scores higher than knowing more with
 * everything passing, so an unknown fact costs at least as much as the worst outcome short of a
 * failure its rule could have had (`unknown` >= the kernel, libc, gpu and mpi rules' pass and warn
 * penalties; an unknown architecture costs `emulated`; the microarch rule's unknowns cost
 * `microarchUnused`, its worst pass).
 */
export const PENALTY = {
  /** The image runs emulated (arch warn), or the architecture is unknown (it might only run emulated). */
  emulated: 40,
  /** A required fact unknown (kernel, libc, gpu, mpi). */
  unknown: 10,
  /**
   * The share of the host CPU target's instruction-set features (archspec `features`; for families
   * archspec lists none for, such as POWER, its generations) that the image's target does not use,
   * times this: a generic image on any host past its family's baseline loses all of it, an image
   * built for the host's exact target none. The same share costs the same in every CPU family.
   */
  microarchUnused: 20,
  /** GPU only under CUDA minor-version compatibility. */
  minorVersionCuda: 10,
  /** No host MPI that can stand in for an MPI image's (none, another ABI family or series, older): its own MPI runs within one node. */
  noHostMpi: 5,
  /** Host MPI of the same ABI from another implementation. */
  crossImplementationMpi: 5,
  /** Per fact that drifted since the last successful run, at most `provenanceMax`. */
  provenanceDrift: 5,
  provenanceMax: 25,
} as const;

/** Pack an outcome. */
export function pack(status: number, required: boolean, penalty = 0): number {
  return status | (required ? 4 : 0) | (penalty << 3);
}
/** Status bits of an outcome. */
export const statusOf = (o: number): number => o & 3;
/** Required bit of an outcome. */
export const requiredOf = (o: number): boolean => (o & 4) !== 0;
/** Penalty of an outcome. */
export const penaltyOf = (o: number): number => o >>> 3;

/** Rank outcomes: pass best, then warn, unknown, fail; lower penalty better. */
export function better(a: number, b: number): boolean {
  const sa = statusOf(a);
  const sb = statusOf(b);
  return sa !== sb ? sa < sb : penaltyOf(a) < penaltyOf(b);
}

/** A host library to bind-mount into the image, read once (by `check`) before the rules run. */
export interface BoundLibrary {
  /** The library on the host. */
  path: string;
  /** Where it is bound in the image (`--bind SRC:DST`; SRC when no DST is given). */
  dst: string;
  elf: ElfInfo;
  /** The host directory it was found in, when `--bind` named a directory. */
  dir: string | null;
}

/** What the rules may consult beyond the image and the host. */
export interface RuleContext {
  readonly spec: Archspec;
  /** Host libraries asked about with `--bind`; null when none were. */
  readonly binds: readonly BoundLibrary[] | null;
  /** Host facts recorded with earlier successful runs (oldest first); null when there is no history. */
  readonly history: readonly ProvenanceFacts[] | null;
  /** `ch-run --version` on the host judged, for the provenance rule; undefined when not asked. */
  readonly charliecloud?: string | null | undefined;
}

/**
 * Host facts of an earlier run, as the provenance rule reads them: the host facts, plus the
 * Charliecloud version the run used when it was recorded (a Producer row has it; a facts file does not).
 */
export type ProvenanceFacts = HostFacts & { charliecloudVersion?: string | null | undefined };

/** One evaluation: the packed outcome, and (in subtypes) what the report needs to explain it. */
export interface Evaluation {
  readonly outcome: number;
}

/** One compatibility rule. */
export interface Rule<E extends Evaluation = Evaluation> {
  readonly id: CheckId;
  /** Whether the rule takes part for this context (default: always). */
  applies?(ctx: RuleContext): boolean;
  /** Evaluate once: the outcome and everything the report needs to explain it. */
  evaluate(ci: CompiledImage, ph: PreparedHost, ctx: RuleContext): E;
  /**
   * The matcher's hot path: `evaluate(...).outcome`, without keeping the explanation. No allocation
   * per pair: shared constants, or the outcome (a number, not the explanation) cached per host
   * profile on the compiled image (`memoOf`). Written out in each rule: a shared caching wrapper would
   * give the JIT one call site for every rule's inputs, which it cannot inline.
   */
  outcome(ci: CompiledImage, ph: PreparedHost, ctx: RuleContext): number;
  /** The report's checks from that one evaluation: message, fix and evidence, without evaluating again. */
  report(ev: E, ci: CompiledImage, ph: PreparedHost, ctx: RuleContext): Check[];
  /**
   * Scheduler node features (`src/sched/constraint.ts`): the features this host offers that the
   * rule's {@link constraint} is written in. Names without a prefix, `[a-z0-9_]`, stable (the
   * README lists them). Rules that look at the image alone offer none.
   */
  features?(ph: PreparedHost, ctx: RuleContext): readonly string[];
  /**
   * What a host must offer (in the features of {@link features}) for this rule to neither fail
   * nor leave the verdict unknown. Exact together with the arch rule's needs (a rule may assume the
   * image's architecture runs on the host, natively or emulated); what no feature can express is a
   * note, left out of the expression, so the expression then selects more hosts than pass.
   */
  constraint?(ci: CompiledImage, ctx: RuleContext): Needs;
}

/** Whether an outcome lets the verdict be "compatible": not a required fail, not a required unknown. */
export const passes = (o: number): boolean => !requiredOf(o) || (o & 3) < UNKNOWN;

/** A shared evaluation for an outcome that needs no detail (no allocation on the hot path). */
export function constant(status: number, required: boolean, penalty = 0): Evaluation {
  return Object.freeze({ outcome: pack(status, required, penalty) });
}

let slots = 0;
/** A memo slot on compiled images for one rule's per-host-profile cache (allocated once per rule module). */
export function memoSlot(): number {
  return slots++;
}

/** The cache of slot `slot` on a compiled image: outcomes by host profile id. */
export function memoOf(ci: CompiledImage, slot: number): number[] {
  let m = ci.memo[slot];
  if (m === undefined) ci.memo[slot] = m = [];
  return m;
}

const reasons = new WeakMap<Check, string>();

/** Why a check takes its points off the score (the report's `penalties`); its message when the rule gave no other reason. */
export function penaltyReason(c: Check): string {
  return reasons.get(c) ?? c.message;
}

/** Build one check of a report from an outcome; `reason` says why it takes points off, when its message does not. */
export function makeCheck(
  id: CheckId,
  outcome: number,
  message: string,
  host: unknown,
  image: unknown,
  fix: string | undefined,
  evidence: Check['evidence'] = [],
  reason?: string,
): Check {
  const c: Check = { id, status: STATUS[statusOf(outcome)]!, required: requiredOf(outcome), message, penalty: penaltyOf(outcome), host, image, evidence };
  if (fix && c.status !== 'pass') c.fix = fix;
  if (reason && c.penalty > 0) reasons.set(c, reason);
  return c;
}

/** `linux/arch[/variant]`, or `unknown`. */
export const platformName = (a: string | null, v: string | null): string => (a ? `linux/${a}${v ? `/${v}` : ''}` : 'unknown');
