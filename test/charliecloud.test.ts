/**
 * Interop with real Charliecloud: an image converted by ch-convert into a Charliecloud directory
 * image reads the same through dir: as through oci:, and running the image's own libc with ch-run
 * prints the glibc version inspect reported statically.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { inspect } from '../src/inspect.js';

const env = { ...process.env, PATH: `/usr/bin:${process.env.PATH ?? ''}`, USER: process.env.USER ?? 'root' };
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { env }).status === 0;
const missing = ['ch-convert', 'ch-run'].filter((c) => !has(c));
let cannotRun: string | null = null;
if (missing.length) console.warn(`skipping Charliecloud interop: ${missing.join(', ')} not installed (npm test installs charliecloud-runtime and charliecloud-builders)`);

const images = ['bullseye-openmpi', 'trixie-mpich-cuda'] as const;

describe.skipIf(missing.length > 0)('Charliecloud directory images', () => {
  const dirs: Record<string, string> = {};
  beforeAll(() => {
    execFileSync('node', ['fixtures/build.mjs'], { stdio: 'inherit' });
    for (const name of images) {
      const out = join(mkdtempSync(join(tmpdir(), 'cs-ch-')), name);
      execFileSync('ch-convert', ['-i', 'tar', '-o', 'dir', `fixtures/build/${name}/rootfs.tar`, out], { env, stdio: 'pipe' });
      dirs[name] = out;
    }
    // Can ch-run start a container here (unprivileged user namespaces)?
    const probe = spawnSync('ch-run', ['--no-passwd', dirs[images[0]]!, '--', '/lib/x86_64-linux-gnu/libc.so.6'], { env, encoding: 'utf8' });
    if (probe.status !== 0) {
      cannotRun = (probe.stderr || '').trim().split('\n')[0] ?? `exit ${probe.status}`;
      console.warn(`skipping ch-run checks: ch-run cannot start a container here (${cannotRun})`);
    }
  }, 300_000);

  for (const name of images) {
    it(`${name}: dir: of the ch-convert output reports what oci: reports`, async () => {
      const viaDir = await inspect(`dir:${dirs[name]}`);
      const viaOci = await inspect(`oci:fixtures/build/${name}/oci`);
      const expected = JSON.parse(readFileSync(`fixtures/build/${name}/expected.json`, 'utf8'));
      expect(viaDir.libc).toMatchObject({ family: 'glibc', version: expected.glibc });
      expect(viaDir.platform.architecture).toBe(viaOci.platform.architecture);
      expect(viaDir.mpi.map((m) => [m.implementation, m.version, m.soname])).toEqual(viaOci.mpi.map((m) => [m.implementation, m.version, m.soname]));
      expect(viaDir.requires.glibc?.version).toBe(viaOci.requires.glibc?.version);
      expect(viaDir.cuda.runtime).toBe(viaOci.cuda.runtime);
    });

    it(`${name}: ch-run of the image's own libc prints the version inspect found without running it`, async (ctx) => {
      if (cannotRun) ctx.skip();
      const facts = await inspect(`dir:${dirs[name]}`);
      const libc = facts.libc.evidence.find((e) => e.path)?.path;
      expect(libc).toBeTruthy();
      const r = spawnSync('ch-run', ['--no-passwd', dirs[name]!, '--', `/${libc}`], { env, encoding: 'utf8' });
      expect(r.status).toBe(0);
      const m = /release version (\d+\.\d+)/.exec(r.stdout);
      expect(m?.[1]).toBe(facts.libc.version);
    });
  }
});
