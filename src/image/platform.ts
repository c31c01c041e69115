import { UsageError } from '../errors/index.js';
import type { Platform } from './types.js';
import { table } from '../util/own.js';

/** Node's `process.arch` to OCI architecture names. */
const NODE_TO_OCI = table<string>({
  x64: 'amd64',
  arm64: 'arm64',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  ia32: '386',
  arm: 'arm',
  loong64: 'loong64',
  mips64el: 'mips64le',
});

/** Kernel machine names (uname -m) to OCI architecture names. */
export const MACHINE_TO_OCI = table<string>({
  x86_64: 'amd64',
  amd64: 'amd64',
  aarch64: 'arm64',
  arm64: 'arm64',
  ppc64le: 'ppc64le',
  ppc64: 'ppc64',
  s390x: 's390x',
  riscv64: 'riscv64',
  i386: '386',
  i486: '386',
  i586: '386',
  i686: '386',
  armv7l: 'arm',
  armv6l: 'arm',
  loongarch64: 'loong64',
  mips64: 'mips64',
});

/** The platform of the machine we run on. */
export function hostPlatform(): Platform {
  const architecture = NODE_TO_OCI[process.arch] ?? process.arch;
  return { os: 'linux', architecture, variant: architecture === 'arm64' ? 'v8' : undefined };
}

/** Parse `os/arch[/variant]`; a bare arch means linux. */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().split('/');
  if (parts.some((p) => p === '') || parts.length > 3) {
    throw new UsageError(`bad --platform ${JSON.stringify(s)}: expected os/arch[/variant], e.g. linux/arm64/v8`);
  }
  if (parts.length === 1) return { os: 'linux', architecture: normaliseArch(parts[0]!) };
  return { os: parts[0]!, architecture: normaliseArch(parts[1]!), variant: parts[2] };
}

/** Accept common aliases (x86_64, aarch64) for OCI names. */
export function normaliseArch(a: string): string {
  return MACHINE_TO_OCI[a] ?? a;
}

/** `os/arch[/variant]`. */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

function normVariant(p: Platform): string | undefined {
  if (p.architecture === 'arm64' && (!p.variant || p.variant === 'v8')) return 'v8';
  return p.variant || undefined;
}

/** Does an index entry's platform satisfy the wanted one? A wanted platform without a variant accepts any variant. */
export function platformMatches(have: Platform, want: Platform): boolean {
  if (have.os !== want.os || have.architecture !== want.architecture) return false;
  if (want.variant === undefined) return true;
  return normVariant(have) === normVariant(want);
}
