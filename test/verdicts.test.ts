// Issue 13, "verdicts users can trust": evidence over claims (the ELF machine wins over the config,
// the same verdict on every transport, the image's warnings in the report), wrong inputs as errors,
// and a score that means something. Run against the fixture images and this host.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cell, matchFacts } from '../src/check/match.js';
import { formatFacts } from '../src/cli/format-facts.js';
import { formatMatch, formatReport, shortenMiddle, terminalStyle } from '../src/cli/format-report.js';
import { emptyHostFacts, emptyImageFacts } from '../src/model/empty.js';
import type { Report } from '../src/model/report.js';
import { writeFacts } from './helpers/fake-host.js';
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
    expect(r.stderr).toContain('check|can-i-run [options] <image>');
  });

  it('can-i-run --help says can-i-run, not can-i-run check', async () => {
    const r = await runCli(['--help'], { bin: 'can-i-run' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: can-i-run \[options\] <image>/);
    expect(r.stdout).not.toContain('can-i-run check');
    const cs = await runCli(['check', '--help']);
    expect(cs.stdout).toMatch(/^Usage: containerspec check\|can-i-run \[options\] <image>/);
  });
});

/** ajv errors of the error JSON against schemas/error-1.0.schema.json, or null. */
function errorSchema(doc: unknown): unknown {
  const schema = JSON.parse(readFileSync(join(REPO, 'schemas/error-1.0.schema.json'), 'utf8')) as object;
  const AjvCtor = ((Ajv as unknown as { default?: typeof Ajv }).default ?? Ajv) as unknown as new (o: object) => { compile(s: object): ((d: unknown) => boolean) & { errors?: unknown } };
  const v = new AjvCtor({ allErrors: true, strict: false }).compile(schema);
  return v(doc) ? null : v.errors;
}

