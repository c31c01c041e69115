/**
 * ELF machines (`e_machine`) and the OCI architecture names they mean: the one table the ELF
 * reader and the binfmt_misc probe share.
 */

/** ELF e_machine values we name. */
export const EM = {
  SPARC: 2,
  I386: 3,
  M68K: 4,
  MIPS: 8,
  PARISC: 15,
  PPC: 20,
  PPC64: 21,
  S390: 22,
  ARM: 40,
  SH: 42,
  SPARCV9: 43,
  X86_64: 62,
  AARCH64: 183,
  RISCV: 243,
  LOONGARCH: 258,
} as const;

/**
 * OCI (Go GOARCH style) architecture for an ELF machine, class (`bits`, from EI_CLASS) and byte order
 * (EI_DATA), or null when there is none. Big-endian AArch64 and ARM, and little-endian 32-bit PowerPC,
 * have no OCI name (Go has no such GOARCH), so they are null rather than passed off as arm64 / arm / ppc.
 */
export function ociArchForElf(machine: number, bits: 32 | 64, endian: 'little' | 'big'): string | null {
  const le = endian === 'little';
  switch (machine) {
    case EM.X86_64:
      return 'amd64';
    case EM.I386:
      return '386';
    case EM.AARCH64:
      return le ? 'arm64' : null;
    case EM.ARM:
      return le ? 'arm' : null;
    case EM.PPC64:
      return le ? 'ppc64le' : 'ppc64';
    case EM.PPC:
      return le ? null : 'ppc';
    case EM.S390:
      return bits === 64 ? 's390x' : 's390';
    case EM.RISCV:
      return bits === 64 ? 'riscv64' : 'riscv32';
    case EM.LOONGARCH:
      return bits === 64 ? 'loong64' : null;
    case EM.MIPS:
      return bits === 64 ? (le ? 'mips64le' : 'mips64') : le ? 'mipsle' : 'mips';
    case EM.SPARCV9:
      return 'sparc64';
    case EM.SPARC:
      return 'sparc';
    case EM.M68K:
      return 'm68k';
    case EM.PARISC:
      return 'hppa';
    case EM.SH:
      return le ? 'sh4' : 'sh4eb';
    default:
      return null;
  }
}

/** The architecture name the ELF reader reports: the OCI name, or `unknown-<machine>` (with `-be` for a big-endian variant that has no name). */
export function machineToArch(machine: number, bits: 32 | 64, endian: 'little' | 'big'): string {
  const oci = ociArchForElf(machine, bits, endian);
  if (oci !== null) return oci;
  return `unknown-${machine}${endian === 'big' ? '-be' : ''}`;
}
