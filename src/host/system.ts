/**
 * General system facts users expect to see: host name, memory, cores, distribution, virtualisation.
 *
 * The default path is FAST: it reads a handful of procfs/sysfs/root files (works on a copy of a host
 * through {@link HostPaths}) and falls back to `node:os` only on the live host. `systeminformation` is
 * loaded (dynamically) only with `slow: true`, because it is slow to load and most of its calls shell out.
 *
 * Measured on the development VM (2 vCPU, Debian 12, node 20, systeminformation 5.33.23), each in a fresh
 * `node` process, three runs each:
 * - bare `node` on an empty script: 70–80 ms wall clock.
 * - `import('systeminformation')` alone: 25–60 ms (it loads ~30 modules) — more than the whole fast path.
 * - `si.mem()`: 2.5–7 ms; reads /proc/meminfo itself (fast once loaded).
 * - `si.osInfo()`: 30–100 ms; runs `hostname -f`, `cat /etc/*-release`, `echo $LANG`, `dmesg | grep EFI`,
 *   `which ip`, `ip link show up`, and a `cat` of machine-id files: seven child processes.
 * - `si.system()`: 25–48 ms; runs `dmidecode -t system`, a shell `cat` of /sys/devices/virtual/dmi/id/*,
 *   `ls /dev/disk/by-id`, and `dmesg | grep … virtual|hypervisor` (the `virtual`/`virtualHost` answer).
 * - `si.cpu()`: 20–35 ms; runs `lscpu` twice and `dmidecode -t 4`. Its `virtualization` field is whether the
 *   CPU can HOST virtual machines (vmx/svm flag), not whether we run inside one — that is `si.system().virtual`.
 * - `si.time()`: 25–35 ms; runs `date` and `ls -l /etc/localtime`.
 * The fast path below (about ten small file reads) takes about 1–3 ms.
 */
import { availableParallelism, hostname as osHostname, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { SystemFacts, Virtualization } from '../model/facts.js';
import {
  type Evidence,
  type HostPaths,
  defaultHostPaths,
  isLiveHost,
  isLiveProc,
  listDir,
  procPath,
  readTextEvidence,
  readTextQuiet,
  sysPath,
} from './paths.js';

/** Options for {@link systemFacts}. */
export interface SystemFactsOptions {
  /** Also ask `systeminformation` (tens of ms more, spawns processes). Only on the live host. Default false. */
  slow?: boolean;
  /** Where to read from; default the live host. */
  paths?: HostPaths;
  /** The text of `proc/cpuinfo` when the caller has read it already (null: absent); default: read it here. */
  cpuinfo?: string | null;
  /** Per-call time limit for `systeminformation` calls, ms. Default 10000. */
  slowTimeoutMs?: number;
}

export type { SystemFacts, Virtualization };

/** Read general system facts. Fast by default (file reads only); `slow: true` adds `systeminformation`. Never throws. */
export async function systemFacts(opts: SystemFactsOptions = {}): Promise<SystemFacts> {
  const paths = opts.paths ?? defaultHostPaths();
  const live = isLiveProc(paths);
  const evidence: Evidence[] = [];

  const [hostText, meminfo, cpuinfo] = await Promise.all([
    readTextEvidence('system.hostname', procPath(paths, 'sys/kernel/hostname'), evidence),
    readTextEvidence('system.memTotalBytes', procPath(paths, 'meminfo'), evidence, (t) => `MemTotal ${parseMemTotal(t) ?? '?'} bytes`),
    opts.cpuinfo !== undefined
      ? givenText('system.cpu', procPath(paths, 'cpuinfo'), opts.cpuinfo, evidence, (t) => `${parseCpuinfo(t).logical} processors`)
      : readTextEvidence('system.cpu', procPath(paths, 'cpuinfo'), evidence, (t) => `${parseCpuinfo(t).logical} processors`),
  ]);

  let hostname = hostText?.trim() || null;
  if (hostname === null && live) {
    hostname = osHostname() || null;
    evidence.push({ source: 'system.hostname', detail: `node:os hostname() = ${hostname ?? ''}` });
  }
  let memTotalBytes = meminfo === null ? null : parseMemTotal(meminfo);
  if (memTotalBytes === null && live) {
    memTotalBytes = totalmem();
    evidence.push({ source: 'system.memTotalBytes', detail: `node:os totalmem() = ${memTotalBytes}` });
  }

  const ci = cpuinfo === null ? null : parseCpuinfo(cpuinfo);
  let logical = ci && ci.logical > 0 ? ci.logical : null;
  if (logical === null && live) {
    logical = availableParallelism();
    evidence.push({ source: 'system.cpu', detail: `node:os availableParallelism() = ${logical}` });
  }
  let physical = ci?.physical ?? null;
  if (physical === null) physical = await physicalCoresFromSysfs(paths, evidence);
  const cpu = { logical, physical, model: ci?.model ?? null };

  const virtualization = await readVirtualization(paths, ci, evidence);

  const facts: SystemFacts = { hostname, memTotalBytes, cpu, virtualization, slow: false, evidence };
  if (opts.slow) {
    if (isLiveHost(paths)) await addSystemInformation(facts, opts.slowTimeoutMs ?? 10_000);
    else evidence.push({ source: 'system.slow', detail: 'systeminformation not consulted: it reads the live host, and these paths are a copy' });
  }
  return facts;
}

/** Evidence for a file the caller already read, as readTextEvidence would record it. */
function givenText(source: string, path: string, text: string | null, evidence: Evidence[], describe: (t: string) => string): string | null {
  evidence.push({ source, path, detail: text === null ? 'missing' : describe(text) });
  return text;
}

/** `MemTotal:  16318412 kB` → bytes; null when absent. */
export function parseMemTotal(meminfo: string): number | null {
  const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(meminfo);
  return m?.[1] ? Number(m[1]) * 1024 : null;
}

/** What `/proc/cpuinfo` says: processor count, physical cores (x86 only), model name and flags. */
export function parseCpuinfo(text: string): { logical: number; physical: number | null; model: string | null; flags: string[] | null } {
  let logical = 0;
  let model: string | null = null;
  let flags: string[] | null = null;
  const cores = new Set<string>();
  let physId: string | null = null;
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i < 0) {
      physId = null;
      continue;
    }
    const key = line.slice(0, i).trim();
    const value = line.slice(i + 1).trim();
    if (key === 'processor') logical++;
    else if (model === null && (key === 'model name' || key === 'cpu model' || key === 'cpu' || key === 'Model')) model = value || null;
    else if (flags === null && (key === 'flags' || key === 'Features')) flags = value.split(/\s+/).filter(Boolean);
    else if (key === 'physical id') physId = value;
    else if (key === 'core id' && physId !== null) cores.add(`${physId}/${value}`);
  }
  return { logical, physical: cores.size > 0 ? cores.size : null, model, flags };
}