describe('--bind as HPC users write it: SRC[:DST] and directories, the real reason, missing libraries only', () => {
  const LIBDIR = '/usr/lib/x86_64-linux-gnu';
  const host = ['libz.so.1', 'libssl.so.3', 'libcrypto.so.3'].map((n) => join(LIBDIR, n));
  const trixie = `oci:${join(FIXTURES, 'trixie-mpich-cuda/oci')}`;
  const musl = `oci:${join(FIXTURES, 'musl-static/oci')}`;
  const haveLibs = () => host.every((p) => existsSync(p));
  const bindChecks = (r: Report) => r.checks.filter((c) => c.id === 'bind' || c.id.startsWith('bind:'));
  const run = async (args: string[]) => {
    const r = await runCli(['check', ...args, '--json']);
    expect([0, 1, 3], show(r)).toContain(r.code);
    const rep = JSON.parse(r.stdout) as Report;
    expect(schemaErrors('report', rep)).toBeNull();
    return rep;
  };

  it('--bind SRC:DST: the check is bind:SRC, judged at DST', async ({ skip }) => {
    if (skipAll) skip(skipAll);
    if (!haveLibs()) skip(`${host.join(', ')} are not all on this machine`);
    const rep = await run([trixie, '--bind', `${host[0]}:/opt/site/lib/libz.so.1`]);
    const [b, ...rest] = bindChecks(rep);
    expect(rest).toEqual([]);
    expect(b!.id).toBe(`bind:${host[0]}`);
    expect(b!.status).toBe('pass');
    expect(b!.host).toMatchObject({ path: host[0], target: '/opt/site/lib/libz.so.1', missing: [] });
    expect(b!.message).toContain('(at /opt/site/lib/libz.so.1)');
  }, 60_000);

  it('a missing DT_NEEDED is named as such: the fix says bind it, not a glibc problem; JSON lists only the missing library', async ({ skip }) => {
    if (skipAll) skip(skipAll);
    if (!haveLibs()) skip(`${host.join(', ')} are not all on this machine`);
    const rep = await run([trixie, '--bind', host[1]!]);
    const b = bindChecks(rep)[0]!;
    expect(b.status).toBe('fail');
    expect((b.host as { missing: string[] }).missing).toEqual(['libcrypto.so.3']); // not libc.so.6, which the image has
    expect(b.fix).toContain('libcrypto.so.3');
    expect(b.fix).not.toMatch(/glibc/);
  }, 60_000);

  it('a directory: every library in it judged on its own, and a summary naming the ones that fail; binding the dependency too passes', async ({ skip }) => {
    if (skipAll) skip(skipAll);
    if (!haveLibs()) skip(`${host.join(', ')} are not all on this machine`);
    const dir = mkdtempSync(join(tmpdir(), 'cs-binddir-'));
    for (const p of host.slice(0, 2)) copyFileSync(p, join(dir, p.slice(p.lastIndexOf('/') + 1)));
    writeFileSync(join(dir, 'libfoo.so'), '/* GNU ld script */\nINPUT(libz.so.1)\n'); // a linker script, not a library: left out
    const rep = await run([trixie, '--bind', `${dir}:/opt/site/lib`]);
    const checks = bindChecks(rep);
    expect(checks.map((c) => c.id).sort()).toEqual(['bind', `bind:${join(dir, 'libssl.so.3')}`, `bind:${join(dir, 'libz.so.1')}`]);
    const summary = checks.find((c) => c.id === 'bind')!;
    expect(summary.status).toBe('fail');
    expect(summary.message).toBe(`1 of the 2 libraries in ${dir} cannot be bound: libssl.so.3 (needs libcrypto.so.3)`);
    expect(checks.find((c) => c.id === `bind:${join(dir, 'libz.so.1')}`)!.host).toMatchObject({ target: '/opt/site/lib/libz.so.1' });
    copyFileSync(host[2]!, join(dir, 'libcrypto.so.3'));
    const again = bindChecks(await run([trixie, '--bind', `${dir}:/opt/site/lib`]));
    expect(again.find((c) => c.id === 'bind')!.message).toBe(`all 3 libraries in ${dir} can be bound`);
    expect(again.every((c) => c.status === 'pass')).toBe(true);
  }, 60_000);

  it('a glibc library into a musl image: the reason is the C library family, and the fix does not ask for an older glibc', async ({ skip }) => {
    if (skipAll) skip(skipAll);
    if (!haveLibs()) skip(`${host.join(', ')} are not all on this machine`);
    const b = bindChecks(await run([musl, '--bind', host[0]!]))[0]!;
    expect(b.status).toBe('fail');
    expect(b.message).toMatch(/linked against glibc .* the image's C library is musl/);
    expect(b.fix).toMatch(/musl/);
    expect(b.fix).not.toMatch(/older/);
  }, 60_000);

  it('a bad --bind is one line naming it', async ({ skip }) => {
    if (skipAll) skip(skipAll);
    for (const [spec, want] of [['/nonexistent-cs/libx.so:/opt/x', /no such file or directory on this host: \/nonexistent-cs\/libx\.so/], ['a:b:c:d', /expected SRC\[:DST\]/]] as const) {
      const line = expectOneLineError(await runCli(['check', trixie, '--bind', spec]));
      expect(line).toMatch(want);
    }
  }, 60_000);
});

describe('match at a glance', () => {
  const amd = (name: string) => {
    const h = emptyHostFacts(name);
    h.platform = { os: 'linux', architecture: 'amd64', variant: null, evidence: [] };
    h.cpu.microarch = 'x86_64';
    h.kernel.release = '6.1.0';
    return h;
  };
  it('host names are unique, and a host without one is named after its facts file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-match-names-'));
    const files = [
      writeFacts(join(dir, 'rack1-node07.json'), amd('vm')),
      writeFacts(join(dir, 'rack2-node03.json'), amd('vm')),
      writeFacts(join(dir, 'gpu-a.json'), amd('')),
    ];
    const img = emptyImageFacts('registry.example.org/very/long/group/name/application:2024.06-cuda12.4', 'oci');
    img.platform = { os: 'linux', architecture: 'amd64', variant: null, evidence: [] };
    img.cuda.runtime = '12.4';
    const imgFile = writeFacts(join(dir, 'img.json'), img);
    const r = await runCli(['match', '--hosts', ...files, '--images', imgFile, '--json']);
    expect(r.code, show(r)).toBe(0);
    const m = JSON.parse(r.stdout) as { hosts: string[]; matrix: { verdict: string; failed: string[]; unknown: string[] }[][] };
    expect(schemaErrors('match', m)).toBeNull();
    expect(m.hosts).toEqual(['vm (rack1-node07.json)', 'vm (rack2-node03.json)', 'gpu-a']);
    // each cell says which checks failed
    expect(m.matrix[0]!.map((c) => [c.verdict, c.failed])).toEqual([['incompatible', ['gpu']], ['incompatible', ['gpu']], ['incompatible', ['gpu']]]);
    const text = await runCli(['match', '--hosts', ...files, '--images', imgFile]);
    expect(text.stdout).toContain('- gpu');
    // shortened from the middle: both the registry and the tag stay visible
    expect(text.stdout).toContain('registry.examp…4.06-cuda12.4');
  }, 60_000);
  it('an unknown cell names the checks that cannot tell', () => {
    const h = amd('n');
    h.kernel.release = null;
    const img = emptyImageFacts('app', 'oci');
    img.platform = { os: 'linux', architecture: 'amd64', variant: null, evidence: [] };
    img.libc = { family: 'glibc', version: '2.36', loaders: [], evidence: [] };
    img.requires.kernel = { version: '3.2.0', evidence: [] };
    const m = matchFacts([h], [img]);
    expect(cell(m.scores[0]![0]!).verdict).toBe('unknown');
    expect(m.reasons[0]![0]).toEqual({ failed: [], unknown: ['kernel'] });
    expect(formatMatch(m)).toMatch(/\?\d+ kernel/);
  });
  it('shortenMiddle keeps both ends', () => {
    expect(shortenMiddle('abcdefghijklmnopqrstuvwxyz0123456789', 11)).toBe('abcde…56789');
    expect(shortenMiddle('short', 11)).toBe('short');
  });
});

