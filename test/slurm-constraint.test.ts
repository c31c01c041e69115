// Slurm node features and constraints from the rules (src/sched/): "the node's features satisfy the
// image's constraint" must equal "check passes" for every pair of the bench's generated hosts and
// images (10,000 x 1,000), and on the fixture-like facts below; what a feature cannot express is
// a note, never a silent drop.
import { describe, expect, it } from 'vitest';
import { loadArchspec } from '../src/arch/index.js';
import { check } from '../src/check/check.js';
import { compileImage, prepareHost } from '../src/check/compile.js';
import { scorePair } from '../src/check/score.js';
import { emptyHostFacts, emptyImageFacts } from '../src/model/empty.js';
import type { HostFacts, ImageFacts } from '../src/model/facts.js';
import { hostFeatures, imageNeeds } from '../src/sched/constraint.js';
import { and, anyOf, feat, or, prune, satisfies, toInfix, FALSE, TRUE } from '../src/sched/expr.js';
import { buildCli, expectOneLineError, runCli, show } from './helpers/cli.js';
import { dumpFor } from './helpers/archspec-data.js';
import { hostJson, makeFakeHost } from './helpers/fake-host.js';
import { oci } from './helpers/images.js';
import { schemaErrors } from './helpers/schemas.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { andConstraint, slurmConstraint, slurmFeatures, slurmSyntaxProblem, SLURM_CONSTRAINT_MAX } from '../src/sched/slurm.js';

interface DataSet {
  hosts: HostFacts[];
  images: ImageFacts[];
}
const { makeDataSet } = (await import('../bench/lib/match-data.js' as string)) as { makeDataSet: (o?: { hosts?: number; images?: number }) => DataSet };

const spec = loadArchspec();
/** A Slurm feature name as Slurm 22.05 takes it (letters, digits, underscore). */
const SLURM_NAME = /^[a-z][a-z0-9_]*$/;

/**
 * A Slurm constraint string evaluated as slurmctld would for one node: `&` (or `,`) binds tighter
 * than `|`, parentheses group. Written from Slurm's documentation, not from our printer.
 */
function slurmHolds(constraint: string, has: (f: string) => boolean): boolean {
  let i = 0;
  const term = (): boolean => {
    if (constraint[i] === '(') {
      i++;
      const v = disj();
      if (constraint[i++] !== ')') throw new Error(`unbalanced: ${constraint}`);
      return v;
    }
    const m = /^[A-Za-z0-9_.-]+/.exec(constraint.slice(i));
    if (!m) throw new Error(`bad constraint at ${i}: ${constraint}`);
    i += m[0].length;
    return has(m[0]);
  };
  const conj = (): boolean => {
    let v = term();
    while (constraint[i] === '&' || constraint[i] === ',') {
      i++;
      v = term() && v;
    }
    return v;
  };
  const disj = (): boolean => {
    let v = conj();
    while (constraint[i] === '|') {
      i++;
      v = conj() || v;
    }
    return v;
  };
  const v = disj();
  if (i !== constraint.length) throw new Error(`trailing text at ${i}: ${constraint}`);
  return v;
}

describe('feature expressions', () => {
  it('simplify as they are built, and print with & binding tighter than |', () => {
    expect(and(TRUE, feat('a'), TRUE)).toEqual(feat('a'));
    expect(or(FALSE, feat('a'), feat('a'))).toEqual(feat('a'));
    expect(and(feat('a'), FALSE)).toBe(FALSE);
    expect(toInfix(and(feat('a'), or(feat('b'), feat('c'))))).toBe('a&(b|c)');
    expect(toInfix(or(feat('a'), and(feat('a'), feat('b'))))).toBe('a');
    expect(toInfix(anyOf([and(feat('t'), feat('x')), and(feat('t'), feat('y')), and(feat('u'), feat('x'))]))).toBe('t&(x|y)|u&x');
  });
  it('pruning to the features a cluster has drops terms no node can meet', () => {
    const e = or(and(feat('a'), feat('b')), feat('c'));
    expect(toInfix(prune(e, new Set(['a', 'b'])))).toBe('a&b');
    expect(prune(e, new Set(['a']))).toBe(FALSE);
  });
});

