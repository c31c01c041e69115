/** match expands a multi-platform index: each host is judged on the platform it can run natively. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureCliBuilt, runCli } from './helpers/cli-run.js';
import { hostJson, makeFakeHost } from './helpers/fake-host.js';
import { buildFixtures } from './helpers/fixture-set.js';

const MULTI = 'oci:fixtures/build/multiarch/oci';

describe('match with a multi-platform index', () => {
  let amd = '';
  let arm = '';
  beforeAll(async () => {
    await buildFixtures(15 * 60_000);
    await ensureCliBuilt();
    const base = mkdtempSync(join(tmpdir(), 'cs-multi-'));
    amd = (await hostJson(makeFakeHost(join(base, 'amd'), { name: 'x86-node', cpuinfoFile: 'test/data/archspec-targets/linux-ubuntu20.04-zen3', osrelease: '5.15.0', arch: 'x86_64' }))).file;
    arm = (await hostJson(makeFakeHost(join(base, 'arm'), { name: 'arm-node', cpuinfoFile: 'test/data/archspec-targets/linux-amazon-neoverse_n1', osrelease: '5.10.0', arch: 'aarch64' }))).file;
  }, 900_000);

  it('inspect lists the platforms the index offers', async () => {
    const r = await runCli(['inspect', MULTI, '--json']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).platforms).toEqual(['linux/amd64', 'linux/arm64/v8']);
  });

  it('both an amd64 and an arm64 host can run the index; a single-arch image fits only its own', async () => {
    const r = await runCli(['match', '--hosts', amd, arm, '--images', MULTI, 'oci:fixtures/build/bookworm-arm64/oci', '--json']);
    expect(r.status).toBe(0);
    const m = JSON.parse(r.stdout);
    expect(m.hosts).toEqual(['x86-node', 'arm-node']);
    expect(m.matrix[0].map((c: { verdict: string }) => c.verdict)).toEqual(['compatible', 'compatible']);
    expect(m.matrix[1].map((c: { verdict: string }) => c.verdict)).toEqual(['incompatible', 'compatible']);
    // each variant agrees with what check says for that host's platform
    for (const [i, host] of [amd, arm].entries()) {
      const c = await runCli(['check', MULTI, '--host', host, '--json']);
      expect(JSON.parse(c.stdout).score).toBe(m.matrix[0][i].score);
    }
  });
});
