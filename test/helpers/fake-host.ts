/**
 * Fake hosts: a directory with `proc/`, `sys/` and `root/` laid out as the host probes read them,
 * filled from real data (archspec cpuinfo dumps of real machines, Debian's real libcuda1), and
 * their facts as `containerspec host --json --proc --root --sys` writes them (a real process).
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { HostFacts } from '../../src/model/facts.js';
import { runCli } from './cli.js';
import { unpackInto, type Libcuda1 } from './libcuda1.js';

export interface FakeHostSpec {
  /** Host name (written to proc/sys/kernel/hostname). */
  name: string;
  /** A cpuinfo file to copy to proc/cpuinfo. */
  cpuinfoFile?: string;
  /** Kernel release written to proc/sys/kernel/osrelease; null writes none. */
  osrelease?: string | null;
  /** Kernel machine written to proc/sys/kernel/arch; absent writes none (the machine is then inferred from cpuinfo). */
  arch?: string;
  /** Text of proc/driver/nvidia/version. */
  nvidiaVersion?: string;
  /** Debian's libcuda1, unpacked into the root with dpkg-deb -x. */
  libcuda?: Libcuda1;
  /** Text of root/etc/os-release. */
  osRelease?: string;
}

export interface FakeHost {
  name: string;
  dir: string;
  proc: string;
  sys: string;
  root: string;
}

export const ROCKY9_OS_RELEASE = `NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
`;

export function put(dir: string, rel: string, content: string | Buffer): string {
  const p = join(dir, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content);
  return p;
}

/** Lay out a fake host under `base/<name>`. */
export function makeFakeHost(base: string, spec: FakeHostSpec): FakeHost {
  const dir = join(base, spec.name);
  const h: FakeHost = { name: spec.name, dir, proc: join(dir, 'proc'), sys: join(dir, 'sys'), root: join(dir, 'root') };
  for (const d of [h.proc, h.sys, h.root]) mkdirSync(d, { recursive: true });
  put(h.proc, 'sys/kernel/hostname', `${spec.name}\n`);
  if (spec.cpuinfoFile) copyFileSync(spec.cpuinfoFile, join(h.proc, 'cpuinfo'));
  if (spec.osrelease !== null) put(h.proc, 'sys/kernel/osrelease', `${spec.osrelease ?? '5.14.0-362.24.1.el9_3.x86_64'}\n`);
  if (spec.arch) put(h.proc, 'sys/kernel/arch', `${spec.arch}\n`);
  if (spec.nvidiaVersion) put(h.proc, 'driver/nvidia/version', spec.nvidiaVersion);
  put(h.root, 'etc/os-release', spec.osRelease ?? ROCKY9_OS_RELEASE);
  if (spec.libcuda) unpackInto(spec.libcuda, h.root);
  return h;
}

/** `containerspec host --json` for a fake host, written to `<dir>.json`. */
export async function hostJson(h: FakeHost): Promise<{ file: string; facts: HostFacts }> {
  const r = await runCli(['host', '--json', '--proc', h.proc, '--root', h.root, '--sys', h.sys]);
  if (r.code !== 0) throw new Error(`containerspec host for ${h.name} exited ${r.code}: ${r.stderr}`);
  const file = `${h.dir}.json`;
  writeFileSync(file, r.stdout);
  return { file, facts: JSON.parse(r.stdout) as HostFacts };
}

/** Write (edited) host facts to a file. */
export function writeFacts(file: string, facts: unknown): string {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(facts, null, 2));
  return file;
}

/** The proprietary-module version line of proc/driver/nvidia/version for a driver version. */
export function nvidiaVersionFile(version: string): string {
  return `NVRM version: NVIDIA UNIX x86_64 Kernel Module  ${version}  Tue Jun  6 22:20:39 UTC 2023\nGCC version:  gcc version 11.3.1 20221121 (Red Hat 11.3.1-4) (GCC)\n`;
}
