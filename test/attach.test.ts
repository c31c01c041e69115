/**
 * Attached artifacts on a real docker-registry (distribution 2.8: no referrers API, so the
 * `sha256-<hex>` tag fallback), with the real ORAS CLI as the interop peer: what `containerspec
 * attach` pushes is listed by `oras discover` and fetched by `oras pull`; what `oras attach` pushes is
 * listed by `containerspec discover`; `check` judges an image from its attached facts without
 * fetching a layer, and `--no-attached` reads the layers to the same verdict.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { openImage } from '../src/image/open.js';
import { inspect } from '../src/inspect.js';
import { buildCli, errorLine, runCli, show, type CliResult } from './helpers/cli.js';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { ensureFixtures, expected, oci } from './helpers/images.js';
import { orasBinary, runOras } from './helpers/oras.js';
import { registryMissing, removeTestCerts, startRegistry, type TestRegistry } from './helpers/registry.js';

const missing = registryMissing();
if (missing) console.warn(`skipping attached-artifact tests: ${missing}`);

const IMG = 'trixie-mpich-cuda';
const FACTS_TYPE = 'application/vnd.containerspec.facts.v1+json';
const NFD_TYPE = 'application/vnd.nfd.image-compatibility.v1alpha1';

interface Discovered {
  subject: string;
  via: string;
  referrers: { digest: string; artifactType: string | null; annotations: Record<string, string> }[];
}

describe.skipIf(missing !== null)('attach, discover, and checks from attached facts', () => {
  let reg: TestRegistry;
  let proxy: FaultProxy;
  let tls: string[];
  let digest: string;
  let layers: string[];
  const tmp = mkdtempSync(join(tmpdir(), 'cs-attach-'));
  const hostFile = join(tmp, 'host.json');
  const cli = (args: string[]): Promise<CliResult> => runCli(args, { env: { HOME: tmp, REGISTRY_AUTH_FILE: '' } });
  const ref = () => `${proxy.host}/lab/cuda:1`;

  beforeAll(async () => {
    const f = ensureFixtures();
    if (!f.ok) throw new Error(f.reason);
    await buildCli();
    reg = await startRegistry({ deleteEnabled: true });
    digest = await reg.push(`${oci(IMG)}:latest`, 'lab/cuda:1');
    await reg.push(`${oci('bookworm-arm64')}:latest`, 'lab/plain:1');
    proxy = await startFaultProxy(reg);
    tls = ['--ca-file', reg.caFile];
    layers = (await inspect(oci(IMG))).layers.map((l) => l.digest!);
    const h = await runCli(['host', '--json']);
    if (h.code !== 0) throw new Error(show(h));
    writeFileSync(hostFile, h.stdout);
  }, 300_000);

  afterAll(async () => {
    await proxy?.stop();
    await reg?.stop();
    removeTestCerts();
  });

  const discover = async (r: string, extra: string[] = []): Promise<Discovered> => {
    const d = await cli(['discover', r, '--json', ...tls, ...extra]);
    expect(d.code, show(d)).toBe(0);
    const list = JSON.parse(d.stdout) as Discovered[];
    expect(list).toHaveLength(1);
    return list[0]!;
  };

  it('before attach: discover lists nothing (via the tag fallback), and check reads the layers', async () => {
    const d = await discover(`${reg.host}/lab/cuda:1`);
    expect(d.subject).toBe(digest);
    expect(d.via).toBe('tag-schema');
    expect(d.referrers).toEqual([]);
  });

  it('attach pushes facts and an NFD spec whose subject is the manifest; discover lists both, newest first', async () => {
    const a = await cli(['attach', `${reg.host}/lab/cuda:1`, '--json', ...tls]);
    expect(a.code, show(a)).toBe(0);
    const [res] = JSON.parse(a.stdout) as { manifest: string; attached: { artifactType: string; digest: string; via: string }[] }[];
    expect(res!.manifest).toBe(digest);
    expect(res!.attached.map((x) => x.artifactType).sort()).toEqual([FACTS_TYPE, NFD_TYPE].sort());
    expect(res!.attached.every((x) => x.via === 'tag-schema')).toBe(true);
    const d = await discover(`${reg.host}/lab/cuda:1`);
    expect(d.referrers.map((r) => r.artifactType).sort()).toEqual([FACTS_TYPE, NFD_TYPE].sort());
    const facts = d.referrers.find((r) => r.artifactType === FACTS_TYPE)!;
    expect(facts.annotations['org.opencontainers.image.created']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(facts.annotations['io.containerspec.version']).toMatch(/^\d+\.\d+\.\d+/);
    expect(['true', 'false']).toContain(facts.annotations['io.containerspec.permissions.flattenable']);
    // --artifact-type filters.
    const only = await discover(`${reg.host}/lab/cuda:1`, ['--artifact-type', NFD_TYPE]);
    expect(only.referrers.map((r) => r.artifactType)).toEqual([NFD_TYPE]);
  });

  it('check uses the attached facts: no layer is fetched, and the verdict equals reading the layers', async () => {
    const from = proxy.requests.length;
    const fast = await cli(['check', ref(), '--host', hostFile, '--json', '--no-cache', ...tls]);
    expect([0, 1, 3], show(fast)).toContain(fast.code);
    const fetched = proxy.requests.slice(from).filter((q) => layers.some((l) => q.path.endsWith(`/blobs/${l}`)));
    expect(fetched, 'layer blobs fetched').toEqual([]);
    const from2 = proxy.requests.length;
    const slow = await cli(['check', ref(), '--host', hostFile, '--json', '--no-cache', '--no-attached', ...tls]);
    expect(slow.code).toBe(fast.code);
    expect(proxy.requests.slice(from2).filter((q) => layers.some((l) => q.path.endsWith(`/blobs/${l}`))).length).toBe(layers.length);
    const a = JSON.parse(fast.stdout) as { verdict: string; checks: unknown[] };
    const b = JSON.parse(slow.stdout) as { verdict: string; checks: unknown[] };
    expect(a.verdict).toBe(b.verdict);
    expect(a.checks).toEqual(b.checks);
  });

  it("check asks for the attached facts while the image's config is on its way, not after it (a round trip less)", async () => {
    // The proxy holds the config blob until a referrers look-up (API or sha256- tag) arrives, for at most 5 s.
    const config = (await openImage(oci(IMG))).configDigest;
    const from = proxy.requests.length;
    proxy.set({ kind: 'hold', match: new RegExp(`/blobs/${config}$`), until: /\/referrers\/|\/manifests\/sha256-/, ms: 5000 });
    try {
      const r = await cli(['check', ref(), '--host', hostFile, '--json', '--no-cache', ...tls]);
      expect([0, 1, 3], show(r)).toContain(r.code);
    } finally {
      proxy.set(null);
    }
    const seen = proxy.requests.slice(from);
    expect(seen.filter((q) => layers.some((l) => q.path.endsWith(`/blobs/${l}`))), 'layer blobs fetched').toEqual([]);
    expect(seen.filter((q) => q.fault === 'hold').map((q) => q.released)).toEqual(['arrival']);
  });

  it('match uses attached facts too', async () => {
    const from = proxy.requests.length;
    const m = await cli(['match', '--hosts', hostFile, '--images', ref(), '--json', '--no-cache', ...tls]);
    expect(m.code, show(m)).toBe(0);
    expect(proxy.requests.slice(from).filter((q) => layers.some((l) => q.path.endsWith(`/blobs/${l}`)))).toEqual([]);
  });

  it('facts attached to another image are not used for this one', async () => {
    const from = proxy.requests.length;
    const plainLayers = (await inspect(oci('bookworm-arm64'))).layers.map((l) => l.digest!);
    const r = await cli(['check', `${proxy.host}/lab/plain:1`, '--host', hostFile, '--json', '--no-cache', ...tls]);
    expect([0, 1, 3], show(r)).toContain(r.code);
    expect(proxy.requests.slice(from).filter((q) => plainLayers.some((l) => q.path.endsWith(`/blobs/${l}`))).length).toBe(plainLayers.length);
  });

  it('attach refuses a local image with one line', async () => {
    const r = await cli(['attach', oci(IMG)]);
    expect(r.code).toBe(2);
    expect(errorLine(r)).toMatch(/registry images/);
  });

  describe('with the ORAS CLI', () => {
    let oras: string | null = null;
    beforeAll(async () => {
      const b = await orasBinary();
      if ('skip' in b) console.warn(`skipping ORAS interop: ${b.skip}`);
      else oras = b.path;
    }, 300_000);

    it('oras discover lists what containerspec attached, and oras pull fetches the facts and the NFD spec', async (ctx) => {
      if (!oras) return ctx.skip();
      const d = await runOras(['discover', `${reg.host}/lab/cuda:1`, '--format', 'json'], { caFile: reg.caFile });
      expect(d.status, d.stderr).toBe(0);
      const listed = JSON.stringify(JSON.parse(d.stdout));
      expect(listed).toContain(FACTS_TYPE);
      expect(listed).toContain(NFD_TYPE);
      const mine = await discover(`${reg.host}/lab/cuda:1`);
      for (const r of mine.referrers) {
        expect(listed).toContain(r.digest);
        const out = mkdtempSync(join(tmp, 'pull-'));
        const p = await runOras(['pull', `${reg.host}/lab/cuda@${r.digest}`, '-o', out], { caFile: reg.caFile });
        expect(p.status, p.stderr).toBe(0);
        const files = readdirSync(out);
        if (r.artifactType === FACTS_TYPE) {
          expect(files).toEqual(['facts.json']);
          const facts = JSON.parse(readFileSync(join(out, 'facts.json'), 'utf8')) as { digest: string; cuda: unknown };
          expect(facts.digest).toBe(digest);
          expect(facts.cuda).toEqual((await inspect(oci(IMG))).cuda);
        } else {
          expect(files).toEqual(['image-compatibility.yaml']);
          const spec = parseYaml(readFileSync(join(out, 'image-compatibility.yaml'), 'utf8')) as { version: string; compatibilities: unknown[] };
          expect(spec.version).toBe('v1alpha1');
          expect(spec.compatibilities.length).toBeGreaterThan(0);
          expect(JSON.stringify(spec)).toContain('10de'); // a CUDA image asks for an NVIDIA GPU
        }
      }
    });

    it('containerspec discover lists what oras attach pushed, keeping what was there', async (ctx) => {
      if (!oras) return ctx.skip();
      const sbom = join(tmp, 'sbom.json');
      writeFileSync(sbom, '{"bomFormat":"CycloneDX"}\n');
      const a = await runOras(['attach', '--artifact-type', 'application/vnd.example.sbom.v1+json', `${reg.host}/lab/cuda:1`, 'sbom.json:application/json'], { caFile: reg.caFile, cwd: tmp });
      expect(a.status, a.stderr).toBe(0);
      const d = await discover(`${reg.host}/lab/cuda:1`);
      const types = d.referrers.map((r) => r.artifactType);
      expect(types).toContain('application/vnd.example.sbom.v1+json');
      expect(types).toContain(FACTS_TYPE);
      expect(types).toContain(NFD_TYPE);
      // And check still finds the facts among them.
      const from = proxy.requests.length;
      const c = await cli(['check', ref(), '--host', hostFile, '--no-cache', ...tls]);
      expect([0, 1, 3], show(c)).toContain(c.code);
      expect(proxy.requests.slice(from).filter((q) => layers.some((l) => q.path.endsWith(`/blobs/${l}`)))).toEqual([]);
      expect(expected(IMG).manifestDigest).toBe(digest);
    });
  });
});
