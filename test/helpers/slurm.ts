/**
 * A real Slurm cluster for tests: Debian 12's Slurm 22.05 (`slurmctld`, one `slurmd -N NAME` per node,
 * all on this host) authenticated by a private `munged`, everything (key, socket, slurm.conf, state,
 * spool, logs, pid files) in one temp dir, on free ports. Clients (`sbatch`, `scontrol`, `sinfo`) find
 * it through `SLURM_CONF` in `env`.
 *
 * What this Slurm does with features, found by experiment on it (22.05.8, Debian 12):
 * - `--constraint` takes `&` (and `,`, stored as `&`), `|`, `name*N` counts, `[a|b]` and `[a*1&b*1]`,
 *   and ONE level of parentheses: `a&(b|c)`, `(a|b)&(c|d)`, `(a&b)|(c&d)` are accepted; nested
 *   parentheses (`a&(b|(c&d))`, even `((a))`), `!a`, `a&&b`, spaces, `&a`, `(a`, `a)`, `()` are
 *   refused at submit with "Invalid feature specification". There is no NOT operator.
 * - Every feature named anywhere in the expression must be some node's feature, or the whole sbatch is
 *   refused with "Invalid feature specification" (slurmctld logs "JobId=N has invalid feature list: a|zz"),
 *   even when another OR term is satisfiable. Names are case-sensitive. An expression of known features
 *   that no node satisfies with its ACTIVE features (`a&c` with a and c on different nodes, or a feature
 *   only available) is refused with "Requested node configuration is not available", unless submitted
 *   --hold: then it is accepted and, released, pends for ever with Reason=BadConstraints. A trailing
 *   operator is ignored (`a&`, `a|`, `a,` run as `a`); `,` is stored as `&`.
 * - The constraint string may be at most 1024 characters (more: "Pathname of a file, directory or
 *   other parameter too long"; slurmctld logs "strlen(features) too big (1049 > 1024)"). A node's
 *   feature list has no such limit: 200 features of 20 characters (4,199 characters), in slurm.conf or
 *   set with scontrol update, are all kept and usable.
 * - Feature names with `_`, `.`, `-` and digits work (`x_y`, `x.y`, `x-y`, `x1`, `X9`).
 * - `scontrol update NodeName=N AvailableFeatures=a,b ActiveFeatures=a,b` works whether or not the node's
 *   slurm.conf line has Features=; ActiveFeatures must be a subset of AvailableFeatures ("slurm_update
 *   error: Active features not subset of available features", and updating only one of the two is refused
 *   the same way when the result would not be a subset). `Features=` is AvailableFeatures. Both
 *   `scontrol reconfigure` and a slurmctld restart put slurm.conf's features back (none, if it has none).
 * - `cli_filter/lua` is in this build: `CliFilterPlugins=cli_filter/lua` and a `cli_filter.lua` next to
 *   slurm.conf are run by sbatch itself (not slurmctld); see `cliFilterLua` below.
 * - Jobs run as their submitter (root here); `-o FILE` is written where it says, a relative `-o` is taken
 *   from `--chdir` (default: sbatch's cwd). `%N` in `-o` is this machine's host name, not the node name:
 *   use `$SLURMD_NODENAME` in the job. An `-o` in a missing directory fails the job (FAILED,
 *   Reason=JobLaunchFailure); a missing `--chdir` runs the job in /tmp with an error in its output.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, hasCommand, type ToolResult } from './registry.js';

/** One node of the cluster. */
export interface SlurmNodeSpec {
  /** NodeName (also what `$SLURMD_NODENAME` says inside a job). */
  name: string;
  /** Its slurm.conf `Features=` (may be empty). */
  features: string[];
}

/** How to start a cluster. */
export interface SlurmClusterOptions {
  nodes: SlurmNodeSpec[];
  /** CPUs per node (default 1). May exceed this machine's cores: `SlurmdParameters=config_overrides`. */
  cpus?: number;
  /**
   * A cli_filter.lua to write next to slurm.conf, turning on `CliFilterPlugins=cli_filter/lua`. sbatch
   * (salloc, srun) runs it on every submission: `slurm_cli_setup_defaults(options, early_pass)`,
   * `slurm_cli_pre_submit(options, pack_offset)`, `slurm_cli_post_submit(offset, job_id, step_id)`, each
   * returning `slurm.SUCCESS`. `options.comment` reads `--comment`, `options.constraint = "a|b"` sets the
   * constraint (validated by slurmctld as if typed); `slurm.ERROR` from pre_submit refuses the job
   * ("cli_filter plugin terminated with error"); `slurm.log_info/log_error` print "sbatch: lua: ..." to
   * sbatch's stderr. Without the file sbatch fails: "cli_filter/lua: Unable to stat .../cli_filter.lua".
   */
  cliFilterLua?: string;
  /** More slurm.conf lines. */
  extraConf?: string[];
  /** How long the nodes may take to become idle (default 30 s). */
  startTimeoutMs?: number;
}

