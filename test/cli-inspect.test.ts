/**
 * The `containerspec inspect` command line: help, usage errors, unsupported references, and
 * the human and JSON output for the committed sample image.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSampleExpected, platformString } from './helpers/fixture-set.js';
import { buildCli, expectOneLineError, lines, runCli, show } from './helpers/cli.js';

const sample = loadSampleExpected();

beforeAll(async () => {
  await buildCli();
}, 5 * 60_000);

describe('inspect --help', () => {
  it('prints usage with examples and the transports, exit 0', async () => {
    const r = await runCli(['inspect', '--help']);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/^Usage: containerspec inspect/m);
    expect(r.stdout).toMatch(/Examples?:/);
    const examples = r.stdout.split('\n').filter((l) => /^\s+containerspec inspect \S+/.test(l));
    expect(examples.length, r.stdout).toBeGreaterThanOrEqual(2);
    for (const t of ['oci:', 'oci-archive:', 'docker-archive:', 'dir:', 'tar:']) expect(r.stdout).toContain(t);
    expect(r.stdout).toContain('--json');
    expect(r.stdout).toContain('--platform');
  });
});

describe('usage errors', () => {
  it('no image argument: exit 2, one line', async () => {
    const line = expectOneLineError(await runCli(['inspect']));
    expect(line).toMatch(/image/i);
  });

  it('unknown flag: exit 2, one line naming it', async () => {
    const line = expectOneLineError(await runCli(['inspect', 'oci:fixtures/sample', '--frobnicate']));
    expect(line).toContain('--frobnicate');
  });

  it('--parallel 0: exit 2, one line', async () => {
    const line = expectOneLineError(await runCli(['inspect', 'oci:fixtures/sample', '--parallel', '0']));
    expect(line).toContain('--parallel');
  });

  it('a path that does not exist: exit 2, one line naming it', async () => {
    const line = expectOneLineError(await runCli(['inspect', 'oci:fixtures/no-such-image']));
    expect(line).toContain('fixtures/no-such-image');
  });
});

describe('registry references', () => {
  // Port 1 on loopback: nothing listens there, so the refusal is real and immediate (no retries help).
  for (const ref of ['docker://127.0.0.1:1/lab/app:1', '127.0.0.1:1/lab/app:1']) {
    it(`${ref}: nothing listening: exit 2, one line naming the registry`, async () => {
      const line = expectOneLineError(await runCli(['inspect', ref, '--timeout', '5']));
      expect(line).toContain('127.0.0.1:1');
      expect(line).toMatch(/connection refused/i);
    });
  }
});

describe('inspect oci:fixtures/sample', () => {
  it('prints a human summary naming musl and its version', async () => {
    const r = await runCli(['inspect', 'oci:fixtures/sample']);
    expect(r.code, show(r)).toBe(0);
    expect(lines(r.stderr)).toEqual([]);
    expect(sample.musl).toBeTruthy();
    const libcLine = r.stdout.split('\n').find((l) => /\blibc\b/.test(l));
    expect(libcLine, r.stdout).toBeDefined();
    expect(libcLine).toContain('musl');
    expect(libcLine).toContain(sample.musl!);
    expect(r.stdout).toContain(platformString(sample.platform));
    if (sample.os) expect(r.stdout).toContain(sample.os.prettyName);
    expect(r.stdout).toContain(sample.manifestDigest);
    expect(r.stdout.trim().startsWith('{'), 'human output is not JSON').toBe(false);
  });

  it('--json parses and matches fixtures/sample.expected.json', async () => {
    const r = await runCli(['inspect', 'oci:fixtures/sample', '--json']);
    expect(r.code, show(r)).toBe(0);
    const f = JSON.parse(r.stdout);
    expect(f.kind).toBe('image');
    expect(f.name).toBe('oci:fixtures/sample');
    expect(f.platform.architecture).toBe(sample.platform.architecture);
    expect(f.platform.os).toBe(sample.platform.os);
    expect(f.platform.variant).toBe(sample.platform.variant);
    expect(f.libc.family).toBe(sample.glibc ? 'glibc' : 'musl');
    expect(f.libc.version).toBe(sample.glibc ?? sample.musl);
    if (sample.muslLoader) expect(f.libc.loaders).toContain(sample.muslLoader);
    expect(f.os.id).toBe(sample.os?.id ?? null);
    expect(f.os.versionId).toBe(sample.os?.versionId ?? null);
    expect(f.mpi).toHaveLength(sample.mpi.length);
    expect(f.cuda.runtime).toBe(sample.cuda?.runtime ?? null);
    expect(f.labels).toEqual(sample.labels);
    expect(f.env).toEqual(sample.env);
    expect(f.digest).toBe(sample.manifestDigest);
    expect(f.config.digest).toBe(sample.configDigest);
    expect(f.layers.map((l: { digest: string }) => l.digest)).toEqual(sample.layers.map((l) => l.digest));
    expect(f.requires.glibc).toBeNull();
    expect(f.warnings).toEqual([]);
  });
});
