/**
 * The `runspec` command group: `runspec check FILE` now; `commit`, `clone`, `push` and `pull` are
 * added to the same group (see {@link addRunspecCommands}). Commands parse and print; the format is
 * in src/runspec/.
 */
import type { Command } from 'commander';
import type { RunSpec } from '../runspec/types.js';
import { parseBool } from './access.js';
import { json, out, table } from './output.js';

const FORMAT = `
A run-spec is a Dockerfile-like text file that describes one containerized run:

  # escape=\\                      (optional parser directive, as in a Dockerfile)
  FROM NAME[:TAG]@sha256:HEX       the image, by digest; the first instruction, once
  ENV NAME=VALUE ...               set variables (also ENV NAME VALUE)
  UNSETENV NAME ...                remove variables
  BIND SRC[:DST][:ro|:rw] ...      bind-mount absolute host paths (DST defaults to SRC)
  WORKDIR /PATH                    the working directory (at most one)
  RUN ["PROGRAM", "ARG", ...]      a command, exec form (a JSON array of strings)
  RUN COMMAND LINE                 a command, shell form: /bin/sh -c "COMMAND LINE"

One or more RUN, run in order. Comments, line continuations and blank lines are as in a
Dockerfile. Anything else is an error naming FILE:LINE:COLUMN (README "Run-specs").
`;

/** Add the `runspec` command group to the program. */
export function addRunspecCommands(cmd: Command): void {
  const rs = cmd
    .command('runspec')
    .description('run-specs: Dockerfile-like files that describe one containerized run (image by digest, environment, binds, commands)')
    .addHelpText('after', FORMAT);

  rs.command('check')
    .description('validate a run-spec and print what it runs; exit 0 when valid, 2 (with FILE:LINE:COL on stderr) when not')
    .argument('<file>', 'run-spec file')
    .option('--json', 'print the parsed run-spec as JSON (schemas/runspec-1.0.schema.json)')
    .addHelpText(
      'after',
      `${FORMAT}
Examples:
  containerspec runspec check examples/runspec/lammps.runspec
  containerspec runspec check job.runspec --json > job.runspec.json
  containerspec runspec check job.runspec && sbatch job.sh
`,
    )
    .action(async (file: string, o: { json?: boolean }) => {
      const { readRunSpec } = await import('../runspec/parse.js');
      const spec = await readRunSpec(file);
      out(o.json ? json(spec) : formatRunSpec(spec));
    });
  addConsumerCommands(rs);
}

/** Options every Consumer command takes. */
interface ConsumerFlags {
  store?: string;
  storage?: string;
  pull?: boolean;
  tlsVerify?: boolean;
  caFile?: string;
  json?: boolean;
  quiet?: boolean;
}


/** The store, Charliecloud and pull flags of commit, clone and pull. */
function consumerOptions(c: Command, withPull = true): Command {
  c.option('--store <path|url>', 'provenance store: a SQLite file or postgres://USER@HOST/DB (default $CONTAINERSPEC_STORE, else $XDG_DATA_HOME/containerspec/provenance.db)')
    .option('--storage <dir>', 'Charliecloud storage (default $CH_IMAGE_STORAGE, else /var/tmp/$USER.ch)');
  if (withPull) {
    c.option('--pull', 'pull the image by digest (ch-image pull NAME@sha256:...) when it is not in storage')
      .option('--tls-verify <bool>', 'for --pull: verify the registry certificate (--tls-verify=false for a lab registry)', parseBool)
      .option('--ca-file <file>', 'for --pull: PEM CA certificates to trust for the registry');
  }
  return c.option('--json', 'print what was recorded as JSON (schemas/runspec-record-1.0.schema.json)');
}

/** What a Consumer command prints. */
function printRecorded(r: import('../runspec/consumer.js').Recorded, o: ConsumerFlags): void {
  if (o.json) return out(json({ schemaVersion: '1.0', ...r }));
  out(
    `recorded ${r.runspecPath} at commit ${r.commit}${r.committed ? ' (new commit)' : ''}\n` +
      `  image ${r.image.reference} (${r.image.acquired === 'pulled' ? 'pulled into' : 'verified in'} Charliecloud storage)\n` +
      `  store ${r.store}: Consumer row ${r.consumerId}, SystemKernel row ${r.systemKernelId}\n`,
  );
}

function access(o: ConsumerFlags): import('../runspec/consumer.js').ConsumerOptions {
  return {
    store: o.store,
    storage: o.storage,
    pull: o.pull,
    tlsNoVerify: o.tlsVerify === false ? true : undefined,
    caBundle: o.caFile,
    onProgress: o.quiet || o.json ? undefined : (l: string) => process.stderr.write(`${l}\n`),
  };
}

