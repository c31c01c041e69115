/**
 * The registry and cache commands: `attach`, `discover`, `cache prune`. They parse and print; the
 * work is in src/artifacts.ts and src/cache/.
 */
import type { Command } from 'commander';
import { accessOf, addAccessOptions, type AccessFlags } from './access.js';
import { json, out, sizeText, table } from './output.js';

/** Add attach, discover and cache to the program. */
export function addRegistryCommands(cmd: Command): void {
  const attachCmd = cmd
    .command('attach')
    .description("inspect a registry image and attach its facts and NFD image-compatibility spec to its manifest (ORAS-style artifacts)")
    .argument('<image>', 'registry image reference (docker://HOST/NAME:TAG, or HOST/NAME:TAG)')
    .option('--platform <os/arch[/variant]|all>', "platform of a multi-platform index (default: this host's; all: every platform)")
    .option('--no-nfd', 'attach the facts only, not the NFD spec')
    .option('--json', 'print what was attached as JSON');
  addAccessOptions(attachCmd).addHelpText(
    'after',
    `
What is attached (subject: the image manifest; referrers API, or the sha256-<hex> tag where the
registry has none):
  application/vnd.containerspec.facts.v1+json          the facts of "inspect --json"
  application/vnd.nfd.image-compatibility.v1alpha1     NFD rules made from the requirements
"check" and "match" then judge the image from its attached facts, without reading a layer.

Examples:
  containerspec attach registry.lab:5000/lammps:2024 --platform all
  containerspec attach docker://127.0.0.1:5000/app:1 --ca-file ca.crt --creds-file creds
`,
  );
  attachCmd.action(async (image: string, o: AccessFlags & { platform?: string; nfd?: boolean; json?: boolean }) => {
    const { attach } = await import('../artifacts.js');
    const { access, progress: p } = await accessOf(o);
    const results = await attach(image, { ...access, platform: o.platform, nfd: o.nfd }).finally(() => p.end());
    if (o.json) return out(json(results));
    for (const r of results) {
      out(`${r.ref}${r.platform ? ` (${r.platform})` : ''}: manifest ${r.manifest}\n`);
      out(table(r.attached.map((a) => [a.artifactType, a.digest, a.via === 'tag-schema' ? 'via the sha256- tag' : 'via the referrers API']), '  '));
    }
  });

  const discoverCmd = cmd
    .command('discover')
    .description('list the artifacts attached to a registry image (facts, NFD specs, signatures, SBOMs)')
    .argument('<image>', 'registry image reference')
    .option('--platform <os/arch[/variant]|all>', "platform of a multi-platform index (default: this host's; all: every platform)")
    .option('--artifact-type <type>', 'only artifacts of this type')
    .option('--json', 'print JSON');
  addAccessOptions(discoverCmd).addHelpText(
    'after',
    `
Examples:
  containerspec discover registry.lab:5000/lammps:2024
  containerspec discover 127.0.0.1:5000/app:1 --artifact-type application/vnd.containerspec.facts.v1+json --json
`,
  );
  discoverCmd.action(async (image: string, o: AccessFlags & { platform?: string; artifactType?: string; json?: boolean }) => {
    const { discover } = await import('../artifacts.js');
    const { access, progress: p } = await accessOf(o);
    const results = await discover(image, { ...access, platform: o.platform, ...(o.artifactType ? { artifactType: o.artifactType } : {}) }).finally(() => p.end());
    if (o.json) return out(json(results));
    for (const r of results) {
      out(`${r.ref}${r.platform ? ` (${r.platform})` : ''}: manifest ${r.subject}, ${r.referrers.length} attached (${r.via === 'tag-schema' ? 'the registry has no referrers API: read the sha256- tag' : 'referrers API'})\n`);
      if (r.referrers.length) {
        out(table([['artifact type', 'digest', 'created'], ...r.referrers.map((a) => [a.artifactType ?? '(none)', a.digest, a.annotations['org.opencontainers.image.created'] ?? ''])], '  '));
      }
    }
  });

  const cache = cmd.command('cache').description('the layer-facts cache');
  cache
    .command('prune')
    .description('drop least recently used entries until the cache is at most --max-size')
    .option('--max-size <size>', 'size to keep, e.g. 500M, 2G (default 1G)')
    .option('--cache-dir <dir>', 'cache directory (default $XDG_CACHE_HOME/containerspec)')
    .option('--json', 'print what was removed as JSON')
    .addHelpText('after', '\nExamples:\n  containerspec cache prune\n  containerspec cache prune --max-size 200M\n')
    .action(async (o: { maxSize?: string; cacheDir?: string; json?: boolean }) => {
      const { pruneCache, parseSize, defaultCacheDir, DEFAULT_MAX_CACHE_BYTES } = await import('../cache/index.js');
      const maxBytes = o.maxSize !== undefined ? parseSize(o.maxSize) : DEFAULT_MAX_CACHE_BYTES;
      const dir = o.cacheDir ?? defaultCacheDir();
      const r = pruneCache(dir, { maxBytes });
      if (o.json) return out(json({ dir, maxBytes, ...r }));
      out(`${dir}: removed ${r.removed} entr${r.removed === 1 ? 'y' : 'ies'} (${sizeText(r.removedBytes)}), kept ${r.kept} (${sizeText(r.keptBytes)}) of at most ${sizeText(maxBytes)}\n`);
    });
}
