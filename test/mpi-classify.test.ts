/**
 * MPI classification rules that no Debian package can show for real (Open MPI 1.10's
 * libmpi.so.12, Intel MPI, Cray MPICH): the ELF facts are built in code, the classification
 * is the real extractor's.
 */
import { describe, expect, it } from 'vitest';
import type { ElfInfo } from '../src/elf/types.js';
import { extractMpi } from '../src/extract/mpi.js';
import type { FileResult, LayerScan } from '../src/layers/types.js';
import { ImageView } from '../src/layers/view.js';

function elf(soname: string, needed: string[]): ElfInfo {
  return {
    bits: 64, endian: 'little', machine: 62, arch: 'amd64', type: 'dyn', osabi: 0, interpreter: null, abiTag: null,
    needed, soname, versionNeeds: [], versionDefs: [], x86IsaNeeded: null, warnings: [],
  };
}

function viewWith(files: Record<string, FileResult>): ImageView {
  const scan: LayerScan = {
    id: 'sha256:' + '0'.repeat(64), index: 0, whiteouts: [], opaques: [], warnings: [], bytes: { stored: 0, tar: 0 }, compression: 'none', notes: [],
    entries: Object.keys(files).map((path) => ({ path, type: 'file' as const, mode: 0o644, uid: 0, gid: 0, size: 1 })),
    results: files,
  };
  return ImageView.fromScans([scan]);
}

describe('MPI ABI classification', () => {
  it('Open MPI 1.10 has the MPICH soname libmpi.so.12 but is Open MPI (it needs libopen-rte/libopen-pal)', () => {
    const v = viewWith({ 'usr/lib64/openmpi/lib/libmpi.so.12.0.3': { elf: elf('libmpi.so.12', ['libopen-rte.so.12', 'libopen-pal.so.13', 'libc.so.6']) } });
    const [m] = extractMpi(v, new Map());
    expect(m).toMatchObject({ implementation: 'openmpi', abi: 'openmpi', soname: 'libmpi.so.12' });
  });
  it('libmpi.so.12 with an MPICH version string is the MPICH ABI', () => {
    const v = viewWith({ 'usr/lib/libmpi.so.12.1.8': { elf: elf('libmpi.so.12', ['libc.so.6']), scans: { 'mpich-version': ['3.3.2'] } } });
    expect(extractMpi(v, new Map())[0]).toMatchObject({ implementation: 'mpich', abi: 'mpich', version: '3.3.2' });
  });
  it('Intel MPI and Cray MPICH are MPICH-ABI implementations with their own versions', () => {
    const intel = viewWith({ 'opt/intel/mpi/lib/release/libmpi.so.12.0.0': { elf: elf('libmpi.so.12', []), scans: { 'intelmpi-version': ['2021.10'] } } });
    expect(extractMpi(intel, new Map())[0]).toMatchObject({ implementation: 'intel', abi: 'mpich', version: '2021.10' });
    const cray = viewWith({ 'opt/cray/pe/lib64/libmpi_cray.so.12.0.0': { elf: elf('libmpi_cray.so.12', []), scans: { 'cray-mpich-version': ['8.1.27'] } } });
    expect(extractMpi(cray, new Map())[0]).toMatchObject({ implementation: 'cray', abi: 'mpich', version: '8.1.27' });
  });
  it('an MPICH soname without a version string falls back to the package database, saying so', () => {
    const v = viewWith({ 'usr/lib/x86_64-linux-gnu/libmpich.so.12.1.10': { elf: elf('libmpich.so.12', []) } });
    const pkgs = new Map([['libmpich12', { name: 'libmpich12', version: '3.4.1-5', upstream: '3.4.1', source: 'dpkg' as const, path: 'var/lib/dpkg/status', layer: null }]]);
    const [m] = extractMpi(v, pkgs);
    expect(m).toMatchObject({ implementation: 'mpich', version: '3.4.1' });
    expect(m?.evidence.some((e) => e.source === 'package-db' && e.detail === 'libmpich12 3.4.1-5')).toBe(true);
  });
});
