// containerspec on a real Slurm cluster (Debian's slurmctld, three slurmd, munge; test/helpers/slurm.ts):
// nodes get their features from three host facts files with `slurm sync` (an AVX-512 node, a haswell
// node, a node with NVIDIA driver 535), container jobs submitted with `containerspec sbatch` land on
// the nodes `match` says (each job's output names its node), an image no node can run is refused
// before submission with containerspec's reasons, the printed constraint is taken by the real sbatch,
// and the cli_filter example does the same for plain `sbatch --comment=image=REF`.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostFacts } from '../src/model/facts.js';
import { dumpFor } from './helpers/archspec-data.js';
import { buildCli, REPO, runCli } from './helpers/cli.js';
import { hostJson, makeFakeHost, nvidiaVersionFile, writeFacts } from './helpers/fake-host.js';
import { ensureFixtures, FIXTURES } from './helpers/images.js';
import { libcuda1 } from './helpers/libcuda1.js';
import { schemaErrors } from './helpers/schemas.js';
import { startSlurmCluster, type SlurmCluster } from './helpers/slurm.js';

let cluster: SlurmCluster | null = null;
let skip = '';
let work = '';
const facts: Record<string, string> = {};
const images: Record<string, string> = {};
let env: NodeJS.ProcessEnv = {};

/** A container job's output: `node=NAME` from inside ch-run. */
const NODE_CMD = ['--', '/bin/busybox', 'sh', '-c', 'echo node=$SLURMD_NODENAME'];

