/**
 * The facts model: what containerspec knows about an image ({@link ImageFacts}) or a host
 * ({@link HostFacts}), built from shared parts. Probes and extractors fill these types directly;
 * the JSON form is `schemas/facts-2.1.schema.json` (documents of versions 1.0 and 2.0 are still read, and
 * upgraded by `upgradeFacts`). Bump FACTS_SCHEMA_VERSION, and add a schema file beside the old
 * ones, whenever the shape changes: a published schema is never edited.
 */

/** Version of the facts JSON this code writes. */
export const FACTS_SCHEMA_VERSION = '2.1';

// ---- shared parts ------------------------------------------------------------------------------

/** Where a fact came from. */
export interface Evidence {
  /**
   * What kind of source: `config`, `elf`, `file`, `filename`, `banner`, `package-db`, `env`, `label`,
   * `set`, or for host probes the fact it supports (`kernel.release`, `nvidia.driver`, `binfmt.qemu-aarch64`, ...).
   */
  source: string;
  /** Path inside the image (no leading slash) or on the host, when the fact comes from a file. */
  path?: string;
  /** Layer digest the file comes from (images only). */
  layer?: string | null;
  /** Anything else worth showing (the matched string, the variable name, why a file was not read). */
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
  /** ELF machines seen in the image's executables and libraries, with counts (images only). */
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

/** CUDA user-space facts: the runtime and libraries present (image side mostly), and the image's NVIDIA environment. */
export interface CudaFacts {
  /** CUDA runtime major.minor from libcudart, e.g. "12.4". */
  runtime: string | null;
  /** Full runtime version from the file name, e.g. "12.4.127". */
  runtimeFull: string | null;
  libraries: CudaLibrary[];
  /** NVIDIA_* and CUDA_VERSION environment of the image (empty on hosts). */
  env: Record<string, string>;
  /** Forward-compatibility driver under /usr/local/cuda/compat, e.g. "550.54.15". */
  compatDriver: string | null;
  evidence: Evidence[];
}

/** Summary counts of what was read. */
export interface Stats {
  files: number;
  elfFiles: number;
  layers: number;
  bytes: number;
}

/** The parts every facts document has, host or image. */
export interface CommonFacts {
  schemaVersion: string;
  /** Image reference or host name. */
  name: string;
  platform: PlatformFacts;
  os: OsFacts;
  libc: LibcFacts;
  mpi: MpiFact[];
  cuda: CudaFacts;
  stats: Stats;
  warnings: FactWarning[];
}

// ---- image parts -------------------------------------------------------------------------------

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

/** One layer of an image as the facts list it. */
export interface LayerFact {
  /** Stored blob digest (or diff id when only that is known). */
  digest: string | null;
  mediaType: string;
  size: number | null;
  compression?: 'gzip' | 'zstd' | 'none';
}

/** Facts about one image (one platform of it). */
export interface ImageFacts extends CommonFacts {
  kind: 'image';
  /** The transport the image was read through: oci, oci-archive, docker-archive, dir, tar, or `facts` for a facts file. */
  transport: string;
  /** Manifest digest; null when the source has no manifest (dir:, tar:, classic docker-archive). */
  digest: string | null;
  config: { digest: string | null };
  /**
   * Content identity: the manifest digest, a classic docker-archive's config digest (its image id),
   * a tar:'s file digest, or a dir:'s tree digest. Present only when asked for (`inspect --identity`).
   */
  identity?: string;
  /** Platforms the image's index offers (`os/arch[/variant]`), when it came from a multi-platform index. */
  platforms?: string[];
  layers: LayerFact[];
  labels: Record<string, string>;
  env: Record<string, string>;
  /** Null only in a document upgraded from version 1.0 that had none. */
  permissions: PermissionFacts | null;
  requires: Requirements;
  /** Sonames (or file names) of the shared libraries present, sorted: what a bind-mounted library's DT_NEEDED can find. */
  sonames: string[];
}

// ---- host parts --------------------------------------------------------------------------------

/** CPU facts (host side). */
export interface CpuFacts {
  /** archspec target name, e.g. `icelake`; null when it cannot be detected. */
  microarch: string | null;
  vendor: string | null;
  /** archspec family (`x86_64`, `aarch64`, `ppc64le`) or the machine name. */
  family: string | null;
  model: string | null;
  features: string[];
  cores: number | null;
  evidence: Evidence[];
}

/** A kernel build configuration, parsed from `/proc/config.gz` or a `config-<release>` file. */
export interface KernelConfig {
  /** Where it came from: the running kernel's own copy, `/boot`, the modules directory, or unknown (an upgraded 1.0 document). */
  source: 'proc-config-gz' | 'boot' | 'modules-dir' | 'unknown';
  /** The file read. */
  path: string;
  /** `CONFIG_*` name to value: `y`, `m`, a number, or a string with its quotes removed. */
  options: Record<string, string>;
  /** Names given as `# CONFIG_X is not set`, i.e. explicitly off. */
  notSet: string[];
  /** True when `options` and `notSet` are the whole build configuration; false when only the selected ones (src/host/kernel.ts `SELECTED_KCONFIG`). */
  complete: boolean;
}

/** Facts about the running kernel: the DSI SystemKernel set. */
export interface KernelFacts {
  /** `uname -r`, e.g. `6.1.0-18-amd64`. */
  release: string | null;
  /** `uname -v`. */
  version: string | null;
  /** `uname -m` (`x86_64`, `aarch64`). */
  machine: string | null;
  /** The kernel command line. */
  cmdline: string | null;
  /** The build configuration, or null when neither `/proc/config.gz` nor a config file for this release was found. */
  config: KernelConfig | null;
  /** Loaded module names from `proc/modules`; empty when the file is missing. */
  modules: string[];
  /** Modules built into the kernel, from `lib/modules/<release>/modules.builtin`; null when that file is not found. */
  builtinModules: string[] | null;
  /** Selected sysctls, trimmed; null for one that is absent. */
  sysctls: Record<string, string | null>;
  /** Whether an unprivileged user can create a user namespace; null when unknown. */
  userNamespaces: boolean | null;
  evidence: Evidence[];
}

/** One GPU on the PCI bus (NVIDIA or AMD). */
export interface GpuDevice {
  vendor: 'nvidia' | 'amd';
  /** PCI address, lower case, e.g. `0000:3b:00.0`. */
  bus: string;
  /** Marketing name from the NVIDIA driver (`Tesla V100-SXM2-16GB`), or an AMD GPU's LLVM target; null when unknown. */
  model: string | null;
  /** PCI device id, e.g. `0x1db4`. */
  id: string | null;
  /** NVIDIA `GPU-…` UUID; null when unknown. */
  uuid: string | null;
  /** PCI class, e.g. `0x030200` (3D controller). */
  pciClass: string | null;
  /** Kernel driver bound to the device (`nvidia`, `nouveau`, `amdgpu`, `vfio-pci`); null when none or unknown. */
  kernelDriver: string | null;
  /** AMD: LLVM target from KFD (`gfx90a`); null otherwise. */
  gfxTarget: string | null;
  /** AMD: KFD topology node; null otherwise. */
  kfdNode: number | null;
  /** Where the device was seen: `proc` (NVIDIA driver), `sysfs` (PCI bus), `kfd` (AMD topology). */
  seenIn: ('proc' | 'sysfs' | 'kfd')[];
}

/** A versioned NVIDIA driver library found in the host's root filesystem. */
export interface NvidiaLibrary {
  library: 'libcuda' | 'libnvidia-ml';
  /** Version from the file name, e.g. `535.261.03`. */
  version: string;
  path: string;
}

/** GPU facts (host side). */
export interface GpuFacts {
  /** NVIDIA driver version, e.g. "535.54.03"; null when none. */
  driver: string | null;
  /** Which source gave the driver: the loaded kernel module's version file, a library file name, or `--set`. */
  driverSource: { kind: 'proc' | 'library' | 'set' | 'unknown'; path: string | null } | null;
  /** Flavour of the loaded NVIDIA kernel module; null when no module version file. */
  kernelModule: 'open' | 'proprietary' | null;
  /** The highest CUDA version that driver supports, from the driver table. */
  cudaMax: string | null;
  /** GPU brand as NVIDIA's container toolkit names it (`tesla`, `geforce`, ...); null when unknown. */
  brand: string | null;
  /** CUDA compute capability, e.g. `8.0`; null when unknown. */
  computeCapability: string | null;
  /** Every versioned `libcuda.so.*` / `libnvidia-ml.so.*` found. */
  libraries: NvidiaLibrary[];
  devices: GpuDevice[];
  /** ROCm version from `/opt/rocm/.info/version`. */
  rocm: string | null;
  /** `amdgpu` module version (DKMS driver); null for the in-tree driver or none. */
  amdDriver: string | null;
  /** True when the `amdgpu` module is loaded or built in; null when unknown (an upgraded 1.0 document). */
  amdModuleLoaded: boolean | null;
  evidence: Evidence[];
}

/** A registered binfmt_misc emulator. */
export interface EmulatorFact {
  /** Entry name, e.g. `qemu-aarch64`. */
  name: string;
  /** OCI architecture it runs. */
  architecture: string | null;
  interpreter: string | null;
  /** Flag letters (P, O, C, F). */
  flags: string | null;
  /** F flag: the interpreter was opened at registration, so it also works inside containers. */
  fixBinary: boolean;
  /** The entry file; null when unknown (`--set`, an upgraded 1.0 document). */
  path: string | null;
}

/** binfmt_misc itself. */
export interface BinfmtFacts {
  /** `enabled`, `disabled`, `absent` (not mounted), or null when unknown (an upgraded 1.0 document). */
  status: 'enabled' | 'disabled' | 'absent' | null;
  evidence: Evidence[];
}

/** Virtualisation as far as it can be told without privileges. */
export interface Virtualization {
  /** Running inside a virtual machine; null when it cannot be told. */
  virtual: boolean | null;
  /** Which hypervisor (`kvm`, `qemu`, `vmware`, ...) when known. */
  hypervisor: string | null;
  /** The CPU offers hardware virtualisation (x86 vmx/svm flag); null off x86. */
  cpuCanVirtualize: boolean | null;
}

/** General facts about the host machine. */
export interface SystemFacts {
  hostname: string | null;
  /** Total memory in bytes (MemTotal). */
  memTotalBytes: number | null;
  cpu: {
    /** Logical CPUs (online processors). */
    logical: number | null;
    /** Physical cores; null when the topology is not visible. */
    physical: number | null;
    /** Model name. */
    model: string | null;
  };
  virtualization: Virtualization;
  /** True when `systeminformation` was consulted (`host --slow`). */
  slow: boolean;
  evidence: Evidence[];
}

/** Facts about one host. */
export interface HostFacts extends CommonFacts {
  kind: 'host';
  cpu: CpuFacts;
  kernel: KernelFacts;
  gpu: GpuFacts;
  emulators: EmulatorFact[];
  binfmt: BinfmtFacts;
  system: SystemFacts;
}

/** Facts about an image or a host. */
export type Facts = ImageFacts | HostFacts;