/** A feature list of one node as slurmctld holds it. */
export interface NodeFeatures {
  available: string[];
  active: string[];
}

/** How a job ended. */
export interface JobEnd {
  jobId: string;
  /** JobState: COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL, ... */
  state: string;
  /** NodeList, as Slurm writes it (`n1`, `n[1-2]`). */
  nodeList: string;
  /** The exit code of the batch script (ExitCode=CODE:SIGNAL). */
  exitCode: number;
  /** The signal that ended it, 0 if none. */
  signal: number;
  /** Reason (None, JobLaunchFailure, ...). */
  reason: string;
  /** Every field of `scontrol show job ID -o`. */
  fields: Record<string, string>;
}

/** A running cluster. */
export interface SlurmCluster {
  /** slurm.conf. */
  conf: string;
  /** The temp dir that holds everything (removed by stop()). */
  dir: string;
  /** This process's env with SLURM_CONF, and no SLURM_/SBATCH_/SALLOC_/SRUN_ variables from outside. */
  env: NodeJS.ProcessEnv;
  nodes: SlurmNodeSpec[];
  /** Run a tool (sbatch, scontrol, ...) against this cluster with `env`, in `dir` unless `cwd` says; never rejects. */
  run(cmd: string, args: string[], opts?: { cwd?: string; input?: string; timeoutMs?: number }): Promise<ToolResult>;
  /** `sbatch --parsable ARGS`: the job id when it was accepted, and what sbatch said. */
  sbatch(args: string[], opts?: { cwd?: string }): Promise<ToolResult & { jobId: string | null }>;
  /** `scontrol show node NAME -o`, AvailableFeatures and ActiveFeatures (`(null)` is none). */
  nodeFeatures(name: string): Promise<NodeFeatures>;
  /** Wait until a job has ended; throws after `timeoutMs` (default 30 s) or when slurmctld does not know it. */
  waitJob(jobId: string, timeoutMs?: number): Promise<JobEnd>;
  /** The last lines of every daemon's log, for failure messages. */
  logTails(lines?: number): string;
  /** Cancel every job, stop every daemon (SIGTERM, then SIGKILL), kill what they left, remove `dir`. */
  stop(): Promise<void>;
}

const DAEMONS = ['mungekey', 'munged', 'slurmctld', 'slurmd'];
const CLIENTS = ['sinfo', 'sbatch', 'scontrol', 'scancel'];
const DIR_PREFIX = 'cs-slurm-';
const ENDED = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE', 'OUT_OF_MEMORY', 'REVOKED', 'SPECIAL_EXIT']);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tail = (file: string, n: number): string => (existsSync(file) ? readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n') : '(no log)');

/**
 * Run a tool without blocking the event loop, like registry.ts's runTool (same result, never rejects),
 * but with stdin ignored unless `input` is given: runTool ends a piped stdin after spawning, and a tool
 * that has already exited by then (sinfo refusing while slurmctld starts) raises an unhandled EPIPE that
 * kills the test process.
 */
export function runSlurmTool(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr?.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    let settled = false;
    const done = (status: number | null, extra = '') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ status, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') + extra });
    };
    child.on('error', (e) => done(null, `${cmd}: ${e.message}`));
    child.on('close', (code) => done(code));
    if (child.stdin) {
      child.stdin.on('error', () => { /* the tool did not read its input; its status says the rest */ });
      child.stdin.end(opts.input);
    }
  });
}

/** Why a Slurm cluster cannot be started here, or null when it can. */
export function slurmMissing(): string | null {
  if (process.platform !== 'linux') return `Slurm test clusters need Linux (this is ${process.platform})`;
  const missing = [...DAEMONS, ...CLIENTS].filter((c) => !hasCommand(c) && !existsSync(`/usr/sbin/${c}`));
  if (missing.length) return `${missing.join(', ')} not installed (npm test installs slurmctld, slurmd, slurm-client and munge)`;
  if (process.getuid?.() !== 0) return 'Slurm test clusters run slurmd as root (SlurmdUser=root) and this is not root';
  return null;
}

