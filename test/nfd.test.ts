/**
 * NFD halves: the image-compatibility spec (src/registry/nfd.ts) and the host's local feature file
 * (src/sched/nfd-features.ts), on the real fixture images and this machine's real host facts.
 *
 * The core of this file is a small NFD evaluator written here from NFD's Go source
 * (sigs.k8s.io/node-feature-discovery at 76e6cc8c: pkg/apis/nfd/nodefeaturerule/expression.go
 * `evaluateMatchExpression`, `MatchMulti`, `MatchNamesMulti`, `MatchGetInstances`; rule.go
 * `ExecuteGroupRule`, `evaluateFeatureMatcher`; source/local/local.go `parseFeatureFile`;
 * source/kernel/version.go `parseVersion`), checked against cases ported from NFD's own
 * expression_test.go. It evaluates each image's spec against a host's features (the features.d
 * file parsed as NFD parses it, plus kernel.version, cpu.cpuid and pci.device built from the host
 * facts as NFD's sources would report them) and the result is compared with `containerspec check`
 * rule by rule.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadArchspec } from '../src/arch/index.js';
import { check } from '../src/check/check.js';
import { applySets } from '../src/check/overrides.js';
import { UsageError } from '../src/errors/index.js';
import { hostFacts } from '../src/host/facts.js';
import { inspect } from '../src/inspect.js';
import type { HostFacts, ImageFacts } from '../src/model/facts.js';
import type { Report } from '../src/model/report.js';
import {
  nfdCpuidFlag,
  nfdImageCompatibility,
  nfdKernelRule,
  nfdSpecYaml,
  planNfdImageCompatibility,
  type NfdFeatureMatcherTerm,
  type NfdGroupRule,
  type NfdMatchExpression,
  type NfdSpec,
} from '../src/registry/nfd.js';
import { NFD_KEYS, nfdHostFeatures, nfdVersionNumber, writeNfdFeatures } from '../src/sched/nfd-features.js';
import { compareVersions, parseVersion } from '../src/util/version.js';
import { REPO } from './helpers/cli.js';
import { buildFixtures } from './helpers/fixture-set.js';
import { glibcImage, hostGlibcFiles, oci } from './helpers/images.js';

await buildFixtures(15 * 60_000);

const spec = loadArchspec();

// ---------------------------------------------------------------------------------------------
// The schema, with ajv as the project uses it (draft-07, src/model/validate.ts)

const schema = JSON.parse(readFileSync(join(REPO, 'schemas/nfd-image-compatibility-v1alpha1.schema.json'), 'utf8')) as object;
type Validate = ((d: unknown) => boolean) & { errors?: unknown };
const AjvCtor = ((Ajv as unknown as { default?: typeof Ajv }).default ?? Ajv) as unknown as new (o: object) => { compile(s: object): Validate };
const validate = new AjvCtor({ allErrors: true, strict: false }).compile(schema);
const schemaErrors = (d: unknown): unknown => (validate(d) ? null : validate.errors);

// ---------------------------------------------------------------------------------------------
// A small NFD evaluator (see the header for the Go functions each part follows)

class NfdEvalError extends Error {}

/** nfdv1alpha1.Features: flag, attribute and instance features by name. */
interface Features {
  flags: Record<string, Set<string>>;
  attributes: Record<string, Record<string, string>>;
  instances: Record<string, Record<string, string>[]>;
}

const OPS = new Set(['In', 'NotIn', 'InRegexp', 'Exists', 'DoesNotExist', 'Gt', 'Ge', 'Lt', 'Le', 'GtLt', 'GeLe', 'IsTrue', 'IsFalse']);

/** strconv.Atoi. */
function atoi(s: string): number {
  if (!/^[+-]?\d+$/.test(s)) throw new NfdEvalError(`not a number ${JSON.stringify(s)}`);
  return Number(s);
}

/** expression.go evaluateMatchExpression (without `type: version`, which containerspec never writes). */
function evalExpr(m: NfdMatchExpression, valid: boolean, value: string | null): boolean {
  const vals = m.value ?? [];
  if (!OPS.has(m.op)) throw new NfdEvalError(`invalid Op ${m.op}`);
  if (m.op === 'Exists' || m.op === 'DoesNotExist') {
    if (vals.length) throw new NfdEvalError(`'value' must be empty for ${m.op}`);
    return m.op === 'Exists' ? valid : !valid;
  }
  if (!valid || value === null) return false;
  const needSome = () => {
    if (!vals.length) throw new NfdEvalError(`'value' must be non-empty for ${m.op}`);
  };
  switch (m.op) {
    case 'In': needSome(); return vals.includes(value);
    case 'NotIn': needSome(); return !vals.includes(value);
    case 'InRegexp': {
      needSome();
      const res = vals.map((v) => {
        try { return new RegExp(v); } catch { throw new NfdEvalError(`bad regexp ${v}`); }
      });
      return res.some((r) => r.test(value));
    }
    case 'Gt': case 'Ge': case 'Lt': case 'Le': {
      if (vals.length !== 1) throw new NfdEvalError(`exactly one value for ${m.op}`);
      if (m.type !== undefined) throw new NfdEvalError(`type ${m.type} is not modelled here`);
      const l = atoi(value);
      const r = atoi(vals[0]!);
      return m.op === 'Gt' ? l > r : m.op === 'Ge' ? l >= r : m.op === 'Lt' ? l < r : l <= r;
    }
    case 'GtLt': case 'GeLe': {
      if (vals.length !== 2) throw new NfdEvalError(`exactly two values for ${m.op}`);
      const v = atoi(value);
      const [a, b] = [atoi(vals[0]!), atoi(vals[1]!)];
      if (a >= b) throw new NfdEvalError('value[0] must be less than value[1]');
      return m.op === 'GtLt' ? v > a && v < b : v >= a && v <= b;
    }
    case 'IsTrue': case 'IsFalse':
      if (vals.length) throw new NfdEvalError(`'value' must be empty for ${m.op}`);
      return value === (m.op === 'IsTrue' ? 'true' : 'false');
  }
  throw new NfdEvalError(`unsupported Op ${m.op}`);
}

