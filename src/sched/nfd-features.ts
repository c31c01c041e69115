/**
 * A host's containerspec facts as a Kubernetes Node Feature Discovery (NFD) local feature file
 * (`/etc/kubernetes/node-feature-discovery/features.d/<name>`), so that the image-compatibility
 * rules of `src/registry/nfd.ts` can match them.
 *
 * The format is NFD's `local` source (`source/local/local.go`, NFD v0.18 and later, and the
 * "Local feature source" section of its customization guide): one `name[=value]` per line (no
 * value means `true`), `#` starts a comment, `# +expiry-time=<RFC3339>` makes the lines after it
 * expire, `# +no-label` keeps the next line out of the node labels. Every line becomes an element
 * of the `local.feature` attribute feature (what rules match) and, unless `# +no-label`, a node
 * label; a file over 64 KiB is ignored, and so are files whose names start with a dot.
 *
 * Names carry the `containerspec.io/` prefix: NFD wants label names to be
 * `<namespace>/<name>` (it prefixes bare names with `feature.node.kubernetes.io/` and says that
 * will stop), and nfd-master accepts any namespace outside `kubernetes.io` by default.
 *
 * Versions are written as one integer, MAJOR*1000000 + MINOR*1000 + PATCH (glibc 2.36 is
 * `2036000`, driver 535.104.05 is `535104005`), because NFD's `Gt`/`Lt` operators compare integers
 * only (its `type: version` needs NFD 0.18 and semver strings). Components must be below 1000;
 * a version that does not fit is left out, never rounded.
 */