beforeAll(async () => {
  const fx = ensureFixtures();
  if (!fx.ok) return void (skip = fx.reason);
  for (const c of ['ch-run', 'gcc']) if (spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0) return void (skip = `${c} is not installed`);
  await buildCli();
  work = mkdtempSync(join(tmpdir(), 'cs-slurm-test-'));
  // Host facts of three nodes, from real cpuinfo dumps (archspec's test data) and Debian's libcuda1.
  const hosts = join(work, 'hosts');
  const mk = async (name: string, target: string, extra: Parameters<typeof makeFakeHost>[1] = { name }) =>
    (await hostJson(makeFakeHost(hosts, { ...extra, name, cpuinfoFile: dumpFor(target).path, arch: 'x86_64', osrelease: '6.1.0-28-amd64' }))).facts;
  const n1 = await mk('n1', 'skylake_avx512');
  const n2 = await mk('n2', 'haswell');
  const pkg = await libcuda1();
  const n3: HostFacts = await mk('n3', 'haswell', { name: 'n3', nvidiaVersion: nvidiaVersionFile('535.183.01'), ...('reason' in pkg ? {} : { libcuda: pkg }) });
  n3.gpu.brand = 'tesla'; // a datacenter GPU, as "--set cuda.brand=tesla" says it
  for (const [n, f] of Object.entries({ n1, n2, n3 })) facts[n] = writeFacts(join(work, `${n}.json`), f);
  // Images ch-run can run: busybox (static) in each, so the job can say where it ran.
  // ch-run wants its mount points in the image (what ch-convert adds to an unpacked tree).
  const runnable = (from: string, to: string): string => {
    cpSync(from, to, { recursive: true, verbatimSymlinks: true });
    for (const d of ['dev', 'proc', 'sys', 'tmp', 'etc', 'home', 'mnt', 'bin']) mkdirSync(join(to, d), { recursive: true });
    for (const f of ['passwd', 'group', 'hosts', 'resolv.conf']) if (!existsSync(join(to, 'etc', f))) writeFileSync(join(to, 'etc', f), '');
    return to;
  };
  const busybox = join(FIXTURES, 'musl-static/rootfs/bin/busybox');
  images.generic = `dir:${runnable(join(FIXTURES, 'musl-static/rootfs'), join(work, 'img-generic'))}`;
  const v4 = runnable(join(FIXTURES, 'musl-static/rootfs'), join(work, 'img-avx512'));
  writeFileSync(join(work, 'v4.c'), 'int main(void) { return 0; }\n');
  const cc = spawnSync('gcc', ['-static', '-O1', '-Wl,-z,x86-64-v4', '-o', join(v4, 'usr/bin/avx512-app'), join(work, 'v4.c')], { encoding: 'utf8' });
  if (cc.status !== 0) return void (skip = `gcc cannot build a static x86-64-v4 program: ${cc.stderr.trim().split('\n').at(-1)}`);
  images.avx512 = `dir:${v4}`;
  const gpu = runnable(join(FIXTURES, 'trixie-mpich-cuda/rootfs'), join(work, 'img-gpu'));
  cpSync(busybox, join(gpu, 'bin/busybox'));
  images.gpu = `oci:${join(FIXTURES, 'trixie-mpich-cuda/oci')}`;
  images.gpuDir = `dir:${gpu}`;
  images.arm64 = `dir:${join(FIXTURES, 'bookworm-arm64/rootfs')}`;

  const c = await startSlurmCluster({
    nodes: [{ name: 'n1', features: ['ib'] }, { name: 'n2', features: [] }, { name: 'n3', features: ['bigmem'] }],
    cliFilterLua: readFileSync(join(REPO, 'examples/slurm/cli_filter.lua'), 'utf8'),
  });
  if ('skip' in c) return void (skip = c.skip);
  cluster = c;
  // sbatch runs the cli_filter, which runs containerspec: a shim on PATH.
  const bin = join(work, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'containerspec'), `#!/bin/sh\nexec "${process.execPath}" "${join(REPO, 'bin/containerspec.js')}" "$@"\n`);
  chmodSync(join(bin, 'containerspec'), 0o755);
  env = { ...c.env, USER: process.env.USER ?? 'root', PATH: `${bin}:${c.env.PATH ?? ''}`, CONTAINERSPEC_NO_CACHE: '1' };
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const ready = () => {
  if (skip) console.warn(`skipping the Slurm tests: ${skip}`);
  return !skip && cluster !== null;
};
const cs = (args: string[]) => runCli(args, { env, cwd: work, timeoutMs: 120_000 });

/** Which hosts `match` finds each image compatible with. */
async function matchHosts(image: string): Promise<string[]> {
  const r = await cs(['match', '--hosts', facts.n1!, facts.n2!, facts.n3!, '--images', image, '--json']);
  expect(r.code, r.stderr).toBe(0);
  const m = JSON.parse(r.stdout) as { hosts: string[]; matrix: { verdict: string }[][] };
  return m.hosts.filter((_, i) => m.matrix[0]![i]!.verdict === 'compatible');
}

/** Submit through containerspec sbatch and wait: the node the job's output names. */
async function runJob(image: string, sbatchArgs: string[] = []): Promise<string> {
  const out = join(work, `job-${Math.random().toString(36).slice(2)}.out`);
  const r = await cs(['sbatch', '--quiet', image, '-o', out, ...sbatchArgs, ...NODE_CMD]);
  expect(r.code, r.stderr).toBe(0);
  const id = /Submitted batch job (\d+)/.exec(r.stdout)?.[1];
  expect(id, r.stdout).toBeDefined();
  const end = await cluster!.waitJob(id!, 60_000);
  expect(end.state, `${readFileSync(out, 'utf8')}\n${cluster!.logTails()}`).toBe('COMPLETED');
  return /node=(\S+)/.exec(readFileSync(out, 'utf8'))?.[1] ?? '(none)';
}

describe('slurm sync', () => {
  it('--dry-run prints the scontrol commands and changes nothing', async (ctx) => {
    if (!ready()) return ctx.skip();
    const r = await cs(['slurm', 'sync', '--dry-run', '--hosts', `n1=${facts.n1}`, `n2=${facts.n2}`, `n3=${facts.n3}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^scontrol update NodeName=n1 AvailableFeatures=ib,cs_arch_amd64,.*cs_skylake_avx512.* ActiveFeatures=ib,cs_arch_amd64/m);
    expect((await cluster!.nodeFeatures('n1')).active).toEqual(['ib']);
  });
  it("sets each node's features from its facts, keeps the site's own, and a second run changes nothing", async (ctx) => {
    if (!ready()) return ctx.skip();
    const hosts = ['--hosts', `n1=${facts.n1}`, `n2=${facts.n2}`, `n3=${facts.n3}`];
    const first = await cs(['slurm', 'sync', ...hosts]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/n1: updated/);
    const n1 = await cluster!.nodeFeatures('n1');
    const n3 = await cluster!.nodeFeatures('n3');
    expect(n1.active).toContain('ib');
    expect(n1.active).toContain('cs_skylake_avx512');
    expect(n1.active).toContain('cs_x86_64_v4');
    expect((await cluster!.nodeFeatures('n2')).active).not.toContain('cs_x86_64_v4');
    expect(n3.active).toContain('bigmem');
    expect(n3.active).toContain('cs_nvidia535');
    const again = await cs(['slurm', 'sync', ...hosts]);
    expect(again.code, again.stderr).toBe(0);
    const asJson = await cs(['slurm', 'sync', '--dry-run', '--json', ...hosts]);
    expect(schemaErrors('slurm-1.0', JSON.parse(asJson.stdout))).toBeNull();
    expect((JSON.parse(asJson.stdout) as { nodes: { command: unknown }[] }).nodes.map((x) => x.command)).toEqual([null, null, null]);
    expect(again.stdout.trim().split('\n').every((l) => / up to date /.test(l)), again.stdout).toBe(true);
    expect(await cluster!.nodeFeatures('n1')).toEqual(n1);
  });
  it('a facts file for a node the cluster lacks is an error naming it', async (ctx) => {
    if (!ready()) return ctx.skip();
    const r = await cs(['slurm', 'sync', '--hosts', `n9=${facts.n1}`]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/node n9 is not in the Slurm cluster \(it has n1, n2, n3\)/);
  });
});

describe('containerspec sbatch', () => {
  it('each fixture image runs on a node match says can run it, and only there', async (ctx) => {
    if (!ready()) return ctx.skip();
    expect(await matchHosts(images.avx512!)).toEqual(['n1']);
    expect(await matchHosts(images.gpu!)).toEqual(['n3']);
    expect((await matchHosts(images.generic!)).sort()).toEqual(['n1', 'n2', 'n3']);
    expect(await runJob(images.avx512!)).toBe('n1');
    // the GPU image is judged from its OCI layout and run from its unpacked tree
    const gpuCheck = await cs(['check', images.gpu!, '--slurm-constraint', '--cluster', '--quiet']);
    expect(gpuCheck.code, gpuCheck.stderr).toBe(0);
    const gpuJson = await cs(['check', images.gpu!, '--slurm-constraint', '--cluster', '--json']);
    expect(schemaErrors('slurm-1.0', JSON.parse(gpuJson.stdout))).toBeNull();
    expect(JSON.parse(gpuJson.stdout)).toMatchObject({ constraint: gpuCheck.stdout.trim(), prunedTo: 3, notes: [] });
    expect(await runJob(images.gpuDir!, [`--constraint=${gpuCheck.stdout.trim()}`])).toBe('n3');
    expect(['n1', 'n2', 'n3']).toContain(await runJob(images.generic!));
  }, 180_000);
  it("a user's own --constraint is ANDed with the image's", async (ctx) => {
    if (!ready()) return ctx.skip();
    expect(await runJob(images.generic!, ['-C', 'bigmem'])).toBe('n3');
  }, 60_000);
  it('an image no node can run is refused before submission, with the reasons from the report', async (ctx) => {
    if (!ready()) return ctx.skip();
    const r = await cs(['sbatch', '--hosts', `n1=${facts.n1}`, '--hosts', `n2=${facts.n2}`, '--hosts', `n3=${facts.n3}`, images.arm64!, ...NODE_CMD]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no node of the cluster can run .*bookworm-arm64.*; not submitted/);
    expect(r.stderr).toMatch(/n1: arch: image is linux\/arm64 but this host is linux\/amd64, and no emulator for arm64 is registered/);
    expect(r.stderr).not.toMatch(/Invalid feature specification/);
    // nothing reached Slurm
    const q = await cluster!.run('scontrol', ['show', 'job', '-o']);
    expect(q.stdout).not.toMatch(/bookworm-arm64/);
  });
  it('--dry-run prints the sbatch command with the constraint and ch-run', async (ctx) => {
    if (!ready()) return ctx.skip();
    const r = await cs(['sbatch', '--dry-run', images.avx512!, '-t', '5', ...NODE_CMD]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^sbatch -t 5 '--constraint=.*cs_x86_64_v4.*' '--wrap=ch-run \/.*img-avx512 -- \/bin\/busybox sh -c '/);
  });
  it('a node that could run the image but is drained does not count: refused with its State, until it is resumed', async (ctx) => {
    if (!ready()) return ctx.skip();
    const drain = await cluster!.run('scontrol', ['update', 'NodeName=n1', 'State=DRAIN', 'Reason=containerspec-test']);
    expect(drain.status, drain.stderr).toBe(0);
    try {
      const r = await cs(['sbatch', '--dry-run', images.avx512!, ...NODE_CMD]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/no node of the cluster that can run .*avx512.* takes jobs now \(1 down or drained\); not submitted/);
      expect(r.stderr).toMatch(/n1: could run it, but takes no jobs now \(State=\S*DRAIN\S*\): resume it/);
      // The generic image still has n2 and n3.
      const g = await cs(['sbatch', '--dry-run', images.generic!, ...NODE_CMD]);
      expect(g.code, g.stderr).toBe(0);
    } finally {
      await cluster!.run('scontrol', ['update', 'NodeName=n1', 'State=RESUME']);
    }
    // A resumed node may report NOT_RESPONDING until slurmctld has heard from its slurmd again (seen under load).
    for (const until = Date.now() + 30_000; Date.now() < until; await new Promise((ok) => setTimeout(ok, 250))) {
      const st = /State=(\S+)/.exec((await cluster!.run('scontrol', ['show', 'node', 'n1', '-o'])).stdout)?.[1] ?? '';
      if (/^IDLE$|^MIXED$|^ALLOCATED$/.test(st)) break;
    }
    const again = await cs(['sbatch', '--dry-run', images.avx512!, ...NODE_CMD]);
    expect(again.code, again.stderr).toBe(0);
  });
  it('an image ch-run cannot run as given is a usage error', async (ctx) => {
    if (!ready()) return ctx.skip();
    const r = await cs(['sbatch', images.gpu!, ...NODE_CMD]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ch-run runs an unpacked image: give dir:PATH or ch-image:NAME/);
  });
});

describe('check --slurm-constraint on the cluster', () => {
  it('the constraint, pruned to the cluster, is taken by the real sbatch and lands where check passes', async (ctx) => {
    if (!ready()) return ctx.skip();
    const c = await cs(['check', images.avx512!, '--slurm-constraint', '--cluster']);
    expect(c.code, c.stderr).toBe(0);
    const constraint = c.stdout.trim();
    expect(constraint).not.toMatch(/emu_/); // no node emulates: pruned
    const out = join(work, 'plain.out');
    const r = await cluster!.sbatch([`--constraint=${constraint}`, '-o', out, '--wrap', 'echo node=$SLURMD_NODENAME'], { cwd: work });
    expect(r.jobId, r.stderr).not.toBeNull();
    await cluster!.waitJob(r.jobId!, 60_000);
    expect(readFileSync(out, 'utf8')).toMatch(/node=n1/);
  });
  it('unpruned, the constraint names features no node has, and the note says so', async (ctx) => {
    if (!ready()) return ctx.skip();
    const c = await cs(['check', images.avx512!, '--slurm-constraint']);
    expect(c.code).toBe(0);
    expect(c.stdout).toMatch(/cs_emu_amd64/);
    expect(c.stderr).toMatch(/not pruned to a cluster/);
    const r = await cluster!.sbatch([`--constraint=${c.stdout.trim()}`, '--wrap', 'true']);
    expect(r.stderr).toMatch(/Invalid feature specification/);
  });
});

describe('the cli_filter example (plain sbatch --comment=image=REF)', () => {
  it('adds the image constraint, and refuses an image no node can run', async (ctx) => {
    if (!ready()) return ctx.skip();
    const out = join(work, 'filtered.out');
    // the filter runs containerspec: submit with the env that has it on PATH
    const sub = spawnSync('sbatch', ['--parsable', `--comment=image=${images.avx512}`, '-o', out, '--wrap', 'echo node=$SLURMD_NODENAME'], { env, cwd: work, encoding: 'utf8' });
    expect(sub.status, sub.stderr).toBe(0);
    const id = sub.stdout.trim().split(';')[0]!;
    await cluster!.waitJob(id, 60_000);
    expect(readFileSync(out, 'utf8')).toMatch(/node=n1/);
    const no = spawnSync('sbatch', [`--comment=image=${images.arm64}`, '--wrap', 'true'], { env, cwd: work, encoding: 'utf8' });
    expect(no.status).not.toBe(0);
    expect(no.stderr).toMatch(/containerspec: no node can run .*bookworm-arm64/);
    expect(existsSync(out)).toBe(true);
  }, 60_000);
});
