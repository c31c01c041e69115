/**
 * The Producer's commands: `replay COMMIT` (or `replay --affected ...`), and the queries
 * `store runs` and `store affected`. They parse and print; the work is in src/runspec/producer.ts
 * and src/runspec/affected.ts.
 */
import type { Command } from 'commander';
import type { RunRecord, RunsAnswer, RunsQuery } from '../runspec/affected.js';
import type { ReplayResult } from '../runspec/producer.js';
import { parseBool } from './access.js';
import { json, out, table } from './output.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

const STORE_OPTION_HELP = 'the store: a SQLite file path, or postgres://user@host[:port]/db (default $CONTAINERSPEC_STORE, else $XDG_DATA_HOME/containerspec/provenance.db)';


/** The query flags of `store affected` and `replay --affected`. */
function queryOptions(c: Command): Command {
  return c
    .option('--image <digest|name>', 'runs of this image: a digest (sha256:...) or a name (registry/lab/app, registry/lab/app:1)')
    .option('--library <name@range>', "runs whose image's facts hold this library: openmpi@4.1.0, glibc@<2.34, cuda@>=12 <12.4 (repeatable)", collect, [])
    .option('--host <key op value>', 'runs on hosts with these facts: kernel<5.0, gpu.driver<535, glibc>=2.34, microarch=zen3, mpi=openmpi, host=node01 (repeatable)', collect, [])
    .option('--since <time>', 'runs started at or after this time (2025-01-31, 2025-01-31T12:00:00Z)')
    .option('--until <time>', 'runs started before this time')
    .option('--commit <hash>', 'runs of this commit (7+ hex digits)');
}

interface QueryFlags {
  image?: string;
  library: string[];
  host: string[];
  since?: string;
  until?: string;
  commit?: string;
}

const queryOf = (o: QueryFlags): RunsQuery => ({ image: o.image, libraries: o.library, hosts: o.host, since: o.since, until: o.until, commit: o.commit });

/** Runs as a short table. */
function formatRuns(a: RunsAnswer, what: string): string {
  if (!a.runs.length) return `no ${what} in ${a.store}\n`;
  const rows = [['id', 'started', 'commit', 'image', 'exit', 'host', 'libraries']];
  const exit = (r: RunRecord) => (r.refused ? 'refused' : `${r.exitKind ?? '?'} ${r.exitStatus ?? ''}`.trim()) + (r.forced ? ' (forced)' : '');
  for (const r of a.runs) {
    rows.push([String(r.id), (r.startedAt ?? r.recordedAt).replace(/\.\d+Z$/, 'Z'), r.commit.slice(0, 12), r.image.reference ?? r.image.digest, exit(r), `${r.hostName ?? '?'} (kernel ${r.host.kernel ?? '?'})`, Object.entries(r.libraries).map(([k, v]) => `${k}@${v}`).join(' ')]);
  }
  return `${a.runs.length} ${what} of ${a.commits.length} commit${a.commits.length === 1 ? '' : 's'} in ${a.store}\n${table(rows, '  ')}`;
}

/** Human output of one replay. */
async function formatReplay(r: ReplayResult): Promise<string> {
  const { formatReport } = await import('./format-report.js');
  let s = `${r.outcome === 'planned' ? 'plan for' : r.outcome === 'refused' ? 'REFUSED' : r.forced ? 'FORCED replay of' : 'replayed'} ${r.runspecPath} at ${r.commit.slice(0, 12)}: ${r.image.reference} (${r.image.acquired === 'pulled' ? 'pulled into' : 'verified in'} Charliecloud storage)\n`;
  if (r.refusal) s += `  ${r.outcome === 'refused' ? 'why' : 'refused without --force'}: ${r.refusal}\n`;
  if (r.report) {
    s += `  verdict ${r.report.verdict}, score ${r.report.score}/100; ${r.history ? `${r.history} earlier successful run${r.history === 1 ? '' : 's'} of this commit` : 'no earlier successful run of this commit'}\n`;
  }
  for (const d of r.drift) s += `  drift: ${d.fact} ${d.then ?? 'none'} -> ${d.now ?? 'none'}\n`;
  if (r.plan && (r.outcome === 'planned' || r.outcome === 'refused')) {
    s += `  ${r.outcome === 'planned' ? 'would run' : 'would have run'}:\n`;
    for (const c of r.plan.commands) s += `    ${c.map(shellQuote).join(' ')}\n`;
    s += `  with --set-env file:\n${r.plan.env.map((l) => `    ${l}\n`).join('')}`;
    for (const n of r.plan.notes) s += `  note: ${n}\n`;
  }
  if (r.run) {
    const secs = ((Date.parse(r.run.endedAt) - Date.parse(r.run.startedAt)) / 1000).toFixed(2);
    s += `  ran ${r.run.stepsRun} of ${r.plan?.commands.length ?? '?'} command(s) in ${secs} s: ${r.run.exitKind}${r.run.exitStatus !== null ? ` ${r.run.exitStatus}` : ''}${r.run.signal ? ` (${r.run.signal})` : ''}\n`;
  }
  if (r.producerId !== null) s += `  recorded as Producer row ${r.producerId} in ${r.store}\n`;
  if (r.report && (r.outcome !== 'ran' || r.report.verdict !== 'compatible')) s += formatReport(r.report).replace(/^/gm, '  ');
  return s;
}

