import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { reportError } from './errors.js';
import { json, out } from './output.js';
import { LIMITS, applyLimitOptions } from '../limits.js';
import { PACKAGE_VERSION } from '../util/package-version.js';
import { accessOf, addAccessOptions, type AccessFlags } from './access.js';

/** The sample image shipped in the clone, by its full path, so the help's examples work from any directory. */
const SAMPLE = fileURLToPath(new URL('../../fixtures/sample', import.meta.url));

const INSPECT_EXAMPLES = `
Image references (skopeo-style):
  oci:PATH[:TAG]            an OCI image layout directory
  oci-archive:FILE[:TAG]    a tar of an OCI layout
  docker-archive:FILE[:TAG] a "docker save" tar (classic or Docker 25+)
  dir:PATH                  an unpacked root filesystem (e.g. a Charliecloud image directory)
  tar:FILE                  a flat root filesystem tarball (ch-convert -o tar)
  ch-image:NAME[@sha256:D]  an image in Charliecloud storage ($CH_IMAGE_STORAGE or /var/tmp/$USER.ch)
  docker://HOST/NAME[:TAG|@DIGEST]
                            a registry image; a reference with no transport means docker://
                            (ubuntu is docker.io/library/ubuntu:latest)

Registry credentials are looked up as podman and docker do: --creds / --creds-file, then
$REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json,
~/.docker/config.json (with credsStore / credHelpers). Layers stream from the registry and are
verified; nothing is written to disk but the facts cache (--no-cache: none).

Examples:
  containerspec inspect oci:${SAMPLE}
  containerspec inspect ghcr.io/lab/lammps:2024 --platform all --json
  containerspec inspect registry.lab:5000/app:1 --ca-file lab-ca.pem --creds-file ~/.lab-creds
  containerspec inspect oci:./myimage:v2 --platform linux/arm64/v8 --json
  containerspec inspect docker-archive:saved.tar
  containerspec inspect dir:/var/tmp/$USER.ch/img/lammps --identity
`;

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** The root command, without its commands. */
function root(prog: string): Command {
  return new Command(prog)
    .description('Can this container image run on this host, and how well? Static facts, no image is run.')
    .version(PACKAGE_VERSION, '-V, --version')
    .enablePositionalOptions() // sbatch passes what follows its IMAGE to sbatch
    .exitOverride()
    // Errors are printed once, as one line, by main(); help goes to stdout (a closed pipe is not an error).
    .configureOutput({ writeOut: (s) => out(s), outputError: () => {} });
}

function addInspectCommand(cmd: Command): void {
  const inspectCmd = cmd
    .command('inspect')
    .description('image facts and derived requirements')
    .argument('<image>', 'image reference (see below)')
    .option('--json', 'print JSON (schemas/facts-2.1.schema.json; with --platform all, a list of them)')
    .option('--platform <os/arch[/variant]|all>', "platform to pick from a multi-platform index (default: this host's; all: every platform)")
    .addOption(new Option('--parallel <n>', 'layers read at once (default: up to 4)').argParser((v) => parsePositive(v, '--parallel')))
    .option('--identity', "also print the image's content identity (manifest digest; for dir: and tar:, a digest of every file, which reads them all)");
  addAccessOptions(inspectCmd)
    .addHelpText('after', INSPECT_EXAMPLES)
    .action(async (image: string, o: AccessFlags & { json?: boolean; platform?: string; parallel?: number; identity?: boolean }) => {
      const { inspect, inspectAll } = await import('../inspect.js');
      const { access, progress: p } = await accessOf(o);
      const opts = { ...access, parallel: o.parallel, identity: o.identity };
      let all: import('../model/facts.js').ImageFacts[];
      try {
        all = o.platform === 'all' ? await inspectAll(image, opts) : [await inspect(image, { ...opts, platform: o.platform })];
      } finally {
        p.end();
      }
      if (o.json) out(json(o.platform === 'all' ? all : all[0]));
      else {
        const { formatFacts } = await import('./format-facts.js');
        out(all.map((f) => formatFacts(f)).join('\n'));
      }
    });
}

