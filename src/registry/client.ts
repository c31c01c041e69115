/**
 * A small client of the OCI distribution API (no registry SDK exists for Node): manifests and
 * blobs by digest or tag, blobs as resumable streams, uploads, and the referrers API. One client per
 * registry host, authenticating per repository scope (auth.ts) over one transport (http.ts).
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { FormatError, NotFoundError, RegistryError } from '../errors/index.js';
import { sha256Digest, splitDigest, verifyDigest } from '../image/digest.js';
import { Authenticator, type Access } from './auth.js';
import { credentialsFor } from './credentials.js';
import { blobWorker, type Started } from './blob-pool.js';
import { isTransient, makeTransport, networkError, readBody, send, TimeoutError, urlOf, type Request, type Transport } from './http.js';
import { Gatherer, rangeMismatch, readAnswer } from './gather.js';
import { tlsFor, type TlsSettings } from './tls.js';

/** How to reach registries: what the CLI's registry flags set. */
export interface RegistryOptions {
  /** `USER:PASSWORD` for every registry of this run. */
  creds?: string | undefined;
  /** A file whose first line is `USER:PASSWORD`. */
  credsFile?: string | undefined;
  /** A PEM file of CA certificates to trust (besides the system's and the certs.d directories). */
  caFile?: string | undefined;
  /** False: do not verify the registry's certificate (lab registries). Default true. */
  tlsVerify?: boolean | undefined;
  /** Talk plain HTTP (never the default). */
  plainHttp?: boolean | undefined;
  /** Connect and idle timeout in ms; default 30 s. */
  timeoutMs?: number | undefined;
  /** Retries of a failed request; default 4. */
  retries?: number | undefined;
  /** Environment for credential and auth file lookup (default process.env). */
  env?: NodeJS.ProcessEnv | undefined;
  /** Certificate directories (default /etc/containers/certs.d, /etc/docker/certs.d). */
  certDirs?: string[] | undefined;
  /** Told of each retry (progress output). */
  onRetry?: ((what: string, waitMs: number) => void) | undefined;
}

/** Manifest and index media types we ask for, best first; schema 1 last, so that it can be refused clearly. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws;q=0.1',
].join(', ');

/** A manifest or index as fetched. */
export interface FetchedManifest {
  data: Buffer;
  /** The Content-Type the registry gave, when it is a manifest type; else null (read from the document). */
  mediaType: string | null;
  digest: string;
}

/** Docker Hub's API lives on another host than its name. */
function apiHost(domain: string): string {
  return domain === 'docker.io' || domain === 'index.docker.io' ? 'registry-1.docker.io' : domain;
}

/** The registry's error list (`{"errors":[{code,message}]}`) as text, when the body has one. */
function errorsOf(body: Buffer): string {
  try {
    const j = JSON.parse(body.toString('utf8')) as { errors?: { code?: string; message?: string }[] };
    const list = (j.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(': ')).filter(Boolean);
    return list.join('; ');
  } catch {
    return '';
  }
}

/** One registry host, with its transport and authentication. */
export class RegistryClient {
  private static clients = 0;
  private readonly auth: Authenticator;
  /** This client's number in the process (the blob worker keeps one transport per client). */
  private readonly id = ++RegistryClient.clients;

  private constructor(
    /** The registry as references name it (`docker.io`, `127.0.0.1:5000`). */
    readonly domain: string,
    readonly transport: Transport,
    opts: RegistryOptions,
    /** The TLS settings the transport was made with (the blob worker makes its own from them). */
    private readonly tls: TlsSettings | null = null,
  ) {
    this.auth = new Authenticator(transport, (repo) => credentialsFor(domain, repo, { ...(opts.creds !== undefined ? { creds: opts.creds } : {}), ...(opts.credsFile !== undefined ? { credsFile: opts.credsFile } : {}), env: opts.env ?? process.env }));
  }

  /** A client for a registry host, with its TLS trust (--ca-file, certs.d) and patience. */
  static async connect(domain: string, opts: RegistryOptions = {}): Promise<RegistryClient> {
    const host = apiHost(domain);
    const tls = opts.plainHttp ? undefined : await tlsFor(domain, { ...(opts.caFile !== undefined ? { caFile: opts.caFile } : {}), tlsVerify: opts.tlsVerify ?? true, ...(opts.certDirs ? { certDirs: opts.certDirs } : {}) });
    const transport = makeTransport(host, { tls, plainHttp: opts.plainHttp, timeoutMs: opts.timeoutMs, retries: opts.retries, onRetry: opts.onRetry });
    return new RegistryClient(domain, transport, opts, tls ?? null);
  }

