/**
 * The registry test infrastructure works: a real docker-registry over TLS from the test CA, images
 * pushed with skopeo read back byte for byte, htpasswd and token auth refuse and accept as they
 * should, the fault proxy's rules do exactly what they say, and the ORAS CLI runs.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { ensureFixtures, FIXTURES, oci } from './helpers/images.js';
import { orasBinary, runOras } from './helpers/oras.js';
import { basicAuth, registryMissing, removeTestCerts, sha256Digest, startRegistry, tlsRequest, type TestRegistry } from './helpers/registry.js';

const missing = registryMissing();
if (missing) console.warn(`skipping registry infrastructure: ${missing}`);

const IMAGE = 'bookworm-arm64';
const REPO_TAG = 'lab/app:1';
const USERS = { alice: 'wonderland' };
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

interface Descriptor {
  digest: string;
  size: number;
}

/** The manifest digest the fixture's index.json names. */
const fixtureDigest = (): string => (JSON.parse(readFileSync(join(FIXTURES, IMAGE, 'oci/index.json'), 'utf8')) as { manifests: Descriptor[] }).manifests[0]!.digest;

/** A Bearer challenge's parameters. */
function challenge(header: string | string[] | undefined): Record<string, string> {
  const h = String(header ?? '');
  expect(h).toMatch(/^Bearer /);
  return Object.fromEntries([...h.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
}

/** The offsets where two equally long buffers differ. */
function differingOffsets(a: Buffer, b: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) out.push(i);
  return out;
}

describe.skipIf(missing !== null)('registry test infrastructure', () => {
  let plain: TestRegistry;
  let basic: TestRegistry;
  let token: TestRegistry;
  let proxy: FaultProxy;
  let digest: string;
  let layer: Descriptor;

  beforeAll(async () => {
    if (!existsSync(join(FIXTURES, IMAGE, 'oci/index.json'))) {
      const f = ensureFixtures();
      if (!f.ok) throw new Error(f.reason);
    }
    [plain, basic, token] = await Promise.all([
      startRegistry(),
      startRegistry({ auth: 'htpasswd', users: USERS }),
      startRegistry({ auth: 'token', users: USERS }),
    ]);
    proxy = await startFaultProxy(plain);
    digest = await plain.push(oci(IMAGE), REPO_TAG);
    const manifest = JSON.parse((await plain.rawManifest(REPO_TAG)).toString('utf8')) as { layers: Descriptor[] };
    layer = manifest.layers[0]!;
  }, 60_000);

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([plain?.stop(), basic?.stop(), token?.stop()]);
    removeTestCerts();
  });

  it('serves TLS that only the test CA verifies', async () => {
    await expect(tlsRequest(`${plain.url}/v2/`)).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    const r = await tlsRequest(`${plain.url}/v2/`, { ca: plain.caFile });
    expect(r.status).toBe(200);
    expect(r.headers['docker-distribution-api-version']).toBe('registry/2.0');
    expect(readFileSync(join(plain.certsDir, 'ca.crt'), 'utf8')).toBe(readFileSync(plain.caFile, 'utf8'));
    expect(plain.certsDir).toBe(join(plain.certsRoot, plain.host));
  });

  it('a skopeo push keeps the fixture manifest byte for byte', async () => {
    expect(digest).toBe(fixtureDigest());
    expect(sha256Digest(await plain.rawManifest(REPO_TAG))).toBe(digest);
    const r = await tlsRequest(`${plain.url}/v2/lab/app/manifests/1`, { ca: plain.caFile, headers: { Accept: OCI_MANIFEST } });
    expect(r.status).toBe(200);
    expect(r.headers['docker-content-digest']).toBe(digest);
    expect(sha256Digest(r.body)).toBe(digest);
  });

  it('htpasswd: anonymous and a wrong password get 401, the right user gets in and can push', async () => {
    const anon = await tlsRequest(`${basic.url}/v2/`, { ca: basic.caFile });
    expect(anon.status).toBe(401);
    expect(anon.headers['www-authenticate']).toMatch(/^Basic realm=/);
    const wrong = await tlsRequest(`${basic.url}/v2/`, { ca: basic.caFile, headers: { Authorization: basicAuth('alice', 'nope') } });
    expect(wrong.status).toBe(401);
    const right = await tlsRequest(`${basic.url}/v2/`, { ca: basic.caFile, headers: { Authorization: basicAuth('alice', 'wonderland') } });
    expect(right.status).toBe(200);
    await expect(basic.push(oci(IMAGE), REPO_TAG)).rejects.toThrow(/unauthorized|authentication required|401/i);
    expect(await basic.push(oci(IMAGE), REPO_TAG, { creds: 'alice:wonderland' })).toBe(fixtureDigest());
  });

  it('token: a Bearer challenge, tokens the registry accepts, scopes recorded per repository', async () => {
    const ts = token.token!;
    const anon = await tlsRequest(`${token.url}/v2/`, { ca: token.caFile });
    expect(anon.status).toBe(401);
    expect(challenge(anon.headers['www-authenticate'])).toMatchObject({ realm: ts.realm, service: 'containerspec-test' });

    expect(await token.push(oci(IMAGE), REPO_TAG, { creds: 'alice:wonderland' })).toBe(fixtureDigest());
    expect(ts.requests.some((r) => r.user === 'alice' && r.scopes.some((s) => /^repository:lab\/app:(pull,push|push,pull)$/.test(s)))).toBe(true);

    const url = `${token.url}/v2/lab/app/manifests/1`;
    const noToken = await tlsRequest(url, { ca: token.caFile, headers: { Accept: OCI_MANIFEST } });
    expect(challenge(noToken.headers['www-authenticate']).scope).toBe('repository:lab/app:pull');

    ts.requests.length = 0;
    const q = new URLSearchParams({ service: ts.service, scope: 'repository:lab/app:pull' });
    const t = await tlsRequest(`${ts.realm}?${q}`, { ca: token.caFile, headers: { Authorization: basicAuth('alice', 'wonderland') } });
    expect(t.status).toBe(200);
    const body = JSON.parse(t.body.toString('utf8')) as { token: string; access_token: string; expires_in: number; issued_at: string };
    expect(body.access_token).toBe(body.token);
    expect(body.expires_in).toBeGreaterThan(0);
    expect(ts.requests).toEqual([expect.objectContaining({ path: '/auth/token', scopes: ['repository:lab/app:pull'], authorized: true, user: 'alice', status: 200 })]);

    const ok = await tlsRequest(url, { ca: token.caFile, headers: { Accept: OCI_MANIFEST, Authorization: `Bearer ${body.token}` } });
    expect(ok.status).toBe(200);
    expect(sha256Digest(ok.body)).toBe(fixtureDigest());

    const otherRepo = ts.mint('alice', [{ type: 'repository', name: 'lab/other', actions: ['pull'] }]);
    const expired = ts.mint('alice', [{ type: 'repository', name: 'lab/app', actions: ['pull'] }], { expiresIn: -3600 });
    for (const bad of [otherRepo, expired]) {
      const r = await tlsRequest(url, { ca: token.caFile, headers: { Accept: OCI_MANIFEST, Authorization: `Bearer ${bad}` } });
      expect(r.status).toBe(401);
    }
  });

  it("fault proxy 'status': exactly `times` injected answers, then pass-through", async () => {
    proxy.requests.length = 0;
    proxy.set({ kind: 'status', match: /^\/v2\/$/, status: 500, times: 2 });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await tlsRequest(`${proxy.url}/v2/`, { ca: proxy.caFile })).status);
    proxy.set(null);
    expect(statuses).toEqual([500, 500, 200]);
    expect(proxy.requests.map((r) => r.fault)).toEqual(['status', 'status', null]);
  });

  it('fault proxy pass-through: Range forwarded, upload Location rewritten to the proxy', async () => {
    proxy.requests.length = 0;
    const blobUrl = `/v2/lab/app/blobs/${layer.digest}`;
    const direct = await tlsRequest(`${plain.url}${blobUrl}`, { ca: plain.caFile });
    const ranged = await tlsRequest(`${proxy.url}${blobUrl}`, { ca: proxy.caFile, headers: { Range: 'bytes=10-19' } });
    expect(ranged.status).toBe(206);
    expect(ranged.body).toEqual(direct.body.subarray(10, 20));
    expect(proxy.requests[0]?.headers.range).toBe('bytes=10-19');
    const upload = await tlsRequest(`${proxy.url}/v2/lab/app/blobs/uploads/`, { ca: proxy.caFile, method: 'POST' });
    expect(upload.status).toBe(202);
    expect(String(upload.headers.location)).toMatch(new RegExp(`^${proxy.url}/v2/lab/app/blobs/uploads/`));
  });

  it("fault proxy 'corrupt' flips exactly one byte, 'cut' ends the body early", async () => {
    const blobUrl = `/v2/lab/app/blobs/${layer.digest}`;
    const direct = await tlsRequest(`${plain.url}${blobUrl}`, { ca: plain.caFile });
    expect(sha256Digest(direct.body)).toBe(layer.digest);

    proxy.set({ kind: 'corrupt', match: /\/blobs\/sha256:/, offset: 1000 });
    const bad = await tlsRequest(`${proxy.url}${blobUrl}`, { ca: proxy.caFile });
    proxy.set(null);
    expect(bad.status).toBe(200);
    expect(bad.body.length).toBe(layer.size);
    expect(bad.headers['content-length']).toBe(String(layer.size));
    expect(sha256Digest(bad.body)).not.toBe(layer.digest);
    expect(differingOffsets(bad.body, direct.body)).toEqual([1000]);

    proxy.set({ kind: 'cut', match: /\/blobs\/sha256:/, afterBytes: 1000, times: 1 });
    await expect(tlsRequest(`${proxy.url}${blobUrl}`, { ca: proxy.caFile })).rejects.toThrow(/aborted|socket hang up|ECONNRESET|terminated/i);
    const after = await tlsRequest(`${proxy.url}${blobUrl}`, { ca: proxy.caFile });
    proxy.set(null);
    expect(sha256Digest(after.body)).toBe(layer.digest);
  });

  it('fault proxy over token auth: the realm points at the proxy, which forwards token requests', async () => {
    const p = await startFaultProxy(token);
    try {
      const anon = await tlsRequest(`${p.url}/v2/`, { ca: p.caFile });
      const realm = challenge(anon.headers['www-authenticate']).realm!;
      expect(realm).toBe(`${p.url}/auth/token`);
      const q = new URLSearchParams({ service: 'containerspec-test', scope: 'repository:lab/app:pull' });
      const t = await tlsRequest(`${realm}?${q}`, { ca: p.caFile, headers: { Authorization: basicAuth('alice', 'wonderland') } });
      expect(t.status).toBe(200);
      expect(token.token!.requests.at(-1)).toMatchObject({ user: 'alice', scopes: ['repository:lab/app:pull'] });
      expect(p.requests.map((r) => r.path)).toEqual(['/v2/', `/auth/token?${q}`]);
    } finally {
      await p.stop();
    }
  });

  it('the ORAS CLI runs and reads the registry with --ca-file', async (ctx) => {
    const bin = await orasBinary();
    if ('skip' in bin) {
      console.warn(`skipping ORAS check: ${bin.skip}`);
      ctx.skip();
      return;
    }
    const v = await runOras(['version']);
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/Version:\s+1\.\d+\.\d+/);
    const out = join(plain.storageDir, '..', 'oras-manifest.json');
    writeFileSync(out, '');
    const m = await runOras(['manifest', 'fetch', '--output', out, `${plain.host}/${REPO_TAG}`], { caFile: plain.caFile });
    expect(m.status, m.stderr).toBe(0);
    expect(sha256Digest(readFileSync(out))).toBe(digest);
  }, 120_000);
});
