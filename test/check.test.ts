// `containerspec check` / `can-i-run`: every rule, with the fixture images and images built here
// from real ELF files, against simulated hosts (facts written by `containerspec host --json` from
// archspec cpuinfo dumps of real machines, then changed with --set or by editing the JSON) and a
// GPU host holding Debian's real libcuda1. Every JSON report is validated against the schema.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspect } from '../src/inspect.js';
import type { HostFacts as Facts } from '../src/model/facts.js';
import type { Check, CheckId, Report } from '../src/model/report.js';
import { ancestors, dumpFor, runsOn } from './helpers/archspec-data.js';
import { buildCli, errorLine, REPO, runCli, type CliResult } from './helpers/cli.js';
import { hostJson, makeFakeHost, writeFacts } from './helpers/fake-host.js';
import { brokenLibcImage, compareVersions, ensureFixtures, expected, FIXTURES, glibcImage, hostGlibcFiles, oci, readelfMaxGlibc } from './helpers/images.js';
import { libcuda1, type Libcuda1 } from './helpers/libcuda1.js';
import { schemaErrors } from './helpers/schemas.js';

const X86 = ['haswell', 'broadwell', 'skylake_avx512', 'cascadelake', 'zen', 'zen3', 'zen4', 'x86_64_v3'];

let base = '';
let skipAll = '';
const hosts: Record<string, { file: string; facts: Facts }> = {};
let gpuHost: { file: string; facts: Facts } | null = null;
let gpuPkg: Libcuda1 | null = null;
let gpuSkip = '';
let labelled = '';
let generic = '';
let broken = '';

/** The CUDA driver table, read here (not through src/gpu). */
const table = JSON.parse(readFileSync(join(REPO, 'data/cuda-drivers.json'), 'utf8')) as {
  toolkitMinimumDriver: Record<string, string>;
  minorVersionCompatibility: Record<string, { minimumDriver: string }>;
};

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'cs-check-'));
  await buildCli();
  const f = ensureFixtures();
  if (!f.ok) {
    skipAll = f.reason;
    console.warn(`skipping check tests: ${f.reason}`);
    return;
  }
  await Promise.all(
    [...X86, 'neoverse_n1'].map(async (t) => {
      const machine = t === 'neoverse_n1' ? 'aarch64' : 'x86_64';
      hosts[t] = await hostJson(makeFakeHost(base, { name: `node-${t}`, cpuinfoFile: dumpFor(t).path, arch: machine }));
    }),
  );
  const pkg = await libcuda1();
  if ('reason' in pkg) {
    gpuSkip = pkg.reason;
    console.warn(`skipping the libcuda1 GPU host: ${pkg.reason}`);
  } else {
    gpuPkg = pkg;
    // Same CPU as node-haswell, so only the GPU differs.
    gpuHost = await hostJson(makeFakeHost(base, { name: 'gpu-haswell', cpuinfoFile: dumpFor('haswell').path, arch: 'x86_64', libcuda: pkg }));
  }
  if (hostGlibcFiles()) {
    labelled = await glibcImage(join(base, 'img-skylake'), { 'io.archspec.target': 'skylake_avx512' });
    generic = await glibcImage(join(base, 'img-generic'), {});
  }
  if (existsSync('/bin/ls')) broken = await brokenLibcImage(join(base, 'img-broken-libc'));
});
afterAll(() => {
  if (base) rmSync(base, { recursive: true, force: true });
});

interface Checked extends CliResult {
  report: Report;
}

const EXIT = { compatible: 0, incompatible: 1, unknown: 3 } as const;

/** Invariants every JSON report must hold, whatever the case. */
function assertReport(r: CliResult): Report {
  expect([0, 1, 3], `exit ${r.code}: ${r.stderr}`).toContain(r.code);
  const report = JSON.parse(r.stdout) as Report;
  expect(schemaErrors('report', report)).toBeNull();
  expect(r.code).toBe(EXIT[report.verdict]);
  expect(report.score === 0).toBe(report.verdict === 'incompatible');
  const requiredFail = report.checks.some((c) => c.required && c.status === 'fail');
  const requiredUnknown = report.checks.some((c) => c.required && c.status === 'unknown');
  expect(report.verdict).toBe(requiredFail ? 'incompatible' : requiredUnknown ? 'unknown' : 'compatible');
  if (report.verdict !== 'incompatible') expect(report.score).toBe(Math.max(0, 100 - report.checks.reduce((s, c) => s + c.penalty, 0)));
  for (const c of report.checks) if (c.status === 'fail') expect(c.fix, `${c.id} fails without a fix`).toBeTruthy();
  return report;
}

