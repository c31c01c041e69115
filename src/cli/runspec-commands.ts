/**
 * The `runspec` command group: `runspec check FILE` now; `commit`, `clone`, `push` and `pull` are
 * added to the same group (see {@link addRunspecCommands}). Commands parse and print; the format is
 * in src/runspec/.
 */
import type { Command } from 'commander';
import type { RunSpec } from '../runspec/types.js';
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
    .action(async (file: string, _o: { json?: boolean }, self: Command) => {
      const o = self.optsWithGlobals<{ json?: boolean; limit?: string[] }>();
      // --limit is an option of the group (added to every top-level command), so apply it here.
      if (o.limit?.length) (await import('../limits.js')).applyLimitOptions(o.limit);
      const { readRunSpec } = await import('../runspec/parse.js');
      const spec = await readRunSpec(file);
      out(o.json ? json(spec) : formatRunSpec(spec));
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
