// Issue 13, "verdicts users can trust": evidence over claims (the ELF machine wins over the config,
// the same verdict on every transport, the image's warnings in the report), wrong inputs as errors,
// and a score that means something. Run against the fixture images and this host.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../src/model/report.js';
import { buildCli, runCli, show } from './helpers/cli.js';
import { ensureFixtures, FIXTURES } from './helpers/images.js';
import { schemaErrors } from './helpers/schemas.js';

let skipAll = '';
beforeAll(async () => {
  await buildCli();
  const f = ensureFixtures();
  if (!f.ok) {
    skipAll = f.reason;
    console.warn(`skipping the verdict tests on fixtures: ${f.reason}`);
  }
}, 600_000);

const LYING = join(FIXTURES, 'sus-lying-config');
/** Every transport of the lying-config image: the config says amd64, the binaries are arm64. */
const TRANSPORTS = [
  { ref: `oci:${join(LYING, 'oci')}`, config: true },
  { ref: `docker-archive:${join(LYING, 'docker.tar')}`, config: true },
  { ref: `dir:${join(LYING, 'rootfs')}`, config: false },
  { ref: `tar:${join(LYING, 'rootfs.tar')}`, config: false },
];
const AMD64 = ['--set', 'arch=amd64', '--set', 'microarch=zen3', '--set', 'emulators=none'];
const ARM64 = ['--set', 'arch=arm64', '--set', 'microarch=neoverse_n1', '--set', 'emulators=none'];

describe('evidence over claims: an image whose config says amd64 while its binaries are arm64', () => {
  for (const t of TRANSPORTS) {
    it(`${t.ref.split(':')[0]}: incompatible on an amd64 host (arch fails naming arm64), compatible on an arm64 one${t.config ? ', the config mismatch a warning in JSON and text' : ''}`, async ({ skip }) => {
      if (skipAll) skip(skipAll);
      const r = await runCli(['check', t.ref, '--json', ...AMD64]);
      expect(r.code, show(r)).toBe(1);
      const rep = JSON.parse(r.stdout) as Report;
      expect(schemaErrors('report', rep)).toBeNull();
      expect(rep.image.platform).toBe('linux/arm64');
      const arch = rep.checks.find((c) => c.id === 'arch')!;
      expect(arch.status).toBe('fail');
      expect(arch.message).toContain('arm64');
      const codes = rep.warnings.map((w) => w.code);
      if (t.config) expect(codes).toContain('arch-mismatch');
      else expect(codes).not.toContain('arch-mismatch');
      const text = await runCli(['check', t.ref, ...AMD64]);
      expect(text.code).toBe(1);
      if (t.config) expect(text.stdout).toMatch(/warning: the config says amd64 but the image's binaries are arm64/);
      const arm = await runCli(['check', t.ref, '--json', ...ARM64]);
      expect(arm.code, show(arm)).toBe(0);
      expect((JSON.parse(arm.stdout) as Report).checks.find((c) => c.id === 'arch')!.status).toBe('pass');
    }, 180_000);
  }
});