/** `containerspec check IMAGE --host FILE --json ARGS`, checked for the report invariants. */
async function check(image: string, hostFile: string, args: string[] = [], bin: 'containerspec' | 'can-i-run' = 'containerspec'): Promise<Checked> {
  const r = await runCli([...(bin === 'containerspec' ? ['check'] : []), image, '--host', hostFile, '--json', ...args], { bin });
  return { ...r, report: assertReport(r) };
}

function byId(report: Report, id: CheckId): Check {
  const c = report.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no ${id} check in ${JSON.stringify(report.checks.map((x) => x.id))}`);
  return c;
}

const set = (...kv: string[]) => kv.flatMap((x) => ['--set', x]);

function platformOf(e: { platform: { architecture: string; os: string; variant: string | null } }): string {
  return `${e.platform.os}/${e.platform.architecture}${e.platform.variant ? `/${e.platform.variant}` : ''}`;
}

function cudaOf() {
  const e = expected('trixie-mpich-cuda');
  if (!e.cuda) throw new Error('trixie-mpich-cuda has no CUDA in expected.json');
  const runtime = e.cuda.runtime;
  const min = table.toolkitMinimumDriver[runtime];
  if (!min) throw new Error(`the CUDA table has no row for ${runtime}`);
  return { runtime, min, familyMin: table.minorVersionCompatibility[runtime.split('.')[0]!]?.minimumDriver ?? null };
}

describe.concurrent('arch', () => {
  it('an arm64 image on an amd64 host: exit 1, arch fails naming both platforms', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const e = expected('bookworm-arm64');
    const r = await check(oci('bookworm-arm64'), hosts.haswell!.file);
    expect(r.code).toBe(1);
    const a = byId(r.report, 'arch');
    expect(a.status).toBe('fail');
    expect(a.required).toBe(true);
    expect(a.message).toContain(platformOf(e));
    expect(a.message).toContain(`linux/${hosts.haswell!.facts.platform.architecture}`);
    expect(r.report.image.platform).toBe(platformOf(e));
  });

  it('with --set emulators=arm64: arch warns (emulated), exit 0, and scores below the same image run natively', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const emu = await check(oci('bookworm-arm64'), hosts.haswell!.file, set('emulators=arm64'));
    expect(emu.code).toBe(0);
    const a = byId(emu.report, 'arch');
    expect(a.status).toBe('warn');
    expect(a.message).toContain('emulated');
    expect(a.penalty).toBeGreaterThan(0);
    expect(emu.report.host.overrides).toEqual({ emulators: 'arm64' });
    const native = await check(oci('bookworm-arm64'), hosts.neoverse_n1!.file);
    expect(native.code).toBe(0);
    expect(byId(native.report, 'arch').status).toBe('pass');
    expect(emu.report.score).toBeLessThan(native.report.score);
    // ... and below a native amd64 image on the emulating host itself.
    const amd64 = await check(oci('multiarch'), hosts.haswell!.file);
    expect(amd64.code).toBe(0);
    expect(emu.report.score).toBeLessThan(amd64.report.score);
  });

  it('a multi-platform index with --set arch=arm64 picks the arm64 image', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const e = expected('multiarch');
    const arm = e.platforms?.find((p) => p.platform.architecture === 'arm64');
    const amd = e.platforms?.find((p) => p.platform.architecture === 'amd64');
    expect(arm && amd).toBeTruthy();
    const r = await check(oci('multiarch'), hosts.haswell!.file, set('arch=arm64'));
    expect(r.report.image.platform).toContain('arm64');
    expect(r.report.image.digest).toBe(arm!.manifestDigest);
    expect(byId(r.report, 'arch').status).toBe('pass');
    const plain = await check(oci('multiarch'), hosts.haswell!.file);
    expect(plain.report.image.digest).toBe(amd!.manifestDigest);
  });
});

describe.concurrent('gpu (trixie-mpich-cuda: CUDA runtime + NVIDIA_REQUIRE_CUDA)', () => {
  it('no NVIDIA driver: exit 1, gpu fails and says the host has none', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const r = await check(oci('trixie-mpich-cuda'), hosts.haswell!.file, set('cuda.driver=none'));
    expect(r.code).toBe(1);
    const g = byId(r.report, 'gpu');
    expect(g.status).toBe('fail');
    expect(g.message).toContain('no NVIDIA driver');
    expect(g.message).toContain(cudaOf().min);
  });

  it("the table's minimum driver for the image's CUDA runtime: gpu passes", async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const { min } = cudaOf();
    const r = await check(oci('trixie-mpich-cuda'), hosts.haswell!.file, set(`cuda.driver=${min}`));
    expect(r.code).toBe(0);
    const g = byId(r.report, 'gpu');
    expect(g.status).toBe('pass');
    expect(g.host).toEqual({ driver: min, cudaMax: cudaOf().runtime });
  });

  it('an old driver (520.61.05): exit 1, the fix names the minimum and the host driver', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const { min, familyMin } = cudaOf();
    const old = '520.61.05';
    // Below the toolkit minimum and below the minor-version family minimum: no way to run.
    expect(compareVersions(old, min)).toBeLessThan(0);
    if (familyMin) expect(compareVersions(old, familyMin)).toBeLessThan(0);
    const r = await check(oci('trixie-mpich-cuda'), hosts.haswell!.file, set(`cuda.driver=${old}`));
    expect(r.code).toBe(1);
    const g = byId(r.report, 'gpu');
    expect(g.status).toBe('fail');
    expect(g.fix).toBe(`needs an NVIDIA driver >= ${min}; this host has ${old}`);
    expect(g.message).toContain(old);
  });

  it('535.54.03 with the GPU brand unknown: exit 3, the fix asks for the brand', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const r = await check(oci('trixie-mpich-cuda'), hosts.haswell!.file, set('cuda.driver=535.54.03'));
    expect(r.code).toBe(3);
    const g = byId(r.report, 'gpu');
    expect(g.status).toBe('unknown');
    expect(g.fix).toContain('cuda.brand');
    expect(r.report.score).toBeGreaterThan(0);
  });

  it('535.54.03 on a tesla: NVIDIA_REQUIRE_CUDA admits it (the image ships forward-compat libraries): exit 0, gpu passes', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const r = await check(oci('trixie-mpich-cuda'), hosts.haswell!.file, set('cuda.driver=535.54.03', 'cuda.brand=tesla'));
    expect(r.code).toBe(0);
    expect(r.report.verdict).toBe('compatible');
    expect(byId(r.report, 'gpu').status).toBe('pass');
  });

  it('535.54.03 on a geforce: the brand alternatives do not hold and CUDA >= 12.4 does not either: exit 1', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const r = await check(oci('trixie-mpich-cuda'), hosts.haswell!.file, set('cuda.driver=535.54.03', 'cuda.brand=geforce'));
    expect(r.code).toBe(1);
    expect(byId(r.report, 'gpu').status).toBe('fail');
  });

  for (const brand of [[], ['cuda.brand=tesla']]) {
    it(`the real libcuda1 GPU host gives the same report as --set cuda.driver=<its version>${brand.length ? ' (tesla)' : ''}`, async ({ expect, skip }) => {
      if (skipAll) return skip(skipAll);
      if (!gpuHost || !gpuPkg) return skip(gpuSkip);
      expect(gpuHost.facts.gpu.driver).toBe(gpuPkg.version);
      const real = await check(oci('trixie-mpich-cuda'), gpuHost.file, set(...brand));
      const sim = await check(oci('trixie-mpich-cuda'), hosts.haswell!.file, set(`cuda.driver=${gpuPkg.version}`, ...brand));
      const strip = (rep: Report) => rep.checks.map(({ evidence: _e, ...c }) => c);
      expect(real.code).toBe(sim.code);
      expect(real.report.verdict).toBe(sim.report.verdict);
      expect(real.report.score).toBe(sim.report.score);
      expect(strip(real.report)).toEqual(strip(sim.report));
      expect(byId(real.report, 'gpu').host).toEqual({ driver: gpuPkg.version, cudaMax: expect.any(String) });
    });
  }
});

describe.concurrent('microarch (an image labelled io.archspec.target=skylake_avx512, built here with this machine\'s glibc)', () => {
  for (const t of X86) {
    const runs = runsOn('skylake_avx512', t);
    it(`on the ${t} dump host: ${runs ? 'passes' : 'fails'} (archspec: ${t} ${runs ? 'is' : 'is not'} skylake_avx512 or a descendant)`, async ({ expect, skip }) => {
      if (skipAll) return skip(skipAll);
      if (!labelled) return skip('no x86-64 glibc on this machine to build the image from');
      const r = await check(labelled, hosts[t]!.file);
      const m = byId(r.report, 'microarch');
      expect(m.status).toBe(runs ? 'pass' : 'fail');
      expect(r.code).toBe(runs ? 0 : 1);
      expect(m.image).toBe('skylake_avx512');
      expect(m.host).toBe(t);
      if (!runs) {
        expect(m.message).toContain('skylake_avx512');
        expect(m.message).toContain(t);
      }
    });
  }

  it('the brief\'s cases: fails on haswell, passes on cascadelake and skylake_avx512', () => {
    expect(runsOn('skylake_avx512', 'haswell')).toBe(false);
    expect(runsOn('skylake_avx512', 'cascadelake')).toBe(true);
    expect(runsOn('skylake_avx512', 'skylake_avx512')).toBe(true);
  });

  for (const t of X86) {
    it(`a generic image (bullseye-openmpi) runs on the ${t} dump host`, async ({ expect, skip }) => {
      if (skipAll) return skip(skipAll);
      const r = await check(oci('bullseye-openmpi'), hosts[t]!.file);
      expect(r.code).toBe(0);
      const m = byId(r.report, 'microarch');
      expect(m.status).toBe('pass');
      expect(m.image).toBeNull();
      expect(m.host).toBe(t);
    });
  }

  it('on a skylake_avx512 host the image built for it scores higher than the same image without the label, and than bullseye-openmpi', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    if (!labelled) return skip('no x86-64 glibc on this machine to build the image from');
    const h = hosts.skylake_avx512!.file;
    const [l, g, b] = await Promise.all([check(labelled, h), check(generic, h), check(oci('bullseye-openmpi'), h)]);
    expect(l.report.verdict).toBe('compatible');
    expect(g.report.verdict).toBe('compatible');
    expect(byId(l.report, 'microarch').penalty).toBe(0);
    expect(byId(g.report, 'microarch').penalty).toBeGreaterThan(0);
    expect(l.report.score).toBeGreaterThan(g.report.score);
    expect(l.report.score).toBeGreaterThan(b.report.score);
  });

  it('match ranks the x86 dump hosts by fit: the labelled image is best on skylake_avx512/cascadelake, never haswell', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    if (!labelled) return skip('no x86-64 glibc on this machine to build the image from');
    const r = await runCli(['match', '--hosts', ...X86.map((t) => hosts[t]!.file), '--images', labelled, generic, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout) as {
      hosts: string[];
      matrix: { verdict: string; score: number }[][];
      bestHostForImage: { image: string; host: string | null }[];
    };
    expect(schemaErrors('match', m)).toBeNull();
    const col = (t: string) => m.hosts.indexOf(hosts[t]!.facts.name);
    const [lRow, gRow] = m.matrix as [{ verdict: string; score: number }[], { verdict: string; score: number }[]];
    expect(m.bestHostForImage[0]!.host).toMatch(/^node-(skylake_avx512|cascadelake)$/);
    for (const t of X86) expect(lRow[col(t)]!.verdict, t).toBe(runsOn('skylake_avx512', t) ? 'compatible' : 'incompatible');
    // The exact target fits at least as well as a descendant.
    expect(lRow[col('skylake_avx512')]!.score).toBeGreaterThanOrEqual(lRow[col('cascadelake')]!.score);
    // A generic image runs everywhere; an older CPU (an archspec ancestor) wastes less of it.
    for (const a of X86) {
      expect(gRow[col(a)]!.verdict).toBe('compatible');
      for (const b of X86) if (ancestors(b).has(a)) expect(gRow[col(a)]!.score, `${a} vs ${b}`).toBeGreaterThanOrEqual(gRow[col(b)]!.score);
    }
    // The labelled image on its own target beats the generic one there.
    expect(lRow[col('skylake_avx512')]!.score).toBeGreaterThan(gRow[col('skylake_avx512')]!.score);
  });
});

describe.concurrent('kernel', () => {
  let need = '';
  beforeAll(async () => {
    if (skipAll) return;
    need = (await inspect(oci('bullseye-openmpi'))).requires.kernel?.version ?? '';
  });

  it('a host kernel below the image libc\'s minimum fails, naming both; 6.1.0 passes', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    expect(need).toMatch(/^\d+\.\d+/);
    const [maj, min] = need.split('.').map(Number) as [number, number];
    const below = min > 0 ? `${maj}.${min - 1}.0` : `${maj - 1}.99.0`;
    expect(compareVersions(below, need)).toBeLessThan(0);
    expect(compareVersions('6.1.0', need)).toBeGreaterThanOrEqual(0);
    const low = await check(oci('bullseye-openmpi'), hosts.haswell!.file, set(`kernel=${below}`));
    expect(low.code).toBe(1);
    const k = byId(low.report, 'kernel');
    expect(k.status).toBe('fail');
    expect(k.message).toContain(need);
    expect(k.message).toContain(below);
    expect(k.image).toBe(need);
    expect(k.host).toBe(below);
    const ok = await check(oci('bullseye-openmpi'), hosts.haswell!.file, set('kernel=6.1.0'));
    expect(ok.code).toBe(0);
    expect(byId(ok.report, 'kernel').status).toBe('pass');
  });

  it('host kernel unknown (kernel.release null in the host JSON): exit 3', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const f = structuredClone(hosts.haswell!.facts);
    f.kernel.release = null;
    const file = writeFacts(join(base, 'no-kernel.json'), f);
    const r = await check(oci('bullseye-openmpi'), file);
    expect(r.code).toBe(3);
    const k = byId(r.report, 'kernel');
    expect(k.status).toBe('unknown');
    expect(k.fix).toContain('--set kernel=');
  });
});

describe('libc', () => {
  it('an image whose /usr/bin/ls needs a newer GLIBC_ than its own glibc is broken: libc fails naming the file and both versions', async ({ skip }) => {
    if (skipAll) return skip(skipAll);
    if (!broken) return skip('no /bin/ls on this machine');
    const need = readelfMaxGlibc('/bin/ls');
    if (!need) return skip('readelf (binutils) is not installed');
    const own = expected('bullseye-openmpi').glibc!;
    if (!need.max || compareVersions(need.max, own) <= 0) return skip(`this machine's /bin/ls needs GLIBC_${need.max}, not newer than ${own}`);
    const r = await check(broken, hosts.haswell!.file);
    expect(r.code).toBe(1);
    const l = byId(r.report, 'libc');
    expect(l.status).toBe('fail');
    expect(l.message).toContain('usr/bin/ls');
    expect(l.message).toContain(`GLIBC_${need.max}`);
    expect(l.message).toContain(own);
    expect(l.image).toEqual({ libc: `glibc ${own}`, needs: need.max });
  });
});

