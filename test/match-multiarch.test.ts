/** match expands a multi-platform index: each host is judged on the platform it can run natively. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildCli, runCli } from './helpers/cli.js';
import { buildOciIndex } from './helpers/oci.js';
import { platformsFor } from '../src/orchestrate.js';
import { emptyHostFacts } from '../src/model/empty.js';
import { hostJson, makeFakeHost } from './helpers/fake-host.js';
import { buildFixtures } from './helpers/fixture-set.js';

const MULTI = 'oci:fixtures/build/multiarch/oci';

describe('match with a multi-platform index', () => {
  let amd = '';
  let arm = '';
  beforeAll(async () => {
    await buildFixtures(15 * 60_000);
    await buildCli();
    const base = mkdtempSync(join(tmpdir(), 'cs-multi-'));
    amd = (await hostJson(makeFakeHost(join(base, 'amd'), { name: 'x86-node', cpuinfoFile: 'test/data/archspec-targets/linux-ubuntu20.04-zen3', osrelease: '5.15.0', arch: 'x86_64' }))).file;
    arm = (await hostJson(makeFakeHost(join(base, 'arm'), { name: 'arm-node', cpuinfoFile: 'test/data/archspec-targets/linux-amazon-neoverse_n1', osrelease: '5.10.0', arch: 'aarch64' }))).file;
  }, 900_000);

  it('inspect lists the platforms the index offers', async () => {
    const r = await runCli(['inspect', MULTI, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).platforms).toEqual(['linux/amd64', 'linux/arm64/v8']);
  });

  it('both an amd64 and an arm64 host can run the index; a single-arch image fits only its own', async () => {
    const r = await runCli(['match', '--hosts', amd, arm, '--images', MULTI, 'oci:fixtures/build/bookworm-arm64/oci', '--json']);
    expect(r.code).toBe(0);
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

describe('match expands an index in the library, for the platforms the hosts need', () => {
  const host = (arch: string, emulates: string[] = []) => {
    const h = emptyHostFacts(`${arch}-node`);
    h.platform.architecture = arch;
    h.emulators = emulates.map((a) => ({ name: `qemu-${a}`, architecture: a, interpreter: null, flags: 'F', fixBinary: true, path: null }));
    return h;
  };
  const present = ['linux/amd64', 'linux/arm64/v8', 'linux/ppc64le'];

  it('each platform once, however many hosts need it; none that no host runs', () => {
    expect(platformsFor(present, [host('arm64'), host('arm64'), host('arm64')])).toEqual(['linux/arm64/v8']);
    expect(platformsFor(present, [host('arm64'), host('amd64'), host('arm64')])).toEqual(['linux/amd64', 'linux/arm64/v8']);
    expect(platformsFor(['linux/arm64/v8', 'linux/ppc64le'], [host('amd64', ['ppc64le'])])).toEqual(['linux/ppc64le']); // emulated
    expect(platformsFor(['linux/arm64/v8', 'linux/ppc64le'], [host('s390x')])).toEqual(['linux/arm64/v8']); // none runs: the first, so the matrix says why
  });

  it('an arm64 + ppc64le index on an arm64 host file: compatible, whatever machine runs the command (was exit 2 "no image for platform linux/amd64")', async () => {
    const base = mkdtempSync(join(tmpdir(), 'cs-multi2-'));
    const osr = { name: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\n' };
    const built = await buildOciIndex(join(base, 'img'), [
      { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, layers: [{ entries: [osr] }] },
      { platform: { os: 'linux', architecture: 'ppc64le' }, layers: [{ entries: [osr] }] },
    ]);
    const arm = (await hostJson(makeFakeHost(join(base, 'arm'), { name: 'arm-node', cpuinfoFile: 'test/data/archspec-targets/linux-amazon-neoverse_n1', osrelease: '5.10.0', arch: 'aarch64' }))).file;
    const m = await runCli(['match', '--hosts', arm, '--images', `oci:${built.dir}`, '--json']);
    expect(m.code, m.stderr).toBe(0);
    const j = JSON.parse(m.stdout);
    expect(j.matrix[0][0].verdict).toBe('compatible');
    const c = await runCli(['check', `oci:${built.dir}`, '--host', arm, '--json']);
    expect(c.code, c.stderr).toBe(0);
    expect(JSON.parse(c.stdout).score).toBe(j.matrix[0][0].score);
  });
});
