/**
 * docker:// images against a real docker-registry over TLS on 127.0.0.1 (fixture images pushed with
 * skopeo): the same facts as the local layout, every platform of an index, Basic and token auth with
 * every credential source, TLS trust, the faults a network brings (each a one-line exit 2 with
 * nothing cached, or survived), the layer-facts cache, and progress only on a terminal.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspect } from '../src/inspect.js';
import { buildCli, errorLine, runCli, show, type CliResult } from './helpers/cli.js';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { ensureFixtures, expected, FIXTURES, oci } from './helpers/images.js';
import { freePort, registryMissing, removeTestCerts, startRegistry, stopChild, tlsRequest, type TestRegistry } from './helpers/registry.js';

const missing = registryMissing();
if (missing) console.warn(`skipping registry tests: ${missing}`);

const USERS = { alice: 'wonderland-7Qx' };
const IMG = 'bullseye-openmpi';

type Facts = Record<string, unknown> & { name: string; transport: string; digest: string; layers: { digest: string }[]; platform: { architecture: string } };

/** Facts without what names the reference (the rest must be equal whatever the transport). */
function content(f: Facts): Omit<Facts, 'name' | 'transport'> {
  const { name: _n, transport: _t, ...rest } = f;
  return rest;
}

/** Files under a directory, recursively (a cache's entries). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

/** Layer entries kept in a cache directory. */
const layerEntries = (cacheDir: string) => filesUnder(join(cacheDir, 'layers')).filter((f) => f.endsWith('.json'));