/** MatchGetValues with failFast=false: every expression must match the attributes. */
function matchValues(m: Record<string, NfdMatchExpression>, values: Record<string, string>): boolean {
  let all = true;
  for (const [n, e] of Object.entries(m)) if (!evalExpr(e, Object.hasOwn(values, n), Object.hasOwn(values, n) ? values[n]! : '')) all = false;
  return all;
}

/** MatchMulti: keys and values as a union (DoesNotExist must hold in both), instances separately. */
function matchMulti(m: Record<string, NfdMatchExpression>, keys: Set<string> | undefined, values: Record<string, string> | undefined, instances: Record<string, string>[] | undefined): boolean {
  let isMatch = keys !== undefined || values !== undefined;
  for (const [n, e] of Object.entries(m)) {
    let matchK = false;
    let matchV = false;
    if (keys) {
      matchK = evalExpr(e, keys.has(n), null);
      if (!matchK && e.op === 'DoesNotExist') { isMatch = false; continue; }
    }
    if (values) {
      const ok = Object.hasOwn(values, n);
      matchV = evalExpr(e, ok, ok ? values[n]! : '');
      if (!matchV && e.op === 'DoesNotExist') { isMatch = false; continue; }
    }
    if (!matchK && !matchV) isMatch = false;
  }
  let inst = false;
  for (const attrs of instances ?? []) if (matchValues(m, attrs)) inst = true;
  return isMatch || inst;
}

/** MatchNamesMulti: some element name (flag, attribute or instance attribute) matches. */
function matchNamesMulti(e: NfdMatchExpression, keys: Set<string> | undefined, values: Record<string, string> | undefined, instances: Record<string, string>[] | undefined): boolean {
  const names = [...(keys ?? []), ...Object.keys(values ?? {}), ...(instances ?? []).flatMap((i) => Object.keys(i))];
  let any = false;
  for (const n of names) if (evalExpr(e, true, n)) any = true;
  return any;
}

/** rule.go evaluateFeatureMatcher with failFast=false (as `nfd compat validate-node` runs it). */
function evalMatcher(terms: readonly NfdFeatureMatcherTerm[], f: Features): boolean {
  let isMatch = true;
  let isTermMatch = true; // declared outside the loop in NFD too: a term without expressions inherits it
  for (const t of terms) {
    const name = t.feature.toLowerCase();
    const [keys, values, instances] = [f.flags[name], f.attributes[name], f.instances[name]];
    if (!keys && !values && !instances) { isMatch = false; continue; }
    if (t.matchExpressions) isTermMatch = matchMulti(t.matchExpressions, keys, values, instances);
    if (isTermMatch && t.matchName) isTermMatch = matchNamesMulti(t.matchName, keys, values, instances);
    if (!isTermMatch) isMatch = false;
  }
  return isMatch;
}

/** rule.go ExecuteGroupRule: one of matchAny and all of matchFeatures (those given). */
function evalRule(r: NfdGroupRule, f: Features): boolean {
  let anyOk = false;
  for (const el of r.matchAny ?? []) if (evalMatcher(el.matchFeatures, f)) anyOk = true;
  const featOk = r.matchFeatures?.length ? evalMatcher(r.matchFeatures, f) : true;
  return (!r.matchAny?.length || anyOk) && featOk;
}

// ---- host features as NFD would see them ----------------------------------------------------

/** source/local/local.go parseFeatureFile: features and labels of one feature file. */
function parseFeatureFile(text: string, now = new Date()): { features: Record<string, string>; labels: Record<string, string> } {
  const features: Record<string, string> = {};
  const labels: Record<string, string> = {};
  let expiry = now;
  let skipLabel = false;
  let skipFeature = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('#')) {
      if (line.startsWith('# +')) {
        const [key, value] = line.slice(3).split(/=(.*)/s);
        if (key === 'expiry-time' && value !== undefined && !Number.isNaN(Date.parse(value.trim()))) expiry = new Date(value.trim());
        else if (key === 'no-feature') skipFeature = true;
        else if (key === 'no-label') skipLabel = true;
      }
      continue;
    }
    if (expiry < now) continue;
    const i = line.indexOf('=');
    const [key, value] = i < 0 ? [line, 'true'] : [line.slice(0, i), line.slice(i + 1)];
    if (skipFeature) delete features[key]; else features[key] = value;
    if (skipLabel) delete labels[key]; else labels[key] = value;
    skipFeature = false;
    skipLabel = false;
  }
  return { features, labels };
}

/** source/kernel/version.go parseVersion. */
function nfdKernelVersion(release: string): Record<string, string> {
  const full = release.replace(/[^-A-Za-z0-9_.]/g, '_').replace(/^[-_.]+|[-_.]+$/g, '');
  const out: Record<string, string> = { full };
  const m = /^(\d+)(\.(\d+))?(\.(\d+))?(-.*)?$/.exec(full);
  if (m) Object.assign(out, { major: m[1] ?? '', minor: m[3] ?? '', revision: m[5] ?? '' });
  return out;
}

