// `containerspec match` and the library's match(): the matrix of fixture images on simulated hosts
// (archspec cpuinfo dumps of real machines, a GPU host with Debian's real libcuda1), its schema,
// its best pairs, and above all its consistency with check(): the fast path must give every pair
// the same verdict and score as the full report.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { check } from '../src/check/check.js';
import { matchFacts, matchToJson } from '../src/check/match.js';
import { match } from '../src/orchestrate.js';
import { applySets } from '../src/check/overrides.js';
import { inspect } from '../src/inspect.js';
import type { HostFacts, ImageFacts } from '../src/model/facts.js';
import { dumpFor } from './helpers/archspec-data.js';
import { buildCli, errorLine, REPO, runCli } from './helpers/cli.js';
import { hostJson, makeFakeHost, nvidiaVersionFile, writeFacts } from './helpers/fake-host.js';
import { brokenLibcImage, ensureFixtures, expected, glibcImage, hostGlibcFiles, oci } from './helpers/images.js';
import { libcuda1 } from './helpers/libcuda1.js';
import { schemaErrors } from './helpers/schemas.js';

interface Cell {
  verdict: 'compatible' | 'incompatible' | 'unknown';
  score: number;
}
interface MatchJson {
  schemaVersion: string;
  hosts: string[];
  images: string[];
  matrix: Cell[][];
  bestHostForImage: { image: string; host: string | null; score: number | null; verdict: Cell['verdict'] }[];
  bestImageForHost: { host: string; image: string | null; score: number | null; verdict: Cell['verdict'] }[];
}

const DUMP_HOSTS: [string, string][] = [
  ['haswell', 'x86_64'],
  ['skylake_avx512', 'x86_64'],
  ['zen3', 'x86_64'],
  ['neoverse_n1', 'aarch64'],
  ['a64fx', 'aarch64'],
  ['ampere1', 'aarch64'],
  ['power8le', 'ppc64le'],
];
const FIXTURE_IMAGES = ['bullseye-openmpi', 'trixie-mpich-cuda', 'bookworm-arm64', 'musl-static', 'multiarch', 'whiteout'];

let base = '';
let skipAll = '';
const hostFiles: { name: string; file: string; facts: HostFacts }[] = [];
let gpuName = '';
const imageRefs: string[] = [];

const table = JSON.parse(readFileSync(join(REPO, 'data/cuda-drivers.json'), 'utf8')) as { toolkitMinimumDriver: Record<string, string> };

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'cs-match-'));
  await buildCli();
  const f = ensureFixtures();
  if (!f.ok) {
    skipAll = f.reason;
    console.warn(`skipping match tests: ${f.reason}`);
    return;
  }
  const made = await Promise.all(
    DUMP_HOSTS.map(async ([t, machine]) => {
      const dump = dumpFor(t);
      const name = `node-${dump.target}`;
      return { name, ...(await hostJson(makeFakeHost(base, { name, cpuinfoFile: dump.path, arch: machine }))) };
    }),
  );
  hostFiles.push(...made);
  const pkg = await libcuda1();
  gpuName = 'gpu-cascadelake';
  const cpu = dumpFor('cascadelake').path;
  if ('reason' in pkg) {
    console.warn(`no libcuda1 (${pkg.reason}); the GPU host gets its driver from proc/driver/nvidia/version instead`);
    hostFiles.push({ name: gpuName, ...(await hostJson(makeFakeHost(base, { name: gpuName, cpuinfoFile: cpu, arch: 'x86_64', nvidiaVersion: nvidiaVersionFile('550.54.14') }))) });
  } else {
    hostFiles.push({ name: gpuName, ...(await hostJson(makeFakeHost(base, { name: gpuName, cpuinfoFile: cpu, arch: 'x86_64', libcuda: pkg }))) });
  }
  imageRefs.push(...FIXTURE_IMAGES.map(oci));
  if (hostGlibcFiles()) {
    imageRefs.push(await glibcImage(join(base, 'img-skylake'), { 'io.archspec.target': 'skylake_avx512' }));
    imageRefs.push(await glibcImage(join(base, 'img-unknown-target'), { 'io.archspec.target': 'not_a_real_cpu' }));
  }
  imageRefs.push(await brokenLibcImage(join(base, 'img-broken-libc')));
});
afterAll(() => {
  if (base) rmSync(base, { recursive: true, force: true });
});

