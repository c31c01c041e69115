/**
 * The running kernel, read from procfs and the root filesystem: the "SystemKernel" set
 * (release, version, machine, config, command line, modules, selected sysctls) and a judgement on
 * whether unprivileged user namespaces can be created.
 */
import { release as osRelease } from 'node:os';
import { gunzipSync } from 'node:zlib';
import {
  type Evidence,
  type HostPaths,
  MAX_READ_BYTES,
  describeFailure,
  isLiveProc,
  procPath,
  readCapped,
  readTextEvidence,
  resolveInRoot,
  shorten,
} from './paths.js';
import type { KernelConfig, KernelFacts } from '../model/facts.js';

export type { KernelConfig, KernelFacts };

/** How much of the kernel's build configuration host facts keep: the selected options, all, or none (not read). */
export type KernelConfigChoice = 'selected' | 'full' | 'none';

/** The sysctls {@link kernelFacts} reads, by dotted name. */
export const SELECTED_SYSCTLS = [
  'kernel.unprivileged_userns_clone',
  'user.max_user_namespaces',
  'kernel.apparmor_restrict_unprivileged_userns',
  'kernel.yama.ptrace_scope',
  'vm.overcommit_memory',
  'kernel.perf_event_paranoid',
  'fs.file-max',
  'kernel.pid_max',
  'vm.max_map_count',
  'kernel.randomize_va_space',
] as const;

/**
 * The build options host facts keep by default (the whole configuration, thousands of lines, only
 * with `host --kernel-config`): what container runtimes and HPC jobs depend on. Namespaces (user
 * namespaces decide whether unprivileged Charliecloud runs), cgroups, the file systems images are
 * mounted with (overlay, SquashFS, FUSE), binfmt_misc (emulation), seccomp and the LSMs, NUMA and
 * huge pages, InfiniBand, perf events, checkpoint/restore, and the tick and preemption model that
 * Node Feature Discovery reports by default (NO_HZ*, PREEMPT).
 */
export const SELECTED_KCONFIG: readonly string[] = [
  'CONFIG_NAMESPACES', 'CONFIG_USER_NS', 'CONFIG_PID_NS', 'CONFIG_NET_NS', 'CONFIG_UTS_NS', 'CONFIG_IPC_NS',
  'CONFIG_CGROUPS', 'CONFIG_MEMCG', 'CONFIG_CGROUP_PIDS', 'CONFIG_CPUSETS', 'CONFIG_CGROUP_BPF',
  'CONFIG_OVERLAY_FS', 'CONFIG_SQUASHFS', 'CONFIG_SQUASHFS_XZ', 'CONFIG_SQUASHFS_ZSTD', 'CONFIG_FUSE_FS', 'CONFIG_BINFMT_MISC',
  'CONFIG_SECCOMP', 'CONFIG_SECCOMP_FILTER', 'CONFIG_SECURITY_APPARMOR', 'CONFIG_SECURITY_SELINUX',
  'CONFIG_NUMA', 'CONFIG_HUGETLBFS', 'CONFIG_TRANSPARENT_HUGEPAGE', 'CONFIG_INFINIBAND', 'CONFIG_PERF_EVENTS', 'CONFIG_CHECKPOINT_RESTORE',
  'CONFIG_NO_HZ', 'CONFIG_NO_HZ_IDLE', 'CONFIG_NO_HZ_FULL', 'CONFIG_PREEMPT',
];

const SELECTED_SET: ReadonlySet<string> = new Set(SELECTED_KCONFIG);

/** Only the {@link SELECTED_KCONFIG} options of a whole configuration (`complete: false`). */
export function selectedConfig(c: KernelConfig): KernelConfig {
  const options: Record<string, string> = {};
  for (const k of SELECTED_KCONFIG) if (k in c.options) options[k] = c.options[k]!;
  return { source: c.source, path: c.path, options, notSet: c.notSet.filter((n) => SELECTED_SET.has(n)), complete: false };
}

/** Largest decompressed `/proc/config.gz` accepted (real ones are about 250 KiB). */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/**
 * Read the kernel facts from `paths.proc` and `paths.root`. Never throws; missing files become null
 * or empty. The build configuration holds the {@link SELECTED_KCONFIG} options (`config: 'selected'`,
 * the default), all of them (`'full'`), or is not read at all (`'none'`: null, and user namespaces
 * judged from the sysctls alone).
 */
