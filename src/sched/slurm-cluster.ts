/**
 * Talking to a Slurm cluster through its own commands (`scontrol`, `sbatch`): read the nodes and
 * their features, set containerspec's features on nodes (`slurm sync`), and submit a container job
 * that only lands where its image can run (`containerspec sbatch`). No plugin in Slurm's hot path:
 * node features and `--constraint` do the placing.
 */
import { spawn } from 'node:child_process';
import { isAbsolute, resolve } from 'node:path';
import { ContainerspecError, UsageError, oneLine } from '../errors/index.js';
import type { HostFacts, ImageFacts } from '../model/facts.js';
import { parseReference } from '../image/reference.js';
import { imageNeeds } from './constraint.js';
import { satisfies } from './expr.js';
import { andConstraint, parseSlurmConstraint, slurmConstraint, slurmFeatures, slurmPrefix, slurmSyntaxProblem, type SlurmOptions } from './slurm.js';

/** A Slurm command failed, or Slurm could not be reached. */
export class SlurmError extends ContainerspecError {
  override name = 'SlurmError';
}

/** What a Slurm command printed. */
export interface SlurmResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a Slurm command (tests and sites may wrap it, e.g. to add `SLURM_CONF`). */
export type SlurmRunner = (cmd: string, args: readonly string[]) => Promise<SlurmResult>;

const OUTPUT_MAX = 8 << 20;