/** Physical cores from `sys/devices/system/cpu/cpuN/topology` (works on ARM, where cpuinfo has no core ids). */
async function physicalCoresFromSysfs(paths: HostPaths, evidence: Evidence[]): Promise<number | null> {
  const dir = sysPath(paths, 'devices/system/cpu');
  const cpus = ((await listDir(dir)) ?? []).filter((n) => /^cpu\d+$/.test(n));
  const pairs = await Promise.all(
    cpus.map(async (c) => {
      const pkg = (await readTextQuiet(`${dir}/${c}/topology/physical_package_id`, 4096))?.trim();
      const core = (await readTextQuiet(`${dir}/${c}/topology/core_id`, 4096))?.trim();
      return pkg !== undefined && core !== undefined ? `${pkg}/${core}` : null;
    }),
  );
  const set = new Set(pairs.filter((p): p is string => p !== null));
  evidence.push({ source: 'system.cpu', path: dir, detail: set.size > 0 ? `${set.size} physical cores from topology` : 'no CPU topology' });
  return set.size > 0 ? set.size : null;
}

/** Known DMI vendor/product strings of virtual machines → hypervisor name. */
export function hypervisorFromDmi(sysVendor: string | null, productName: string | null): string | null {
  const v = (sysVendor ?? '').toLowerCase();
  const p = (productName ?? '').toLowerCase();
  if (p.includes('kvm') || v.includes('kvm')) return 'kvm';
  if (v.includes('qemu') || p.includes('qemu') || p.startsWith('standard pc')) return 'qemu';
  if (v.includes('vmware') || p.includes('vmware')) return 'vmware';
  if (v.includes('innotek') || p.includes('virtualbox')) return 'virtualbox';
  if (v.includes('xen') || p.includes('hvm domu')) return 'xen';
  if (v.includes('microsoft') && p.includes('virtual machine')) return 'hyperv';
  if (v.includes('amazon ec2') || p.includes('amazon ec2')) return 'amazon';
  if (v === 'google' || p.includes('google compute engine')) return 'google';
  if (p.includes('openstack') || v.includes('openstack')) return 'openstack';
  if (v.includes('parallels') || p.includes('parallels')) return 'parallels';
  if (v.includes('bochs') || p.includes('bochs')) return 'bochs';
  return null;
}

