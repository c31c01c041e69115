// Issue 13, "verdicts users can trust": evidence over claims (the ELF machine wins over the config,
// the same verdict on every transport, the image's warnings in the report), wrong inputs as errors,
// and a score that means something. Run against the fixture images and this host.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../src/model/report.js';
import Ajv from 'ajv';
import { buildCli, errorJson, errorLine, expectOneLineError, REPO, runCli, show } from './helpers/cli.js';
import { buildOci } from './helpers/oci.js';
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

describe('wrong inputs are errors naming what the thing is and the reference to use, not verdicts', () => {
  const cases: { what: string; ref: () => string | Promise<string>; says: RegExp }[] = [
    { what: 'dir: of an empty directory', ref: () => `dir:${mkdtempSync(join(tmpdir(), 'cs-empty-'))}`, says: /is an empty directory, not a root filesystem/ },
    { what: 'dir: of an OCI layout', ref: () => `dir:${join(LYING, 'oci')}`, says: new RegExp(`is an OCI image layout, not a root filesystem: use oci:${join(LYING, 'oci')}$`) },
    { what: 'tar: of a docker save archive', ref: () => `tar:${join(LYING, 'docker.tar')}`, says: new RegExp(`is a "docker save" archive, not a root filesystem tarball: use docker-archive:${join(LYING, 'docker.tar')}$`) },
    { what: 'tar: of a Docker 25+ save archive (an OCI layout with manifest.json)', ref: () => `tar:${join(FIXTURES, 'multiarch/docker25.tar')}`, says: /"docker save" archive.*use docker-archive:/ },
    { what: 'tar: of an OCI archive', ref: () => `tar:${join(FIXTURES, 'multiarch/oci-archive.tar')}`, says: /is an OCI image archive.*use oci-archive:/ },
    {
      what: 'an OCI image whose only layer holds no files (directories only)',
      ref: async () => {
        const dir = join(mkdtempSync(join(tmpdir(), 'cs-nofiles-')), 'oci');
        await buildOci(dir, [{ entries: [{ name: 'etc/', type: 'directory' }, { name: 'usr/', type: 'directory' }] }]);
        return `oci:${dir}`;
      },
      says: /holds no files at all.*nothing to judge/,
    },
    {
      what: 'dir: of an unpacked docker save',
      ref: () => {
        const dir = mkdtempSync(join(tmpdir(), 'cs-unpacked-save-'));
        writeFileSync(join(dir, 'manifest.json'), '[]');
        writeFileSync(join(dir, 'repositories'), '{}');
        mkdirSync(join(dir, 'a'.repeat(64)));
        return `dir:${dir}`;
      },
      says: /unpacked "docker save" archive.*use docker-archive:/,
    },
  ];
  for (const c of cases) {
    it(`${c.what}: exit 2, one line saying so (check and inspect)`, async ({ skip }) => {
      if (skipAll) skip(skipAll);
      const ref = await c.ref();
      for (const args of [['check', ref], ['check', ref, '--json'], ['inspect', ref]]) {
        const line = expectOneLineError(await runCli(args));
        expect(line).toMatch(c.says);
      }
    }, 60_000);
  }
  it('the flat rootfs tarball and the unpacked tree of the same image still read as images', async ({ skip }) => {
    if (skipAll) skip(skipAll);
    for (const ref of [`tar:${join(FIXTURES, 'multiarch/rootfs.tar')}`, `dir:${join(FIXTURES, 'multiarch/rootfs')}`]) {
      const r = await runCli(['inspect', ref, '--json']);
      expect(r.code, show(r)).toBe(0);
    }
  }, 60_000);
});

describe('scripts can read errors', () => {
  it('with --json an error prints exit 2, the stderr line, and the error JSON on stdout (valid against its schema); without --json stdout stays empty', async ({ skip }) => {
    if (skipAll) skip(skipAll);
    const ref = `tar:${join(LYING, 'docker.tar')}`;
    for (const bin of ['containerspec', 'can-i-run'] as const) {
      const args = bin === 'can-i-run' ? [ref, '--json'] : ['check', ref, '--json'];
      const r = await runCli(args, { bin });
      expect(r.code, show(r)).toBe(2);
      const line = errorLine(r, bin);
      const doc = errorJson(r);
      expect(errorSchema(doc)).toBeNull();
      expect(doc.error).toEqual({ kind: 'image-reference', message: line.slice(bin.length + 2), where: null });
      const plain = await runCli(args.filter((a) => a !== '--json'), { bin });
      expect(plain.code).toBe(2);
      expect(plain.stdout).toBe('');
    }
    const missing = await runCli(['inspect', 'dir:/nonexistent-cs-dir', '--json']);
    expect(errorJson(missing).error).toMatchObject({ kind: 'not-found', where: '/nonexistent-cs-dir' });
    const usage = await runCli(['check', ref, '--jsn', '--json']);
    expect(errorJson(usage).error.kind).toBe('usage');
  }, 60_000);

  it('commander\'s "did you mean" suggestion survives the one-line rule', async () => {
    const cmd = await runCli(['chek', 'x']);
    expect(cmd.code).toBe(2);
    expect(errorLine(cmd)).toMatch(/unknown command 'chek': did you mean check\?/);
    const opt = await runCli(['check', 'x', '--jsn']);
    expect(errorLine(opt)).toMatch(/unknown option '--jsn': did you mean --json\?/);
  });

  it('containerspec with no arguments prints its help on stderr and exits 2 (a usage error, like git)', async () => {
    const r = await runCli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Usage: containerspec \[options\] \[command\]/);
    expect(r.stderr).toContain('check [options] <image>');
  });

  it('can-i-run --help says can-i-run, not can-i-run check', async () => {
    const r = await runCli(['--help'], { bin: 'can-i-run' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: can-i-run \[options\] <image>/);
    expect(r.stdout).not.toContain('can-i-run check');
    const cs = await runCli(['check', '--help']);
    expect(cs.stdout).toMatch(/^Usage: containerspec check \[options\] <image>/);
  });
});

/** ajv errors of the error JSON against schemas/error-1.0.schema.json, or null. */
function errorSchema(doc: unknown): unknown {
  const schema = JSON.parse(readFileSync(join(REPO, 'schemas/error-1.0.schema.json'), 'utf8')) as object;
  const AjvCtor = ((Ajv as unknown as { default?: typeof Ajv }).default ?? Ajv) as unknown as new (o: object) => { compile(s: object): ((d: unknown) => boolean) & { errors?: unknown } };
  const v = new AjvCtor({ allErrors: true, strict: false }).compile(schema);
  return v(doc) ? null : v.errors;
}