/** commit, clone, push and pull: the Consumer and the artifact handler. */
function addConsumerCommands(rs: Command): void {
  consumerOptions(
    rs.command('commit')
      .description('commit a run-spec into a git repository and record it in the provenance store with its image and this host')
      .argument('<file>', 'run-spec file')
      .option('--repo <dir>', "git repository to commit into (default: the file's directory; created when it is none)")
      .option('-m, --message <msg>', 'commit message (default "runspec: FILE")'),
  )
    .addHelpText('after', `
The image of line 1 must be in Charliecloud storage, verified by digest (its cached manifest, layers
and unpacked tree), or pulled with --pull; which of the two happened is recorded. The repository is
stored as a tar of the directory holding .git (remote URLs and reflogs left out), with the commit,
the image, the host name, Charliecloud's version and a SystemKernel row (uid, groups, kernel info
and containerspec's host facts), in one transaction.

Examples:
  containerspec runspec commit lammps.runspec -m "LJ melt, 4 ranks"
  containerspec runspec commit job.runspec --repo ~/runs --pull --store postgres://cs@db.lab/prov
`)
    .action(async (file: string, o: ConsumerFlags & { repo?: string; message?: string }) => {
      const { commitRunSpec } = await import('../runspec/consumer.js');
      printRecorded(await commitRunSpec(file, { ...access(o), repo: o.repo, message: o.message }), o);
    });
  consumerOptions(
    rs.command('clone')
      .description('start from a git remote: clone it, check out a ref and record its run-spec')
      .argument('<url>', 'git remote (the URL is used, never stored; a URL holding a password is refused)')
      .option('--ref <ref>', 'branch, tag or commit to check out (default: the remote HEAD)')
      .option('--dir <dir>', "where to clone (default: the repository's name)")
      .option('--file <path>', 'the run-spec inside the repository (default: the one *.runspec at its top)'),
  )
    .addHelpText('after', `
Examples:
  containerspec runspec clone https://git.lab/runs/lammps.git --ref v2
  containerspec runspec clone /srv/git/runs.git --dir runs --file jobs/lj.runspec --pull
`)
    .action(async (url: string, o: ConsumerFlags & { ref?: string; dir?: string; file?: string }) => {
      const { cloneRunSpec } = await import('../runspec/consumer.js');
      printRecorded(await cloneRunSpec(url, { ...access(o), ref: o.ref, dir: o.dir, file: o.file }), o);
    });
  consumerOptions(
    rs.command('pull')
      .description("bring a remote's run-spec repository into the store (its HEAD, or --commit), recorded as a new row")
      .requiredOption('--remote <url>', 'git remote (used, never stored; a URL holding a password is refused)')
      .option('--commit <hash>', 'commit (or branch, tag) to record (default: the remote HEAD)')
      .option('--file <path>', 'the run-spec inside the repository (default: the one *.runspec at its top)'),
  )
    .addHelpText('after', `
Examples:
  containerspec runspec pull --remote git@git.lab:runs/lammps.git
  containerspec runspec pull --remote /srv/git/runs.git --commit 3f2a9c1 --store runs.db
`)
    .action(async (o: ConsumerFlags & { remote: string; commit?: string; file?: string }) => {
      const { pullRunSpec } = await import('../runspec/consumer.js');
      printRecorded(await pullRunSpec(o.remote, { ...access(o), commit: o.commit, file: o.file }), o);
    });
  rs.command('push')
    .description("push a stored run-spec repository (the newest, or --commit's) to a git remote: its branches and tags")
    .requiredOption('--remote <url>', 'git remote (used, never stored; a URL holding a password is refused)')
    .option('--commit <hash>', 'the stored commit whose repository to push (default: the newest recorded)')
    .option('--store <path|url>', 'provenance store (default $CONTAINERSPEC_STORE, else the SQLite default)')
    .option('--json', 'print what was pushed as JSON')
    .addHelpText('after', `
Examples:
  containerspec runspec push --remote git@git.lab:runs/lammps.git
  containerspec runspec push --remote /srv/git/runs.git --commit 3f2a9c1
`)
    .action(async (o: { remote: string; commit?: string; store?: string; json?: boolean }) => {
      const { pushRunSpec } = await import('../runspec/consumer.js');
      const r = await pushRunSpec(o.remote, { store: o.store, commit: o.commit });
      out(o.json ? json(r) : `pushed ${r.branches.join(', ')} (commit ${r.commit}) to ${r.remote}\n`);
    });
}

/** One run-spec as a short table in file order: line, instruction, what it says. */
function formatRunSpec(spec: RunSpec): string {
  const rows: [number, string, string][] = [];
  const f = spec.from;
  rows.push([f.line, 'FROM', `${f.name}${f.tag === null ? '' : `:${f.tag}`}@${f.digest}`]);
  for (const e of spec.env) rows.push([e.line, 'ENV', `${e.name}=${JSON.stringify(e.value)}`]);
  for (const u of spec.unsetenv) rows.push([u.line, 'UNSETENV', u.name]);
  for (const b of spec.binds) rows.push([b.line, 'BIND', `${b.source} -> ${b.target} (${b.readOnly ? 'read-only' : 'read-write'})`]);
  if (spec.workdir) rows.push([spec.workdir.line, 'WORKDIR', spec.workdir.path]);
  for (const r of spec.run) rows.push([r.line, 'RUN', r.form === 'shell' ? `${r.argv[2] ?? ''}  (shell: /bin/sh -c)` : JSON.stringify(r.argv)]);
  rows.sort((a, b) => a[0] - b[0]);
  const n = spec.run.length;
  return (
    `${spec.file}: a valid run-spec: ${n} command${n === 1 ? '' : 's'} in ${f.name}@${f.digest}\n` +
    table([['line', 'instruction', 'value'], ...rows.map(([l, i, v]) => [String(l), i, v])], '  ')
  );
}
