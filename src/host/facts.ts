import { lstatSync } from 'node:fs';
import { machine as osMachine } from 'node:os';
import { join } from 'node:path';
import { detectTarget, inferMachine, loadArchspec, parseCpuinfo } from '../arch/index.js';
import { MACHINE_TO_OCI } from '../image/platform.js';
import { emptyCpu, emptyHostFacts } from '../model/empty.js';
import type { HostFacts, PlatformFacts } from '../model/facts.js';
import { binfmtEmulators, emulatorFact } from './binfmt.js';
import { gpuFacts } from './gpu.js';
import { kernelFacts, type KernelConfigChoice } from './kernel.js';
import { ldCacheDirs } from './ldcache.js';
import { hostPaths, isLiveProc, listDir, procPath, readTextQuiet, resolveInRoot, type HostPaths } from './paths.js';
import { RootScanCache, type RootScan } from './scan-cache.js';
import { systemFacts } from './system.js';
import { defaultCacheDir } from '../cache/dir.js';
import { readLimits } from '../limits.js';

/** Options for {@link hostFacts}. */
export interface HostOptions {
  /** Root filesystem to read libraries and os-release from (default `/`). */
  root?: string | undefined;
  /** procfs copy or mount (default `/proc`). */
  proc?: string | undefined;
  /** sysfs copy or mount (default `/sys`). */
  sys?: string | undefined;
  /** Also ask systeminformation (slower: spawns processes). */
  slow?: boolean | undefined;
  /** A microarchitectures.json to use instead of the vendored one. */
  archspec?: string | undefined;
  /**
   * Where to keep the library scan between runs (scan-cache.ts: used only while every directory
   * and file it read is unchanged): a cache directory, or false for none. Default: the
   * containerspec cache directory. None when `CONTAINERSPEC_NO_CACHE=1`, whatever this says.
   */
  cache?: string | false | undefined;
  /**
   * How much of the kernel's build configuration to keep: `selected` (default: the options in
   * src/host/kernel.ts `SELECTED_KCONFIG`), `full`, or `none` (not read; for callers that need no
   * config, such as Slurm features).
   */
  kernelConfig?: KernelConfigChoice | undefined;
}

/** Library directories read on a host root, relative to it. Subdirectories one level down are read too (nvidia/current, openmpi/lib). */
const LIB_DIRS = [
  'lib', 'lib64', 'usr/lib', 'usr/lib64', 'usr/local/lib', 'usr/local/lib64',
  'usr/lib/x86_64-linux-gnu', 'usr/lib/aarch64-linux-gnu', 'usr/lib/powerpc64le-linux-gnu', 'usr/lib/riscv64-linux-gnu', 'usr/lib/s390x-linux-gnu',
  'lib/x86_64-linux-gnu', 'lib/aarch64-linux-gnu', 'lib/powerpc64le-linux-gnu',
  'usr/local/cuda/lib64', 'usr/local/cuda/compat', 'usr/local/nvidia/lib64', 'opt/cray/pe/lib64',
];

/** Most ld.so.conf files read (includes of includes), and most modulefiles read, per host. */
const MAX_CONF_FILES = 256;

/** A root-relative path as the root sees it: symlinks and `..` resolved inside the root, never above it. */
const clean = (abs: string) => abs.replace(/^\/+|\/+$/g, '');

/**
 * Extra library directories named by ld.so.conf (its `include` lines and globs, as ldconfig reads
 * them) and environment-modules modulefiles (the loader cache is read by ldCacheDirs). Every path
 * named inside the root is resolved inside it (resolveInRoot), so a `/..` in a file reaches nothing
 * outside; every file read is capped, and only regular files are opened (readCapped).
 */
