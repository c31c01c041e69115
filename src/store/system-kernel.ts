/**
 * The SystemKernel row, as DSI's SystemKernel plugin (`dsi/plugins/env.py`) records it: who recorded
 * it (`uid`, `effective_gid`, `moniker`, `gid_list`) and the running kernel as `kernel_info` JSON.
 * Nothing is run: every value is read from procfs, sysfs and /boot (DSI runs `uname`, `sysctl -a`,
 * `lsmod` and `modinfo`). A source that is missing (a container has no /boot config, no
 * /proc/modules) is null, never an error.
 *
 * `kernel_info` (keys differ from DSI's flat dictionary, whose keys are the commands it ran; the
 * content is the same):
 * - `kernel_version`: `uname -r`; `uname`: `{ sysname, release, version, machine }`;
 * - `proc_version`: `/proc/version`;
 * - `config`: `{ source, options }`: the `CONFIG_*` options set in the running kernel's build
 *   configuration (`/proc/config.gz`, else `/boot/config-<release>`), as DSI keeps them
 *   (`# ... is not set` lines dropped);
 * - `cmdline`: `/proc/cmdline`;
 * - `sysctl`: dotted name → value for every readable file under `/proc/sys/{kernel,vm,fs,user}`
 *   (at most {@link MAX_SYSCTLS}; `net.*` is left out: thousands of per-interface entries), with
 *   `sysctl_truncated` true when the cap was reached;
 * - `modules`: loaded modules from `/proc/modules` with `/sys/module/NAME/version` when the module
 *   declares one.
 *
 * The caller adds containerspec's typed host facts (`hostFacts()`: CPU target, glibc, MPI, GPU driver)
 * as `host_facts`.
 */
import { readdirSync } from 'node:fs';
import { getgroups } from 'node:process';
import { hostname, machine, release, type as osType, userInfo, version as osVersion } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parseKernelConfig } from '../host/kernel.js';
import { readCapped } from '../host/paths.js';
import type { HostFacts } from '../model/facts.js';

/** Most sysctl values read. */
export const MAX_SYSCTLS = 2000;

/** Largest sysctl value kept (bytes); longer ones are left out. */
const MAX_SYSCTL_BYTES = 4096;

/** The /proc/sys subtrees read. */
export const SYSCTL_ROOTS = ['kernel', 'vm', 'fs', 'user'] as const;

/**
 * Sysctls not read: `kernel.random.uuid` is new on every read, reading `vm.stat_refresh` flushes every
 * CPU's statistics, and `fs.binfmt_misc` is a file system of its own (see `host` for emulators).
 */
const SYSCTL_SKIP = new Set(['kernel.random.uuid', 'vm.stat_refresh', 'vm.compact_memory', 'vm.drop_caches', 'fs.binfmt_misc']);

/** Largest decompressed `/proc/config.gz` accepted. */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** One loaded kernel module. */
export type KernelModule = {
  name: string;
  /** Size in bytes, from /proc/modules. */
  size: number | null;
  /** How many users it has. */
  instances: number | null;
  /** `Live`, `Loading`, `Unloading`. */
  state: string | null;
  /** Taint flags, e.g. `POE`; null when none. */
  taints: string | null;
  /** `/sys/module/NAME/version` (MODULE_VERSION); null when the module declares none. */
  version: string | null;
};

/** The `kernel_info` JSON. */
export type KernelInfo = {
  /** `uname -r`. */
  kernel_version: string | null;
  uname: { sysname: string | null; release: string | null; version: string | null; machine: string | null };
  proc_version: string | null;
  /** Build configuration: `CONFIG_*` options that are set; null when no config was found. */
  config: { source: string; options: Record<string, string> } | null;
  cmdline: string | null;
  /** Dotted sysctl name → value; null when /proc/sys cannot be read. */
  sysctl: Record<string, string> | null;
  /** True when more than {@link MAX_SYSCTLS} sysctls were found and the rest left out. */
  sysctl_truncated: boolean;
  /** Loaded modules; null when /proc/modules is missing (no module support, or a container without it). */
  modules: KernelModule[] | null;
};

/** A SystemKernel row (append it to the `SystemKernel` table as it is). */
export type SystemKernelRow = {
  uid: number;
  effective_gid: number;
  /** User name: the password database's, else `$USER` / `$LOGNAME`; null when there is none. */
  moniker: string | null;
  /** Group ids of the process (the effective one included), sorted. */
  gid_list: number[];
  kernel_info: KernelInfo;
  /** containerspec host facts, when the caller gave them. */
  host_facts: HostFacts | null;
  host_name: string | null;
};

/** Options for {@link collectSystemKernel}. */
export interface SystemKernelOptions {
  /** procfs to read (default `/proc`). */
  proc?: string;
  /** sysfs to read module versions from (default `/sys` for the live `/proc`; none for another proc tree). */
  sys?: string;
  /** Directory holding `config-<release>` (default `/boot` for the live `/proc`; none for another proc tree). */
  boot?: string;
  /** containerspec host facts to store as `host_facts` (from `hostFacts()`). */
  hostFacts?: HostFacts;
  /** Environment for `$USER` / `$LOGNAME` (default process.env). */
  env?: NodeJS.ProcessEnv;
}

async function text(path: string, cap = 1024 * 1024): Promise<string | null> {
  const r = await readCapped(path, cap);
  return r.kind === 'ok' ? r.data.toString('utf8') : null;
}

function trimmed(s: string | null): string | null {
  const t = s?.replace(/\0/g, ' ').trim();
  return t ? t : null;
}