function addHostCommand(cmd: Command): void {
  cmd
    .command('host')
    .description("this host's facts (or a mounted / copied host's): CPU target, kernel, libc, MPI, GPU, emulators")
    .option('--json', 'print JSON (schemas/facts-2.1.schema.json); what check --host and match --hosts read')
    .option('--root <dir>', 'root filesystem to read libraries and os-release from', '/')
    .option('--proc <dir>', 'read cpuinfo, kernel and driver files from DIR instead of /proc (as NFD does with /host-proc)')
    .option('--sys <dir>', 'read PCI devices and modules from DIR instead of /sys')
    .option('--slow', 'also ask systeminformation (memory, virtualization; spawns processes)')
    .option('--archspec <file>', 'microarchitectures.json to use (default: the vendored copy, or $CONTAINERSPEC_ARCHSPEC)')
    .option('--cache-dir <dir>', 'where the library scan is kept between runs (default $XDG_CACHE_HOME/containerspec; used only while every directory and file it read is unchanged)')
    .option('--no-cache', 'scan the libraries again, keep nothing')
    .option('--kernel-config', "keep the kernel's whole build configuration in the facts (default: the options containers depend on)")
    .option('--nfd <file>', 'also write the facts as a Node Feature Discovery local feature file (features.d), replaced atomically')
    .option('--slurm-features', "print the host's Slurm node features (comma-separated, for slurm.conf Features=; with --json, schemas/slurm-1.0.schema.json)")
    .option('--prefix <prefix>', 'prefix of every Slurm feature (default cs_)')
    .addHelpText('after', `
Examples:
  containerspec host
  containerspec host --json > node01.json        # for check --host / match --hosts / slurm sync --hosts
  containerspec host --proc /mnt/node/proc --sys /mnt/node/sys --root /mnt/node --json
  containerspec host --nfd /etc/kubernetes/node-feature-discovery/features.d/containerspec
  containerspec host --slurm-features            # cs_arch_amd64,cs_zen3,cs_zen2,...,cs_kernel5_15,...
`)
    .action(async (o: { json?: boolean; root: string; proc?: string; sys?: string; slow?: boolean; archspec?: string; nfd?: string; slurmFeatures?: boolean; prefix?: string; cacheDir?: string; cache?: boolean; kernelConfig?: boolean }) => {
      const { hostFacts } = await import('../host/facts.js');
      await assertDirs([o.root, o.proc, o.sys], ['--root', '--proc', '--sys']);
      if (o.prefix !== undefined && !o.slurmFeatures) throw new (await import('../errors/index.js')).UsageError('--prefix goes with --slurm-features');
      const facts = await hostFacts({ root: o.root, proc: o.proc, sys: o.sys, slow: o.slow, archspec: o.archspec, cache: o.cache === false ? false : o.cacheDir,
        // Slurm features need no kernel config: not read.
        kernelConfig: o.kernelConfig ? 'full' : o.slurmFeatures ? 'none' : 'selected' });
      if (o.slurmFeatures) {
        const { slurmFeatures, DEFAULT_SLURM_PREFIX } = await import('../sched/slurm.js');
        const archspec = o.archspec ? (await import('../arch/index.js')).loadArchspec(o.archspec) : undefined;
        const features = slurmFeatures(facts, { ...(o.prefix !== undefined ? { prefix: o.prefix } : {}), ...(archspec ? { archspec } : {}) });
        return out(o.json ? json({ schemaVersion: '1.0', kind: 'features', host: facts.name, prefix: o.prefix ?? DEFAULT_SLURM_PREFIX, features }) : `${features.join(',')}\n`);
      }
      if (o.nfd !== undefined) {
        const { writeNfdFeatures } = await import('../sched/nfd-features.js');
        await writeNfdFeatures(facts, o.nfd, o.archspec ? { archspec: (await import('../arch/index.js')).loadArchspec(o.archspec) } : {});
        if (!o.json) return out(`wrote this host's NFD local features to ${o.nfd}\n`);
      }
      if (o.json) out(json(facts));
      else {
        const { formatFacts } = await import('./format-facts.js');
        out(formatFacts(facts));
      }
    });
}

