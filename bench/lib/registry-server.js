// A real OCI registry for the registry figures: the Debian `docker-registry` (distribution 2.8)
// on 127.0.0.1:PORT with TLS from a throwaway CA made with openssl (subjectAltName IP:127.0.0.1),
// filesystem storage under bench/.work/registry/storage (kept between runs, so the bench images
// are pushed once), its log (access log included) in bench/.work/registry/registry.log.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readSync, fstatSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** Is `cmd` on PATH? */
export function hasCommand(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Which of `cmds` are not on PATH (empty when all are). */
export const missingCommands = (cmds) => cmds.filter((c) => !hasCommand(c));

/** Run a tool to completion without blocking the event loop; resolves { status, stdout, stderr } (status null: could not start / killed). */
export function runTool(cmd, args, { env = process.env, cwd, timeoutMs = 600_000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const done = (status, extra = '') => {
      clearTimeout(timer);
      resolve({ status, stdout: out, stderr: err + extra });
    };
    child.on('error', (e) => done(null, `${cmd}: ${e.message}`));
    child.on('close', (code) => done(code));
  });
}

function openssl(args, cwd) {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`openssl ${args.slice(0, 2).join(' ')} failed: ${(r.stderr || r.error?.message || '').trim()}`);
}

/** A CA (ca.crt) and a server certificate it signed for IP 127.0.0.1 (server.crt, server.key), in `dir`. */
function makeCerts(dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const days = ['-days', '7'];
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key'], dir);
  openssl(['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=containerspec bench CA', ...days, '-out', 'ca.crt',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'server.key'], dir);
  openssl(['req', '-new', '-key', 'server.key', '-subj', '/CN=127.0.0.1', '-out', 'server.csr'], dir);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', ...days, '-extfile', 'server.ext', '-out', 'server.crt'], dir);
  return { caFile: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
}

/** A port that was free a moment ago on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** One HTTPS request trusting `ca` (PEM file); resolves { status, headers, body }. */
export function tlsRequest(url, { ca, method = 'GET', headers = {}, timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method, headers, agent: false, ca: ca ? readFileSync(ca) : undefined, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`request to ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

const tail = (file, n = 15) => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').slice(-n).join('\n') : '(no log)');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Registries still running when this process exits (an error, ^C): killed then.
const live = new Set();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    for (const c of live) c.kill('SIGKILL');
    process.exit(130);
  });
}

function stopChild(child, graceMs = 3000) {
  live.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function waitReady(child, url, caFile, logFile) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}):\n${tail(logFile)}`);
    try {
      const r = await tlsRequest(`${url}/v2/`, { ca: caFile, timeoutMs: 2000 });
      if (r.status === 200 || r.status === 401) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`docker-registry did not answer ${url}/v2/ within 20 s:\n${tail(logFile)}`);
    await sleep(50);
  }
}

/** Why a registry cannot be started here, or null. */
export function registryMissing() {
  const m = missingCommands(['docker-registry', 'skopeo', 'openssl']);
  return m.length ? `${m.join(', ')} not installed` : null;
}

/**
 * Start docker-registry with TLS on a free 127.0.0.1 port, storage in `dir`/storage (kept), certs
 * in `dir`/certs (made afresh). Resolves once GET /v2/ answers. Returns
 * { host, url, caFile, certsDir, storageDir, logFile, env, stop(), push(), manifestDigest(), logOffset(), requestsSince() }.
 */
