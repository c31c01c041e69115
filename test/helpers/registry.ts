/**
 * A real OCI registry for tests: the Debian `docker-registry` (distribution 2.8) on 127.0.0.1 with
 * TLS from a throwaway CA, optionally behind htpasswd (bcrypt) or token auth (test/helpers/token-server.ts),
 * and images pushed into it with real `skopeo copy`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTokenServer, type TokenServer } from './token-server.js';

// ---------------------------------------------------------------------------------------------
// processes

/** What a finished tool run left behind. */
export interface ToolResult {
  /** Exit status; null when a signal (or the timeout) ended it, or it could not start. */
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run a tool without blocking the event loop (the token server and fault proxy live in this process,
 * so a spawnSync against them would deadlock). Never rejects: a tool that cannot start has status null
 * and the error in stderr.
 */
export function runTool(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    const done = (status: number | null, extra = '') => {
      clearTimeout(timer);
      resolve({ status, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') + extra });
    };
    child.on('error', (e) => done(null, `${cmd}: ${e.message}`));
    child.on('close', (code) => done(code));
    child.stdin.end(opts.input ?? '');
  });
}

/** Is `cmd` on PATH? */
export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Why the registry tests cannot run here (a tool is missing), or null when they can. */
export function registryMissing(): string | null {
  const missing = ['docker-registry', 'skopeo', 'openssl'].filter((c) => !hasCommand(c));
  return missing.length ? `${missing.join(', ')} not installed (npm test installs docker-registry and skopeo)` : null;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** Stop a child: SIGTERM, SIGKILL after `graceMs`, resolved once it has exited. */
export function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
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

// ---------------------------------------------------------------------------------------------
// certificates

/** A throwaway CA, a server certificate it signed for 127.0.0.1/localhost, and a token-signing key. */
export interface TestCerts {
  dir: string;
  /** The CA certificate (PEM): what a client must trust. */
  caFile: string;
  caKey: string;
  /** Server certificate (PEM) with subjectAltName IP:127.0.0.1, DNS:localhost, signed by the CA. */
  serverCert: string;
  serverKey: string;
  /** Self-signed RSA certificate (PEM) whose key signs registry tokens (RS256); the registry's rootcertbundle. */
  tokenCert: string;
  tokenKey: string;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`openssl ${args.slice(0, 2).join(' ')} failed: ${(r.stderr || r.error?.message || '').trim()}`);
}

/**
 * Make a CA, a server certificate for IP 127.0.0.1 and DNS localhost (ca.crt, server.crt,
 * server.key), and a self-signed token-signing RSA certificate (token.crt, token.key) in `dir`, with openssl.
 */
export function makeTestCerts(dir: string): TestCerts {
  mkdirSync(dir, { recursive: true });
  const days = ['-days', '30'];
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key'], dir);
  openssl(['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=containerspec test CA', ...days, '-out', 'ca.crt',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'server.key'], dir);
  openssl(['req', '-new', '-key', 'server.key', '-subj', '/CN=127.0.0.1', '-out', 'server.csr'], dir);
  writeFileSync(join(dir, 'server.ext'), [
    'subjectAltName=IP:127.0.0.1,DNS:localhost', 'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth', '',
  ].join('\n'));
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', ...days, '-extfile', 'server.ext', '-out', 'server.crt'], dir);
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'token.key', '-subj', '/CN=containerspec-test-issuer', ...days, '-out', 'token.crt'], dir);
  const f = (n: string) => join(dir, n);
  return { dir, caFile: f('ca.crt'), caKey: f('ca.key'), serverCert: f('server.crt'), serverKey: f('server.key'), tokenCert: f('token.crt'), tokenKey: f('token.key') };
}

let cachedCerts: TestCerts | undefined;
const CERTS_PREFIX = 'cs-certs-';