const shellQuote = (a: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

interface ReplayFlags extends QueryFlags {
  store?: string;
  storage?: string;
  force?: boolean;
  dryRun?: boolean;
  json?: boolean;
  set: string[];
  affected?: boolean;
  tlsVerify?: boolean;
  caFile?: string;
  quiet?: boolean;
}

/** Add `replay` to the program. */
export function addReplayCommand(cmd: Command): void {
  queryOptions(
    cmd
      .command('replay')
      .description('replay a recorded run-spec with ch-run, only if this host can run its image (compatibility and provenance); every replay and refusal is recorded')
      .argument('[commit]', 'the recorded commit to replay (7+ hex digits)')
      .option('--store <path|url>', STORE_OPTION_HELP)
      .option('--storage <dir>', 'Charliecloud storage (default $CH_IMAGE_STORAGE, else /var/tmp/$USER.ch)')
      .option('--force', 'run even when the gate refuses (recorded as forced); a changed image is never run')
      .option('--dry-run', 'print the plan (the exact ch-run commands) and the report; run and record nothing')
      .option('--set <key=value>', 'what-if: override a host fact, as check --set (repeatable; recorded with the run)', collect, [])
      .option('--affected', 're-run every commit whose runs match the query flags below, each gated, with a summary')
      .option('--tls-verify <bool>', 'for a pull: verify the registry certificate', parseBool)
      .option('--ca-file <file>', 'for a pull: PEM CA certificates to trust for the registry')
      .option('--json', 'print JSON (schemas/replay-1.0.schema.json; with --affected, {schemaVersion, store, replays, summary}); the run\'s own output then goes to stderr'),
  )
    .addHelpText('after', `
The stored repository is restored (checked against its sha256) and the commit checked out; the image
must be in Charliecloud storage as containerspec pulled it by digest (its manifest, layers and tree
verified), else it is pulled by digest. Then the gate: the compatibility report of the image on this
host, plus the provenance rule (kernel, GPU driver, glibc, CPU target, MPI and Charliecloud version
against the last successful run of this commit; each drift lowers the score by 5). Incompatible:
exit 1, nothing runs, the refusal is recorded ("cannot tell": exit 3).

Each RUN is its own ch-run: --unset-env='*', then the image's environment and the run-spec's ENV (one
--set-env file), then --unset-env for each UNSETENV; -b SRC:DST for each BIND; -c WORKDIR (else the
image's working directory, else /). ch-run 0.31 cannot bind read-only, so a run-spec with a :ro bind
is refused unless --force (then the bind is read-write). stdout and stderr are streamed and their last
1 MiB kept in the store; SIGINT and SIGTERM are passed to the container and the run is recorded.
Exit status: the run's (ch-run's own failures are recorded as exit kind "charliecloud", signals as
"signal" with 128+N).

Examples:
  containerspec replay 3f2a9c1d
  containerspec replay 3f2a9c1d --dry-run
  containerspec replay 3f2a9c1d --set kernel=4.18.0 --json      # what if the kernel were older?
  containerspec replay --affected --library openmpi@4.1.0       # re-run what a broken Open MPI touched
`)
    .action(async (commit: string | undefined, o: ReplayFlags) => {
      const { UsageError } = await import('../errors/index.js');
      const { parseSets } = await import('../check/overrides.js');
      const set = parseSets(o.set);
      const queried = o.image !== undefined || o.library.length > 0 || o.host.length > 0 || o.since !== undefined || o.until !== undefined || o.commit !== undefined;
      if (o.affected ? commit !== undefined : queried) throw new UsageError(o.affected ? 'replay --affected takes query flags, not a COMMIT' : '--image, --library, --host, --since, --until and --commit go with --affected');
      if (!o.affected && commit === undefined) throw new UsageError('replay needs a COMMIT (or --affected with query flags)');
      const { replay } = await import('../runspec/producer.js');
      const opts = {
        store: o.store,
        storage: o.storage,
        force: o.force,
        dryRun: o.dryRun,
        set,
        tlsNoVerify: o.tlsVerify === false ? true : undefined,
        caBundle: o.caFile,
        stdout: o.json ? process.stderr : process.stdout,
        onProgress: o.quiet || o.json ? undefined : (l: string) => process.stderr.write(`containerspec: ${l}\n`),
      };
      if (!o.affected) {
        const r = await replay(commit!, opts);
        out(o.json ? json(r) : await formatReplay(r));
        process.exitCode = r.exitCode;
        return;
      }
      const { affected } = await import('../runspec/affected.js');
      const a = await affected(queryOf(o), { store: o.store });
      const results: ReplayResult[] = [];
      for (const c of a.commits) {
        const r = await replay(c, opts);
        results.push(r);
        if (!o.json) out(await formatReplay(r));
      }
      const summary = {
        commits: a.commits.length,
        ran: results.filter((r) => r.outcome === 'ran').length,
        succeeded: results.filter((r) => r.outcome === 'ran' && r.exitCode === 0).length,
        refused: results.filter((r) => r.outcome === 'refused').length,
        forced: results.filter((r) => r.forced).length,
      };
      if (o.json) out(json({ schemaVersion: '1.0', store: a.store, replays: results, summary }));
      else {
        out(`\n${a.commits.length ? '' : `no runs in ${a.store} match the query\n`}replayed ${summary.commits} commit${summary.commits === 1 ? '' : 's'}: ${summary.succeeded} succeeded, ${summary.ran - summary.succeeded} failed, ${summary.refused} refused${summary.forced ? `, ${summary.forced} forced` : ''}\n`);
        if (results.length) out(table([['commit', 'outcome', 'exit', 'score'], ...results.map((r) => [r.commit.slice(0, 12), r.outcome + (r.forced ? ' (forced)' : ''), String(r.exitCode), String(r.report?.score ?? '-')])], '  '));
      }
      process.exitCode = results.every((r) => r.exitCode === 0) ? 0 : 1;
    });
}

/** Add `store runs` and `store affected` to the `store` group. */
export function addQueryCommands(store: Command): void {
  store
    .command('runs')
    .description('recorded replays (refusals included), newest last: commit, image, exit, host')
    .option('--store <path|url>', STORE_OPTION_HELP)
    .option('--commit <hash>', 'runs of this commit (7+ hex digits)')
    .option('--image <digest|name>', 'runs of this image (sha256:... or a name)')
    .option('--json', 'print JSON (schemas/runs-1.0.schema.json: {schemaVersion, store, runs, commits})')
    .addHelpText('after', `
Examples:
  containerspec store runs
  containerspec store runs --commit 3f2a9c1d --json
  containerspec store runs --image sha256:2905a81f...
`)
    .action(async (o: { store?: string; commit?: string; image?: string; json?: boolean }) => {
      const { storeRuns } = await import('../runspec/affected.js');
      const a = await storeRuns({ commit: o.commit, image: o.image }, { store: o.store });
      out(o.json ? json(a) : formatRuns(a, 'runs'));
    });
  queryOptions(
    store
      .command('affected')
      .description('which recorded runs (that ran) used an image, a library version or host facts, and when: the runs and their commits')
      .option('--store <path|url>', STORE_OPTION_HELP)
      .option('--json', 'print JSON (schemas/runs-1.0.schema.json: {schemaVersion, store, runs, commits})'),
  )
    .addHelpText('after', `
Every condition given must hold. Versions compare as semver after coercion (2.31 is 2.31.0,
6.1.0-18-amd64 is 6.1.0); a bare version is exact, 4.1 means 4.1.x. A fact a run did not have (no GPU
driver) matches no comparison. Re-run what matched with "containerspec replay --affected ...".

Examples:
  containerspec store affected --library openmpi@4.1.0
  containerspec store affected --library 'glibc@<2.34' --json
  containerspec store affected --host 'kernel<5.0' --host 'gpu.driver<535'
  containerspec store affected --image registry.lab/lammps --since 2025-01-01
`)
    .action(async (o: QueryFlags & { store?: string; json?: boolean }) => {
      const { affected } = await import('../runspec/affected.js');
      const a = await affected(queryOf(o), { store: o.store });
      out(o.json ? json(a) : formatRuns(a, 'affected runs'));
    });
}
