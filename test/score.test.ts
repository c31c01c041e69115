// The score (issue 13): property tests over the bench's generated hosts and images
// (bench/lib/match-data.js makeDataSet), the per-penalty explanations, and the README's table.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadArchspec } from '../src/arch/index.js';
import { check } from '../src/check/check.js';
import { compileImage, prepareHost } from '../src/check/compile.js';
import { cell, matchFacts } from '../src/check/match.js';
import { PENALTY } from '../src/check/rule.js';
import { cpuUse } from '../src/check/rules/microarch.js';
import { scoreTable } from '../src/check/score-doc.js';
import { scorePair } from '../src/check/score.js';
import { formatMatch, formatReport } from '../src/cli/format-report.js';
import { emptyHostFacts, emptyImageFacts } from '../src/model/empty.js';
import type { HostFacts, ImageFacts } from '../src/model/facts.js';
import { REPO } from './helpers/cli.js';
import { schemaErrors } from './helpers/schemas.js';

interface DataSet {
  hosts: HostFacts[];
  images: ImageFacts[];
}
const { makeDataSet } = (await import('../bench/lib/match-data.js' as string)) as { makeDataSet: (o?: { hosts?: number; images?: number }) => DataSet };

const spec = loadArchspec();
const { hosts, images } = makeDataSet();
const FAMILY_OF: Record<string, string> = { amd64: 'x86_64', arm64: 'aarch64', ppc64le: 'ppc64le' };

/** The score a cell shows (0 for incompatible; an unknown cell's score as `?N`). */
const shown = (raw: number): number => cell(raw).score;
const score = (i: ImageFacts, h: HostFacts): number => scorePair(compileImage(i, spec), prepareHost(h, spec), spec);

function withTarget(i: ImageFacts, target: string | null): ImageFacts {
  const c = structuredClone(i);
  c.requires.microarch = target ? { version: target, evidence: [] } : null;
  return c;
}
function withHostTarget(h: HostFacts, target: string | null): HostFacts {
  const c = structuredClone(h);
  c.cpu.microarch = target;
  return c;
}
/** A plain image every generated host of its architecture runs (no GPU, MPI, kernel or glibc needs). */
function plainImage(arch: string, target: string | null): ImageFacts {
  const i = emptyImageFacts(`plain-${arch}-${target ?? 'generic'}`, 'oci');
  i.platform = { os: 'linux', architecture: arch, variant: arch === 'arm64' ? 'v8' : null, evidence: [] };
  i.libc = { family: 'glibc', version: '2.17', loaders: [], evidence: [] };
  i.requires.glibc = { version: '2.17', evidence: [] };
  if (target) i.requires.microarch = { version: target, evidence: [] };
  return i;
}

