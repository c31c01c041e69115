/**
 * The vendored archspec database read directly (not through src/arch), and the archspec cpuinfo
 * dumps of real machines in test/data/archspec-targets: the truth the tests compare against.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './cli.js';

interface Target {
  from: string[];
  vendor: string;
}
const db = JSON.parse(readFileSync(join(REPO, 'data/archspec/microarchitectures.json'), 'utf8')) as { microarchitectures: Record<string, Target> };
const targets = db.microarchitectures;

export const DUMPS_DIR = join(REPO, 'test/data/archspec-targets');

/** The cpuinfo dumps: file name and the target archspec names for that machine (the part after `linux-<os>-`). */
export function dumps(): { file: string; path: string; target: string }[] {
  return readdirSync(DUMPS_DIR)
    .filter((f) => f.startsWith('linux-'))
    .sort()
    .map((file) => ({ file, path: join(DUMPS_DIR, file), target: file.split('-').slice(2).join('-') }));
}

/** The dump whose target is `target`. */
export function dumpFor(target: string): { file: string; path: string; target: string } {
  const d = dumps().find((x) => x.target === target);
  if (!d) throw new Error(`no archspec dump for ${target}`);
  return d;
}

export function hasTarget(name: string): boolean {
  return Object.hasOwn(targets, name);
}

/** Every ancestor of a target (transitively through `from`). */
export function ancestors(name: string): Set<string> {
  const out = new Set<string>();
  const walk = (n: string) => {
    for (const p of targets[n]?.from ?? []) {
      if (!out.has(p)) {
        out.add(p);
        walk(p);
      }
    }
  };
  walk(name);
  return out;
}

/** The family (the root of the target's graph: x86_64, aarch64, ppc64le, ppc64, riscv64). */
export function family(name: string): string {
  const roots = [name, ...ancestors(name)].filter((n) => (targets[n]?.from.length ?? 0) === 0);
  if (roots.length !== 1) throw new Error(`target ${name} has roots ${roots.join(',')}`);
  return roots[0]!;
}

/** True when a binary built for `image` runs on a `host` CPU: the same target or a descendant of it. */
export function runsOn(image: string, host: string): boolean {
  return image === host || ancestors(host).has(image);
}

/** Kernel machine name (`uname -m`) for an archspec family. */
export const KERNEL_MACHINE: Record<string, string> = { x86_64: 'x86_64', aarch64: 'aarch64', ppc64le: 'ppc64le', ppc64: 'ppc64', riscv64: 'riscv64' };

/** OCI architecture name for a kernel machine name (the OCI image spec / Go GOARCH names). */
export const OCI_ARCH: Record<string, string> = { x86_64: 'amd64', aarch64: 'arm64', ppc64le: 'ppc64le', ppc64: 'ppc64', riscv64: 'riscv64' };