/** Is process `pid` alive? */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Remove cert dirs left by test processes that are gone (a worker killed before its exit hooks ran). */
function sweepStaleCerts(): void {
  for (const name of readdirSync(tmpdir())) {
    const pid = Number(/^cs-certs-(\d+)-/.exec(name)?.[1]);
    if (pid && pid !== process.pid && !alive(pid)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

/**
 * One set of test certificates per test process, in a temp dir named by the pid (removed by
 * removeTestCerts(), at exit, or by a later process once this one is gone).
 */
export function testCerts(): TestCerts {
  if (!cachedCerts) {
    sweepStaleCerts();
    const dir = mkdtempSync(join(tmpdir(), `${CERTS_PREFIX}${process.pid}-`));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    cachedCerts = makeTestCerts(dir);
  }
  return cachedCerts;
}

/** Remove this process's test certificates (call in afterAll once every registry and proxy has stopped). */
export function removeTestCerts(): void {
  if (cachedCerts) rmSync(cachedCerts.dir, { recursive: true, force: true });
  cachedCerts = undefined;
}

// ---------------------------------------------------------------------------------------------
// HTTPS requests

/** A whole response. */
export interface TlsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * One HTTPS request to a test server, trusting `ca` (a PEM file path) when given, else only the
 * system roots (so a test server's certificate fails verification). Rejects on TLS or socket errors.
 */
export function tlsRequest(url: string, opts: { ca?: string; method?: string; headers?: Record<string, string>; body?: Buffer | string; timeoutMs?: number } = {}): Promise<TlsResponse> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, {
      method: opts.method ?? 'GET',
      headers: opts.headers ?? {},
      agent: false,
      ...(opts.ca ? { ca: readFileSync(opts.ca) } : {}),
      timeout: opts.timeoutMs ?? 15_000,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error(`response from ${url} aborted after ${chunks.reduce((n, c) => n + c.length, 0)} bytes`)));
    });
    req.on('timeout', () => req.destroy(new Error(`request to ${url} timed out`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** `Basic` Authorization header value. */
export const basicAuth = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** `sha256:<hex>` of some bytes. */
export const sha256Digest = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

// ---------------------------------------------------------------------------------------------
// the registry

/** How to start a registry. */
export interface RegistryOptions {
  /** 'none' (default): anonymous read/write; 'htpasswd': Basic auth against `users`; 'token': Bearer tokens from a test token server. */
  auth?: 'none' | 'htpasswd' | 'token';
  /** user -> password, for htpasswd and token auth. */
  users?: Record<string, string>;
  /** Allow DELETE of manifests and blobs (storage.delete.enabled). */
  deleteEnabled?: boolean;
  /** Token auth: repositories anonymous clients may pull ('*' for all). */
  anonymousPull?: string[];
  /** Token auth: lifetime of issued tokens in seconds (default 300). */
  tokenExpiresIn?: number;
}

/** How to push. */
export interface PushOptions {
  /** `user:password` for the registry. */
  creds?: string;
  /** Push every image of an index (skopeo --all); without it skopeo picks this machine's platform. */
  all?: boolean;
  /** Recompress every layer with gzip (a new manifest digest): for peers that cannot read zstd, like ch-image 0.31. */
  gzip?: boolean;
}

/** A running registry. */
export interface TestRegistry {
  /** `127.0.0.1:PORT` */
  host: string;
  /** `https://127.0.0.1:PORT` */
  url: string;
  /** The CA certificate (PEM file) that verifies the registry (and the token server). */
  caFile: string;
  /** A directory laid out like /etc/containers/certs.d/HOST/: holds ca.crt. */
  certsDir: string;
  /** Its parent, laid out like /etc/containers/certs.d/. */
  certsRoot: string;
  /** The storage root (filesystem driver), for tests that damage stored blobs. */
  storageDir: string;
  /** The registry's log file. */
  logFile: string;
  /** The token server, in token mode. */
  token?: TokenServer;
  /** Kill the registry (and its token server), wait for exit, remove its files. */
  stop(): Promise<void>;
  /** `skopeo copy SRC docker://HOST/REPO:TAG`; resolves to the manifest digest pushed. */
  push(src: string, repoTag: string, opts?: PushOptions): Promise<string>;
  /** The manifest bytes stored under `repoTag` (or `repo@digest`), read with `skopeo inspect --raw`. */
  rawManifest(ref: string, opts?: { creds?: string }): Promise<Buffer>;
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** An htpasswd file body with bcrypt hashes (cost 4: fast to check), made with python3's crypt module. */
export function bcryptHtpasswd(users: Record<string, string>): string {
  const script = [
    'import crypt, json, sys, warnings',
    'users = json.load(sys.stdin)',
    'for u, p in users.items(): print(u + ":" + crypt.crypt(p, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))',
  ].join('\n');
  const r = spawnSync('python3', ['-W', 'ignore', '-c', script], { input: JSON.stringify(users), encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0 || !/^\S+:\$2[aby]\$04\$/m.test(r.stdout) && Object.keys(users).length) {
    throw new Error(`cannot make bcrypt hashes with python3 crypt: ${(r.stderr || r.error?.message || r.stdout).trim()}`);
  }
  return r.stdout;
}

function authConfig(opts: RegistryOptions, dir: string, token: TokenServer | undefined, certs: TestCerts): Record<string, unknown> | undefined {
  if (opts.auth === 'htpasswd') {
    const file = join(dir, 'htpasswd');
    writeFileSync(file, bcryptHtpasswd(opts.users ?? {}));
    return { htpasswd: { realm: 'containerspec-test', path: file } };
  }
  if (opts.auth === 'token' && token) {
    return { token: { realm: token.realm, service: token.service, issuer: token.issuer, rootcertbundle: certs.tokenCert } };
  }
  return undefined;
}

/** distribution's configuration; JSON is YAML, which `docker-registry serve` reads. */
function registryConfig(port: number, storageDir: string, certs: TestCerts, auth: Record<string, unknown> | undefined, deleteEnabled: boolean): string {
  return JSON.stringify({
    version: 0.1,
    log: { level: 'info', formatter: 'text', accesslog: { disabled: false } },
    storage: {
      filesystem: { rootdirectory: storageDir },
      delete: { enabled: deleteEnabled },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: { addr: `127.0.0.1:${port}`, secret: 'containerspec-test-secret', tls: { certificate: certs.serverCert, key: certs.serverKey } },
    health: { storagedriver: { enabled: false } },
    ...(auth ? { auth } : {}),
  }, null, 2);
}

const tail = (file: string, n = 15): string => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').slice(-n).join('\n') : '(no log)');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait until GET /v2/ answers 200 or 401 over TLS; throws with the log's tail when the process exits or it takes too long. */
async function waitReady(child: ChildProcess, url: string, caFile: string, logFile: string): Promise<void> {
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

/** Spawn `docker-registry serve` on a free port; retries when the port was taken in between. */
async function spawnRegistry(dir: string, storageDir: string, certs: TestCerts, auth: Record<string, unknown> | undefined, deleteEnabled: boolean): Promise<{ child: ChildProcess; port: number; logFile: string }> {
  const logFile = join(dir, 'registry.log');
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const configFile = join(dir, 'config.yml');
    writeFileSync(configFile, registryConfig(port, storageDir, certs, auth, deleteEnabled));
    const fd = openSync(logFile, 'w');
    const child = spawn('docker-registry', ['serve', configFile], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    live.add(child);
    try {
      await waitReady(child, `https://127.0.0.1:${port}`, certs.caFile, logFile);
      return { child, port, logFile };
    } catch (e) {
      await stopChild(child);
      if (attempt < 4 && /address already in use/i.test(tail(logFile, 50))) continue;
      throw e;
    }
  }
}

/**
 * Start a real docker-registry on 127.0.0.1:PORT with TLS (the test CA), filesystem storage in a
 * temp dir; resolves once GET /v2/ answers. In token mode, a token server is started first and
 * stopped with the registry.
 */
export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const why = registryMissing();
  if (why) throw new Error(why);
  const certs = testCerts();
  const dir = mkdtempSync(join(tmpdir(), 'cs-registry-'));
  const storageDir = join(dir, 'storage');
  mkdirSync(storageDir);
  let token: TokenServer | undefined;
  try {
    if (opts.auth === 'token') {
      token = await startTokenServer({
        certs, users: opts.users ?? {},
        ...(opts.anonymousPull ? { anonymousPull: opts.anonymousPull } : {}),
        ...(opts.tokenExpiresIn !== undefined ? { expiresIn: opts.tokenExpiresIn } : {}),
      });
    }
    const { child, port, logFile } = await spawnRegistry(dir, storageDir, certs, authConfig(opts, dir, token, certs), opts.deleteEnabled ?? false);
    const host = `127.0.0.1:${port}`;
    const certsRoot = join(dir, 'certs.d');
    const certsDir = join(certsRoot, host);
    mkdirSync(certsDir, { recursive: true });
    copyFileSync(certs.caFile, join(certsDir, 'ca.crt'));
    const reg: TestRegistry = {
      host, url: `https://${host}`, caFile: certs.caFile, certsDir, certsRoot, storageDir, logFile,
      ...(token ? { token } : {}),
      stop: async () => {
        await stopChild(child);
        await token?.stop();
        rmSync(dir, { recursive: true, force: true });
      },
      push: (src, repoTag, pushOpts = {}) => skopeoPush(reg, dir, src, repoTag, pushOpts),
      rawManifest: (ref, o = {}) => skopeoRaw(reg, ref, o.creds),
    };
    return reg;
  } catch (e) {
    await token?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** Environment for skopeo: no stored credentials of this machine leak in. */
function skopeoEnv(dir: string): NodeJS.ProcessEnv {
  const auth = join(dir, 'auth.json');
  if (!existsSync(auth)) writeFileSync(auth, '{"auths":{}}\n');
  return { ...process.env, REGISTRY_AUTH_FILE: auth };
}

const credFlags = (prefix: '--dest-' | '--src-' | '--', creds: string | undefined): string[] => (creds ? [`${prefix}creds`, creds] : [`${prefix}no-creds`]);

async function skopeoPush(reg: TestRegistry, dir: string, src: string, repoTag: string, opts: PushOptions): Promise<string> {
  const digestFile = join(dir, `digest-${Date.now()}-${Math.random().toString(16).slice(2)}`);
  const args = ['--insecure-policy', 'copy', '--retry-times', '0', '--dest-cert-dir', reg.certsDir, '--dest-tls-verify=true',
    ...credFlags('--dest-', opts.creds), ...(opts.all ? ['--all'] : []), ...(opts.gzip ? ['--dest-compress-format', 'gzip', '--dest-compress'] : ['--preserve-digests']), '--digestfile', digestFile,
    src, `docker://${reg.host}/${repoTag}`];
  const r = await runTool('skopeo', args, { env: skopeoEnv(dir), timeoutMs: 300_000 });
  if (r.status !== 0 || !existsSync(digestFile)) throw new Error(`skopeo copy ${src} to ${reg.host}/${repoTag} failed (${r.status}): ${r.stderr.trim()}`);
  const digest = readFileSync(digestFile, 'utf8').trim();
  rmSync(digestFile, { force: true });
  return digest;
}

async function skopeoRaw(reg: TestRegistry, ref: string, creds: string | undefined): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'cs-skopeo-'));
  try {
    const args = ['inspect', '--raw', '--retry-times', '0', '--cert-dir', reg.certsDir, '--tls-verify=true', ...credFlags('--', creds), `docker://${reg.host}/${ref}`];
    const r = await new Promise<{ status: number | null; out: Buffer; err: string }>((resolve) => {
      const child = spawn('skopeo', args, { env: skopeoEnv(dir), stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      let err = '';
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
      child.on('error', (e) => resolve({ status: null, out: Buffer.alloc(0), err: e.message }));
      child.on('close', (status) => resolve({ status, out: Buffer.concat(out), err }));
    });
    if (r.status !== 0) throw new Error(`skopeo inspect --raw ${reg.host}/${ref} failed (${r.status}): ${r.err.trim()}`);
    return r.out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