/** The user name: the password database's, else $USER or $LOGNAME, else null (a uid with no entry, as in many containers). */
function moniker(env: NodeJS.ProcessEnv): string | null {
  try {
    const u = userInfo().username;
    if (u) return u;
  } catch {
    /* no passwd entry for this uid */
  }
  return env.USER || env.LOGNAME || null;
}

/**
 * Parse `/proc/modules`: `name size instances deps state offset [taints]` per line.
 */
export function parseModules(textOfModules: string): Omit<KernelModule, 'version'>[] {
  const out: Omit<KernelModule, 'version'>[] = [];
  for (const line of textOfModules.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (!f[0]) continue;
    const num = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s) ? Number(s) : null);
    const taints = /\(([A-Z]+)\)\s*$/.exec(line)?.[1] ?? null;
    out.push({ name: f[0], size: num(f[1]), instances: num(f[2]), state: f[4] ?? null, taints });
  }
  return out;
}

/** Read sysctls under `procSys`: dotted name → trimmed value, bounded by {@link MAX_SYSCTLS}. Only regular files are read (no symlinks). */
async function readSysctls(procSys: string): Promise<{ values: Record<string, string> | null; truncated: boolean }> {
  const values: Record<string, string> = {};
  let count = 0;
  let truncated = false;
  let any = false;
  const walk = async (dir: string, dotted: string, depth: number): Promise<void> => {
    if (truncated || depth > 6) return;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    any = true;
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const name = `${dotted}.${e.name}`;
      if (SYSCTL_SKIP.has(name)) continue;
      const path = join(dir, e.name);
      if (e.isDirectory()) await walk(path, name, depth + 1);
      else if (e.isFile()) {
        if (count >= MAX_SYSCTLS) {
          truncated = true;
          return;
        }
        // Write-only (compact_memory), permission refused, or too long: left out, as `sysctl -a` does.
        const r = await readCapped(path, MAX_SYSCTL_BYTES);
        if (r.kind !== 'ok') continue;
        values[name] = r.data.toString('utf8').trim().replace(/\s+/g, ' ');
        count++;
      }
      if (truncated) return;
    }
  };
  for (const root of SYSCTL_ROOTS) await walk(join(procSys, root), root, 0);
  return { values: any ? values : null, truncated };
}

/**
 * Collect the SystemKernel row for this process on this host (or on the host whose `/proc` copy
 * `options.proc` names). Never throws for a missing or unreadable source: it is null.
 */
export async function collectSystemKernel(options: SystemKernelOptions = {}): Promise<SystemKernelRow> {
  const proc = resolve(options.proc ?? '/proc');
  const live = proc === '/proc';
  const sys = options.sys ?? (live ? '/sys' : null);
  const boot = options.boot ?? (live ? '/boot' : null);
  const env = options.env ?? process.env;

  const [ostype, osrelease, kversion, arch, procVersion, cmdline, modulesText, hostnameText] = await Promise.all([
    text(join(proc, 'sys/kernel/ostype')),
    text(join(proc, 'sys/kernel/osrelease')),
    text(join(proc, 'sys/kernel/version')),
    text(join(proc, 'sys/kernel/arch')),
    text(join(proc, 'version')),
    text(join(proc, 'cmdline')),
    text(join(proc, 'modules'), 4 * 1024 * 1024),
    text(join(proc, 'sys/kernel/hostname')),
  ]);
  const uname = {
    sysname: trimmed(ostype) ?? (live ? osType() : null),
    release: trimmed(osrelease) ?? (live ? release() : null),
    version: trimmed(kversion) ?? (live ? osVersion() : null),
    machine: trimmed(arch) ?? (live ? machine() : null),
  };

  const config = await readConfig(proc, boot, uname.release);
  const sysctl = await readSysctls(join(proc, 'sys'));
  let modules: KernelModule[] | null = null;
  if (modulesText !== null) {
    modules = [];
    for (const m of parseModules(modulesText)) {
      const version = sys !== null && /^[\w-]+$/.test(m.name) ? trimmed(await text(join(sys, 'module', m.name, 'version'), 4096)) : null;
      modules.push({ ...m, version });
    }
  }

  const gids = [...new Set([process.getegid?.() ?? 0, ...(getgroups?.() ?? [])])].sort((a, b) => a - b);
  return {
    uid: process.getuid?.() ?? 0,
    effective_gid: process.getegid?.() ?? 0,
    moniker: moniker(env),
    gid_list: gids,
    kernel_info: {
      kernel_version: uname.release,
      uname,
      proc_version: trimmed(procVersion),
      config,
      cmdline: trimmed(cmdline),
      sysctl: sysctl.values,
      sysctl_truncated: sysctl.truncated,
      modules,
    },
    host_facts: options.hostFacts ?? null,
    host_name: trimmed(hostnameText) ?? (live ? hostname() : null),
  };
}

/** The running kernel's `CONFIG_*` options: `/proc/config.gz` (the kernel's own), else `BOOT/config-<release>`. */
async function readConfig(proc: string, boot: string | null, rel: string | null): Promise<KernelInfo['config']> {
  const gzPath = join(proc, 'config.gz');
  const gz = await readCapped(gzPath, 4 * 1024 * 1024);
  if (gz.kind === 'ok') {
    try {
      const t = gunzipSync(gz.data, { maxOutputLength: MAX_CONFIG_BYTES }).toString('utf8');
      return { source: gzPath, options: parseKernelConfig(t).options };
    } catch {
      /* not gzip: try /boot */
    }
  }
  if (boot === null || rel === null || rel.includes('/') || rel === '.' || rel === '..') return null;
  const path = join(boot, `config-${rel}`);
  const t = await text(path, 4 * 1024 * 1024);
  return t === null ? null : { source: path, options: parseKernelConfig(t).options };
}