  /** Close idle connections (the process can exit). */
  close(): void {
    this.transport.agent.destroy();
  }

  /** `host/repo`, for messages. */
  private at(repo: string): string {
    return `${this.domain}/${repo}`;
  }

  /**
   * Send a request for a repository scope, authenticating when the registry asks (a 401): a header
   * remembered for the scope goes first; a refused fresh one is an AuthError.
   */
  async request(repo: string, access: Access, req: Request, what: string): Promise<IncomingMessage> {
    let header = this.auth.header(repo, access);
    let fresh = false;
    for (;;) {
      const res = await send(this.transport, { ...req, headers: { ...(req.headers ?? {}), ...(header ? { authorization: header } : {}) } }, what);
      if (res.statusCode !== 401) {
        this.refuseHtml(res, what);
        return res;
      }
      if (fresh) await this.auth.answer(res, repo, access, header);
      if (header) this.auth.forget(repo, access);
      header = await this.auth.answer(res, repo, access, null);
      fresh = true;
    }
  }

  /** An HTML page where the API should answer (a login portal, a proxy, a web server): say so. */
  private refuseHtml(res: IncomingMessage, what: string): void {
    const type = String(res.headers['content-type'] ?? '');
    if (/text\/html/i.test(type) && (res.statusCode ?? 0) < 300) {
      res.resume();
      throw new RegistryError(`${this.domain}: ${what}: the server answered an HTML page (HTTP ${res.statusCode}), not the registry API: is ${this.domain} a registry, or is a proxy or login page in the way?`, this.domain);
    }
  }

  /** A non-success answer as an error: 404 as NotFoundError, the rest as RegistryError with the registry's own words. */
  private async failure(res: IncomingMessage, what: string, notFound: string): Promise<never> {
    const status = res.statusCode ?? 0;
    const body = await readBody(this.transport, res, 64 * 1024, what).catch(() => Buffer.alloc(0));
    const said = errorsOf(body);
    if (status === 404) throw new NotFoundError(`${notFound}${said ? ` (${said})` : ''}`, what);
    if (status === 403) throw new RegistryError(`${this.domain}: ${what}: access denied (HTTP 403)${said ? `: ${said}` : ''}`, this.domain);
    throw new RegistryError(`${this.domain}: ${what}: HTTP ${status}${said ? `: ${said}` : ''}`, this.domain);
  }

  /** GET a small body (a manifest, a config), retrying once when the connection drops mid-body. */
  private async getSmall(repo: string, url: string, headers: Record<string, string>, max: number, what: string, notFound: string): Promise<{ body: Buffer; res: IncomingMessage }> {
    for (let attempt = 0; ; attempt++) {
      const res = await this.request(repo, 'pull', { method: 'GET', url, headers }, what);
      if (res.statusCode !== 200) await this.failure(res, what, notFound);
      try {
        return { body: await readBody(this.transport, res, max, what), res };
      } catch (e) {
        if (attempt >= 1 || !(e instanceof RegistryError) || !isTransient(e.cause)) throw e;
      }
    }
  }

  /**
   * A manifest or index by tag or digest, at most `max` bytes. By digest, the bytes are checked
   * against it; by tag, against the Docker-Content-Digest the registry names (when it names one).
   */
  async getManifest(repo: string, ref: string, max: number): Promise<FetchedManifest> {
    const what = `manifest ${ref} of ${this.at(repo)}`;
    const { body, res } = await this.getSmall(repo, `/v2/${repo}/manifests/${ref}`, { accept: MANIFEST_ACCEPT }, max, what, `${this.at(repo)}: no manifest ${ref} (unknown ${ref.includes(':') ? 'digest' : 'tag'})`);
    const type = String(res.headers['content-type'] ?? '').split(';')[0]!.trim();
    const byDigest = ref.includes(':');
    let digest: string;
    if (byDigest) {
      verifyDigest(body, ref, what);
      digest = ref;
    } else {
      digest = sha256Digest(body);
      const named = res.headers['docker-content-digest'];
      if (typeof named === 'string' && named.startsWith('sha256:') && named !== digest) {
        throw new FormatError(`${what}: the registry says its digest is ${named}, the bytes hash to ${digest}`, what);
      }
    }
    return { data: body, mediaType: type && type !== 'application/json' && type !== 'text/plain' ? type : null, digest };
  }

