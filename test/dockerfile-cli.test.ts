/**
 * The `containerspec dockerfile` commands as a user runs them (bin/containerspec.js), where no
 * registry is needed: help with examples, usage errors, `labels` on the corpus (text and JSON), and
 * a directory holding one bad Dockerfile.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildCli, expectOneLineError, REPO, runCli, show } from './helpers/cli.js';
import { schemaErrors } from './helpers/schemas.js';

const CORPUS = join(REPO, 'fixtures/dockerfiles');

beforeAll(async () => {
  await buildCli();
}, 300_000);

describe('containerspec dockerfile', () => {
  it('every subcommand has help with examples; the cache flags of image commands are hidden where no image is read', async () => {
    for (const sub of ['labels', 'outdated', 'pin']) {
      const r = await runCli(['dockerfile', sub, '--help']);
      expect(r.code, show(r)).toBe(0);
      expect(r.stdout).toContain(`Usage: containerspec dockerfile ${sub} [options] <paths...>`);
      expect(r.stdout).toMatch(new RegExp(`Examples:\\n  containerspec dockerfile ${sub} `));
      expect(r.stdout).toContain('--build-arg <name=value>');
      expect(r.stdout.includes('--cache-dir'), sub).toBe(sub === 'labels');
    }
    const top = await runCli(['--help']);
    expect(top.stdout).toMatch(/dockerfile\s+Dockerfile analysis/);
  });

  it('usage errors are one line, exit 2', async () => {
    const f = join(CORPUS, 'windows-crlf/Dockerfile');
    expect(expectOneLineError(await runCli(['dockerfile', 'pin', f, '--to-newest']))).toBe('containerspec: --to-newest goes with --update');
    expect(expectOneLineError(await runCli(['dockerfile', 'pin', f, '--check', '--write']))).toMatch(/--check .* does not go with --write/);
    expect(expectOneLineError(await runCli(['dockerfile', 'outdated', f, '--json', '--format', 'github']))).toMatch(/two outputs/);
    expect(expectOneLineError(await runCli(['dockerfile', 'outdated', f, '--format', 'xml']))).toMatch(/--format.*xml.*(text|Allowed)/);
    expect(expectOneLineError(await runCli(['dockerfile', 'labels', f, '--build-arg', '1X=2']))).toMatch(/--build-arg "1X=2": expected NAME=VALUE/);
    expect(expectOneLineError(await runCli(['dockerfile', 'labels']))).toMatch(/missing required argument 'paths'/);
  });

  it('labels: the corpus in text and in JSON (schema dockerfile-1.0), --build-arg applied', async () => {
    const spack = join(CORPUS, 'spack-mpich');
    const t = await runCli(['dockerfile', 'labels', spack, join(CORPUS, 'windows-crlf')]);
    expect(t.code, show(t)).toBe(0);
    expect(t.stdout).toContain(`${join(spack, 'Dockerfile')}\n  stage      line  base                                        platform  labels\n  0 (build)  9     registry.invalid:5000/lab/spack:0.21.2                2\n`);
    expect(t.stdout).toContain('    org.supercontainers.mpi         mpich\n');
    const j = await runCli(['dockerfile', 'labels', spack, '--json', '--build-arg', 'SPACK_TAG=0.22.0']);
    expect(j.code, show(j)).toBe(0);
    const doc = JSON.parse(j.stdout);
    expect(schemaErrors('dockerfile-1.0', doc)).toBeNull();
    expect(doc.dockerfiles[0].stages[0].base).toBe('registry.invalid:5000/lab/spack:0.22.0');
    expect(doc.dockerfiles[0].labels['org.supercontainers.glibc']).toBe('2.36.0');
  });

  it('a directory with one bad Dockerfile: exit 2, the bad file and line named (with --json, the error JSON names the file)', async () => {
    const r = await runCli(['dockerfile', 'labels', CORPUS, '--json']);
    const line = expectOneLineError(r);
    expect(line).toBe(`containerspec: ${join(CORPUS, 'bad/run-before-from.Dockerfile')}:1:1: RUN before the first FROM: only ARG may come before it (no build stage in current context)`);
    expect(JSON.parse(r.stdout).error).toMatchObject({ kind: 'dockerfile', where: join(CORPUS, 'bad/run-before-from.Dockerfile') });
    const none = await runCli(['dockerfile', 'outdated', join(REPO, 'schemas')]);
    expect(expectOneLineError(none)).toMatch(/schemas: no Dockerfile, Containerfile, \*\.Dockerfile or Dockerfile\.\* below it/);
  });
});
