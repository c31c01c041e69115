import { readFile } from 'node:fs/promises';
import { loadArchspec, type Archspec } from '../arch/index.js';
import { parseElf, type ElfInfo } from '../elf/index.js';
import { FactsError, NotFoundError } from '../errors/index.js';
import { cudaCompatibility, minimumDriverFor } from '../gpu/cuda-table.js';
import { describeRequirement, evaluateRequirements } from '../gpu/nvidia-require.js';
import { parseJson } from '../image/blob-store.js';
import type { Facts } from '../model/facts.js';
import { REPORT_SCHEMA_VERSION, type Check, type CheckId, type Report } from '../model/report.js';
import { compareVersions } from '../util/version.js';
import { compileImage, prepareHost, type CompiledImage, type PreparedHost } from './compile.js';
import { applySets } from './overrides.js';
import {
  FAIL, PASS, PENALTY, UNKNOWN, WARN, better, compareMpi, pack, penaltyOf, requiredOf, ruleArch, ruleGpu, ruleKernel, ruleLibc,
  ruleMicroarch, ruleMpi, runtimeCuda, statusOf, summarise, forwardCompatible,
} from './rules.js';
import { assertValid } from './validate.js';

const STATUS = ['pass', 'warn', 'unknown', 'fail'] as const;

/** Options for {@link check}. */
export interface CheckOptions {
  /** `--set` overrides, already parsed (KEY → VALUE). */
  set?: Record<string, string>;
  /** Host library paths to judge for bind-mounting into the image. */
  bind?: string[];
  /** Host facts recorded with earlier successful runs of the same run-spec (oldest first). */
  history?: Facts[];
  /** archspec database (default: the vendored one). */
  archspec?: Archspec;
}

function make(id: CheckId, o: number, message: string, host: unknown, image: unknown, fix?: string, evidence: Check['evidence'] = []): Check {
  const c: Check = { id, status: STATUS[statusOf(o)]!, required: requiredOf(o), message, penalty: penaltyOf(o), host, image, evidence };
  if (fix && c.status !== 'pass') c.fix = fix;
  return c;
}

const plat = (a: string | null, v: string | null) => (a ? `linux/${a}${v ? `/${v}` : ''}` : 'unknown');

function describeArch(ci: CompiledImage, ph: PreparedHost, o: number): Check {
  const img = plat(ci.arch, ci.variant);
  const host = plat(ph.arch, ph.variant);
  const s = statusOf(o);
  const msg =
    s === PASS ? `image is ${img}; host is ${host}`
    : s === WARN ? `image is ${img}, host is ${host}: runs emulated by a registered binfmt handler (qemu), slowly`
    : s === UNKNOWN ? `cannot tell: image architecture ${img}, host architecture ${host}`
    : `image is ${img} but this host is ${host}, and no emulator for ${ci.arch} is registered`;
  const fix = s === FAIL ? `use a ${host} image (for a multi-platform index: --platform ${host}), or register qemu-user-static for ${ci.arch}` : s === WARN ? `use a ${host} image for full speed` : undefined;
  return make('arch', o, msg, host, img, fix, [...ci.facts.platform.evidence, ...ph.facts.platform.evidence]);
}