  /**
   * The digest a tag names now, and its media type: a HEAD with the manifest Accept types (one
   * request, no body); when the registry names no `Docker-Content-Digest`, a GET whose bytes are
   * hashed. A tag the repository does not hold (or a repository that does not exist) is a NotFoundError.
   */
  async manifestDigest(repo: string, ref: string): Promise<{ digest: string; mediaType: string | null }> {
    const what = `manifest ${ref} of ${this.at(repo)}`;
    const notFound = `${this.at(repo)}: no manifest ${ref} (unknown ${ref.includes(':') ? 'digest' : 'tag'}, or no such repository)`;
    const res = await this.request(repo, 'pull', { method: 'HEAD', url: `/v2/${repo}/manifests/${ref}`, headers: { accept: MANIFEST_ACCEPT } }, what);
    res.resume();
    if (res.statusCode === 200) {
      const named = res.headers['docker-content-digest'];
      const type = String(res.headers['content-type'] ?? '').split(';')[0]!.trim();
      if (typeof named === 'string' && /^sha256:[0-9a-f]{64}$/.test(named)) return { digest: named, mediaType: type && type !== 'application/json' ? type : null };
    } else if (res.statusCode !== 405 && res.statusCode !== 501) {
      // A HEAD answer has no body: the registry's own words (unknown tag or unknown repository) come with a GET.
      if (res.statusCode !== 404) return this.failure(res, what, notFound);
    }
    const m = await this.getManifest(repo, ref, 4 * 1024 * 1024);
    return { digest: m.digest, mediaType: m.mediaType };
  }

  /**
   * Every tag of a repository: `GET /v2/<repo>/tags/list?n=<pageSize>`, then each `Link: <...>;
   * rel="next"` page on the same registry (at most `maxPages`). `pages` is how many were read.
   */
  async listTags(repo: string, opts: { pageSize?: number; maxPages?: number } = {}): Promise<{ tags: string[]; pages: number }> {
    const what = `tag list of ${this.at(repo)}`;
    const origin = `${this.transport.protocol}//${this.transport.host}`;
    let url: string | null = `/v2/${repo}/tags/list${opts.pageSize ? `?n=${opts.pageSize}` : ''}`;
    const seen = new Set<string>();
    const tags: string[] = [];
    let pages = 0;
    while (url !== null) {
      if (seen.has(url) || pages >= (opts.maxPages ?? 1000)) throw new RegistryError(`${this.domain}: ${what}: the registry's pages do not end (page ${pages + 1}: ${url})`, this.domain);
      seen.add(url);
      const { body, res } = await this.getSmall(repo, url, { accept: 'application/json' }, 16 * 1024 * 1024, what, `${this.at(repo)}: no such repository`);
      pages++;
      let doc: { tags?: unknown };
      try {
        doc = JSON.parse(body.toString('utf8')) as { tags?: unknown };
      } catch (e) {
        throw new FormatError(`${what}: not JSON`, what, { cause: e });
      }
      if (doc.tags !== null && doc.tags !== undefined && !(Array.isArray(doc.tags) && doc.tags.every((t) => typeof t === 'string'))) throw new FormatError(`${what}: "tags" is not a list of strings`, what);
      tags.push(...((doc.tags as string[] | null | undefined) ?? []));
      const link = String(res.headers.link ?? '');
      const next = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(link)?.[1];
      if (!next) url = null;
      else {
        const u = new URL(next, origin);
        if (u.origin !== origin) throw new RegistryError(`${this.domain}: ${what}: the next page is on another host (${u.origin}); not followed`, this.domain);
        url = u.pathname + u.search;
      }
    }
    return { tags, pages };
  }

  /** A small blob (a config, an artifact's layer) by digest, checked against it. */
  async getBlob(repo: string, digest: string, max: number): Promise<Buffer> {
    const what = `blob ${digest} of ${this.at(repo)}`;
    const { body } = await this.getSmall(repo, `/v2/${repo}/blobs/${digest}`, {}, max, what, `${this.at(repo)}: missing blob ${digest}`);
    verifyDigest(body, digest, what);
    return body;
  }

