/** What the ELF reader learns about one file. Every field is read defensively: offsets are never trusted. */
export interface ElfInfo {
  /** 32 or 64 (EI_CLASS). */
  bits: 32 | 64;
  endian: 'little' | 'big';
  /** e_machine, raw. */
  machine: number;
  /** OCI architecture name derived from machine/class/endianness: amd64, arm64, ppc64le, ppc64, s390x, riscv64, 386, arm, mips64le, ... or `unknown-<n>`. */
  arch: string;
  /** e_type: 'rel' | 'exec' | 'dyn' | 'core' | 'other'. */
  type: 'rel' | 'exec' | 'dyn' | 'core' | 'other';
  /** EI_OSABI, raw. */
  osabi: number;
  /** PT_INTERP contents, e.g. /lib64/ld-linux-x86-64.so.2; null when static. */
  interpreter: string | null;
  /** NT_GNU_ABI_TAG: minimum kernel, e.g. { os: 'linux', kernel: '3.2.0' }. */
  abiTag: { os: string; kernel: string } | null;
  /** DT_NEEDED sonames, in order. */
  needed: string[];
  /** DT_SONAME. */
  soname: string | null;
  /** .gnu.version_r: for each needed file, the version names it needs (GLIBC_2.34, GLIBCXX_3.4.29, CXXABI_1.3.13, ...). */
  versionNeeds: { file: string; versions: string[] }[];
  /** .gnu.version_d: version names this file defines (the first, the file's own name, excluded when it is flagged VER_FLG_BASE). */
  versionDefs: string[];
  /** GNU_PROPERTY_X86_ISA_1_NEEDED bitmask (bit 0 baseline, 1 v2, 2 v3, 3 v4), null when absent. */
  x86IsaNeeded: number | null;
  /** Problems found while reading (truncated tables, offsets out of range); the rest is still reported. */
  warnings: string[];
}
