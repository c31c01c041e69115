import type { Evidence, MpiFact } from '../model/facts.js';
import type { ImageView, ViewEntry } from '../layers/view.js';
import { baseOf } from '../layers/paths.js';
import { fileEvidence } from './evidence.js';
import type { InstalledPackage } from './package-db.js';

/** MPI library file names: the C library of each implementation (Fortran/C++ bindings excluded). */
const MPI_LIB = /^(libmpi|libmpich|libmpi_cray|libmpi_abi|libmpi_intel)\.so(?:\.\d+)*$/;

/** Debian/RPM/Alpine packages that carry each implementation's library, for the version fallback. */
const PACKAGES: Record<string, string[]> = {
  openmpi: ['libopenmpi3', 'libopenmpi40', 'libopenmpi3t64', 'libopenmpi2', 'openmpi', 'openmpi-libs'],
  mpich: ['libmpich12', 'libmpich12t64', 'mpich', 'libmpich-dev'],
  mvapich: ['libmvapich2-12', 'mvapich2'],
};

function soname(path: string, e: ViewEntry): string {
  const s = e.result?.elf?.soname;
  if (s) return s;
  const m = /^(lib[^/]*?\.so(?:\.\d+)?)/.exec(baseOf(path));
  return m ? m[1]! : baseOf(path);
}

/**
 * Classify one MPI library by its strings, soname and DT_NEEDED. Beware Open MPI 1.10, whose
 * libmpi.so.12 has the MPICH ABI's soname but needs libopen-rte / libopen-pal.
 */
function classify(path: string, e: ViewEntry): { impl: MpiFact['implementation']; abi: MpiFact['abi']; version: string | null; how: string } {
  const scans = e.result?.scans ?? {};
  const needed = e.result?.elf?.needed ?? [];
  const so = soname(path, e);
  const base = baseOf(path);
  if (scans['cray-mpich-version'] || /^libmpi_cray/.test(base)) {
    return { impl: 'cray', abi: 'mpich', version: scans['cray-mpich-version']?.[0] ?? null, how: 'CRAY MPICH version string' };
  }
  if (scans['intelmpi-version'] || /^libmpi_intel/.test(base)) {
    return { impl: 'intel', abi: 'mpich', version: scans['intelmpi-version']?.[0] ?? null, how: 'Intel(R) MPI Library string' };
  }
  if (scans['mvapich-version']) {
    return { impl: 'mvapich', abi: 'mpich', version: scans['mvapich-version'][0] ?? null, how: 'MVAPICH version string' };
  }
  const openmpiLinked = needed.some((n) => /^libopen-(?:rte|pal)\.so/.test(n));
  if (scans['openmpi-version'] || openmpiLinked) {
    return { impl: 'openmpi', abi: 'openmpi', version: scans['openmpi-version']?.[0] ?? null, how: scans['openmpi-version'] ? 'Open MPI version string' : 'needs libopen-rte/libopen-pal' };
  }
  if (/^libmpi_abi\.so/.test(so)) return { impl: 'mpich', abi: 'mpi-abi', version: scans['mpich-version']?.[0] ?? null, how: 'MPI standard ABI soname' };
  if (scans['mpich-version']) return { impl: 'mpich', abi: 'mpich', version: scans['mpich-version'][0] ?? null, how: 'MPICH version string' };
  if (/^libmpich\.so\.12$|^libmpi\.so\.12$/.test(so)) return { impl: 'mpich', abi: 'mpich', version: null, how: 'MPICH ABI soname (no version string found)' };
  if (/^libmpi\.so\.(?:40|20|[0-9])$/.test(so)) return { impl: 'openmpi', abi: 'openmpi', version: null, how: 'Open MPI soname' };
  return { impl: 'unknown', abi: null, version: null, how: 'unrecognised MPI library' };
}

/** MPI libraries visible in the image (or host root), one fact per soname. */
export function extractMpi(view: ImageView, packages: Map<string, InstalledPackage>): MpiFact[] {
  const out = new Map<string, MpiFact>();
  for (const [path, e] of view.all()) {
    if (e.meta.type !== 'file' && e.meta.type !== 'hardlink') continue;
    if (!MPI_LIB.test(baseOf(path)) || !e.result?.elf) continue;
    const c = classify(path, e);
    const so = soname(path, e);
    const evidence: Evidence[] = [fileEvidence('elf', path, e, `${c.how}; soname ${so}`)];
    let version = c.version;
    if (!version) {
      const pkg = (PACKAGES[c.impl] ?? []).map((n) => packages.get(n)).find(Boolean);
      if (pkg) {
        version = pkg.upstream;
        evidence.push({ source: 'package-db', path: pkg.path, layer: pkg.layer, detail: `${pkg.name} ${pkg.version}` });
      }
    }
    const key = `${c.impl}:${so}:${e.result.elf.arch}`;
    if (!out.has(key)) out.set(key, { implementation: c.impl, version, abi: c.abi, soname: so, path, evidence });
  }
  return [...out.values()];
}
