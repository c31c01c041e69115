import { Command, CommanderError, Option } from 'commander';
import { reportError } from './errors.js';
import { json, out } from './output.js';

const INSPECT_EXAMPLES = `
Image references (skopeo-style):
  oci:PATH[:TAG]            an OCI image layout directory
  oci-archive:FILE[:TAG]    a tar of an OCI layout
  docker-archive:FILE[:TAG] a "docker save" tar (classic or Docker 25+)
  dir:PATH                  an unpacked root filesystem (e.g. a Charliecloud image directory)
  tar:FILE                  a flat root filesystem tarball (ch-convert -o tar)

Examples:
  containerspec inspect oci:fixtures/sample
  containerspec inspect oci:./myimage:v2 --platform linux/arm64/v8 --json
  containerspec inspect docker-archive:saved.tar
`;

/** Build the command-line program. */
export function program(prog: string): Command {
  const cmd = new Command(prog)
    .description('Can this container image run on this host, and how well? Static facts, no image is run.')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError('(run with --help for usage)');
  cmd
    .command('inspect')
    .description('image facts and derived requirements')
    .argument('<image>', 'image reference (see below)')
    .option('--json', 'print JSON (schemas/facts.schema.json)')
    .option('--platform <os/arch[/variant]>', "platform to pick from a multi-platform index (default: this host's)")
    .addOption(new Option('--parallel <n>', 'layers read at once (default: cores)').argParser((v) => parsePositive(v, '--parallel')))
    .addHelpText('after', INSPECT_EXAMPLES)
    .action(async (image: string, o: { json?: boolean; platform?: string; parallel?: number }) => {
      const { inspect } = await import('../inspect.js');
      const facts = await inspect(image, { platform: o.platform, parallel: o.parallel });
      if (o.json) out(json(facts));
      else {
        const { formatFacts } = await import('./format-facts.js');
        out(formatFacts(facts));
      }
    });
  cmd
    .command('host')
    .description("this host's facts (or a mounted / copied host's): CPU target, kernel, libc, MPI, GPU, emulators")
    .option('--json', 'print JSON (schemas/facts.schema.json); what check --host and match --hosts read')
    .option('--root <dir>', 'root filesystem to read libraries and os-release from', '/')
    .option('--proc <dir>', 'read cpuinfo, kernel and driver files from DIR instead of /proc (as NFD does with /host-proc)')
    .option('--sys <dir>', 'read PCI devices and modules from DIR instead of /sys')
    .option('--slow', 'also ask systeminformation (memory, virtualization; spawns processes)')
    .option('--archspec <file>', 'microarchitectures.json to use (default: the vendored copy, or $CONTAINERSPEC_ARCHSPEC)')
    .addHelpText('after', `
Examples:
  containerspec host
  containerspec host --json > node01.json        # for check --host / match --hosts
  containerspec host --proc /mnt/node/proc --sys /mnt/node/sys --root /mnt/node --json
`)
    .action(async (o: { json?: boolean; root: string; proc?: string; sys?: string; slow?: boolean; archspec?: string }) => {
      const { hostFacts } = await import('../host/facts.js');
      await assertDirs([o.root, o.proc, o.sys], ['--root', '--proc', '--sys']);
      const facts = await hostFacts({ root: o.root, proc: o.proc, sys: o.sys, slow: o.slow, archspec: o.archspec });
      if (o.json) out(json(facts));
      else {
        const { formatFacts } = await import('./format-facts.js');
        out(formatFacts(facts));
      }
    });
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

/** Run the CLI; sets process.exitCode. */
export async function main(argv: string[], prog = 'containerspec'): Promise<void> {
  const cmd = program(prog);
  try {
    await cmd.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'containerspec.badNumber') process.stderr.write(`${prog}: ${e.message}\n`);
      process.exitCode = e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? 0 : 2;
      return;
    }
    process.exitCode = reportError(e, prog);
  }
}