describe('README and help for a new user', () => {
  it("the quick start's first command runs can-i-run on the shipped sample, and the README says how to put the commands on PATH", () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    const quick = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## Commands'));
    const first = /```sh\n([^\n]*)/.exec(quick)?.[1] ?? '';
    expect(first).toMatch(/can-i-run(\.js)? oci:fixtures\/sample/);
    // two commands on a fresh machine: the main job on the shipped sample, and npm test
    const block = /```sh\n([\s\S]*?)```/.exec(quick)?.[1] ?? '';
    expect(block.trim().split('\n').map((l) => l.replace(/\s+#.*$/, ''))).toEqual(['npm install && node bin/can-i-run.js oci:fixtures/sample', 'npm test']);
    expect(quick).toContain('npm link');
    expect(quick).toContain('npm install -g .');
  });
  it('inspect --help names the shipped sample by a path that works from any directory', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'cs-anywhere-'));
    const help = await runCli(['inspect', '--help'], { cwd });
    const line = help.stdout.split('\n').find((l) => /containerspec inspect oci:\S*fixtures\/sample\s*$/.test(l));
    expect(line, help.stdout).toBeDefined();
    const ref = line!.trim().split(/\s+/)[2]!;
    const r = await runCli(['inspect', ref], { cwd });
    expect(r.code, show(r)).toBe(0);
    const cir = await runCli([ref], { cwd, bin: 'can-i-run' });
    expect([0, 1, 3], show(cir)).toContain(cir.code);
  }, 60_000);
});

describe('terminal output', () => {
  const report = async () => {
    const h = emptyHostFacts('n1');
    h.platform = { os: 'linux', architecture: 'amd64', variant: null, evidence: [] };
    h.cpu.microarch = 'icelake';
    h.cpu.cores = 1;
    h.kernel.release = '2.6.32';
    const i = emptyImageFacts('registry.example.org/hpc/app:1', 'oci');
    i.platform = { os: 'linux', architecture: 'amd64', variant: null, evidence: [] };
    i.libc = { family: 'glibc', version: '2.36', loaders: [], evidence: [] };
    i.requires.kernel = { version: '3.2.0', evidence: [] };
    return { h, r: await (await import('../src/check/check.js')).check(i, h) };
  };
  it('plain on a pipe; colour for PASS/WARN/FAIL on a terminal unless NO_COLOR is set', async () => {
    const { r } = await report();
    expect(terminalStyle({ isTTY: false, columns: 120 }, {})).toEqual({ color: false, width: null });
    expect(terminalStyle({ isTTY: true, columns: 120 }, {})).toEqual({ color: true, width: 120 });
    expect(terminalStyle({ isTTY: true, columns: 120 }, { NO_COLOR: '1' }).color).toBe(false);
    expect(formatReport(r)).not.toContain('\x1b[');
    const coloured = formatReport(r, { color: true, width: null });
    expect(coloured).toContain('\x1b[31mFAIL');
    expect(coloured).toContain('\x1b[32mPASS');
    const piped = await runCli(['check', 'oci:fixtures/sample', '--set', 'kernel=2.6.32']);
    expect(piped.stdout).not.toContain('\x1b[');
  });
  it('lines wrapped to the terminal width, words kept whole; the grammar of the host summary and the microarch message', async () => {
    const { h, r } = await report();
    const text = formatReport(r, { color: false, width: 60 });
    for (const l of text.split('\n').slice(1)) expect(l.length, l).toBeLessThanOrEqual(60);
    expect(text.replace(/\s+/g, ' ')).toContain(r.checks.find((c) => c.id === 'kernel')!.message.replace(/\s+/g, ' '));
    expect(formatFacts(h)).toMatch(/1 core\b/);
    expect(formatFacts(h)).not.toMatch(/1 cores/);
    const ok = await (await import('../src/check/check.js')).check((() => {
      const i = emptyImageFacts('g', 'oci');
      i.platform = { os: 'linux', architecture: 'amd64', variant: null, evidence: [] };
      return i;
    })(), h);
    expect(ok.checks.find((c) => c.id === 'microarch')!.message).toContain('on an icelake host');
  });
});

describe('a check that does not apply says so (report 2.1), instead of UNKNOWN', () => {
  const ARM = join(FIXTURES, 'bookworm-arm64', 'oci');
  it('the CPU-target check of an arm64 image on an amd64 host: not-applicable, advisory, no points; verdict and score as before', async ({ skip }) => {
    if (skipAll) return skip(skipAll);
    for (const emulators of ['none', 'arm64']) {
      const r = await runCli(['check', `oci:${ARM}`, '--json', ...AMD64.slice(0, 4), '--set', `emulators=${emulators}`]);
      const rep = JSON.parse(r.stdout) as Report;
      expect(rep.schemaVersion).toBe('2.1');
      expect(schemaErrors('report', rep)).toBeNull();
      expect(schemaErrors('report-2.0', rep), 'a 2.0 reader would refuse the new status: hence the new version').not.toBeNull();
      const micro = rep.checks.find((c) => c.id === 'microarch')!;
      expect(micro).toMatchObject({ status: 'not-applicable', required: false, penalty: 0 });
      expect(micro.message).toMatch(/does not run natively on this amd64 host/);
      expect(rep.penalties.map((p) => p.check)).not.toContain('microarch');
      // Emulated: a warning that costs the emulation penalty only; not emulated: the arch check fails.
      if (emulators === 'arm64') expect([rep.verdict, rep.score]).toEqual(['compatible', 60]);
      else expect([rep.verdict, r.code]).toEqual(['incompatible', 1]);
      const text = await runCli(['check', `oci:${ARM}`, ...AMD64.slice(0, 4), '--set', `emulators=${emulators}`]);
      expect(text.stdout).toMatch(/^ {2}N\/A {5}microarch {2}the image \(arm64\) does not run natively on this amd64 host, so its CPU target does not apply$/m);
      expect(text.stdout).not.toMatch(/UNKNOWN/);
    }
  });
});