/**
 * cpu.cpuid as NFD reports it, from the host's /proc/cpuinfo flags, written here independently of
 * src/registry/nfd.ts: Linux flag names to klauspost/cpuid names (upper case without underscores,
 * except where the names differ); on arm64 the HWCAP names, i.e. the Features words upper-cased.
 */
const LINUX_TO_CPUID: Record<string, string> = {
  pni: 'SSE3', sse3: 'SSE3', sse4_1: 'SSE4', sse4_2: 'SSE42', fma: 'FMA3', pclmulqdq: 'CLMUL', aes: 'AESNI', sha_ni: 'SHA',
  abm: 'LZCNT', lahf_lm: 'LAHF', '3dnow': 'AMD3DNOW', '3dnowext': 'AMD3DNOWEXT', flush_l1d: 'FLUSH_L1D',
};
function cpuidFlags(host: HostFacts): Set<string> {
  const arm = host.platform.architecture === 'arm64';
  return new Set(host.cpu.features.map((f) => (arm ? f.toUpperCase() : (LINUX_TO_CPUID[f] ?? f.toUpperCase().replace(/_/g, '')))));
}

/** pci.device instances (source/pci/utils.go: class cut to 4 hex digits, 0x removed). */
function pciDevices(host: HostFacts): Record<string, string>[] {
  return host.gpu.devices.map((d) => ({
    vendor: d.vendor === 'nvidia' ? '10de' : '1002',
    class: (d.pciClass ?? '').replace(/^0x/, '').slice(0, 4),
    device: (d.id ?? '').replace(/^0x/, ''),
  }));
}

/** Everything the spec's rules can look at on one host. */
function nfdFeatures(host: HostFacts, featureFile: string): Features {
  const f: Features = { flags: { 'cpu.cpuid': cpuidFlags(host) }, attributes: {}, instances: { 'pci.device': pciDevices(host) } };
  if (host.kernel.release) f.attributes['kernel.version'] = nfdKernelVersion(host.kernel.release);
  f.attributes['local.feature'] = parseFeatureFile(featureFile).features;
  return f;
}

/** Which containerspec check a rule stands for (by the names src/registry/nfd.ts gives them). */
function checkIdOf(r: NfdGroupRule): string {
  if (/^kernel /.test(r.name)) return 'kernel';
  if (/CPU/.test(r.name)) return 'microarch';
  if (/NVIDIA/.test(r.name)) return 'gpu';
  if (/MPI/.test(r.name)) return 'mpi';
  if (/architecture|ARM variant/.test(r.name)) return 'arch';
  throw new Error(`rule ${r.name} stands for no check`);
}

const allRules = (s: NfdSpec): NfdGroupRule[] => s.compatibilities.flatMap((c) => c.rules);

// ---------------------------------------------------------------------------------------------
// Inputs: real images and this machine's facts

let here: HostFacts;
const images: Record<string, ImageFacts> = {};
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cs-nfd-'));
  here = await hostFacts();
  for (const n of ['trixie-mpich-cuda', 'bullseye-openmpi', 'bookworm-arm64']) images[n] = await inspect(oci(n));
  if (hostGlibcFiles()) {
    for (const t of ['x86_64_v3', 'haswell', 'zen3', 'zen4', 'icelake']) {
      images[`built-for-${t}`] = await inspect(await glibcImage(join(work, t), { 'io.archspec.target': t }));
    }
  }
  // The CUDA image without NVIDIA_REQUIRE_CUDA / CUDA_VERSION: the gpu check then judges its runtime.
  const bare = structuredClone(images['trixie-mpich-cuda']!);
  for (const k of ['NVIDIA_REQUIRE_CUDA', 'CUDA_VERSION']) {
    delete bare.cuda.env[k];
    delete bare.env[k];
  }
  images['cuda-runtime-only'] = { ...bare, name: 'cuda-runtime-only' };
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A host with an NVIDIA GPU on the PCI bus (as the sysfs probe records it) and the driver facts set. */
function gpuHost(base: HostFacts, driver: string, brand: string | null): HostFacts {
  const h = applySets(base, { 'cuda.driver': driver, ...(brand ? { 'cuda.brand': brand } : {}), 'cuda.arch': '8.0' });
  h.gpu.devices = [{ vendor: 'nvidia', bus: '0000:3b:00.0', model: null, id: '0x1db4', uuid: null, pciClass: '0x030200', kernelDriver: 'nvidia', gfxTarget: null, kfdNode: null, seenIn: ['sysfs'] }];
  return { ...h, name: `gpu ${driver} ${brand ?? '?'}` };
}

/** A host whose CPU is an archspec target: its microarch and its cpuinfo flags (the target's features). */
function cpuHost(base: HostFacts, target: string, arch = 'amd64'): HostFacts {
  const h = applySets(base, { arch, microarch: target });
  h.cpu = { ...h.cpu, features: [...spec.target(target)!.features] };
  return { ...h, name: `cpu ${target}` };
}