function describeMicroarch(ci: CompiledImage, ph: PreparedHost, o: number, spec: Archspec): Check {
  const s = statusOf(o);
  const target = ci.target;
  let msg: string;
  let fix: string | undefined;
  if (!ci.arch || ci.arch !== ph.arch) msg = 'not applicable: the image does not run natively here';
  else if (ci.targetUnknown) {
    msg = `the image is built for ${target}, which the archspec database does not know`;
    fix = 'update the archspec data (CONTAINERSPEC_ARCHSPEC) or check the label';
  } else if (!ph.target) {
    msg = target ? `the image is built for ${target}; this host's CPU target is unknown` : 'generic image; this host\'s CPU target is unknown';
    if (target) fix = 'give the host\'s target with --set microarch=NAME or a host facts file';
  } else if (!target) {
    msg = `generic ${spec.family(ph.target)} image on a ${ph.target} host: runs, without this CPU's newer instructions`;
    fix = `an image built for ${ph.target} (or an ancestor closer to it) would use the CPU fully`;
  } else if (s === PASS) {
    msg = target === ph.target ? `the image is built for ${target}, exactly this host's target` : `the image is built for ${target}; this host (${ph.target}) is a descendant and runs it`;
  } else {
    msg = `the image is built for ${target}; this host is ${ph.target}, which ${spec.comparable(target, ph.target) ? 'is older' : 'is on another branch of the archspec graph'} and may lack its instructions (illegal instruction at run time)`;
    fix = `run on a ${target} (or newer) node, or use an image built for ${ph.target} or a generic one`;
  }
  return make('microarch', o, msg, ph.target, target, fix, [...(ci.facts.requires.microarch?.evidence ?? []), ...ph.facts.cpu.evidence]);
}

function describeKernel(ci: CompiledImage, ph: PreparedHost, o: number): Check {
  const need = ci.facts.requires.kernel?.version ?? null;
  const have = ph.facts.kernel.release;
  const s = statusOf(o);
  const msg = !need ? 'the image states no minimum kernel'
    : s === UNKNOWN ? `needs kernel >= ${need}; this host's kernel is unknown`
    : s === PASS ? `needs kernel >= ${need}; this host has ${have}`
    : `needs kernel >= ${need} (its libc's ABI tag); this host has ${have}`;
  return make('kernel', o, msg, have, need, s === FAIL ? `run on a node with kernel >= ${need}, or use an image with an older libc` : s === UNKNOWN ? 'give --set kernel=RELEASE' : undefined, ci.facts.requires.kernel?.evidence ?? []);
}

function describeLibc(ci: CompiledImage, o: number): Check {
  const need = ci.facts.requires.glibc;
  const lib = ci.facts.libc;
  const have = lib.family ? `${lib.family} ${lib.version ?? '?'}` : 'none';
  const s = statusOf(o);
  const msg = !need ? `no file in the image needs a versioned glibc (${have})`
    : s === PASS ? `the image's own glibc ${lib.version} provides GLIBC_${need.version}, the highest any of its files needs`
    : s === UNKNOWN ? `files need GLIBC_${need.version}; the image's glibc version is unknown`
    : lib.family === 'glibc' ? `the image is broken: /${need.evidence[0]?.path ?? '?'} needs GLIBC_${need.version} but the image's glibc is ${lib.version}`
    : `the image is broken: /${need.evidence[0]?.path ?? '?'} needs GLIBC_${need.version} but the image has ${have} libc`;
  return make('libc', o, msg, null, { libc: have, needs: need?.version ?? null }, s === FAIL ? 'rebuild the image so its binaries match its own C library' : undefined, [...lib.evidence, ...(need?.evidence ?? [])]);
}

