import type { Evidence, MpiFact } from '../model/facts.js';
import type { ImageView, ViewEntry } from '../layers/view.js';
import { baseOf } from '../layers/paths.js';
import { firstMatch, matchesOf, type ScanRule } from '../layers/wants.js';
import { fileEvidence } from './evidence.js';
import type { InstalledPackage } from './package-db.js';
import type { Extractor } from './types.js';
import { table } from '../util/own.js';

/** MPI library file names: the C library of each implementation (Fortran/C++ bindings excluded). */
const MPI_LIB = /^(libmpi|libmpich|libmpi_cray|libmpi_abi|libmpi_intel)\.so(?:\.\d+)*$/;

const LIB = String.raw`(?:^|/)`;
/** The MPI libraries whose ELF facts are read (the C library of each implementation). */
const MPI_PATH = new RegExp(`${LIB}(?:libmpi|libmpich|libmpi_cray|libmpi_abi|libmpi_intel)\\.so(?:\\.\\d+)*$`);
/** MPICH-ABI libraries, searched for MPICH's version strings. */
const MPICH_ABI_PATH = new RegExp(`${LIB}(?:libmpich\\.so[.0-9]*|libmpi\\.so\\.12[.0-9]*|libmpi_cray\\.so[.0-9]*|libmpi_abi\\.so[.0-9]*)$`);

/**
 * Open MPI keeps its version as a standalone string next to the "Open MPI" ident:
 * "%s:version:full\0v4.1.4\0Open MPI\0"; some builds also carry "Open MPI v4.1.4".
 */
const OPENMPI_VERSION: ScanRule = {
  id: 'openmpi-version',
  path: new RegExp(`${LIB}libmpi\\.so[.0-9]*$`),
  pattern: /(?:\0v|Open MPI v)(\d+\.\d+(?:\.\d+)?(?:[a-z]+\d*)?)(?:\0Open MPI\0|[,\s])/g,
  max: 4,
  anchor: 'Open MPI',
  window: 64,
};
/**
 * MPICH keeps MPII_Version_string right after the build date: "Thu Apr  7 12:34:45 CDT 2022\0" "4.0.2\0"
 * (no literal to anchor on, so only MPICH-ABI libraries are searched).
 */
const MPICH_VERSION: ScanRule = {
  id: 'mpich-version',
  path: MPICH_ABI_PATH,
  pattern: /[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d [A-Z]{2,5} \d{4}\0(\d+\.\d+(?:\.\d+)?(?:[a-z]+\d*)?)\0/g,
  max: 1,
};
/** Derivatives that embed "MPICH Version:\t4.2.0" literally (results join MPICH_VERSION's). */
const MPICH_VERSION_LITERAL: ScanRule = {
  id: 'mpich-version',
  path: MPICH_ABI_PATH,
  pattern: /MPICH Version:[ \t]*(\d+\.\d+(?:\.\d+)?(?:[a-z]+\d*)?)(?=\0|\s)/g,
  max: 1,
  anchor: 'MPICH Version:',
  window: 64,
};
const INTEL_VERSION: ScanRule = {
  id: 'intelmpi-version',
  path: new RegExp(`${LIB}libmpi(?:fort)?\\.so[.0-9]*$`),
  pattern: /Intel\(R\) MPI Library (\d{4}(?:\.\d+)*|\d+\.\d+(?:\.\d+)?)/g,
  max: 4,
  anchor: 'Intel(R) MPI Library',
  window: 64,
};
const MVAPICH_VERSION: ScanRule = {
  id: 'mvapich-version',
  path: new RegExp(`${LIB}libmpi(?:ch)?\\.so[.0-9]*$`),
  pattern: /MVAPICH2? Version:\s*(\d+\.\d+(?:\.\d+)?(?:[a-z]+\d*)?)/g,
  max: 4,
  anchor: 'MVAPICH',
  window: 64,
};
const CRAY_VERSION: ScanRule = {
  id: 'cray-mpich-version',
  path: new RegExp(`${LIB}libmpi(?:_[a-z]+)?\\.so[.0-9]*$`),
  pattern: /CRAY MPICH version (\d+\.\d+(?:\.\d+)?)/g,
  max: 4,
  anchor: 'CRAY MPICH',
  window: 64,
};

/** Debian/RPM/Alpine packages that carry each implementation's library, for the version fallback. */
const PACKAGES = table<string[]>({
  openmpi: ['libopenmpi3', 'libopenmpi40', 'libopenmpi3t64', 'libopenmpi2', 'openmpi', 'openmpi-libs'],
  mpich: ['libmpich12', 'libmpich12t64', 'mpich', 'libmpich-dev'],
  mvapich: ['libmvapich2-12', 'mvapich2'],
});

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
  const r = e.result;
  const needed = e.result?.elf?.needed ?? [];
  const so = soname(path, e);
  const base = baseOf(path);
  const cray = firstMatch(r, CRAY_VERSION);
  if (cray !== null || /^libmpi_cray/.test(base)) return { impl: 'cray', abi: 'mpich', version: cray, how: 'CRAY MPICH version string' };
  const intel = firstMatch(r, INTEL_VERSION);
  if (intel !== null || /^libmpi_intel/.test(base)) return { impl: 'intel', abi: 'mpich', version: intel, how: 'Intel(R) MPI Library string' };
  const mvapich = firstMatch(r, MVAPICH_VERSION);
  if (mvapich !== null) return { impl: 'mvapich', abi: 'mpich', version: mvapich, how: 'MVAPICH version string' };
  const openmpiLinked = needed.some((n) => /^libopen-(?:rte|pal)\.so/.test(n));
  const openmpi = firstMatch(r, OPENMPI_VERSION);
  if (openmpi !== null || openmpiLinked) {
    return { impl: 'openmpi', abi: 'openmpi', version: openmpi, how: openmpi !== null ? 'Open MPI version string' : 'needs libopen-rte/libopen-pal' };
  }
  const mpich = matchesOf(r, MPICH_VERSION)[0] ?? null;
  if (/^libmpi_abi\.so/.test(so)) return { impl: 'mpich', abi: 'mpi-abi', version: mpich, how: 'MPI standard ABI soname' };
  if (mpich !== null) return { impl: 'mpich', abi: 'mpich', version: mpich, how: 'MPICH version string' };
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

/** MPI libraries and their ABI family and version. */
export const mpiExtractor: Extractor = {
  name: 'mpi',
  wants: {
    elf: MPI_PATH,
    scans: [OPENMPI_VERSION, MPICH_VERSION, MPICH_VERSION_LITERAL, INTEL_VERSION, MVAPICH_VERSION, CRAY_VERSION],
  },
  run(input, found) {
    found.mpi = extractMpi(input.view, found.packages);
  },
};