describe('generated hosts and images (the bench data set)', () => {
  const { hosts, images } = makeDataSet();
  const prepared = hosts.map((h) => prepareHost(h, spec));
  const compiled = images.map((i) => compileImage(i, spec));

  it('every feature is a valid Slurm name, and the same facts give the same features', () => {
    for (const ph of prepared.slice(0, 500)) {
      const f = slurmFeatures(ph);
      expect(f.every((n) => n.startsWith('cs_') && SLURM_NAME.test(n)), f.join(',')).toBe(true);
      expect(new Set(f).size).toBe(f.length);
    }
    expect(slurmFeatures(hosts[7]!)).toEqual(slurmFeatures(structuredClone(hosts[7]!)));
  });

  it('for every pair, the node features satisfy the constraint exactly when check passes', () => {
    const needs = compiled.map((ci) => imageNeeds(ci));
    // every requirement of the generated images is expressible: no notes, so equality is exact
    expect(needs.flatMap((n) => n.notes)).toEqual([]);
    // hosts with the same features answer alike: evaluate each distinct feature set once per image
    const groups = new Map<string, { set: Set<string>; members: number[] }>();
    prepared.forEach((ph, i) => {
      const f = hostFeatures(ph);
      const key = f.join(',');
      const g = groups.get(key);
      if (g) g.members.push(i);
      else groups.set(key, { set: new Set(f), members: [i] });
    });
    let pairs = 0;
    let passing = 0;
    const wrong: string[] = [];
    for (let j = 0; j < compiled.length; j++) {
      const e = needs[j]!.expr;
      for (const g of groups.values()) {
        const sat = satisfies(e, (x) => g.set.has(x));
        for (const i of g.members) {
          pairs++;
          const pass = scorePair(compiled[j]!, prepared[i]!, spec) >= 0;
          if (pass) passing++;
          if (pass !== sat && wrong.length < 5) wrong.push(`image ${j} host ${i}: check ${pass ? 'passes' : 'does not pass'}, constraint ${sat ? 'holds' : 'does not hold'}: ${toInfix(e)} / ${[...g.set].join(',')}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(pairs).toBe(hosts.length * images.length);
    // the data set has both answers in number, so the equality is not vacuous
    expect(passing).toBeGreaterThan(pairs * 0.05);
    expect(passing).toBeLessThan(pairs * 0.95);
  }, 120_000);

  it('the printed constraints are Slurm 22.05 syntax (one level of parentheses, <= 1024 characters) and mean the same', () => {
    const sample = prepared.filter((_, i) => i % 10 === 0);
    const sets = sample.map((ph) => new Set(slurmFeatures(ph)));
    const wrong: string[] = [];
    let longest = 0;
    for (let j = 0; j < compiled.length; j++) {
      const c = slurmConstraint(compiled[j]!);
      if (c.constraint === null) {
        expect(sample.every((ph) => scorePair(compiled[j]!, ph, spec) < 0)).toBe(true);
        continue;
      }
      expect(slurmSyntaxProblem(c.constraint), c.constraint).toBeNull();
      longest = Math.max(longest, c.constraint.length);
      sample.forEach((ph, i) => {
        const pass = scorePair(compiled[j]!, ph, spec) >= 0;
        if (slurmHolds(c.constraint!, (f) => sets[i]!.has(f)) !== pass && wrong.length < 3) wrong.push(`image ${j}: ${c.constraint}`);
      });
    }
    expect(wrong).toEqual([]);
    expect(longest).toBeLessThanOrEqual(SLURM_CONSTRAINT_MAX);
  }, 120_000);
});

function host(over: (h: HostFacts) => void): HostFacts {
  const h = emptyHostFacts('n');
  h.platform = { os: 'linux', architecture: 'amd64', variant: null, evidence: [] };
  h.cpu.microarch = 'zen3';
  h.cpu.family = 'x86_64';
  h.kernel.release = '6.1.0-18-amd64';
  h.libc = { family: 'glibc', version: '2.36', loaders: [], evidence: [] };
  over(h);
  return h;
}
function image(over: (i: ImageFacts) => void): ImageFacts {
  const i = emptyImageFacts('app', 'oci');
  i.platform = { os: 'linux', architecture: 'amd64', variant: null, evidence: [] };
  i.libc = { family: 'glibc', version: '2.36', loaders: [], evidence: [] };
  i.requires.glibc = { version: '2.34', evidence: [] };
  i.requires.kernel = { version: '3.2.0', evidence: [] };
  over(i);
  return i;
}

describe('node features', () => {
  it('a zen3 node offers its target and every ancestor, its kernel floors, and no GPU or MPI but mpi_none', () => {
    const f = slurmFeatures(host(() => {}));
    for (const t of ['cs_zen3', 'cs_zen2', 'cs_zen', 'cs_x86_64_v3', 'cs_x86_64_v2', 'cs_x86_64']) expect(f).toContain(t);
    expect(f).not.toContain('cs_zen4');
    expect(f).toContain('cs_arch_amd64');
    expect(f).toContain('cs_kernel6_1');
    expect(f).toContain('cs_kernel3_2');
    expect(f).not.toContain('cs_kernel6_6');
    expect(f).toContain('cs_mpi_none');
    expect(f.some((x) => x.startsWith('cs_nvidia') || x.startsWith('cs_cuda'))).toBe(false);
  });
  it('an NVIDIA 535 node offers each CUDA version its driver supports, up to the highest', () => {
    const f = slurmFeatures(host((h) => {
      h.gpu.driver = '535.104.05';
      h.gpu.brand = 'tesla';
      h.gpu.computeCapability = '8.0';
    }));
    for (const x of ['cs_nvidia', 'cs_nvidia535', 'cs_cuda12_2', 'cs_cuda12_0', 'cs_cuda11_8', 'cs_cuda10_0', 'cs_cuda12_minorcompat', 'cs_cuda11_minorcompat', 'cs_gpu_tesla', 'cs_sm8_0', 'cs_sm7_5']) expect(f).toContain(x);
    expect(f).not.toContain('cs_cuda12_3');
    expect(f).not.toContain('cs_sm8_6');
  });
  it('MPI: the library and its version as every minor up to its own; emulated architectures', () => {
    const f = slurmFeatures(host((h) => {
      h.mpi.push({ implementation: 'openmpi', version: '4.1.6', abi: 'openmpi', soname: 'libmpi.so.40', path: 'usr/lib/libmpi.so.40', evidence: [] });
      h.mpi.push({ implementation: 'intel', version: '2021.10', abi: 'mpich', soname: 'libmpi.so.12', path: 'opt/intel/libmpi.so.12', evidence: [] });
      h.emulators.push({ name: 'qemu-aarch64', architecture: 'arm64', interpreter: '/usr/bin/qemu-aarch64-static', flags: 'F', fixBinary: true, path: null });
    }));
    for (const x of ['cs_mpi_openmpi', 'cs_mpi_openmpi4_0', 'cs_mpi_openmpi4_1', 'cs_mpi_mpich_intel', 'cs_mpi_mpich_intel2021_10', 'cs_emu_arm64']) expect(f).toContain(x);
    expect(f).not.toContain('cs_mpi_openmpi4_2');
    expect(f).not.toContain('cs_mpi_none');
  });
  it('another prefix, and a bad one is a usage error', () => {
    expect(slurmFeatures(host(() => {}), { prefix: 'site_cs_' })).toContain('site_cs_zen3');
    expect(() => slurmFeatures(host(() => {}), { prefix: 'cs-' })).toThrow(/--prefix "cs-"/);
  });
});

describe('image constraints', () => {
  it('an x86_64_v3 CUDA 12.4 image: the example of the issue', () => {
    const c = slurmConstraint(image((i) => {
      i.requires.microarch = { version: 'x86_64_v3', evidence: [] };
      i.cuda.runtime = '12.4';
      i.cuda.env = { CUDA_VERSION: '12.4.1', NVIDIA_REQUIRE_CUDA: 'cuda>=12.4' };
    }));
    expect(c.constraint).toBe('(cs_arch_amd64|cs_emu_amd64)&(cs_x86_64_v3|cs_emu_amd64)&cs_kernel3_2&cs_nvidia&cs_cuda12_4');
    expect(c.notes).toEqual([]);
  });
  it("NVIDIA's brand-bound driver branches are written as brand and branch features", () => {
    const c = slurmConstraint(image((i) => {
      i.cuda.runtime = '12.4';
      i.cuda.env = { NVIDIA_REQUIRE_CUDA: 'cuda>=12.4 brand=tesla,driver>=470,driver<471 brand=tesla,driver>=535,driver<536 brand=geforce,driver>=535,driver<536' };
    }));
    expect(slurmSyntaxProblem(c.constraint!)).toBeNull();
    expect(c.constraint).toContain('cs_cuda12_4');
    const n = imageNeeds(image((i) => {
      i.cuda.env = { NVIDIA_REQUIRE_CUDA: 'cuda>=12.4 brand=tesla,driver>=470,driver<471 brand=tesla,driver>=535,driver<536 brand=geforce,driver>=535,driver<536' };
    }));
    const on = (fs: string[]) => satisfies(n.expr, (x) => fs.includes(x));
    const base = ['arch_amd64', 'kernel3_2', 'nvidia'];
    expect(on([...base, 'cuda12_4'])).toBe(true);
    expect(on([...base, 'gpu_tesla', 'nvidia470'])).toBe(true);
    expect(on([...base, 'gpu_geforce', 'nvidia470'])).toBe(false);
    expect(on([...base, 'gpu_geforce', 'nvidia535'])).toBe(true);
  });
  it('what no feature can express is a note, and the rest still constrains', () => {
    const c = slurmConstraint(image((i) => {
      i.cuda.env = { NVIDIA_REQUIRE_CUDA: 'cuda>=11.0 brand=tesla,driver>=418.40.04,driver<419', NVIDIA_REQUIRE_DRIVER: 'driver>=450' };
    }));
    expect(c.notes).toHaveLength(3);
    expect(c.notes[0]).toMatch(/^driver>=418\.40\.04: only whole-branch driver bounds .* left out of the constraint$/);
    expect(c.notes[1]).toMatch(/^driver branches 0 to 418 are too many to list/);
    expect(c.notes[2]).toMatch(/^driver>=450 with no upper bound/);
    expect(c.constraint).toContain('cs_cuda11_0');
    const k = slurmConstraint(image((i) => {
      i.requires.kernel = { version: '3.11.0', evidence: [] };
    }));
    expect(k.notes).toEqual(['kernel >= 3.11.0 is not a feature: asked as kernel >= 4.4 (kernel4_4), which leaves out nodes with a kernel in between']);
    expect(k.constraint).toContain('cs_kernel4_4');
  });
  it('an image no node can run has no constraint, and says which rule', () => {
    const c = slurmConstraint(image((i) => {
      i.requires.glibc = { version: '2.38', evidence: [] };
    }));
    expect(c.constraint).toBeNull();
    expect(c.impossible).toEqual(['libc']);
  });
  it('pruned to a cluster that has no GPU node, a CUDA image cannot run there', () => {
    const img = image((i) => {
      i.cuda.runtime = '12.2';
    });
    const known = new Set(slurmFeatures(host(() => {})));
    const c = slurmConstraint(img, { known });
    expect(c.constraint).toBeNull();
    expect(c.impossible).toEqual(['gpu']);
  });
  it("a user's own constraint is ANDed, kept whole", () => {
    expect(andConstraint('bigmem|fat', 'cs_a&(cs_b|cs_c)')).toBe('(bigmem|fat)&cs_a&(cs_b|cs_c)');
    expect(andConstraint('[rack1|rack2]', 'cs_a&cs_b')).toBe('([rack1|rack2])&cs_a&cs_b');
    expect(andConstraint(undefined, 'cs_a')).toBe('cs_a');
  });
  it('agrees with the full report on hand-made pairs', async () => {
    const img = image((i) => {
      i.mpi.push({ implementation: 'openmpi', version: '4.1.2', abi: 'openmpi', soname: 'libmpi.so.40', path: 'usr/lib/libmpi.so.40', evidence: [] });
    });
    const hosts = [
      host(() => {}),
      host((h) => h.mpi.push({ implementation: 'openmpi', version: '4.0.7', abi: 'openmpi', soname: 'libmpi.so.40', path: 'x', evidence: [] })),
      host((h) => h.mpi.push({ implementation: 'openmpi', version: '4.1.5', abi: 'openmpi', soname: 'libmpi.so.40', path: 'x', evidence: [] })),
      host((h) => h.mpi.push({ implementation: 'mpich', version: '4.1.1', abi: 'mpich', soname: 'libmpi.so.12', path: 'x', evidence: [] })),
    ];
    const n = imageNeeds(img);
    const got = await Promise.all(hosts.map(async (h) => [(await check(img, h)).verdict === 'compatible', satisfies(n.expr, (x) => hostFeatures(h).includes(x))]));
    // The hybrid model (issue 13): an older or other-family host MPI only warns, as no host MPI does, so every host passes and the constraint selects each.
    expect(got).toEqual([[true, true], [true, true], [true, true], [true, true]]);
    const mpi = await Promise.all(hosts.map(async (h) => (await check(img, h)).checks.find((c) => c.id === 'mpi')!.status));
    expect(mpi).toEqual(['warn', 'warn', 'pass', 'warn']);
  });
});

describe('the CLI', () => {
  it('host --slurm-features of a host tree, as a list and as JSON; check --slurm-constraint pruned to node facts', async () => {
    await buildCli();
    const base = mkdtempSync(join(tmpdir(), 'cs-slurm-cli-'));
    const h = makeFakeHost(base, { name: 'icx1', cpuinfoFile: dumpFor('cascadelake').path, arch: 'x86_64', osrelease: '5.14.0-362.24.1.el9_3.x86_64' });
    const list = await runCli(['host', '--slurm-features', '--proc', h.proc, '--root', h.root, '--sys', h.sys]);
    expect(list.code, show(list)).toBe(0);
    const features = list.stdout.trim().split(',');
    for (const f of ['cs_arch_amd64', 'cs_cascadelake', 'cs_x86_64_v4', 'cs_kernel5_10', 'cs_mpi_none']) expect(features).toContain(f);
    expect(features).not.toContain('cs_kernel5_15');
    const js = await runCli(['host', '--slurm-features', '--json', '--prefix', 'site_', '--proc', h.proc, '--root', h.root, '--sys', h.sys]);
    expect(schemaErrors('slurm-1.0', JSON.parse(js.stdout))).toBeNull();
    expect(JSON.parse(js.stdout)).toMatchObject({ kind: 'features', host: 'icx1', prefix: 'site_' });
    const { file } = await hostJson(h);
    const c = await runCli(['check', oci('bullseye-openmpi'), '--slurm-constraint', '--nodes', file]);
    expect(c.code, show(c)).toBe(0);
    // pruned to what the node offers (no emulator); the image's MPI never blocks (the hybrid model only warns)
    expect(c.stdout.trim()).toBe('cs_arch_amd64&cs_kernel3_2');
    expect(expectOneLineError(await runCli(['host', '--slurm-features', '--prefix', '9x', '--proc', h.proc]))).toMatch(/--prefix "9x"/);
    expect(expectOneLineError(await runCli(['check', oci('bullseye-openmpi'), '--cluster']))).toMatch(/go with --slurm-constraint/);
  }, 60_000);
});

describe('node states: which nodes Slurm would start a job on', () => {
  it('idle, allocated, mixed and powered-down nodes take jobs; down, drained, draining, failing, not responding and future ones do not', async () => {
    const { nodeAvailable } = await import('../src/sched/slurm-cluster.js');
    for (const s of ['IDLE', 'ALLOCATED', 'MIXED', 'IDLE+POWERED_DOWN', 'MIXED+COMPLETING', 'IDLE+CLOUD']) expect(nodeAvailable(s), s).toBe(true);
    for (const s of ['DOWN', 'DOWN*', 'IDLE*', 'IDLE+DRAIN', 'MIXED+DRAIN', 'DRAINED', 'ALLOCATED+DRAIN', 'DOWN+NOT_RESPONDING', 'FUTURE', 'IDLE+FAIL', 'MIXED+FAILING', 'UNKNOWN']) expect(nodeAvailable(s), s).toBe(false);
  });
});
