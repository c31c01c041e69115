/**
 * `containerspec dockerfile outdated|pin|labels` against a real TLS docker-registry on 127.0.0.1
 * (test/helpers/registry.ts), with small real images pushed in code under several tags per
 * repository (semver, suffix variants, calendar versions, a multi-platform index, a tag moved after
 * it was pinned), a registry that needs credentials, a counting proxy in front (each distinct base
 * asked once), and bad input as one exit-2 line naming file and line.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { Registries, RegistryClient } from '../src/registry/client.js';
import { loadDockerfiles } from '../src/dockerfile/load.js';
import { outdated } from '../src/dockerfile/outdated.js';
import { buildCli, expectOneLineError, REPO, runCli, show, type CliResult } from './helpers/cli.js';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { FIXTURES } from './helpers/images.js';
import { packTar, sha256 } from './helpers/oci.js';
import { freePort, registryMissing, removeTestCerts, startRegistry, testCerts, type TestRegistry } from './helpers/registry.js';
import { schemaErrors } from './helpers/schemas.js';

const missing = registryMissing();
const PLACEHOLDER = 'registry.invalid:5000';
const USERS = { ci: 'pin-the-bases-9Tz' };

/** Skip a test that cannot run here, saying why. */
function needRegistry(ctx: TestContext): void {
  if (missing) {
    console.warn(`skipping: ${missing}`);
    ctx.skip();
  }
}

/** Push a one-layer image (its content names `what`, so every tag's digest differs) for `arch`; its manifest digest. */
async function pushImage(c: RegistryClient, repo: string, ref: string | null, what: string, arch = 'amd64'): Promise<{ digest: string; size: number }> {
  const tar = await packTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/what', content: `${repo}:${what} ${arch}\n` }]);
  const layer = gzipSync(tar);
  const diff = sha256(tar);
  const config = Buffer.from(JSON.stringify({ architecture: arch, os: 'linux', config: { Labels: { what } }, rootfs: { type: 'layers', diff_ids: [diff] } }));
  const [cd, ld] = [await c.pushBlob(repo, config), await c.pushBlob(repo, layer)];
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cd, size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: ld, size: layer.length }],
  }));
  const { digest } = await c.putManifest(repo, ref ?? sha256(manifest), manifest, 'application/vnd.oci.image.manifest.v1+json');
  return { digest, size: manifest.length };
}

/** Push a multi-platform index (amd64, arm64) to a tag; the index's and each platform's digest. */
async function pushIndex(c: RegistryClient, repo: string, tag: string, what = tag): Promise<{ index: string; amd64: string; arm64: string }> {
  const amd = await pushImage(c, repo, null, what, 'amd64');
  const arm = await pushImage(c, repo, null, what, 'arm64');
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: amd.digest, size: amd.size, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: arm.digest, size: arm.size, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    ],
  }));
  const { digest } = await c.putManifest(repo, tag, index, 'application/vnd.oci.image.index.v1+json');
  return { index: digest, amd64: amd.digest, arm64: arm.digest };
}

