import { loadArchspec } from '../arch/index.js';
import { UsageError } from '../errors/index.js';
import { maxCudaForDriver, minimumDriverFor } from '../gpu/cuda-table.js';
import { MACHINE_TO_OCI } from '../image/platform.js';
import type { HostFacts, MpiFact } from '../model/facts.js';
import { parseVersion } from '../util/version.js';
import { table } from '../util/own.js';

/** Known OCI architecture names. */
const ARCHES = new Set(['amd64', 'arm64', 'ppc64le', 'ppc64', 's390x', 'riscv64', '386', 'arm', 'mips64le', 'loong64']);

const MPI_IMPLS = table<{ impl: MpiFact['implementation']; abi: MpiFact['abi']; soname: string }>({
  openmpi: { impl: 'openmpi', abi: 'openmpi', soname: 'libmpi.so.40' },
  mpich: { impl: 'mpich', abi: 'mpich', soname: 'libmpi.so.12' },
  intel: { impl: 'intel', abi: 'mpich', soname: 'libmpi.so.12' },
  intelmpi: { impl: 'intel', abi: 'mpich', soname: 'libmpi.so.12' },
  mvapich: { impl: 'mvapich', abi: 'mpich', soname: 'libmpi.so.12' },
  mvapich2: { impl: 'mvapich', abi: 'mpich', soname: 'libmpi.so.12' },
  cray: { impl: 'cray', abi: 'mpich', soname: 'libmpi_cray.so.12' },
});

/** `--set` keys, with what each sets and an example. */
export const SET_KEYS = table<string>({
  arch: 'host architecture (amd64, arm64, ppc64le, ...), e.g. arch=arm64',
  microarch: 'archspec target of the host CPU, e.g. microarch=zen3',
  kernel: 'host kernel release, e.g. kernel=5.14.0',
  glibc: 'host glibc version (compared in provenance drift), e.g. glibc=2.28',
  'cuda.driver': 'NVIDIA driver version, or none, e.g. cuda.driver=535.54.03',
  'cuda.version': "highest CUDA the host's driver supports, as conda's CONDA_OVERRIDE_CUDA, e.g. cuda.version=12.4 (with no driver known: the driver table's minimum for it)",
  'cuda.brand': 'GPU brand as NVIDIA_REQUIRE_* names it (tesla, geforce, ...)',
  'cuda.arch': 'GPU compute capability, e.g. cuda.arch=8.0',
  mpi: 'host MPI as impl@version, or none, e.g. mpi=openmpi@4.1.4',
  emulators: 'comma-separated architectures the host emulates (binfmt), or none',
});

function needVersion(key: string, v: string): string {
  if (!parseVersion(v) || !/^\d/.test(v.trim())) throw new UsageError(`--set ${key}=${v}: not a version (e.g. ${SET_KEYS[key]?.split('e.g. ')[1] ?? '1.2.3'})`);
  return v.trim();
}

/** Parse `KEY=VALUE` strings; unknown keys and bad values are usage errors naming the valid ones. */
export function parseSets(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of list) {
    const i = s.indexOf('=');
    if (i <= 0) throw new UsageError(`--set ${s}: expected KEY=VALUE (keys: ${Object.keys(SET_KEYS).join(', ')})`);
    const key = s.slice(0, i).trim();
    if (!(key in SET_KEYS)) throw new UsageError(`--set: unknown key ${JSON.stringify(key)} (keys: ${Object.keys(SET_KEYS).join(', ')})`);
    out[key] = s.slice(i + 1).trim();
  }
  return out;
}

