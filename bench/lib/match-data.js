// Seeded generator of realistic host and image fact sets for the match figure. The same seed
// gives the same facts in the main thread and in every worker.
import { loadArchspec } from '../../dist/arch/index.js';
import { maxCudaForDriver } from '../../dist/gpu/cuda-table.js';
import { emptyHostFacts, emptyImageFacts } from '../../dist/model/empty.js';
import { rng } from './util.js';

export const SEED = 20240611;

const ARCH_FAMILY = { amd64: 'x86_64', arm64: 'aarch64', ppc64le: 'ppc64le' };
const MACHINE = { amd64: 'x86_64', arm64: 'aarch64', ppc64le: 'ppc64le' };

/** Kernel lines: base release, the glibc the distribution ships, and how releases are spelled. */
const KERNELS = [
  { w: 15, base: '3.10.0', glibc: [17, 17], rel: (r) => `3.10.0-${r.pick([957, 1062, 1127, 1160])}.${r.int(1, 119)}.1.el7` },
  { w: 35, base: '4.18.0', glibc: [28, 28], rel: (r) => `4.18.0-${r.pick([305, 348, 372, 425, 477, 513, 553])}.${r.int(1, 60)}.1.el8_${r.int(4, 10)}` },
  { w: 30, base: '5.14.0', glibc: [34, 34], rel: (r) => `5.14.0-${r.pick([70, 162, 284, 362, 427, 503])}.${r.int(1, 40)}.1.el9_${r.int(0, 5)}` },
  { w: 20, base: '6.1', glibc: [36, 41], rel: (r) => `6.1.${r.int(0, 140)}-${r.int(1, 30)}-${r.pick(['amd64', 'cloud-amd64', 'generic'])}` },
];

/** ~20 NVIDIA driver releases seen on clusters. */
const DRIVERS = [
  '418.87.01', '440.33.01', '450.80.02', '460.32.03', '470.57.02', '470.82.01', '470.256.02', '510.47.03', '515.65.01',
  '520.61.05', '525.60.13', '525.147.05', '530.30.02', '535.54.03', '535.104.05', '535.183.01', '545.23.08',
  '550.54.15', '550.127.05', '555.42.06', '560.35.03', '570.86.15', '575.57.08',
];
const COMPUTE = ['7.0', '7.5', '8.0', '8.6', '8.9', '9.0'];

const HOST_MPI = [
  { w: 6, impl: 'openmpi', abi: 'openmpi', v: ['3.1.6', '3.1.4'] },
  { w: 10, impl: 'openmpi', abi: 'openmpi', v: ['4.0.5', '4.0.7'] },
  { w: 20, impl: 'openmpi', abi: 'openmpi', v: ['4.1.1', '4.1.4', '4.1.5', '4.1.6'] },
  { w: 8, impl: 'openmpi', abi: 'openmpi', v: ['5.0.3', '5.0.5'] },
  { w: 5, impl: 'mpich', abi: 'mpich', v: ['3.4.2', '3.4.3'] },
  { w: 6, impl: 'mpich', abi: 'mpich', v: ['4.1.1', '4.1.2'] },
  { w: 6, impl: 'mpich', abi: 'mpich', v: ['4.2.0', '4.2.2'] },
  { w: 8, impl: 'intel', abi: 'mpich', v: ['2021.6', '2021.9', '2021.10', '2021.13'] },
];
const IMAGE_MPI = [
  { w: 25, impl: 'openmpi', abi: 'openmpi', v: ['4.1.2', '4.1.4', '4.1.5'] },
  { w: 8, impl: 'openmpi', abi: 'openmpi', v: ['4.0.3', '3.1.6', '5.0.2'] },
  { w: 10, impl: 'mpich', abi: 'mpich', v: ['3.4.1', '4.0.2', '4.1.1', '4.2.0'] },
  { w: 5, impl: 'intel', abi: 'mpich', v: ['2021.5', '2021.10'] },
  { w: 1, impl: 'unknown', abi: null, v: [null] },
];