describe.concurrent('mpi', () => {
  const ver = () => {
    const m = expected('bullseye-openmpi').mpi.find((x) => x.implementation === 'openmpi');
    if (!m) throw new Error('no Open MPI in bullseye-openmpi');
    const [maj, min, pat] = m.version.split('.').map(Number) as [number, number, number];
    return { v: m.version, maj, min, pat: pat ?? 0 };
  };

  it('same major, same minor, newer patch on the host: pass, naming both versions', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const { v, maj, min, pat } = ver();
    const host = `${maj}.${min}.${pat + 4}`;
    const r = await check(oci('bullseye-openmpi'), hosts.haswell!.file, set(`mpi=openmpi@${host}`));
    expect(r.code).toBe(0);
    const m = byId(r.report, 'mpi');
    expect(m.status).toBe('pass');
    expect(m.message).toContain(v);
    expect(m.message).toContain(host);
  });

  it('an older host version of the same series: an advisory warning for multi-node runs naming both versions, exit 0', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const { v, maj, min } = ver();
    if (min === 0) return skip(`Open MPI ${v} has minor 0`);
    const host = `${maj}.${min - 1}.3`;
    const r = await check(oci('bullseye-openmpi'), hosts.haswell!.file, set(`mpi=openmpi@${host}`));
    expect(r.code).toBe(0);
    const m = byId(r.report, 'mpi');
    expect(m.status).toBe('warn');
    expect(m.required).toBe(false);
    expect(m.message).toContain(v);
    expect(m.message).toContain(host);
    expect(m.message).toContain('older than the image');
  });

  it('a newer major of the same ABI series (Open MPI 5.0 runs 4.x binaries, libmpi.so.40): pass; an older series (2.1, libmpi.so.20): advisory warning', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const { maj } = ver();
    if (maj !== 4) return skip(`the fixture's Open MPI is ${maj}.x, not 4.x`);
    const newer = await check(oci('bullseye-openmpi'), hosts.haswell!.file, set('mpi=openmpi@5.0.5'));
    expect(newer.code).toBe(0);
    expect(byId(newer.report, 'mpi').status).toBe('pass');
    expect(byId(newer.report, 'mpi').evidence.some((e) => e.source === 'mpi-abi-table' && /abi-compatibility/.test(e.detail ?? ''))).toBe(true);
    const older = await check(oci('bullseye-openmpi'), hosts.haswell!.file, set('mpi=openmpi@2.1.6'));
    expect(older.code).toBe(0);
    const m = byId(older.report, 'mpi');
    expect(m.status).toBe('warn');
    expect(m.message).toContain('another ABI series');
  });

  it('an MPICH host MPI for an Open MPI image: as with no host MPI, an advisory warning for multi-node runs with the reason, exit 0', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const mpich = expected('trixie-mpich-cuda').mpi.find((x) => x.implementation === 'mpich')!.version;
    const [r, none] = await Promise.all([
      check(oci('bullseye-openmpi'), hosts.haswell!.file, set(`mpi=mpich@${mpich}`)),
      check(oci('bullseye-openmpi'), hosts.haswell!.file, set('mpi=none')),
    ]);
    expect(r.code).toBe(0);
    const m = byId(r.report, 'mpi');
    expect(m.status).toBe('warn');
    expect(m.required).toBe(false);
    expect(m.message).toContain('works within one node');
    expect(m.message).toContain('another ABI family');
    // consistent with no host MPI: the same status, requirement and score
    const n = byId(none.report, 'mpi');
    expect([n.status, n.required, none.report.score]).toEqual([m.status, m.required, r.report.score]);
    expect(m.message).toContain('ABI');
    expect(m.message).toContain('openmpi');
    expect(m.message).toContain('mpich');
  });

  it('no host MPI: an advisory warning, exit 0', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const r = await check(oci('bullseye-openmpi'), hosts.haswell!.file, set('mpi=none'));
    expect(r.code).toBe(0);
    const m = byId(r.report, 'mpi');
    expect(m.status).toBe('warn');
    expect(m.required).toBe(false);
    expect(m.penalty).toBeGreaterThan(0);
  });

  it('MPICH image, Intel MPI host (same ABI, other implementation): warn; the same MPICH: pass', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const { min } = cudaOf();
    const mpich = expected('trixie-mpich-cuda').mpi.find((x) => x.implementation === 'mpich')!.version;
    const [intel, same] = await Promise.all([
      check(oci('trixie-mpich-cuda'), hosts.haswell!.file, set('mpi=intel@2021.10', `cuda.driver=${min}`)),
      check(oci('trixie-mpich-cuda'), hosts.haswell!.file, set(`mpi=mpich@${mpich}`, `cuda.driver=${min}`)),
    ]);
    expect(intel.code).toBe(0);
    const m = byId(intel.report, 'mpi');
    expect(m.status).toBe('warn');
    expect(m.required).toBe(true);
    expect(m.message).toContain('intel');
    expect(m.message).toContain(mpich);
    expect(byId(same.report, 'mpi').status).toBe('pass');
    expect(intel.report.score).toBeLessThan(same.report.score);
  });
});