describe('the score ranks hosts and images as an HPC site would', () => {
  it("on one host, an image that uses more of the host's CPU generation scores higher (icelake: generic < v2 < v3 < v4 < icelake)", () => {
    const h = emptyHostFacts('ice');
    h.platform = { os: 'linux', architecture: 'amd64', variant: null, evidence: [] };
    h.cpu.microarch = 'icelake';
    h.kernel.release = '6.1.0';
    const s = [null, 'x86_64_v2', 'x86_64_v3', 'x86_64_v4', 'icelake'].map((t) => score(plainImage('amd64', t), h));
    for (let k = 1; k < s.length; k++) expect(s[k]!, s.join(' ')).toBeGreaterThan(s[k - 1]!);
    expect(s).toEqual([80, 85, 89, 91, 100]); // the README's example
  });

  it('over the generated hosts: for any two targets a <= b <= the host target, an image built for b scores at least as high as one built for a, and generic no higher than either', () => {
    const wrong: string[] = [];
    let compared = 0;
    for (const h of hosts.filter((_, k) => k % 10 === 0)) {
      const t = h.cpu.microarch;
      const arch = h.platform.architecture!;
      if (!t) continue;
      const chain = [null, ...spec.ancestors(t), t];
      const scores = new Map(chain.map((c) => [c, shown(score(plainImage(arch, c), h))]));
      for (const a of chain) for (const b of chain) {
        if (a === b || !(a === null || (b !== null && spec.le(a, b)))) continue;
        compared++;
        if (scores.get(b)! < scores.get(a)! && wrong.length < 5) wrong.push(`${h.name} (${t}): ${b} ${scores.get(b)} < ${a ?? 'generic'} ${scores.get(a)}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(compared).toBeGreaterThan(1000);
  });

  it("over the generated hosts and images: a generic image scores higher on a host at its family's baseline than on the same host with any newer target, and never higher on a newer target than on an older one", () => {
    const wrong: string[] = [];
    let compared = 0;
    const generic = images.filter((i) => !i.requires.microarch).slice(0, 60);
    for (const h of hosts.filter((_, k) => k % 50 === 0)) {
      const t = h.cpu.microarch;
      if (!t) continue;
      const plain = withHostTarget(h, spec.family(t));
      for (const i of generic) {
        if (i.platform.architecture !== h.platform.architecture) continue; // emulated: the CPU is not what it runs on
        const onT = score(i, h);
        if (onT < 0) continue; // only compatible pairs rank by score
        const onPlain = score(i, plain);
        compared++;
        if (t !== spec.family(t) && cpuUse(null, t, spec).total > 0 && !(onPlain > onT) && wrong.length < 5) wrong.push(`${i.name}: plain ${onPlain} vs ${t} ${onT}`);
        for (const older of spec.ancestors(t)) {
          const onOlder = score(i, withHostTarget(h, older));
          if (onOlder < onT && wrong.length < 5) wrong.push(`${i.name}: ${older} ${onOlder} < ${t} ${onT}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(compared).toBeGreaterThan(500);
  });

  it('comparable across CPU families: in every family a generic image loses the same on any target past the baseline, and an exact-target image nothing', () => {
    for (const arch of ['amd64', 'arm64', 'ppc64le']) {
      const fam = FAMILY_OF[arch]!;
      const targets = spec.names().filter((n) => spec.family(n) === fam);
      expect(targets.length).toBeGreaterThan(1);
      for (const t of targets) {
        const h = emptyHostFacts(`n-${t}`);
        h.platform = { os: 'linux', architecture: arch, variant: arch === 'arm64' ? 'v8' : null, evidence: [] };
        h.cpu.microarch = t;
        h.kernel.release = '6.1.0';
        const offers = cpuUse(null, t, spec).total > 0;
        expect(score(plainImage(arch, null), h), `${fam} generic on ${t}`).toBe(offers ? 100 - PENALTY.microarchUnused : 100);
        expect(score(plainImage(arch, t), h), `${t} on ${t}`).toBe(100);
      }
    }
    // and over the generated data: the mean generic-image score on non-baseline hosts is the same per family
    const means = new Map<string, number[]>();
    for (const h of hosts.slice(0, 3000)) {
      const t = h.cpu.microarch;
      if (!t || cpuUse(null, t, spec).total === 0) continue;
      const s = score(plainImage(h.platform.architecture!, null), h);
      (means.get(h.platform.architecture!) ?? means.set(h.platform.architecture!, []).get(h.platform.architecture!)!).push(s);
    }
    const avg = [...means.values()].map((l) => l.reduce((a, b) => a + b, 0) / l.length);
    expect(avg.length).toBe(3);
    expect(Math.max(...avg) - Math.min(...avg)).toBe(0);
  });
});

describe('knowing less never scores higher than knowing more with everything passing', () => {
  const hostErasures: [string, (h: HostFacts) => void][] = [
    ['cpu target', (h) => void (h.cpu.microarch = null)],
    ['kernel release', (h) => void (h.kernel.release = null)],
    ['GPU brand', (h) => void (h.gpu.brand = null)],
    ['GPU compute capability', (h) => void (h.gpu.computeCapability = null)],
    ['architecture', (h) => void (h.platform.architecture = null)],
  ];
  const imageErasures: [string, (i: ImageFacts) => void][] = [
    ['architecture', (i) => void (i.platform.architecture = null)],
    ['glibc version', (i) => void (i.libc.version = null)],
    ['MPI version', (i) => i.mpi.forEach((m) => (m.version = null))],
    ['kernel need', (i) => void (i.requires.kernel = null)],
  ];
  it('erasing a host fact from a compatible pair never raises its score (generated hosts x images)', () => {
    const wrong: string[] = [];
    let compared = 0;
    const hs = hosts.filter((_, k) => k % 25 === 0);
    const is = images.filter((_, k) => k % 5 === 0);
    const ci = is.map((i) => compileImage(i, spec));
    for (const h of hs) {
      const known = prepareHost(h, spec);
      const erased = hostErasures.map(([name, f]) => {
        const c = structuredClone(h);
        f(c);
        return { name, ph: prepareHost(c, spec) };
      });
      ci.forEach((c, j) => {
        const k = scorePair(c, known, spec);
        if (k < 0) return;
        for (const e of erased) {
          compared++;
          const less = shown(scorePair(c, e.ph, spec));
          if (less > k && wrong.length < 5) wrong.push(`${is[j]!.name} on ${h.name} without its ${e.name}: ${less} > ${k}`);
        }
      });
    }
    expect(wrong).toEqual([]);
    expect(compared).toBeGreaterThan(5000);
  });
  it('erasing an image fact from a compatible pair never raises its score', () => {
    const wrong: string[] = [];
    let compared = 0;
    const ph = hosts.filter((_, k) => k % 25 === 0).map((h) => prepareHost(h, spec));
    for (const i of images.filter((_, k) => k % 5 === 0)) {
      const known = compileImage(i, spec);
      const erased = imageErasures.map(([name, f]) => {
        const c = structuredClone(i);
        f(c);
        return { name, ci: compileImage(c, spec) };
      });
      for (const p of ph) {
        const k = scorePair(known, p, spec);
        if (k < 0) continue;
        for (const e of erased) {
          compared++;
          const less = shown(scorePair(e.ci, p, spec));
          if (less > k && wrong.length < 5) wrong.push(`${i.name} without its ${e.name} on ${p.facts.name}: ${less} > ${k}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(compared).toBeGreaterThan(5000);
  });
  it('an arm64 what-if with no CPU target scores below the same host with its target known', () => {
    const h = emptyHostFacts('arm');
    h.platform = { os: 'linux', architecture: 'arm64', variant: 'v8', evidence: [] };
    h.kernel.release = '6.1.0';
    const i = plainImage('arm64', null);
    const unknownTarget = score(i, h);
    for (const t of ['aarch64', 'neoverse_n1', 'neoverse_v2']) expect(unknownTarget).toBeLessThanOrEqual(score(i, withHostTarget(h, t)));
    expect(unknownTarget).toBeLessThan(100);
  });
});

describe('every point off is explained', () => {
  it('the report lists one penalty per point-taking check, summing to 100 - score, the same score as the matcher; the text prints each with its points', async () => {
    const hs = hosts.filter((_, k) => k % 500 === 0);
    const is = images.filter((_, k) => k % 20 === 0);
    let explained = 0;
    for (const h of hs) for (const i of is) {
      const r = await check(i, h, { archspec: spec });
      expect(schemaErrors('report', r)).toBeNull();
      const raw = scorePair(compileImage(i, spec), prepareHost(h, spec), spec);
      expect(cell(raw)).toEqual({ verdict: r.verdict, score: r.score });
      if (r.verdict === 'incompatible') {
        expect(r.penalties).toEqual([]);
        continue;
      }
      const sum = r.penalties.reduce((n, p) => n + p.points, 0);
      expect(Math.max(0, 100 - sum)).toBe(r.score);
      expect(r.penalties.map((p) => p.check)).toEqual(r.checks.filter((c) => c.penalty > 0).map((c) => c.id));
      const text = formatReport(r);
      for (const p of r.penalties) {
        expect(p.reason.length).toBeGreaterThan(0);
        expect(text).toContain(`-${p.points} ${p.reason}`);
      }
      if (r.penalties.length) explained++;
    }
    expect(explained).toBeGreaterThan(20);
  });
  it('a generic image on a zen3 host says why it loses points', async () => {
    const h = emptyHostFacts('z');
    h.platform = { os: 'linux', architecture: 'amd64', variant: null, evidence: [] };
    h.cpu.microarch = 'zen3';
    h.kernel.release = '6.1.0';
    const r = await check(plainImage('amd64', null), h, { archspec: spec });
    expect(r.score).toBe(80);
    expect(r.penalties).toEqual([{ check: 'microarch', points: 20, reason: "generic x86_64 image: uses none of zen3's instruction-set features past x86_64" }]);
  });
});

describe("the README's score table", () => {
  it('is the table generated from the constants the rules use', () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### The score'), readme.indexOf('## Run-specs'));
    expect(section).toContain(scoreTable());
    // and every number in it is a PENALTY constant
    const nums = new Set([...scoreTable().matchAll(/\b(\d+)\b/g)].map((m) => Number(m[1])));
    for (const n of nums) expect(Object.values(PENALTY) as number[]).toContain(n);
  });
});

describe("match's ?N legend", () => {
  it('says N is a lower bound: the same pair with the unknown fact known and passing scores N or more', () => {
    const h = emptyHostFacts('nocpu');
    h.platform = { os: 'linux', architecture: 'amd64', variant: null, evidence: [] };
    h.kernel.release = '6.1.0';
    const i = plainImage('amd64', 'haswell');
    const m = matchFacts([h], [i], { archspec: spec });
    const text = formatMatch(m);
    const n = cell(m.scores[0]![0]!).score;
    expect(cell(m.scores[0]![0]!).verdict).toBe('unknown');
    expect(text).toContain(`?${n}`);
    expect(text).toMatch(/\?N cannot tell.*: N counts each unknown fact at the worst it could cost/);
    for (const t of ['haswell', 'skylake', 'icelake', 'zen3']) {
      const known = score(i, withHostTarget(h, t));
      if (known >= 0) expect(known).toBeGreaterThanOrEqual(n); // zen3 is not a haswell descendant: fails, nothing to compare
    }
  });
});
