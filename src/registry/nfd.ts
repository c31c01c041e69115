/**
 * An image's requirements as a Kubernetes Node Feature Discovery (NFD) image-compatibility spec
 * (`application/vnd.nfd.image-compatibility.v1alpha1`), the artifact `nfd compat validate-node`
 * reads and whose rules a NodeFeatureGroup accepts. The types follow NFD's Go types and their JSON
 * tags: `api/image-compatibility/v1alpha1/spec.go` (Spec, Compatibility) and
 * `api/nfd/v1alpha1/types.go` (GroupRule, MatchAnyElem, FeatureMatcherTerm, MatchExpression),
 * NFD v0.18 and later; `schemas/nfd-image-compatibility-v1alpha1.schema.json` is the schema.
 *
 * ## Two compatibility sets
 * - tag `builtin`: what NFD's own feature sources can check (`kernel.version`, `cpu.cpuid`,
 *   `pci.device`). `nfd compat validate-node --tags builtin` uses only these: the validator
 *   runs the cpu, kernel, memory, network, pci, storage, system and usb sources, never `local`.
 * - tag `containerspec`: rules on the facts `containerspec host --nfd` writes to features.d
 *   (`local.feature`, names in `src/sched/nfd-features.ts`). nfd-worker publishes them; in
 *   validate-node they are absent, so this set fails there.
 * A host runs the image when every rule of both sets matches.
 *
 * ## How requirements become rules (NFD's matchExpression semantics, `expression.go`)
 * Only `In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt` and `Lt` are used: `Ge`/`Le`/`type: version`
 * exist only since NFD 0.18, and `Gt`/`Lt` compare integers, so ">= N" is `Gt [N-1]` and
 * versions are the integers of {@link nfdVersionNumber}. "kernel >= 4.18.0" is a matchAny of
 * `major Gt 4` or `major In [4], minor Gt 17` (a patch level adds a third alternative on
 * `revision`). Each rule follows the rule of `containerspec check` it stands for, so a host that
 * matches a rule passes that check (or warns); where NFD cannot say what the check says, the rule
 * is stricter or absent, and {@link planNfdImageCompatibility} lists why.
 */

import { isScalar, Document, visit } from 'yaml';
import { loadArchspec, type Archspec } from '../arch/index.js';
import { compileImage, type CompiledImage } from '../check/compile.js';
import { compatDriverCovers, runtimeCuda } from '../check/rules/gpu.js';
import { loadCudaTable, minimumDriverFor, type CudaTable } from '../gpu/cuda-table.js';
import type { Constraint, Requirement } from '../gpu/nvidia-require.js';
import type { ImageFacts } from '../model/facts.js';
import { NFD_KEYS, nfdVersionNumber } from '../sched/nfd-features.js';
import { compareTuples, compareVersions, parseVersion, type VersionTuple } from '../util/version.js';

// ---- NFD's types ---------------------------------------------------------------------------

/** The spec version (`Version` in NFD's spec.go). */
export const NFD_SPEC_VERSION = 'v1alpha1';

/** `MatchOp` (the kubebuilder enum of `api/nfd/v1alpha1/types.go`). */
export type NfdMatchOp = 'In' | 'NotIn' | 'InRegexp' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Ge' | 'Lt' | 'Le' | 'GtLt' | 'GeLe' | 'IsTrue' | 'IsFalse';

/** `MatchExpression`: an operator and its values (strings, also for numbers). */
export interface NfdMatchExpression {
  op: NfdMatchOp;
  value?: string[];
  /** `version` for Gt/Ge/Lt/Le/GtLt/GeLe on semver strings (NFD 0.18+); never written by containerspec. */
  type?: 'version';
}

/** `FeatureMatcherTerm`: expressions on the elements of one feature (e.g. `kernel.version`). */
export interface NfdFeatureMatcherTerm {
  feature: string;
  matchExpressions?: Record<string, NfdMatchExpression>;
  matchName?: NfdMatchExpression;
}

/** `MatchAnyElem`: one alternative of a matchAny. */
export interface NfdMatchAnyElem {
  matchFeatures: NfdFeatureMatcherTerm[];
}

/** `GroupRule`: matches when all of `matchFeatures` and one of `matchAny` (those present) match. */
export interface NfdGroupRule {
  name: string;
  vars?: Record<string, string>;
  varsTemplate?: string;
  matchFeatures?: NfdFeatureMatcherTerm[];
  matchAny?: NfdMatchAnyElem[];
}

