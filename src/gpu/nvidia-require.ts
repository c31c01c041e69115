/**
 * `NVIDIA_REQUIRE_*` image requirements judged exactly as the NVIDIA container
 * runtime hook judges them, against host GPU facts.
 *
 * Two programs take part, and this module follows both sources:
 * - nvidia-container-toolkit (`internal/config/image/cuda_image.go`, `CUDA.GetRequirements`)
 *   collects the requirement strings, and `cmd/nvidia-container-runtime-hook`
 *   passes each one to nvidia-container-cli as its own `--require=VALUE`
 *   (`main.go`, `doPrestart`);
 * - libnvidia-container (`src/cli/dsl.c`, `dsl_evaluate` / `evaluate_rule` /
 *   `dsl_compare_version` / `dsl_compare_string`; rules in `src/cli/configure.c`)
 *   evaluates each string.
 *
 * ## Which strings (nvidia-container-toolkit, `CUDA.GetRequirements`)
 * - Every variable whose name starts with `NVIDIA_REQUIRE_` is a requirement, except
 *   names starting with `NVIDIA_REQUIRE_JETPACK` (Jetson), and all are ANDed. An
 *   empty value is still passed (`--require=`), and it holds; values made only of
 *   spaces and commas hold the same way, so they are left out of `requirements`.
 * - A legacy image (non-empty `CUDA_VERSION`, absent or empty `NVIDIA_REQUIRE_CUDA`)
 *   also requires `cuda>=MAJOR.MINOR`, taken from `CUDA_VERSION` with
 *   Masterminds/semver v3 `NewVersion` (coercing mode: an optional `v`, then one to
 *   three dot-separated numbers, optional `-prerelease` and `+build`; `12` is 12.0,
 *   `v11.6` is 11.6; a leading or trailing space, a fourth part (`11.2.2.1`), `V12`
 *   or `latest` are not versions) and `parseMajorMinorVersion` (MAJOR and MINOR must
 *   fit in 32 bits). A `CUDA_VERSION` it rejects makes the hook panic with "failed to
 *   get requirements", whatever the host.
 * - `NVIDIA_DISABLE_REQUIRE` disables everything (including the legacy parse) when Go's
 *   `strconv.ParseBool` reads it as true: `1`, `t`, `T`, `true`, `TRUE`, `True`; any other
 *   value (`yes`, `on`, ` true`, empty) leaves the checks on. (The host-side
 *   `disable-require` setting of the toolkit config is not an image fact and is not modelled.)
 * - nvidia-container-cli keeps at most 32 `--require` options (`struct context.reqs[32]`
 *   in `src/cli/cli.h`); more make it exit with "input error: too many requirements".
 *
 * ## How one string is judged (libnvidia-container, `dsl_evaluate`)
 * - The string is cut at every single ASCII space (`strsep(" ")`); empty pieces
 *   (doubled, leading, trailing spaces) are skipped. A tab, newline or any other
 *   whitespace is NOT a separator: it stays inside its token.
 * - Alternatives are tried left to right, and the first one whose constraints all hold
 *   ends the evaluation with success: later alternatives are never parsed.
 * - Inside an alternative, tokens are cut at commas (empty ones skipped) and evaluated
 *   left to right; the first one that is false ends the alternative (the rest of it is
 *   never parsed) and the next alternative is tried.
 * - An alternative made only of commas (`,`) ends the evaluation with the result so far:
 *   success when it is the first alternative with anything in it, "unsatisfied" after a
 *   failed one. Everything after it is never read (kept in {@link Requirement.unreachable}).
 * - When every alternative fails: "unsatisfied condition: <text up to the first space>"
 *   (with ", please update your driver to a newer version, or use an earlier cuda
 *   container" when that text starts with `cuda>=`; older releases omit that advice).
 * - A token is parsed only when reached (`evaluate_rule`): a name (no `<>=!` in it, not
 *   empty), a maximal run of `<>=!` that is one of `=`, `!=`, `<`, `<=`, `>`, `>=` (the
 *   C code compares with `strncmp` over the run's length, so a lone `!` means `!=`),
 *   and a non-empty value. The name is `cuda`, `driver`, `arch` or `brand`, in any ASCII
 *   case. `brand` takes `=` and `!=` only, compared case-insensitively (ASCII) with any
 *   value; `cuda`, `driver` and `arch` values must be digits and dots, not starting with
 *   a dot, and compare as integer components (runs of dots are one separator; missing
 *   or trailing components are 0, so `driver<471` admits 470.82.01 and `12.4` == `12.4.0`),
 *   a component of 2^64-1 or more being an error when the comparison reaches it. A
 *   false constraint whose "name op value" text is 128 bytes or longer is an error too
 *   (its error buffer overflows). A reached token that breaks any of these rules makes
 *   nvidia-container-cli stop at once with "invalid expression": the hook refuses the
 *   container, even if a later alternative would hold.
 * - `arch` and `brand` are judged per visible GPU (and per MIG parent), every
 *   requirement for each; this module takes the host's GPUs to be alike (one
 *   `brand`/`arch` fact).
 *
 * ## Our choices (stricter than the hook, documented)
 * - A host fact we lack (`null`: brand or compute capability unknown in a what-if,
 *   driver unknown) is unknown. The hook passes a constraint when the device reports
 *   no value at all; we instead leave the outcome `unknown` whenever it depends on the
 *   missing value, and never turn it into a pass. Each constraint on a missing fact is
 *   taken as possibly true or false independently (so `brand=a,brand=b` still reads as
 *   possibly true): this can give `unknown` where a cleverer reading would decide, but a
 *   `pass` or `fail` is what the hook does for every value the missing fact could take
 *   (a requirement that can only end "unsatisfied" or "invalid expression", whichever,
 *   is a `fail`).
 * - A malformed token is malformed whatever the host's value is (the hook always has one
 *   for a visible GPU), so reaching it is a refusal even when that fact is unknown to us.
 *   Whether it is reached can itself depend on a missing fact (an undecided alternative
 *   before it): then the result is `unknown`, and the message says so.
 * - Host facts are read leniently (`535.104.05`, `12.4`, `v12.4`); the hook reads them
 *   from the driver itself.
 *
 * Parse once with {@link parseRequirements}: it tokenises each value once; each token is
 * parsed at most once, the first time an evaluation reaches it (cached on the
 * {@link RequireToken}). Evaluate many times with {@link evaluateRequirements}, ideally
 * against a host prepared once with {@link prepareHost}.
 */

