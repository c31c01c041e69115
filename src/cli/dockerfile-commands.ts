/**
 * `containerspec dockerfile labels|outdated|pin PATH...`: they parse and print; the work is in
 * src/dockerfile/.
 */
import { isAbsolute, relative } from 'node:path';
import { CommanderError, Option, type Command } from 'commander';
import { accessOf, addAccessOptions, registryOptions, type AccessFlags } from './access.js';
import { json, out, table } from './output.js';
import { progress } from './progress.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

interface CommonFlags extends AccessFlags {
  buildArg: string[];
  platform?: string;
  json?: boolean;
}

function positive(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new CommanderError(2, 'containerspec.badNumber', `--page-size takes a whole number >= 1, not ${JSON.stringify(v)}`);
  return n;
}

/** Add the flags every dockerfile subcommand takes (`registryOnly`: the cache and storage flags hidden, they read no image). */
function common(c: Command, registryOnly = true): Command {
  c.argument('<paths...>', 'Dockerfiles, or directories to scan for Dockerfile, Containerfile, *.Dockerfile, Dockerfile.* (not in node_modules or .git)')
    .option('--build-arg <name=value>', 'an ARG value, as docker build --build-arg (repeatable)', collect, [])
    .option('--platform <os/arch[/variant]>', "platform a multi-platform base is judged for, and the value of $TARGETPLATFORM (default: this host's)");
  addAccessOptions(c);
  // Accepted (scripts pass the same flags to every command), but nothing here reads an image's layers.
  if (registryOnly) for (const o of c.options) if (['--cache-dir', '--no-cache', '--storage'].includes(o.long ?? '')) o.hideHelp();
  return c;
}

/** The parsed Dockerfiles the paths name. */
async function load(paths: string[], o: CommonFlags) {
  const { loadDockerfiles } = await import('../dockerfile/load.js');
  const { parseBuildArg } = await import('../dockerfile/parse.js');
  const { formatPlatform, hostPlatform, parsePlatform } = await import('../image/platform.js');
  const buildArgs = Object.fromEntries(o.buildArg.map(parseBuildArg));
  const platform = formatPlatform(o.platform ? parsePlatform(o.platform) : hostPlatform());
  return { dfs: await loadDockerfiles(paths, { buildArgs, platform }), platform };
}

/** GitHub workflow-command escaping: a message, and a property (file=, title=). */
const ghData = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const ghProp = (s: string) => ghData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

/** A file as GitHub annotations name it: relative to the workspace (the repository) when it is inside it. */
function ghFile(file: string): string {
  const ws = process.env.GITHUB_WORKSPACE;
  if (!ws || !isAbsolute(file)) return ghProp(file);
  const rel = relative(ws, file);
  return ghProp(rel.startsWith('..') || isAbsolute(rel) ? file : rel);
}

/** Print an error as a GitHub annotation too (under --format github), then let the top-level handler report it. */
async function annotateErrors<T>(github: boolean, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const { DockerfileError } = await import('../errors/index.js');
    if (github && e instanceof DockerfileError) {
      out(`::error file=${ghFile(e.file)}${e.line !== null ? `,line=${e.line}` : ''},title=containerspec dockerfile::${ghData(e.message)}\n`);
    }
    throw e;
  }
}