/** `Compatibility`: one compatibility set. */
export interface NfdCompatibility {
  rules: NfdGroupRule[];
  weight?: number;
  tag?: string;
  description?: string;
}

/** `Spec`: the whole image-compatibility document. */
export interface NfdSpec {
  version: typeof NFD_SPEC_VERSION;
  compatibilities: NfdCompatibility[];
}

// ---- plan ----------------------------------------------------------------------------------

/** Tag of the set NFD's built-in sources can check. */
export const NFD_TAG_BUILTIN = 'builtin';
/** Tag of the set on containerspec's host facts (`local.feature`). */
export const NFD_TAG_CONTAINERSPEC = 'containerspec';

/** A requirement (or part of one) the spec does not express, and why. */
export interface NfdOmission {
  /** Which requirement: `kernel`, `microarch`, `gpu`, `glibc`, `mpi`, `arch`, `libc`. */
  requirement: string;
  reason: string;
}

/** The spec and what it leaves out. */
export interface NfdPlan {
  spec: NfdSpec;
  omitted: NfdOmission[];
}

/** Options for {@link nfdImageCompatibility}. */
export interface NfdImageOptions {
  /** archspec database (default: the vendored one). */
  archspec?: Archspec;
  /** CUDA driver table (default: the vendored one). */
  cudaTable?: CudaTable;
}

const LOCAL = 'local.feature';

/** Collects rules per set and omissions. */
class Collector {
  readonly builtin: NfdGroupRule[] = [];
  readonly local: NfdGroupRule[] = [];
  readonly omitted: NfdOmission[] = [];
  omit(requirement: string, reason: string): void {
    this.omitted.push({ requirement, reason });
  }
}

// ---- small builders ------------------------------------------------------------------------

const exists = (): NfdMatchExpression => ({ op: 'Exists' });
const absent = (): NfdMatchExpression => ({ op: 'DoesNotExist' });
const isIn = (...v: (string | number)[]): NfdMatchExpression => ({ op: 'In', value: v.map(String) });
/** `>= n` on integers. */
const atLeast = (n: number): NfdMatchExpression => ({ op: 'Gt', value: [String(n - 1)] });

function term(feature: string, expressions: Record<string, NfdMatchExpression>): NfdFeatureMatcherTerm {
  return { feature, matchExpressions: expressions };
}

/** One expression on one containerspec local feature. */
function local(key: string, e: NfdMatchExpression): NfdFeatureMatcherTerm {
  return term(LOCAL, { [key]: e });
}

/** A rule from alternatives, each a list of terms: matchFeatures for one, matchAny for several. */
function ruleOf(name: string, alternatives: NfdFeatureMatcherTerm[][]): NfdGroupRule {
  const [only] = alternatives;
  if (alternatives.length === 1 && only) return { name, matchFeatures: only };
  return { name, matchAny: alternatives.map((matchFeatures) => ({ matchFeatures })) };
}

// ---- kernel (builtin) ----------------------------------------------------------------------

/**
 * `kernel.version >= v` with NFD's integer attributes `major`, `minor`, `revision`: major above,
 * or the same major and minor above, or the same major and minor and revision at least. The
 * revision is only asked for when the minimum has a patch level (NFD leaves it empty, and
 * `Gt` then errors, on releases without one).
 */
export function nfdKernelRule(v: VersionTuple): NfdGroupRule | null {
  const [major = 0, minor = 0, patch = 0] = v;
  if (major === 0 && minor === 0 && patch === 0) return null;
  const name = `kernel >= ${major}.${minor}.${patch}`;
  const k = (e: Record<string, NfdMatchExpression>) => [term('kernel.version', e)];
  if (minor === 0 && patch === 0) return ruleOf(name, [k({ major: atLeast(major) })]);
  const alternatives = [k({ major: atLeast(major + 1) })];
  if (patch === 0) alternatives.push(k({ major: isIn(major), minor: atLeast(minor) }));
  else alternatives.push(k({ major: isIn(major), minor: atLeast(minor + 1) }), k({ major: isIn(major), minor: isIn(minor), revision: atLeast(patch) }));
  return ruleOf(name, alternatives);
}