describe.concurrent('bind', () => {
  const LIBZ = '/usr/lib/x86_64-linux-gnu/libz.so.1';

  for (const name of ['trixie-mpich-cuda', 'bullseye-openmpi']) {
    it(`this machine's libz into ${name}: passes iff its GLIBC_ needs (readelf) are within the image's glibc`, async ({ expect, skip }) => {
      if (skipAll) return skip(skipAll);
      if (!existsSync(LIBZ)) return skip(`${LIBZ} is not on this machine`);
      const need = readelfMaxGlibc(LIBZ);
      if (!need) return skip('readelf (binutils) is not installed');
      const glibc = expected(name).glibc!;
      const fits = need.max === null || compareVersions(need.max, glibc) <= 0;
      const extra = name === 'trixie-mpich-cuda' ? set(`cuda.driver=${cudaOf().min}`) : [];
      const r = await check(oci(name), hosts.haswell!.file, ['--bind', LIBZ, ...extra]);
      const b = byId(r.report, `bind:${LIBZ}`);
      expect(b.status).toBe(fits ? 'pass' : 'fail');
      expect(b.host).toMatchObject({ path: LIBZ, arch: 'amd64', needsGlibc: need.max });
      expect(b.image).toEqual({ arch: 'amd64', glibc, libc: 'glibc' });
      if (!fits) {
        expect(b.message).toContain(`GLIBC_${need.max}`);
        expect(b.message).toContain(glibc);
      }
      expect(r.code).toBe(fits ? 0 : 1);
    });
  }

  it('an arm64 library into an amd64 image fails, naming both architectures', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const lib = join(FIXTURES, 'bookworm-arm64/rootfs/lib/aarch64-linux-gnu/libm.so.6');
    if (!existsSync(lib)) return skip(`${lib} missing from the fixture`);
    const r = await check(oci('bullseye-openmpi'), hosts.haswell!.file, ['--bind', lib]);
    expect(r.code).toBe(1);
    const b = byId(r.report, `bind:${lib}`);
    expect(b.status).toBe('fail');
    expect(b.message).toContain('arm64');
    expect(b.message).toContain('amd64');
    expect(b.message).toContain(lib);
  });

  it('a file that is not ELF: exit 2, one line naming it', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const txt = join(base, 'not-a-library.so');
    writeFileSync(txt, 'this is text\n');
    const r = await runCli(['check', oci('multiarch'), '--host', hosts.haswell!.file, '--bind', txt]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(errorLine(r)).toContain(txt);
  });

  it('a missing file: exit 2, one line naming it', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const r = await runCli(['check', oci('multiarch'), '--host', hosts.haswell!.file, '--bind', join(base, 'nope.so')]);
    expect(r.code).toBe(2);
    expect(errorLine(r)).toContain('nope.so');
  });
});

