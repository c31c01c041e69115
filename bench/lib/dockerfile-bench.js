// Dockerfile figure: `containerspec dockerfile outdated DIR` over 200 generated Dockerfiles naming
// 50 distinct bases (20 repositories) on a TLS docker-registry on 127.0.0.1, as a whole process.
// Requests are counted at the registry (its access log); the target is one HEAD per distinct
// name:tag plus one tag-list page per repository whose tags are versions (`latest` needs none).
// Wall time is compared with what a CI script would do without it: skopeo inspect per distinct base
// and skopeo list-tags per repository, in sequence.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { RegistryClient } from '../../dist/registry/client.js';
import { registryMissing, runTool, startRegistry } from './registry-server.js';
import { fmtMs, log, median } from './util.js';

const REPOS = 20;
const TAGS = ['1.0', '1.1', '2.0-slim', '2.1-slim', 'latest'];
/** The 50 bases the Dockerfiles name: every repository at 1.0 and 2.0-slim, half of them at latest. */
const BASES = Array.from({ length: 50 }, (_, i) => `bench/base${i % REPOS}:${['1.0', '2.0-slim', 'latest'][Math.floor(i / REPOS)]}`);

/** Push a one-layer image whose config names it (every tag a digest of its own); its digest. */
async function pushTiny(c, repo, tag) {
  const layer = gzipSync(Buffer.alloc(1024)); // an empty tar
  const diff = `sha256:${(await import('node:crypto')).createHash('sha256').update(Buffer.alloc(1024)).digest('hex')}`;
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: { base: `${repo}:${tag}` } }, rootfs: { type: 'layers', diff_ids: [diff] } }));
  const [cd, ld] = [await c.pushBlob(repo, config), await c.pushBlob(repo, layer)];
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cd, size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: ld, size: layer.length }],
  }));
  return (await c.putManifest(repo, tag, manifest, 'application/vnd.oci.image.manifest.v1+json')).digest;
}

/** Run the CLI; resolves { wall (s), code, stdout }. */
function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ wall: Number(process.hrtime.bigint() - t0) / 1e9, code, stdout: out, stderr: err }));
  });
}

export async function benchDockerfile(root, { rounds = 5 } = {}) {
  log('\n== Dockerfile outdated ==');
  const why = registryMissing();
  if (why) {
    log(`  skipped: ${why}`);
    return [{ figure: 'dockerfile outdated: registry requests', measured: 'skipped', reference: '-', ratio: null, target: '-', met: null }];
  }
  const tmp = mkdtempSync(join(tmpdir(), 'csbench-dockerfile-'));
  const reg = await startRegistry(join(root, 'bench', '.work', 'dockerfile-registry'));
  try {
    const c = await RegistryClient.connect(reg.host, { caFile: reg.caFile });
    const digests = {};
    const t0 = performance.now();
    for (let r = 0; r < REPOS; r++) for (const t of TAGS) digests[`bench/base${r}:${t}`] = await pushTiny(c, `bench/base${r}`, t);
    c.close();
    log(`  ${REPOS} repositories x ${TAGS.length} tags pushed in ${fmtMs(performance.now() - t0)} (kept between runs)`);
    // 200 Dockerfiles in 50 directories, each a build stage and a runtime stage; every other FROM pinned.
    const dir = join(tmp, 'repo');
    let froms = 0;
    for (let k = 0; k < 200; k++) {
      const sub = join(dir, `svc${k % 50}`);
      mkdirSync(sub, { recursive: true });
      const a = BASES[k % 50];
      const b = BASES[(k * 7 + 3) % 50];
      const pin = (ref, i) => (i % 2 ? `${ref}@${digests[ref]}` : ref);
      writeFileSync(join(sub, ['Dockerfile', 'app.Dockerfile', 'Dockerfile.dev', 'Containerfile'][Math.floor(k / 50)]),
        `# generated\nARG REG=${reg.host}\nFROM \${REG}/${pin(a, k)} AS build\nRUN make\n\nFROM ${reg.host}/${pin(b, k + 1)}\nCOPY --from=build /out /out\nLABEL org.supercontainers.mpi=mpich\n`);
      froms += 2;
    }
    const distinct = new Set(BASES).size;
    const versionedRepos = new Set(BASES.filter((b) => !b.endsWith(':latest')).map((b) => b.split(':')[0])).size;
    const target = distinct + versionedRepos; // one page each: this registry answers a tag list in one page
    const cli = join(root, 'bin', 'containerspec.js');
    const args = [cli, 'dockerfile', 'outdated', dir, '--json', '--ca-file', reg.caFile, '--quiet'];
    await run(process.execPath, args); // warm: page cache, registry
    const walls = [];
    let requests = null;
    let bases = 0;
    for (let i = 0; i < rounds; i++) {
      const from = reg.logOffset();
      const r = await run(process.execPath, args);
      if (r.code !== 1 && r.code !== 0) throw new Error(`dockerfile outdated exited ${r.code}: ${r.stderr.slice(0, 2000)}`);
      walls.push(r.wall * 1000);
      bases = JSON.parse(r.stdout).bases.length;
      await new Promise((res) => setTimeout(res, 150)); // the access log is written as responses complete
      const n = reg.requestsSince(from).length;
      requests = requests === null ? n : Math.max(requests, n);
    }
    const wall = median(walls);
    // Reference: what a CI shell script does without containerspec, one skopeo per distinct base and
    // per repository (skopeo inspect for the digest, skopeo list-tags), in sequence; one round.
    const sk = ['--retry-times', '0', '--cert-dir', reg.certsDir, '--no-creds'];
    const t1 = performance.now();
    for (const b of new Set(BASES)) {
      const r = await runTool('skopeo', ['inspect', '--raw', ...sk, `docker://${reg.host}/${b}`], { env: reg.env });
      if (r.status !== 0) throw new Error(`skopeo inspect ${b} failed: ${r.stderr.slice(0, 500)}`);
    }
    for (const repo of new Set(BASES.filter((b) => !b.endsWith(':latest')).map((b) => b.split(':')[0]))) {
      const r = await runTool('skopeo', ['list-tags', ...sk, `docker://${reg.host}/${repo}`], { env: reg.env });
      if (r.status !== 0) throw new Error(`skopeo list-tags ${repo} failed: ${r.stderr.slice(0, 500)}`);
    }
    const skopeoMs = performance.now() - t1;
    log(`  ${froms} FROMs (${bases} judged) in 200 Dockerfiles, ${distinct} distinct bases in ${REPOS} repositories`);
    log(`  -> registry requests per run: ${requests} (target ${target} = ${distinct} distinct bases + ${versionedRepos} tag-list pages; one lookup per FROM would be ${froms * 2})`);
    log(`  -> wall time: median ${fmtMs(wall)} of ${rounds} whole-process runs (min ${fmtMs(Math.min(...walls))}); reference: ${distinct} skopeo inspect + ${versionedRepos} skopeo list-tags in sequence, ${fmtMs(skopeoMs)}`);
    return [
      { figure: 'dockerfile outdated: registry requests (200 files, 50 bases)', measured: String(requests), reference: String(froms * 2), ratio: requests / target, target: `<= ${target}`, met: requests <= target },
      { figure: 'dockerfile outdated: wall time (200 files)', measured: fmtMs(wall), reference: `${fmtMs(skopeoMs)} (skopeo x${distinct + versionedRepos})`, ratio: wall / skopeoMs, target: '(report)', met: null },
    ];
  } finally {
    await reg.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}