function kernelRules(ci: CompiledImage, out: Collector): void {
  if (!ci.kernel) return;
  const rule = nfdKernelRule(ci.kernel);
  if (rule) out.builtin.push(rule);
}

// ---- CPU (builtin cpu.cpuid, local archspec target) ----------------------------------------

/**
 * archspec x86_64 feature names (Linux `/proc/cpuinfo` flags) to the names NFD gives them in
 * `cpu.cpuid`: klauspost/cpuid v2 `FeatureID` names (`cpuid.go`), which NFD's cpu source lists
 * (`source/cpu/cpuid_amd64.go`). archspec features missing here (clflushopt, clwb, fsgsbase,
 * pku, rdpid, tsc_adjust) have no cpuid flag in NFD and are not asked for.
 */
export const X86_CPUID_FLAGS: Readonly<Record<string, string>> = Object.freeze({
  '3dnow': 'AMD3DNOW', '3dnowext': 'AMD3DNOWEXT', abm: 'LZCNT', adx: 'ADX', aes: 'AESNI',
  amx_bf16: 'AMXBF16', amx_int8: 'AMXINT8', amx_tile: 'AMXTILE', avx: 'AVX', avx2: 'AVX2',
  avx512_bf16: 'AVX512BF16', avx512_bitalg: 'AVX512BITALG', avx512_vbmi2: 'AVX512VBMI2', avx512_vnni: 'AVX512VNNI',
  avx512_vp2intersect: 'AVX512VP2INTERSECT', avx512_vpopcntdq: 'AVX512VPOPCNTDQ', avx512bw: 'AVX512BW', avx512cd: 'AVX512CD',
  avx512dq: 'AVX512DQ', avx512er: 'AVX512ER', avx512f: 'AVX512F', avx512ifma: 'AVX512IFMA', avx512pf: 'AVX512PF',
  avx512vbmi: 'AVX512VBMI', avx512vl: 'AVX512VL', avx_ifma: 'AVXIFMA', avx_ne_convert: 'AVXNECONVERT', avx_vnni: 'AVXVNNI',
  avx_vnni_int16: 'AVXVNNIINT16', avx_vnni_int8: 'AVXVNNIINT8', bmi1: 'BMI1', bmi2: 'BMI2', cldemote: 'CLDEMOTE',
  clzero: 'CLZERO', cmpccxadd: 'CMPCCXADD', cx16: 'CX16', f16c: 'F16C', flush_l1d: 'FLUSH_L1D', fma: 'FMA3', fma4: 'FMA4',
  gfni: 'GFNI', lahf_lm: 'LAHF', mmx: 'MMX', movbe: 'MOVBE', movdir64b: 'MOVDIR64B', movdiri: 'MOVDIRI', pclmulqdq: 'CLMUL',
  popcnt: 'POPCNT', rdrand: 'RDRAND', rdseed: 'RDSEED', serialize: 'SERIALIZE', sha_ni: 'SHA', sse: 'SSE', sse2: 'SSE2',
  sse3: 'SSE3', sse4_1: 'SSE4', sse4_2: 'SSE42', sse4a: 'SSE4A', ssse3: 'SSSE3', tbm: 'TBM', vaes: 'VAES',
  vpclmulqdq: 'VPCLMULQDQ', waitpkg: 'WAITPKG', xop: 'XOP', xsave: 'XSAVE', xsavec: 'XSAVEC', xsaveopt: 'XSAVEOPT',
});

/**
 * The `cpu.cpuid` flags NFD reports on arm64 (`flagNames_arm64` and `flag2Names_arm64` in
 * `source/cpu/cpuid_linux_arm64.go`, from AT_HWCAP/AT_HWCAP2): the `/proc/cpuinfo` Features
 * words archspec uses, in upper case.
 */
export const ARM64_CPUID_FLAGS: ReadonlySet<string> = new Set(
  ('FP ASIMD EVTSTRM AES PMULL SHA1 SHA2 CRC32 ATOMICS FPHP ASIMDHP CPUID ASIMDRDM JSCVT FCMA LRCPC DCPOP SHA3 SM3 SM4 ' +
    'ASIMDDP SHA512 SVE ASIMDFHM DIT USCAT ILRCPC FLAGM SSBS SB PACA PACG DCPODP SVE2 SVEAES SVEPMULL SVEBITPERM SVESHA3 ' +
    'SVESM4 FLAGM2 FRINT SVEI8MM SVEF32MM SVEF64MM SVEBF16 I8MM BF16 DGH RNG BTI MTE ECV AFP RPRES MTE3 SME SMEI16I64 ' +
    'SMEF64F64 SMEI8I32 SMEF16F32 SMEB16F32 SMEF32F32 SMEFA64 WFXT EBF16 SVEEBF16').split(' '),
);