describe.concurrent('provenance (--history)', () => {
  it('a different kernel and driver in the last successful run: a warning listing the drift, and a lower score', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const now = hosts.haswell!.facts;
    const old = structuredClone(now);
    old.kernel.release = '4.18.0-513.24.1.el8_9.x86_64';
    old.gpu.driver = '470.223.02';
    old.gpu.cudaMax = '11.4';
    expect(old.kernel.release).not.toBe(now.kernel.release);
    const file = writeFacts(join(base, 'old-host.json'), old);
    const [plain, drift] = await Promise.all([check(oci('multiarch'), hosts.haswell!.file), check(oci('multiarch'), hosts.haswell!.file, ['--history', file])]);
    const p = byId(drift.report, 'provenance');
    expect(p.status).toBe('warn');
    expect(p.message).toContain(`kernel ${old.kernel.release} -> ${now.kernel.release}`);
    expect(p.message).toContain(`driver ${old.gpu.driver} -> none`);
    expect(p.message).not.toContain('microarch');
    expect(p.fix).toBeTruthy();
    expect(drift.code).toBe(0);
    expect(drift.report.score).toBeLessThan(plain.report.score);
  });

  it('the same facts: provenance passes and the score is unchanged', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const [plain, same] = await Promise.all([check(oci('multiarch'), hosts.haswell!.file), check(oci('multiarch'), hosts.haswell!.file, ['--history', hosts.haswell!.file])]);
    expect(byId(same.report, 'provenance').status).toBe('pass');
    expect(same.report.score).toBe(plain.report.score);
  });
});