import { minimumDriverFor } from './cuda-table.js';
import type { CudaTable } from './cuda-table.js';
import { parseVersion } from '../util/version.js';
import type { VersionTuple } from '../util/version.js';

/** A host GPU property a constraint can test. */
export type GpuProperty = 'cuda' | 'driver' | 'arch' | 'brand';

/** A comparison operator of the grammar. */
export type RequireOperator = '=' | '!=' | '<' | '<=' | '>' | '>=';

/** One well-formed `<property><op><value>` constraint. */
export interface Constraint {
  readonly ok: true;
  readonly property: GpuProperty;
  /** The operator (a lone `!` as written reads as `!=`, as in nvidia-container-cli). */
  readonly op: RequireOperator;
  /** The value as written, e.g. `"12.4"` or `"tesla"`. */
  readonly value: string;
  /** The whole token as written, e.g. `"driver>=470"`. */
  readonly raw: string;
  /** For `cuda`, `driver`, `arch`: the value as integer components; null for `brand`. */
  readonly version: VersionTuple | null;
  /** For `brand`: the value ASCII-lower-cased; null otherwise. */
  readonly brand: string | null;
}

/** A token nvidia-container-cli rejects with "invalid expression" when it reaches it. */
export interface MalformedConstraint {
  readonly ok: false;
  /** The property, when the name is one of the four; else null. */
  readonly property: GpuProperty | null;
  readonly op: RequireOperator | null;
  readonly value: string | null;
  readonly raw: string;
  readonly version: null;
  readonly brand: null;
  /** Why, in words, e.g. `">>" is not an operator`. */
  readonly reason: string;
}

/** A token as parsed: well-formed or not. */
export type ParsedToken = Constraint | MalformedConstraint;

/** One comma-separated token of a requirement, parsed on first use and cached. */
export class RequireToken {
  readonly raw: string;
  #parsed: Parsed | undefined = undefined;

  constructor(raw: string) {
    this.raw = raw;
  }

  /** The token parsed as nvidia-container-cli's `evaluate_rule` would (once; cached). */
  parse(): ParsedToken {
    return (this.#parsed ??= parseToken(this.raw));
  }

  /** True once parsed (an evaluation reached it, or it was described). */
  get isParsed(): boolean {
    return this.#parsed !== undefined;
  }
}

/** One requirement: a variable's value as alternatives (OR) of tokens (AND), in hook order. */
export interface Requirement {
  /** The variable it came from, e.g. `NVIDIA_REQUIRE_CUDA`, or `CUDA_VERSION` for a legacy image. */
  readonly variable: string;
  /** The value exactly as written (for a legacy image, the derived `cuda>=MAJOR.MINOR`). */
  readonly raw: string;
  /**
   * The alternatives the hook can reach, each a non-empty list of tokens, split once
   * on single spaces and commas. Empty when the first alternative is comma-only.
   */
  readonly tokens: readonly (readonly RequireToken[])[];
  /** {@link tokens} parsed (parses every reachable token; for inspection and messages). */
  readonly alternatives: readonly (readonly ParsedToken[])[];
  /** The text from the first comma-only alternative on, which the hook never reads; '' if none. */
  readonly unreachable: string;
}

/** Result of {@link parseRequirements}. */
export interface ParsedRequirements {
  /** `NVIDIA_DISABLE_REQUIRE` is true: the toolkit checks nothing (requirements are still listed for inspection). */
  disabled: boolean;
  /** Requirements, `NVIDIA_REQUIRE_CUDA` (or legacy `CUDA_VERSION`) first, then by variable name. */
  requirements: Requirement[];
  /**
   * Problems that make the hook fail whatever the host is, one line each naming the
   * variable: a `CUDA_VERSION` the toolkit's semver parser rejects ("failed to get
   * requirements"), more than 32 requirements ("too many requirements"). Never set
   * when disabled. Malformed tokens are not here: they are judged when reached.
   */
  errors: string[];
  /** For each of `errors`, the hook's own words for it. */
  refusals: string[];
}

/**
 * What the host offers. Null or absent means unknown, and a constraint on an
 * unknown property is unknown (never a pass). A host with no GPU at all is for
 * the caller to decide before asking; to this module it is a host whose facts are unknown.
 */
export interface GpuHostFacts {
  /** Highest CUDA version the host driver supports, e.g. `"12.2"` (see `maxCudaForDriver`). */
  cuda?: string | null;
  /** Driver version, e.g. `"535.104.05"`. */
  driver?: string | null;
  /** Compute capability, e.g. `"8.0"`. */
  arch?: string | null;
  /** Brand as the toolkit names it (`tesla`, `geforce`, `nvidiartx`, ...). */
  brand?: string | null;
}

/** A version as `dsl_compare_version` walks it. */
interface DslVersion {
  /** Components; runs of dots are one separator. Huge ones are approximate here, exact in `big`. */
  readonly nums: readonly number[];
  /** Every component as a digit string without leading zeros, when one exceeds 2^53; else null. */
  readonly big: readonly string[] | null;
  /** Index of the first component >= 2^64-1 (strtoumax overflow), or -1. */
  readonly overflowAt: number;
}

/** Host facts pre-parsed by {@link prepareHost}, for evaluating many images against one host. */
export class PreparedGpuHost {
  /** Parsed values; null when unknown or unparseable. */
  readonly cuda: VersionTuple | null;
  readonly driver: VersionTuple | null;
  readonly arch: VersionTuple | null;
  /** Lower-cased brand. */
  readonly brand: string | null;
  /** The facts as given, for messages. */
  readonly facts: Readonly<GpuHostFacts>;
  /** @internal */ readonly cudaV: DslVersion | null;
  /** @internal */ readonly driverV: DslVersion | null;
  /** @internal */ readonly archV: DslVersion | null;
  /** @internal brand ASCII-lower-cased, as strcasecmp compares. */ readonly brandKey: string | null;