/** CUDA images as NVIDIA tags them: runtime, and the driver branches the NVIDIA_REQUIRE_CUDA brand alternatives accept. */
const CUDA_IMAGES = [
  { cuda: '11.8', full: '11.8.89', branches: [450, 470, 510, 515] },
  { cuda: '12.0', full: '12.0.146', branches: [450, 470, 510, 515] },
  { cuda: '12.1', full: '12.1.105', branches: [450, 470, 510, 515, 525] },
  { cuda: '12.2', full: '12.2.140', branches: [470, 525] },
  { cuda: '12.4', full: '12.4.127', branches: [470, 525, 535] },
  { cuda: '12.6', full: '12.6.77', branches: [470, 535, 550] },
  { cuda: '12.8', full: '12.8.90', branches: [470, 535, 550, 560, 565] },
  { cuda: '12.9', full: '12.9.79', branches: [470, 535, 550, 560, 565, 570] },
];
const BRANDS = ['tesla', 'unknown', 'nvidia', 'quadro', 'quadrortx', 'nvidiartx', 'vapps', 'vpc', 'vcs', 'vws', 'cloudgaming', 'titan', 'titanrtx', 'geforce', 'geforcertx'];

const GLIBC_KERNEL = [
  [6, '2.6.32'],
  [70, '3.2.0'],
  [10, '3.10.0'],
  [8, '4.4.0'],
  [4, '5.4.0'],
  [2, '6.1.0'],
];

function targetsByFamily(spec) {
  const by = {};
  for (const n of spec.names()) (by[spec.family(n)] ??= []).push(n);
  return by;
}

function mpiFact(r, table) {
  const m = r.weighted(table.map((e) => [e.w, e]));
  const version = r.pick(m.v);
  const soname = m.impl === 'openmpi' ? 'libmpi.so.40' : m.impl === 'unknown' ? 'libmpi.so.99' : 'libmpi.so.12';
  return { implementation: m.impl, version, abi: m.abi, soname, path: `usr/lib/${soname}`, evidence: [] };
}

/** One host's facts. */
export function makeHost(r, i, fam) {
  const f = emptyHostFacts(`node${String(i).padStart(5, '0')}`);
  const arch = r.weighted([[85, 'amd64'], [10, 'arm64'], [5, 'ppc64le']]);
  f.platform = { os: 'linux', architecture: arch, variant: arch === 'arm64' ? 'v8' : null, evidence: [] };
  const names = fam[ARCH_FAMILY[arch]];
  f.cpu.microarch = r.chance(0.02) ? null : r.pick(names);
  f.cpu.family = ARCH_FAMILY[arch];
  f.cpu.cores = r.pick([32, 48, 64, 96, 128]);
  const k = r.weighted(KERNELS.map((e) => [e.w, e]));
  f.kernel.release = k.rel(r);
  f.kernel.machine = MACHINE[arch];
  if (r.chance(0.01)) f.libc = { family: 'glibc', version: null, loaders: [], evidence: [] };
  else f.libc = { family: 'glibc', version: `2.${r.int(k.glibc[0], k.glibc[1])}`, loaders: ['lib64/ld-linux-x86-64.so.2'], evidence: [] };
  if (r.chance(0.4)) {
    const driver = r.pick(DRIVERS);
    f.gpu.driver = driver;
    f.gpu.cudaMax = maxCudaForDriver(driver);
    f.gpu.devices = [{ vendor: 'nvidia', bus: '0000:07:00.0', model: 'NVIDIA A100-SXM4-80GB', id: '0x20b2', uuid: null, pciClass: '0x030200', kernelDriver: 'nvidia', gfxTarget: null, kfdNode: null, seenIn: ['proc', 'sysfs'] }];
    // Not in the facts model (yet), but prepareHost reads them when present.
    if (r.chance(0.5)) f.gpu.brand = r.weighted([[8, 'tesla'], [1, 'nvidiartx'], [1, 'geforce']]);
    if (r.chance(0.5)) f.gpu.computeCapability = r.pick(COMPUTE);
  }
  if (r.chance(0.7)) {
    f.mpi.push(mpiFact(r, HOST_MPI));
    if (r.chance(0.25)) f.mpi.push(mpiFact(r, HOST_MPI));
  }
  if (arch === 'amd64' && r.chance(0.05)) {
    f.emulators.push({ name: 'qemu-aarch64', architecture: 'arm64', interpreter: '/usr/bin/qemu-aarch64-static', flags: 'F', fixBinary: true, path: null });
  }
  return f;
}