function describeGpu(ci: CompiledImage, ph: PreparedHost, o: number): Check {
  const s = statusOf(o);
  const runtime = runtimeCuda(ci);
  const env = ci.facts.cuda.env;
  const needTxt = ci.gpuHasReq
    ? ci.gpuReq.requirements.map((r) => describeRequirement(r, {})).join('; and ') || 'NVIDIA_REQUIRE_* (malformed)'
    : runtime ? `CUDA ${runtime}` : 'a GPU';
  const minDriver = runtime ? minimumDriverFor(runtime) : null;
  const hostTxt = ph.driver ? `NVIDIA driver ${ph.driver}${ph.cudaMax ? ` (CUDA <= ${ph.cudaMax})` : ''}` : 'no NVIDIA driver';
  let msg: string;
  let fix: string | undefined;
  if (!ci.needsGpu) msg = 'the image needs no GPU';
  else if (!ph.driver) {
    msg = `needs an NVIDIA GPU${minDriver ? ` with driver >= ${minDriver}` : ''} (${needTxt}); this host has no NVIDIA driver`;
    fix = 'run on a GPU node (e.g. sbatch --gres=gpu:1)';
  } else if (ci.gpuHasReq) {
    const ev = evaluateRequirements(ci.gpuReq, ph.gpu);
    msg = s === WARN && runtime ? `${ev.message}; ${cudaCompatibility(runtime, ph.driver).message}` : ev.message;
    if (s === FAIL) fix = minDriver ? `needs an NVIDIA driver >= ${minDriver}; this host has ${ph.driver}` : `a driver that satisfies ${env.NVIDIA_REQUIRE_CUDA ?? 'the requirement'}`;
    if (s === UNKNOWN && ev.missing.length) fix = `tell the ${ev.missing.join(' and ')} with --set ${ev.missing.map((m) => (m === 'brand' ? 'cuda.brand=tesla' : m === 'arch' ? 'cuda.arch=8.0' : `cuda.${m}`)).join(' ')}`;
  } else if (runtime && minDriver) {
    const c = cudaCompatibility(runtime, ph.driver);
    msg = s === PASS ? `CUDA ${runtime} runtime; this host has ${hostTxt}` : c.message;
    if (s !== PASS) fix = `needs an NVIDIA driver >= ${minDriver}; this host has ${ph.driver}`;
  } else {
    msg = `the image needs CUDA ${runtime ?? '?'}, which the driver table does not list`;
    fix = 'update the CUDA driver table (CONTAINERSPEC_CUDA_TABLE)';
  }
  if (s === WARN) fix ??= minDriver ? `a driver >= ${minDriver} gives CUDA ${runtime} its full feature set` : undefined;
  if (s === PASS && ph.driver && runtime && minDriver && compareVersions(ph.driver, minDriver) < 0 && forwardCompatible(ci, ph, runtime)) {
    msg += `; CUDA ${runtime} runs through the image's forward-compatibility driver ${ci.facts.cuda.compatDriver} (datacenter GPU)`;
  }
  if (s === FAIL && ci.facts.cuda.compatDriver) msg += ` (the image ships forward-compatibility libraries for driver ${ci.facts.cuda.compatDriver}; they help only on datacenter GPUs)`;
  return make('gpu', o, msg, { driver: ph.driver, cudaMax: ph.cudaMax }, { needs: ci.needsGpu ? needTxt : null, runtime, env }, fix, ci.facts.cuda.evidence);
}

function describeMpi(ci: CompiledImage, ph: PreparedHost, o: number): Check {
  const s = statusOf(o);
  const show = (m: { raw: { implementation: string; version: string | null; soname: string | null; abi: string | null } }) =>
    `${m.raw.implementation} ${m.raw.version ?? '?'} (${m.raw.abi ?? '?'} ABI, ${m.raw.soname ?? '?'})`;
  const img = ci.mpi.map(show).join(', ');
  const host = ph.mpi.map(show).join(', ');
  let msg: string;
  let fix: string | undefined;
  if (!ci.mpi.length) msg = 'the image has no MPI library';
  else if (!ph.mpi.length) {
    msg = `the image's own MPI (${img}) works within one node; this host has no MPI to bind for multi-node runs`;
    fix = 'for multi-node jobs, run on a host with a compatible MPI (same ABI family, same major version)';
  } else {
    let best = ci.mpi[0]!;
    let bestHost = ph.mpi[0]!;
    let bestO = pack(FAIL, true);
    for (const im of ci.mpi) for (const hm of ph.mpi) {
      const c = compareMpi(im, hm);
      if (better(c, bestO)) {
        bestO = c; best = im; bestHost = hm;
      }
    }
    if (s === PASS) msg = `image ${show(best)}; host ${show(bestHost)}: same ABI, host minor version >= image's`;
    else if (s === WARN) msg = `image ${show(best)}; host ${show(bestHost)}: same MPICH ABI from another implementation (soname contract only)`;
    else if (s === UNKNOWN) msg = `image ${show(best)}; host ${show(bestHost)}: same ABI, but a version is unknown`;
    else if (best.abi !== bestHost.abi) msg = `image ${img} and host ${host} are different MPI ABI families`;
    else msg = `image ${show(best)} needs host ${best.raw.implementation} ${best.version?.[0] ?? '?'}.x with minor >= ${best.version?.[1] ?? '?'}; this host has ${show(bestHost)}`;
    if (s === FAIL) fix = `load a host MPI of the ${best.abi ?? '?'} ABI family, version ${best.version?.[0] ?? '?'}.${best.version?.[1] ?? '?'} or newer within ${best.version?.[0] ?? '?'}.x (e.g. module load ${best.raw.implementation})`;
  }
  return make('mpi', o, msg, ph.mpi.map((m) => m.raw), ci.mpi.map((m) => m.raw), fix, ci.mpi.flatMap((m) => m.raw.evidence));
}