function hosts(): HostFacts[] {
  const sets: Record<string, string>[] = [
    {}, { kernel: '3.2.0' }, { kernel: '3.1.99' }, { kernel: '2.6.32' }, { kernel: '3.6.11' }, { kernel: '3.7.0' }, { glibc: '2.17' },
    { mpi: 'openmpi@4.1.4' }, { mpi: 'openmpi@4.0.3' }, { mpi: 'openmpi@5.0.3' }, { mpi: 'mpich@4.2.1' }, { mpi: 'mpich@4.1.0' },
    { mpi: 'mpich@3.4.1' }, { mpi: 'intel@2021.10' }, { emulators: 'arm64' },
  ];
  return [
    ...sets.map((s) => ({ ...applySets(here, s), name: `here ${JSON.stringify(s)}` })),
    gpuHost(here, '550.54.15', 'tesla'), gpuHost(here, '535.104.05', 'tesla'), gpuHost(here, '535.104.05', 'geforce'),
    gpuHost(here, '470.82.01', 'tesla'), gpuHost(here, '470.82.01', 'geforce'), gpuHost(here, '450.80.02', 'geforce'),
    { ...applySets(gpuHost(here, '550.54.15', 'tesla'), { mpi: 'mpich@4.1.0' }), name: 'gpu + old mpich' },
    cpuHost(here, 'haswell'), cpuHost(here, 'x86_64_v2'), cpuHost(here, 'icelake'), cpuHost(here, 'zen4'), cpuHost(here, 'skylake_avx512'),
    cpuHost(here, 'neoverse_n1', 'arm64'),
  ];
}

/** Whether the check says the host runs the image as far as one rule goes: pass, or warn (arch: pass only, see the omissions). */
function checkOk(report: Report, id: string): boolean {
  const c = report.checks.find((x) => x.id === id);
  if (!c) return true;
  // an advisory check (the mpi check always is: the image's own MPI runs within a node) never blocks
  return c.status === 'pass' || (c.status === 'warn' && id !== 'arch') || !c.required;
}

// ---------------------------------------------------------------------------------------------

describe('the evaluator follows NFD', () => {
  // Cases from NFD's pkg/apis/nfd/nodefeaturerule/expression_test.go, TestEvaluateMatchExpression.
  const good: [NfdMatchExpression['op'], string[], string, boolean, boolean][] = [
    ['In', ['1'], '2', false, false], ['In', ['1'], '2', true, false], ['In', ['1', '2', '3'], '2', false, false], ['In', ['1', '2', '3'], '2', true, true],
    ['NotIn', ['2'], '2', false, false], ['NotIn', ['1'], '2', true, true], ['NotIn', ['1', '2', '3'], '2', false, false], ['NotIn', ['1', '2', '3'], '2', true, false],
    ['InRegexp', ['val-[0-9]$'], 'val-1', false, false], ['InRegexp', ['val-[0-9]$'], 'val-1', true, true], ['InRegexp', ['val-[0-9]$'], 'val-12', true, false], ['InRegexp', ['val-[0-9]$', 'al-[1-9]'], 'val-12', true, true],
    ['Exists', [], '', false, false], ['Exists', [], '', true, true], ['DoesNotExist', [], 'false', false, true], ['DoesNotExist', [], 'false', true, false],
    ['Gt', ['2'], '3', false, false], ['Gt', ['2'], '2', true, false], ['Gt', ['2'], '3', true, true], ['Gt', ['-10'], '-3', true, true],
    ['Lt', ['2'], '1', false, false], ['Lt', ['2'], '2', true, false], ['Lt', ['-10'], '-3', true, false], ['Lt', ['2'], '1', true, true],
    ['GtLt', ['1', '10'], '1', false, false], ['GtLt', ['1', '10'], '1', true, false], ['GtLt', ['1', '10'], '10', true, false], ['GtLt', ['1', '10'], '2', true, true],
    ['IsTrue', [], 'true', false, false], ['IsTrue', [], 'true', true, true], ['IsTrue', [], 'false', true, false],
    ['IsFalse', [], 'false', false, false], ['IsFalse', [], 'false', true, true], ['IsFalse', [], 'true', true, false],
  ];
  it.each(good)('%s %j on %j (valid %s) is %s', (op, value, input, valid, want) => {
    expect(evalExpr({ op, value }, valid, input)).toBe(want);
  });
  const bad: [string, string[], string][] = [
    ['In', [], 'val'], ['NotIn', [], 'val'], ['InRegexp', [], 'val'], ['InRegexp', ['('], 'val'], ['Exists', ['1'], ''], ['DoesNotExist', ['1'], ''],
    ['Gt', [], '1'], ['Gt', ['1', '2'], '1'], ['Gt', [''], '1'], ['Gt', ['2'], '3a'], ['Lt', [], '1'], ['Lt', ['1', '2', '3'], '1'], ['Lt', ['a'], '1'], ['Lt', ['2'], '1.0'],
    ['GtLt', [], '1'], ['GtLt', ['1'], '1'], ['GtLt', ['2', '1'], '1'], ['GtLt', ['1', '2', '3'], '1'], ['GtLt', ['a', '2'], '1'], ['GtLt', ['1', '10'], '1.0'],
    ['IsTrue', ['1'], 'true'], ['IsFalse', ['1', '2'], 'false'], ['non-existent-op', ['1'], '1'],
  ];
  it.each(bad)('%s %j on %j is an error', (op, value, input) => {
    expect(() => evalExpr({ op: op as NfdMatchExpression['op'], value }, true, input)).toThrow(NfdEvalError);
  });

  it('DoesNotExist must hold for flags and attributes alike; instances match when one instance matches every expression', () => {
    expect(matchMulti({ A: { op: 'DoesNotExist' } }, new Set(['A']), {}, undefined)).toBe(false);
    expect(matchMulti({ A: { op: 'DoesNotExist' } }, new Set(), { A: 'x' }, undefined)).toBe(false);
    expect(matchMulti({ A: { op: 'DoesNotExist' } }, new Set(), {}, undefined)).toBe(true);
    const devs = [{ vendor: '10de', class: '0200' }, { vendor: '8086', class: '0300' }];
    expect(matchMulti({ vendor: { op: 'In', value: ['10de'] }, class: { op: 'In', value: ['0300'] } }, undefined, undefined, devs)).toBe(false);
    expect(matchMulti({ vendor: { op: 'In', value: ['10de'] }, class: { op: 'In', value: ['0200'] } }, undefined, undefined, devs)).toBe(true);
  });

  it('parses feature files as source/local/local.go does (its testdata and documented examples)', () => {
    // source/local/testdata/features.d/features_with_labels and multiple_expiration_dates; local_test.go
    // TestGetExpirationDate counts 7 features and 8 labels over that directory, i.e. 2 and 3 from
    // features_with_labels: `# +no-label` before foo=baz removes the label foo=bar set above it.
    const labels = parseFeatureFile('# +no-feature\nlabel-only=value\n\n# +no-feature\nlabel-only-2=value\n\nmy-feature=value\n\nfoo=bar\n# +no-label\nfoo=baz\n');
    expect(labels).toEqual({ features: { 'my-feature': 'value', foo: 'baz' }, labels: { 'label-only': 'value', 'label-only-2': 'value', 'my-feature': 'value' } });
    const exp = parseFeatureFile('# +expiry-time=2012-07-28T11:22:33Z\nfeatureKey=featureValue\n\n# +expiry-time=2080-07-28T11:22:33Z\nfeatureKey2=featureValue2\n\n# +expiry-time=2070-07-28T11:22:33Z\nfeatureKey3=featureValue3\n\n# +expiry-time=2002-07-28T11:22:33Z\nfeatureKey4=featureValue4\n');
    expect(exp.features).toEqual({ featureKey2: 'featureValue2', featureKey3: 'featureValue3' });
    expect(parseFeatureFile('vendor.io/flag\n').features).toEqual({ 'vendor.io/flag': 'true' });
  });

  it('reads kernel releases as source/kernel/version.go does', () => {
    expect(nfdKernelVersion('6.1.0-18-amd64')).toEqual({ full: '6.1.0-18-amd64', major: '6', minor: '1', revision: '0' });
    expect(nfdKernelVersion('5.14.0-362.24.1.el9_3.x86_64')).toMatchObject({ major: '5', minor: '14', revision: '0' });
    expect(nfdKernelVersion('5.15.153.1-microsoft-standard-WSL2')).not.toHaveProperty('major'); // four components: NFD finds no major
  });
});