const rank = (c: Cell) => (c.verdict === 'compatible' ? 1000 + c.score : c.verdict === 'unknown' ? 500 + c.score : 0);

describe('containerspec match --json', () => {
  let m: MatchJson | null = null;
  beforeAll(async () => {
    if (skipAll) return;
    const r = await runCli(['match', '--hosts', ...hostFiles.map((h) => h.file), '--images', ...imageRefs, '--json'], { timeoutMs: 300_000 });
    if (r.code !== 0) throw new Error(`match exited ${r.code}: ${r.stderr}`);
    m = JSON.parse(r.stdout) as MatchJson;
  });

  it('validates against schemas/match.schema.json, one row per image and one cell per host', ({ skip }) => {
    if (skipAll || !m) return skip(skipAll);
    expect(schemaErrors('match', m)).toBeNull();
    expect(m.hosts).toEqual(hostFiles.map((h) => h.name));
    expect(m.images).toHaveLength(imageRefs.length);
    expect(m.matrix).toHaveLength(imageRefs.length);
    for (const row of m.matrix) expect(row).toHaveLength(hostFiles.length);
    for (const row of m.matrix) for (const c of row) expect(c.verdict === 'incompatible').toBe(c.score === 0);
  });

  it('the best host for trixie-mpich-cuda is the GPU host', ({ skip }) => {
    if (skipAll || !m) return skip(skipAll);
    const i = m.images.indexOf(oci('trixie-mpich-cuda'));
    expect(i).toBeGreaterThanOrEqual(0);
    expect(m.bestHostForImage[i]!.host).toBe(gpuName);
    // No other host can run it at all: none has an NVIDIA driver.
    m.hosts.forEach((h, j) => {
      if (h !== gpuName) expect(m!.matrix[i]![j]!.verdict, h).toBe('incompatible');
    });
  });

  it("the arm64 image's best host is an arm64 dump host, and no amd64 or ppc64le host runs it", ({ skip }) => {
    if (skipAll || !m) return skip(skipAll);
    const i = m.images.indexOf(oci('bookworm-arm64'));
    expect(expected('bookworm-arm64').platform.architecture).toBe('arm64');
    const arm = hostFiles.filter((h) => h.facts.platform.architecture === 'arm64').map((h) => h.name);
    expect(arm.sort()).toEqual(['node-a64fx', 'node-ampere1', 'node-neoverse_n1']);
    expect(arm).toContain(m.bestHostForImage[i]!.host);
    m.hosts.forEach((h, j) => expect(m!.matrix[i]![j]!.verdict, h).toBe(arm.includes(h) ? 'compatible' : 'incompatible'));
  });

  it('bestHostForImage and bestImageForHost are the best cells of the matrix (compatible by score, then unknown, else none)', ({ skip }) => {
    if (skipAll || !m) return skip(skipAll);
    m.images.forEach((img, i) => {
      const row = m!.matrix[i]!;
      const best = Math.max(...row.map(rank));
      const b = m!.bestHostForImage[i]!;
      expect(b.image).toBe(img);
      if (best === 0) expect(b).toEqual({ image: img, host: null, score: null, verdict: 'incompatible' });
      else {
        const j = m!.hosts.indexOf(b.host!);
        expect(rank(row[j]!)).toBe(best);
        expect({ score: b.score, verdict: b.verdict }).toEqual({ score: row[j]!.score, verdict: row[j]!.verdict });
      }
    });
    m.hosts.forEach((host, j) => {
      const col = m!.matrix.map((row) => row[j]!);
      const best = Math.max(...col.map(rank));
      const b = m!.bestImageForHost[j]!;
      expect(b.host).toBe(host);
      if (best === 0) expect(b.image).toBeNull();
      else expect(rank(col[m!.images.indexOf(b.image!)]!)).toBe(best);
    });
  });

  it('the CLI matrix equals the library match() over the same host files and image references', async ({ skip }) => {
    if (skipAll || !m) return skip(skipAll);
    // The library expands a multi-platform index to the platforms the hosts need, as the CLI prints it.
    const lib = matchToJson(await match(hostFiles.map((h) => h.file), imageRefs)) as MatchJson;
    expect(lib.matrix).toEqual(m.matrix);
    expect(lib.bestHostForImage.map((b) => b.host)).toEqual(m.bestHostForImage.map((b) => b.host));
  });

  it('image facts files (inspect --json) give the same row as the image reference', async ({ skip }) => {
    if (skipAll || !m) return skip(skipAll);
    const ref = oci('bullseye-openmpi');
    const ins = await runCli(['inspect', ref, '--json']);
    expect(ins.code).toBe(0);
    const file = join(base, 'bullseye.facts.json');
    writeFileSync(file, ins.stdout);
    const r = await runCli(['match', '--hosts', ...hostFiles.map((h) => h.file), '--images', file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const one = JSON.parse(r.stdout) as MatchJson;
    expect(one.matrix[0]).toEqual(m.matrix[m.images.indexOf(ref)]);
  });
});

describe('match(): the same verdict and score as check() for every pair', () => {
  let hosts: HostFacts[] = [];
  let images: ImageFacts[] = [];
  beforeAll(async () => {
    if (skipAll) return;
    images = await Promise.all(imageRefs.map((r) => inspect(r)));
    const plain = hostFiles.map((h) => JSON.parse(readFileSync(h.file, 'utf8')) as HostFacts);
    const haswell = plain.find((h) => h.name === 'node-haswell')!;
    const gpu = plain.find((h) => h.name === gpuName)!;
    const min = table.toolkitMinimumDriver[expected('trixie-mpich-cuda').cuda!.runtime]!;
    const mpich = expected('trixie-mpich-cuda').mpi[0]!.version;
    const ompi = expected('bullseye-openmpi').mpi[0]!.version;
    // What-if variants cover every rule outcome: pass, warn, unknown and fail.
    const variants: [HostFacts, Record<string, string>][] = [
      [gpu, { 'cuda.brand': 'tesla' }],
      [gpu, { 'cuda.brand': 'geforce' }],
      [haswell, { 'cuda.driver': min }],
      [haswell, { 'cuda.driver': '520.61.05' }],
      [haswell, { 'cuda.driver': '535.54.03' }],
      [haswell, { 'cuda.driver': '535.54.03', 'cuda.brand': 'tesla' }],
      [haswell, { 'cuda.driver': '530.30.02' }],
      [haswell, { mpi: `openmpi@${ompi}` }],
      [haswell, { mpi: 'openmpi@4.0.3' }],
      [haswell, { mpi: `mpich@${mpich}`, 'cuda.driver': min }],
      [haswell, { mpi: 'intel@2021.10', 'cuda.driver': min }],
      [haswell, { emulators: 'arm64' }],
      [haswell, { emulators: 'arm64,ppc64le', 'cuda.driver': min }],
      [haswell, { kernel: '2.6.32' }],
      [haswell, { kernel: '6.1.0', microarch: 'skylake_avx512' }],
      [haswell, { microarch: 'cascadelake', 'cuda.driver': min, 'cuda.brand': 'tesla' }],
      [haswell, { arch: 'arm64' }],
      [haswell, { arch: 'arm64', microarch: 'neoverse_v1', emulators: 'amd64' }],
    ];
    const extra = variants.map(([h, s], i) => ({ ...applySets(h, s), name: `${h.name}+${i}:${Object.entries(s).map(([k, v]) => `${k}=${v}`).join(',')}` }));
    const noKernel = structuredClone(haswell);
    noKernel.kernel.release = null;
    noKernel.name = 'no-kernel';
    const unknownMpi = structuredClone(applySets(haswell, { mpi: `openmpi@${ompi}` }));
    unknownMpi.mpi[0]!.version = null;
    unknownMpi.name = 'mpi-version-unknown';
    const noCpu = structuredClone(haswell);
    noCpu.cpu.microarch = null;
    noCpu.name = 'cpu-unknown';
    const noArch = structuredClone(haswell);
    noArch.platform.architecture = null;
    noArch.name = 'arch-unknown';
    hosts = [...plain, ...extra, noKernel, unknownMpi, noCpu, noArch];
  });

  it('covers every verdict', ({ skip }) => {
    if (skipAll) return skip(skipAll);
    const m = matchFacts(hosts, images);
    const seen = new Set(m.scores.flatMap((row) => Array.from(row, (raw) => (raw === -1 ? 'incompatible' : raw <= -2 ? 'unknown' : 'compatible'))));
    expect([...seen].sort()).toEqual(['compatible', 'incompatible', 'unknown']);
  });

  it('every cell equals the report of check() on that pair', async ({ skip }) => {
    if (skipAll) return skip(skipAll);
    const m = matchToJson(matchFacts(hosts, images)) as MatchJson;
    const mismatches: string[] = [];
    let pairs = 0;
    for (const [i, img] of images.entries()) {
      for (const [j, host] of hosts.entries()) {
        const rep = await check(img, host);
        pairs++;
        const cell = m.matrix[i]![j]!;
        if (cell.verdict !== rep.verdict || cell.score !== rep.score) {
          mismatches.push(`${img.name} on ${host.name}: match ${cell.verdict}/${cell.score}, check ${rep.verdict}/${rep.score} (${rep.checks.map((c) => `${c.id}:${c.status}-${c.penalty}`).join(' ')})`);
        }
      }
    }
    expect(pairs).toBe(images.length * hosts.length);
    expect(mismatches).toEqual([]);
  });

  it('cells do not depend on the order of hosts and images (the per-profile caches)', ({ skip }) => {
    if (skipAll) return skip(skipAll);
    const a = matchFacts(hosts, images);
    const rh = [...hosts].reverse();
    const ri = [...images].reverse();
    const b = matchFacts(rh, ri);
    for (let i = 0; i < images.length; i++) {
      for (let j = 0; j < hosts.length; j++) {
        expect(b.scores[images.length - 1 - i]![hosts.length - 1 - j], `${images[i]!.name} on ${hosts[j]!.name}`).toBe(a.scores[i]![j]);
      }
    }
    // One pair at a time gives the same too.
    for (let i = 0; i < images.length; i++) for (let j = 0; j < hosts.length; j++) expect(matchFacts([hosts[j]!], [images[i]!]).scores[0]![0]).toBe(a.scores[i]![j]);
  });
});

describe('match: bad input', () => {
  it('an image facts file given as --hosts: exit 2, one line', async ({ skip }) => {
    if (skipAll) return skip(skipAll);
    const ins = await runCli(['inspect', oci('multiarch'), '--json']);
    const file = join(base, 'as-host.json');
    writeFileSync(file, ins.stdout);
    const r = await runCli(['match', '--hosts', file, '--images', oci('multiarch')]);
    expect(r.code).toBe(2);
    expect(errorLine(r)).toContain(file);
  });

  it('a host facts file given as --images: exit 2, one line saying it is not image facts', async ({ skip }) => {
    if (skipAll) return skip(skipAll);
    const file = writeFacts(join(base, 'as-image.json'), hostFiles[0]!.facts);
    const r = await runCli(['match', '--hosts', hostFiles[0]!.file, '--images', file]);
    expect(r.code).toBe(2);
    const line = errorLine(r);
    expect(line).toContain(file);
    expect(line).toContain('not image facts');
  });
});