  constructor(facts: GpuHostFacts) {
    this.facts = { ...facts };
    this.cudaV = hostVersion(facts.cuda);
    this.driverV = hostVersion(facts.driver);
    this.archV = hostVersion(facts.arch);
    this.cuda = this.cudaV?.nums ?? null;
    this.driver = this.driverV?.nums ?? null;
    this.arch = this.archV?.nums ?? null;
    const b = facts.brand?.trim();
    this.brand = b ? b.toLowerCase() : null;
    this.brandKey = b ? asciiLower(b) : null;
  }
}

/** Result of {@link evaluateRequirements}. */
export interface RequirementsEvaluation {
  /**
   * `pass`: the hook starts the container; `fail`: it refuses it (an unmet requirement,
   * a reached malformed constraint, or one of the parse-time `errors`); `unknown`: the
   * outcome depends on host facts we lack.
   */
  status: 'pass' | 'fail' | 'unknown';
  /** Requirements that cannot hold on this host (unsatisfied, or rejected as invalid). */
  failed: Requirement[];
  /** Requirements whose outcome depends on host facts we lack. */
  undecided: Requirement[];
  /** Host properties whose absence left `undecided` requirements open. */
  missing: GpuProperty[];
  /** One line for users: what holds or fails, and why. */
  message: string;
  /** When `status` is `fail`: the hook's own words for the first reason it stops; else null. */
  refusal: string | null;
  /**
   * What that first reason is: `unsatisfied` (the host does not meet a well-formed requirement: a
   * driver or GPU matter), `malformed` (the image's requirements themselves make the hook fail); null when not failing.
   */
  refusalKind: 'unsatisfied' | 'malformed' | null;
}

/** Options for {@link evaluateRequirements} and {@link describeRequirement}. */
export interface DescribeOptions {
  /** When given, `cuda>=X` is described with the driver CUDA X needs. */
  table?: CudaTable;
}

// ---- parsing ------------------------------------------------------------------------------

const PARSEBOOL_TRUE: ReadonlySet<string> = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const PREFIX = 'NVIDIA_REQUIRE_';
const JETPACK = 'NVIDIA_REQUIRE_JETPACK';
/** `struct context.reqs[32]` in libnvidia-container `src/cli/cli.h`. */
const MAX_REQUIRES = 32;
/** `EXPR_MAX` in `src/cli/dsl.c`: the buffer for "name op value" of a false constraint. */
const EXPR_MAX = 128;
const UINTMAX_MAX = '18446744073709551615';

// Operator codes.
const EQ = 0;
const NE = 1;
const LT = 2;
const LE = 3;
const GT = 4;
const GE = 5;
const OP_TEXT: readonly RequireOperator[] = ['=', '!=', '<', '<=', '>', '>='];
/**
 * Operator runs as `evaluate_rule` matches them: the first of `= != < <= > >=` whose
 * first `strlen(run)` characters equal the run (`strncmp(ptr, op, n)`).
 */
const OP_RUN: Readonly<Record<string, number>> = { '=': EQ, '!': NE, '!=': NE, '<': LT, '<=': LE, '>': GT, '>=': GE };

// Constraint results, as bit sets of what may happen.
const R_T = 1;
const R_F = 2;
const R_E = 4;

/** Internal form of a well-formed constraint. */
interface DslConstraint extends Constraint {
  /** 0 cuda, 1 driver, 2 arch, 3 brand. */
  readonly pcode: number;
  readonly cmp: number;
  readonly dv: DslVersion | null;
  /** R_F, or R_E when a false result overflows the error buffer. */
  readonly falseResult: number;
  /** What may happen when the host value is unknown. */
  readonly unknownResult: number;
}

type Parsed = DslConstraint | MalformedConstraint;

function isOpChar(c: number): boolean {
  return c === 0x3c || c === 0x3e || c === 0x3d || c === 0x21; // < > = !
}

function asciiLower(s: string): string {
  return /[A-Z]/.test(s) ? s.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : s;
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Quote for a one-line message. */
function q(s: string): string {
  return JSON.stringify(s).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** Show as is unless it would break the line. */
function show(s: string): string {
  return /[\u0000-\u001f\u007f\u2028\u2029]/.test(s) ? q(s) : s;
}

function malformed(raw: string, property: GpuProperty | null, op: RequireOperator | null, value: string | null, reason: string): MalformedConstraint {
  return { ok: false, property, op, value, raw, version: null, brand: null, reason };
}

/** Digits and dots as `dsl_compare_version` reads them; a string is the reason it errs whatever the host value. */
function dslVersion(value: string): DslVersion | string {
  if (!/^[0-9.]*$/.test(value)) return `${q(value)} has characters other than digits and dots`;
  if (value.startsWith('.')) return `${q(value)} starts with a dot`;
  const parts = value.split('.').filter((p) => p !== '');
  const nums = new Array<number>(parts.length);
  let big: string[] | null = null;
  let overflowAt = -1;
  const norms = parts.map((p) => p.replace(/^0+(?=.)/, ''));
  for (let i = 0; i < norms.length; i++) {
    const d = norms[i] ?? '0';
    nums[i] = Number(d);
    if (d.length > 15) big = norms;
    if (overflowAt < 0 && (d.length > UINTMAX_MAX.length || (d.length === UINTMAX_MAX.length && d >= UINTMAX_MAX))) overflowAt = i;
  }
  if (overflowAt === 0) return `${parts[0] ?? ''} is too large a number (2^64-1 or more)`;
  return { nums, big, overflowAt };
}

/** Host facts are ours, read leniently: a dsl version, else the leading dotted number. */
function hostVersion(s: string | null | undefined): DslVersion | null {
  const t = s?.trim();
  if (!t) return null;
  if (/^[0-9][0-9.]*$/.test(t)) {
    const v = dslVersion(t);
    return typeof v === 'string' ? null : v;
  }
  const tuple = parseVersion(t);
  return tuple === null ? null : { nums: tuple, big: null, overflowAt: -1 };
}

/** `evaluate_rule`'s parse, then the rule's own checks that do not depend on the host value. */
function parseToken(raw: string): Parsed {
  let n = 0;
  while (n < raw.length && !isOpChar(raw.charCodeAt(n))) n++;
  if (n === 0) return malformed(raw, null, null, null, 'no property name before the operator');
  if (n === raw.length) return malformed(raw, null, null, null, 'no operator (one of = != < <= > >=)');
  let m = n;
  while (m < raw.length && isOpChar(raw.charCodeAt(m))) m++;
  const run = raw.slice(n, m);
  const cmp = OP_RUN[run];
  if (cmp === undefined) return malformed(raw, null, null, null, `${q(run)} is not an operator (one of = != < <= > >=)`);
  const op = OP_TEXT[cmp] ?? '=';
  const value = raw.slice(m);
  if (value === '') return malformed(raw, null, op, null, `no value after ${q(run)}`);
  const name = raw.slice(0, n);
  const key = asciiLower(name);
  const pcode = key === 'cuda' ? 0 : key === 'driver' ? 1 : key === 'arch' ? 2 : key === 'brand' ? 3 : -1;
  if (pcode < 0) return malformed(raw, null, op, value, `unknown property ${q(name)} (nvidia-container-cli knows cuda, driver, arch and brand)`);
  const property: GpuProperty = pcode === 0 ? 'cuda' : pcode === 1 ? 'driver' : pcode === 2 ? 'arch' : 'brand';
  // snprintf(buf, EXPR_MAX, "%s %s %s", name, op, value) >= EXPR_MAX, only when the constraint is false.
  const falseResult = utf8Length(name) + op.length + utf8Length(value) + 2 >= EXPR_MAX ? R_E : R_F;
  if (pcode === 3) {
    if (cmp !== EQ && cmp !== NE) return malformed(raw, property, op, value, `brand compares only with = and != (not ${op})`);
    return {
      ok: true, property, op, value, raw, version: null, brand: asciiLower(value),
      pcode, cmp, dv: null, falseResult, unknownResult: R_T | falseResult,
    };
  }
  const dv = dslVersion(value);
  if (typeof dv === 'string') return malformed(raw, property, op, value, `${property} value ${dv}`);
  let unknownResult = R_T | R_F;
  if (dv.overflowAt < 0 && dv.nums.every((x) => x === 0)) {
    if (cmp === GE) unknownResult = R_T; // every version is >= 0
    else if (cmp === LT) unknownResult = R_F; // none is < 0
  }
  if (dv.overflowAt > 0) unknownResult |= R_E;
  if (falseResult === R_E && (unknownResult & R_F) !== 0) unknownResult = (unknownResult & ~R_F) | R_E;
  return { ok: true, property, op, value, raw, version: dv.nums, brand: null, pcode, cmp, dv, falseResult, unknownResult };
}

class RequirementImpl implements Requirement {
  readonly variable: string;
  readonly raw: string;
  readonly tokens: readonly (readonly RequireToken[])[];
  readonly unreachable: string;
  #alternatives: readonly (readonly ParsedToken[])[] | undefined = undefined;

  constructor(variable: string, raw: string) {
    this.variable = variable;
    this.raw = raw;
    // strsep(" ") then strsep(","), empty pieces skipped; a comma-only alternative ends the evaluation.
    const tokens: RequireToken[][] = [];
    let unreachable = '';
    const pieces = raw.split(' ');
    for (let i = 0; i < pieces.length; i++) {
      const alt = pieces[i] ?? '';
      if (alt === '') continue;
      const toks: RequireToken[] = [];
      for (const t of alt.split(',')) if (t !== '') toks.push(new RequireToken(t));
      if (toks.length === 0) {
        unreachable = pieces.slice(i).join(' ');
        break;
      }
      tokens.push(toks);
    }
    this.tokens = tokens;
    this.unreachable = unreachable;
  }

  get alternatives(): readonly (readonly ParsedToken[])[] {
    return (this.#alternatives ??= this.tokens.map((alt) => alt.map((t) => t.parse())));
  }
}

/** `parseMajorMinorVersion` of nvidia-container-toolkit over Masterminds/semver v3 `NewVersion` (coercing). */
const LOOSE_SEMVER = /^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?(\+([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?$/;
const UINT64 = 18446744073709551615n;
const UINT32 = 4294967295n;

type LegacyParse = { ok: true; majorMinor: string } | { ok: false; goError: string; why: string };

function legacyMajorMinor(v: string): LegacyParse {
  const semverError = (e: string, why: string): LegacyParse => ({ ok: false, goError: `invalid version string: ${e}`, why });
  if (utf8Length(v) > 256) return semverError('version string is too long (max 256 bytes)', 'it is longer than 256 bytes');
  const m = LOOSE_SEMVER.exec(v);
  if (m === null) {
    return semverError('invalid semantic version', 'it is not a semantic version of at most three parts (MAJOR[.MINOR[.PATCH]][-PRE][+BUILD], optional leading v)');
  }
  const seg = [m[1] ?? '0', (m[2] ?? '.0').slice(1), (m[3] ?? '.0').slice(1)].map((s) => BigInt(s));
  for (let i = 0; i < 3; i++) {
    if ((seg[i] ?? 0n) > UINT64) {
      const s = i === 0 ? m[1] : (i === 1 ? m[2] : m[3])?.slice(1);
      return semverError(`error parsing version segment: strconv.ParseUint: parsing ${q(s ?? '')}: value out of range`, `${s ?? ''} does not fit in 64 bits`);
    }
  }
  for (const p of (m[5] ?? '').split('.')) {
    if (/^[0-9]{2,}$/.test(p) && p.startsWith('0')) return semverError('version segment starts with 0', `its pre-release part ${p} has a leading zero`);
  }
  const [major = 0n, minor = 0n] = seg;
  if (major > UINT32) return { ok: false, goError: 'invalid major version', why: 'its major version does not fit in 32 bits' };
  if (minor > UINT32) return { ok: false, goError: 'invalid minor version', why: 'its minor version does not fit in 32 bits' };
  return { ok: true, majorMinor: `${major}.${minor}` };
}

/**
 * Read the `NVIDIA_REQUIRE_*`, `NVIDIA_DISABLE_REQUIRE` and `CUDA_VERSION`
 * variables of an image's environment (see the module comment for the rules).
 * Never throws. Tokenises every value once; tokens are parsed when first reached.
 */
export function parseRequirements(env: Readonly<Record<string, string>>): ParsedRequirements {
  const errors: string[] = [];
  const refusals: string[] = [];
  const requirements: Requirement[] = [];
  const disabledValue = env['NVIDIA_DISABLE_REQUIRE'];
  const disabled = disabledValue !== undefined && PARSEBOOL_TRUE.has(disabledValue);

  const names = Object.keys(env)
    .filter((k) => k.startsWith(PREFIX) && !k.startsWith(JETPACK))
    .sort((a, b) => (a === b ? 0 : a === 'NVIDIA_REQUIRE_CUDA' ? -1 : b === 'NVIDIA_REQUIRE_CUDA' ? 1 : a < b ? -1 : 1));

  const cudaVersion = env['CUDA_VERSION'] ?? '';
  const legacy = cudaVersion !== '' && (env['NVIDIA_REQUIRE_CUDA'] ?? '') === '';
  if (legacy) {
    const r = legacyMajorMinor(cudaVersion);
    if (r.ok) requirements.push(new RequirementImpl('CUDA_VERSION', `cuda>=${r.majorMinor}`));
    else if (!disabled) {
      // container_config.go: log.Panicln("failed to get requirements", err), err wrapped by
      // GetRequirements ("failed to get version: %v") and legacyVersion ("invalid CUDA version %v: %v").
      const hook = (v: string) => `failed to get requirements failed to get version: invalid CUDA version ${v}: ${r.goError}`;
      errors.push(
        `CUDA_VERSION: the toolkit cannot derive cuda>=MAJOR.MINOR from ${q(cudaVersion)}: ${r.why}; ` +
          `nvidia-container-runtime-hook fails with ${q(hook(cudaVersion))}`,
      );
      refusals.push(`nvidia-container-runtime-hook: ${hook(show(cudaVersion))}`);
    }
  }
  const count = names.length + (legacy ? 1 : 0);
  if (!disabled && count > MAX_REQUIRES) {
    errors.push(
      `NVIDIA_REQUIRE_*: the hook passes ${count} --require options (${names.length} NVIDIA_REQUIRE_* variables` +
        `${legacy ? ' and the legacy CUDA_VERSION' : ''}), more than the ${MAX_REQUIRES} nvidia-container-cli accepts: ` +
        `it fails with "input error: too many requirements"`,
    );
    refusals.push('nvidia-container-cli: input error: too many requirements');
  }
  for (const name of names) {
    const value = env[name] ?? '';
    if (/^[ ,]*$/.test(value)) continue; // holds: nothing to check
    requirements.push(new RequirementImpl(name, value));
  }
  return { disabled, requirements, errors, refusals };
}

/** Turn host facts into pre-parsed values once, for evaluating many images. */
export function prepareHost(host: GpuHostFacts): PreparedGpuHost {
  return new PreparedGpuHost(host);
}

// ---- evaluation ---------------------------------------------------------------------------

// Requirement outcomes, as bit sets of what may happen.
const O_PASS = 1;
const O_UNSAT = 2;
const O_REFUSE = 4;
const CMP_ERR = 2;

function cmpDigits(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `dsl_compare_version(host, ., value)` as -1/0/1, or CMP_ERR. */
function dslCompare(h: DslVersion, c: DslVersion): number {
  const hn = h.nums;
  const cn = c.nums;
  const n = hn.length < cn.length ? hn.length : cn.length;
  for (let i = 0; i < n; i++) {
    if (i === h.overflowAt || i === c.overflowAt) return CMP_ERR;
    const a = hn[i] as number;
    const b = cn[i] as number;
    if (h.big === null && c.big === null) {
      if (a !== b) return a < b ? -1 : 1;
    } else {
      const d = cmpDigits(h.big ? (h.big[i] as string) : String(a), c.big ? (c.big[i] as string) : String(b));
      if (d !== 0) return d;
    }
  }
  for (let i = n; i < hn.length; i++) if ((hn[i] as number) !== 0) return 1;
  for (let i = n; i < cn.length; i++) if ((cn[i] as number) !== 0) return -1;
  return 0;
}

function holds(cmp: number, d: number): boolean {
  switch (cmp) {
    case EQ: return d === 0;
    case NE: return d !== 0;
    case LT: return d < 0;
    case LE: return d <= 0;
    case GT: return d > 0;
    default: return d >= 0;
  }
}

/** What may happen when the hook reaches this token on this host (bit set of R_T, R_F, R_E). */
function tokenResult(tok: RequireToken, h: PreparedGpuHost): number {
  const p = tok.parse() as Parsed;
  if (!p.ok) return R_E;
  if (p.pcode === 3) {
    const hb = h.brandKey;
    if (hb === null) return p.unknownResult;
    return (hb === p.brand) === (p.cmp === EQ) ? R_T : p.falseResult;
  }
  const hv = p.pcode === 0 ? h.cudaV : p.pcode === 1 ? h.driverV : h.archV;
  if (hv === null || p.dv === null) return p.unknownResult;
  const d = dslCompare(hv, p.dv);
  if (d === CMP_ERR) return R_E;
  return holds(p.cmp, d) ? R_T : p.falseResult;
}

/** What an evaluation saw, for messages. */
interface Trace {
  /** Alternatives that may end the evaluation with success. */
  passAlts: number[];
  /** Tokens the hook may reach and reject, in hook order. */
  refused: RequireToken[];
  /** Unknown host properties that left a reached constraint open. */
  lacking: GpuProperty[];
}

/**
 * `dsl_evaluate` over what may happen: returns the bit set of outcomes (O_PASS,
 * O_UNSAT, O_REFUSE). Allocation-free without a trace.
 */
function runRequirement(req: Requirement, h: PreparedGpuHost, tr: Trace | null): number {
  const alts = req.tokens;
  if (alts.length === 0) return O_PASS; // the first alternative is comma-only: success
  let mask = 0;
  for (let a = 0; a < alts.length; a++) {
    const alt = alts[a] as readonly RequireToken[];
    let cont = true;
    let altFails = false;
    for (let i = 0; i < alt.length; i++) {
      const tok = alt[i] as RequireToken;
      const r = tokenResult(tok, h);
      if (tr !== null) {
        if ((r & (r - 1)) !== 0) {
          const prop = tok.parse().property;
          if (prop !== null && !tr.lacking.includes(prop)) tr.lacking.push(prop);
        }
        if ((r & R_E) !== 0 && !tr.refused.includes(tok)) tr.refused.push(tok);
      }
      if ((r & R_E) !== 0) mask |= O_REFUSE;
      if ((r & R_F) !== 0) altFails = true;
      if ((r & R_T) === 0) {
        cont = false;
        break;
      }
    }
    if (cont) {
      mask |= O_PASS;
      if (tr !== null) tr.passAlts.push(a);
    }
    if (!altFails) return mask; // no path goes on to the next alternative
  }
  return mask | O_UNSAT;
}

function trace(req: Requirement, h: PreparedGpuHost): Trace {
  const tr: Trace = { passAlts: [], refused: [], lacking: [] };
  runRequirement(req, h, tr);
  return tr;
}

// ---- human descriptions -------------------------------------------------------------------

const PROPERTY_NAME: Record<GpuProperty, string> = {
  cuda: 'CUDA',
  driver: 'driver',
  arch: 'compute capability',
  brand: 'GPU brand',
};

function describeConstraint(c: Constraint, table: CudaTable | undefined): string {
  if (c.property === 'brand') return c.op === '=' ? `brand ${show(c.value)}` : `brand other than ${show(c.value)}`;
  let s = `${PROPERTY_NAME[c.property]} ${c.op} ${c.value}`;
  if (table && c.property === 'cuda' && (c.op === '>=' || c.op === '=')) {
    const d = minimumDriverFor(c.value, table);
    if (d !== null) s += ` (driver >= ${d})`;
  }
  return s;
}

/** Describe tokens other than a grouped brand; `driver>=N,driver<N+1` reads as `driver N.x`. */
function describeRest(cs: readonly ParsedToken[], table: CudaTable | undefined): string {
  const parts: string[] = [];
  const used = new Set<number>();
  for (let i = 0; i < cs.length; i++) {
    if (used.has(i)) continue;
    const c = cs[i];
    if (c === undefined) continue;
    if (!c.ok) {
      parts.push(`${q(c.raw)} (malformed)`);
      continue;
    }
    if (c.op === '>=' && c.version !== null && c.version.length === 1) {
      const n = c.version[0] ?? 0;
      const j = cs.findIndex(
        (d, k) => k > i && !used.has(k) && d.ok && d.property === c.property && d.op === '<' && d.version !== null &&
          d.version.length === 1 && d.version[0] === n + 1,
      );
      if (j >= 0) {
        used.add(j);
        parts.push(`${PROPERTY_NAME[c.property]} ${n}.x`);
        continue;
      }
    }
    parts.push(describeConstraint(c, table));
  }
  return parts.join(' and ');
}

function joinOr(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

/** Describe alternatives, grouping those that differ only in one `brand=` constraint. */
function describeAlternatives(alts: readonly (readonly ParsedToken[])[], table: CudaTable | undefined): string {
  const groups = new Map<string, string[] | null>(); // rest -> brands (null: no single brand= constraint)
  const order: string[] = [];
  for (const alt of alts) {
    const brandEq = alt.filter((c) => c.ok && c.property === 'brand' && c.op === '=');
    const single = brandEq.length === 1 ? brandEq[0] : undefined;
    const rest = describeRest(single ? alt.filter((c) => c !== single) : alt, table);
    const key = single ? `b:${rest}` : `n:${rest}`;
    if (!groups.has(key)) {
      groups.set(key, single ? [] : null);
      order.push(key);
    }
    if (single?.value != null) groups.get(key)?.push(show(single.value));
  }
  const out: string[] = [];
  for (const key of order) {
    const rest = key.slice(2);
    const brands = groups.get(key);
    if (brands) out.push(rest === '' ? `brand ${joinOr(brands)}` : `${rest} with brand ${joinOr(brands)}`);
    else out.push(rest);
  }
  return out.join('; or ');
}

const describeCache = new WeakMap<Requirement, string>();
const describeCacheByTable = new WeakMap<CudaTable, WeakMap<Requirement, string>>();

/**
 * A requirement in words, e.g. for `cuda>=12.4 brand=tesla,driver>=535,driver<536`:
 * `CUDA >= 12.4; or driver 535.x with brand tesla` (with a table:
 * `CUDA >= 12.4 (driver >= 550.54.14); or ...`). Alternatives that differ only in
 * their `brand=` are listed once with all their brands; malformed tokens are quoted
 * and marked; alternatives the hook can never reach are left out. Cached per requirement.
 */
export function describeRequirement(req: Requirement, options: DescribeOptions = {}): string {
  const table = options.table;
  let cache = describeCache;
  if (table) {
    let c = describeCacheByTable.get(table);
    if (!c) describeCacheByTable.set(table, (c = new WeakMap()));
    cache = c;
  }
  let s = cache.get(req);
  if (s === undefined) {
    s = req.tokens.length === 0 ? 'nothing (its first alternative is empty)' : describeAlternatives(req.alternatives, table);
    cache.set(req, s);
  }
  return s;
}

/** Per-requirement facts for messages, computed once. */
interface RequirementInfo {
  /** Each alternative as written, e.g. `brand=tesla,driver>=535,driver<536`. */
  readonly altText: readonly string[];
  /** Properties the requirement tests, in display order (parses every reachable token: for failure messages only). */
  properties: readonly GpuProperty[] | null;
  /** Descriptions of open alternative sets, keyed by table use and their indices. */
  readonly openText: Map<string, string>;
  /** The hook's "unsatisfied condition" line for it. */
  readonly unsatisfied: string;
}

const infoCache = new WeakMap<Requirement, RequirementInfo>();
const DISPLAY_ORDER: readonly GpuProperty[] = ['cuda', 'driver', 'brand', 'arch'];

function infoOf(req: Requirement): RequirementInfo {
  let info = infoCache.get(req);
  if (info === undefined) {
    // dsl_evaluate: strsep(&predicate_format, " ") of the whole value.
    const first = req.raw.split(' ')[0] ?? '';
    info = {
      altText: req.tokens.map((alt) => show(alt.map((t) => t.raw).join(','))),
      properties: null,
      openText: new Map(),
      unsatisfied:
        `nvidia-container-cli: requirement error: unsatisfied condition: ${show(first)}` +
        (first.startsWith('cuda>=') ? ', please update your driver to a newer version, or use an earlier cuda container' : ''),
    };
    infoCache.set(req, info);
  }
  return info;
}

function hostSummary(req: Requirement, h: PreparedGpuHost): string {
  const info = infoOf(req);
  if (info.properties === null) {
    const seen = new Set<GpuProperty>();
    for (const alt of req.alternatives) for (const c of alt) if (c.property !== null) seen.add(c.property);
    info.properties = DISPLAY_ORDER.filter((p) => seen.has(p));
  }
  let s = '';
  for (const p of info.properties) s += `${s ? ', ' : ''}${PROPERTY_NAME[p]} ${show(h.facts[p] || 'unknown')}`;
  return s || 'no relevant facts';
}

function lackingText(lacking: readonly GpuProperty[]): string {
  if (lacking.length === 0) return 'some host facts are unknown';
  return `the host's ${joinOr(lacking.map((p) => PROPERTY_NAME[p]))} ${lacking.length > 1 ? 'are' : 'is'} unknown`;
}

function refusedText(tr: Trace): string {
  const toks = tr.refused.map((t) => q(t.raw));
  const reasons = tr.refused.map((t) => {
    const p = t.parse() as Parsed;
    if (!p.ok) return p.reason;
    const why: string[] = [];
    if (p.dv !== null && p.dv.overflowAt > 0) why.push(`the comparison may reach a component of 2^64-1 or more in ${q(p.value)}`);
    if (p.falseResult === R_E) why.push(`when false, "${p.property} ${p.op} ${p.value}" is ${EXPR_MAX} bytes or longer and overflows the error buffer`);
    return why.join(', and ');
  });
  return `${joinOr(toks)}, which it rejects ("requirement error: invalid expression": ${reasons.join('; ')})`;
}

function openText(req: Requirement, tr: Trace, table: CudaTable | undefined): string {
  const info = infoOf(req);
  const key = `${table ? 't' : 'n'}:${tr.passAlts.join(',')}`;
  let open = info.openText.get(key);
  if (open === undefined) {
    const alts = req.alternatives;
    open = describeAlternatives(tr.passAlts.map((i) => alts[i] ?? []), table);
    if (info.openText.size < 64) info.openText.set(key, open);
  }
  return open;
}

function isParsedRequirements(x: ParsedRequirements | readonly Requirement[]): x is ParsedRequirements {
  return !Array.isArray(x);
}

/**
 * Evaluate requirements against a host, as the NVIDIA hook would (see the module comment).
 *
 * A requirement passes when the hook's walk over its alternatives can only end in
 * success, fails when it can only end in "unsatisfied condition" or "invalid
 * expression", and is undecided otherwise (some host fact we lack decides it); the
 * requirements combine with AND. Given the whole {@link ParsedRequirements}, a
 * disabled set passes (the toolkit checks nothing), and parse-time `errors` fail
 * whatever the host is.
 *
 * Cost: about a microsecond per call with a prepared host; descriptions used in
 * messages are cached per requirement, tokens are parsed once.
 *
 * @param host facts (`host.cuda` is the highest CUDA the driver supports: compute it
 *   with `maxCudaForDriver`), or a {@link PreparedGpuHost} to skip re-parsing them in loops.
 */
export function evaluateRequirements(
  reqs: ParsedRequirements | readonly Requirement[],
  host: GpuHostFacts | PreparedGpuHost,
  options: DescribeOptions = {},
): RequirementsEvaluation {
  const h = host instanceof PreparedGpuHost ? host : new PreparedGpuHost(host);
  let list: readonly Requirement[];
  let errors: readonly string[] = [];
  let refusals: readonly string[] = [];
  if (isParsedRequirements(reqs)) {
    if (reqs.disabled) {
      return {
        status: 'pass',
        failed: [],
        undecided: [],
        missing: [],
        message: 'NVIDIA_DISABLE_REQUIRE is set: the NVIDIA container toolkit skips requirement checks',
        refusal: null,
        refusalKind: null,
      };
    }
    list = reqs.requirements;
    errors = reqs.errors;
    refusals = reqs.refusals ?? [];
  } else list = reqs;

  let failed: Requirement[] | null = null;
  let undecided: Requirement[] | null = null;
  for (const req of list) {
    const m = runRequirement(req, h, null);
    if ((m & O_PASS) === 0) (failed ??= []).push(req);
    else if (m !== O_PASS) (undecided ??= []).push(req);
  }

  const status: RequirementsEvaluation['status'] = failed === null && undecided === null && errors.length === 0 ? 'pass' : failed !== null || errors.length > 0 ? 'fail' : 'unknown';
  return new Evaluated(status, failed ?? [], undecided ?? [], () => explain(list, errors, refusals, failed, undecided, h, options));
}

/**
 * An evaluation whose status is known at once (the matcher's hot path needs nothing else) and whose
 * explanation (message, missing facts, the hook's refusal) is rendered from the same evaluation when
 * first asked for, once.
 */
class Evaluated implements RequirementsEvaluation {
  #explained: Explanation | null = null;
  readonly #render: () => Explanation;
  constructor(
    readonly status: RequirementsEvaluation['status'],
    readonly failed: Requirement[],
    readonly undecided: Requirement[],
    render: () => Explanation,
  ) {
    this.#render = render;
  }
  private get explained(): Explanation {
    return (this.#explained ??= this.#render());
  }
  get missing(): GpuProperty[] {
    return this.explained.missing;
  }
  get message(): string {
    return this.explained.message;
  }
  get refusal(): string | null {
    return this.explained.refusal;
  }
  get refusalKind(): 'unsatisfied' | 'malformed' | null {
    return this.explained.refusalKind;
  }
  toJSON(): RequirementsEvaluation {
    return { status: this.status, failed: this.failed, undecided: this.undecided, missing: this.missing, message: this.message, refusal: this.refusal, refusalKind: this.refusalKind };
  }
}

/** The words of an evaluation. */
type Explanation = Pick<RequirementsEvaluation, 'missing' | 'message' | 'refusal' | 'refusalKind'>;

/** Render the explanation of an evaluation whose outcome {@link evaluateRequirements} found. */
function explain(
  list: readonly Requirement[],
  errors: readonly string[],
  refusals: readonly string[],
  failed: Requirement[] | null,
  undecided: Requirement[] | null,
  h: PreparedGpuHost,
  options: DescribeOptions,
): Explanation {
  if (failed === null && undecided === null && errors.length === 0) {
    let message = '';
    for (const req of list) {
      let part: string;
      if (req.tokens.length === 0) {
        part = `${req.variable} is met (nvidia-container-cli stops with success at its empty first alternative, before ${q(req.unreachable)})`;
      } else {
        const tr = trace(req, h);
        const texts = tr.passAlts.map((i) => infoOf(req).altText[i] ?? '');
        part = texts.length === 1
          ? `${req.variable} is met (${texts[0] ?? ''})`
          : `${req.variable} is met (${joinOr(texts)}, whichever the host's unknown ${joinOr(tr.lacking.map((p) => PROPERTY_NAME[p]))} allows)`;
      }
      message += `${message ? '; ' : ''}${part}`;
    }
    return { missing: [], message: list.length === 0 ? 'the image sets no NVIDIA_REQUIRE_* requirements' : message, refusal: null, refusalKind: null };
  }

  let message = '';
  const add = (part: string): void => {
    message += message ? `. ${part}` : part;
  };
  let refusal: string | null = refusals[0] ?? (errors.length > 0 ? (errors[0] ?? null) : null);
  let refusalKind: 'unsatisfied' | 'malformed' | null = refusal !== null ? 'malformed' : null;
  for (const e of errors) add(e);
  for (const req of failed ?? []) {
    const tr = trace(req, h);
    const m = runRequirement(req, h, null);
    const info = infoOf(req);
    if (m === O_REFUSE) {
      add(`${req.variable} makes the hook refuse the container: nvidia-container-cli reaches ${refusedText(tr)}`);
      if (refusal === null) {
        refusal = 'nvidia-container-cli: requirement error: invalid expression';
        refusalKind = 'malformed';
      }
    } else {
      let part = `${req.variable} is not met: this host has ${hostSummary(req, h)}; the image needs ${describeRequirement(req, options)}`;
      if (req.unreachable !== '') part += ` (nvidia-container-cli stops at the empty alternative and never reads ${q(req.unreachable)})`;
      if ((m & O_REFUSE) !== 0) {
        part += `; and as ${lackingText(tr.lacking)}, nvidia-container-cli may instead reach ${refusedText(tr)}`;
      }
      add(part);
      if (refusal === null) {
        refusal = (m & O_REFUSE) !== 0 ? `${info.unsatisfied} (or: requirement error: invalid expression)` : info.unsatisfied;
        refusalKind = 'unsatisfied';
      }
    }
  }
  const missing: GpuProperty[] = [];
  for (const req of undecided ?? []) {
    const tr = trace(req, h);
    for (const p of tr.lacking) if (!missing.includes(p)) missing.push(p);
    const open = openText(req, tr, options.table);
    const m = runRequirement(req, h, null);
    if ((m & O_REFUSE) === 0) add(`${req.variable} cannot be decided: ${lackingText(tr.lacking)}, and it holds only with ${open}`);
    else {
      add(
        `${req.variable} cannot be decided: ${lackingText(tr.lacking)}, and that decides whether nvidia-container-cli ` +
          `stops at an alternative that holds (${open}) or reaches ${refusedText(tr)}`,
      );
    }
  }
  const fails = failed !== null || errors.length > 0;
  return { missing, message, refusal: fails ? refusal : null, refusalKind: fails ? refusalKind : null };
}