describe('the schema', () => {
  // NFD's examples/image-compatibility.yaml (at 76e6cc8c), verbatim.
  const nfdExample = `version: v1alpha1
compatibilities:
- description: "my image requirements"
  rules:
  - name: "kernel and cpu"
    matchFeatures:
    - feature: kernel.loadedmodule
      matchExpressions:
        vfio-pci: {op: Exists}
        ip_tables: {op: Exists}
    - feature: cpu.model
      matchExpressions:
        vendor_id: {op: In, value: ["Intel", "AMD"]}
    - feature: cpu.cpuid
      matchName: {op: InRegexp, value: ["^AVX"]}
  - name: "one of available nics"
    matchAny:
    - matchFeatures:
      - feature: pci.device
        matchExpressions:
          vendor: {op: In, value: ["0eee"]}
          class: {op: In, value: ["0200"]}
    - matchFeatures:
      - feature: pci.device
        matchExpressions:
          vendor: {op: In, value: ["0fff"]}
          class: {op: In, value: ["0200"]}
`;
  // enhancements/1845-nfd-image-compatibility/README.md: tags and weights (the example's first set).
  const enhancementExample = `version: v1alpha1
compatibilities:
- tag: "prefered"
  weight: 10
  description: "Prefered node configuration"
  rules:
  - name: "kernel and cpu"
    matchFeatures:
    - feature: kernel.loadedmodule
      matchExpressions:
        vfio-pci: {op: Exists}
    - feature: cpu.model
      matchExpressions:
        vendor_id: {op: In, value: ["Intel", "Amd"]}
`;

  it("accepts NFD's own examples", () => {
    expect(schemaErrors(parseYaml(nfdExample))).toBeNull();
    expect(schemaErrors(parseYaml(enhancementExample))).toBeNull();
    // What Go's encoding/json writes for the same types (nil slices and maps as null, omitempty left out).
    expect(schemaErrors({ version: 'v1alpha1', compatibilities: [{ rules: [{ name: 'r', vars: null, varsTemplate: '', matchFeatures: [{ feature: 'kernel.version', matchExpressions: { major: { op: 'Gt', value: ['4'] } }, matchName: null }], matchAny: null }] }] })).toBeNull();
  });

  it('rejects what NFD rejects or does not define', () => {
    const broken = (edit: (s: Record<string, unknown>) => void): unknown => {
      const s = parseYaml(nfdExample) as Record<string, unknown>;
      edit(s);
      return s;
    };
    const term = (s: Record<string, unknown>) => ((s.compatibilities as { rules: NfdGroupRule[] }[])[0]!.rules[0]!.matchFeatures![1]!);
    expect(schemaErrors(broken((s) => (term(s).matchExpressions!.vendor_id!.op = 'Equals' as NfdMatchExpression['op'])))).not.toBeNull(); // not a MatchOp
    expect(schemaErrors(broken((s) => (term(s).matchExpressions!.vendor_id = { op: 'Gt', value: ['1', '2'] })))).not.toBeNull(); // Gt takes one value
    expect(schemaErrors(broken((s) => (term(s).matchExpressions!.vendor_id = { op: 'Gt', value: ['4.18'] })))).not.toBeNull(); // Gt compares integers
    expect(schemaErrors(broken((s) => (term(s).matchExpressions!.vendor_id = { op: 'Exists', value: ['x'] })))).not.toBeNull();
    expect(schemaErrors(broken((s) => (term(s).matchExpressions!.vendor_id = { op: 'In', value: [4] as unknown as string[] })))).not.toBeNull(); // values are strings
    expect(schemaErrors(broken((s) => (term(s).matchExpressions!.vendor_id = { op: 'In' })))).not.toBeNull();
    expect(schemaErrors(broken((s) => ((term(s) as unknown as Record<string, unknown>).matchLabels = {})))).not.toBeNull(); // closed struct
    expect(schemaErrors(broken((s) => delete (s.compatibilities as { rules?: unknown }[])[0]!.rules))).not.toBeNull();
    expect(schemaErrors(broken((s) => (s.version = 'v1')))).not.toBeNull();
  });
});