/** Apply `--set` overrides to host facts (a what-if, like conda's CONDA_OVERRIDE_*); each override is recorded as evidence. */
export function applySets(host: HostFacts, sets: Record<string, string>): HostFacts {
  const f: HostFacts = structuredClone(host);
  const ev = (key: string, value: string) => ({ source: 'set', detail: `${key}=${value}` });
  for (const [key, value] of Object.entries(sets)) {
    switch (key) {
      case 'arch': {
        const a = MACHINE_TO_OCI[value] ?? value;
        if (!ARCHES.has(a)) throw new UsageError(`--set arch=${value}: unknown architecture (one of ${[...ARCHES].join(', ')})`);
        f.platform = { ...f.platform, architecture: a, variant: a === 'arm64' ? 'v8' : null, evidence: [ev(key, value)] };
        if (f.cpu.microarch) {
          const spec = loadArchspec();
          if (spec.has(f.cpu.microarch) && (MACHINE_TO_OCI[spec.family(f.cpu.microarch)] ?? spec.family(f.cpu.microarch)) !== a) f.cpu = { ...f.cpu, microarch: null };
        }
        break;
      }
      case 'microarch': {
        const spec = loadArchspec();
        if (!spec.has(value)) throw new UsageError(`--set microarch=${value}: not an archspec target (e.g. haswell, zen3, neoverse_v1, power9le)`);
        f.cpu = { ...f.cpu, microarch: value, family: spec.family(value), evidence: [ev(key, value)] };
        break;
      }
      case 'kernel':
        f.kernel = { ...f.kernel, release: needVersion(key, value), evidence: [ev(key, value)] };
        break;
      case 'glibc':
        f.libc = { ...f.libc, family: 'glibc', version: needVersion(key, value), evidence: [ev(key, value)] };
        break;
      case 'cuda.driver':
        if (value === 'none') {
          f.gpu = { ...f.gpu, driver: null, driverSource: null, cudaMax: null, devices: f.gpu.devices.filter((d) => d.vendor !== 'nvidia'), evidence: [ev(key, value)] };
        } else {
          const d = needVersion(key, value);
          f.gpu = { ...f.gpu, driver: d, driverSource: { kind: 'set', path: null }, cudaMax: maxCudaForDriver(d), evidence: [ev(key, value)] };
        }
        break;
      case 'cuda.version':
        break; // after every other key (below): it refines whatever driver cuda.driver set
      case 'cuda.brand':
        f.gpu = { ...f.gpu, brand: value.toLowerCase(), evidence: [...f.gpu.evidence, ev(key, value)] };
        break;
      case 'cuda.arch':
        f.gpu = { ...f.gpu, computeCapability: needVersion(key, value), evidence: [...f.gpu.evidence, ev(key, value)] };
        break;
      case 'mpi': {
        if (value === 'none') {
          f.mpi = [];
          break;
        }
        const m = /^([a-z0-9]+)@(\d+(?:\.\d+)*)$/.exec(value.toLowerCase());
        const known = m ? MPI_IMPLS[m[1]!] : undefined;
        if (!m || !known) throw new UsageError(`--set mpi=${value}: expected IMPL@VERSION with IMPL one of ${Object.keys(MPI_IMPLS).join(', ')} (e.g. openmpi@4.1.4), or none`);
        f.mpi = [{ implementation: known.impl, version: m[2]!, abi: known.abi, soname: known.soname, path: '', evidence: [ev(key, value)] }];
        break;
      }
      case 'emulators': {
        const list = value === 'none' ? [] : value.split(',').map((a) => MACHINE_TO_OCI[a.trim()] ?? a.trim());
        for (const a of list) if (!ARCHES.has(a)) throw new UsageError(`--set emulators=${value}: unknown architecture ${a}`);
        f.emulators = list.map((a) => ({ name: `set-${a}`, architecture: a, interpreter: null, flags: null, fixBinary: false, path: null }));
        break;
      }
    }
  }
  // cuda.version (conda's CONDA_OVERRIDE_CUDA habit): the highest CUDA of the driver, whichever order the keys came in.
  if (sets['cuda.version'] !== undefined) {
    const value = sets['cuda.version'];
    if (!/^\d+\.\d+$/.test(value)) throw new UsageError(`--set cuda.version=${value}: expected MAJOR.MINOR, e.g. cuda.version=12.4`);
    if (sets['cuda.driver'] === 'none') throw new UsageError(`--set cuda.version=${value} contradicts --set cuda.driver=none`);
    let driver = f.gpu.driver;
    let source = f.gpu.driverSource;
    if (!driver) {
      driver = minimumDriverFor(value);
      if (!driver) throw new UsageError(`--set cuda.version=${value}: the CUDA driver table does not list CUDA ${value}; give the driver with --set cuda.driver=VERSION`);
      source = { kind: 'set', path: null };
    }
    f.gpu = { ...f.gpu, driver, driverSource: source, cudaMax: value, evidence: [...f.gpu.evidence, { source: 'set', detail: `cuda.version=${value}${f.gpu.driver ? '' : ` (driver: the table's minimum for CUDA ${value}, ${driver})`}` }] };
  }
  // A CPU target must belong to the host's architecture, whichever order the keys came in.
  if (sets.microarch && f.platform.architecture) {
    const spec = loadArchspec();
    const fam = spec.family(sets.microarch);
    const famArch = MACHINE_TO_OCI[fam] ?? fam;
    if (famArch !== f.platform.architecture) {
      throw new UsageError(`--set microarch=${sets.microarch}: a ${fam} target, but the host is ${f.platform.architecture} (add --set arch=${famArch})`);
    }
  }
  return f;
}