/** Absolute path of a daemon: Debian keeps them in /usr/sbin, which a non-login PATH may lack. */
const bin = (c: string): string => (hasCommand(c) ? c : `/usr/sbin/${c}`);

/** `n` distinct ports that were free a moment ago: all bound to port 0 at once, then released. */
async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const srv = createServer();
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '0.0.0.0', () => resolve());
      });
      servers.push(srv);
    }
    return servers.map((s) => (s.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

/** Client env for a cluster: nothing from an enclosing Slurm job or the user's SBATCH_* defaults leaks in. */
function clusterEnv(conf: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(SLURM|SBATCH|SALLOC|SRUN|SQUEUE|SINFO|SCONTROL)_/.test(k)) env[k] = v;
  env.SLURM_CONF = conf;
  return env;
}

/** Parse one `scontrol show ... -o` line: `Key=value` pairs, a value running up to the next ` Key=`. */
export function parseScontrolLine(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of line.trim().split(/\s+(?=[A-Za-z][\w:/.]*=)/)) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq);
    if (!(key in out)) out[key] = part.slice(eq + 1).trim();
  }
  return out;
}

/** A feature list as scontrol prints it: `a,b`, `(null)` or empty for none. */
export const featureList = (v: string | undefined): string[] => (!v || v === '(null)' ? [] : v.split(','));

function slurmConf(dir: string, opts: SlurmClusterOptions, ctldPort: number, nodePorts: number[]): string {
  const cpus = opts.cpus ?? 1;
  const lines = [
    '# written by test/helpers/slurm.ts',
    'ClusterName=cstest',
    'SlurmctldHost=localhost',
    `SlurmctldPort=${ctldPort}`,
    'AuthType=auth/munge',
    'CredType=cred/munge',
    `AuthInfo=socket=${join(dir, 'munge', 'munge.socket')}`,
    'SlurmUser=root',
    'SlurmdUser=root',
    'ProctrackType=proctrack/linuxproc',
    'TaskPlugin=task/none',
    'SwitchType=switch/none',
    'MpiDefault=none',
    'SelectType=select/cons_tres',
    'SelectTypeParameters=CR_CPU',
    // Several nodes on a 2-core machine: the configured CPUs win over what slurmd finds.
    'SlurmdParameters=config_overrides',
    // The main scheduler stops at the first job in a partition that waits for resources; let backfill
    // start the ones behind it every second rather than every 30.
    'SchedulerType=sched/backfill',
    'SchedulerParameters=bf_interval=1',
    'AccountingStorageType=accounting_storage/none',
    'JobAcctGatherType=jobacct_gather/none',
    'JobCompType=jobcomp/none',
    'ReturnToService=2',
    // Ended jobs stay visible to `scontrol show job` for 10 minutes (default 300 s).
    'MinJobAge=600',
    'KillWait=2',
    'InactiveLimit=0',
    `StateSaveLocation=${join(dir, 'state')}`,
    `SlurmctldPidFile=${join(dir, 'slurmctld.pid')}`,
    `SlurmctldLogFile=${join(dir, 'slurmctld.log')}`,
    `SlurmdSpoolDir=${join(dir, 'spool', '%n')}`,
    `SlurmdPidFile=${join(dir, '%n.pid')}`,
    `SlurmdLogFile=${join(dir, '%n.log')}`,
    ...(opts.cliFilterLua !== undefined ? ['CliFilterPlugins=cli_filter/lua'] : []),
    ...(opts.extraConf ?? []),
    ...opts.nodes.map((n, i) =>
      `NodeName=${n.name} NodeHostname=localhost NodeAddr=localhost Port=${nodePorts[i]!} CPUs=${cpus}${n.features.length ? ` Features=${n.features.join(',')}` : ''}`),
    `PartitionName=all Nodes=${opts.nodes.map((n) => n.name).join(',')} Default=YES MaxTime=INFINITE State=UP`,
    '',
  ];
  return lines.join('\n');
}


/**
 * Pids of processes whose environment holds `SLURM_CONF=<a path under dir>`: the daemons started here
 * and what they started (slurmstepd, job scripts, which inherit it), never anything else.
 */