async function extraLibDirs(root: string): Promise<string[]> {
  const dirs = new Set<string>();
  const readIn = async (abs: string) => readTextQuiet(await resolveInRoot(root, clean(abs)), 1024 * 1024);
  const listIn = async (abs: string) => (await listDir(await resolveInRoot(root, clean(abs)))) ?? [];
  // ld.so.conf: directories, and `include PATTERN` (a glob in the last component, as ldconfig uses).
  const pending = ['/etc/ld.so.conf'];
  const seen = new Set<string>();
  while (pending.length && seen.size < MAX_CONF_FILES) {
    const file = pending.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const l of ((await readIn(file)) ?? '').split('\n')) {
      const t = l.replace(/#.*/, '').trim();
      const inc = /^include\s+(\S+)$/.exec(t);
      if (inc) {
        const pat = inc[1]!.startsWith('/') ? inc[1]! : `/etc/${inc[1]!}`;
        const slash = pat.lastIndexOf('/');
        const dir = pat.slice(0, slash) || '/';
        const glob = new RegExp(`^${pat.slice(slash + 1).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
        for (const name of (await listIn(dir)).filter((x) => glob.test(x)).sort()) pending.push(`${dir}/${name}`);
      } else if (t.startsWith('/') && !t.includes('*')) dirs.add(clean(t));
    }
  }
  // environment-modules: directories listed in modulespath, and prepend-path LD_LIBRARY_PATH in modulefiles
  const modulespath = (await readIn('/etc/environment-modules/modulespath')) ?? '';
  let files = 0;
  for (const l of modulespath.split(/[\n:]/)) {
    const t = l.replace(/#.*/, '').trim();
    if (!t.startsWith('/')) continue;
    const top = await resolveInRoot(root, clean(t));
    const stack = [''];
    while (stack.length && files < MAX_CONF_FILES) {
      const rel = stack.pop()!;
      for (const name of (await listDir(join(top, rel))) ?? []) {
        const sub = rel ? `${rel}/${name}` : name;
        const st = lstatSync(join(top, sub), { throwIfNoEntry: false });
        if (st?.isDirectory()) stack.push(sub);
        else if (st?.isFile() && files++ < MAX_CONF_FILES) {
          const text = await readTextQuiet(join(top, sub), 1024 * 1024);
          for (const m of (text ?? '').matchAll(/(?:prepend|append)-path\s+LD_LIBRARY_PATH\s+(\/\S+)/g)) dirs.add(clean(m[1]!));
        }
      }
    }
  }
  return [...dirs];
}

/** A host's machine name and where it came from. */
type Machine = { machine: string | null; source: string };

/** The machine name: proc/sys/kernel/arch when present, the live uname on the real host, else inferred from cpuinfo. */
function machineOf(paths: HostPaths, kernelMachine: string | null, cpuinfo: string | null): Machine {
  if (kernelMachine) return { machine: kernelMachine, source: 'proc/sys/kernel/arch' };
  if (isLiveProc(paths)) return { machine: osMachine(), source: 'uname' };
  const m = cpuinfo ? inferMachine(cpuinfo) : null;
  return { machine: m, source: 'inferred from cpuinfo' };
}

/**
 * The machine, read before the probes start: the library scan needs it (its cache is keyed by it),
 * and waiting for the kernel probe, which reads the same small file for its evidence, would put
 * the probe before the scan instead of beside it.
 */
async function machineNow(paths: HostPaths, cpuinfo: string | null): Promise<Machine> {
  const arch = (await readTextQuiet(procPath(paths, 'sys/kernel/arch')))?.trim() || null;
  return machineOf(paths, arch, cpuinfo);
}

/**
 * The file-derived part of host facts (platform, os-release, libc, MPI, CUDA): the extractors over
 * the host root's library directories, or the kept scan when nothing it read has changed.
 */
async function scanRoot(paths: HostPaths, m: Machine, cacheOpt: string | false | undefined): Promise<RootScan> {
  const [extra, cached] = await Promise.all([extraLibDirs(paths.root), ldCacheDirs(paths.root)]);
  const machine = m.machine;
  const libDirs = new Set([...LIB_DIRS, ...extra, ...cached]);
  const dir = cacheOpt === false || process.env.CONTAINERSPEC_NO_CACHE === '1' ? null : (cacheOpt ?? defaultCacheDir());
  const cache = dir === null ? null : new RootScanCache(dir);
  const key = RootScanCache.key(paths.root, [...libDirs], m);
  const kept = cache?.get(paths.root, key);
  if (kept) return kept;
  const started = Date.now();
  // The walker and the extractors are loaded only when the scan runs (a kept scan needs neither).
  const [{ extract, wantsFor }, { scanTree }, { baseOf }, { ImageView }] = await Promise.all([
    import('../extract/index.js'), import('../layers/dir-scan.js'), import('../layers/paths.js'), import('../layers/view.js'),
  ]);
  const wants = wantsFor('host');
  const wanted = new Set<string>(['etc', 'usr', 'usr/lib', 'var', 'var/lib', 'var/lib/dpkg', 'lib', 'usr/local', 'opt']);
  // Below a library directory, only MPI / NVIDIA / CUDA subdirectories (openmpi/lib, nvidia/current).
  const isLibDir = (p: string): boolean => {
    if (libDirs.has(p)) return true;
    const parent = p.slice(0, p.lastIndexOf('/'));
    return /(?:mpi|mpich|nvidia|cuda|current|lib|lib64)$/i.test(baseOf(p)) && (libDirs.has(parent) || isLibDir(parent));
  };
  const ancestors = new Set<string>();
  for (const d of libDirs) for (let i = d.indexOf('/'); i > 0; i = d.indexOf('/', i + 1)) ancestors.add(d.slice(0, i));
  const touched: string[] = [];
  const scan = await scanTree(paths.root, 0, wants, {
    descend: (p) => wanted.has(p) || ancestors.has(p) || isLibDir(p) || p === 'etc/ld.so.conf.d',
    // Links the extractors follow: top-level merged-/usr links, /etc, and the files whose content they read.
    readLink: (p) => !p.includes('/') || p.startsWith('etc/') || wants.wantsContent(p),
    maxEntries: 200_000,
    fullMetadata: false,
    touched: (p) => touched.push(p),
  });
  const view = ImageView.fromScans([scan], { checkLoops: false }); // a host's own symlinks are not the image's problem
  // The platform comes from the machine, not from the host's libraries.
  const arch = machine ? (MACHINE_TO_OCI[machine] ?? machine) : null;
  const platform: PlatformFacts = { os: 'linux', architecture: arch, variant: arch === 'arm64' ? 'v8' : null, evidence: [{ source: m.source, detail: machine ?? 'unknown' }] };
  const found = extract({ view, kind: 'host', config: null, platform: null }, { platform });
  const out: RootScan = {
    platform: found.platform,
    os: found.os,
    libc: found.libc,
    mpi: found.mpi,
    cuda: found.cuda,
    stats: { ...found.stats, layers: 0, bytes: scan.bytes.tar },
    warnings: [...scan.warnings, ...found.warnings],
  };
  cache?.put(paths.root, key, touched, out, started);
  return out;
}

/**
 * Host facts: the same extractors as for images over the host's root filesystem (libc, MPI,
 * GPU libraries, os-release), plus live probes: CPU microarchitecture (archspec), kernel,
 * NVIDIA/AMD GPU, binfmt emulators, and system basics. Never throws for a missing source.
 */
export async function hostFacts(opts: HostOptions = {}): Promise<HostFacts> {
  readLimits();
  const paths = hostPaths({
    ...(opts.root ? { root: opts.root } : {}),
    ...(opts.proc ? { proc: opts.proc } : {}),
    ...(opts.sys ? { sys: opts.sys } : {}),
  });
  const spec = loadArchspec(opts.archspec);
  const cpuinfo = await readTextQuiet(procPath(paths, 'cpuinfo'));
  const m = await machineNow(paths, cpuinfo);
  const [scan, kernel, gpu, binfmt, system] = await Promise.all([
    scanRoot(paths, m, opts.cache),
    kernelFacts(paths, { config: opts.kernelConfig ?? 'selected' }),
    gpuFacts(paths),
    binfmtEmulators(paths),
    systemFacts({ slow: Boolean(opts.slow), paths, cpuinfo }),
  ]);
  const facts = emptyHostFacts(system.hostname ?? 'host');
  Object.assign(facts, scan);
  if (cpuinfo && m.machine) {
    const kv = parseCpuinfo(cpuinfo);
    const target = detectTarget(spec, cpuinfo, m.machine);
    facts.cpu = {
      microarch: target,
      vendor: kv.vendor_id ?? kv['CPU implementer'] ?? null,
      family: spec.has(target) ? spec.family(target) : m.machine,
      model: kv['model name'] ?? kv.cpu ?? kv.uarch ?? null,
      features: (kv.flags ?? kv.Features ?? '').split(/\s+/).filter(Boolean),
      cores: system.cpu.logical,
      evidence: [{ source: 'proc', path: procPath(paths, 'cpuinfo'), detail: `archspec ${spec.source}` }],
    };
  } else {
    facts.cpu = { ...emptyCpu(), cores: system.cpu.logical };
    facts.warnings.push({ code: 'no-cpuinfo', message: `no cpuinfo at ${procPath(paths, 'cpuinfo')}: the CPU microarchitecture is unknown` });
  }
  facts.kernel = { ...kernel, machine: m.machine };
  facts.gpu = gpu;
  facts.emulators = binfmt.emulators.map(emulatorFact);
  facts.binfmt = { status: binfmt.binfmtStatus, evidence: binfmt.evidence };
  facts.system = system;
  return facts;
}