/** NFD's cpuid name for an archspec feature of a family; undefined when NFD has none. */
export function nfdCpuidFlag(family: string, feature: string): string | undefined {
  if (family === 'x86_64') return Object.hasOwn(X86_CPUID_FLAGS, feature) ? X86_CPUID_FLAGS[feature] : undefined;
  if (family === 'aarch64') return ARM64_CPUID_FLAGS.has(feature.toUpperCase()) ? feature.toUpperCase() : undefined;
  return undefined;
}

/** `cpu.cpuid` must have every flag of the target's archspec feature set that NFD can name. */
function cpuidRule(target: string, spec: Archspec, out: Collector): void {
  const t = spec.target(target);
  if (!t) {
    out.omit('microarch', `archspec does not know ${target}: no cpu.cpuid rule (the containerspec rule still asks for it)`);
    return;
  }
  const family = spec.family(target);
  const flags = new Set<string>();
  const unnamed: string[] = [];
  for (const f of [...t.features].sort()) {
    const flag = nfdCpuidFlag(family, f);
    if (flag) flags.add(flag);
    else unnamed.push(f);
  }
  if (unnamed.length) out.omit('microarch', `${target}: NFD's cpu.cpuid has no flag for ${unnamed.join(', ')} (${family}); not asked for`);
  if (flags.size === 0) return;
  out.builtin.push(ruleOf(`CPU instructions of archspec target ${target}`, [[term('cpu.cpuid', Object.fromEntries([...flags].sort().map((f) => [f, exists()])))]]));
}

function cpuRules(ci: CompiledImage, spec: Archspec, out: Collector): void {
  if (!ci.target) return;
  cpuidRule(ci.target, spec, out);
  out.local.push(ruleOf(`containerspec: CPU is ${ci.target} or a descendant (archspec)`, [[local(NFD_KEYS.microarchTarget(ci.target), exists())]]));
}

// ---- architecture (local) ------------------------------------------------------------------

function archRules(ci: CompiledImage, out: Collector): void {
  if (!ci.arch) {
    out.omit('arch', "the image's architecture is unknown: no rule");
    return;
  }
  out.local.push(ruleOf(`containerspec: architecture ${ci.arch}`, [[local(NFD_KEYS.arch, isIn(ci.arch))]]));
  out.omit('arch', `a host that runs ${ci.arch} only under a binfmt emulator (check: warn) does not match; NFD has no emulation fact`);
  const v = ci.arch === 'arm' && ci.variant ? /^v(\d+)$/.exec(ci.variant)?.[1] : undefined;
  if (v) {
    out.local.push(ruleOf(`containerspec: ARM variant >= v${v}`, [[local(NFD_KEYS.archVariant, absent())], [local(NFD_KEYS.archVariant, atLeast(Number(v)))]]));
  }
}

// ---- GPU (builtin pci.device, local driver facts) ------------------------------------------

const PROPERTY_KEYS = { cuda: NFD_KEYS.cudaMax, driver: NFD_KEYS.cudaDriver, arch: NFD_KEYS.cudaArch, brand: NFD_KEYS.cudaBrand } as const;

/** One well-formed NVIDIA constraint as an expression on a local feature; null when its value does not fit an integer. */
function constraintTerm(c: Constraint): NfdFeatureMatcherTerm | null {
  const key = PROPERTY_KEYS[c.property];
  if (c.property === 'brand') {
    const b = c.brand ?? c.value.toLowerCase();
    return local(key, c.op === '!=' ? { op: 'NotIn', value: [b] } : isIn(b));
  }
  const n = c.version ? nfdVersionNumber(c.version) : null;
  if (n === null) return null;
  const e: Record<Constraint['op'], NfdMatchExpression> = {
    '>=': atLeast(n), '>': { op: 'Gt', value: [String(n)] }, '<': { op: 'Lt', value: [String(n)] },
    '<=': { op: 'Lt', value: [String(n + 1)] }, '=': isIn(n), '!=': { op: 'NotIn', value: [String(n)] },
  };
  return local(key, e[c.op]);
}