async function addCheckCommand(cmd: Command, prog: string): Promise<void> {
  const { SET_KEYS, parseSets } = await import('../check/overrides.js');
  const checkCmd = cmd
    .command('check')
    .alias('can-i-run') // `containerspec can-i-run IMAGE`, as the can-i-run program
    .description('can IMAGE run on this host (or a host facts file), and how well? exit 0 compatible, 1 incompatible, 2 error, 3 cannot tell')
    .argument('<image>', 'image reference (as for inspect)')
    .option('--host <file>', 'host facts JSON from "containerspec host --json" (default: this host)')
    .option('--set <key=value>', 'override a host fact for a what-if check (repeatable)', collect, [])
    .option('--bind <src[:dst]>', 'a host library, or a directory of them, to bind-mount into the image (at DST): is each usable there? (repeatable)', collect, [])
    .option('--history <file>', 'host facts JSON of an earlier successful run, for provenance drift (repeatable)', collect, [])
    .option('--store <path|url>', 'with --commit: the provenance store whose recorded runs give the history')
    .option('--commit <hash>', "provenance drift against the successful replays of this recorded commit (the store's Producer rows)")
    .option('--platform <os/arch[/variant]>', "platform to pick from a multi-platform index (default: the host's)")
    .option('--json', 'print the report as JSON (schemas/report-2.1.schema.json; with --slurm-constraint, schemas/slurm-1.0.schema.json)')
    .option('--slurm-constraint', 'print the Slurm --constraint that selects the nodes this image passes on (see host --slurm-features) instead of a report')
    .option('--nodes <files...>', "with --slurm-constraint: the nodes' host facts files; name only features some of them have (Slurm refuses others)")
    .option('--cluster', "with --slurm-constraint: ask the running Slurm cluster (scontrol) which features its nodes have")
    .option('--prefix <prefix>', 'with --slurm-constraint: prefix of the Slurm features (default cs_)');
  // can-i-run is `check` under its own name: its help says `can-i-run [options] <image>`.
  if (prog === 'can-i-run') checkCmd.configureHelp({ commandUsage: (c) => `can-i-run ${c.usage()}` });
  addAccessOptions(checkCmd, { attached: true })
    .addHelpText('after', `
--set keys:
${Object.entries(SET_KEYS).map(([k, v]) => `  ${k.padEnd(12)} ${v}`).join('\n')}

Examples:
  can-i-run oci:${SAMPLE}   # the sample shipped with containerspec, on this host
  can-i-run oci:./lammps                                   # before sbatch, on the login node
  can-i-run oci:./lammps --host gpu-node.json --json       # for a scheduler
  can-i-run oci:./cuda-app --set cuda.driver=535.54.03     # what if the driver were 535?
  can-i-run oci:./mpi-app --set mpi=openmpi@4.1.4 --bind /usr/lib64/libfabric.so.1
  can-i-run oci:./mpi-app --bind /opt/site/mpi/lib:/usr/lib/site   # every library in the directory
  can-i-run ghcr.io/lab/lammps:2024                       # uses facts attached with "containerspec attach"
  sbatch --constraint="$(can-i-run oci:./app --slurm-constraint --cluster)" job.sh
`)
    .action(async (image: string, o: AccessFlags & { host?: string; set: string[]; bind: string[]; history: string[]; store?: string; commit?: string; platform?: string; json?: boolean; slurmConstraint?: boolean; nodes?: string[]; cluster?: boolean; prefix?: string }) => {
      if (o.slurmConstraint) return (await import('./slurm-commands.js')).printSlurmConstraint(image, o);
      const { UsageError } = await import('../errors/index.js');
      if (o.nodes || o.cluster || o.prefix !== undefined) throw new UsageError('--nodes, --cluster and --prefix go with --slurm-constraint');
      const set = parseSets(o.set);
      if (o.store !== undefined && o.commit === undefined) throw new UsageError('--store goes with --commit');
      const { checkImage } = await import('../orchestrate.js');
      const history: import('../orchestrate.js').HostInput[] = [...o.history];
      let charliecloud: string | null | undefined;
      if (o.commit !== undefined) {
        const { runHistory } = await import('../runspec/producer.js');
        history.push(...(await runHistory(o.commit, { store: o.store })).history);
        // The Charliecloud version is compared only for this host (a --host file does not say which it has).
        if (o.host === undefined) charliecloud = await (await import('../charliecloud/pull.js')).charliecloudVersion();
      }
      const { access, progress: p } = await accessOf(o);
      const report = await checkImage(image, { ...access, host: o.host, hostCache: o.cache === false ? false : o.cacheDir, set, bind: o.bind, history, ...(charliecloud !== undefined ? { charliecloud } : {}), ...(o.platform ? { platform: o.platform } : {}) }).finally(() => p.end());
      if (o.json) out(json(report));
      else {
        const { formatReport, terminalStyle } = await import('./format-report.js');
        out(formatReport(report, terminalStyle(process.stdout)));
      }
      process.exitCode = report.verdict === 'compatible' ? 0 : report.verdict === 'incompatible' ? 1 : 3;
    });
}

async function addMatchCommand(cmd: Command): Promise<void> {
  const { parseSets } = await import('../check/overrides.js');
  const matchCmd = cmd
    .command('match')
    .description('the compatibility matrix of images on hosts, with the best host for each image and the best image for each host')
    .requiredOption('--hosts <files...>', 'host facts JSON files (containerspec host --json)')
    .requiredOption('--images <refs...>', 'image references, or image facts JSON files (containerspec inspect --json)')
    .option('--set <key=value>', 'override a fact of every host for a what-if at scale (repeatable; keys as for check)', collect, [])
    .option('--json', 'print JSON (schemas/match.schema.json)');
  addAccessOptions(matchCmd, { attached: true })
    .addHelpText('after', `
Examples:
  containerspec match --hosts nodes/*.json --images oci:./app-v1 oci:./app-v2
  containerspec match --hosts a.json b.json --images app.facts.json --json
  containerspec match --hosts nodes/*.json --images registry.lab/app:1 registry.lab/app:2
  containerspec match --hosts nodes/*.json --images oci:./cuda-app --set cuda.version=12.4   # what if every driver were CUDA 12.4?
`)
    .action(async (o: AccessFlags & { hosts: string[]; images: string[]; set: string[]; json?: boolean }) => {
      const { match } = await import('../orchestrate.js');
      const { matchToJson } = await import('../check/match.js');
      const set = parseSets(o.set);
      const { access, progress: p } = await accessOf(o);
      const m = await match(o.hosts, o.images, { ...access, ...(Object.keys(set).length ? { set } : {}) }).finally(() => p.end());
      if (o.json) out(json(matchToJson(m)));
      else out((await import('./format-report.js')).formatMatch(m));
    });
}

