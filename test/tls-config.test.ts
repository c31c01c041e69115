/**
 * TLS options from --ca-file and a containers-certs.d tree, with certificates made by `openssl` and
 * a real HTTPS server on 127.0.0.1 that requires a client certificate: reachable with the options
 * tlsFor returns, not with Node's defaults.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type RequestOptions, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SecureContext } from 'node:tls';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError, UsageError } from '../src/errors/index.js';
import { defaultCertDirs, secureContextFor, tlsFor, type TlsSettings } from '../src/registry/tls.js';
import { buildCli, REPO } from './helpers/cli.js';

let root: string;
let pki: string;
let server: Server;
let port: number;
let host: string;
const pem = (name: string): Buffer => readFileSync(join(pki, name));

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: pki, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by the CA; and a second, unrelated CA. */
function makePki(): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const ca of ['ca', 'otherca']) {
    openssl('req', '-x509', ...ec, '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '2', '-subj', `/CN=cstest ${ca}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  }
  writeFileSync(join(pki, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  writeFileSync(join(pki, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [leaf, ca] of [['server', 'ca'], ['client', 'ca'], ['stray', 'otherca'], ['otherserver', 'otherca']] as const) {
    openssl('req', '-new', ...ec, '-keyout', `${leaf}.key`, '-out', `${leaf}.csr`, '-subj', `/CN=cstest ${leaf}`);
    openssl('x509', '-req', '-in', `${leaf}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${leaf}.pem`, '-days', '2',
      '-extfile', `${leaf === 'server' || leaf === 'otherserver' ? 'server' : 'client'}.ext`);
  }
}

/** A certs.d tree `DIR/HOST/` holding the given files. */
function certsD(name: string, files: Record<string, Buffer | string>, forHost = host): string {
  const dir = join(root, name);
  mkdirSync(join(dir, forHost), { recursive: true });
  for (const [f, content] of Object.entries(files)) writeFileSync(join(dir, forHost, f), content);
  return dir;
}

/** GET https://127.0.0.1:PORT/ with these TLS options: the body, or the error code. */
/** A GET with the settings as the registry transport uses them (one secure context: defaults plus the extra CAs), or raw request options. */
function fetchWith(settings: Partial<TlsSettings> | Partial<RequestOptions>): Promise<string> {
  const s = settings as Partial<TlsSettings>;
  const ctx = s.rejectUnauthorized !== undefined || s.ca || s.cert ? secureContextFor({ rejectUnauthorized: true, ...s } as TlsSettings) : undefined;
  const tlsOpts: Partial<RequestOptions> & { secureContext?: SecureContext } = ctx ? { secureContext: ctx, rejectUnauthorized: s.rejectUnauthorized ?? true } : s.rejectUnauthorized === false ? { rejectUnauthorized: false } : {};
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', method: 'GET', agent: false, ...tlsOpts }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
    req.end();
  });
}

const savedExtraCa = process.env.NODE_EXTRA_CA_CERTS;

beforeAll(async () => {
  // The expected root counts below are Node's bundled roots only; one test sets it on purpose.
  delete process.env.NODE_EXTRA_CA_CERTS;
  root = mkdtempSync(join(tmpdir(), 'cstest-tls-'));
  pki = join(root, 'pki');
  mkdirSync(pki);
  makePki();
  server = createServer({ key: pem('server.key'), cert: pem('server.pem'), ca: [pem('ca.pem')], requestCert: true, rejectUnauthorized: true }, (req, res) => {
    res.end(`hello ${(req.socket as import('node:tls').TLSSocket).getPeerCertificate().subject.CN}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  host = `127.0.0.1:${port}`;
});

afterAll(async () => {
  if (savedExtraCa !== undefined) process.env.NODE_EXTRA_CA_CERTS = savedExtraCa;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(root, { recursive: true, force: true });
});

describe('tlsFor', () => {
  it('loads *.crt CAs (trusted besides the default roots) and the .cert/.key client pair from DIR/HOST:PORT', async () => {
    const dir = certsD('certs.d', { 'ca.crt': pem('ca.pem'), 'client.cert': pem('client.pem'), 'client.key': pem('client.key') });
    const t = await tlsFor(host, { certDirs: [join(root, 'absent'), dir] });
    expect(t.rejectUnauthorized).toBe(true);
    expect(t.ca).toHaveLength(1);
    expect(t.ca![0]!.toString().trim()).toBe(pem('ca.pem').toString().trim());
    expect(t.cert).toEqual(pem('client.pem'));
    expect(t.key).toEqual(pem('client.key'));
  });

  it('the options reach a server whose certificate that CA signed and which wants a client certificate; the defaults do not', async () => {
    const dir = certsD('certs.d-reach', { 'ca.crt': pem('ca.pem'), 'client.cert': pem('client.pem'), 'client.key': pem('client.key') });
    const t = await tlsFor(host, { certDirs: [dir] });
    expect(await fetchWith(t)).toBe('200 hello cstest client');
    expect(await fetchWith({})).toMatch(/^error (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/);
    // The CA alone: the server is trusted, but it refuses a client without a certificate.
    const { cert: _c, key: _k, ...caOnly } = t;
    expect(await fetchWith(caOnly)).toMatch(/^error /);
  });

  it('--ca-file adds its CAs to those of the cert directory', async () => {
    const dir = certsD('certs.d-cafile', { 'client.cert': pem('client.pem'), 'client.key': pem('client.key') });
    const caFile = join(root, 'bundle.pem');
    writeFileSync(caFile, Buffer.concat([pem('otherca.pem'), pem('ca.pem')]));
    const t = await tlsFor(host, { certDirs: [dir], caFile });
    expect(t.ca).toHaveLength(2);
    expect(await fetchWith(t)).toBe('200 hello cstest client');
    const none = await tlsFor(host, { certDirs: [dir] });
    expect(none.ca).toBeUndefined();
    expect(await fetchWith(none)).toMatch(/^error /);
  });

  it('the default roots stay trusted beside the extra CAs: a process with NODE_EXTRA_CA_CERTS reaches servers of both CAs', async () => {
    // NODE_EXTRA_CA_CERTS is read when Node starts: a child process with it set, using the compiled module.
    await buildCli();
    const other = join(root, 'other-server');
    mkdirSync(other, { recursive: true });
    const otherServer = createServer({ key: pem('otherserver.key'), cert: pem('otherserver.pem') }, (_q, r) => r.end('other')).listen(0, '127.0.0.1');
    await new Promise((res) => otherServer.once('listening', res));
    const otherPort = (otherServer.address() as AddressInfo).port;
    const caFile = join(root, 'only-ca.pem');
    writeFileSync(caFile, pem('ca.pem'));
    const extra = join(root, 'extra-ca.pem');
    writeFileSync(extra, pem('otherca.pem'));
    const script = join(root, 'child.mjs');
    // Through the registry transport: trust is Node's bundled roots plus --ca-file, and NODE_EXTRA_CA_CERTS
    // is added (once) only when a certificate does not verify without it.
    writeFileSync(script, `
import { makeTransport, send } from ${JSON.stringify(pathToFileURL(join(REPO, 'dist/registry/http.js')).href)};
import { tlsFor } from ${JSON.stringify(pathToFileURL(join(REPO, 'dist/registry/tls.js')).href)};
const t = await tlsFor('127.0.0.1:0', { caFile: ${JSON.stringify(caFile)}, certDirs: [] });
const get = async (port) => {
  const tr = makeTransport('127.0.0.1:' + port, { tls: t, retries: 0, timeoutMs: 5000 });
  try { const r = await send(tr, { method: 'GET', url: '/' }, 'probe'); r.resume(); return { status: String(r.statusCode), widened: tr.widenTrust ? !tr.widenTrust() : null }; }
  catch (e) { return { status: String(e.cause?.code ?? e.code ?? e.message), widened: null }; }
};
console.log(JSON.stringify([await get(${otherPort}), await get(${port})]));
`);
    // Not spawnSync: the servers live in this process and must answer while the child runs.
    const run = (env: NodeJS.ProcessEnv) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const c = spawn(process.execPath, [script], { env: { ...process.env, ...env } });
        let stdout = '';
        let stderr = '';
        c.stdout.on('data', (d: Buffer) => (stdout += d));
        c.stderr.on('data', (d: Buffer) => (stderr += d));
        c.on('close', (status) => resolve({ status, stdout, stderr }));
      });
    try {
      const r = await run({ NODE_EXTRA_CA_CERTS: extra });
      expect(r.status, r.stderr).toBe(0);
      const [viaExtra, viaCaFile] = JSON.parse(r.stdout.trim()) as { status: string; widened: boolean | null }[];
      expect(viaExtra!.status, 'a server signed by the NODE_EXTRA_CA_CERTS CA').toBe('200');
      expect(viaExtra!.widened, 'reached by adding NODE_EXTRA_CA_CERTS after the first try failed').toBe(true);
      // The main server wants a client certificate: a refusal for the missing certificate, not for trust, shows the --ca-file CA is trusted.
      expect(viaCaFile!.status).not.toMatch(/UNABLE_TO_VERIFY|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
      const without = await run({ NODE_EXTRA_CA_CERTS: '' });
      expect((JSON.parse(without.stdout.trim()) as { status: string }[])[0]!.status, 'without NODE_EXTRA_CA_CERTS the other server is not trusted').toMatch(/UNABLE_TO_VERIFY|SELF_SIGNED|UNABLE_TO_GET_ISSUER|certificate/i);
    } finally {
      otherServer.close();
    }
  });

  it('only the first cert directory that has the host is read', async () => {
    const first = certsD('first', { 'client.cert': pem('client.pem'), 'client.key': pem('client.key') });
    const second = certsD('second', { 'ca.crt': pem('ca.pem') });
    const t = await tlsFor(host, { certDirs: [first, second] });
    expect(t.ca).toBeUndefined();
    expect(t.cert).toEqual(pem('client.pem'));
  });

  it('a host with no directory gets the defaults; the port is part of the name', async () => {
    const dir = certsD('portless', { 'ca.crt': pem('ca.pem') }, '127.0.0.1');
    expect(await tlsFor(host, { certDirs: [dir] })).toEqual({ rejectUnauthorized: true });
    expect((await tlsFor('127.0.0.1', { certDirs: [dir] })).ca).toHaveLength(1);
  });

  it('tlsVerify: false turns verification off (and still loads the client certificate)', async () => {
    const dir = certsD('noverify', { 'client.cert': pem('client.pem'), 'client.key': pem('client.key') });
    const t = await tlsFor(host, { certDirs: [dir], tlsVerify: false });
    expect(t.rejectUnauthorized).toBe(false);
    expect(t.ca).toBeUndefined();
    expect(await fetchWith(t)).toBe('200 hello cstest client');
  });

  it('a .cert without its .key is an error naming the file; so is a .key without its .cert', async () => {
    const dir = certsD('nokey', { 'client.cert': pem('client.pem') });
    const e = await tlsFor(host, { certDirs: [dir] }).catch((x: unknown) => x as Error);
    expect(e).toBeInstanceOf(FormatError);
    expect((e as Error).message).toContain(join(dir, host, 'client.cert'));
    expect((e as Error).message).toContain('client.key');
    const dir2 = certsD('nocert', { 'client.key': pem('client.key') });
    const e2 = await tlsFor(host, { certDirs: [dir2] }).catch((x: unknown) => x as Error);
    expect(e2).toBeInstanceOf(FormatError);
    expect((e2 as Error).message).toContain(join(dir2, host, 'client.key'));
  });

  it('a key that does not belong to its certificate, and a .crt that is not PEM, are errors naming the file', async () => {
    const dir = certsD('mismatch', { 'client.cert': pem('client.pem'), 'client.key': pem('stray.key') });
    const e = await tlsFor(host, { certDirs: [dir] }).catch((x: unknown) => x as Error);
    expect(e).toBeInstanceOf(FormatError);
    expect((e as Error).message).toContain(join(dir, host, 'client.key'));
    const dir2 = certsD('notpem', { 'ca.crt': 'not a certificate\n' });
    const e2 = await tlsFor(host, { certDirs: [dir2] }).catch((x: unknown) => x as Error);
    expect(e2).toBeInstanceOf(FormatError);
    expect((e2 as Error).message).toContain(join(dir2, host, 'ca.crt'));
  });

  it('a missing --ca-file, or one with no PEM certificate, is a usage error naming it', async () => {
    const missing = join(root, 'no-such-ca.pem');
    const e = await tlsFor(host, { certDirs: [], caFile: missing }).catch((x: unknown) => x as Error);
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toContain(missing);
    const notPem = join(root, 'not-pem.pem');
    writeFileSync(notPem, pem('ca.key')); // a key, not a certificate
    const e2 = await tlsFor(host, { certDirs: [], caFile: notPem }).catch((x: unknown) => x as Error);
    expect(e2).toBeInstanceOf(UsageError);
    expect((e2 as Error).message).toContain(notPem);
  });

  it('the default cert directories are those of containers-certs.d(5)', () => {
    expect(defaultCertDirs('/home/u')).toEqual(['/home/u/.config/containers/certs.d', '/etc/containers/certs.d', '/etc/docker/certs.d']);
  });
});
