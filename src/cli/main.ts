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
  return cmd;
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