function nvidiaRequire(r, c) {
  let s = `cuda>=${c.cuda}`;
  const brands = r.chance(0.7) ? BRANDS : BRANDS.slice(0, 3);
  for (const b of c.branches) for (const brand of brands) s += ` brand=${brand},driver>=${b},driver<${b + 1}`;
  return s;
}

/** One image's facts. */
export function makeImage(r, i, fam, spec) {
  const f = emptyImageFacts(`registry.example.org/hpc/app${i}:v${r.int(1, 9)}`, 'docker');
  const arch = r.weighted([[80, 'amd64'], [15, 'arm64'], [5, 'ppc64le']]);
  f.platform = { os: 'linux', architecture: arch, variant: arch === 'arm64' ? 'v8' : null, evidence: [] };
  const req = f.requires;
  if (r.chance(0.05)) {
    f.libc = { family: 'musl', version: `1.2.${r.int(2, 5)}`, loaders: ['lib/ld-musl-x86_64.so.1'], evidence: [] };
  } else {
    const own = r.int(17, 41);
    f.libc = { family: 'glibc', version: `2.${own}`, loaders: ['lib64/ld-linux-x86-64.so.2'], evidence: [] };
    // what its binaries need: at most its own glibc, rarely more (a broken image)
    const need = r.chance(0.02) ? own + 1 : r.int(Math.max(2, own - 15), own);
    req.glibc = { version: `2.${need}`, evidence: [] };
    req.kernel = { version: r.weighted(GLIBC_KERNEL), evidence: [] };
  }
  if (r.chance(0.3)) {
    const names = fam[ARCH_FAMILY[arch]];
    const target = r.chance(0.03) ? r.pick(['zen9', 'graniterapids_x', 'neoverse_v9']) : r.pick(names);
    f.labels['io.archspec.target'] = target;
    req.microarch = { version: target, evidence: [{ source: 'label', detail: 'io.archspec.target' }] };
    void spec;
  }
  if (r.chance(0.35)) {
    const c = r.pick(CUDA_IMAGES);
    f.cuda.runtime = r.chance(0.9) ? c.cuda : null;
    f.cuda.runtimeFull = f.cuda.runtime ? c.full : null;
    f.cuda.env.CUDA_VERSION = c.full;
    f.cuda.env.NVIDIA_VISIBLE_DEVICES = 'all';
    f.cuda.env.NVIDIA_DRIVER_CAPABILITIES = 'compute,utility';
    if (r.chance(0.9)) f.cuda.env.NVIDIA_REQUIRE_CUDA = nvidiaRequire(r, c);
    if (r.chance(0.02)) f.cuda.env.NVIDIA_DISABLE_REQUIRE = '1';
    if (r.chance(0.03)) f.cuda.env.NVIDIA_REQUIRE_ARCH = `arch>=${r.pick(COMPUTE)}`;
    f.env = { ...f.cuda.env };
  }
  if (r.chance(0.25)) {
    f.mpi.push(mpiFact(r, IMAGE_MPI));
  }
  return f;
}

/** The whole data set: { hosts, images } (Facts[]), deterministic for a seed. */
export function makeDataSet({ hosts = 10_000, images = 1_000, seed = SEED } = {}) {
  const spec = loadArchspec();
  const fam = targetsByFamily(spec);
  const r = rng(seed);
  const hostFacts = Array.from({ length: hosts }, (_, i) => makeHost(r, i, fam));
  const imageFacts = Array.from({ length: images }, (_, i) => makeImage(r, i, fam, spec));
  return { hosts: hostFacts, images: imageFacts, spec };
}