/** Run Slurm's commands from PATH with this process's environment (or `env`). */
export function slurmRunner(env: NodeJS.ProcessEnv = process.env): SlurmRunner {
  return (cmd, args) =>
    new Promise((done) => {
      const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let size = 0;
      const keep = (into: Buffer[]) => (c: Buffer) => {
        size += c.length;
        if (size <= OUTPUT_MAX) into.push(c);
      };
      child.stdout.on('data', keep(out));
      child.stderr.on('data', keep(err));
      child.on('error', (e: NodeJS.ErrnoException) => done({ status: null, stdout: '', stderr: e.code === 'ENOENT' ? `${cmd}: not found (is Slurm installed and on PATH?)` : e.message }));
      child.on('close', (status) => done({ status, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
    });
}

/** The last meaningful line a failed command printed. */
function lastLine(r: SlurmResult): string {
  const lines = `${r.stderr}\n${r.stdout}`.split('\n').map((l) => l.trim()).filter(Boolean);
  return oneLine(lines.at(-1) ?? `exit status ${r.status}`);
}

async function must(run: SlurmRunner, cmd: string, args: readonly string[]): Promise<string> {
  const r = await run(cmd, args);
  if (r.status !== 0) throw new SlurmError(`${cmd} ${args.join(' ')}: ${lastLine(r)}`);
  return r.stdout;
}

/** One node as `scontrol show node` describes it. */
export interface SlurmNode {
  name: string;
  /** AvailableFeatures (slurm.conf `Features=`, or set with scontrol update). */
  available: string[];
  /** ActiveFeatures: what scheduling uses. */
  active: string[];
  state: string;
}

/** `Key=value Key2=value with spaces ...` (one `scontrol show -o` line) as a map. */
export function parseScontrol(line: string): Map<string, string> {
  const out = new Map<string, string>();
  const keys = [...line.matchAll(/(?:^|\s)([A-Za-z][A-Za-z0-9_:/]*)=/g)];
  keys.forEach((m, i) => {
    const start = (m.index ?? 0) + m[0].length;
    const end = i + 1 < keys.length ? (keys[i + 1]!.index ?? line.length) : line.length;
    out.set(m[1]!, line.slice(start, end).trim());
  });
  return out;
}

/**
 * Whether Slurm would start a job on a node in `state` (`scontrol show node` State: `IDLE`,
 * `MIXED+DRAIN`, `DOWN*`, `IDLE+POWERED_DOWN`, ...): not when it is down, drained or draining,
 * failed or failing, not responding (`*`), or a future node. A powered-down node is powered up on
 * demand, so it counts.
 */
export function nodeAvailable(state: string): boolean {
  if (state.endsWith('*')) return false;
  return !state.toUpperCase().split('+').some((s) => /^(DOWN|DRAIN|DRAINED|DRAINING|FAIL|FAILING|FUTURE|NOT_RESPONDING|UNKNOWN|INVAL)$/.test(s));
}

const featureList = (v: string | undefined): string[] => (!v || v === '(null)' ? [] : v.split(',').filter(Boolean));

/** The cluster's nodes and their features (`scontrol show node -o`). */
export async function clusterNodes(run: SlurmRunner = slurmRunner()): Promise<SlurmNode[]> {
  const text = await must(run, 'scontrol', ['show', 'node', '-o']);
  return text
    .split('\n')
    .filter((l) => l.startsWith('NodeName='))
    .map((l) => {
      const f = parseScontrol(l);
      return { name: f.get('NodeName') ?? '?', available: featureList(f.get('AvailableFeatures')), active: featureList(f.get('ActiveFeatures')), state: f.get('State') ?? '?' };
    });
}

/** Every active feature some node has (what a constraint may name). */
export function knownFeatures(nodes: readonly SlurmNode[]): Set<string> {
  return new Set(nodes.flatMap((n) => n.active));
}

// ---- slurm sync ---------------------------------------------------------------------------

/** One node's features before and after `slurm sync`, and the command that makes the change. */
export interface SyncStep {
  node: string;
  available: { before: string[]; after: string[] };
  active: { before: string[]; after: string[] };
  /** The `scontrol` arguments, or null when the node is already up to date. */
  command: string[] | null;
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && new Set(a).size === new Set([...a, ...b]).size;

/**
 * What `slurm sync` changes: for each node, its features with every prefixed one replaced by
 * containerspec's features from its host facts, the site's own features kept in their order.
 * A node already up to date gets no command, so a second run changes nothing.
 */
export function planSync(nodes: readonly SlurmNode[], hosts: readonly { node: string; facts: HostFacts }[], opts: SlurmOptions = {}): SyncStep[] {
  const prefix = slurmPrefix(opts.prefix);
  const byName = new Map(nodes.map((n) => [n.name, n]));
  return hosts.map(({ node, facts }) => {
    const n = byName.get(node);
    if (!n) throw new UsageError(`node ${node} is not in the Slurm cluster (it has ${nodes.map((x) => x.name).join(', ') || 'no nodes'}); name it with NODE=FILE`);
    const ours = slurmFeatures(facts, opts);
    const site = (l: readonly string[]) => l.filter((f) => !f.startsWith(prefix));
    const available = [...site(n.available), ...ours];
    const active = [...site(n.active), ...ours];
    const same = sameSet(available, n.available) && sameSet(active, n.active);
    const command = same ? null : ['update', `NodeName=${node}`, `AvailableFeatures=${available.join(',')}`, `ActiveFeatures=${active.join(',')}`];
    return { node, available: { before: n.available, after: available }, active: { before: n.active, after: active }, command };
  });
}

/** Carry out a plan with `scontrol update` (nodes already up to date are left alone). */
export async function applySync(steps: readonly SyncStep[], run: SlurmRunner = slurmRunner()): Promise<void> {
  for (const s of steps) if (s.command) await must(run, 'scontrol', s.command);
}

// ---- containerspec sbatch -----------------------------------------------------------------

/** Quote one word for a POSIX shell. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `ch-run` arguments for an image Charliecloud can run: an unpacked directory, or an image in its storage. */
export function chRunImage(ref: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const r = parseReference(ref);
  if (r.transport === 'dir') return [isAbsolute(r.path) ? r.path : resolve(r.path)];
  if (r.transport === 'ch-image') return env.CH_IMAGE_STORAGE ? ['-s', env.CH_IMAGE_STORAGE, r.name] : [r.name];
  throw new UsageError(`${ref}: ch-run runs an unpacked image: give dir:PATH or ch-image:NAME (e.g. "ch-image pull NAME", or "ch-convert ${ref.replace(/^[a-z-]+:/, '')} DIR")`);
}

/** `-C X`, `-CX`, `--constraint X`, `--constraint=X` taken out of sbatch options. */
export function takeConstraint(args: readonly string[]): { rest: string[]; constraint: string | null } {
  const rest: string[] = [];
  let constraint: string | null = null;
  const add = (c: string) => {
    constraint = constraint === null ? c : `(${constraint})&(${c})`;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-C' || a === '--constraint') {
      const v = args[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      add(v);
    } else if (a.startsWith('--constraint=')) add(a.slice('--constraint='.length));
    else if (a.startsWith('-C') && a.length > 2) add(a.slice(2));
    else rest.push(a);
  }
  return { rest, constraint };
}

/** The plan for one container job: where it may run and the exact sbatch command. */
export interface SubmitPlan {
  /** The constraint added to the job (ANDed with the user's). */
  constraint: string;
  /** Nodes that can take the job now: their active features meet containerspec's constraint (and the user's, when it could be read), and their state lets Slurm start jobs. */
  nodes: string[];
  /** `sbatch` arguments. */
  sbatch: string[];
  /** Requirements no feature expresses (the constraint selects more nodes than pass). */
  notes: string[];
}

/** Why no node can run an image: per node, the rules whose needs it does not meet, or (for a node that would fit) its state. */
export interface NoNode {
  impossible: string[];
  byNode: { node: string; rules: string[] }[];
  /** Nodes whose features fit but that take no jobs now (down, drained, ...), with their State. */
  unavailable: { node: string; state: string }[];
}

/**
 * Plan `containerspec sbatch`: the image's constraint pruned to the cluster's features (Slurm
 * refuses unknown names), the nodes that meet it, and the sbatch arguments that run `ch-run` of
 * the image around the command. Returns the reasons instead when no node can run it.
 */
export function planSubmit(
  image: ImageFacts,
  ref: string,
  nodes: readonly SlurmNode[],
  sbatchArgs: readonly string[],
  command: readonly string[],
  opts: SlurmOptions & { env?: NodeJS.ProcessEnv } = {},
): SubmitPlan | NoNode {
  if (command.length === 0) throw new UsageError('no command to run: containerspec sbatch IMAGE [sbatch options] -- COMMAND [ARG...]');
  const run = ['ch-run', ...chRunImage(ref, opts.env), '--', ...command];
  const known = knownFeatures(nodes);
  const needs = imageNeeds(image, opts);
  const c = slurmConstraint(needs, { ...opts, known });
  const { rest, constraint: user } = takeConstraint(sbatchArgs);
  // The user's constraint, when we can read it, also decides which nodes may run the job (Slurm decides otherwise).
  const userExpr = user === null ? null : parseSlurmConstraint(user);
  const meetsUser = (n: SlurmNode) => userExpr === null || satisfies(userExpr, (f) => n.active.includes(f));
  const fits = c.constraint === null ? [] : nodes.filter((n) => satisfies(c.expr, (f) => n.active.includes(f)) && meetsUser(n));
  const fitting = fits.filter((n) => nodeAvailable(n.state));
  if (c.constraint === null || fitting.length === 0) {
    const prefix = slurmPrefix(opts.prefix);
    const failing = (n: SlurmNode) => [
      ...needs.byRule.filter((r) => !satisfies(r.needs.expr, (f) => n.active.includes(prefix + f))).map((r) => r.id),
      ...(meetsUser(n) ? [] : ['your --constraint']),
    ];
    const down = new Set(fits.map((n) => n.name));
    return {
      impossible: c.impossible,
      byNode: nodes.filter((n) => !down.has(n.name)).map((n) => ({ node: n.name, rules: failing(n) })),
      unavailable: fits.map((n) => ({ node: n.name, state: n.state })),
    };
  }
  const combined = andConstraint(user, c.constraint);
  const problem = slurmSyntaxProblem(combined);
  if (problem) throw new UsageError(`the job's constraint cannot be given to Slurm: ${problem} (${combined.slice(0, 80)}...)`);
  const wrap = run.map(shellQuote).join(' ');
  return { constraint: combined, nodes: fitting.map((n) => n.name), sbatch: [...rest, `--constraint=${combined}`, `--wrap=${wrap}`], notes: c.notes };
}

/** Submit with the real `sbatch`: its output (e.g. "Submitted batch job 42"). */
export async function submit(plan: SubmitPlan, run: SlurmRunner = slurmRunner()): Promise<string> {
  return must(run, 'sbatch', plan.sbatch);
}
