/**
 * The Slurm test infrastructure works, and pins what Debian 12's Slurm 22.05 does with node features:
 * a real slurmctld and three slurmd (n1..n3, different features) under a private munged; jobs land on
 * the node their --constraint names, what the constraint grammar accepts and refuses, what
 * `scontrol update` does to a node's features and what `scontrol reconfigure` undoes, a cli_filter.lua
 * that turns a --comment into a constraint, and where -o writes.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSlurmCluster, type SlurmCluster, type SlurmNodeSpec } from './helpers/slurm.js';

const NODES: SlurmNodeSpec[] = [
  { name: 'n1', features: ['haswell', 'ib', 'cuda-12.2'] },
  { name: 'n2', features: ['skylake', 'ib', 'gpu_a100'] },
  { name: 'n3', features: ['zen3'] },
];

/** `--comment=containerspec:constraint=EXPR` becomes the job's constraint; `containerspec:deny` refuses the job. */
const CLI_FILTER = `
function slurm_cli_setup_defaults(options, early_pass)
  return slurm.SUCCESS
end
function slurm_cli_pre_submit(options, pack_offset)
  local c = options.comment
  if c == "containerspec:deny" then
    slurm.log_error("containerspec: refused")
    return slurm.ERROR
  end
  if c ~= nil and string.sub(c, 1, 24) == "containerspec:constraint" then
    options.constraint = string.sub(c, 26)
  end
  return slurm.SUCCESS
end
function slurm_cli_post_submit(offset, job_id, step_id)
  return slurm.SUCCESS
end
`;

const INVALID = /Invalid feature specification/;
const UNAVAILABLE = /Requested node configuration is not available/;

let cluster: SlurmCluster | null = null;
let skipReason = '';
let work = '';

beforeAll(async () => {
  const c = await startSlurmCluster({ nodes: NODES, cliFilterLua: CLI_FILTER });
  if ('skip' in c) {
    skipReason = c.skip;
    console.warn(`skipping Slurm infrastructure: ${c.skip}`);
    return;
  }
  cluster = c;
  work = mkdtempSync(join(tmpdir(), 'cs-slurm-jobs-'));
});