describe('image specs', () => {
  it('validate against the schema and survive YAML (every value a string, also to a YAML 1.1 reader)', () => {
    expect(Object.keys(images).length).toBeGreaterThanOrEqual(4);
    for (const [name, facts] of Object.entries(images)) {
      const s = nfdImageCompatibility(facts);
      expect(schemaErrors(s), name).toBeNull();
      expect(s.version).toBe('v1alpha1');
      const text = nfdSpecYaml(s);
      expect(parseYaml(text)).toEqual(s);
      const v11 = parseYaml(text, { version: '1.1' }) as NfdSpec;
      expect(v11).toEqual(s);
      for (const r of allRules(v11)) {
        for (const t of [...(r.matchFeatures ?? []), ...(r.matchAny ?? []).flatMap((a) => a.matchFeatures)]) {
          for (const e of Object.values(t.matchExpressions ?? {})) for (const v of e.value ?? []) expect(typeof v).toBe('string');
        }
      }
      expect(s.compatibilities.map((c) => c.tag)).toEqual(['builtin', 'containerspec']);
    }
  });

  it('a CUDA image asks for an NVIDIA PCI device and a driver, an image without CUDA does not', () => {
    const cuda = nfdImageCompatibility(images['trixie-mpich-cuda']!);
    const pci = allRules(cuda).flatMap((r) => r.matchFeatures ?? []).find((t) => t.feature === 'pci.device');
    expect(pci?.matchExpressions).toEqual({ vendor: { op: 'In', value: ['10de'] }, class: { op: 'In', value: ['0300', '0302'] } });
    const text = JSON.stringify(cuda);
    expect(text).toContain(NFD_KEYS.cudaDriver);
    expect(text).toContain(NFD_KEYS.cudaMax); // cuda>=12.4 of NVIDIA_REQUIRE_CUDA
    for (const n of ['bullseye-openmpi', 'bookworm-arm64']) {
      const plain = JSON.stringify(allRules(nfdImageCompatibility(images[n]!)));
      expect(plain).not.toContain('pci.device');
      expect(plain).not.toContain('containerspec.io/cuda');
    }
  });

  it("the kernel rule matches the image's required kernel exactly, as the kernel check does", async () => {
    for (const [name, facts] of Object.entries(images)) {
      const need = facts.requires.kernel?.version;
      expect(need, name).toBeTruthy();
      const rule = allRules(nfdImageCompatibility(facts)).find((r) => r.name.startsWith('kernel'))!;
      const [M = 0, m = 0, p = 0] = parseVersion(need!)!;
      expect(rule.name).toBe(`kernel >= ${M}.${m}.${p}`);
      const around = [`${M}.${m}.${p}`, `${M}.${m + 1}.0`, `${M + 1}.0.0`, `${M - 1}.99.99`, m > 0 ? `${M}.${m - 1}.99` : `${M}.0.0`, '6.1.0-18-amd64'];
      for (const release of around) {
        const host = applySets(here, { kernel: release });
        const nfd = evalRule(rule, nfdFeatures(host, nfdHostFeatures(host)));
        const report = await check(facts, host);
        expect(nfd, `${name} on kernel ${release}`).toBe(compareVersions(release, need!) >= 0);
        expect(nfd, `${name} on kernel ${release}`).toBe(checkOk(report, 'kernel'));
      }
    }
    // A minimum with a patch level (glibc 2.17's ABI tag, 2.6.32) needs the revision.
    const r = nfdKernelRule([2, 6, 32])!;
    for (const [release, want] of [['2.6.32', true], ['2.6.31', false], ['2.6.40', true], ['2.7.0', true], ['3.0.0', true], ['2.5.99', false]] as const) {
      expect(evalRule(r, { flags: {}, attributes: { 'kernel.version': nfdKernelVersion(release) }, instances: {} }), release).toBe(want);
    }
  });

  it('ask for the archspec target (local) and its CPU instructions under NFD cpuid names', (ctx) => {
    if (!images['built-for-haswell']) {
      console.warn("skipping the NFD cpuid test: the built-for-haswell image needs this machine's x86-64 glibc");
      return ctx.skip("the built-for-haswell image needs this machine's x86-64 glibc");
    }
    const s = nfdImageCompatibility(images['built-for-haswell']);
    const cpuid = allRules(s).flatMap((r) => r.matchFeatures ?? []).find((t) => t.feature === 'cpu.cpuid')!;
    expect(Object.keys(cpuid.matchExpressions!)).toEqual(expect.arrayContaining(['AVX2', 'FMA3', 'BMI2', 'SSE42', 'SSE4', 'MOVBE', 'AESNI']));
    expect(JSON.stringify(s)).toContain(NFD_KEYS.microarchTarget('haswell'));
    expect(nfdCpuidFlag('x86_64', 'avx512f')).toBe('AVX512F');
    expect(nfdCpuidFlag('aarch64', 'asimd')).toBe('ASIMD');
    expect(nfdCpuidFlag('x86_64', 'pku')).toBeUndefined();
  });

  it('say what they leave out: a glibc need is no host requirement', () => {
    const plan = planNfdImageCompatibility(images['bullseye-openmpi']!);
    expect(plan.omitted.map((o) => o.requirement)).toContain('glibc');
    expect(JSON.stringify(plan.spec)).not.toContain(NFD_KEYS.glibc);
  });
});

