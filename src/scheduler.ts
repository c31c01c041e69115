/**
 * The scheduler commands as library functions (the CLI only parses and prints): an image's Slurm
 * constraint, setting nodes' features from host facts, and submitting a container job where it
 * can run.
 */
import { stat } from 'node:fs/promises';
import { check } from './check/check.js';
import { UsageError } from './errors/index.js';
import type { HostFacts, ImageFacts } from './model/facts.js';
import { imageAccessOf, loadHost, loadImage, type ImageAccess, type ImageInput } from './orchestrate.js';
import { applySync, clusterNodes, planSubmit, planSync, slurmRunner, submit, type NoNode, type SlurmNode, type SlurmRunner, type SubmitPlan, type SyncStep } from './sched/slurm-cluster.js';
import { slurmConstraint, slurmFeatures, type SlurmConstraint, type SlurmOptions } from './sched/slurm.js';

/** Options of {@link imageSlurmConstraint}. */
export interface ImageConstraintOptions extends SlurmOptions, ImageAccess {
  /** Host facts of the cluster's nodes: name only features some of them have. */
  nodes?: (HostFacts | string)[];
  /** Ask the running cluster (`scontrol show node`) which features its nodes have. */
  cluster?: SlurmRunner;
}

/** The constraint of an image, and what it was pruned to (`nodes`: how many nodes' features; null: not pruned). */
export async function imageSlurmConstraint(image: ImageInput, opts: ImageConstraintOptions = {}): Promise<SlurmConstraint & { prunedTo: number | null }> {
  const facts = await loadImage(image, imageAccessOf(opts));
  let known: Set<string> | undefined;
  let prunedTo: number | null = null;
  if (opts.nodes?.length) {
    const hosts = await Promise.all(opts.nodes.map((h) => loadHost(h)));
    known = new Set(hosts.flatMap((h) => slurmFeatures(h, opts)));
    prunedTo = hosts.length;
  } else if (opts.cluster) {
    const nodes = await clusterNodes(opts.cluster);
    known = new Set(nodes.flatMap((n) => n.active));
    prunedTo = nodes.length;
  }
  return { ...slurmConstraint(facts, { ...opts, ...(known ? { known } : {}) }), prunedTo };
}

/** A host facts file for a node: `NODE=FILE`, or a file whose facts name the node. */
export async function nodeHosts(specs: readonly string[]): Promise<{ node: string; facts: HostFacts; file: string }[]> {
  return Promise.all(
    specs.map(async (s) => {
      const m = /^([A-Za-z0-9_.-]+)=(.+)$/.exec(s);
      const file = m ? m[2]! : s;
      if (!(await stat(file).catch(() => null))?.isFile()) throw new UsageError(`--hosts ${s}: no such file ${file}`);
      const facts = await loadHost(file);
      const node = m ? m[1]! : facts.name;
      if (!node) throw new UsageError(`--hosts ${file}: the facts name no host; write NODE=${file}`);
      return { node, facts, file };
    }),
  );
}

/** `slurm sync`: what changes on each node, carried out unless `dryRun`. */
export async function slurmSync(specs: readonly string[], opts: SlurmOptions & { dryRun?: boolean; run?: SlurmRunner } = {}): Promise<SyncStep[]> {
  const run = opts.run ?? slurmRunner();
  const hosts = await nodeHosts(specs);
  const steps = planSync(await clusterNodes(run), hosts, opts);
  if (!opts.dryRun) await applySync(steps, run);
  return steps;
}

/** Options of {@link slurmSubmit}. */
export interface SubmitOptions extends SlurmOptions, ImageAccess {
  run?: SlurmRunner;
  /** Only plan: do not call sbatch. */
  dryRun?: boolean;
  /** Host facts of the nodes (`NODE=FILE` or files naming them), for the report's reasons when no node can run the image. */
  hosts?: string[];
}

/** What `containerspec sbatch` did: submitted (sbatch's output), planned, or refused with reasons. */
export type SubmitOutcome =
  | { kind: 'submitted'; plan: SubmitPlan; output: string }
  | { kind: 'planned'; plan: SubmitPlan }
  | { kind: 'refused'; refusal: NoNode; reasons: { node: string; lines: string[] }[]; image: ImageFacts };

/**
 * `containerspec sbatch IMAGE [sbatch options] -- COMMAND`: check that some node can run the image
 * (from the nodes' features, and the host facts' reports when given), then submit with the
 * constraint added and `ch-run` of the image around the command.
 */
export async function slurmSubmit(ref: string, sbatchArgs: readonly string[], command: readonly string[], opts: SubmitOptions = {}): Promise<SubmitOutcome> {
  const run = opts.run ?? slurmRunner();
  const image = await loadImage(ref, imageAccessOf(opts));
  const nodes: SlurmNode[] = await clusterNodes(run);
  const plan = planSubmit(image, ref, nodes, sbatchArgs, command, { ...opts, ...(opts.chStorage ? { env: { ...process.env, CH_IMAGE_STORAGE: opts.chStorage } } : {}) });
  if ('impossible' in plan) {
    const facts = opts.hosts?.length ? await nodeHosts(opts.hosts) : [];
    const byNode = new Map(facts.map((f) => [f.node, f.facts]));
    const reasons: { node: string; lines: string[] }[] = await Promise.all(
      plan.byNode.map(async ({ node, rules }) => {
        const host = byNode.get(node);
        if (!host) return { node, lines: rules.map((r) => `${r}: the node lacks the features this needs`) };
        const report = await check(image, host);
        const failing = report.checks.filter((c) => c.required && (c.status === 'fail' || c.status === 'unknown'));
        return { node, lines: failing.length ? failing.map((c) => `${c.id}: ${c.message}`) : rules.map((r) => `${r}: the node's features do not say it meets this (run containerspec slurm sync)`) };
      }),
    );
    for (const { node, state } of plan.unavailable) reasons.push({ node, lines: [`could run it, but takes no jobs now (State=${state}): resume it (scontrol update NodeName=${node} State=RESUME) or wait`] });
    return { kind: 'refused', refusal: plan, reasons, image };
  }
  if (opts.dryRun) return { kind: 'planned', plan };
  return { kind: 'submitted', plan, output: await submit(plan, run) };
}
