import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { hostFacts } from '../src/host/facts.js';
import { parseLdCache } from '../src/host/ldcache.js';

const ldconfig = ['/sbin/ldconfig', '/usr/sbin/ldconfig'].find((p) => spawnSync(p, ['--version']).status === 0);

describe.skipIf(!ldconfig)('glibc loader cache', () => {
  if (!ldconfig) console.warn('skipping loader-cache tests: no ldconfig on this machine');

  it('lists the same libraries as ldconfig -p on this machine', () => {
    const listed = execFileSync(ldconfig!, ['-p'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => /=> (\/\S+)$/.exec(l)?.[1])
      .filter((p): p is string => Boolean(p));
    const parsed = parseLdCache(readFileSync('/etc/ld.so.cache'));
    expect(parsed.length).toBe(listed.length);
    expect(new Set(parsed)).toEqual(new Set(listed));
  });

  it('a garbled cache gives what can be read, never a throw', () => {
    const buf = readFileSync('/etc/ld.so.cache');
    for (const cut of [10, 40, 60, 500, Math.floor(buf.length / 2)]) expect(() => parseLdCache(buf.subarray(0, cut))).not.toThrow();
    const bad = Buffer.from(buf);
    bad.writeUInt32LE(0xffffffff, bad.indexOf('glibc-ld.so.cache1.1') + 20);
    expect(() => parseLdCache(bad)).not.toThrow();
  });

  describe('host facts find an MPI registered only in the cache', () => {
    let root = '';
    let mpiFile = '';
    beforeAll(() => {
      execFileSync('node', ['fixtures/build.mjs'], { stdio: 'inherit' });
      root = mkdtempSync(join(tmpdir(), 'cs-ldcache-'));
      const libdir = 'fixtures/build/bullseye-openmpi/rootfs/usr/lib/x86_64-linux-gnu';
      mpiFile = readdirSync(libdir).find((n) => /^libmpi\.so\.40\.\d+/.test(n))!;
      mkdirSync(join(root, 'opt/site-mpi/lib'), { recursive: true });
      mkdirSync(join(root, 'etc'), { recursive: true });
      cpSync(join(libdir, mpiFile), join(root, 'opt/site-mpi/lib', mpiFile));
      writeFileSync(join(root, 'etc/ld.so.conf'), '/opt/site-mpi/lib\n');
      execFileSync(ldconfig!, ['-r', root]); // writes ROOT/etc/ld.so.cache
      rmSync(join(root, 'etc/ld.so.conf')); // now only the cache names the directory
    });
    it('reads the MPI library in a directory only ld.so.cache names', async () => {
      const f = await hostFacts({ root, proc: join(root, 'no-proc'), sys: join(root, 'no-sys') });
      const expected = JSON.parse(readFileSync('fixtures/build/bullseye-openmpi/expected.json', 'utf8')).mpi[0];
      expect(f.mpi.map((m) => [m.implementation, m.version, m.path])).toEqual([[expected.implementation, expected.version, `opt/site-mpi/lib/${mpiFile}`]]);
    });
  });
});
