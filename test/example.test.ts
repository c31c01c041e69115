/** The README's scheduler-plugin example runs as shipped and says what check says. */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { check } from '../src/check/check.js';
import { applySets } from '../src/check/overrides.js';
import { hostFacts } from '../src/host/facts.js';
import { inspect } from '../src/inspect.js';
import { cell } from '../src/check/match.js';
import { match } from '../src/orchestrate.js';
import { buildCli, REPO } from './helpers/cli.js';

describe('examples/scheduler-plugin.mjs', () => {
  let dir = '';
  beforeAll(async () => {
    execFileSync('node', ['fixtures/build.mjs'], { stdio: 'inherit' });
    await buildCli();
    dir = mkdtempSync(join(tmpdir(), 'cs-example-'));
    const here = await hostFacts();
    writeFileSync(join(dir, 'plain.json'), JSON.stringify(here));
    writeFileSync(join(dir, 'gpu.json'), JSON.stringify({ ...applySets(here, { 'cuda.driver': '550.54.14', mpi: 'mpich@4.2.3' }), name: 'gpu-node' }));
  }, 600_000);

  it('ranks the nodes for each image with the same scores check gives, and explains a misfit', async () => {
    const images = ['oci:fixtures/build/trixie-mpich-cuda/oci', 'oci:fixtures/build/bookworm-arm64/oci'];
    const out = execFileSync('node', ['examples/scheduler-plugin.mjs', join(dir, 'plain.json'), join(dir, 'gpu.json'), '--', ...images], { encoding: 'utf8' });
    const lines = out.trim().split('\n');
    const plain = await hostFacts();
    const cuda = await inspect(images[0]!);
    const onGpu = await check(cuda, { ...applySets(plain, { 'cuda.driver': '550.54.14', mpi: 'mpich@4.2.3' }), name: 'gpu-node' });
    const onPlain = await check(cuda, plain);
    expect(onPlain.verdict).toBe('incompatible'); // no GPU here
    expect(lines[0]).toBe(`${images[0]}: gpu-node (${onGpu.score})`);
    expect(lines[1]).toBe(`${images[1]}: no node can run it`);
    expect(lines[2]).toMatch(/arch: image is linux\/arm64\/v8 but this host is linux\/amd64/);
  });

  it('from outside the repository, with the package installed: a multi-platform index is judged per node on its own platform, as match does', async () => {
    // `npm install /path/to/containerspec` of a folder links it into node_modules; so does this.
    const app = mkdtempSync(join(tmpdir(), 'cs-plugin-app-'));
    mkdirSync(join(app, 'node_modules'));
    symlinkSync(REPO, join(app, 'node_modules', 'containerspec'));
    copyFileSync(join(REPO, 'examples/scheduler-plugin.mjs'), join(app, 'plugin.mjs'));
    const here = await hostFacts();
    const arm = { ...applySets(here, { arch: 'arm64', microarch: 'neoverse_n1', emulators: 'none' }), name: 'arm-node' };
    writeFileSync(join(app, 'arm.json'), JSON.stringify(arm));
    const index = `oci:${join(REPO, 'fixtures/build/multiarch/oci')}`;
    const out = execFileSync('node', ['plugin.mjs', join(dir, 'plain.json'), join(app, 'arm.json'), '--', index], { encoding: 'utf8', cwd: app });
    const m = await match([join(dir, 'plain.json'), join(app, 'arm.json')], [index]);
    expect(m.scores[0]!.every((raw) => raw >= 0), 'each node runs its own platform of the index').toBe(true);
    const want = [...m.scores[0]!].map((raw, n) => ({ node: [here.name, 'arm-node'][n]!, score: cell(raw).score })).sort((a, b) => b.score - a.score);
    expect(out.trim()).toBe(`${index}: ${want.map((w) => `${w.node} (${w.score})`).join(', ')}`);
    // A bad command line is a usage error, not a stack trace.
    const bad = spawnSync('node', ['plugin.mjs', index], { encoding: 'utf8', cwd: app });
    expect([bad.status, bad.stderr.trim()]).toEqual([2, 'usage: scheduler-plugin.mjs NODE-FACTS.json... -- IMAGE...']);
  });
});
