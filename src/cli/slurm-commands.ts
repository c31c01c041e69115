/**
 * The Slurm commands: `slurm sync`, `sbatch`, and `check --slurm-constraint`. They parse and
 * print; the work is in src/scheduler.ts and src/sched/.
 */
import type { Command } from 'commander';
import { accessOf, addAccessOptions, type AccessFlags } from './access.js';
import { json, out } from './output.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** A line on stderr (notes, reasons), unless --quiet. */
function say(s: string, quiet?: boolean): void {
  if (!quiet) process.stderr.write(`${s}\n`);
}

/** `check IMAGE --slurm-constraint`: the constraint on stdout; notes on stderr; exit 1 when no node can run it. */
export async function printSlurmConstraint(image: string, o: AccessFlags & { nodes?: string[]; cluster?: boolean; prefix?: string; json?: boolean }): Promise<void> {
  const { imageSlurmConstraint } = await import('../scheduler.js');
  const { slurmRunner } = await import('../sched/slurm-cluster.js');
  const { slurmSyntaxProblem } = await import('../sched/slurm.js');
  const { access, progress: p } = await accessOf(o);
  const c = await imageSlurmConstraint(image, {
    ...access,
    ...(o.prefix !== undefined ? { prefix: o.prefix } : {}),
    ...(o.nodes ? { nodes: o.nodes } : {}),
    ...(o.cluster ? { cluster: slurmRunner() } : {}),
  }).finally(() => p.end());
  if (o.json) {
    out(json({ schemaVersion: '1.0', kind: 'constraint', constraint: c.constraint, notes: c.notes, impossible: c.impossible, prunedTo: c.prunedTo }));
  } else if (c.constraint !== null) out(`${c.constraint}\n`);
  for (const n of c.notes) say(`note: ${n}`, o.quiet);
  if (c.constraint === null) {
    say(`no node can run ${image}: ${c.prunedTo === null ? 'no node could meet' : `none of the ${c.prunedTo} nodes meets`} what the ${c.impossible.join(', ')} rule${c.impossible.length === 1 ? '' : 's'} need${c.impossible.length === 1 ? 's' : ''} (containerspec check ${image} says why)`);
    process.exitCode = 1;
    return;
  }
  if (c.prunedTo === null && c.constraint) say('note: not pruned to a cluster: Slurm refuses a feature no node has, even in an OR; add --cluster or --nodes FILE...', o.quiet);
  const problem = c.constraint ? slurmSyntaxProblem(c.constraint) : null;
  if (problem) say(`warning: Slurm will refuse this constraint: ${problem}`, o.quiet);
}

