/**
 * Naming the host's microarchitecture from `/proc/cpuinfo`, as archspec does
 * (see `data/archspec/` and archspec's `cpu/detect.py`).
 */

import type { Archspec, ArchTarget } from './archspec.js';
import { parseCpuinfo } from './cpuinfo.js';
import { table } from '../util/own.js';

/** The partial description of a host CPU read from `/proc/cpuinfo`. */
export interface HostCpu {
  /** Kernel machine name, normalised (`x64`/`amd64` → `x86_64`, `arm64` → `aarch64`). */
  readonly machine: string;
  /** RISC-V: the normalised `uarch` (`u74mc`, `x60`, else `riscv64`); otherwise the machine. */
  readonly name: string;
  /** x86: `vendor_id`; aarch64: vendor of `CPU implementer` (raw code if unknown); else `generic`. */
  readonly vendor: string;
  /** x86: words of `flags`; aarch64: words of `Features` (`ssse3` adds `sse3`); else empty. */
  readonly features: ReadonlySet<string>;
  /** aarch64: `CPU part` (e.g. `0xd0c`); else `''`. */
  readonly cpupart: string;
  /** POWER: n of `POWERn` in the `cpu` line (0 if none, as under emulation); else 0. */
  readonly generation: number;
}

const MACHINE_ALIASES = table<string>({ x64: 'x86_64', amd64: 'x86_64', arm64: 'aarch64' });

function words(s: string | undefined): Set<string> {
  const set = new Set((s ?? '').split(/\s+/).filter((w) => w !== ''));
  if (set.has('ssse3')) set.add('sse3');
  return set;
}

/**
 * Read the partial description of the host CPU from a `/proc/cpuinfo` text, by the machine's
 * architecture family (`machine` is the kernel machine name: x86_64, aarch64, ppc64le, ...).
 */
export function describeCpu(spec: Archspec, cpuinfoText: string, machine: string): HostCpu {
  const m = MACHINE_ALIASES[machine] ?? machine;
  const info = parseCpuinfo(cpuinfoText);
  const base = { machine: m, name: m, vendor: 'generic', features: new Set<string>(), cpupart: '', generation: 0 };
  switch (m) {
    case 'x86_64':
      return { ...base, vendor: info['vendor_id'] ?? 'generic', features: words(info['flags']) };
    case 'aarch64': {
      const code = info['CPU implementer'];
      const vendor = code === undefined ? 'generic' : (spec.armVendor(code) ?? code);
      return { ...base, vendor, features: words(info['Features']), cpupart: info['CPU part'] ?? '' };
    }
    case 'ppc64le':
    case 'ppc64': {
      const g = /POWER(\d+)/.exec(info['cpu'] ?? '');
      return { ...base, generation: g?.[1] !== undefined ? Number.parseInt(g[1], 10) : 0 };
    }
    case 'riscv64': {
      const uarch = info['uarch'];
      let name = 'riscv64';
      if (uarch === 'sifive,u74-mc') name = 'u74mc';
      else if (uarch === 'spacemit,x60' || info['model name'] === 'Spacemit(R) X60') name = 'x60';
      return { ...base, name };
    }
    default:
      return base;
  }
}

function isSubset(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size > b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

/** Whether `t` is `root` or descends from it. */
function inLineage(spec: Archspec, t: ArchTarget, root: string): boolean {
  return spec.le(root, t.name);
}

/** The targets compatible with the host description, in database order (empty if none). */
export function compatibleTargets(spec: Archspec, host: HostCpu): ArchTarget[] {
  const test = compatibilityTest(spec, host);
  if (!test) return [];
  const out: ArchTarget[] = [];
  for (const name of spec.names()) {
    const t = spec.target(name);
    if (t && test(t)) out.push(t);
  }
  return out;
}

function compatibilityTest(spec: Archspec, host: HostCpu): ((t: ArchTarget) => boolean) | undefined {
  switch (host.machine) {
    case 'x86_64':
      return (t) =>
        inLineage(spec, t, 'x86_64') &&
        (t.vendor === host.vendor || t.vendor === 'generic') &&
        isSubset(t.features, host.features);
    case 'aarch64':
      return (t) =>
        !(t.vendor === 'generic' && t.name !== 'aarch64') &&
        spec.family(t.name) === 'aarch64' &&
        (t.vendor === host.vendor || t.vendor === 'generic') &&
        isSubset(t.features, host.features);
    case 'ppc64le':
    case 'ppc64':
      return (t) => inLineage(spec, t, host.machine) && t.generation <= host.generation;
    case 'riscv64':
      return (t) => inLineage(spec, t, 'riscv64') && (t.name === host.name || t.vendor === 'generic');
    default:
      return undefined;
  }
}

/**
 * Name the host's microarchitecture from a `/proc/cpuinfo` text and the kernel machine name,
 * as archspec does: among the compatible targets, take the best generic one (more ancestors,
 * then more features); on ARM keep only targets whose `cpupart` matches the host's when any
 * does; keep only targets strictly above the best generic one (so one feature a BIOS disabled
 * does not drop the answer to an old target); answer the best of those, else the best generic.
 * With no compatible target (or an unknown machine), the answer is the machine's generic
 * target, i.e. the machine name itself, which the database may not define (e.g. `s390x`).
 */
export function detectTarget(spec: Archspec, cpuinfoText: string, machine: string): string {
  const host = describeCpu(spec, cpuinfoText, machine);
  let candidates = compatibleTargets(spec, host);
  const better = (a: ArchTarget, b: ArchTarget): boolean => {
    const da = spec.ancestors(a.name).length - spec.ancestors(b.name).length;
    return da !== 0 ? da > 0 : a.features.size > b.features.size;
  };
  // Python's max(): the first of equal maxima wins.
  const best = (list: readonly ArchTarget[]): ArchTarget | undefined => {
    let top: ArchTarget | undefined;
    for (const t of list) if (!top || better(t, top)) top = t;
    return top;
  };
  const bestGeneric = best(candidates.filter((t) => t.vendor === 'generic'));
  if (!bestGeneric) return host.machine;
  if (host.cpupart !== '') {
    const same = candidates.filter((t) => t.cpupart === host.cpupart);
    if (same.length > 0) candidates = same;
  }
  candidates = candidates.filter((t) => spec.lt(bestGeneric.name, t.name));
  return (best(candidates) ?? bestGeneric).name;
}
