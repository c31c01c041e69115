/** The README's scheduler-plugin example runs as shipped and says what check says. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { check } from '../src/check/check.js';
import { applySets } from '../src/check/overrides.js';
import { hostFacts } from '../src/host/facts.js';
import { inspect } from '../src/inspect.js';
import { buildCli } from './helpers/cli.js';

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
});