  /**
   * A blob as a stream of its bytes, from the first byte, in chunks of about 1 MiB (a TLS socket
   * delivers 16 KiB records: handed on one by one they would cost the decoder a thread-pool round
   * trip each). A connection that drops mid-blob is resumed with a Range request where the registry
   * allows it (else read again from the start, skipping what arrived); the caller (the walker)
   * verifies the digest. Opening waits for the first answer, so a missing blob or a refusal is an
   * error here.
   */
  async openBlob(repo: string, digest: string, size: number | null): Promise<Readable> {
    splitDigest(digest, `blob ${digest}`);
    const what = `blob ${digest} of ${this.at(repo)}`;
    const url = `/v2/${repo}/blobs/${digest}`;
    const get = async (offset: number): Promise<IncomingMessage> => {
      const res = await this.request(repo, 'pull', { method: 'GET', url, headers: offset > 0 ? { range: `bytes=${offset}-` } : {} }, what);
      const status = res.statusCode ?? 0;
      if (status === 200 || (status === 206 && offset > 0)) return res;
      if (status === 416 && size !== null && offset >= size) return res;
      return this.failure(res, what, `${this.at(repo)}: missing blob ${digest}`);
    };
    const viaWorker = await this.blobFromWorker(repo, url, size, what);
    if (viaWorker) return viaWorker;
    return new BlobStream(await get(0), get, size, this.transport, what);
  }

  /**
   * The blob received on the worker thread (blob-worker.ts), with the Authorization header this
   * client holds for the repository; null when the worker is not available or the registry wants
   * authentication first (then the caller reads it here, which knows how to answer).
   */
  private async blobFromWorker(repo: string, url: string, size: number | null, what: string): Promise<Readable | null> {
    const pool = blobWorker();
    if (!pool) return null;
    const header = this.auth.header(repo, 'pull');
    const t = this.transport;
    const failure = (f: NonNullable<Started>): Error => {
      if (f.status === 404) return new NotFoundError(`${this.at(repo)}: missing blob ${url.split('/').pop()}`, what);
      if (f.status !== null) return new RegistryError(`${this.domain}: ${what}: HTTP ${f.status}`, this.domain);
      if (f.code === 'ETIMEDOUT') return networkError(t, new TimeoutError(f.message), what);
      if (f.code === 'RANGE' || f.code === 'EWORKER') return new RegistryError(`${this.domain}: ${what}: ${f.message}`, this.domain);
      return networkError(t, Object.assign(new Error(f.message), { code: f.code }), what);
    };
    const stream = pool.open(
      { client: this.id, host: t.host, url: urlOf(t, url).href, headers: { 'user-agent': 'containerspec', ...(header ? { authorization: header } : {}) }, tls: this.tls, plainHttp: t.protocol === 'http:', size, timeoutMs: t.timeoutMs, retries: t.retries },
      (text) => t.onRetry?.(`${what}: ${text}`, 0),
      failure,
    );
    const first = await stream.started;
    if (first === null) return stream;
    stream.destroy();
    if (first.status === 401 || first.status === 403) return null; // authenticate here, then read it here
    throw failure(first);
  }

  /** Does the repository hold this blob? */
  async hasBlob(repo: string, digest: string, access: Access = 'pull'): Promise<boolean> {
    const what = `blob ${digest} of ${this.at(repo)}`;
    const res = await this.request(repo, access, { method: 'HEAD', url: `/v2/${repo}/blobs/${digest}` }, what);
    res.resume();
    if (res.statusCode === 200) return true;
    if (res.statusCode === 404) return false;
    return this.failure(res, what, what);
  }

  /** Upload a small blob (monolithic: POST for a session, then PUT with the digest), unless it is there already. */
  async pushBlob(repo: string, data: Buffer, digest = sha256Digest(data)): Promise<string> {
    if (await this.hasBlob(repo, digest, 'pull,push')) return digest;
    const what = `upload of blob ${digest} to ${this.at(repo)}`;
    const start = await this.request(repo, 'pull,push', { method: 'POST', url: `/v2/${repo}/blobs/uploads/` }, what);
    start.resume();
    if (start.statusCode !== 202 || !start.headers.location) return this.failure(start, what, what);
    const loc = new URL(start.headers.location, `${this.transport.protocol}//${this.transport.host}`);
    loc.searchParams.set('digest', digest);
    const put = await this.request(repo, 'pull,push', { method: 'PUT', url: loc.href, headers: { 'content-type': 'application/octet-stream' }, body: data }, what);
    put.resume();
    if (put.statusCode !== 201) return this.failure(put, what, what);
    return digest;
  }

  /**
   * Push a manifest (by digest, or to a tag). Returns its digest and the `OCI-Subject` header: a
   * registry that names the subject back supports the referrers API.
   */
  async putManifest(repo: string, ref: string, data: Buffer, mediaType: string): Promise<{ digest: string; subject: string | null }> {
    const what = `push of manifest ${ref} to ${this.at(repo)}`;
    const res = await this.request(repo, 'pull,push', { method: 'PUT', url: `/v2/${repo}/manifests/${ref}`, headers: { 'content-type': mediaType }, body: data }, what);
    res.resume();
    if (res.statusCode !== 201) return this.failure(res, what, what);
    const subject = res.headers['oci-subject'];
    return { digest: sha256Digest(data), subject: typeof subject === 'string' ? subject : null };
  }