describe.concurrent('bad input: exit 2 with one line naming the problem', () => {
  const cases: [string, () => string[], RegExp][] = [
    ['--set bogus=1', () => set('bogus=1'), /bogus/],
    ['--set cuda.driver=banana', () => set('cuda.driver=banana'), /cuda\.driver=banana/],
    ['--set mpi=foo@1', () => set('mpi=foo@1'), /mpi=foo@1/],
    ['--set kernel (no value)', () => set('kernel'), /kernel/],
    ['--set microarch=not_a_cpu', () => set('microarch=not_a_cpu'), /not_a_cpu/],
  ];
  for (const [name, args, want] of cases) {
    it(name, async ({ expect, skip }) => {
      if (skipAll) return skip(skipAll);
      const r = await runCli(['check', oci('multiarch'), '--host', hosts.haswell!.file, ...args()]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(errorLine(r)).toMatch(want);
    });
  }

  it('--set microarch=<a target of another architecture> on an amd64 host is refused, not judged', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    // neoverse_n1 is an aarch64 target; the host is amd64 and the image amd64. Accepting it yields a
    // report calling the amd64 image a "generic aarch64 image" and passing it.
    const r = await runCli(['check', oci('multiarch'), '--host', hosts.haswell!.file, ...set('microarch=neoverse_n1')]);
    expect(r.code, r.stdout).toBe(2);
    expect(errorLine(r)).toContain('neoverse_n1');
  });

  it('--host missing.json', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const f = join(base, 'missing.json');
    const r = await runCli(['check', oci('multiarch'), '--host', f]);
    expect(r.code).toBe(2);
    expect(errorLine(r)).toContain(f);
  });

  it('--host a file that is not JSON', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const f = join(base, 'garbage.json');
    writeFileSync(f, 'kernel: 6.1\n{not json');
    const r = await runCli(['check', oci('multiarch'), '--host', f]);
    expect(r.code).toBe(2);
    const line = errorLine(r);
    expect(line).toContain(f);
    expect(line).toMatch(/JSON/i);
  });

  it('--host image facts (kind image)', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const ins = await runCli(['inspect', oci('multiarch'), '--json']);
    expect(ins.code).toBe(0);
    const f = join(base, 'image-facts.json');
    writeFileSync(f, ins.stdout);
    const r = await runCli(['check', oci('multiarch'), '--host', f]);
    expect(r.code).toBe(2);
    const line = errorLine(r);
    expect(line).toContain(f);
    expect(line).toContain('"image"');
  });

  it('--host with a wrong field type (schema violation) names the field', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const f = structuredClone(hosts.haswell!.facts) as unknown as { kernel: { release: unknown } };
    f.kernel.release = 42;
    const file = writeFacts(join(base, 'bad-type.json'), f);
    const r = await runCli(['check', oci('multiarch'), '--host', file]);
    expect(r.code).toBe(2);
    const line = errorLine(r);
    expect(line).toContain(file);
    expect(line).toContain('/kernel/release');
  });

  it('can-i-run prefixes its errors with its own name', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const r = await runCli([oci('multiarch'), '--host', hosts.haswell!.file, ...set('bogus=1')], { bin: 'can-i-run' });
    expect(r.code).toBe(2);
    expect(errorLine(r, 'can-i-run')).toContain('bogus');
  });
});

