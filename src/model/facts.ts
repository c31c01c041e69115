/**
 * The facts model: what containerspec knows about a host or an image. The JSON form is
 * `schemas/facts.schema.json`; bump FACTS_SCHEMA_VERSION when the shape changes.
 */

/** Version of the facts JSON this code writes. */
export const FACTS_SCHEMA_VERSION = '1.0';

/** Where a fact came from. */
export interface Evidence {
  /** What kind of source: `config`, `elf`, `file`, `filename`, `banner`, `package-db`, `env`, `label`, `proc`, `sys`, `set`, ... */
  source: string;
  /** Path inside the image or host root (no leading slash for images), when the fact comes from a file. */
  path?: string;
  /** Layer digest the file comes from (images only). */
  layer?: string | null;
  /** Anything else worth showing (the matched string, the variable name). */
  detail?: string;
}

/** A problem found while gathering facts: the facts are still reported. */
export interface FactWarning {
  code: string;
  message: string;
  path?: string;
  layer?: string | null;
}

/** Platform facts. */
export interface PlatformFacts {
  os: string | null;
  /** OCI architecture name: amd64, arm64, ppc64le, riscv64, s390x, 386, ... */
  architecture: string | null;
  variant: string | null;
  /** ELF machines seen in the image's executables and libraries, with counts. */
  elfArchitectures?: Record<string, number>;
  evidence: Evidence[];
}

/** Distribution facts from os-release and its fallbacks. */
export interface OsFacts {
  id: string | null;
  versionId: string | null;
  prettyName: string | null;
  idLike: string[];
  evidence: Evidence[];
}

/** libc facts. */
export interface LibcFacts {
  family: 'glibc' | 'musl' | null;
  version: string | null;
  /** The dynamic loader(s) present. */
  loaders: string[];
  evidence: Evidence[];
}

/** One MPI library. */
export interface MpiFact {
  implementation: 'openmpi' | 'mpich' | 'intel' | 'mvapich' | 'cray' | 'unknown';
  version: string | null;
  /** ABI family: `openmpi`, `mpich` (the MPICH ABI initiative), `mpi-abi` (MPI-5 standard ABI), or null. */
  abi: 'openmpi' | 'mpich' | 'mpi-abi' | null;
  soname: string | null;
  path: string;
  evidence: Evidence[];
}

/** One CUDA (or other GPU) library found in an image or on a host root. */
export interface CudaLibrary {
  name: string;
  version: string | null;
  path: string;
  layer?: string | null;
}

/** CUDA facts (image side mostly). */
export interface CudaFacts {
  /** CUDA runtime major.minor from libcudart, e.g. "12.4". */
  runtime: string | null;
  /** Full runtime version from the file name, e.g. "12.4.127". */
  runtimeFull: string | null;
  libraries: CudaLibrary[];
  /** NVIDIA_* and CUDA_VERSION environment of the image. */
  env: Record<string, string>;
  /** Forward-compatibility driver under /usr/local/cuda/compat, e.g. "550.54.15". */
  compatDriver: string | null;
  evidence: Evidence[];
}

/** GPU facts (host side). */
export interface GpuFacts {
  /** NVIDIA driver version, a string such as "535.54.03"; null when none. */
  driver: string | null;
  /** The highest CUDA version that driver supports, from the driver table. */
  cudaMax: string | null;
  devices: { vendor: string; model: string | null; id: string | null; bus: string | null }[];
  rocm: string | null;
  evidence: Evidence[];
}

/** Permissions facts: can the image be flattened for an unprivileged runtime? */
export interface PermissionFacts {
  setuid: string[];
  setgid: string[];
  /** Number of entries not owned by root, and up to 20 examples. */
  nonRootOwned: { count: number; examples: string[] };
  devices: string[];
  /** Paths carrying POSIX ACL xattrs. */
  acls: string[];
  /** True when flattening to one user loses nothing that matters; false with reasons otherwise. */
  flattenable: boolean;
  notes: string[];
}

/** A requirement derived from the image, with the file that asks for it. */
export interface VersionRequirement {
  version: string;
  evidence: Evidence[];
}

/** What the image requires of a host. */
export interface Requirements {
  glibc: VersionRequirement | null;
  kernel: VersionRequirement | null;
  cuda: VersionRequirement | null;
  /** Highest GLIBCXX_ and CXXABI_ needs (libstdc++ must provide them, inside the image). */
  glibcxx: VersionRequirement | null;
  cxxabi: VersionRequirement | null;
  /** x86-64 ISA level from GNU property notes (x86-64-v2/v3/v4), the highest any file needs. */
  isaLevel: VersionRequirement | null;
  /** archspec target the image says it was built for. */
  microarch: VersionRequirement | null;
}

/** CPU facts (host side). */
export interface CpuFacts {
  microarch: string | null;
  vendor: string | null;
  family: string | null;
  model: string | null;
  features: string[];
  cores: number | null;
  evidence: Evidence[];
}

/** Kernel facts (host side): the DSI SystemKernel set. */
export interface KernelFacts {
  release: string | null;
  version: string | null;
  machine: string | null;
  cmdline: string | null;
  configSource: string | null;
  config: Record<string, string> | null;
  modules: string[];
  sysctls: Record<string, string | null>;
  userNamespaces: boolean | null;
  evidence: Evidence[];
}

/** A registered binfmt_misc emulator. */
export interface EmulatorFact {
  name: string;
  architecture: string | null;
  interpreter: string | null;
  flags: string | null;
}

/** Facts about one image or one host. */
export interface Facts {
  schemaVersion: string;
  kind: 'image' | 'host';
  /** Image reference or host name. */
  name: string;
  /** Manifest digest (images). */
  digest?: string | null;
  config?: { digest: string | null };
  /** Platforms the image's index offers (`os/arch[/variant]`), when it came from a multi-platform index. */
  platforms?: string[];
  layers?: { digest: string | null; mediaType: string; size: number | null; compression?: string }[];
  platform: PlatformFacts;
  os: OsFacts;
  libc: LibcFacts;
  mpi: MpiFact[];
  cuda: CudaFacts;
  gpu: GpuFacts;
  cpu: CpuFacts;
  kernel: KernelFacts;
  emulators: EmulatorFact[];
  labels: Record<string, string>;
  env: Record<string, string>;
  permissions: PermissionFacts | null;
  requires: Requirements;
  /** Sonames (or file names) of the shared libraries present, sorted: what a bind-mounted library's DT_NEEDED can find. */
  sonames?: string[];
  /** Summary counts of what was read. */
  stats: { files: number; elfFiles: number; layers: number; bytes: number };
  warnings: FactWarning[];
  /** Extra host data (systeminformation) when asked. */
  system?: Record<string, unknown>;
}