async function readVirtualization(
  paths: HostPaths,
  ci: ReturnType<typeof parseCpuinfo> | null,
  evidence: Evidence[],
): Promise<Virtualization> {
  const [vendor, product, hvType] = await Promise.all([
    readTextEvidence('system.virtualization', sysPath(paths, 'class/dmi/id/sys_vendor'), evidence, undefined, 4096),
    readTextEvidence('system.virtualization', sysPath(paths, 'class/dmi/id/product_name'), evidence, undefined, 4096),
    readTextEvidence('system.virtualization', sysPath(paths, 'hypervisor/type'), evidence, undefined, 4096),
  ]);
  const flags = ci?.flags ?? null;
  const x86 = flags !== null && flags.includes('fpu') && (flags.includes('tsc') || flags.includes('cx8'));
  const flagSaysVm = flags?.includes('hypervisor') ?? false;
  let hypervisor = hypervisorFromDmi(vendor?.trim() ?? null, product?.trim() ?? null);
  if (hypervisor === null && hvType?.trim()) hypervisor = hvType.trim().toLowerCase();
  let virtual: boolean | null;
  if (hypervisor !== null || flagSaysVm) virtual = true;
  else if (x86) virtual = false;
  else virtual = null;
  const cpuCanVirtualize = x86 && flags ? flags.includes('vmx') || flags.includes('svm') : null;
  evidence.push({
    source: 'system.virtualization',
    path: procPath(paths, 'cpuinfo'),
    detail: `hypervisor cpu flag ${flagSaysVm ? 'present' : flags === null ? 'unknown' : 'absent'}; vmx/svm ${cpuCanVirtualize === null ? 'n/a' : cpuCanVirtualize ? 'present' : 'absent'}`,
  });
  return { virtual, hypervisor, cpuCanVirtualize };
}

/** Bound a promise; resolves to null (and never rejects) on time-out or error. */
async function within<T>(p: Promise<T>, ms: number): Promise<{ value: T | null; ms: number; error: string | null }> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const value = await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
        timer.unref();
      }),
    ]);
    return { value, ms: performance.now() - t0, error: null };
  } catch (e) {
    return { value: null, ms: performance.now() - t0, error: e instanceof Error ? e.message : String(e) };
  } finally {
    if (timer) clearTimeout(timer);
  }
}

async function addSystemInformation(facts: SystemFacts, timeoutMs: number): Promise<void> {
  const ev = facts.evidence;
  let si: typeof import('systeminformation');
  try {
    const mod = await import('systeminformation');
    si = (mod as { default?: typeof mod }).default ?? mod;
  } catch (e) {
    ev.push({ source: 'system.slow', detail: `systeminformation not loadable: ${e instanceof Error ? e.message : String(e)}` });
    return;
  }
  facts.slow = true;
  const [mem, osInfo, system, cpu] = await Promise.all([
    within(si.mem(), timeoutMs),
    within(si.osInfo(), timeoutMs),
    within(si.system(), timeoutMs),
    within(si.cpu(), timeoutMs),
  ]);
  const note = (source: string, call: string, r: { ms: number; error: string | null }, what: string) =>
    ev.push({ source, detail: `systeminformation.${call}() ${r.error ? `failed: ${r.error}` : what} (${r.ms.toFixed(0)} ms)` });

  if (mem.value && mem.value.total > 0) {
    facts.memTotalBytes = mem.value.total;
    note('system.memTotalBytes', 'mem', mem, `total ${mem.value.total}`);
  } else note('system.memTotalBytes', 'mem', mem, 'no total');

  if (osInfo.value) {
    const o = osInfo.value;
    if (o.hostname) facts.hostname = o.hostname;
    note('system.os', 'osInfo', osInfo, `${o.distro} ${o.release} ${o.codename}`.trim());
  } else note('system.os', 'osInfo', osInfo, 'no answer');

  if (system.value) {
    const s = system.value;
    facts.virtualization.virtual = s.virtual;
    if (s.virtual && s.virtualHost) facts.virtualization.hypervisor = s.virtualHost.toLowerCase();
    note('system.virtualization', 'system', system, `virtual ${s.virtual}${s.virtualHost ? ` (${s.virtualHost})` : ''}`);
  } else note('system.virtualization', 'system', system, 'no answer');

  if (cpu.value) {
    const c = cpu.value;
    if (c.physicalCores > 0) facts.cpu.physical = c.physicalCores;
    if (c.cores > 0) facts.cpu.logical = c.cores;
    const model = `${c.manufacturer} ${c.brand}`.trim();
    if (model) facts.cpu.model = model;
    facts.virtualization.cpuCanVirtualize = c.virtualization;
    note('system.cpu', 'cpu', cpu, `${c.physicalCores} physical / ${c.cores} logical, ${model}`);
  } else note('system.cpu', 'cpu', cpu, 'no answer');
}