describe('NFD and containerspec check agree', () => {
  it('rule by rule, on every image and host', async () => {
    const disagreements: string[] = [];
    let compared = 0;
    for (const host of hosts()) {
      const features = nfdFeatures(host, nfdHostFeatures(host));
      for (const [name, facts] of Object.entries(images)) {
        const s = nfdImageCompatibility(facts);
        const report = await check(facts, host);
        const native = report.checks.find((c) => c.id === 'arch')?.status === 'pass';
        const nfdAll = allRules(s).every((r) => evalRule(r, features));
        for (const id of ['arch', 'microarch', 'kernel', 'gpu', 'mpi']) {
          if (id === 'microarch' && !native) continue; // the check itself says "not applicable" off the native arch
          const nfd = allRules(s).filter((r) => checkIdOf(r) === id).every((r) => evalRule(r, features));
          compared++;
          if (nfd !== checkOk(report, id)) disagreements.push(`${name} on ${host.name}: ${id} nfd=${nfd} check=${report.checks.find((c) => c.id === id)?.status}`);
        }
        if (nfdAll !== (report.verdict === 'compatible' && native)) disagreements.push(`${name} on ${host.name}: nfd=${nfdAll} verdict=${report.verdict}`);
      }
    }
    expect(disagreements).toEqual([]);
    expect(compared).toBeGreaterThan(300);
  });

  it('the matrix holds passes and fails of every kind (so agreement is not vacuous)', async () => {
    const outcome = async (image: string, host: HostFacts) => {
      const s = nfdImageCompatibility(images[image]!);
      return allRules(s).every((r) => evalRule(r, nfdFeatures(host, nfdHostFeatures(host))));
    };
    expect(await outcome('bullseye-openmpi', here)).toBe(true);
    expect(await outcome('bullseye-openmpi', applySets(here, { kernel: '3.1.99' }))).toBe(false);
    expect(await outcome('bullseye-openmpi', applySets(here, { mpi: 'openmpi@4.1.4' }))).toBe(true);
    // the hybrid model (issue 13): an older or other-family host MPI only warns, as no host MPI does
    expect(await outcome('bullseye-openmpi', applySets(here, { mpi: 'openmpi@4.0.3' }))).toBe(true);
    expect(await outcome('bullseye-openmpi', applySets(here, { mpi: 'mpich@4.2.1' }))).toBe(true);
    expect(await outcome('trixie-mpich-cuda', here)).toBe(false); // no GPU
    expect(await outcome('trixie-mpich-cuda', gpuHost(here, '550.54.15', 'geforce'))).toBe(true);
    expect(await outcome('trixie-mpich-cuda', gpuHost(here, '535.104.05', 'geforce'))).toBe(false); // CUDA 12.2 < 12.4, not tesla
    expect(await outcome('trixie-mpich-cuda', gpuHost(here, '535.104.05', 'tesla'))).toBe(true); // brand=tesla,driver>=535,driver<536
    expect(await outcome('cuda-runtime-only', gpuHost(here, '535.104.05', 'geforce'))).toBe(true); // minor-version compatibility
    expect(await outcome('cuda-runtime-only', gpuHost(here, '470.82.01', 'geforce'))).toBe(false);
    expect(await outcome('cuda-runtime-only', gpuHost(here, '470.82.01', 'tesla'))).toBe(true); // forward compatibility
    expect(await outcome('bookworm-arm64', here)).toBe(false);
    expect(await outcome('bookworm-arm64', cpuHost(here, 'neoverse_n1', 'arm64'))).toBe(true);
    if (images['built-for-zen3']) {
      expect(await outcome('built-for-zen3', cpuHost(here, 'zen4'))).toBe(true);
      expect(await outcome('built-for-zen3', cpuHost(here, 'haswell'))).toBe(false);
      expect(await outcome('built-for-icelake', cpuHost(here, 'skylake_avx512'))).toBe(false);
    }
  });

  it('a host with an older glibc than the image needs: both say it runs (the image brings its own glibc)', async () => {
    const old = applySets(here, { glibc: '2.17' });
    const facts = images['trixie-mpich-cuda']!;
    expect(compareVersions('2.17', facts.requires.glibc!.version)).toBeLessThan(0);
    const nfd = allRules(nfdImageCompatibility(facts)).filter((r) => checkIdOf(r) !== 'gpu').every((r) => evalRule(r, nfdFeatures(old, nfdHostFeatures(old))));
    const report = await check(facts, old);
    expect(nfd).toBe(true);
    expect(report.checks.filter((c) => c.id !== 'gpu').every((c) => c.status === 'pass' || c.status === 'warn')).toBe(true);
  });

  it('an emulated architecture is the one documented difference: check warns, NFD asks for a native host', async () => {
    const emu = applySets(here, { emulators: 'arm64' });
    const facts = images['bookworm-arm64']!;
    expect((await check(facts, emu)).checks.find((c) => c.id === 'arch')?.status).toBe('warn');
    expect(allRules(nfdImageCompatibility(facts)).every((r) => evalRule(r, nfdFeatures(emu, nfdHostFeatures(emu))))).toBe(false);
    expect(planNfdImageCompatibility(facts).omitted.some((o) => o.requirement === 'arch' && /emulator/.test(o.reason))).toBe(true);
  });
});