/** bind: can a host library be bind-mounted into the image? Same arch, no GLIBC need beyond the image's glibc, DT_NEEDED satisfiable. */
async function checkBind(ci: CompiledImage, paths: string[]): Promise<Check[]> {
  const infos = new Map<string, ElfInfo>();
  for (const p of paths) {
    let data: Buffer;
    try {
      data = await readFile(p);
    } catch {
      throw new NotFoundError(`--bind ${p}: no such file on this host`, p);
    }
    const r = parseElf(data);
    if (!r.ok) throw new FactsError(`--bind ${p}: not a usable ELF library (${r.reason})`);
    infos.set(p, r.info);
  }
  const provided = new Set<string>(ci.facts.sonames ?? []);
  for (const [p, info] of infos) {
    provided.add(p.slice(p.lastIndexOf('/') + 1));
    if (info.soname) provided.add(info.soname);
  }
  const out: Check[] = [];
  for (const [p, info] of infos) {
    const problems: string[] = [];
    if (ci.arch && info.arch !== ci.arch) problems.push(`it is ${info.arch}, the image is ${ci.arch}`);
    let maxGlibc: string | null = null;
    for (const vn of info.versionNeeds) for (const v of vn.versions) {
      const m = /^GLIBC_(\d+(?:\.\d+)*)$/.exec(v);
      if (m && (!maxGlibc || compareVersions(m[1]!, maxGlibc) > 0)) maxGlibc = m[1]!;
    }
    const imgGlibc = ci.facts.libc.family === 'glibc' ? ci.facts.libc.version : null;
    let unknown = false;
    if (maxGlibc) {
      if (!imgGlibc) {
        if (ci.facts.libc.family === 'glibc') unknown = true;
        else problems.push(`it needs GLIBC_${maxGlibc} and the image has ${ci.facts.libc.family ?? 'no'} libc`);
      } else if (compareVersions(maxGlibc, imgGlibc) > 0) problems.push(`it needs GLIBC_${maxGlibc}, the image's glibc is ${imgGlibc}`);
    }
    const missing = info.needed.filter((n) => !provided.has(n));
    if (missing.length) problems.push(`its DT_NEEDED ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} neither in the image nor bound`);
    const o = problems.length ? pack(FAIL, true) : unknown ? pack(UNKNOWN, true, PENALTY.unknown) : pack(PASS, true);
    const msg = problems.length ? `cannot bind ${p}: ${problems.join('; ')}` : unknown ? `${p}: the image's glibc version is unknown` : `${p} can be bound: ${info.arch}, needs GLIBC ${maxGlibc ?? 'nothing'}, its DT_NEEDED are satisfied`;
    out.push(make('bind', o, msg, { path: p, arch: info.arch, needsGlibc: maxGlibc, needed: info.needed }, { arch: ci.arch, glibc: imgGlibc }, problems.length ? 'bind a library built for the image\'s architecture and an older glibc, and bind its dependencies too' : undefined, [{ source: 'elf', path: p }]));
  }
  return out;
}