export async function kernelFacts(paths: HostPaths, { config: which = 'selected' }: { config?: KernelConfigChoice } = {}): Promise<KernelFacts> {
  const evidence: Evidence[] = [];
  const proc = (rel: string) => procPath(paths, rel);

  const [releaseText, versionText, archText, cmdlineText, modulesText, sysctls] = await Promise.all([
    readTextEvidence('kernel.release', proc('sys/kernel/osrelease'), evidence),
    readTextEvidence('kernel.version', proc('sys/kernel/version'), evidence),
    readTextEvidence('kernel.machine', proc('sys/kernel/arch'), evidence),
    readTextEvidence('kernel.cmdline', proc('cmdline'), evidence),
    readTextEvidence('kernel.modules', proc('modules'), evidence, (t) => `${parseProcModules(t).length} modules loaded`),
    readSysctls(paths, evidence),
  ]);

  let release = nonEmpty(releaseText);
  if (release === null && isLiveProc(paths)) {
    release = osRelease();
    evidence.push({ source: 'kernel.release', detail: `node:os release() = ${release} (proc/sys/kernel/osrelease unreadable)` });
  }
  const version = nonEmpty(versionText);
  const machine = nonEmpty(archText);
  const cmdline = nonEmpty(cmdlineText?.replace(/\0/g, ' ') ?? null);
  const modules = modulesText === null ? [] : parseProcModules(modulesText);

  const config = which === 'none' ? null : await readKernelConfig(paths, release, evidence, which === 'selected' ? SELECTED_SET : null);
  if (which === 'none') evidence.push({ source: 'kernel.config', detail: 'not read (not asked for)' });
  const builtinModules = await readBuiltinModules(paths, release, evidence);
  const userNamespaces = judgeUserNamespaces(sysctls, config, evidence);

  return { release, version, machine, config: config && which === 'selected' ? selectedConfig(config) : config, cmdline, modules, builtinModules, sysctls, userNamespaces, evidence };
}

function nonEmpty(s: string | null): string | null {
  if (s === null) return null;
  const t = s.trim();
  return t === '' ? null : t;
}

/** Module names from the text of `/proc/modules` (first field of each line). */
export function parseProcModules(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const name = line.trim().split(/\s+/)[0];
    if (name) out.push(name);
  }
  return out;
}

/** Map a dotted sysctl name to its path under procfs: `kernel.yama.ptrace_scope` → `sys/kernel/yama/ptrace_scope`. */
export function sysctlRelPath(name: string): string {
  return `sys/${name.split('.').join('/')}`;
}

async function readSysctls(paths: HostPaths, evidence: Evidence[]): Promise<Record<string, string | null>> {
  const values = await Promise.all(
    SELECTED_SYSCTLS.map(async (name) => {
      const path = procPath(paths, sysctlRelPath(name));
      const r = await readCapped(path, 64 * 1024);
      if (r.kind !== 'ok') {
        evidence.push({ source: 'kernel.sysctls', path, detail: `${name}: ${describeFailure(r)}` });
        return [name, null] as const;
      }
      const v = r.data.toString('utf8').trim().replace(/\s+/g, ' ');
      evidence.push({ source: 'kernel.sysctls', path, detail: `${name} = ${v}` });
      return [name, v] as const;
    }),
  );
  const out: Record<string, string | null> = {};
  for (const [k, v] of values) out[k] = v;
  return out;
}

/**
 * Parse kernel config text (`.config` format) into `CONFIG_*` options and explicitly unset names.
 * String values lose their double quotes and backslash escapes.
 */
export function parseKernelConfig(text: string): { options: Record<string, string>; notSet: string[] } {
  const { options, notSet } = scanKernelConfig(text, null);
  return { options, notSet };
}

const CONFIG_NAME = /^CONFIG_[A-Za-z0-9_]+$/;

/**
 * {@link parseKernelConfig}, keeping only the names in `keep` (all when null) and counting the lines
 * of each kind: a config has thousands of options, and a record of them all costs more than the
 * reading (~5 ms: each key is interned) when the host facts keep a few dozen.
 */
function scanKernelConfig(text: string, keep: ReadonlySet<string> | null): { options: Record<string, string>; notSet: string[]; setCount: number; notSetCount: number } {
  const options: Record<string, string> = {};
  const notSet: string[] = [];
  let setCount = 0;
  let notSetCount = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('CONFIG_')) {
      const eq = line.indexOf('=');
      if (eq <= 'CONFIG_'.length) continue;
      const name = line.slice(0, eq);
      if (!CONFIG_NAME.test(name)) continue;
      setCount++;
      if (keep !== null && !keep.has(name)) continue;
      let value = line.slice(eq + 1);
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
        value = value.slice(1, -1).replace(/\\(.)/g, '$1');
      }
      options[name] = value;
    } else if (line.startsWith('#') && line.endsWith(' is not set')) {
      const name = line.slice(1, -' is not set'.length).trim();
      if (!CONFIG_NAME.test(name)) continue;
      notSetCount++;
      if (keep === null || keep.has(name)) notSet.push(name);
    }
  }
  return { options, notSet, setCount, notSetCount };
}

