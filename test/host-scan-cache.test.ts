// The host library-scan cache (src/host/scan-cache.ts): a kept scan is what the next hostFacts()
// reads, and it is dropped the moment anything it read changes: a file rewritten in place, a
// library removed or added. Fake hosts hold this machine's real libc.so.6.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostFacts } from '../src/host/facts.js';
import { buildCli, runCli } from './helpers/cli.js';
import { makeFakeHost, type FakeHost } from './helpers/fake-host.js';

const LIBC = '/lib/x86_64-linux-gnu/libc.so.6';
const base = mkdtempSync(join(tmpdir(), 'cs-scan-cache-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
beforeAll(async () => {
  await buildCli();
});

/** Wait until every file made so far is older than the 2 s a cache entry needs. */
const settle = () => new Promise((ok) => setTimeout(ok, 2100));

function fakeHost(name: string): FakeHost {
  const h = makeFakeHost(base, { name, arch: 'x86_64' });
  mkdirSync(join(h.root, 'lib/x86_64-linux-gnu'), { recursive: true });
  copyFileSync(LIBC, join(h.root, 'lib/x86_64-linux-gnu/libc.so.6'));
  return h;
}

const entries = (dir: string): string[] => (existsSync(join(dir, 'host')) ? readdirSync(join(dir, 'host')).filter((n) => n.endsWith('.json')) : []);

describe.skipIf(!existsSync(LIBC))('host library-scan cache', () => {
  it('a kept scan is read by the next call; a file rewritten in place, or a library removed, makes it stale at once', async () => {
    const h = fakeHost('cached');
    const cache = join(base, 'cache-a');
    const at = { root: h.root, proc: h.proc, sys: h.sys };
    await settle();
    const first = await hostFacts({ ...at, cache });
    expect(first.libc.family).toBe('glibc');
    expect(first.libc.version).toMatch(/^2\.\d+$/);
    const [entry] = entries(cache);
    expect(entry, 'an entry is written for a settled root').toBeDefined();
    expect(await hostFacts({ ...at, cache: false }), 'the same facts with or without the cache').toEqual(first);

    // The entry is what the next call reads: a version forged into it is believed...
    const file = join(cache, 'host', entry!);
    const forge = () => {
      const e = JSON.parse(readFileSync(file, 'utf8')) as { scan: { libc: { version: string } } };
      e.scan.libc.version = '9.99';
      writeFileSync(file, JSON.stringify(e));
    };
    forge();
    expect((await hostFacts({ ...at, cache })).libc.version).toBe('9.99');
    // ...until a file it read changes in place (os-release, same path, same size).
    const osr = join(h.root, 'etc/os-release');
    writeFileSync(osr, readFileSync(osr, 'utf8').replace(/VERSION_ID="9\.\d"/, 'VERSION_ID="9.9"'));
    const edited = await hostFacts({ ...at, cache });
    expect(edited.os.versionId).toBe('9.9');
    expect(edited.libc.version).toBe(first.libc.version);
    expect(entries(cache), 'a root changed in the last 2 s is not kept').toEqual([entry]);

    // A library removed (its directory changes): the next call says so, not what was kept.
    await settle();
    await hostFacts({ ...at, cache });
    forge();
    renameSync(join(h.root, 'lib/x86_64-linux-gnu/libc.so.6'), join(h.dir, 'libc.so.6'));
    const removed = await hostFacts({ ...at, cache });
    expect(removed.libc.version).not.toBe('9.99');
    expect(removed.libc.family).toBeNull();
  }, 30_000);

  it('cache: false and CONTAINERSPEC_NO_CACHE=1 keep nothing; the CLI takes --cache-dir and --no-cache', async () => {
    const h = fakeHost('uncached');
    await settle();
    const none = join(base, 'cache-none');
    await hostFacts({ root: h.root, proc: h.proc, sys: h.sys, cache: false });
    expect(entries(none)).toEqual([]);
    const dir = join(base, 'cache-cli');
    const args = ['host', '--json', '--root', h.root, '--proc', h.proc, '--sys', h.sys];
    const off = await runCli([...args, '--cache-dir', dir, '--no-cache']);
    expect(off.code, off.stderr).toBe(0);
    expect(entries(dir)).toEqual([]);
    const env = await runCli([...args, '--cache-dir', dir], { env: { CONTAINERSPEC_NO_CACHE: '1', CONTAINERSPEC_CACHE_DIR: dir } });
    expect(env.code, env.stderr).toBe(0);
    expect(entries(dir)).toEqual([]);
    const on = await runCli([...args, '--cache-dir', dir]);
    expect(on.code, on.stderr).toBe(0);
    expect(entries(dir)).toHaveLength(1);
    expect(JSON.parse(on.stdout)).toEqual(JSON.parse(off.stdout));
  }, 30_000);
});
