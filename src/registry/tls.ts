/**
 * TLS options for one registry: extra CA roots and a client certificate from `--ca-file` and the
 * per-host certificate directories of containers-certs.d(5), and whether to verify at all. Pure
 * file reading; the result goes straight into `https.request` / `tls.connect` options.
 *
 * The directory rules follow containers/image: `docker/docker_client.go` `dockerCertDir` (the first
 * of the certificate directories that has a `HOST[:PORT]` subdirectory is the only one read) and
 * `pkg/tlsclientconfig/tlsclientconfig.go` `SetupCertificates` (`*.crt` CA roots added to the
 * system roots, `*.cert` + `*.key` client pairs by file name, a `.cert` or `.key` without its mate
 * an error). Differences from it are marked "Unlike the reference" below.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext } from 'node:tls';
import { ContainerspecError, FormatError, NotFoundError, UsageError } from '../errors/index.js';
import { readRegularFile } from '../util/files.js';

/** Options of {@link tlsFor}. */
export interface TlsOptions {
  /** `--ca-file FILE`: PEM CA certificates trusted in addition to the default roots. */
  caFile?: string;
  /** `--tls-verify=false` turns verification of the registry's certificate off (default true). */
  tlsVerify?: boolean;
  /**
   * The certificate directories, each holding `HOST[:PORT]/` subdirectories (default
   * {@link defaultCertDirs}). Only the first that has one for the host is read.
   */
  certDirs?: string[];
}

/** What {@link tlsFor} returns: options for `https.request` / `tls.connect`. */
export interface TlsSettings {
  /**
   * CAs trusted besides Node's default roots (the certificate directory's, then `--ca-file`'s);
   * absent when there are none. Not an `https.request` `ca` option, which would replace the
   * defaults: {@link secureContextFor} adds them to the defaults.
   */
  ca?: Buffer[];
  /** A client certificate (PEM), with {@link TlsSettings.key}. */
  cert?: Buffer;
  /** The client certificate's private key (PEM). */
  key?: Buffer;
  /** False only for `tlsVerify: false`. */
  rejectUnauthorized: boolean;
}

/**
 * The default certificate directories, in the order containers/image searches them:
 * `$HOME/.config/containers/certs.d`, `/etc/containers/certs.d`, `/etc/docker/certs.d`.
 */
export function defaultCertDirs(home: string = process.env.HOME || homedir()): string[] {
  return [join(home, '.config', 'containers', 'certs.d'), '/etc/containers/certs.d', '/etc/docker/certs.d'];
}

/**
 * The TLS options for a registry at `host` (host[:port], as in the image reference):
 *
 * - CA roots: every `*.crt` in the host's certificate directory (file-name order), then the
 *   certificates of `--ca-file`, trusted in addition to Node's default roots (and
 *   `NODE_EXTRA_CA_CERTS`) by {@link secureContextFor};
 * - a client certificate: the `NAME.cert` + `NAME.key` pair in that directory (the first by name
 *   when there are several);
 * - `rejectUnauthorized`: false only for `tlsVerify: false` (the certificates are still loaded,
 *   as the reference does: a client certificate may still be wanted).
 *
 * The certificate directory is `DIR/HOST[:PORT]` for the first `DIR` of `certDirs` where it exists.
 *
 * @throws UsageError for a `--ca-file` that is missing, unreadable or holds no PEM certificate;
 *   FormatError naming the file for a certificate directory file that is not PEM, a `.cert`
 *   without its `.key` (or the reverse), or a key that does not match its certificate
 */