/** Add `dockerfile labels|outdated|pin` to the program. */
export function addDockerfileCommands(cmd: Command): void {
  const df = cmd
    .command('dockerfile')
    .description('Dockerfile analysis: supercontainers labels, digest pins, outdated bases, newer tags')
    .addHelpText('after', `
PATH is a Dockerfile, or a directory scanned for Dockerfile, Containerfile, *.Dockerfile and
Dockerfile.* (not below node_modules or .git). Errors name FILE:LINE and exit 2.

Examples:
  containerspec dockerfile labels Dockerfile --from-image oci:./build/app
  containerspec dockerfile outdated . --format github          # a GitHub Actions step
  containerspec dockerfile pin . --update --write
`);

  const labels = common(df.command('labels').description('stages, bases and labels; with --from-image, the supercontainers labels the built image supports, and those it contradicts (exit 1)'), false)
    .option('--from-image <image>', 'the image the Dockerfile builds (any inspect reference): suggest org.supercontainers.{mpi,gpu,glibc,arch} from its facts and flag labels they contradict')
    .option('--write', 'with --from-image: write the labels into the Dockerfiles (add what is missing, replace or remove what the image contradicts; atomically)')
    .option('--json', 'print JSON (schemas/dockerfile-1.0.schema.json)');
  labels.addHelpText('after', `
Examples:
  containerspec dockerfile labels Dockerfile
  containerspec dockerfile labels docker/ --json
  containerspec dockerfile labels Dockerfile --from-image oci:./build/app     # suggest and check labels
  containerspec dockerfile labels Dockerfile --from-image oci:./build/app --write
  containerspec dockerfile labels Dockerfile --from-image registry.lab:5000/app:ci --ca-file lab-ca.pem
`);
  labels.action(async (paths: string[], o: CommonFlags & { fromImage?: string; write?: boolean }) => {
    if (o.write && o.fromImage === undefined) throw new (await import('../errors/index.js')).UsageError('--write goes with --from-image (the labels written are those the image supports)');
    const { dockerfileLabels, writeLabels } = await import('../dockerfile/labels.js');
    const { dfs, platform } = await load(paths, o);
    let facts: Parameters<typeof dockerfileLabels>[1];
    if (o.fromImage !== undefined) {
      const { inspect } = await import('../inspect.js');
      const { loadArchspec } = await import('../arch/index.js');
      const { access, progress: p } = await accessOf(o);
      const f = await inspect(o.fromImage, { ...access, platform, explicitPlatform: o.platform !== undefined }).finally(() => p.end());
      facts = { image: o.fromImage, facts: f, archspec: loadArchspec() };
    }
    const r = dockerfileLabels(dfs, facts);
    if (o.write) {
      await writeLabels(r, dfs);
      for (const d of r.dockerfiles) {
        for (const c of d.changes ?? []) process.stderr.write(`${d.file}:${c.line}: ${c.to === null ? `removed ${c.key}=${c.from}` : c.from === null ? `added ${c.key}=${c.to}` : `${c.key}: ${c.from} -> ${c.to}`}\n`);
      }
    }
    // Exit 1 when a label contradicts the image, unless --write has just set them right.
    const contradicted = r.dockerfiles.some((d) => (d.contradictions ?? []).length > 0 && !d.written);
    process.exitCode = contradicted ? 1 : 0;
    if (o.json) return out(json(r));
    for (const d of r.dockerfiles) {
      out(`${d.file}\n`);
      out(table([['stage', 'line', 'base', 'platform', 'labels'], ...d.stages.map((s) => [`${s.index}${s.alias ? ` (${s.alias})` : ''}`, String(s.line), s.base, s.platform ?? '', String(s.labels.length)])], '  '));
      const keys = Object.entries(d.labels);
      if (keys.length) out(`  labels of the built image:\n${table(keys.map(([k, v]) => [k, v]), '    ')}`);
      for (const c of d.contradictions ?? []) out(`  contradicts the image: ${c.message}\n`);
      const missing = (d.suggestions ?? []).filter((s) => s.current === null);
      if (d.suggestions) {
        out(`  supported by ${r.image}:\n${table(d.suggestions.map((s) => [s.key, s.value, s.reason, s.current === null ? 'not set' : s.current === s.value ? 'set' : `set to ${s.current}`]), '    ')}`);
        if (missing.length && !o.write) out(`  to add:\n    LABEL ${missing.map((s) => `${s.key}="${s.value}"`).join(' \\\n          ')}\n`);
        if (d.changes?.length && !o.write) out(`  --write would change ${d.changes.length} label${d.changes.length === 1 ? '' : 's'}\n`);
      }
    }
  });

  const outdatedCmd = common(df.command('outdated').description("is each FROM's pinned digest still its tag's, and which newer tags exist? exit 0 all current, 1 something outdated, 2 error"))
    .option('--json', 'print JSON (schemas/dockerfile-1.0.schema.json); the same as --format json')
    .addOption(new Option('--format <format>', 'text, json, github (workflow annotations at each FROM line) or gitlab (a Code Quality report)').choices(['text', 'json', 'github', 'gitlab']))
    .addOption(new Option('--page-size <n>', 'tags asked for per tag-list page (default: the registry\'s)').argParser(positive));
  outdatedCmd.addHelpText('after', `
A pin is current when it is the digest the tag names now: for a multi-platform tag, the index's
digest, or the manifest the index holds for the platform (--platform, the FROM's own --platform,
or this host's). Newer tags are those of the same family: 3.12-slim is compared with 3.13-slim,
not with 3.13 or 3.13-alpine; 2024.03 with 2024.06; latest and names like bookworm only by digest.

Examples:
  containerspec dockerfile outdated Dockerfile
  containerspec dockerfile outdated . --format github        # in a GitHub Actions step
  containerspec dockerfile outdated . --format gitlab > gl-code-quality-report.json   # a GitLab job's codequality report
  containerspec dockerfile outdated docker/ --json > outdated.json
  containerspec dockerfile outdated Dockerfile --build-arg CUDA=12.4.1 --ca-file lab-ca.pem
`);
  outdatedCmd.action(async (paths: string[], o: CommonFlags & { format?: string; pageSize?: number }) => {
    if (o.json && o.format !== undefined && o.format !== 'json') throw new (await import('../errors/index.js')).UsageError(`--json and --format ${o.format} ask for two outputs; give one`);
    const format = o.format ?? (o.json ? 'json' : 'text');
    const { outdated, describeBase } = await import('../dockerfile/outdated.js');
    const p = progress(o.quiet);
    const r = await annotateErrors(format === 'github', async () => {
      const { dfs, platform } = await load(paths, o);
      return outdated(dfs, { registry: registryOptions(o, p), platform, pageSize: o.pageSize });
    }).finally(() => p.end());
    process.exitCode = r.outdated ? 1 : 0;
    if (format === 'json') return out(json(r));
    if (format === 'gitlab') {
      const { codeQuality } = await import('../dockerfile/report-formats.js');
      return out(json(codeQuality(r, { root: process.env.CI_PROJECT_DIR })));
    }
    if (format === 'github') {
      for (const b of r.bases) {
        if (!b.outdated) continue;
        out(`::warning file=${ghFile(b.file)},line=${b.line},col=${b.column},title=${ghProp(b.status === 'stale' ? 'stale base digest' : 'newer base tag')}::${ghData(describeBase(b))}\n`);
      }
    }
    for (const b of r.bases) {
      if (format === 'github' && !b.outdated) continue;
      const line = `${b.file}:${b.line}: ${b.outdated ? 'OUTDATED ' : ''}${describeBase(b)}\n`;
      if (format === 'github') process.stderr.write(line);
      else out(line);
    }
    const n = r.bases.filter((b) => b.outdated).length;
    const summary = `${n} of ${r.bases.length} base image${r.bases.length === 1 ? '' : 's'} outdated in ${r.files.length} Dockerfile${r.files.length === 1 ? '' : 's'}\n`;
    if (format === 'github') process.stderr.write(summary);
    else out(summary);
  });

  const pinCmd = common(df.command('pin').description('pin each FROM to name:tag@sha256:... and set the org.opencontainers.image.base.* labels; prints a diff, or --write'))
    .option('--write', 'write the files (atomically; a file that changed meanwhile is refused, exit 2)')
    .option('--update', "move a stale pin to the tag's current digest")
    .option('--to-newest', 'with --update: move to the newest tag of the same family, and its digest')
    .option('--check', 'exit 1 when a file would change (for CI), 0 when every pin and label is in place')
    .option('--json', 'print JSON (schemas/dockerfile-1.0.schema.json)');
  pinCmd.addHelpText('after', `
Only the image word of a FROM and the base labels change; comments, spacing, continuations and
line endings stay as they are. A FROM whose image comes from ARGs is not rewritten (its ARG's
default should be pinned; the message says to what).

Examples:
  containerspec dockerfile pin Dockerfile                      # the diff it would make
  containerspec dockerfile pin . --write                       # pin every Dockerfile below .
  containerspec dockerfile pin Dockerfile --update --write     # move stale pins
  containerspec dockerfile pin Dockerfile --update --to-newest --write
  containerspec dockerfile pin docker/ --check                 # CI: fail when a pin is missing
`);
  pinCmd.action(async (paths: string[], o: CommonFlags & { write?: boolean; update?: boolean; toNewest?: boolean; check?: boolean }) => {
    const { UsageError } = await import('../errors/index.js');
    if (o.toNewest && !o.update) throw new UsageError('--to-newest goes with --update');
    if (o.check && o.write) throw new UsageError('--check reports what would change; it does not go with --write');
    const { planPins, writePinned, pinResult } = await import('../dockerfile/pin.js');
    const p = progress(o.quiet);
    const planned = await (async () => {
      const { dfs, platform } = await load(paths, o);
      return planPins(dfs, { registry: registryOptions(o, p), platform, update: o.update, toNewest: o.toNewest });
    })().finally(() => p.end());
    const written = new Set<string>();
    if (o.write) for (const f of planned) if (await writePinned(f)) written.add(f.file);
    const r = pinResult(planned, written);
    if (o.check) process.exitCode = r.files.some((f) => f.changed) ? 1 : 0;
    if (o.json) return out(json(r));
    if (!o.write) out(planned.map((f) => f.diff).join(''));
    for (const c of r.changes) {
      if (c.action === 'current') continue;
      process.stderr.write(`${c.file}:${c.line}: ${c.action}${c.action === 'pinned' || c.action === 'updated' || c.action === 'newer-tag' ? ` ${c.from} -> ${c.to}` : ''}${c.note ? `: ${c.note}` : ''}\n`);
    }
    if (o.write) process.stderr.write(`wrote ${written.size} of ${planned.length} Dockerfile${planned.length === 1 ? '' : 's'} (${planned.length - written.size} unchanged)\n`);
  });
}