afterAll(async () => {
  await cluster?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The cluster, or skip the test with the reason. */
function need(skip: (note?: string) => never): SlurmCluster {
  if (!cluster) skip(skipReason);
  return cluster!;
}

/** Submit `hostname; echo node=$SLURMD_NODENAME` with `args`, wait for it; its end and what it printed. */
async function runJob(c: SlurmCluster, name: string, args: string[]) {
  const out = join(work, `${name}.out`);
  const s = await c.sbatch([...args, '-o', out, '--wrap', 'hostname; echo node=$SLURMD_NODENAME']);
  expect(s.jobId, s.stderr).not.toBeNull();
  const end = await c.waitJob(s.jobId!);
  return { end, output: existsSync(out) ? readFileSync(out, 'utf8') : '(no output file)' };
}

/** sbatch --hold (nothing runs): the job id, or what sbatch said when it refused. */
async function held(c: SlurmCluster, constraint: string): Promise<{ jobId: string | null; stderr: string }> {
  const s = await c.sbatch(['--hold', '-o', '/dev/null', `--constraint=${constraint}`, '--wrap', 'true']);
  return { jobId: s.jobId, stderr: s.stderr };
}

describe('a Slurm 22.05 cluster of three nodes', () => {
  it('starts with every node idle and its slurm.conf features available and active', async ({ skip }) => {
    const c = need(skip);
    const s = await c.run('sinfo', ['-h', '-N', '-o', '%N %T']);
    expect(s.stdout.trim().split('\n').sort()).toEqual(['n1 idle', 'n2 idle', 'n3 idle']);
    for (const n of NODES) expect(await c.nodeFeatures(n.name)).toEqual({ available: n.features, active: n.features });
  });

  it('--constraint=X runs the job on the node that has X (names with _ . - and digits too)', async ({ skip }) => {
    const c = need(skip);
    const cases: [string, string][] = [['skylake', 'n2'], ['zen3', 'n3'], ['cuda-12.2', 'n1'], ['gpu_a100', 'n2']];
    const runs = await Promise.all(cases.map(([f], i) => runJob(c, `one-${i}`, [`--constraint=${f}`])));
    runs.forEach(({ end, output }, i) => {
      const node = cases[i]![1];
      expect(end, output).toMatchObject({ state: 'COMPLETED', nodeList: node, exitCode: 0 });
      expect(output).toContain(`node=${node}\n`);
    });
  });

  it('an OR constraint runs on a node with either feature; one level of parentheses groups', async ({ skip }) => {
    const c = need(skip);
    const [any, notN1, grouped] = await Promise.all([
      runJob(c, 'or', ['--constraint=haswell|zen3']),
      runJob(c, 'or-x', ['--constraint=haswell|zen3', '--exclude=n1']),
      runJob(c, 'group', ['--constraint=ib&(skylake|zen3)']),
    ]);
    expect(['n1', 'n3']).toContain(any.end.nodeList);
    expect(any.output).toContain(`node=${any.end.nodeList}\n`);
    expect(notN1.end.nodeList).toBe('n3');
    expect(grouped.end.nodeList).toBe('n2');
  });

  it('a feature no node has fails sbatch with "Invalid feature specification", even as one OR term', async ({ skip }) => {
    const c = need(skip);
    for (const expr of ['nosuch', 'zen3|nosuch', 'nosuch|zen3', '(nosuch|zen3)&ib', 'ZEN3']) {
      const s = await c.sbatch(['-o', '/dev/null', `--constraint=${expr}`, '--wrap', 'true']);
      expect(s.status, expr).not.toBe(0);
      expect(s.jobId).toBeNull();
      expect(s.stderr, expr).toMatch(INVALID);
    }
  });

  it('known features no one node has together: refused at submit, but accepted --hold (then BadConstraints)', async ({ skip }) => {
    const c = need(skip);
    for (const expr of ['haswell&skylake', '(haswell|skylake)&zen3']) {
      const s = await c.sbatch(['-o', '/dev/null', `--constraint=${expr}`, '--wrap', 'true']);
      expect(s.jobId, expr).toBeNull();
      expect(s.stderr, expr).toMatch(UNAVAILABLE);
    }
    const h = await held(c, 'haswell&skylake');
    expect(h.jobId, h.stderr).not.toBeNull();
    expect((await c.run('scontrol', ['release', h.jobId!])).status).toBe(0);
    let reason = '';
    for (let i = 0; i < 50 && reason !== 'BadConstraints'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      reason = /Reason=(\S+)/.exec((await c.run('scontrol', ['show', 'job', h.jobId!, '-o'])).stdout)?.[1] ?? '';
    }
    expect(reason).toBe('BadConstraints');
    expect((await c.run('scancel', [h.jobId!])).status).toBe(0);
  });

  // Held, so that only the expression is judged, not whether a node can run it now.
  it('the constraint grammar: & | and one level of parentheses; no nesting, no NOT; at most 1024 characters', async ({ skip }) => {
    const c = need(skip);
    const accepted = ['haswell&ib', 'haswell,ib', '(haswell|skylake)&ib', '(haswell&ib)|(zen3)', '(haswell|zen3)&(ib|cuda-12.2)'];
    const refused = ['ib&(skylake|(zen3&ib))', '((zen3))', '!zen3', 'ib&!zen3', 'zen3 & ib', 'zen3&&ib', '&zen3', '(zen3', 'zen3)'];
    const ids: string[] = [];
    for (const expr of accepted) {
      const h = await held(c, expr);
      expect(h.jobId, `${expr}: ${h.stderr}`).not.toBeNull();
      ids.push(h.jobId!);
    }
    for (const expr of refused) {
      const h = await held(c, expr);
      expect(h.jobId, expr).toBeNull();
      expect(h.stderr, expr).toMatch(INVALID);
    }
    // `,` is stored as `&`.
    const comma = await c.run('scontrol', ['show', 'job', ids[1]!, '-o']);
    expect(comma.stdout).toMatch(/ Features=haswell&ib /);
    // 'zen3' then '|ib' repeated: 1024 characters pass, 1026 do not.
    const long = (n: number) => `zen3${'|ib'.repeat((n - 4) / 3)}`;
    expect(long(1024)).toHaveLength(1024);
    const ok = await held(c, long(1024));
    expect(ok.jobId, ok.stderr).not.toBeNull();
    ids.push(ok.jobId!);
    const tooLong = await held(c, long(1027));
    expect(tooLong.jobId).toBeNull();
    expect(tooLong.stderr).toMatch(/parameter too long/);
    expect((await c.run('scancel', ids)).status).toBe(0);
  });

  it('a cli_filter.lua run by sbatch reads --comment and sets the constraint, or refuses the job', async ({ skip }) => {
    const c = need(skip);
    const { end, output } = await runJob(c, 'filter', ['--comment=containerspec:constraint=zen3']);
    expect(end.nodeList, output).toBe('n3');
    expect(end.fields.Features).toBe('zen3');
    const deny = await c.sbatch(['-o', '/dev/null', '--comment=containerspec:deny', '--wrap', 'true']);
    expect(deny.jobId).toBeNull();
    expect(deny.stderr).toMatch(/containerspec: refused[\s\S]*cli_filter plugin terminated with error/);
  });

  it('-o is written where it says; a relative -o is taken from --chdir, not from where sbatch ran', async ({ skip }) => {
    const c = need(skip);
    const from = join(work, 'from');
    const into = join(work, 'into');
    mkdirSync(from);
    mkdirSync(into);
    const s = await c.sbatch(['--chdir', into, '-o', 'rel.out', '--wrap', 'pwd; echo node=$SLURMD_NODENAME'], { cwd: from });
    expect(s.jobId, s.stderr).not.toBeNull();
    expect((await c.waitJob(s.jobId!)).state).toBe('COMPLETED');
    expect(existsSync(join(from, 'rel.out'))).toBe(false);
    expect(readFileSync(join(into, 'rel.out'), 'utf8')).toMatch(new RegExp(`^${into}\nnode=n\\d\n$`));
  });

  // Last: it ends with a reconfigure.
  it('scontrol update sets available and active features (a repeat changes nothing); reconfigure restores slurm.conf', async ({ skip }) => {
    const c = need(skip);
    const update = (node: string, available: string[], active: string[]) =>
      c.run('scontrol', ['update', `NodeName=${node}`, `AvailableFeatures=${available.join(',')}`, `ActiveFeatures=${active.join(',')}`]);
    const want = { available: ['skylake', 'ib', 'gpu_h100'], active: ['skylake', 'gpu_h100'] };
    for (let i = 0; i < 2; i++) {
      const u = await update('n2', want.available, want.active);
      expect(u.status, u.stderr).toBe(0);
      expect(await c.nodeFeatures('n2')).toEqual(want);
    }
    expect((await runJob(c, 'updated', ['--constraint=gpu_h100'])).end.nodeList).toBe('n2');
    // Only active features count: ib is still available on n2 but no longer active, and no other node
    // has skylake.
    const inactive = await c.sbatch(['-o', '/dev/null', '--constraint=skylake&ib', '--wrap', 'true']);
    expect(inactive.jobId).toBeNull();
    expect(inactive.stderr).toMatch(UNAVAILABLE);

    const notSubset = await update('n2', ['skylake'], ['skylake', 'gpu_h100']);
    expect(notSubset.status).not.toBe(0);
    expect(notSubset.stderr).toMatch(/Active features not subset of available features/);
    expect(await c.nodeFeatures('n2')).toEqual(want);

    // A node's feature list has no length limit to speak of: 200 features of 20 characters are kept.
    const many = Array.from({ length: 200 }, (_, i) => `feat${String(i).padStart(16, '0')}`);
    expect((await update('n3', many, many)).status).toBe(0);
    expect(await c.nodeFeatures('n3')).toEqual({ available: many, active: many });

    expect((await c.run('scontrol', ['reconfigure'])).status).toBe(0);
    for (const n of NODES) expect(await c.nodeFeatures(n.name)).toEqual({ available: n.features, active: n.features });
  });
});