/** Add `slurm sync` and `sbatch` to the program. */
export function addSlurmCommands(cmd: Command): void {
  const slurm = cmd.command('slurm').description('Slurm node features from host facts (see also host --slurm-features, check --slurm-constraint, sbatch)');
  slurm
    .command('sync')
    .description("set each node's Slurm features from its host facts: the cs_ ones are replaced, the site's own kept")
    .requiredOption('--hosts <files...>', 'host facts files (containerspec host --json), as NODE=FILE or named by the facts')
    .option('--dry-run', 'print the scontrol commands instead of running them')
    .option('--prefix <prefix>', 'prefix of the features containerspec owns (default cs_)')
    .option('--json', 'print what changes on each node as JSON (schemas/slurm-1.0.schema.json)')
    .addHelpText('after', `
Features set with scontrol last until slurmctld restarts or reconfigures (it then reads slurm.conf
again): run slurm sync again then, or write "containerspec host --slurm-features" into slurm.conf.
Running it twice changes nothing the second time.

Examples:
  containerspec slurm sync --hosts nodes/*.json
  containerspec slurm sync --hosts n1=facts/n1.json n2=facts/n2.json --dry-run
`)
    .action(async (o: { hosts: string[]; dryRun?: boolean; prefix?: string; json?: boolean; quiet?: boolean }) => {
      const { slurmSync } = await import('../scheduler.js');
      const { shellQuote } = await import('../sched/slurm-cluster.js');
      const steps = await slurmSync(o.hosts, { ...(o.prefix !== undefined ? { prefix: o.prefix } : {}), ...(o.dryRun ? { dryRun: true } : {}) });
      if (o.json) return out(json({ schemaVersion: '1.0', kind: 'sync', dryRun: Boolean(o.dryRun), nodes: steps }));
      for (const s of steps) {
        if (!s.command) out(`${s.node}: up to date (${s.active.after.length} features)\n`);
        else if (o.dryRun) out(`scontrol ${s.command.map(shellQuote).join(' ')}\n`);
        else {
          const added = s.active.after.filter((f) => !s.active.before.includes(f)).length;
          const removed = s.active.before.filter((f) => !s.active.after.includes(f)).length;
          out(`${s.node}: updated (+${added} -${removed} features)\n`);
        }
      }
    });

  const sbatchCmd = cmd
    .command('sbatch')
    .description('submit a container job only where its image can run: check the cluster, add --constraint, run the command in ch-run')
    .argument('<image>', 'the image: dir:PATH or ch-image:NAME (what ch-run runs)')
    .argument('[sbatch-and-command...]', 'sbatch options, then -- and the command')
    .option('--hosts <file>', "a node's host facts (NODE=FILE) for the reasons when no node can run the image (repeatable)", collect, [])
    .option('--prefix <prefix>', 'prefix of the Slurm features (default cs_)')
    .option('--dry-run', 'print the sbatch command instead of running it')
    .passThroughOptions()
    .allowUnknownOption();
  addAccessOptions(sbatchCmd).addHelpText('after', `
containerspec's own options come before IMAGE; everything after it goes to sbatch, up to "--";
after "--" comes the command that ch-run runs in the image. The job's --constraint is the
image's (pruned to the features the cluster's nodes have) ANDed with any -C/--constraint given.
When no node can run the image it is not submitted: exit 1 and the reasons, per node.

Examples:
  containerspec sbatch dir:/scratch/$USER/lammps -N 1 -t 1:00:00 -- lmp -in in.lj
  containerspec sbatch ch-image:lammps --hosts n1=n1.json -p gpu -C bigmem -- lmp -in in.lj
  containerspec sbatch --dry-run dir:./app -- /app/run.sh
`);
  sbatchCmd.action(async (image: string, rest: string[], o: AccessFlags & { hosts: string[]; prefix?: string; dryRun?: boolean }) => {
    const { slurmSubmit } = await import('../scheduler.js');
    const { shellQuote } = await import('../sched/slurm-cluster.js');
    const { UsageError } = await import('../errors/index.js');
    const dash = rest.indexOf('--');
    if (dash < 0) throw new UsageError('no command: containerspec sbatch IMAGE [sbatch options] -- COMMAND [ARG...]');
    const { access, progress: p } = await accessOf(o);
    const r = await slurmSubmit(image, rest.slice(0, dash), rest.slice(dash + 1), {
      ...access,
      hosts: o.hosts,
      ...(o.prefix !== undefined ? { prefix: o.prefix } : {}),
      ...(o.dryRun ? { dryRun: true } : {}),
    }).finally(() => p.end());
    if (r.kind === 'refused') {
      const down = r.refusal.unavailable.length;
      process.stderr.write(`containerspec sbatch: ${down ? `no node of the cluster that can run ${image} takes jobs now (${down} down or drained)` : `no node of the cluster can run ${image}`}; not submitted\n`);
      for (const { node, lines } of r.reasons) for (const l of lines) process.stderr.write(`  ${node}: ${l}\n`);
      process.exitCode = 1;
      return;
    }
    for (const n of r.plan.notes) say(`note: ${n}`, o.quiet);
    if (r.kind === 'planned') return out(`sbatch ${r.plan.sbatch.map(shellQuote).join(' ')}\n`);
    say(`containerspec sbatch: ${r.plan.nodes.length} node${r.plan.nodes.length === 1 ? '' : 's'} can run it (${r.plan.nodes.join(', ')})`, o.quiet);
    out(r.output);
  });
}