export async function tlsFor(host: string, opts: TlsOptions = {}): Promise<TlsSettings> {
  if (!host || host === '.' || host === '..' || /[/\\\0\s]/.test(host)) throw new Error(`tlsFor: not a registry host[:port]: ${JSON.stringify(host)}`);
  const extra: Buffer[] = [];
  let cert: Buffer | undefined;
  let key: Buffer | undefined;

  const dir = await hostCertDir(host, opts.certDirs ?? defaultCertDirs());
  if (dir !== null) {
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch (e) {
      // As the reference: a directory we may not list is skipped.
      if ((e as NodeJS.ErrnoException).code !== 'EACCES') throw new FormatError(`certificate directory ${dir}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, dir);
      names = [];
    }
    const has = new Set(names);
    for (const name of names) {
      const path = join(dir, name);
      if (name.endsWith('.crt')) {
        const certs = pemCertificates((await readFile(path)).toString('utf8'));
        // Unlike the reference (AppendCertsFromPEM skips what it cannot parse): a .crt that holds
        // no certificate is an error, not a silently ignored CA.
        if (certs.length === 0) throw new FormatError(`${path}: no PEM certificate in it (a CA certificate in a certs.d directory must be PEM)`, path);
        extra.push(...certs);
      } else if (name.endsWith('.cert')) {
        const keyName = `${name.slice(0, -'.cert'.length)}.key`;
        if (!has.has(keyName)) {
          throw new FormatError(`${path}: client certificate without its key ${keyName} (a CA certificate must be named *.crt)`, path);
        }
        if (cert !== undefined) continue; // a second pair: the first by name is used
        const pair = await clientPair(path, join(dir, keyName));
        cert = pair.cert;
        key = pair.key;
      } else if (name.endsWith('.key')) {
        const certName = `${name.slice(0, -'.key'.length)}.cert`;
        if (!has.has(certName)) throw new FormatError(`${path}: client key without its certificate ${certName}`, path);
      }
    }
  }

  if (opts.caFile !== undefined) {
    let data: Buffer;
    try {
      data = await readFile(opts.caFile, '--ca-file');
    } catch (e) {
      if (e instanceof NotFoundError) throw new UsageError(`--ca-file ${opts.caFile}: no such file`);
      if (e instanceof ContainerspecError) throw new UsageError(e.message);
      throw e;
    }
    const certs = pemCertificates(data.toString('utf8'));
    if (certs.length === 0) throw new UsageError(`--ca-file ${opts.caFile}: no PEM certificate in it`);
    extra.push(...certs);
  }

  const out: TlsSettings = { rejectUnauthorized: opts.tlsVerify !== false };
  if (extra.length > 0) out.ca = extra;
  if (cert !== undefined && key !== undefined) {
    out.cert = cert;
    out.key = key;
  }
  return out;
}

/** The host's directory in the first certificate directory that has one, or null. */
async function hostCertDir(host: string, dirs: readonly string[]): Promise<string | null> {
  for (const d of dirs) {
    const path = join(d, host);
    try {
      if ((await stat(path)).isDirectory()) return path;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // As the reference: a missing or unreadable candidate is skipped.
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES') continue;
      throw new FormatError(`certificate directory ${path}: cannot read (${code ?? (e as Error).message})`, path);
    }
  }
  return null;
}

/** Read a small file (a certificate, a key) as a regular file, bounded. */
function readFile(path: string, what = 'certificate file'): Promise<Buffer> {
  return readRegularFile(path, 'jsonBytes', `${what} ${path}`);
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----\r?\n[\s\S]*?-----END CERTIFICATE-----/g;

/** Each PEM certificate block in `text` that parses as X.509, as its own Buffer. */
function pemCertificates(text: string): Buffer[] {
  const out: Buffer[] = [];
  for (const m of text.matchAll(PEM_CERT)) {
    try {
      new X509Certificate(m[0]);
    } catch {
      continue;
    }
    out.push(Buffer.from(`${m[0]}\n`));
  }
  return out;
}

/** Load a client certificate and key, and check that they belong together. */
async function clientPair(certPath: string, keyPath: string): Promise<{ cert: Buffer; key: Buffer }> {
  const cert = await readFile(certPath);
  const key = await readFile(keyPath);
  const blocks = pemCertificates(cert.toString('utf8'));
  const leaf = blocks[0];
  if (leaf === undefined) throw new FormatError(`${certPath}: no PEM certificate in it`, certPath);
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new FormatError(`${keyPath}: not a PEM private key (or an encrypted one, which is not supported)`, keyPath);
  }
  if (!new X509Certificate(leaf).checkPrivateKey(privateKey)) {
    throw new FormatError(`${keyPath}: this key does not belong to the certificate ${certPath}`, keyPath);
  }
  return { cert, key };
}

/** Whether a secure context for these settings leaves out `NODE_EXTRA_CA_CERTS` unless asked ({@link secureContextFor}). */
export function canWidenTrust(s: TlsSettings): boolean {
  return Boolean(s.ca && process.env.NODE_EXTRA_CA_CERTS);
}

/**
 * The secure context for settings with CAs or a client certificate of their own (undefined when
 * Node's default context does): Node's bundled roots, the extra CAs added to them, the client pair,
 * and with `extraBundle` the `NODE_EXTRA_CA_CERTS` bundle too. Made once per registry: Node would
 * otherwise parse every root again for each connection (100-200 ms), and a `ca` option would drop
 * the defaults. The bundle costs ~45 ms to add, and a registry trusted through `--ca-file` or
 * certs.d rarely needs it: the transport adds it only when a certificate is not trusted without it
 * ({@link canWidenTrust}), so that the trust is the same as Node's defaults plus the extra CAs.
 */
export function secureContextFor(s: TlsSettings, opts: { extraBundle?: boolean } = {}): SecureContext | undefined {
  if (!s.ca && !s.cert) return undefined;
  const ctx = createSecureContext(s.cert && s.key ? { cert: s.cert, key: s.key } : {});
  // addCACert adds to this context's own copy of Node's bundled roots (kept parsed by Node); that copy
  // lacks NODE_EXTRA_CA_CERTS, whose bundle is added on request (in one call: it reads every PEM block).
  const native = (ctx as unknown as { context: { addCACert(pem: Buffer): void } }).context;
  if (s.ca && opts.extraBundle) {
    const extraFile = process.env.NODE_EXTRA_CA_CERTS;
    if (extraFile) {
      try {
        native.addCACert(readFileSync(extraFile));
      } catch {
        // Node itself only warns about an unreadable NODE_EXTRA_CA_CERTS.
      }
    }
  }
  for (const pem of s.ca ?? []) native.addCACert(pem);
  return ctx;
}