async function readKernelConfig(paths: HostPaths, release: string | null, evidence: Evidence[], keep: ReadonlySet<string> | null): Promise<KernelConfig | null> {
  // 1. The running kernel's own copy (CONFIG_IKCONFIG_PROC).
  const gzPath = procPath(paths, 'config.gz');
  const gz = await readCapped(gzPath);
  if (gz.kind === 'ok') {
    try {
      const text = gunzipSync(gz.data, { maxOutputLength: MAX_CONFIG_BYTES }).toString('utf8');
      const parsed = scanKernelConfig(text, keep);
      evidence.push({ source: 'kernel.config', path: gzPath, detail: `${parsed.setCount} options set, ${parsed.notSetCount} not set` });
      return { source: 'proc-config-gz', path: gzPath, options: parsed.options, notSet: parsed.notSet, complete: keep === null };
    } catch (e) {
      evidence.push({ source: 'kernel.config', path: gzPath, detail: `cannot gunzip: ${shorten(e instanceof Error ? e.message : String(e))}` });
    }
  } else {
    evidence.push({ source: 'kernel.config', path: gzPath, detail: describeFailure(gz) });
  }

  // 2. The distribution's copy for this release.
  if (release === null) {
    evidence.push({ source: 'kernel.config', detail: 'kernel release unknown: no config-<release> file to look for' });
    return null;
  }
  if (release.includes('/') || release === '.' || release === '..') {
    evidence.push({ source: 'kernel.config', detail: `kernel release ${JSON.stringify(release)} is not a file name; not looked up` });
    return null;
  }
  const candidates: [KernelConfig['source'], string][] = [
    ['boot', `boot/config-${release}`],
    ['modules-dir', `lib/modules/${release}/config`],
    ['modules-dir', `usr/lib/modules/${release}/config`],
  ];
  for (const [source, rel] of candidates) {
    const path = await resolveInRoot(paths.root, rel);
    const r = await readCapped(path, MAX_READ_BYTES);
    if (r.kind !== 'ok') {
      evidence.push({ source: 'kernel.config', path, detail: describeFailure(r) });
      continue;
    }
    const parsed = scanKernelConfig(r.data.toString('utf8'), keep);
    evidence.push({ source: 'kernel.config', path, detail: `${parsed.setCount} options set, ${parsed.notSetCount} not set` });
    return { source, path, options: parsed.options, notSet: parsed.notSet, complete: keep === null };
  }
  return null;
}

async function readBuiltinModules(paths: HostPaths, release: string | null, evidence: Evidence[]): Promise<string[] | null> {
  if (release === null || release.includes('/') || release === '.' || release === '..') {
    evidence.push({ source: 'kernel.builtinModules', detail: 'kernel release unknown: modules.builtin not looked up' });
    return null;
  }
  for (const rel of [`lib/modules/${release}/modules.builtin`, `usr/lib/modules/${release}/modules.builtin`]) {
    const path = await resolveInRoot(paths.root, rel);
    const r = await readCapped(path);
    if (r.kind !== 'ok') {
      evidence.push({ source: 'kernel.builtinModules', path, detail: describeFailure(r) });
      continue;
    }
    // Lines are paths such as kernel/fs/overlayfs/overlay.ko; the module name is the base name without .ko.
    const names = r.data
      .toString('utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '')
      .map((l) => (l.split('/').pop() ?? l).replace(/\.ko(\.[a-z]+)?$/, ''));
    evidence.push({ source: 'kernel.builtinModules', path, detail: `${names.length} built-in modules` });
    return names;
  }
  return null;
}

/**
 * Can an unprivileged user create a user namespace? Rules, in order:
 * `CONFIG_USER_NS` off → false; `user.max_user_namespaces` = 0 → false;
 * `kernel.unprivileged_userns_clone` = 0 (Debian/Ubuntu patch) → false;
 * `kernel.apparmor_restrict_unprivileged_userns` = 1 (Ubuntu 23.10+: the namespace is created but has no
 * capabilities unless an AppArmor profile allows it, which defeats rootless runtimes) → false;
 * `user.max_user_namespaces` > 0 → true; otherwise unknown (null).
 */
export function judgeUserNamespaces(
  sysctls: Record<string, string | null>,
  config: KernelConfig | null,
  evidence: Evidence[] = [],
): boolean | null {
  const say = (value: boolean | null, why: string): boolean | null => {
    evidence.push({ source: 'kernel.userNamespaces', detail: `${value === null ? 'unknown' : value ? 'yes' : 'no'}: ${why}` });
    return value;
  };
  if (config) {
    const v = config.options['CONFIG_USER_NS'];
    if (v !== 'y') return say(false, `CONFIG_USER_NS is ${v ?? 'not set'} in ${config.path}`);
  }
  const max = sysctls['user.max_user_namespaces'] ?? null;
  if (max !== null && /^\d+$/.test(max) && Number(max) === 0) return say(false, 'user.max_user_namespaces = 0');
  const clone = sysctls['kernel.unprivileged_userns_clone'] ?? null;
  if (clone === '0') return say(false, 'kernel.unprivileged_userns_clone = 0');
  const apparmor = sysctls['kernel.apparmor_restrict_unprivileged_userns'] ?? null;
  if (apparmor === '1') {
    return say(false, 'kernel.apparmor_restrict_unprivileged_userns = 1 (unconfined programs get a user namespace without capabilities)');
  }
  if (max !== null && /^\d+$/.test(max) && Number(max) > 0) {
    const parts = [`user.max_user_namespaces = ${max}`];
    parts.push(clone === null ? 'kernel.unprivileged_userns_clone absent (upstream behaviour: allowed)' : `kernel.unprivileged_userns_clone = ${clone}`);
    return say(true, parts.join(', '));
  }
  return say(null, 'user.max_user_namespaces not readable');
}
