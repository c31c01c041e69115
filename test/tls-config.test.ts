/**
 * TLS options from --ca-file and a containers-certs.d tree, with certificates made by `openssl` and
 * a real HTTPS server on 127.0.0.1 that requires a client certificate: reachable with the options
 * tlsFor returns, not with Node's defaults.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type RequestOptions, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError, UsageError } from '../src/errors/index.js';
import { defaultCertDirs, tlsFor } from '../src/registry/tls.js';

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
  for (const [leaf, ca] of [['server', 'ca'], ['client', 'ca'], ['stray', 'otherca']] as const) {
    openssl('req', '-new', ...ec, '-keyout', `${leaf}.key`, '-out', `${leaf}.csr`, '-subj', `/CN=cstest ${leaf}`);
    openssl('x509', '-req', '-in', `${leaf}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${leaf}.pem`, '-days', '2',
      '-extfile', `${leaf === 'server' ? 'server' : 'client'}.ext`);
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
function fetchWith(tlsOpts: Partial<RequestOptions>): Promise<string> {
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
  it('loads *.crt CAs after the default roots and the .cert/.key client pair from DIR/HOST:PORT', async () => {
    const dir = certsD('certs.d', { 'ca.crt': pem('ca.pem'), 'client.cert': pem('client.pem'), 'client.key': pem('client.key') });
    const t = await tlsFor(host, { certDirs: [join(root, 'absent'), dir] });
    expect(t.rejectUnauthorized).toBe(true);
    expect(t.ca).toHaveLength(rootCertificates.length + 1);
    expect(t.ca!.slice(0, rootCertificates.length).map((b) => b.toString().trim())).toEqual(rootCertificates.map((c) => c.trim()));
    expect(t.ca!.at(-1)!.toString().trim()).toBe(pem('ca.pem').toString().trim());
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

  it('--ca-file adds its CAs (with the default roots) to those of the cert directory', async () => {
    const dir = certsD('certs.d-cafile', { 'client.cert': pem('client.pem'), 'client.key': pem('client.key') });
    const caFile = join(root, 'bundle.pem');
    writeFileSync(caFile, Buffer.concat([pem('otherca.pem'), pem('ca.pem')]));
    const t = await tlsFor(host, { certDirs: [dir], caFile });
    expect(t.ca).toHaveLength(rootCertificates.length + 2);
    expect(await fetchWith(t)).toBe('200 hello cstest client');
    const none = await tlsFor(host, { certDirs: [dir] });
    expect(none.ca).toBeUndefined();
    expect(await fetchWith(none)).toMatch(/^error /);
  });

  it('NODE_EXTRA_CA_CERTS stays trusted when extra CAs replace the default list', async () => {
    const extra = join(root, 'extra-ca.pem');
    writeFileSync(extra, pem('otherca.pem'));
    const dir = certsD('certs.d-extra', { 'ca.crt': pem('ca.pem') });
    process.env.NODE_EXTRA_CA_CERTS = extra;
    try {
      const t = await tlsFor(host, { certDirs: [dir] });
      expect(t.ca).toHaveLength(rootCertificates.length + 2);
      expect(t.ca!.at(-2)!.toString().trim()).toBe(pem('otherca.pem').toString().trim());
    } finally {
      delete process.env.NODE_EXTRA_CA_CERTS;
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
    expect((await tlsFor('127.0.0.1', { certDirs: [dir] })).ca).toHaveLength(rootCertificates.length + 1);
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