  /**
   * The referrers API: the index of manifests whose subject is `digest`, or null when the registry
   * does not offer the API (404 on the endpoint: then the `sha256-<hex>` tag is the fallback).
   */
  async referrers(repo: string, digest: string, max: number): Promise<Buffer | null> {
    const what = `referrers of ${digest} in ${this.at(repo)}`;
    const res = await this.request(repo, 'pull', { method: 'GET', url: `/v2/${repo}/referrers/${digest}`, headers: { accept: 'application/vnd.oci.image.index.v1+json' } }, what);
    const type = String(res.headers['content-type'] ?? '');
    if (res.statusCode === 404 || (res.statusCode === 200 && !/application\/(vnd\.oci\.image\.index\.v1\+)?json/.test(type))) {
      res.resume();
      return null;
    }
    if (res.statusCode !== 200) return this.failure(res, what, what);
    return readBody(this.transport, res, max, what);
  }
}

/** Bytes handed on at once by a {@link BlobStream}. */
const BLOB_CHUNK = 1024 * 1024;

/**
 * The bytes of one blob across answers: the first GET, then a Range GET from where each dropped
 * connection stopped (at most `transport.retries` resumes). Socket chunks are gathered into
 * {@link BLOB_CHUNK} buffers; backpressure pauses the answer.
 */
class BlobStream extends Readable {
  private res: IncomingMessage | null = null;
  private readonly bytes = new Gatherer(BLOB_CHUNK, (parts, length) => {
    if (!this.push(parts.length === 1 ? parts[0]! : Buffer.concat(parts, length))) this.res?.pause();
  });
  private resumes = 0;

  constructor(
    first: IncomingMessage,
    private readonly reopen: (offset: number) => Promise<IncomingMessage>,
    private readonly size: number | null,
    private readonly t: Transport,
    private readonly what: string,
  ) {
    // Object mode: read() hands on one chunk as it came, never a concatenation of the queued ones (a copy).
    super({ objectMode: true, highWaterMark: 4 });
    this.attach(first);
  }

  private attach(res: IncomingMessage): void {
    this.res = res;
    this.bytes.restart(res.statusCode === 200);
    const wrong = res.statusCode === 206 ? rangeMismatch(res, this.bytes.offset) : null;
    if (wrong) {
      res.destroy();
      this.destroy(new RegistryError(`${this.t.host}: ${this.what}: ${wrong}`, this.t.host));
      return;
    }
    if (res.statusCode === 416) {
      res.resume();
      this.finish();
      return;
    }
    void readAnswer(res, this.bytes, this.size).then((outcome) => (outcome === 'done' ? this.finish() : this.fail(res, outcome.error)));
  }

  private finish(): void {
    this.bytes.flush();
    this.res = null;
    this.push(null);
  }

  /** A dropped answer: resume from the offset, or fail when it is not a network failure or resumes ran out. */
  private fail(res: IncomingMessage, e: unknown): void {
    if (this.res !== res || this.destroyed) return;
    this.res = null;
    if (!isTransient(e) || this.resumes >= Math.max(1, this.t.retries)) {
      this.destroy(networkError(this.t, e, this.what));
      return;
    }
    this.resumes++;
    this.t.onRetry?.(`${this.what}: resuming at byte ${this.bytes.offset}`, 0);
    this.reopen(this.bytes.offset).then(
      (next) => (this.destroyed ? next.destroy() : this.attach(next)),
      (err: unknown) => this.destroy(err as Error),
    );
  }

  override _read(): void {
    this.res?.resume();
  }

  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    this.res?.destroy();
    this.res = null;
    cb(err);
  }
}

/** Clients by registry host for one run: one connection pool and one token set per registry. */
export class Registries {
  private readonly clients = new Map<string, Promise<RegistryClient>>();
  constructor(readonly opts: RegistryOptions = {}) {}

  /** The client for a registry host. */
  for(domain: string): Promise<RegistryClient> {
    let c = this.clients.get(domain);
    if (!c) {
      c = RegistryClient.connect(domain, this.opts);
      this.clients.set(domain, c);
    }
    return c;
  }

  /** Close every client's idle connections. */
  async close(): Promise<void> {
    for (const c of this.clients.values()) (await c.catch(() => null))?.close();
    this.clients.clear();
  }
}