/** Facts compared for provenance drift. */
function provenanceKeys(f: Facts): Record<string, string | null> {
  return {
    kernel: f.kernel.release,
    driver: f.gpu.driver,
    glibc: f.libc.version,
    microarch: f.cpu.microarch,
    mpi: f.mpi.map((m) => `${m.implementation}@${m.version ?? '?'}`).sort().join(',') || null,
  };
}

function checkProvenance(ph: PreparedHost, history: Facts[]): Check {
  const last = history[history.length - 1]!;
  const then = provenanceKeys(last);
  const now = provenanceKeys(ph.facts);
  const drift = Object.keys(now).filter((k) => then[k] !== now[k]);
  const penalty = Math.min(PENALTY.provenanceMax, PENALTY.provenanceDrift * drift.length);
  const o = drift.length ? pack(WARN, false, penalty) : pack(PASS, false);
  const msg = drift.length
    ? `differs from the last successful run (${history.length} recorded): ${drift.map((k) => `${k} ${then[k] ?? 'none'} -> ${now[k] ?? 'none'}`).join(', ')}`
    : `matches the last successful run (${history.length} recorded) in kernel, driver, glibc, microarch and MPI`;
  return make('provenance', o, msg, now, then, drift.length ? 'expect different results or performance; re-validate the run' : undefined, []);
}

/**
 * Check an image's facts against a host's facts: every rule of DESIGN.md "Compatibility rules",
 * a verdict, a score and, for each check, what to do.
 */
export async function check(image: Facts, host: Facts, opts: CheckOptions = {}): Promise<Report> {
  const spec = opts.archspec ?? loadArchspec();
  const hostFacts = opts.set && Object.keys(opts.set).length ? applySets(host, opts.set) : host;
  const ci = compileImage(image, spec);
  const ph = prepareHost(hostFacts, spec);
  const oArch = ruleArch(ci, ph);
  const oMicro = ruleMicroarch(ci, ph, spec);
  const oKernel = ruleKernel(ci, ph);
  const oLibc = ruleLibc(ci);
  const oGpu = ruleGpu(ci, ph);
  const oMpi = ruleMpi(ci, ph);
  const checks: Check[] = [
    describeArch(ci, ph, oArch),
    describeMicroarch(ci, ph, oMicro, spec),
    describeKernel(ci, ph, oKernel),
    describeLibc(ci, oLibc),
    describeGpu(ci, ph, oGpu),
    describeMpi(ci, ph, oMpi),
  ];
  if (opts.bind?.length) checks.push(...(await checkBind(ci, opts.bind)));
  if (opts.history?.length) checks.push(checkProvenance(ph, opts.history));
  const outcomes = checks.map((c) => pack(STATUS.indexOf(c.status), c.required, c.penalty));
  const { verdict, score } = summarise(outcomes);
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    verdict,
    score,
    image: { name: image.name, digest: image.digest ?? null, platform: plat(ci.arch, ci.variant) },
    host: { name: hostFacts.name, overrides: opts.set ?? {} },
    checks,
  };
}

const MAKE_FACTS = { host: 'containerspec host --json', image: 'containerspec inspect IMAGE --json' } as const;

/** Read a facts file, check it is of the wanted kind, and validate it against the facts schema. */
export async function readFactsFile(file: string, kind: 'host' | 'image'): Promise<Facts> {
  const where = `${kind} facts file ${file}`;
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch {
    throw new NotFoundError(`${where}: no such file`, file);
  }
  const v = parseJson(data, where) as Partial<Facts> | null;
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new FactsError(`${where}: not a JSON object`);
  if (v.kind !== kind) throw new FactsError(`${where}: not ${kind} facts (kind is ${JSON.stringify(v.kind)}; make one with "${MAKE_FACTS[kind]}")`);
  await assertValid('facts', v, where);
  return v as Facts;
}

/** Read and validate a host facts file (from `containerspec host --json`). */
export function readHostFacts(file: string): Promise<Facts> {
  return readFactsFile(file, 'host');
}