/**
 * One NVIDIA_REQUIRE_* value as a rule: its alternatives (space-separated, OR) in the hook's order,
 * each a list of constraints (comma-separated, AND). The hook stops at a malformed constraint it
 * reaches, so translation stops at the first alternative holding one; an alternative whose
 * values do not fit an integer is left out. Both keep the rule sound: a host that matches it
 * passes the hook.
 */
function requirementRule(req: Requirement, out: Collector): NfdGroupRule | null {
  const alternatives: NfdFeatureMatcherTerm[][] = [];
  for (const alt of req.alternatives) {
    const bad = alt.find((t) => !t.ok);
    if (bad) {
      out.omit('gpu', `${req.variable}: ${JSON.stringify(bad.raw)} is malformed; the alternatives from ${JSON.stringify(alt.map((t) => t.raw).join(','))} on are not expressed`);
      break;
    }
    const terms = (alt as readonly Constraint[]).map(constraintTerm);
    if (terms.some((t) => t === null)) {
      out.omit('gpu', `${req.variable}: alternative ${alt.map((t) => t.raw).join(',')} has a version NFD cannot compare as an integer; left out`);
      continue;
    }
    alternatives.push(terms as NfdFeatureMatcherTerm[]);
  }
  if (alternatives.length === 0) {
    out.omit('gpu', `${req.variable}=${req.raw}: nothing of it can be expressed; no rule`);
    return null;
  }
  return ruleOf(`containerspec: ${req.variable}=${req.raw}`, alternatives);
}

/** Requirements path of the gpu check: every NVIDIA_REQUIRE_* (or legacy CUDA_VERSION) must hold. */
function requirementRules(ci: CompiledImage, out: Collector): void {
  for (const e of ci.gpuReq.errors) out.omit('gpu', `${e} (the hook refuses the image on every host; not expressed)`);
  for (const req of ci.gpuReq.requirements) {
    if (req.tokens.length === 0) continue; // holds on every host
    const rule = requirementRule(req, out);
    if (rule) out.local.push(rule);
  }
}

/**
 * Runtime path of the gpu check (no NVIDIA_REQUIRE_*): the driver must run the CUDA runtime fully
 * or under minor-version compatibility (the check passes or warns), or the image's
 * forward-compatibility driver must cover it on a data center GPU.
 */
function runtimeRules(ci: CompiledImage, table: CudaTable, out: Collector): void {
  const runtime = runtimeCuda(ci);
  if (!runtime) return;
  const full = minimumDriverFor(runtime, table);
  if (!full) {
    out.omit('gpu', `CUDA ${runtime} is not in the driver table (check: unknown); no driver rule`);
    return;
  }
  const family = table.families.get(parseVersion(runtime)?.[0] ?? -1)?.minimumDriver ?? null;
  const least = family && compareVersions(family, full) < 0 ? family : full;
  const n = nfdVersionNumber(least);
  if (n === null) {
    out.omit('gpu', `driver ${least} does not fit an integer; no driver rule`);
    return;
  }
  const alternatives = [[local(NFD_KEYS.cudaDriver, atLeast(n))]];
  if (compatDriverCovers(ci, full)) alternatives.push([local(NFD_KEYS.cudaDatacenter, isIn('true'))]);
  out.local.push(ruleOf(`containerspec: NVIDIA driver >= ${least} for CUDA ${runtime}${least === full ? '' : ' (minor-version compatibility)'}`, alternatives));
}

function gpuRules(ci: CompiledImage, table: CudaTable, out: Collector): void {
  if (!ci.needsGpu) return;
  out.builtin.push(ruleOf('NVIDIA GPU on the PCI bus (vendor 10de, display or 3D controller)', [[term('pci.device', { vendor: isIn('10de'), class: isIn('0300', '0302') })]]));
  out.local.push(ruleOf('containerspec: NVIDIA driver loaded', [[local(NFD_KEYS.cudaDriver, exists())]]));
  if (ci.gpuHasReq) requirementRules(ci, out);
  else runtimeRules(ci, table, out);
}

// ---- MPI (local) ---------------------------------------------------------------------------

