// The mpi rule under the host-MPI (hybrid/bind) model (issue 13): the vendored ABI table with its
// sources, and outcomes consistent with "the image's own MPI works within one node".
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadArchspec } from '../src/arch/index.js';
import { check } from '../src/check/check.js';
import { loadMpiAbiTable, seriesOf } from '../src/check/mpi-abi.js';
import { emptyHostFacts, emptyImageFacts } from '../src/model/empty.js';
import type { HostFacts, MpiFact } from '../src/model/facts.js';
import { parseVersion } from '../src/util/version.js';
import { REPO } from './helpers/cli.js';

const spec = loadArchspec();
const SONAME: Record<string, string> = { openmpi: 'libmpi.so.40', mpich: 'libmpi.so.12', intel: 'libmpi.so.12' };
const lib = (impl: MpiFact['implementation'], version: string | null): MpiFact => ({
  implementation: impl, version, abi: impl === 'openmpi' ? 'openmpi' : 'mpich', soname: SONAME[impl] ?? 'libmpi.so', path: 'usr/lib/libmpi.so', evidence: [],
});
function hostWith(mpi: MpiFact[]): HostFacts {
  const h = emptyHostFacts('n');
  h.platform = { os: 'linux', architecture: 'amd64', variant: null, evidence: [] };
  h.cpu.microarch = 'x86_64';
  h.kernel.release = '6.1.0';
  h.mpi = mpi;
  return h;
}
async function mpiCheck(image: MpiFact, host: MpiFact[]) {
  const i = emptyImageFacts('app', 'oci');
  i.platform = { os: 'linux', architecture: 'amd64', variant: null, evidence: [] };
  i.mpi = [image];
  const r = await check(i, hostWith(host), { archspec: spec });
  return { r, c: r.checks.find((x) => x.id === 'mpi')! };
}

describe('the vendored MPI ABI table (data/mpi-abi.json)', () => {
  it('every row names its soname, its version range and its source; ranges of one implementation and ABI do not overlap', () => {
    const raw = JSON.parse(readFileSync(join(REPO, 'data/mpi-abi.json'), 'utf8')) as { series: Record<string, unknown>[] };
    expect(raw.series.length).toBeGreaterThanOrEqual(7);
    for (const row of raw.series) {
      expect(typeof row.source === 'string' && row.source.length > 20, JSON.stringify(row)).toBe(true);
      expect(row.soname).toMatch(/^lib\w+\.so/);
    }
    const t = loadMpiAbiTable();
    for (const a of t) for (const b of t) {
      if (a === b || a.implementation !== b.implementation || a.abi !== b.abi) continue;
      expect(seriesOf(a.implementation, a.abi, a.fromV), `${a.implementation} ${a.from}`).toBe(a);
    }
  });
  it('places versions as the projects document them', () => {
    const at = (impl: MpiFact['implementation'], abi: MpiFact['abi'], v: string) => seriesOf(impl, abi, parseVersion(v))?.soname ?? null;
    expect(at('openmpi', 'openmpi', '1.10.7')).toBe('libmpi.so.12');
    expect(at('openmpi', 'openmpi', '2.1.6')).toBe('libmpi.so.20');
    for (const v of ['3.0.0', '3.1.6', '4.0.7', '4.1.6', '5.0.5']) expect(at('openmpi', 'openmpi', v)).toBe('libmpi.so.40');
    expect(at('openmpi', 'openmpi', '1.8.4')).toBeNull();
    expect(at('mpich', 'mpich', '3.0.4')).toBeNull(); // before the ABI initiative
    expect(at('mpich', 'mpich', '4.2.1')).toBe('libmpi.so.12');
    expect(at('intel', 'mpich', '2021.10')).toBe('libmpi.so.12');
  });
});

describe('the mpi check: a host MPI stands in for the image\'s only within one ABI series, at least the image\'s version', () => {
  const cases: [string, MpiFact, MpiFact[], 'pass' | 'warn' | 'unknown'][] = [
    ['Open MPI 4.1.2 image, 4.1.5 host', lib('openmpi', '4.1.2'), [lib('openmpi', '4.1.5')], 'pass'],
    ['Open MPI 4.1.2 image, 5.0.3 host (5.0 keeps the 4.x C ABI)', lib('openmpi', '4.1.2'), [lib('openmpi', '5.0.3')], 'pass'],
    ['Open MPI 3.1.6 image, 4.0.7 host (4.0 kept 3.x binaries running)', lib('openmpi', '3.1.6'), [lib('openmpi', '4.0.7')], 'pass'],
    ['Open MPI 4.1.2 image, 4.0.7 host (older)', lib('openmpi', '4.1.2'), [lib('openmpi', '4.0.7')], 'warn'],
    ['Open MPI 4.1.2 image, 2.1.6 host (another series)', lib('openmpi', '4.1.2'), [lib('openmpi', '2.1.6')], 'warn'],
    ['Open MPI image, MPICH host (another ABI family)', lib('openmpi', '4.1.2'), [lib('mpich', '4.2.1')], 'warn'],
    ['MPICH 3.4.1 image, MPICH 4.2.0 host', lib('mpich', '3.4.1'), [lib('mpich', '4.2.0')], 'pass'],
    ['MPICH 4.2.0 image, MPICH 3.4.1 host (older)', lib('mpich', '4.2.0'), [lib('mpich', '3.4.1')], 'warn'],
    ['MPICH image, host version unknown', lib('mpich', '4.2.0'), [lib('mpich', null)], 'unknown'],
    ['MPICH 3.0 image (before the ABI initiative), MPICH 4.2 host', lib('mpich', '3.0.4'), [lib('mpich', '4.2.0')], 'unknown'],
    ['Open MPI image, a usable and an unusable host MPI: the usable one', lib('openmpi', '4.1.2'), [lib('mpich', '4.2.1'), lib('openmpi', '4.1.6')], 'pass'],
  ];
  for (const [name, image, host, want] of cases) {
    it(`${name}: ${want}${want === 'pass' ? '' : ', advisory (the verdict stays compatible)'}`, async () => {
      const { r, c } = await mpiCheck(image, host);
      expect(c.status).toBe(want);
      expect(r.verdict).toBe('compatible');
      if (want !== 'pass') expect(c.required).toBe(false);
      if (want === 'warn') expect(c.message).toMatch(/works within one node; for multi-node runs the host's .* cannot stand in for it: it is (another ABI family|another ABI series|older than the image's)/);
    });
  }
  it('another ABI family is judged as no host MPI is: the same status, requirement and points', async () => {
    const other = await mpiCheck(lib('openmpi', '4.1.2'), [lib('mpich', '4.2.1')]);
    const none = await mpiCheck(lib('openmpi', '4.1.2'), []);
    expect([other.c.status, other.c.required, other.c.penalty, other.r.score]).toEqual([none.c.status, none.c.required, none.c.penalty, none.r.score]);
  });
});