/**
 * The top-level commands, in the order the help lists them, each with the function that adds it
 * (and its subcommands). A command line builds only the command it names (the others' modules are
 * not loaded, their options not built); anything else (`--help`, `help`, a misspelt command) builds
 * them all.
 */
const COMMANDS: readonly { names: readonly string[]; add: (cmd: Command, prog: string) => void | Promise<void> }[] = [
  { names: ['inspect'], add: addInspectCommand },
  { names: ['host'], add: addHostCommand },
  { names: ['check', 'can-i-run'], add: addCheckCommand },
  { names: ['match'], add: addMatchCommand },
  { names: ['attach', 'discover', 'cache'], add: async (cmd) => (await import('./registry-commands.js')).addRegistryCommands(cmd) },
  { names: ['dockerfile'], add: async (cmd) => (await import('./dockerfile-commands.js')).addDockerfileCommands(cmd) },
  { names: ['slurm'], add: async (cmd) => (await import('./slurm-commands.js')).addSlurmCommands(cmd) },
  { names: ['runspec'], add: async (cmd) => (await import('./runspec-commands.js')).addRunspecCommands(cmd) },
  {
    names: ['store'],
    add: async (cmd) => {
      (await import('./store-commands.js')).addStoreCommands(cmd);
      (await import('./replay-commands.js')).addQueryCommands(cmd.commands.find((c) => c.name() === 'store')!);
    },
  },
  { names: ['replay'], add: async (cmd) => (await import('./replay-commands.js')).addReplayCommand(cmd) },
];

/** Build the command-line program: every command, or only the one `argv` names. */
export async function program(prog: string, argv: readonly string[] = []): Promise<Command> {
  const cmd = root(prog);
  const named = COMMANDS.find((c) => c.names.includes(argv[0] ?? ''));
  for (const c of named ? [named] : COMMANDS) await c.add(cmd, prog);
  // Every command reads untrusted input within the limits (src/limits.ts); --limit raises one for this run.
  // Added to every command that runs (the leaves: `runspec commit`, not `runspec`), where the hook reads them.
  const leaves = (c: Command): Command[] => (c.commands.length ? c.commands.flatMap(leaves) : [c]);
  for (const sub of cmd.commands.flatMap(leaves)) {
    // --quiet is taken everywhere, so scripts can pass it to any command (these have no progress to hide).
    if (!sub.options.some((o) => o.long === '--quiet')) sub.option('-q, --quiet', 'no progress on stderr (this command shows none)');
    if (!sub.options.some((o) => o.long === '--limit')) sub.option('--limit <name=n>', `raise a limit on what is read, e.g. --limit layers=1024 (${LIMITS.map((l) => l.key).join(', ')}; see the README)`, collect, []);
  }
  cmd.hook('preAction', (_root, action) => applyLimitOptions((action.opts() as { limit?: string[] }).limit ?? []));
  return cmd;
}

/** A directory flag that names no directory is a usage error, not an empty host. */
async function assertDirs(dirs: (string | undefined)[], flags: string[]): Promise<void> {
  const { stat } = await import('node:fs/promises');
  const { UsageError } = await import('../errors/index.js');
  for (const [i, d] of dirs.entries()) {
    if (d === undefined) continue;
    const st = await stat(d).catch(() => null);
    if (!st?.isDirectory()) throw new UsageError(`${flags[i]} ${d}: no such directory`);
  }
}

function parsePositive(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    throw new CommanderError(2, 'containerspec.badNumber', `${flag} takes a whole number >= 1, not ${JSON.stringify(v)}`);
  }
  return n;
}

/** Whether the command line asks for JSON (`--json` before any `--`, past which arguments are another program's). */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

/** Run the CLI; sets process.exitCode. */
export async function main(argv: string[], prog = 'containerspec'): Promise<void> {
  try {
    const cmd = await program(prog, argv);
    if (argv.length === 0) {
      // Like git: no command is a usage error; the help goes to stderr, stdout stays empty for scripts.
      process.stderr.write(cmd.helpInformation());
      process.exitCode = 2;
      return;
    }
    await cmd.parseAsync(argv, { from: 'user' });
  } catch (e) {
    process.exitCode = reportError(e, prog, { json: wantsJson(argv) });
  }
}