/*
 * No MPI rule: under the host-MPI (hybrid/bind) model the mpi check never blocks the verdict (the
 * image's own MPI runs within one node; a host MPI that cannot stand in for it is an advisory
 * warning for multi-node runs), so every node matches as far as MPI goes. The host features
 * (`mpi.*`, nfd-features.ts) stay for a site's own multi-node rules.
 */

// ---- what is not a host requirement --------------------------------------------------------

function imageOnlyNotes(ci: CompiledImage, out: Collector): void {
  const req = ci.facts.requires;
  if (req.glibc) {
    out.omit('glibc', `GLIBC_${req.glibc.version} is needed from the image's own glibc; the host's glibc is not a requirement (check compares it only for provenance drift)`);
  }
  if (ci.glibcNeed && (!ci.glibc || compareTuples(ci.glibc, ci.glibcNeed) < 0)) {
    out.omit('libc', `the image's own glibc (${ci.facts.libc.version ?? 'unknown'}) does not provide GLIBC_${req.glibc?.version}: it fails on every host, which no host rule can say`);
  }
}

/**
 * What an image needs of a host, as NFD rules, with the requirements left out and why.
 * Expressed: kernel minimum (`kernel.version`), the CPU instructions of its archspec target
 * (`cpu.cpuid`), an NVIDIA GPU (`pci.device`) for CUDA images; and on containerspec's local
 * features: architecture, archspec target or a descendant, NVIDIA driver and NVIDIA_REQUIRE_*
 * (or the CUDA runtime's driver minimum), host MPI ABI and version.
 */
export function planNfdImageCompatibility(facts: ImageFacts, opts: NfdImageOptions = {}): NfdPlan {
  const spec = opts.archspec ?? loadArchspec();
  const table = opts.cudaTable ?? loadCudaTable();
  const ci = compileImage(facts, spec);
  const out = new Collector();
  kernelRules(ci, out);
  archRules(ci, out);
  cpuRules(ci, spec, out);
  gpuRules(ci, table, out);
  imageOnlyNotes(ci, out);
  const compatibilities: NfdCompatibility[] = [];
  if (out.builtin.length) {
    compatibilities.push({ tag: NFD_TAG_BUILTIN, description: `${facts.name}: requirements NFD's built-in sources can check (kernel.version, cpu.cpuid, pci.device); by containerspec`, rules: out.builtin });
  }
  if (out.local.length) {
    compatibilities.push({ tag: NFD_TAG_CONTAINERSPEC, description: `${facts.name}: requirements on containerspec host facts (local.feature, written by containerspec host --nfd); by containerspec`, rules: out.local });
  }
  return { spec: { version: NFD_SPEC_VERSION, compatibilities }, omitted: out.omitted };
}

/** The NFD image-compatibility spec of an image (see {@link planNfdImageCompatibility} for what it expresses). */
export function nfdImageCompatibility(facts: ImageFacts, opts: NfdImageOptions = {}): NfdSpec {
  return planNfdImageCompatibility(facts, opts).spec;
}

/**
 * A spec as YAML for the artifact layer (`application/vnd.nfd.image-compatibility.spec.v1alpha1+yaml`).
 * Every string value is double-quoted, so YAML 1.1 readers (NFD reads it with sigs.k8s.io/yaml)
 * never take `"4"` for a number or `on` for a boolean; match expressions are written in flow
 * style, as in NFD's examples.
 */
export function nfdSpecYaml(spec: NfdSpec): string {
  const doc = new Document(spec);
  doc.commentBefore = ' NFD image compatibility spec (v1alpha1), written by containerspec';
  visit(doc, {
    Map(_, node) {
      if (node.items.some((p) => isScalar(p.key) && p.key.value === 'op')) node.flow = true;
    },
    Pair(_, pair) {
      if (isScalar(pair.value) && typeof pair.value.value === 'string') pair.value.type = 'QUOTE_DOUBLE';
    },
    Seq(_, node) {
      for (const item of node.items) if (isScalar(item) && typeof item.value === 'string') item.type = 'QUOTE_DOUBLE';
    },
  });
  return doc.toString({ lineWidth: 0 });
}

/** The YAML spec of an image in one call: what `attachFacts`' `nfdYaml` option takes. */
export function nfdImageCompatibilityYaml(facts: ImageFacts, opts: NfdImageOptions = {}): string {
  return nfdSpecYaml(nfdImageCompatibility(facts, opts));
}