describe.concurrent('reports', () => {
  it('can-i-run IMAGE (and containerspec can-i-run IMAGE) gives the same report as containerspec check IMAGE', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const args = set('mpi=openmpi@4.0.3');
    const [a, b] = await Promise.all([check(oci('bullseye-openmpi'), hosts.haswell!.file, args), check(oci('bullseye-openmpi'), hosts.haswell!.file, args, 'can-i-run')]);
    expect(b.code).toBe(a.code);
    expect(b.report).toEqual(a.report);
    const c = await runCli(['can-i-run', oci('bullseye-openmpi'), '--host', hosts.haswell!.file, '--json', ...args]);
    expect(c.code).toBe(a.code);
    expect(assertReport(c)).toEqual(a.report);
  });

  it('human output: failures first, each with a -> fix line, and the same checks as --json', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const args = ['check', oci('trixie-mpich-cuda'), '--host', hosts.haswell!.file, ...set('cuda.driver=none', 'kernel=2.6.32', 'mpi=openmpi@4.1.0')];
    const [human, json] = await Promise.all([runCli(args), runCli([...args, '--json'])]);
    expect(human.code).toBe(1);
    const report = assertReport(json);
    const failing = report.checks.filter((c) => c.status === 'fail').map((c) => c.id);
    // an Open MPI host for an MPICH image only warns (issue 13: the image's own MPI runs within a node)
    expect(failing.sort()).toEqual(['gpu', 'kernel']);
    expect(report.checks.find((c) => c.id === 'mpi')!.status).toBe('warn');
    const lines = human.stdout.split('\n');
    expect(lines[0]).toContain('INCOMPATIBLE');
    const status = lines.map((l, i) => ({ i, m: /^ {2}(PASS|FAIL|WARN|UNKNOWN)\s+(\S+)/.exec(l) })).filter((x) => x.m);
    expect(status.map((s) => s.m![2]).sort()).toEqual(report.checks.map((c) => c.id).sort());
    const firstNonFail = status.findIndex((s) => s.m![1] !== 'FAIL');
    const lastFail = status.map((s) => s.m![1]).lastIndexOf('FAIL');
    expect(lastFail).toBe(failing.length - 1);
    expect(firstNonFail).toBe(failing.length);
    for (const s of status.filter((x) => x.m![1] === 'FAIL')) {
      expect(lines[s.i + 1], `fix line after ${s.m![2]}`).toMatch(/^\s+-> \S/);
      const c = report.checks.find((x) => x.id === s.m![2])!;
      expect(lines[s.i + 1]).toContain(c.fix!);
    }
    expect(human.stdout).toContain('what-if');
  });

  it('failing checks name both sides\' values (arch, kernel, mpi, gpu)', async ({ expect, skip }) => {
    if (skipAll) return skip(skipAll);
    const r = await check(oci('trixie-mpich-cuda'), hosts.haswell!.file, set('arch=arm64', 'emulators=none'));
    // arch=arm64 on an amd64-only image: both platforms named.
    const a = byId(r.report, 'arch');
    expect(a.status).toBe('fail');
    expect(a.message).toContain(platformOf(expected('trixie-mpich-cuda')));
    expect(a.message).toContain('linux/arm64');
    const k = await check(oci('trixie-mpich-cuda'), hosts.haswell!.file, set('kernel=2.6.32', 'cuda.driver=520.61.05', 'mpi=openmpi@4.1.0'));
    const need = byId(k.report, 'kernel');
    expect(need.message).toContain('2.6.32');
    expect(need.message).toContain(String(need.image));
    const g = byId(k.report, 'gpu');
    expect(g.message).toContain('520.61.05');
    expect(g.message).toContain(cudaOf().runtime);
    const m = byId(k.report, 'mpi');
    expect(m.message).toContain('openmpi 4.1.0');
    expect(m.message).toContain(expected('trixie-mpich-cuda').mpi[0]!.version);
  });
});