describe.skipIf(missing !== null)('docker:// images from a real registry', () => {
  let reg: TestRegistry;
  let basic: TestRegistry;
  let token: TestRegistry;
  let proxy: FaultProxy;
  let local: Facts;
  let tls: string[];
  const tmp = mkdtempSync(join(tmpdir(), 'cs-registry-'));
  let n = 0;
  /** A fresh cache directory. */
  const cacheDir = () => {
    const d = join(tmp, `cache-${n++}`);
    mkdirSync(d);
    return d;
  };
  /** Run the CLI with a cache of its own (returned) unless one is given. */
  const cli = async (args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult & { cache: string }> => {
    const cache = env.CONTAINERSPEC_CACHE_DIR ?? cacheDir();
    return { ...(await runCli(args, { env: { HOME: tmp, REGISTRY_AUTH_FILE: '', ...env, CONTAINERSPEC_CACHE_DIR: cache } })), cache };
  };
  /** The layer blobs (not configs) of `repo` the proxy was asked for since `from`. */
  const layerGets = (repo: string, layers: string[], from = 0) =>
    proxy.requests.slice(from).filter((r) => r.method === 'GET' && layers.some((d) => r.path === `/v2/${repo}/blobs/${d}`));

  beforeAll(async () => {
    const f = ensureFixtures();
    if (!f.ok) throw new Error(f.reason);
    await buildCli();
    [reg, basic, token] = await Promise.all([startRegistry({ deleteEnabled: true }), startRegistry({ auth: 'htpasswd', users: USERS }), startRegistry({ auth: 'token', users: USERS })]);
    const creds = `alice:${USERS.alice}`;
    await Promise.all([
      reg.push(`${oci(IMG)}:latest`, 'lab/mpi:1'),
      reg.push(`${oci('multiarch')}:latest`, 'lab/multi:1', { all: true }),
      reg.push(`${oci('sus-symlink-loop')}:latest`, 'lab/loop:1'),
      reg.push(`${oci('sus-corrupt-elf')}:latest`, 'lab/elf:1'),
      reg.push(`${oci('bookworm-arm64')}:latest`, 'lab/arm:1'),
      basic.push(`${oci(IMG)}:latest`, 'lab/mpi:1', { creds }),
      token.push(`${oci(IMG)}:latest`, 'lab/mpi:1', { creds }),
    ]);
    proxy = await startFaultProxy(reg);
    tls = ['--ca-file', reg.caFile];
    local = (await inspect(oci(IMG))) as unknown as Facts;
  }, 300_000);

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([reg?.stop(), basic?.stop(), token?.stop()]);
    removeTestCerts();
  });

  describe('reading', () => {
    it('inspect docker:// reports exactly what oci: reports for the same image', async () => {
      const r = await cli(['inspect', `docker://${reg.host}/lab/mpi:1`, '--json', ...tls]);
      expect(r.code, show(r)).toBe(0);
      expect(r.stderr, 'nothing on stderr on a pipe').toBe('');
      const f = JSON.parse(r.stdout) as Facts;
      expect(f.transport).toBe('docker');
      expect(f.digest).toBe(expected(IMG).manifestDigest);
      expect(content(f)).toEqual(content(local));
    });

    it('a bare reference means docker://', async () => {
      const r = await cli(['inspect', `${reg.host}/lab/mpi:1`, '--json', ...tls]);
      expect(r.code, show(r)).toBe(0);
      expect((JSON.parse(r.stdout) as Facts).digest).toBe(expected(IMG).manifestDigest);
    });

    it('--platform all: one facts document per platform of the index, each the platform it says', async () => {
      const r = await cli(['inspect', `${reg.host}/lab/multi:1`, '--platform', 'all', '--json', ...tls]);
      expect(r.code, show(r)).toBe(0);
      const all = JSON.parse(r.stdout) as Facts[];
      const want = (expected('multiarch').platforms ?? []).map((p) => p.platform.architecture);
      expect(want.length).toBeGreaterThan(1);
      expect(all.map((f) => f.platform.architecture)).toEqual(want);
      expect(new Set(all.map((f) => f.digest)).size).toBe(want.length);
    });

    it('--platform picks one entry; a platform the index lacks is an error listing those it has', async () => {
      const arm = await cli(['inspect', `${reg.host}/lab/multi:1`, '--platform', 'linux/arm64', '--json', ...tls]);
      expect(arm.code, show(arm)).toBe(0);
      expect((JSON.parse(arm.stdout) as Facts).platform.architecture).toBe('arm64');
      const none = await cli(['inspect', `${reg.host}/lab/multi:1`, '--platform', 'linux/s390x', ...tls]);
      expect(none.code).toBe(2);
      expect(errorLine(none)).toMatch(/linux\/s390x.*linux\/amd64/);
    });

    it('an image by digest reads the same; an unknown tag is one line, exit 2', async () => {
      const byDigest = await cli(['inspect', `${reg.host}/lab/mpi@${expected(IMG).manifestDigest}`, '--json', ...tls]);
      expect(byDigest.code, show(byDigest)).toBe(0);
      expect(content(JSON.parse(byDigest.stdout) as Facts)).toEqual(content(local));
      const unknown = await cli(['inspect', `${reg.host}/lab/mpi:nope`, ...tls]);
      expect(unknown.code).toBe(2);
      expect(errorLine(unknown)).toMatch(/lab\/mpi.*nope.*unknown tag/);
    });
  });

  describe('TLS', () => {
    it('an untrusted certificate is refused with what to do; --tls-verify=false reads it anyway', async () => {
      const refused = await cli(['inspect', `${reg.host}/lab/mpi:1`]);
      expect(refused.code).toBe(2);
      expect(errorLine(refused)).toMatch(/certificate.*--ca-file/);
      const lab = await cli(['inspect', `${reg.host}/lab/mpi:1`, '--tls-verify=false', '--json']);
      expect(lab.code, show(lab)).toBe(0);
      expect((JSON.parse(lab.stdout) as Facts).digest).toBe(expected(IMG).manifestDigest);
    });

    it('a CA in a certs.d directory for the host is trusted', async () => {
      const f = await inspect(`${reg.host}/lab/mpi:1`, { registry: { certDirs: [reg.certsRoot] } });
      expect(f.digest).toBe(expected(IMG).manifestDigest);
    });

    it('a TLS client to a plain-HTTP port, or plain HTTP to a TLS port, fails with one line', async () => {
      const r = await cli(['inspect', `${reg.host}/lab/mpi:1`, '--plain-http', '--timeout', '5']);
      expect(r.code).toBe(2);
      expect(errorLine(r)).toContain(reg.host);
    });
  });

  describe('authentication', () => {
    const wrong = 'alice:not-the-password';
    it('Basic (htpasswd): anonymous is told to log in, a wrong password is refused, the secret is never printed', async () => {
      const anon = await cli(['inspect', `${basic.host}/lab/mpi:1`, ...tls]);
      expect(anon.code).toBe(2);
      expect(errorLine(anon)).toMatch(/credentials.*--creds/);
      const bad = await cli(['inspect', `${basic.host}/lab/mpi:1`, '--creds', wrong, ...tls]);
      expect(bad.code).toBe(2);
      expect(errorLine(bad)).toMatch(/refused/);
      expect(bad.stderr + bad.stdout).not.toContain('not-the-password');
    });

    it('Basic: --creds, --creds-file, REGISTRY_AUTH_FILE and a credential helper on PATH each work', async () => {
      const ref = `${basic.host}/lab/mpi:1`;
      const credsFile = join(tmp, 'creds');
      writeFileSync(credsFile, `alice:${USERS.alice}\n`, { mode: 0o600 });
      const authFile = join(tmp, 'auth.json');
      writeFileSync(authFile, JSON.stringify({ auths: { [basic.host]: { auth: Buffer.from(`alice:${USERS.alice}`).toString('base64') } } }));
      const bin = join(tmp, 'bin');
      mkdirSync(bin, { recursive: true });
      const helper = join(bin, 'docker-credential-cstest');
      writeFileSync(helper, `#!/bin/sh\nread server\n[ "$1" = get ] && [ "$server" = "${basic.host}" ] && printf '{"ServerURL":"%s","Username":"alice","Secret":"${USERS.alice}"}' "$server" && exit 0\necho "credentials not found in native keychain"; exit 1\n`);
      chmodSync(helper, 0o755);
      const dockerHome = join(tmp, 'helper-home');
      mkdirSync(join(dockerHome, '.docker'), { recursive: true });
      writeFileSync(join(dockerHome, '.docker/config.json'), JSON.stringify({ credHelpers: { [basic.host]: 'cstest' } }));
      const runs = await Promise.all([
        cli(['inspect', ref, '--json', '--creds', `alice:${USERS.alice}`, ...tls]),
        cli(['inspect', ref, '--json', '--creds-file', credsFile, ...tls]),
        cli(['inspect', ref, '--json', ...tls], { REGISTRY_AUTH_FILE: authFile }),
        cli(['inspect', ref, '--json', ...tls], { HOME: dockerHome, PATH: `${bin}:${process.env.PATH ?? ''}` }),
      ]);
      for (const r of runs) {
        expect(r.code, show(r)).toBe(0);
        expect((JSON.parse(r.stdout) as Facts).digest).toBe(expected(IMG).manifestDigest);
        expect(r.stdout + r.stderr).not.toContain(USERS.alice);
      }
      for (const c of runs.map((r) => r.cache)) for (const e of filesUnder(c)) expect(readFileSync(e, 'latin1')).not.toContain(USERS.alice);
    });

    it('token auth: a token per repository scope from the realm; wrong credentials refused by the token server', async () => {
      const before = token.token!.requests.length;
      const ok = await cli(['inspect', `${token.host}/lab/mpi:1`, '--json', '--creds', `alice:${USERS.alice}`, ...tls]);
      expect(ok.code, show(ok)).toBe(0);
      const asked = token.token!.requests.slice(before);
      expect(asked.length).toBeGreaterThan(0);
      expect(asked.flatMap((r) => r.scopes)).toContain('repository:lab/mpi:pull');
      expect(asked.every((r) => r.authorized)).toBe(true);
      const bad = await cli(['inspect', `${token.host}/lab/mpi:1`, '--creds', wrong, ...tls]);
      expect(bad.code).toBe(2);
      expect(errorLine(bad)).toMatch(/refused/);
      const anon = await cli(['inspect', `${token.host}/lab/mpi:1`, ...tls]);
      expect(anon.code).toBe(2);
      expect(errorLine(anon)).toMatch(/credentials/);
    });
  });

  describe('faults (through a loopback proxy)', () => {
    const ref = () => `${proxy.host}/lab/mpi:1`;
    const layerDigests = () => local.layers.map((l) => l.digest);
    const blob = /^\/v2\/lab\/mpi\/blobs\/sha256:/;

    // Blobs are received on a worker thread (blob-pool.ts) unless CONTAINERSPEC_BLOB_WORKER=0: both ways resume.
    for (const [how, env] of [['on the worker thread', {}], ['on the main thread', { CONTAINERSPEC_BLOB_WORKER: '0' }]] as const) {
      it(`a connection cut mid-blob is resumed with a Range request, and the facts are right (${how})`, async () => {
        const big = [...local.layers].sort((a, b) => ((b as { size?: number }).size ?? 0) - ((a as { size?: number }).size ?? 0))[0]!.digest;
        const from = proxy.requests.length;
        proxy.set({ kind: 'cut', match: new RegExp(`/blobs/${big}$`), afterBytes: 100_000, times: 1 });
        const r = await cli(['inspect', ref(), '--json', ...tls], env);
        proxy.set(null);
        expect(r.code, show(r)).toBe(0);
        expect(content(JSON.parse(r.stdout) as Facts)).toEqual(content(local));
        const gets = proxy.requests.slice(from).filter((q) => q.path.endsWith(big));
        expect(gets.map((q) => q.fault)).toEqual(['cut', null]);
        expect(gets[1]!.headers.range).toMatch(/^bytes=\d{5,}-$/);
      });

      it(`a blob cut every time: exit 2 once the resumes run out, nothing cached (${how})`, async () => {
        const big = local.layers[0]!.digest;
        proxy.set({ kind: 'cut', match: new RegExp(`/blobs/${big}$`), afterBytes: 50_000, times: 100 });
        const r = await cli(['inspect', ref(), ...tls], env);
        proxy.set(null);
        expect(r.code, show(r)).toBe(2);
        expect(errorLine(r)).toContain(proxy.host);
        expect(layerEntries(r.cache)).toEqual([]);
      });
    }

    it('500 twice, then success: retried, facts right', async () => {
      const from = proxy.requests.length;
      proxy.set({ kind: 'status', match: /\/manifests\//, status: 500, times: 2 });
      const r = await cli(['inspect', ref(), '--json', ...tls]);
      proxy.set(null);
      expect(r.code, show(r)).toBe(0);
      expect((JSON.parse(r.stdout) as Facts).digest).toBe(expected(IMG).manifestDigest);
      expect(proxy.requests.slice(from).filter((q) => q.fault === 'status')).toHaveLength(2);
    });

    it('429 with Retry-After is honoured', async () => {
      proxy.set({ kind: 'status', match: /\/manifests\//, status: 429, times: 1, headers: { 'retry-after': '1' } });
      const t0 = Date.now();
      const r = await cli(['inspect', ref(), '--json', ...tls]);
      proxy.set(null);
      expect(r.code, show(r)).toBe(0);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    });

    it('one corrupted byte in a layer: exit 2, digest mismatch, nothing cached', async () => {
      proxy.set({ kind: 'corrupt', match: new RegExp(`/blobs/${layerDigests()[0]}$`), offset: 5000 });
      const r = await cli(['inspect', ref(), ...tls]);
      proxy.set(null);
      expect(r.code, show(r)).toBe(2);
      expect(errorLine(r)).toMatch(/digest mismatch|corrupt/);
      expect(layerEntries(r.cache)).toEqual([]);
    });

    it('a manifest whose bytes do not match the digest in the reference: exit 2', async () => {
      proxy.set({ kind: 'corrupt', match: /\/manifests\/sha256:/, offset: 20 });
      const r = await cli(['inspect', `${proxy.host}/lab/mpi@${expected(IMG).manifestDigest}`, ...tls]);
      proxy.set(null);
      expect(r.code, show(r)).toBe(2);
      expect(errorLine(r)).toMatch(/digest mismatch/);
    });

    it('a registry slower than --timeout: exit 2 saying so', async () => {
      proxy.set({ kind: 'delay', match: /\/manifests\//, ms: 4000 });
      const t0 = Date.now();
      const r = await cli(['inspect', ref(), '--timeout', '1', ...tls]);
      proxy.set(null);
      expect(r.code, show(r)).toBe(2);
      expect(errorLine(r)).toMatch(/no answer for 1 s.*--timeout/);
      expect(Date.now() - t0).toBeLessThan(15_000);
    });

    it('a server answering an HTML page: exit 2 saying it is not the registry API', async () => {
      proxy.set({ kind: 'html', match: /\/manifests\// });
      const r = await cli(['inspect', ref(), ...tls]);
      proxy.set(null);
      expect(r.code, show(r)).toBe(2);
      expect(errorLine(r)).toMatch(/HTML/);
    });

    it('the registry stopping mid-blob: exit 2, nothing cached', async () => {
      const mine = await startFaultProxy(reg);
      mine.set({ kind: 'stall', match: blob, afterBytes: 50_000, ms: 30_000 });
      const run = cli(['inspect', `${mine.host}/lab/mpi:1`, '--timeout', '5', ...tls]);
      // Stop it once a blob has started to flow.
      for (let i = 0; i < 100 && !mine.requests.some((q) => q.fault === 'stall'); i++) await new Promise((res) => setTimeout(res, 100));
      await mine.stop();
      const r = await run;
      expect(r.code, show(r)).toBe(2);
      expect(errorLine(r)).toContain(mine.host);
      expect(layerEntries(r.cache)).toEqual([]);
    });
  });

  describe('the layer-facts cache', () => {
    it('a second inspect with the same cache fetches no layer and prints the same facts', async () => {
      const cache = cacheDir();
      const env = { CONTAINERSPEC_CACHE_DIR: cache };
      const layers = local.layers.map((l) => l.digest);
      const cold = await cli(['inspect', `${proxy.host}/lab/mpi:1`, '--json', ...tls], env);
      expect(cold.code, show(cold)).toBe(0);
      expect(layerEntries(cache).length).toBe(layers.length);
      const from = proxy.requests.length;
      const warm = await cli(['inspect', `${proxy.host}/lab/mpi:1`, '--json', ...tls], env);
      expect(warm.code, show(warm)).toBe(0);
      expect(layerGets('lab/mpi', layers, from)).toEqual([]);
      expect(warm.stdout).toBe(cold.stdout);
      // --no-cache reads them again.
      const from2 = proxy.requests.length;
      const again = await cli(['inspect', `${proxy.host}/lab/mpi:1`, '--json', '--no-cache', ...tls], env);
      expect(again.code, show(again)).toBe(0);
      expect(layerGets('lab/mpi', layers, from2)).toHaveLength(layers.length);
    });

    it('an image sharing its base layer with one inspected before fetches only its own layers', async () => {
      const cache = cacheDir();
      const env = { CONTAINERSPEC_CACHE_DIR: cache };
      const loop = (await inspect(oci('sus-symlink-loop'))) as unknown as Facts;
      const elf = (await inspect(oci('sus-corrupt-elf'))) as unknown as Facts;
      const shared = loop.layers.map((l) => l.digest).filter((d) => elf.layers.some((l) => l.digest === d));
      expect(shared.length).toBeGreaterThan(0);
      expect((await cli(['inspect', `${proxy.host}/lab/loop:1`, ...tls], env)).code).toBe(0);
      const from = proxy.requests.length;
      const r = await cli(['inspect', `${proxy.host}/lab/elf:1`, '--json', ...tls], env);
      expect(r.code, show(r)).toBe(0);
      const fetched = layerGets('lab/elf', elf.layers.map((l) => l.digest), from).map((q) => q.path.split('/').pop());
      expect(fetched.sort()).toEqual(elf.layers.map((l) => l.digest).filter((d) => !shared.includes(d)).sort());
      expect(content(JSON.parse(r.stdout) as Facts)).toEqual(content(elf));
    });

    it('cache prune --max-size keeps the cache under the size', async () => {
      const cache = cacheDir();
      expect((await cli(['inspect', `${reg.host}/lab/mpi:1`, ...tls], { CONTAINERSPEC_CACHE_DIR: cache })).code).toBe(0);
      const size = (dir: string) => filesUnder(dir).reduce((s, f) => s + statSync(f).size, 0);
      expect(size(cache)).toBeGreaterThan(10_000);
      const r = await cli(['cache', 'prune', '--max-size', '10k', '--cache-dir', cache, '--json']);
      expect(r.code, show(r)).toBe(0);
      expect((JSON.parse(r.stdout) as { removed: number }).removed).toBeGreaterThan(0);
      expect(layerEntries(cache).reduce((s, f) => s + statSync(f).size, 0)).toBeLessThanOrEqual(10_000);
      // Without --json, one line a person reads: counts and sizes in the units --max-size takes.
      const again = await cli(['cache', 'prune', '--max-size', '10k', '--cache-dir', cache]);
      expect(again.stdout).toMatch(new RegExp(`^${cache.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: removed 0 entries \\(0 B\\), kept \\d+ \\([\\d.]+ (B|KiB)\\) of at most 10\\.0 KiB\\n$`));
      const bad = await cli(['cache', 'prune', '--max-size', 'lots']);
      expect(bad.code).toBe(2);
      expect(errorLine(bad)).toContain('--max-size');
    });
  });

  describe('more of the protocol', () => {
    it('a Docker v2 schema 1 manifest is refused with one line saying so', async () => {
      const schema1 = JSON.stringify({ schemaVersion: 1, name: 'lab/mpi', tag: '1', architecture: 'amd64', fsLayers: [], history: [] });
      proxy.set({ kind: 'status', match: /\/manifests\/1$/, status: 200, times: 1, body: schema1, headers: { 'Content-Type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' } });
      const r = await cli(['inspect', `${proxy.host}/lab/mpi:1`, ...tls]);
      proxy.set(null);
      expect(r.code, show(r)).toBe(2);
      expect(errorLine(r)).toMatch(/schema 1.*not supported/);
    });

    it('an identity token in an auth file is traded for a registry token (OAuth2 refresh-token grant)', async () => {
      // Get a refresh token the way `docker login` does: the password grant.
      const form = new URLSearchParams({ grant_type: 'password', username: 'alice', password: USERS.alice, service: token.token!.service, scope: 'repository:lab/mpi:pull', client_id: 'test', access_type: 'offline' });
      const got = await tlsRequest(token.token!.realm, { ca: reg.caFile, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
      const refresh = (JSON.parse(got.body.toString('utf8')) as { refresh_token?: string }).refresh_token;
      expect(refresh, got.body.toString('utf8')).toBeTruthy();
      const authFile = join(tmp, 'auth-identity.json');
      writeFileSync(authFile, JSON.stringify({ auths: { [token.host]: { identitytoken: refresh } } }));
      const before = token.token!.requests.length;
      const r = await cli(['inspect', `${token.host}/lab/mpi:1`, '--json', ...tls], { REGISTRY_AUTH_FILE: authFile });
      expect(r.code, show(r)).toBe(0);
      expect((JSON.parse(r.stdout) as Facts).digest).toBe(expected(IMG).manifestDigest);
      expect(token.token!.requests.slice(before).some((q) => q.method === 'POST' && q.user === 'alice' && q.status === 200)).toBe(true);
      expect(r.stdout + r.stderr).not.toContain(refresh!);
    });

    it('plain HTTP only with --plain-http: without it, the error says to use it', async () => {
      const port = await freePort();
      const dir = mkdtempSync(join(tmp, 'plain-'));
      const config = join(dir, 'config.yml');
      writeFileSync(config, JSON.stringify({ version: 0.1, log: { level: 'error' }, storage: { filesystem: { rootdirectory: join(dir, 'data') } }, http: { addr: `127.0.0.1:${port}` } }));
      const child = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
      try {
        for (let i = 0; i < 100; i++) {
          const up = await fetch(`http://127.0.0.1:${port}/v2/`).then((x) => x.status, () => 0);
          if (up === 200) break;
          await new Promise((res) => setTimeout(res, 100));
        }
        const push = spawnSync('skopeo', ['--insecure-policy', 'copy', '--retry-times', '0', '--dest-tls-verify=false', `${oci(IMG)}:latest`, `docker://127.0.0.1:${port}/lab/mpi:1`], { encoding: 'utf8' });
        expect(push.status, push.stderr).toBe(0);
        const tlsFirst = await cli(['inspect', `127.0.0.1:${port}/lab/mpi:1`, '--timeout', '5']);
        expect(tlsFirst.code).toBe(2);
        expect(errorLine(tlsFirst)).toContain('--plain-http');
        const plain = await cli(['inspect', `127.0.0.1:${port}/lab/mpi:1`, '--plain-http', '--json']);
        expect(plain.code, show(plain)).toBe(0);
        expect(content(JSON.parse(plain.stdout) as Facts)).toEqual(content(local));
      } finally {
        await stopChild(child);
      }
    });

    it('a registry with the referrers API is believed over the tag fallback (its answer served by the proxy: distribution 2.8 has no such API)', async () => {
      // Something in the tag fallback (attach writes there on this registry) ...
      const a = await cli(['attach', `${reg.host}/lab/mpi:1`, '--no-nfd', ...tls]);
      expect(a.code, show(a)).toBe(0);
      const viaTag = await cli(['discover', `${proxy.host}/lab/mpi:1`, '--json', ...tls]);
      expect((JSON.parse(viaTag.stdout) as { via: string; referrers: unknown[] }[])[0]).toMatchObject({ via: 'tag-schema', referrers: [expect.anything()] });
      // ... and a stand-in for a registry with the API: the proxy answers /referrers/ with an index naming another artifact.
      const subject = expected(IMG).manifestDigest;
      const fake = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'ab'.repeat(32)}`, size: 512, artifactType: 'application/vnd.example.sig.v1', annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' } };
      proxy.set({ kind: 'status', match: new RegExp(`/referrers/${subject}`), status: 200, times: 1, body: JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [fake] }), headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' } });
      const d = await cli(['discover', `${proxy.host}/lab/mpi:1`, '--json', ...tls]);
      proxy.set(null);
      expect(d.code, show(d)).toBe(0);
      const [res] = JSON.parse(d.stdout) as { via: string; referrers: { digest: string; artifactType: string }[] }[];
      expect(res!.via).toBe('referrers-api');
      expect(res!.referrers).toEqual([expect.objectContaining({ digest: fake.digest, artifactType: fake.artifactType })]);
    });
  });

  describe('progress', () => {
    const hasScript = spawnSync('sh', ['-c', 'command -v script']).status === 0;
    it.skipIf(!hasScript)('on a terminal, layers and bytes show on stderr; with --quiet nothing does', async () => {
      const run = (extra: string) =>
        spawnSync('script', ['-qec', `node bin/containerspec.js inspect ${reg.host}/lab/mpi:1 --ca-file ${reg.caFile} --no-cache ${extra} >/dev/null`, '/dev/null'], { encoding: 'utf8', env: { ...process.env, HOME: tmp } });
      const tty = run('');
      expect(tty.status, tty.stdout + tty.stderr).toBe(0);
      expect(tty.stdout).toMatch(/layers \d\/2/);
      expect(tty.stdout).toMatch(/\d(\.\d+)? (B|KiB|MiB) \/ \d+\.\d+ MiB/); // bytes so far of the layers' total
      const quiet = run('--quiet');
      expect(quiet.status).toBe(0);
      expect(quiet.stdout).not.toMatch(/layers \d\/2/);
    });
  });
});