function processesOf(dir: string): number[] {
  const needle = Buffer.from(`SLURM_CONF=${dir}/`);
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`).includes(needle)) pids.push(pid);
    } catch {
      /* gone, or not ours to read */
    }
  }
  return pids;
}

function killAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** Kill a dir's processes (SIGTERM, SIGKILL after `graceMs`) and wait until none is left. */
async function killProcessesOf(dir: string, graceMs: number): Promise<void> {
  killAll(processesOf(dir), 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (processesOf(dir).length && Date.now() < deadline) await sleep(100);
  for (let i = 0; i < 20 && processesOf(dir).length; i++) {
    killAll(processesOf(dir), 'SIGKILL');
    await sleep(100);
  }
}

/** Clusters left by test processes that are gone (a worker killed before stop()): kill their daemons, remove them. */
function sweepStale(): void {
  for (const name of readdirSync(tmpdir())) {
    const pid = Number(new RegExp(`^${DIR_PREFIX}(\\d+)-`).exec(name)?.[1]);
    if (!pid || pid === process.pid || alive(pid)) continue;
    const dir = join(tmpdir(), name);
    killAll(processesOf(dir), 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

const liveDirs = new Set<string>();
process.on('exit', () => {
  for (const dir of liveDirs) {
    killAll(processesOf(dir), 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Spawn a daemon with its stdout and stderr in `logFile`. */
function spawnDaemon(cmd: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): ChildProcess {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(bin(cmd), args, { env, stdio: ['ignore', fd, fd] });
    child.on('error', () => { /* reported through exitCode / the log */ });
    return child;
  } finally {
    closeSync(fd);
  }
}

const exited = (c: ChildProcess): boolean => c.exitCode !== null || c.signalCode !== null;

/** One attempt at starting everything on fresh ports; throws with the logs' tails. */
async function startOnce(opts: SlurmClusterOptions): Promise<SlurmCluster> {
  const dir = mkdtempSync(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`));
  liveDirs.add(dir);
  // munged refuses a socket dir that others may write to, and slurmd's job steps run as the
  // submitter: the whole tree is 755.
  chmodSync(dir, 0o755);
  const mungeDir = join(dir, 'munge');
  for (const d of [mungeDir, join(dir, 'state'), join(dir, 'spool'), ...opts.nodes.map((n) => join(dir, 'spool', n.name))]) mkdirSync(d, { recursive: true, mode: 0o755 });
  const conf = join(dir, 'slurm.conf');
  const env = clusterEnv(conf);
  const logs = [join(dir, 'munged.out'), join(dir, 'slurmctld.log'), join(dir, 'slurmctld.out'), ...opts.nodes.flatMap((n) => [join(dir, `${n.name}.log`), join(dir, `${n.name}.out`)])];
  const logTails = (lines = 15) => logs.filter(existsSync).map((f) => `--- ${f}\n${tail(f, lines)}`).join('\n');
  const children: ChildProcess[] = [];

  const stop = async (): Promise<void> => {
    if (!liveDirs.has(dir)) return;
    if (children[1] && !exited(children[1])) await runSlurmTool('scancel', ['--full', '--user=root'], { env, timeoutMs: 5000 });
    // slurmd first (it may still be talking to slurmctld), munged last.
    for (const group of [children.slice(2), children.slice(1, 2), children.slice(0, 1)]) {
      killAll(group.filter((c) => !exited(c) && c.pid).map((c) => c.pid!), 'SIGTERM');
      const deadline = Date.now() + 3000;
      while (group.some((c) => !exited(c)) && Date.now() < deadline) await sleep(50);
    }
    await killProcessesOf(dir, 1000);
    liveDirs.delete(dir);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const key = join(mungeDir, 'munge.key');
    const mk = await runSlurmTool(bin('mungekey'), ['--create', `--keyfile=${key}`], { env, timeoutMs: 15_000 });
    if (mk.status !== 0) throw new Error(`mungekey --create failed: ${mk.stderr.trim()}`);
    const socket = join(mungeDir, 'munge.socket');
    // --foreground so that it stays our child; --force so that a permission check it can get past (a
    // temp dir on an odd mount, a stale socket) is a warning, not a refusal.
    children.push(spawnDaemon('munged', ['--foreground', '--force', `--key-file=${key}`, `--socket=${socket}`,
      `--pid-file=${join(mungeDir, 'munged.pid')}`, `--log-file=${join(dir, 'munged.log')}`, `--seed-file=${join(mungeDir, 'munged.seed')}`, '--num-threads=2'],
    env, join(dir, 'munged.out')));
    for (const deadline = Date.now() + 10_000; !existsSync(socket); await sleep(25)) {
      if (exited(children[0]!) || Date.now() > deadline) throw new Error(`munged did not create its socket:\n${logTails()}`);
    }
    if (opts.cliFilterLua !== undefined) writeFileSync(join(dir, 'cli_filter.lua'), opts.cliFilterLua);

    const ports = await freePorts(1 + opts.nodes.length);
    writeFileSync(conf, slurmConf(dir, opts, ports[0]!, ports.slice(1)));
    children.push(spawnDaemon('slurmctld', ['-D', '-f', conf], env, join(dir, 'slurmctld.out')));
    for (const n of opts.nodes) children.push(spawnDaemon('slurmd', ['-D', '-N', n.name, '-f', conf], env, join(dir, `${n.name}.out`)));

    const want = new Set(opts.nodes.map((n) => n.name));
    let last = '';
    for (const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000); ; await sleep(250)) {
      const dead = children.find(exited);
      if (dead) throw new Error(`${dead.spawnfile} exited (${dead.exitCode ?? dead.signalCode}) while the cluster started:\n${logTails()}`);
      const r = await runSlurmTool('sinfo', ['-h', '-N', '-o', '%N %T'], { env, timeoutMs: 10_000 });
      if (r.status === 0) {
        last = r.stdout.trim();
        const idle = new Set(last.split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f[1] === 'idle').map((f) => f[0]!));
        if ([...want].every((n) => idle.has(n))) break;
      } else last = r.stderr.trim();
      if (Date.now() > deadline) throw new Error(`Slurm nodes not idle within ${(opts.startTimeoutMs ?? 30_000) / 1000} s; sinfo says:\n${last}\n${logTails()}`);
    }
  } catch (e) {
    const tails = logTails(50);
    await stop();
    throw Object.assign(e instanceof Error ? e : new Error(String(e)), { logTails: tails });
  }

  const run: SlurmCluster['run'] = (cmd, args, o = {}) => runSlurmTool(cmd, args, { env, cwd: o.cwd ?? dir, timeoutMs: o.timeoutMs ?? 30_000, ...(o.input !== undefined ? { input: o.input } : {}) });
  return {
    conf, dir, env, nodes: opts.nodes, run, logTails, stop,
    sbatch: async (args, o = {}) => {
      const r = await run('sbatch', ['--parsable', ...args], o);
      const id = r.status === 0 ? /^(\d+)/.exec(r.stdout.trim())?.[1] ?? null : null;
      return { ...r, jobId: id };
    },
    nodeFeatures: async (name) => {
      const r = await run('scontrol', ['show', 'node', name, '-o']);
      if (r.status !== 0) throw new Error(`scontrol show node ${name}: ${r.stderr.trim()}`);
      const f = parseScontrolLine(r.stdout);
      return { available: featureList(f.AvailableFeatures), active: featureList(f.ActiveFeatures) };
    },
    waitJob: async (jobId, timeoutMs = 30_000) => {
      let last = '';
      for (const deadline = Date.now() + timeoutMs; ; await sleep(200)) {
        const r = await run('scontrol', ['show', 'job', jobId, '-o']);
        if (r.status !== 0) throw new Error(`scontrol show job ${jobId}: ${r.stderr.trim()} (ended jobs are kept for MinJobAge=600 s)`);
        last = r.stdout.trim();
        const f = parseScontrolLine(last);
        const state = f.JobState ?? '';
        if (ENDED.has(state)) {
          const [code, signal] = (f.ExitCode ?? '0:0').split(':').map(Number);
          return { jobId, state, nodeList: f.NodeList ?? '', exitCode: code ?? 0, signal: signal ?? 0, reason: f.Reason ?? '', fields: f };
        }
        if (Date.now() > deadline) throw new Error(`job ${jobId} still ${state} after ${timeoutMs / 1000} s:\n${last}\n${logTails(10)}`);
      }
    },
  };
}

/**
 * Start a Slurm cluster of `opts.nodes` on this host, resolved once every node is idle. `{ skip }`
 * when this machine cannot run one (a binary missing, not root); throws with the daemons' log tails
 * when it should have started and did not. Retries on fresh ports when one was taken in between.
 * Call stop() in afterAll.
 */
export async function startSlurmCluster(opts: SlurmClusterOptions): Promise<SlurmCluster | { skip: string }> {
  const why = slurmMissing();
  if (why) return { skip: why };
  if (!opts.nodes.length) throw new Error('a Slurm cluster needs at least one node');
  sweepStale();
  for (let attempt = 0; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (e) {
      const tails = (e as { logTails?: string }).logTails ?? '';
      if (attempt < 2 && /address already in use|Unable to bind listen port/i.test(tails)) continue;
      throw e;
    }
  }
}