describe('dockerfile commands against a real registry', () => {
  let reg: TestRegistry;
  let auth: TestRegistry;
  let token: TestRegistry;
  let proxy: FaultProxy;
  let tls: string[];
  const tmp = mkdtempSync(join(tmpdir(), 'cs-dockerfile-reg-'));
  let n = 0;
  /** Digests by name:tag, and the pin a moved tag had before it moved. */
  const d: Record<string, string> = {};
  let movedFrom = '';
  let cuda: { index: string; amd64: string; arm64: string };
  let multiOld: typeof cuda;
  let multiNew: typeof cuda;

  /** A Dockerfile in a fresh directory, `HOST` replaced by the registry's address. */
  const dockerfile = (text: string, host = reg.host): string => {
    const dir = join(tmp, `case-${n++}`);
    mkdirSync(dir);
    const file = join(dir, 'Dockerfile');
    writeFileSync(file, text.replaceAll('HOST', host));
    return file;
  };
  /** A corpus file copied with the placeholder host replaced. */
  const fromCorpus = (rel: string, host = reg.host): string => {
    const dir = join(tmp, `corpus-${n++}`);
    cpSync(join(REPO, 'fixtures/dockerfiles', rel, '..'), dir, { recursive: true });
    const file = join(dir, rel.split('/').pop()!);
    writeFileSync(file, readFileSync(file, 'latin1').replaceAll(PLACEHOLDER, host), 'latin1');
    return file;
  };
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> => runCli(args, { env: { HOME: tmp, REGISTRY_AUTH_FILE: '', DOCKER_CONFIG: tmp, ...env } });

  beforeAll(async () => {
    if (missing) return;
    await buildCli();
    [reg, auth, token] = await Promise.all([startRegistry(), startRegistry({ auth: 'htpasswd', users: USERS }), startRegistry({ auth: 'token', users: USERS })]);
    tls = ['--ca-file', reg.caFile];
    const c = await RegistryClient.connect(reg.host, { caFile: reg.caFile });
    const tags: Record<string, string[]> = {
      'lab/debian': ['12.4-slim', '12.5-slim', '12.6-slim', '12.5', '12.6', 'bookworm', 'latest'],
      'lab/python': ['3.11-slim', '3.12-slim', '3.13-slim', '3.12-alpine', '3.13-alpine', '3.14rc1-slim', '3.12', '3.12.4-slim'],
      'lab/spack': ['0.21.2', '0.21.10', '0.22.0', '2024.03', '2024.06', 'develop'],
      'lab/cuda': ['12.4.1-devel', '12.6.0-devel', '12.4.1-cudnn-runtime', '12.6.0-runtime'],
    };
    // The moved tag: 12.5-slim is pinned at its first digest, then pushed again with new content.
    movedFrom = (await pushImage(c, 'lab/debian', '12.5-slim', 'first 12.5-slim')).digest;
    for (const [repo, list] of Object.entries(tags)) for (const t of list) d[`${repo}:${t}`] = (await pushImage(c, repo, t, t)).digest;
    cuda = await pushIndex(c, 'lab/cuda', '12.4.1-runtime');
    // A multi-platform tag that moved: pinned at the first index (or its amd64 manifest), then pushed again.
    multiOld = await pushIndex(c, 'lab/multi', '1.0', 'first');
    multiNew = await pushIndex(c, 'lab/multi', '1.0', 'second');
    d['lab/cuda:12.4.1-runtime'] = cuda.index;
    const a = await RegistryClient.connect(auth.host, { caFile: auth.caFile, creds: `ci:${USERS.ci}` });
    for (const t of ['1.0', '1.1']) d[`auth/app:${t}`] = (await pushImage(a, 'lab/app', t, t)).digest;
    const tk = await RegistryClient.connect(token.host, { caFile: token.caFile, creds: `ci:${USERS.ci}` });
    for (const t of ['2.0', '2.1']) d[`token/app:${t}`] = (await pushImage(tk, 'lab/app', t, t)).digest;
    tk.close();
    c.close();
    a.close();
    proxy = await startFaultProxy(reg);
  }, 180_000);

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([reg?.stop(), auth?.stop(), token?.stop()]);
    removeTestCerts();
  });

  it('the registry client: tag lists follow Link pages; a tag\'s digest by HEAD; a moved tag names its new digest', async (ctx) => {
    needRegistry(ctx);
    const c = await RegistryClient.connect(reg.host, { caFile: reg.caFile });
    try {
      const all = await c.listTags('lab/python');
      expect(all.tags.sort()).toEqual(['3.11-slim', '3.12', '3.12-alpine', '3.12-slim', '3.12.4-slim', '3.13-alpine', '3.13-slim', '3.14rc1-slim']);
      expect(all.pages).toBe(1);
      // distribution 2.8 answers every tag at once whatever n asks (it has no tag pagination): pages are tested below.
      expect((await c.listTags('lab/python', { pageSize: 3 })).tags.sort()).toEqual(all.tags);
      expect(await c.manifestDigest('lab/debian', '12.5-slim')).toEqual({ digest: d['lab/debian:12.5-slim'], mediaType: 'application/vnd.oci.image.manifest.v1+json' });
      expect(d['lab/debian:12.5-slim']).not.toBe(movedFrom);
      expect((await c.manifestDigest('lab/cuda', '12.4.1-runtime')).mediaType).toBe('application/vnd.oci.image.index.v1+json');
      await expect(c.manifestDigest('lab/debian', '99')).rejects.toThrow(/MANIFEST_UNKNOWN|unknown tag/);
      // distribution says MANIFEST_UNKNOWN for a repository that does not exist too; outdated asks the tag list to tell them apart.
      await expect(c.manifestDigest('lab/nope', '1')).rejects.toThrow(/MANIFEST_UNKNOWN/);
      await expect(c.listTags('lab/nope')).rejects.toThrow(/NAME_UNKNOWN|no such repository/);
    } finally {
      c.close();
    }
  });

  it('the registry client follows Link rel="next" pages (a paginating registry), refuses a next page on another host and pages that do not end; hashes a manifest whose digest the registry does not name', async (ctx) => {
    needRegistry(ctx);
    const certs = testCerts();
    const tags = Array.from({ length: 11 }, (_, i) => `1.${i}`);
    const MANIFEST = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:' + 'a'.repeat(64) + '","size":2},"layers":[]}');
    const seen: string[] = [];
    const server = createHttpsServer({ cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) }, (req, res) => {
      const u = new URL(req.url ?? '/', 'https://x');
      const repo = /^\/v2\/(.+)\/tags\/list$/.exec(u.pathname)?.[1];
      const json = (body: unknown, link?: string) => {
        res.writeHead(200, { 'content-type': 'application/json', ...(link ? { link } : {}) });
        res.end(JSON.stringify(body));
      };
      if (repo === 'lab/many') {
        const n = Number(u.searchParams.get('n') ?? 100);
        const last = u.searchParams.get('last');
        const from = last === null ? 0 : tags.indexOf(last) + 1;
        const page = tags.slice(from, from + n);
        return json({ name: repo, tags: page }, from + n < tags.length ? `</v2/lab/many/tags/list?n=${n}&last=${page[page.length - 1]}>; rel="next"` : undefined);
      }
      const manifest = /^\/v2\/lab\/(nodigest|nohead)\/manifests\/1$/.exec(u.pathname)?.[1];
      if (manifest) {
        seen.push(`${req.method} ${u.pathname}`);
        if (manifest === 'nohead' && req.method === 'HEAD') {
          res.writeHead(405);
          return res.end();
        }
        // No Docker-Content-Digest: the client must hash what it is given.
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': MANIFEST.length });
        return res.end(req.method === 'HEAD' ? undefined : MANIFEST);
      }
      if (repo === 'lab/elsewhere') return json({ name: repo, tags: ['a'] }, '<https://registry.example/v2/lab/elsewhere/tags/list?last=a>; rel="next"');
      if (repo === 'lab/loop') return json({ name: repo, tags: ['a'] }, '</v2/lab/loop/tags/list?last=a>; rel="next"');
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const c = await RegistryClient.connect(`127.0.0.1:${port}`, { caFile: certs.caFile });
    try {
      const paged = await c.listTags('lab/many', { pageSize: 4 });
      expect(paged).toEqual({ tags, pages: 3 });
      expect(await c.listTags('lab/many')).toEqual({ tags, pages: 1 });
      await expect(c.listTags('lab/elsewhere')).rejects.toThrow('the next page is on another host (https://registry.example); not followed');
      await expect(c.listTags('lab/loop')).rejects.toThrow(/pages do not end/);
      await expect(c.listTags('lab/none')).rejects.toThrow(/NAME_UNKNOWN/);
      // A manifest digest without Docker-Content-Digest (and a registry that refuses HEAD): GET, and the bytes hashed.
      for (const repo of ['nodigest', 'nohead']) {
        expect(await c.manifestDigest(`lab/${repo}`, '1')).toEqual({ digest: sha256(MANIFEST), mediaType: 'application/vnd.oci.image.manifest.v1+json' });
      }
      expect(seen).toEqual(['HEAD /v2/lab/nodigest/manifests/1', 'GET /v2/lab/nodigest/manifests/1', 'HEAD /v2/lab/nohead/manifests/1', 'GET /v2/lab/nohead/manifests/1']);
    } finally {
      c.close();
      await new Promise((r) => server.close(r));
    }
  });

  it('outdated: a stale pin (moved tag), a current pin, newer tags within the family only, latest and words by digest only; exit 1; JSON valid', async (ctx) => {
    needRegistry(ctx);
    const file = dockerfile([
      '# bases of every kind',
      `FROM HOST/lab/debian:12.5-slim@${movedFrom} AS stale`,
      `FROM HOST/lab/python:3.12-slim@${d['lab/python:3.12-slim']} AS py`,
      'FROM HOST/lab/spack:2024.03 AS spack',
      'FROM HOST/lab/spack:0.21.2 AS spack2',
      'FROM HOST/lab/debian:latest AS latest',
      `FROM HOST/lab/debian:bookworm@${d['lab/debian:bookworm']} AS words`,
      'FROM HOST/lab/cuda:12.4.1-devel',
      '',
    ].join('\n'));
    const r = await cli(['dockerfile', 'outdated', file, '--json', ...tls]);
    expect(r.code, show(r)).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(schemaErrors('dockerfile-1.0', doc)).toBeNull();
    const by = Object.fromEntries(doc.bases.map((b: { alias: string | null; line: number }) => [b.alias ?? `line ${b.line}`, b]));
    expect(by.stale).toMatchObject({ line: 2, column: 6, status: 'stale', pinned: movedFrom, current: d['lab/debian:12.5-slim'], newer: ['12.6-slim'], outdated: true });
    expect(by.py).toMatchObject({ status: 'current', newer: ['3.13-slim'], outdated: true }); // not 3.13, 3.13-alpine, 3.12.4-slim or 3.14rc1-slim
    expect(by.spack).toMatchObject({ status: 'unpinned', current: d['lab/spack:2024.03'], newer: ['2024.06'] });
    expect(by.spack2).toMatchObject({ newer: ['0.22.0', '0.21.10'] });
    expect(by.latest).toMatchObject({ status: 'unpinned', newer: [], outdated: false });
    expect(by.words).toMatchObject({ status: 'current', newer: [], outdated: false });
    expect(by['line 8']).toMatchObject({ name: `${reg.host}/lab/cuda`, tag: '12.4.1-devel', newer: ['12.6.0-devel'] });
    // Text: one line per base, file:line first, then a summary.
    const t = await cli(['dockerfile', 'outdated', file, ...tls]);
    expect(t.code).toBe(1);
    expect(t.stdout).toContain(`${file}:2: OUTDATED ${reg.host}/lab/debian:12.5-slim@${movedFrom}: pinned digest ${movedFrom.slice(0, 19)}... is stale`);
    expect(t.stdout).toContain('5 of 7 base images outdated in 1 Dockerfile\n');
  });

  it('outdated --format github: a ::warning annotation at each outdated FROM line, nothing for current ones', async (ctx) => {
    needRegistry(ctx);
    const file = dockerfile(`FROM HOST/lab/debian:12.6-slim@${d['lab/debian:12.6-slim']}\n\nFROM HOST/lab/debian:12.5-slim@${movedFrom}\n`);
    // In a workflow, files are named relative to the workspace (the checkout), as annotations need.
    const r = await cli(['dockerfile', 'outdated', file, '--format', 'github', ...tls], { GITHUB_WORKSPACE: join(file, '../..') });
    expect(r.code, show(r)).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^::warning file=${file.split('/').slice(-2).join('/')},line=3,col=6,title=stale base digest::`));
    expect(lines[0]).toContain('newer tag: 12.6-slim');
    // GitLab: a Code Quality report, one issue per outdated FROM, at its line.
    const gl = await cli(['dockerfile', 'outdated', file, '--format', 'gitlab', ...tls], { CI_PROJECT_DIR: join(file, '../..') });
    expect(gl.code, show(gl)).toBe(1);
    const issues = JSON.parse(gl.stdout);
    expect(issues).toEqual([{
      description: expect.stringContaining('is stale'),
      check_name: 'containerspec-stale-base-digest',
      fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/),
      severity: 'major',
      location: { path: file.split('/').slice(-2).join('/'), lines: { begin: 3 } },
    }]);
  });

  it('a multi-platform pin is current as the index or as the platform\'s manifest; outdated exits 0 when every base is current and newest', async (ctx) => {
    needRegistry(ctx);
    const file = dockerfile([
      `FROM HOST/lab/cuda:12.4.1-runtime@${cuda.index} AS a`,
      `FROM --platform=linux/arm64 HOST/lab/cuda:12.4.1-runtime@${cuda.arm64} AS b`,
      `FROM HOST/lab/cuda:12.4.1-runtime@${cuda.arm64} AS c`,
      '',
    ].join('\n'));
    const r = await cli(['dockerfile', 'outdated', file, '--json', '--platform', 'linux/amd64', ...tls]);
    expect(r.code, show(r)).toBe(1); // 12.6.0-runtime is newer
    const [a, b, c] = JSON.parse(r.stdout).bases;
    expect(a).toMatchObject({ status: 'current', current: cuda.index, platform: 'linux/amd64', platformDigest: null, newer: ['12.6.0-runtime'] });
    expect(b).toMatchObject({ status: 'current', platform: 'linux/arm64', platformDigest: cuda.arm64 });
    // The arm64 manifest judged for amd64 is not that platform's: stale, with the manifest it should be.
    expect(c).toMatchObject({ status: 'stale', platform: 'linux/amd64', platformDigest: cuda.amd64 });
    const current = dockerfile(`FROM HOST/lab/debian:12.6-slim@${d['lab/debian:12.6-slim']}\nFROM HOST/lab/debian:latest@${d['lab/debian:latest']}\nFROM scratch\n`);
    const ok = await cli(['dockerfile', 'outdated', current, ...tls]);
    expect(ok.code, show(ok)).toBe(0);
    expect(ok.stdout).toContain('0 of 2 base images outdated in 1 Dockerfile\n');
  });

  it('a moved multi-platform tag: an index pin moves to the new index, a platform-manifest pin to that platform\'s new manifest', async (ctx) => {
    needRegistry(ctx);
    const file = dockerfile(`FROM HOST/lab/multi:1.0@${multiOld.index} AS a\nFROM HOST/lab/multi:1.0@${multiOld.amd64}\n`);
    const r = await cli(['dockerfile', 'outdated', file, '--json', '--platform', 'linux/amd64', ...tls]);
    expect(r.code, show(r)).toBe(1);
    const [a, b] = JSON.parse(r.stdout).bases;
    expect(a).toMatchObject({ status: 'stale', current: multiNew.index, pinnedKind: 'index', platformDigest: multiNew.amd64 });
    expect(b).toMatchObject({ status: 'stale', current: multiNew.index, pinnedKind: 'manifest', platformDigest: multiNew.amd64 });
    const w = await cli(['dockerfile', 'pin', file, '--update', '--write', '--platform', 'linux/amd64', ...tls]);
    expect(w.code, show(w)).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain(`FROM ${reg.host}/lab/multi:1.0@${multiNew.index} AS a\n`);
    expect(text).toContain(`FROM ${reg.host}/lab/multi:1.0@${multiNew.amd64}\n`);
    expect(text).toContain(`org.opencontainers.image.base.digest="${multiNew.amd64}"`);
  });

  it('COPY --from=IMAGE: judged like a FROM (instruction COPY) and pinned in the flag; a --from naming a stage is not an image', async (ctx) => {
    needRegistry(ctx);
    const file = dockerfile(`FROM HOST/lab/debian:12.6-slim@${d['lab/debian:12.6-slim']} AS tools\nFROM HOST/lab/debian:12.6-slim@${d['lab/debian:12.6-slim']}\nCOPY --from=tools /bin/sh /bin/sh\nCOPY --chown=0:0 --from=HOST/lab/python:3.12-slim /usr/local /usr/local\n`);
    const r = await cli(['dockerfile', 'outdated', file, '--json', ...tls]);
    expect(r.code, show(r)).toBe(1);
    const bases = JSON.parse(r.stdout).bases;
    expect(bases.map((b: { instruction: string; line: number }) => [b.instruction, b.line])).toEqual([['FROM', 1], ['FROM', 2], ['COPY', 4]]);
    expect(bases[2]).toMatchObject({ column: 25, status: 'unpinned', current: d['lab/python:3.12-slim'], newer: ['3.13-slim'], stage: 1 });
    const t = await cli(['dockerfile', 'outdated', file, ...tls]);
    expect(t.stdout).toContain(`${file}:4: OUTDATED COPY --from=${reg.host}/lab/python:3.12-slim: not pinned`);
    const w = await cli(['dockerfile', 'pin', file, '--write', ...tls]);
    expect(w.code, show(w)).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain(`COPY --chown=0:0 --from=${reg.host}/lab/python:3.12-slim@${d['lab/python:3.12-slim']} /usr/local /usr/local\n`);
    expect(text).toContain('COPY --from=tools /bin/sh /bin/sh\n');
    expect(text).toContain(`org.opencontainers.image.base.name="${reg.host}/lab/debian:12.6-slim"`); // the base is the FROM's, not the COPY's
  });

  it('each distinct base is asked once: 200 FROMs over a directory cost one HEAD per distinct name:tag and one tag list per repository', async (ctx) => {
    needRegistry(ctx);
    const root = join(tmp, 'many');
    const bases = ['lab/debian:12.4-slim', 'lab/debian:12.5', 'lab/python:3.11-slim', 'lab/spack:0.21.2', 'lab/cuda:12.4.1-devel'];
    for (let i = 0; i < 40; i++) {
      const dir = join(root, `app${i}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, i % 2 ? 'Dockerfile' : 'app.Dockerfile'), bases.map((b, k) => `FROM ${proxy.host}/${b} AS s${k}\nRUN true\n`).join(''));
    }
    proxy.requests.length = 0;
    const dfs = await loadDockerfiles([root]);
    expect(dfs).toHaveLength(40);
    const registries = new Registries({ caFile: proxy.caFile });
    const r = await outdated(dfs, { registries, platform: 'linux/amd64', pageSize: 3 }).finally(() => registries.close());
    expect(r.bases).toHaveLength(200);
    const heads = proxy.requests.filter((q) => q.method === 'HEAD');
    const lists = proxy.requests.filter((q) => q.path.includes('/tags/list'));
    expect(heads.map((q) => q.path).sort()).toEqual(bases.map((b) => `/v2/${b.replace(':', '/manifests/')}`).sort());
    // One tag list per repository (this registry answers each in one page).
    expect(lists.map((q) => q.path.replace(/\?.*$/, '')).sort()).toEqual(['lab/cuda', 'lab/debian', 'lab/python', 'lab/spack'].map((r) => `/v2/${r}/tags/list`));
    expect(proxy.requests).toHaveLength(heads.length + lists.length);
  });

  it('pin --write: the corpus pinned in place (bytes kept, CRLF kept), base labels set; pin again is a no-op; --update --to-newest moves to the newest tag', async (ctx) => {
    needRegistry(ctx);
    const crlf = fromCorpus('windows-crlf/Dockerfile');
    const before = readFileSync(crlf, 'utf8');
    const dry = await cli(['dockerfile', 'pin', crlf, ...tls]);
    expect(dry.code, show(dry)).toBe(0);
    expect(readFileSync(crlf, 'utf8')).toBe(before); // no --write: nothing written
    expect(dry.stdout).toContain(`-FROM ${reg.host}/lab/debian:12.5-slim\r\n+FROM ${reg.host}/lab/debian:12.5-slim@${d['lab/debian:12.5-slim']}\r\n`);
    const w = await cli(['dockerfile', 'pin', crlf, '--write', ...tls]);
    expect(w.code, show(w)).toBe(0);
    const after = readFileSync(crlf, 'utf8');
    expect(after).toBe(before.replace(`FROM ${reg.host}/lab/debian:12.5-slim\r\n`,
      `FROM ${reg.host}/lab/debian:12.5-slim@${d['lab/debian:12.5-slim']}\r\nLABEL org.opencontainers.image.base.name="${reg.host}/lab/debian:12.5-slim" \\\r\n      org.opencontainers.image.base.digest="${d['lab/debian:12.5-slim']}"\r\n`));
    expect(readdirSync(join(crlf, '..')).sort()).toEqual(['Dockerfile']); // no temporary file left
    const again = await cli(['dockerfile', 'pin', crlf, '--check', ...tls]);
    expect(again.code, show(again)).toBe(0);
    expect(again.stdout).toBe('');
    const newest = await cli(['dockerfile', 'pin', crlf, '--update', '--to-newest', '--write', '--json', ...tls]);
    expect(newest.code, show(newest)).toBe(0);
    const doc = JSON.parse(newest.stdout);
    expect(schemaErrors('dockerfile-1.0', doc)).toBeNull();
    expect(doc.changes[0]).toMatchObject({ action: 'newer-tag', to: `${reg.host}/lab/debian:12.6-slim@${d['lab/debian:12.6-slim']}` });
    expect(readFileSync(crlf, 'utf8')).toContain(`org.opencontainers.image.base.name="${reg.host}/lab/debian:12.6-slim"`);
    expect(readFileSync(crlf, 'utf8').replace(/\r\n/g, '')).not.toContain('\n');
  });

  it('pin --update on the multi-stage corpus: a stale digest moved, the FROM whose tag is an ARG left (and said), old base labels replaced', async (ctx) => {
    needRegistry(ctx);
    const file = fromCorpus('cuda-openmpi/Dockerfile');
    const before = readFileSync(file, 'utf8');
    const check = await cli(['dockerfile', 'pin', file, '--check', ...tls]);
    expect(check.code, show(check)).toBe(1); // the old base labels would change
    const r = await cli(['dockerfile', 'pin', file, '--update', '--write', ...tls]);
    expect(r.code, show(r)).toBe(0);
    const after = readFileSync(file, 'utf8');
    expect(after).toContain(`FROM --platform=linux/amd64 \${REGISTRY}/lab/cuda:12.4.1-devel@${d['lab/cuda:12.4.1-devel']} AS devel\n`);
    expect(r.stderr).toContain(`:12: skipped: the tag comes from ARGs`);
    expect(r.stderr).toContain(`pin its ARG's default instead: ${reg.host}/lab/cuda:12.4.1-runtime@${cuda.index}`);
    expect(after).not.toContain('12.3.0-runtime');
    expect(after).toContain(`FROM runtime\nLABEL org.opencontainers.image.base.name="${reg.host}/lab/cuda:12.4.1-runtime"\n`);
    const kept = (t: string) => t.split('\n').filter((l) => !/^FROM|org\.opencontainers\.image\.base/.test(l));
    expect(kept(after)).toEqual(kept(before));
  });

  it('pin --write on a file that changes during the run: refused (exit 2), the other writer\'s version kept', async (ctx) => {
    needRegistry(ctx);
    const file = dockerfile(`FROM ${proxy.host}/lab/debian:12.6-slim\n`);
    proxy.requests.length = 0;
    proxy.set({ kind: 'delay', ms: 1500, match: /\/manifests\// });
    try {
      const child = spawn(process.execPath, [join(REPO, 'bin/containerspec.js'), 'dockerfile', 'pin', file, '--write', '--ca-file', proxy.caFile], { env: { ...process.env, HOME: tmp, NO_COLOR: '1' } });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const done = new Promise<number | null>((res) => child.on('close', res));
      // The file was read before the first registry request: change it while the answer is delayed.
      const t0 = Date.now();
      while (proxy.requests.length === 0 && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 20));
      writeFileSync(file, `FROM ${proxy.host}/lab/debian:12.6-slim\n# a colleague's edit\n`);
      expect(await done, stderr).toBe(2);
      expect(stderr.trim().split('\n')).toEqual([`containerspec: ${file}: changed while it was being pinned; not written (its new content is kept; run again)`]);
      expect(readFileSync(file, 'utf8')).toBe(`FROM ${proxy.host}/lab/debian:12.6-slim\n# a colleague's edit\n`);
      expect(readdirSync(join(file, '..')).sort()).toEqual(['Dockerfile']);
    } finally {
      proxy.set(null);
    }
  });

  it('registries that need credentials (Basic and bearer tokens): refused without them (exit 2, file and line), answered with --creds or a docker config.json', async (ctx) => {
    needRegistry(ctx);
    const file = dockerfile(`# needs a login\nFROM ${auth.host}/lab/app:1.0\n`);
    const anon = await cli(['dockerfile', 'outdated', file, '--ca-file', auth.caFile]);
    const line = expectOneLineError(anon);
    expect(line).toMatch(new RegExp(`^containerspec: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:6: FROM ${auth.host}/lab/app:1.0: .*(credentials|authenticat|401)`, 'i'));
    const ok = await cli(['dockerfile', 'outdated', file, '--json', '--ca-file', auth.caFile, '--creds', `ci:${USERS.ci}`]);
    expect(ok.code, show(ok)).toBe(1);
    expect(JSON.parse(ok.stdout).bases[0]).toMatchObject({ status: 'unpinned', current: d['auth/app:1.0'], newer: ['1.1'] });
    // Bearer tokens (as ghcr.io and Docker Hub hand out), credentials from a docker config.json as a CI login writes it.
    const tfile = dockerfile(`FROM ${token.host}/lab/app:2.0\n`);
    const denied = await cli(['dockerfile', 'outdated', tfile, '--ca-file', token.caFile]);
    expect(expectOneLineError(denied)).toMatch(/:1:6: FROM .*lab\/app:2\.0: /);
    const config = join(tmp, `docker-${n++}`);
    mkdirSync(config);
    writeFileSync(join(config, 'config.json'), JSON.stringify({ auths: { [token.host]: { auth: Buffer.from(`ci:${USERS.ci}`).toString('base64') } } }));
    const tok = await cli(['dockerfile', 'pin', tfile, '--write', '--ca-file', token.caFile], { DOCKER_CONFIG: config });
    expect(tok.code, show(tok)).toBe(0);
    expect(readFileSync(tfile, 'utf8')).toContain(`FROM ${token.host}/lab/app:2.0@${d['token/app:2.0']}\n`);
  });

  it('bad input is one exit-2 line naming file and line: unparsable, unset ARG, unreachable registry, no such repository, no such tag', async (ctx) => {
    needRegistry(ctx);
    const port = await freePort();
    const cases: [string, RegExp][] = [
      [dockerfile('FROM HOST/lab/debian:12.6-slim\nCOPY --from=x / /\nFROOM typo\n'), /:3:1: unknown instruction "FROOM"$/],
      [fromCorpus('bad/unset-arg.Dockerfile'), /:2:6: FROM uses ARG BASE \(line 1\), which has no value/],
      [dockerfile(`ARG X=1\nFROM 127.0.0.1:${port}/lab/debian:12.6-slim\n`), new RegExp(`:2:6: FROM 127\\.0\\.0\\.1:${port}/lab/debian:12\\.6-slim: .*(refused|ECONNREFUSED)`, 'i')],
      [dockerfile('\n\nFROM HOST/lab/nope:1.0\n'), /:3:6: FROM .*\/lab\/nope:1\.0: repository lab\/nope does not exist on 127\.0\.0\.1:\d+ \(NAME_UNKNOWN: repository name not known to registry\)$/],
      [dockerfile('FROM HOST/lab/debian:12.6-slim AS ok\nFROM HOST/lab/debian:99 AS nope\n'), /:2:6: FROM .*\/lab\/debian:99: .*\/lab\/debian has no tag 99 \(it has 12\.5, 12\.6, 12\.4-slim, 12\.5-slim, 12\.6-slim, bookworm, latest\)$/],
    ];
    for (const [file, re] of cases) {
      for (const sub of ['outdated', 'pin']) {
        const r = await cli(['dockerfile', sub, file, ...tls]);
        const line = expectOneLineError(r);
        expect(line.startsWith(`containerspec: ${file}:`), line).toBe(true);
        expect(line, sub).toMatch(re);
      }
    }
    // Under --format github the error is also an annotation on stdout.
    const g = await cli(['dockerfile', 'outdated', cases[0]![0], '--format', 'github', ...tls]);
    expect(g.code).toBe(2);
    expect(g.stdout).toMatch(/^::error file=.*,line=3,title=containerspec dockerfile::/);
  }, 60_000);

  it('labels --from-image: the supercontainers labels the image supports, and the one it contradicts (openmpi on an MPICH image), exit 1', async (ctx) => {
    needRegistry(ctx);
    const image = join(FIXTURES, 'trixie-mpich-cuda/oci');
    if (!existsSync(join(image, 'index.json'))) {
      console.warn('skipping: fixtures/build/trixie-mpich-cuda not built (npm test builds it)');
      ctx.skip();
    }
    const file = fromCorpus('cuda-openmpi/Dockerfile');
    const r = await cli(['dockerfile', 'labels', file, '--from-image', `oci:${image}`, '--json']);
    expect(r.code, show(r)).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(schemaErrors('dockerfile-1.0', doc)).toBeNull();
    const [df] = doc.dockerfiles;
    const s = Object.fromEntries(df.suggestions.map((x: { key: string; value: string }) => [x.key, x.value]));
    expect(s).toEqual({ 'org.supercontainers.mpi': 'mpich', 'org.supercontainers.gpu': 'cuda', 'org.supercontainers.glibc': '2.41.0', 'org.supercontainers.arch': 'x86_64' });
    expect(df.contradictions).toHaveLength(1);
    expect(df.contradictions[0]).toMatchObject({ key: 'org.supercontainers.mpi', value: 'openmpi', found: 'mpich', line: 19 });
    expect(df.contradictions[0].message).toMatch(/:19: LABEL org\.supercontainers\.mpi=openmpi but the image carries mpich 4\.2\.1/);
    // Text output ends with the LABEL line to add.
    const t = await cli(['dockerfile', 'labels', file, '--from-image', `oci:${image}`]);
    expect(t.stdout).toContain('LABEL org.supercontainers.glibc="2.41.0"');
    expect(t.stdout).toContain('--write would change 3 labels');
    // --write: the contradicted label replaced where it is written, the missing ones added after the final FROM, the rest kept.
    const before = readFileSync(file, 'utf8');
    const w = await cli(['dockerfile', 'labels', file, '--from-image', `oci:${image}`, '--write']);
    expect(w.code, show(w)).toBe(0);
    expect(w.stderr).toContain(`${file}:19: org.supercontainers.mpi: openmpi -> mpich`);
    expect(readFileSync(file, 'utf8')).toBe(before
      .replace('LABEL org.supercontainers.mpi=openmpi org.supercontainers.gpu=cuda', 'LABEL org.supercontainers.mpi="mpich" org.supercontainers.gpu=cuda')
      .replace('FROM runtime\n', 'FROM runtime\nLABEL org.supercontainers.glibc="2.41.0" \\\n      org.supercontainers.arch="x86_64"\n'));
    const again = await cli(['dockerfile', 'labels', file, '--from-image', `oci:${image}`, '--json']);
    expect(again.code, show(again)).toBe(0);
    expect(JSON.parse(again.stdout).dockerfiles[0]).toMatchObject({ contradictions: [], changes: [], diff: '' });
    // A Dockerfile whose labels agree exits 0.
    const good = dockerfile('FROM HOST/lab/debian:12.6-slim\nLABEL org.supercontainers.mpi=mpich org.supercontainers.gpu=cuda org.supercontainers.glibc=2.41.0\n');
    const g = await cli(['dockerfile', 'labels', good, '--from-image', `oci:${image}`, '--json']);
    expect(g.code, show(g)).toBe(0);
  });
});
