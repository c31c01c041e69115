/**
 * GPUs and their drivers, as a container runtime would find them: the NVIDIA kernel module's version
 * file, or failing that the versioned driver libraries in the root filesystem; the NVIDIA and AMD
 * display devices on the PCI bus; AMD's KFD topology and ROCm version. Driver versions stay strings.
 */
import { execFile } from 'node:child_process';
import { readlink, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { maxCudaForDriver } from '../gpu/cuda-table.js';
import { combineGpus, gpuModel, parseNvidiaSmiQuery } from '../gpu/gpu-models.js';
import { gpuNameByPciId } from '../gpu/gpu-pci.js';
import type { GpuDevice, GpuFacts, NvidiaLibrary } from '../model/facts.js';
import { compareVersions } from '../util/version.js';
import {
  type Evidence,
  type HostPaths,
  listDir,
  procPath,
  readTextEvidence,
  readTextQuiet,
  resolveInRoot,
  shorten,
  sysPath,
} from './paths.js';

/** What won when choosing the NVIDIA driver version. */
export type DriverSource = NonNullable<GpuFacts['driverSource']>;

/** NVIDIA facts, before they are merged with AMD's into {@link GpuFacts}. */
interface NvidiaPart {
  driver: string | null;
  source: DriverSource | null;
  kernelModule: GpuFacts['kernelModule'];
  libraries: NvidiaLibrary[];
  devices: GpuDevice[];
  evidence: Evidence[];
}

/** AMD facts, before the merge. */
interface AmdPart {
  driver: string | null;
  moduleLoaded: boolean;
  rocm: string | null;
  devices: GpuDevice[];
  evidence: Evidence[];
}

export type { GpuDevice, GpuFacts, NvidiaLibrary };

/** Root-relative directories searched for versioned NVIDIA libraries, in this order. */
export const NVIDIA_LIBRARY_DIRS = [
  'usr/lib/x86_64-linux-gnu',
  'usr/lib/x86_64-linux-gnu/nvidia/current', // Debian's libcuda1 / libnvidia-ml1 (nvidia-graphics-drivers)
  'usr/lib/aarch64-linux-gnu',
  'usr/lib/aarch64-linux-gnu/nvidia/current',
  'usr/lib/powerpc64le-linux-gnu',
  'usr/lib/powerpc64le-linux-gnu/nvidia/current',
  'usr/lib64',
  'usr/lib',
  'lib64',
  'lib',
  'usr/local/nvidia/lib64',
] as const;

const VENDOR_NVIDIA = '0x10de';
const VENDOR_AMD = '0x1002';

/**
 * Read NVIDIA and AMD GPU facts from `paths`: the NVIDIA driver (and the highest CUDA it supports,
 * from the driver table), its libraries, the GPUs of both vendors, ROCm. Never throws; with no GPU
 * the device list is empty and the drivers null. The NVIDIA GPUs' brand and compute capability
 * (what NVIDIA_REQUIRE_* `brand=` and `arch` compare) come from nvidia-smi when it is installed on
 * the live host, else from the model names the driver lists, else from the PCI device ids (gpu-pci.ts),
 * through the GPU model table (gpu-models.ts), else null.
 */
export async function gpuFacts(paths: HostPaths, opts: { nvidiaSmi?: string | null } = {}): Promise<GpuFacts> {
  const pci = await readPciDisplayDevices(paths);
  const [nvidia, amd] = await Promise.all([nvidiaFacts(paths, pci), amdFacts(paths, pci)]);
  const live = paths.proc === '/proc' && paths.root === '/';
  const { brand, computeCapability } = nvidia.driver || nvidia.devices.length ? await nvidiaIdentity(nvidia.devices, nvidia.evidence, live ? opts.nvidiaSmi ?? 'nvidia-smi' : null) : { brand: null, computeCapability: null };
  return {
    driver: nvidia.driver,
    driverSource: nvidia.source,
    kernelModule: nvidia.kernelModule,
    cudaMax: nvidia.driver ? maxCudaForDriver(nvidia.driver) : null,
    brand,
    computeCapability,
    libraries: nvidia.libraries,
    devices: [...nvidia.devices, ...amd.devices],
    rocm: amd.rocm,
    amdDriver: amd.driver,
    amdModuleLoaded: amd.moduleLoaded,
    evidence: [...nvidia.evidence, ...amd.evidence],
  };
}

/** Run `nvidia-smi --query-gpu=name,compute_cap` (5 s at most): its output, or why it gave none (not installed, or its own first line and exit status). */
function queryNvidiaSmi(bin: string): Promise<{ out: string } | { failed: string | null }> {
  return new Promise((resolve) => {
    execFile(bin, ['--query-gpu=name,compute_cap', '--format=csv,noheader'], { timeout: 5000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve({ out: String(stdout) });
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return resolve({ failed: null }); // not installed: nothing to say
      const said = `${String(stdout)}\n${String(stderr)}`.split('\n').map((l) => l.trim()).find(Boolean);
      resolve({ failed: `${err.killed ? 'timed out' : `exit ${String(err.code ?? 'unknown')}`}${said ? `: ${shorten(said)}` : ''}` });
    });
  });
}

/**
 * Brand and compute capability of the host's NVIDIA GPUs: nvidia-smi's names and compute
 * capabilities when `smi` runs (the live host), else the model names the driver lists in /proc,
 * else (a GPU without them) the name pci.ids gives its device id; brands (and capabilities
 * nvidia-smi did not give) through the GPU model table. Evidence says which.
 */
async function nvidiaIdentity(devices: readonly GpuDevice[], evidence: Evidence[], smi: string | null): Promise<{ brand: string | null; computeCapability: string | null }> {
  const asked = smi ? await queryNvidiaSmi(smi) : null;
  const fromSmi = asked && 'out' in asked ? asked.out : null;
  if (asked && 'failed' in asked && asked.failed !== null) evidence.push({ source: 'nvidia.identity', detail: `${smi} --query-gpu=name,compute_cap failed (${asked.failed}); not believed` });
  const { listed, how, why } = fromSmi !== null ? { listed: parseNvidiaSmiQuery(fromSmi), how: 'nvidia-smi --query-gpu=name,compute_cap', why: `${smi} --query-gpu=name,compute_cap listed no GPU` } : namesWithoutSmi(devices);
  if (listed.length === 0) {
    evidence.push({ source: 'nvidia.identity', detail: `${why}: brand and compute capability unknown` });
    return { brand: null, computeCapability: null };
  }
  const gpus = listed.map((g) => {
    const row = gpuModel(g.name);
    return { name: g.name, brand: row?.brand ?? null, computeCapability: g.computeCapability ?? row?.computeCapability ?? null, known: row !== null };
  });
  const out = combineGpus(gpus);
  evidence.push({
    source: 'nvidia.identity',
    detail: `${how}: ${gpus.map((g) => `${g.name} (brand ${g.brand ?? 'unknown'}, compute ${g.computeCapability ?? 'unknown'}${g.known ? '' : ', not in the GPU model table'})`).join('; ')}`,
  });
  return out;
}

/**
 * Each GPU's name when nvidia-smi gives none: the driver's model name, else the one pci.ids gives
 * its device id (the table is read only then); a GPU with neither leaves the host's identity unknown
 * (no names, and `why`). `how` says where the names came from, for the evidence.
 */
function namesWithoutSmi(devices: readonly GpuDevice[]): { listed: { name: string; computeCapability: string | null }[]; how: string; why: string } {
  const named = devices.map((d) => ({ name: d.model ?? gpuNameByPciId(d.id), byId: d.model === null, id: d.id }));
  const unnamed = named.filter((g) => g.name === null);
  if (devices.length === 0 || unnamed.length) {
    const why = devices.length === 0 ? 'no GPU model name (no nvidia-smi, no /proc/driver/nvidia/gpus/*/information, no GPU in sysfs)' : `no model name for ${unnamed.map((g) => `PCI device ${g.id ?? 'of unknown id'}`).join(', ')} (no nvidia-smi, no /proc/driver/nvidia/gpus/*/information, not in the PCI id table)`;
    return { listed: [], how: '', why };
  }
  const byId = named.filter((g) => g.byId).length;
  const how = byId === 0 ? 'model names in /proc/driver/nvidia/gpus' : byId === named.length ? 'PCI device ids through data/nvidia-pci-ids.json' : 'model names in /proc/driver/nvidia/gpus and PCI device ids';
  return { listed: named.map((g) => ({ name: g.name!, computeCapability: null })), how, why: '' };
}

/** The version of the NVIDIA kernel module parsed from `proc/driver/nvidia/version`. */
export interface NvidiaVersionLine {
  /** e.g. `550.54.14`. */
  version: string;
  /** Open kernel module (`Open Kernel Module for x86_64`) or proprietary (`x86_64 Kernel Module`). */
  flavour: 'open' | 'proprietary';
  /** Architecture named on the line (`x86_64`, `aarch64`, `ppc64le`), null when not given. */
  arch: string | null;
}

/**
 * Parse the `NVRM version:` line of `/proc/driver/nvidia/version`, in both formats:
 * `NVIDIA UNIX x86_64 Kernel Module  535.54.03  Tue Jun  6 …` and
 * `NVIDIA UNIX Open Kernel Module for x86_64  550.54.14  Release Build  (…)  Thu Feb 22 …`.
 * Returns null when there is no such line or no version on it.
 */
export function parseNvidiaVersionFile(text: string): NvidiaVersionLine | null {
  const line = text.split('\n').find((l) => l.trimStart().startsWith('NVRM version:'));
  if (line === undefined) return null;
  const open = /\bOpen Kernel Module for\s+(\S+)\s+(\d+\.\d+(?:\.\d+)*)(?=\s|$)/.exec(line);
  if (open?.[2]) return { version: open[2], flavour: 'open', arch: open[1] ?? null };
  const prop = /\bNVIDIA UNIX\s+(?:(\S+)\s+)?Kernel Module\s+(\d+\.\d+(?:\.\d+)*)(?=\s|$)/.exec(line);
  if (prop?.[2]) return { version: prop[2], flavour: 'proprietary', arch: prop[1] ?? null };
  // Unknown wording: take the first dotted version after "Module".
  const any = /Module\b.*?\s(\d+\.\d+(?:\.\d+)*)(?=\s|$)/.exec(line);
  if (any?.[1]) return { version: any[1], flavour: /\bOpen\b/.test(line) ? 'open' : 'proprietary', arch: null };
  return null;
}

/** `libcuda.so.535.261.03` → `{ library: 'libcuda', version: '535.261.03' }`; null for the soname links (`libcuda.so.1`) and others. */
export function parseNvidiaLibraryName(name: string): { library: NvidiaLibrary['library']; version: string } | null {
  const m = /^(libcuda|libnvidia-ml)\.so\.(\d{2,}\.\d+(?:\.\d+)?)$/.exec(name);
  if (!m?.[1] || !m[2]) return null;
  return { library: m[1] as NvidiaLibrary['library'], version: m[2] };
}

async function nvidiaFacts(paths: HostPaths, pci: PciDevice[]): Promise<NvidiaPart> {
  const evidence: Evidence[] = [];
  let driver: string | null = null;
  let source: DriverSource | null = null;
  let kernelModule: GpuFacts['kernelModule'] = null;

  const versionPath = procPath(paths, 'driver/nvidia/version');
  const versionText = await readTextEvidence('nvidia.driver', versionPath, evidence, (t) => {
    const p = parseNvidiaVersionFile(t);
    return p ? `kernel module ${p.version} (${p.flavour}${p.arch ? `, ${p.arch}` : ''})` : 'no version on an NVRM version line';
  });
  if (versionText !== null) {
    const parsed = parseNvidiaVersionFile(versionText);
    if (parsed) {
      driver = parsed.version;
      source = { kind: 'proc', path: versionPath };
      kernelModule = parsed.flavour;
    }
  }

  const libraries = await findNvidiaLibraries(paths, evidence);
  if (driver === null && libraries.length > 0) {
    // Prefer libcuda (what CUDA programs load); among several versions, the highest, and say so.
    const pool = libraries.some((l) => l.library === 'libcuda') ? libraries.filter((l) => l.library === 'libcuda') : libraries;
    const best = [...pool].sort((a, b) => compareVersions(b.version, a.version))[0];
    if (best) {
      driver = best.version;
      source = { kind: 'library', path: best.path };
      const versions = [...new Set(libraries.map((l) => l.version))];
      evidence.push({
        source: 'nvidia.driver',
        path: best.path,
        detail: `no loaded kernel module; driver ${best.version} from library file name${versions.length > 1 ? ` (several versions present: ${versions.join(', ')})` : ''}`,
      });
    }
  } else if (driver === null) {
    evidence.push({ source: 'nvidia.driver', detail: 'no kernel module version file and no versioned libcuda/libnvidia-ml library' });
  } else {
    const other = libraries.filter((l) => l.version !== driver);
    if (other.length > 0) {
      evidence.push({
        source: 'nvidia.driver',
        detail: `library version differs from kernel module ${driver}: ${other.map((l) => `${l.path} (${l.version})`).join(', ')}`,
      });
    }
  }

  const devices = await nvidiaDevices(paths, pci, evidence);
  return { driver, source, kernelModule, libraries, devices, evidence };
}

async function findNvidiaLibraries(paths: HostPaths, evidence: Evidence[]): Promise<NvidiaLibrary[]> {
  const found: NvidiaLibrary[] = [];
  const seenDirs = new Set<string>();
  const sonameLinks: string[] = [];
  for (const rel of NVIDIA_LIBRARY_DIRS) {
    const dir = await resolveInRoot(paths.root, rel);
    if (seenDirs.has(dir)) continue; // merged /usr: lib64 and usr/lib64 are one directory
    seenDirs.add(dir);
    const names = await listDir(dir);
    if (names === null) continue;
    let here = 0;
    for (const name of names) {
      const parsed = parseNvidiaLibraryName(name);
      if (parsed) {
        found.push({ ...parsed, path: join(dir, name) });
        here++;
      } else if (name === 'libcuda.so.1' || name === 'libnvidia-ml.so.1') {
        sonameLinks.push(join(rel, name));
      }
    }
    if (here > 0) evidence.push({ source: 'nvidia.libraries', path: dir, detail: `${here} versioned NVIDIA libraries` });
  }
  // Debian and alternatives-managed installs leave only `libcuda.so.1 -> /etc/alternatives/… -> …/libcuda.so.<version>`
  // in the search path; follow such links inside the root to the versioned file.
  if (found.length === 0) {
    for (const rel of sonameLinks) {
      const target = await resolveInRoot(paths.root, rel);
      const parsed = parseNvidiaLibraryName(basename(target));
      if (parsed && (await exists(target))) {
        found.push({ ...parsed, path: target });
        evidence.push({ source: 'nvidia.libraries', path: join(paths.root, rel), detail: `symlink resolves to ${target}` });
      }
    }
  }
  if (found.length === 0) {
    evidence.push({ source: 'nvidia.libraries', path: paths.root, detail: `no libcuda.so.<version> or libnvidia-ml.so.<version> in ${NVIDIA_LIBRARY_DIRS.join(', ')}` });
  }
  return found;
}

/** Fields of `proc/driver/nvidia/gpus/<bus>/information`, keyed by the text before the colon. */
export function parseKeyColonValue(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

async function nvidiaDevices(paths: HostPaths, pci: PciDevice[], evidence: Evidence[]): Promise<GpuDevice[]> {
  const byBus = new Map<string, GpuDevice>();
  const gpusDir = procPath(paths, 'driver/nvidia/gpus');
  const entries = await listDir(gpusDir);
  if (entries === null) {
    evidence.push({ source: 'nvidia.devices', path: gpusDir, detail: 'missing' });
  }
  for (const entry of entries ?? []) {
    const infoPath = join(gpusDir, entry, 'information');
    const text = await readTextEvidence('nvidia.devices', infoPath, evidence, (t) => {
      const f = parseKeyColonValue(t);
      return `${f['Model'] ?? 'unknown model'} at ${f['Bus Location'] ?? entry}`;
    });
    if (text === null) continue;
    const f = parseKeyColonValue(text);
    const busId = (f['Bus Location'] ?? entry).toLowerCase();
    const uuid = f['GPU UUID'] ?? null;
    byBus.set(busId, {
      vendor: 'nvidia',
      bus: busId,
      model: f['Model'] ?? null,
      id: null,
      uuid: uuid && !uuid.includes('?') ? uuid : null,
      pciClass: null,
      kernelDriver: null,
      gfxTarget: null,
      kfdNode: null,
      seenIn: ['proc'],
    });
  }
  for (const d of pci.filter((p) => p.vendor === VENDOR_NVIDIA)) {
    evidence.push({ source: 'nvidia.devices', path: d.path, detail: `PCI ${d.vendor}:${d.device ?? '?'} class ${d.pciClass} driver ${d.driver ?? 'none'}` });
    const existing = byBus.get(d.busId);
    if (existing) {
      existing.id = d.device;
      existing.pciClass = d.pciClass;
      existing.kernelDriver = d.driver;
      existing.seenIn.push('sysfs');
    } else {
      byBus.set(d.busId, { vendor: 'nvidia', bus: d.busId, model: null, id: d.device, uuid: null, pciClass: d.pciClass, kernelDriver: d.driver, gfxTarget: null, kfdNode: null, seenIn: ['sysfs'] });
    }
  }
  if (byBus.size === 0) evidence.push({ source: 'nvidia.devices', detail: 'no NVIDIA display or 3D controller found' });
  return [...byBus.values()].sort((a, b) => a.bus.localeCompare(b.bus));
}

/** `gfx_target_version` (major*10000 + minor*100 + stepping) → LLVM target: 90010 → `gfx90a`, 110000 → `gfx1100`; null for 0. */
export function gfxTargetName(v: number): string | null {
  if (!Number.isInteger(v) || v <= 0) return null;
  const major = Math.floor(v / 10000);
  const minor = Math.floor((v % 10000) / 100);
  const stepping = v % 100;
  if (minor > 15 || stepping > 15) return null;
  return `gfx${major}${minor.toString(16)}${stepping.toString(16)}`;
}

/** Parse a KFD node `properties` file (`name value` per line) into numbers. */
export function parseKfdProperties(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(-?\d+)\s*$/.exec(line.trim());
    if (m?.[1] && m[2] !== undefined) out[m[1]] = Number(m[2]);
  }
  return out;
}

async function amdFacts(paths: HostPaths, pci: PciDevice[]): Promise<AmdPart> {
  const evidence: Evidence[] = [];
  const moduleDir = sysPath(paths, 'module/amdgpu');
  const moduleLoaded = (await listDir(moduleDir)) !== null;
  let driver: string | null = null;
  if (moduleLoaded) {
    driver = (await readTextEvidence('amd.driver', join(moduleDir, 'version'), evidence))?.trim() || null;
    if (driver === null) evidence.push({ source: 'amd.driver', path: moduleDir, detail: 'amdgpu present without a version (in-tree driver)' });
  } else {
    evidence.push({ source: 'amd.driver', path: moduleDir, detail: 'missing' });
  }

  const rocmPath = await resolveInRoot(paths.root, 'opt/rocm/.info/version');
  const rocm = (await readTextEvidence('amd.rocm', rocmPath, evidence))?.trim() || null;

  const byBus = new Map<string, GpuDevice>();
  const nodesDir = sysPath(paths, 'class/kfd/kfd/topology/nodes');
  const nodes = await listDir(nodesDir);
  if (nodes === null) evidence.push({ source: 'amd.devices', path: nodesDir, detail: 'missing' });
  for (const node of nodes ?? []) {
    if (!/^\d+$/.test(node)) continue;
    const propsPath = join(nodesDir, node, 'properties');
    const text = await readTextQuiet(propsPath, 1024 * 1024);
    if (text === null) {
      evidence.push({ source: 'amd.devices', path: propsPath, detail: 'unreadable or missing' });
      continue;
    }
    const props = parseKfdProperties(text);
    const gfx = gfxTargetName(props['gfx_target_version'] ?? 0);
    if (gfx === null) continue; // a CPU node
    const loc = props['location_id'] ?? 0;
    const domain = props['domain'] ?? 0;
    const busId = `${hex(domain, 4)}:${hex(loc >> 8, 2)}:${hex((loc >> 3) & 0x1f, 2)}.${loc & 7}`;
    evidence.push({ source: 'amd.devices', path: propsPath, detail: `KFD node ${node}: ${gfx} at ${busId}` });
    byBus.set(busId, {
      vendor: 'amd',
      bus: busId,
      model: gfx,
      id: props['device_id'] !== undefined ? `0x${hex(props['device_id'], 4)}` : null,
      uuid: null,
      pciClass: null,
      kernelDriver: null,
      gfxTarget: gfx,
      kfdNode: Number(node),
      seenIn: ['kfd'],
    });
  }
  for (const d of pci.filter((p) => p.vendor === VENDOR_AMD)) {
    evidence.push({ source: 'amd.devices', path: d.path, detail: `PCI ${d.vendor}:${d.device ?? '?'} class ${d.pciClass} driver ${d.driver ?? 'none'}` });
    const existing = byBus.get(d.busId);
    if (existing) {
      existing.id = d.device ?? existing.id;
      existing.pciClass = d.pciClass;
      existing.kernelDriver = d.driver;
      existing.seenIn.push('sysfs');
    } else {
      byBus.set(d.busId, { vendor: 'amd', bus: d.busId, model: null, id: d.device, uuid: null, pciClass: d.pciClass, kernelDriver: d.driver, gfxTarget: null, kfdNode: null, seenIn: ['sysfs'] });
    }
  }
  if (byBus.size === 0) evidence.push({ source: 'amd.devices', detail: 'no AMD display device or KFD GPU node found' });
  const devices = [...byBus.values()].sort((a, b) => a.bus.localeCompare(b.bus));
  return { driver, moduleLoaded, rocm, devices, evidence };
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

interface PciDevice {
  busId: string;
  path: string;
  vendor: string;
  device: string | null;
  pciClass: string;
  driver: string | null;
}

/** NVIDIA and AMD PCI functions of class 0x03 (display: VGA, XGA, 3D controller, other). */
async function readPciDisplayDevices(paths: HostPaths): Promise<PciDevice[]> {
  const dir = sysPath(paths, 'bus/pci/devices');
  const names = (await listDir(dir)) ?? [];
  const found = await Promise.all(
    names.map(async (name): Promise<PciDevice | null> => {
      const path = join(dir, name);
      const vendor = (await readTextQuiet(join(path, 'vendor'), 4096))?.trim().toLowerCase();
      if (vendor !== VENDOR_NVIDIA && vendor !== VENDOR_AMD) return null;
      const pciClass = (await readTextQuiet(join(path, 'class'), 4096))?.trim().toLowerCase();
      if (!pciClass || !/^0x03[0-9a-f]{4}$/.test(pciClass)) return null;
      const device = (await readTextQuiet(join(path, 'device'), 4096))?.trim().toLowerCase() || null;
      let driver: string | null = null;
      try {
        driver = basename(await readlink(join(path, 'driver')));
      } catch {
        driver = null;
      }
      return { busId: name.toLowerCase(), path, vendor, device, pciClass, driver };
    }),
  );
  return found.filter((d): d is PciDevice => d !== null);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