import { randomBytes } from 'node:crypto';
import { rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { loadArchspec, type Archspec } from '../arch/index.js';
import { FactsError, oneLine, UsageError } from '../errors/index.js';
import { maxCudaForDriver } from '../gpu/cuda-table.js';
import { datacenterGpu } from '../gpu/gpu-models.js';
import type { HostFacts, MpiFact } from '../model/facts.js';
import { parseVersion, type VersionTuple } from '../util/version.js';

/** Namespace of every feature containerspec writes. */
export const NFD_FEATURE_PREFIX = 'containerspec.io/';

/** NFD ignores a feature file larger than this (`MaxFeatureFileSize` in `source/local/local.go`). */
export const NFD_FEATURE_FILE_MAX_BYTES = 65536;

/** MPI ABI families (`MpiFact['abi']` without null). */
export type MpiAbi = NonNullable<MpiFact['abi']>;

/** Every MPI implementation name the facts use: the image rule lists "another implementation of the same ABI" from it. */
export const MPI_IMPLEMENTATIONS: readonly MpiFact['implementation'][] = Object.keys({
  openmpi: true, mpich: true, intel: true, mvapich: true, cray: true, unknown: true,
} satisfies Record<MpiFact['implementation'], true>) as MpiFact['implementation'][];

/**
 * The names of the features, shared by the host half (this file) and the image half
 * (`src/registry/nfd.ts`), so both always agree.
 */
export const NFD_KEYS = {
  /** OCI architecture of the host (`amd64`, `arm64`, ...). */
  arch: `${NFD_FEATURE_PREFIX}arch`,
  /** The N of a `vN` platform variant (32-bit ARM `v7`, arm64 `v8`), when the host has one. */
  archVariant: `${NFD_FEATURE_PREFIX}arch.variant`,
  /** The host's archspec target name. */
  microarch: `${NFD_FEATURE_PREFIX}microarch`,
  /** `true` for the host's archspec target and each of its ancestors: "T or a descendant" is `Exists`. */
  microarchTarget: (target: string): string => `${NFD_FEATURE_PREFIX}microarch.${target}`,
  /** libc family (`glibc`, `musl`). */
  libc: `${NFD_FEATURE_PREFIX}libc`,
  /** glibc version as an integer ({@link nfdVersionNumber}). */
  glibc: `${NFD_FEATURE_PREFIX}glibc`,
  /** Number of MPI libraries on the host (absent when none). */
  mpi: `${NFD_FEATURE_PREFIX}mpi`,
  /** `true` when the host has an MPI of this ABI family from this implementation. */
  mpiLibrary: (abi: MpiAbi, impl: MpiFact['implementation']): string => `${NFD_FEATURE_PREFIX}mpi.${abi}.${impl}`,
  /** The highest minor version of that ABI and implementation within one major version. */
  mpiMinor: (abi: MpiAbi, impl: MpiFact['implementation'], major: number): string => `${NFD_FEATURE_PREFIX}mpi.${abi}.${impl}.${major}`,
  /** NVIDIA driver version as an integer. */
  cudaDriver: `${NFD_FEATURE_PREFIX}cuda.driver`,
  /** Highest CUDA the driver supports (what `cuda>=` in NVIDIA_REQUIRE_CUDA tests), as an integer. */
  cudaMax: `${NFD_FEATURE_PREFIX}cuda.max`,
  /** GPU brand as NVIDIA's toolkit names it, lower case (`tesla`, `geforce`, ...). */
  cudaBrand: `${NFD_FEATURE_PREFIX}cuda.brand`,
  /** CUDA compute capability as an integer (8.0 is `8000000`). */
  cudaArch: `${NFD_FEATURE_PREFIX}cuda.arch`,
  /** `true` for data center NVIDIA GPUs, where CUDA forward compatibility is supported (absent when not, or unknown). */
  cudaDatacenter: `${NFD_FEATURE_PREFIX}cuda.datacenter`,
} as const;

/** One line of the feature file. */
export interface NfdHostFeature {
  /** Feature name, e.g. `containerspec.io/glibc`. */
  name: string;
  /** Its value, e.g. `2036000`. */
  value: string;
  /** A comment written above it, for people (e.g. `glibc 2.36`). */
  comment?: string;
}

/** Options for {@link nfdHostFeatures}. */
export interface NfdHostFeatureOptions {
  /** archspec database (default: the vendored one). */
  archspec?: Archspec;
  /** Also make each feature a node label (NFD's default). False writes `# +no-label` before each line. Default true. */
  labels?: boolean;
  /** Write `# +expiry-time=` so NFD drops the facts if they are not rewritten by then. */
  expiryTime?: Date;
}

const COMPONENT_LIMIT = 1000;

/**
 * A version as one integer NFD can compare with `Gt`/`Lt`: MAJOR*1000000 + MINOR*1000 + PATCH.
 * Missing components are 0 (`12.4` is `12004000`); trailing zero components beyond three are
 * ignored. Null when the version does not parse, has a non-zero fourth component, or a component
 * of 1000 or more: such a version is not written rather than written wrong.
 */
export function nfdVersionNumber(v: string | VersionTuple): number | null {
  const t = typeof v === 'string' ? parseVersion(v) : v;
  if (!t || t.length === 0) return null;
  if (t.slice(3).some((c) => c !== 0)) return null;
  const [a = 0, b = 0, c = 0] = t;
  if ([a, b, c].some((x) => !Number.isSafeInteger(x) || x < 0 || x >= COMPONENT_LIMIT)) return null;
  return a * COMPONENT_LIMIT * COMPONENT_LIMIT + b * COMPONENT_LIMIT + c;
}

/** A feature from a version, when it fits ({@link nfdVersionNumber}). */
function versionFeature(name: string, version: string | null, comment: string): NfdHostFeature[] {
  const n = version === null ? null : nfdVersionNumber(version);
  return n === null ? [] : [{ name, value: String(n), comment }];
}

function archFeatures(host: HostFacts): NfdHostFeature[] {
  const { architecture, variant } = host.platform;
  if (!architecture) return [];
  const out: NfdHostFeature[] = [{ name: NFD_KEYS.arch, value: architecture }];
  const v = variant ? /^v(\d+)$/.exec(variant) : null;
  if (v?.[1]) out.push({ name: NFD_KEYS.archVariant, value: v[1] });
  return out;
}

function microarchFeatures(host: HostFacts, spec: Archspec): NfdHostFeature[] {
  const target = host.cpu.microarch;
  if (!target || !spec.has(target)) return [];
  const ancestors = spec.ancestors(target);
  return [
    { name: NFD_KEYS.microarch, value: target, comment: `archspec target ${target}; it and its ancestors: ${[target, ...ancestors].join(', ')}` },
    ...[target, ...ancestors].map((t) => ({ name: NFD_KEYS.microarchTarget(t), value: 'true' })),
  ];
}

function libcFeatures(host: HostFacts): NfdHostFeature[] {
  const { family, version } = host.libc;
  if (!family) return [];
  const out: NfdHostFeature[] = [{ name: NFD_KEYS.libc, value: family }];
  if (family === 'glibc') out.push(...versionFeature(NFD_KEYS.glibc, version, `glibc ${version}`));
  return out;
}

/** Per ABI and implementation: present, and the highest minor of each major. */
function mpiFeatures(host: HostFacts): NfdHostFeature[] {
  if (host.mpi.length === 0) return [];
  const out = new Map<string, NfdHostFeature>();
  for (const m of host.mpi) {
    if (!m.abi) continue;
    const lib = NFD_KEYS.mpiLibrary(m.abi, m.implementation);
    out.set(lib, { name: lib, value: 'true', comment: `${m.implementation} ${m.version ?? '(version unknown)'}, ${m.abi} ABI (${m.soname ?? '?'})` });
    const v = m.version ? parseVersion(m.version) : null;
    if (!v) continue;
    const major = v[0] ?? 0;
    const minor = v[1] ?? 0;
    const key = NFD_KEYS.mpiMinor(m.abi, m.implementation, major);
    const had = out.get(key);
    if (!had || Number(had.value) < minor) out.set(key, { name: key, value: String(minor) });
  }
  return [{ name: NFD_KEYS.mpi, value: String(host.mpi.length), comment: `${host.mpi.length} MPI librar${host.mpi.length === 1 ? 'y' : 'ies'}` }, ...out.values()];
}

function gpuFeatures(host: HostFacts): NfdHostFeature[] {
  const { driver, brand, computeCapability } = host.gpu;
  if (!driver) return [];
  const cudaMax = host.gpu.cudaMax ?? maxCudaForDriver(driver);
  const out = [
    ...versionFeature(NFD_KEYS.cudaDriver, driver, `NVIDIA driver ${driver}`),
    ...versionFeature(NFD_KEYS.cudaMax, cudaMax, `highest CUDA of that driver: ${cudaMax}`),
  ];
  const b = brand?.trim().toLowerCase();
  if (b) out.push({ name: NFD_KEYS.cudaBrand, value: b });
  out.push(...versionFeature(NFD_KEYS.cudaArch, computeCapability, `compute capability ${computeCapability}`));
  if (datacenterGpu(host.gpu)) out.push({ name: NFD_KEYS.cudaDatacenter, value: 'true', comment: 'data center GPU: CUDA forward compatibility supported' });
  return out;
}

/**
 * The features containerspec publishes for a host, in file order: architecture, archspec target
 * and ancestors, libc, MPI, NVIDIA driver. A fact the host facts do not have is left out.
 */
export function nfdHostFeatureList(host: HostFacts, opts: NfdHostFeatureOptions = {}): NfdHostFeature[] {
  const spec = opts.archspec ?? loadArchspec();
  return [...archFeatures(host), ...microarchFeatures(host, spec), ...libcFeatures(host), ...mpiFeatures(host), ...gpuFeatures(host)];
}

/** Kubernetes label name (after the prefix) and value syntax: at most 63 characters, alphanumeric at both ends. */
const LABEL_PART = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/** Whether a feature can also be a node label. */
function labelSafe(f: NfdHostFeature): boolean {
  const name = f.name.slice(NFD_FEATURE_PREFIX.length);
  return f.name.startsWith(NFD_FEATURE_PREFIX) && name !== '' && LABEL_PART.test(name) && LABEL_PART.test(f.value);
}

/** The lines for one feature; a name or value that cannot be written as one `name=value` line is a bug. */
function featureLines(f: NfdHostFeature, labels: boolean): string[] {
  if (/[=\r\n]/.test(f.name) || /[\r\n]/.test(f.value) || f.name.trim() !== f.name || f.value.trim() !== f.value) {
    throw new FactsError(`cannot write NFD feature ${JSON.stringify(f.name)}=${JSON.stringify(f.value)} as one line`);
  }
  const out: string[] = [];
  if (f.comment) out.push(`# ${f.comment.replace(/[\r\n]+/g, ' ')}`);
  if (!labels || !labelSafe(f)) out.push('# +no-label');
  out.push(`${f.name}=${f.value}`);
  return out;
}

/**
 * The content of an NFD local feature file (`features.d`) for a host: one feature per line in
 * the `containerspec.io/` namespace (see {@link NFD_KEYS}), with comments saying what the
 * integers mean. The file is deterministic for given facts (no timestamps unless `expiryTime`).
 * Throws FactsError if the result is larger than NFD accepts (64 KiB).
 */
export function nfdHostFeatures(host: HostFacts, opts: NfdHostFeatureOptions = {}): string {
  const labels = opts.labels ?? true;
  const lines = [
    `# containerspec host facts of ${host.name.replace(/[\r\n]+/g, ' ')}, for NFD's local feature source (features.d).`,
    '# Versions are integers MAJOR*1000000+MINOR*1000+PATCH, for NFD Gt/Lt rules. Rewrite with: containerspec host --nfd FILE',
  ];
  if (opts.expiryTime) lines.push(`# +expiry-time=${opts.expiryTime.toISOString().replace(/\.\d{3}Z$/, 'Z')}`);
  for (const f of nfdHostFeatureList(host, opts)) lines.push(...featureLines(f, labels));
  const text = `${lines.join('\n')}\n`;
  const size = Buffer.byteLength(text);
  if (size > NFD_FEATURE_FILE_MAX_BYTES) {
    throw new FactsError(`the NFD feature file would be ${size} bytes; NFD ignores files over ${NFD_FEATURE_FILE_MAX_BYTES}`);
  }
  return text;
}

/** The directory must exist (NFD watches it; we never create it) and the name must not be hidden. */
async function checkTarget(file: string): Promise<void> {
  const dir = dirname(file);
  const st = await stat(dir).catch(() => null);
  if (!st?.isDirectory()) throw new UsageError(`--nfd ${file}: directory ${dir} does not exist (NFD reads /etc/kubernetes/node-feature-discovery/features.d/)`);
  if (basename(file).startsWith('.')) throw new UsageError(`--nfd ${file}: NFD ignores files whose names start with a dot`);
}

/**
 * Write {@link nfdHostFeatures} to `file` atomically, as NFD's documentation asks: a hidden
 * temporary file in the same directory (NFD skips dot files), then a rename over `file`, so NFD
 * never reads half a file. Throws UsageError (one line) when the directory does not exist, the
 * name starts with a dot, or the file cannot be written; the temporary file is removed if anything fails.
 */
export async function writeNfdFeatures(host: HostFacts, file: string, opts: NfdHostFeatureOptions = {}): Promise<void> {
  await checkTarget(file);
  const text = nfdHostFeatures(host, opts);
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, text, { mode: 0o644, flag: 'wx' });
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new UsageError(oneLine(`--nfd ${file}: cannot write it (${why})`), { cause: err });
  }
}