export async function startRegistry(dir) {
  const why = registryMissing();
  if (why) throw new Error(why);
  mkdirSync(dir, { recursive: true });
  const certs = makeCerts(join(dir, 'certs'));
  const storageDir = join(dir, 'storage');
  mkdirSync(storageDir, { recursive: true });
  const logFile = join(dir, 'registry.log');
  const configFile = join(dir, 'config.yml');
  let child;
  let port;
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    // JSON is YAML: docker-registry serve reads it as its config
    writeFileSync(configFile, JSON.stringify({
      version: 0.1,
      log: { level: 'info', formatter: 'text', accesslog: { disabled: false } },
      storage: { filesystem: { rootdirectory: storageDir }, delete: { enabled: false }, maintenance: { uploadpurging: { enabled: false } } },
      http: { addr: `127.0.0.1:${port}`, secret: 'containerspec-bench-secret', tls: { certificate: certs.cert, key: certs.key } },
      health: { storagedriver: { enabled: false } },
    }, null, 2));
    const fd = openSync(logFile, 'w');
    child = spawn('docker-registry', ['serve', configFile], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    live.add(child);
    try {
      await waitReady(child, `https://127.0.0.1:${port}`, certs.caFile, logFile);
      break;
    } catch (e) {
      await stopChild(child);
      if (attempt < 4 && /address already in use/i.test(tail(logFile, 50))) continue;
      throw e;
    }
  }
  const host = `127.0.0.1:${port}`;
  // skopeo's --*-cert-dir: a directory holding ca.crt
  const certsDir = join(dir, 'certs.d', host);
  rmSync(join(dir, 'certs.d'), { recursive: true, force: true });
  mkdirSync(certsDir, { recursive: true });
  copyFileSync(certs.caFile, join(certsDir, 'ca.crt'));
  // no stored credentials of this machine leak into skopeo
  const authFile = join(dir, 'auth.json');
  writeFileSync(authFile, '{"auths":{}}\n');
  const env = { ...process.env, REGISTRY_AUTH_FILE: authFile };

  const reg = {
    host,
    url: `https://${host}`,
    caFile: certs.caFile,
    certsDir,
    storageDir,
    logFile,
    env,
    pid: child.pid,
    stop: () => stopChild(child),
    /** `skopeo copy SRC docker://HOST/REPO:TAG` (digests preserved); resolves to the manifest digest. */
    async push(src, repoTag) {
      const digestFile = join(dir, 'push.digest');
      rmSync(digestFile, { force: true });
      const r = await runTool('skopeo', ['--insecure-policy', 'copy', '--quiet', '--retry-times', '0', '--dest-cert-dir', certsDir, '--dest-no-creds',
        '--preserve-digests', '--digestfile', digestFile, src, `docker://${host}/${repoTag}`], { env });
      if (r.status !== 0 || !existsSync(digestFile)) throw new Error(`skopeo copy ${src} to ${host}/${repoTag} failed (${r.status}): ${r.stderr.trim()}`);
      return readFileSync(digestFile, 'utf8').trim();
    },
    /** The digest the registry serves for `repo:tag` (HEAD of the manifest), or null when it has none. */
    async manifestDigest(repo, tag) {
      const r = await tlsRequest(`${reg.url}/v2/${repo}/manifests/${tag}`, {
        ca: certs.caFile, method: 'HEAD',
        headers: { Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
      });
      return r.status === 200 ? String(r.headers['docker-content-digest'] ?? '') || null : null;
    },
    /** Where the log ends now: pass to requestsSince() to see what came after. */
    logOffset: () => statSync(logFile).size,
    /**
     * The requests the access log recorded after `offset`: [{ method, path, status, bytes }].
     * The access log is written when a response completes, so call this after the client has exited.
     */
    requestsSince(offset) {
      const fd = openSync(logFile, 'r');
      try {
        const size = fstatSync(fd).size;
        const buf = Buffer.alloc(Math.max(0, size - offset));
        if (buf.length) readSync(fd, buf, 0, buf.length, offset);
        const out = [];
        // combined log format: 127.0.0.1 - - [date] "GET /v2/... HTTP/1.1" 200 1234 "" "agent"
        for (const m of buf.toString('utf8').matchAll(/"([A-Z]+) (\/v2\/\S*) HTTP\/[\d.]+" (\d{3}) (\d+|-)/g)) {
          out.push({ method: m[1], path: m[2], status: Number(m[3]), bytes: m[4] === '-' ? 0 : Number(m[4]) });
        }
        return out;
      } finally {
        closeSync(fd);
      }
    },
  };
  return reg;
}