describe('host feature file', () => {
  it("publishes this host's facts under containerspec.io/, as NFD reads them", () => {
    const text = nfdHostFeatures(here);
    const { features, labels } = parseFeatureFile(text);
    expect(features[NFD_KEYS.arch]).toBe(here.platform.architecture);
    if (here.cpu.microarch) {
      expect(features[NFD_KEYS.microarch]).toBe(here.cpu.microarch);
      for (const t of [here.cpu.microarch, ...spec.ancestors(here.cpu.microarch)]) expect(features[NFD_KEYS.microarchTarget(t)]).toBe('true');
    }
    if (here.libc.family === 'glibc' && here.libc.version) expect(features[NFD_KEYS.glibc]).toBe(String(nfdVersionNumber(here.libc.version)));
    expect(Object.keys(features).every((k) => k.startsWith('containerspec.io/'))).toBe(true);
    expect(labels).toEqual(features);
    expect(Buffer.byteLength(text)).toBeLessThan(65536);
  });

  it('writes driver, MPI, labels off and an expiry as asked', () => {
    const h = applySets(gpuHost(here, '535.104.05', 'Tesla'), { mpi: 'mpich@4.2.1' });
    const f = parseFeatureFile(nfdHostFeatures(h)).features;
    expect(f).toMatchObject({
      [NFD_KEYS.cudaDriver]: '535104005', [NFD_KEYS.cudaMax]: '12002000', [NFD_KEYS.cudaBrand]: 'tesla', [NFD_KEYS.cudaArch]: '8000000',
      [NFD_KEYS.mpi]: '1', [NFD_KEYS.mpiLibrary('mpich', 'mpich')]: 'true', [NFD_KEYS.mpiMinor('mpich', 'mpich', 4)]: '2',
    });
    const noLabels = parseFeatureFile(nfdHostFeatures(h, { labels: false }));
    expect(noLabels.labels).toEqual({});
    expect(noLabels.features).toEqual(f);
    expect(parseFeatureFile(nfdHostFeatures(h, { expiryTime: new Date(Date.now() - 1000) })).features).toEqual({});
    expect(nfdHostFeatures(h, { expiryTime: new Date('2080-07-28T11:22:33.456Z') })).toContain('# +expiry-time=2080-07-28T11:22:33Z\n');
  });

  it('versions as integers that order as the versions do', () => {
    expect(nfdVersionNumber('2.36')).toBe(2036000);
    expect(nfdVersionNumber('535.104.05')).toBe(535104005);
    expect(nfdVersionNumber('12.4')).toBe(12004000);
    expect(nfdVersionNumber('12.4.0.0')).toBe(12004000);
    expect(nfdVersionNumber('2.36.9000')).toBeNull();
    expect(nfdVersionNumber('1.2.3.4')).toBeNull();
    expect(nfdVersionNumber('none')).toBeNull();
    const vs = ['2.17', '2.28', '2.31', '2.36', '2.41', '10.0', '535.54.03', '535.104.05'];
    for (const a of vs) for (const b of vs) expect(Math.sign(nfdVersionNumber(a)! - nfdVersionNumber(b)!)).toBe(compareVersions(a, b));
  });

  it('is written atomically: a hidden temporary file in the same directory, renamed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-nfd-d-'));
    try {
      const file = join(dir, 'containerspec');
      await writeNfdFeatures(here, file);
      await writeNfdFeatures(applySets(here, { mpi: 'openmpi@4.1.4' }), file);
      expect(readdirSync(dir)).toEqual(['containerspec']);
      expect(readFileSync(file, 'utf8')).toBe(nfdHostFeatures(applySets(here, { mpi: 'openmpi@4.1.4' })));
      const missing = join(dir, 'no-such-dir', 'containerspec');
      await expect(writeNfdFeatures(here, missing)).rejects.toThrow(UsageError);
      await expect(writeNfdFeatures(here, missing)).rejects.toThrow(/^--nfd .*: directory .* does not exist[^\n]*$/);
      await expect(writeNfdFeatures(here, join(dir, '.hidden'))).rejects.toThrow(/starts? with a dot/);
      mkdirSync(join(dir, 'a-directory'));
      await expect(writeNfdFeatures(here, join(dir, 'a-directory'))).rejects.toThrow(/^--nfd .*a-directory: cannot write it \(E[A-Z]+\)$/);
      expect(readdirSync(dir).sort()).toEqual(['a-directory', 'containerspec']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('containerspec host --nfd FILE', () => {
  it('writes the feature file (and nothing else) that nfdHostFeatures makes for this host; a missing directory is exit 2', async () => {
    const { buildCli, errorLine, runCli, show } = await import('./helpers/cli.js');
    await buildCli();
    const dir = mkdtempSync(join(tmpdir(), 'cs-nfd-cli-'));
    const file = join(dir, 'containerspec');
    const r = await runCli(['host', '--nfd', file]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toContain(file);
    expect(readdirSync(dir)).toEqual(['containerspec']);
    const written = readFileSync(file, 'utf8');
    expect(written).toBe(nfdHostFeatures(await hostFacts()));
    const bad = await runCli(['host', '--nfd', join(dir, 'no-such-dir', 'f')]);
    expect(bad.code).toBe(2);
    expect(errorLine(bad)).toContain('no-such-dir');
    rmSync(dir, { recursive: true, force: true });
  });
});
