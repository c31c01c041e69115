/**
 * One HTTP exchange with a registry, on Node's own stack: a timeout that covers connecting and any
 * idle stretch of the answer, redirects (blob storage often answers 307), retries with backoff and
 * jitter on 429 (honouring Retry-After), 5xx and dropped connections, and one-line errors for what a
 * user can fix (an untrusted certificate, an unknown host, a refused connection). Nothing here knows
 * about authentication or the distribution API (client.ts, auth.ts).
 */
import * as http from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import * as https from 'node:https';
import { RegistryError } from '../errors/index.js';
import { canWidenTrust, secureContextFor, type TlsSettings } from './tls.js';

/** How a registry is reached: scheme, TLS trust, patience. */
export interface Transport {
  /** Registry as written in references (`host[:port]`), for messages. */
  readonly host: string;
  /** `https:` unless `--plain-http`. */
  readonly protocol: 'https:' | 'http:';
  /** The agent (replaced once by {@link Transport.widenTrust}). */
  agent: http.Agent;
  /**
   * Add `NODE_EXTRA_CA_CERTS` to the trust, once, after a certificate was not trusted without it
   * (see tls.ts secureContextFor); false when there is nothing to add.
   */
  widenTrust?: (() => boolean) | undefined;
  /** Socket idle timeout in ms (connecting, waiting for headers, between body chunks). */
  readonly timeoutMs: number;
  /** Retries after the first attempt, for retryable failures. */
  readonly retries: number;
  /** Called before each retry, with what failed (progress / verbose output). */
  readonly onRetry?: ((what: string, waitMs: number) => void) | undefined;
}

/** TLS settings (from tls.ts) and patience, to build a {@link Transport}. */
export interface TransportOptions {
  tls?: TlsSettings | undefined;
  plainHttp?: boolean | undefined;
  timeoutMs?: number | undefined;
  retries?: number | undefined;
  onRetry?: ((what: string, waitMs: number) => void) | undefined;
}

/** Default socket idle timeout: 30 s. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Default retries after the first attempt. */
export const DEFAULT_RETRIES = 4;
/** Longest wait a Retry-After header may ask for before we give up instead. */
const MAX_RETRY_AFTER_MS = 60_000;
const MAX_REDIRECTS = 5;

/** A transport to one registry host. */
export function makeTransport(host: string, opts: TransportOptions = {}): Transport {
  const plain = opts.plainHttp === true;
  const agent = plain ? new http.Agent({ keepAlive: true, maxSockets: 8 }) : new https.Agent({ keepAlive: true, maxSockets: 8, ...tlsAgentOptions(opts.tls, false) });
  const t: Transport = {
    host,
    protocol: plain ? 'http:' : 'https:',
    agent,
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    retries: opts.retries ?? DEFAULT_RETRIES,
    onRetry: opts.onRetry,
  };
  const settings = opts.tls;
  if (!plain && settings && canWidenTrust(settings)) {
    let widened = false;
    t.widenTrust = () => {
      if (widened) return false;
      widened = true;
      t.agent.destroy();
      t.agent = new https.Agent({ keepAlive: true, maxSockets: 8, ...tlsAgentOptions(settings, true) });
      return true;
    };
  }
  return t;
}

/** TLS options for the agent: one secure context for the registry (tls.ts), and whether to verify. */
function tlsAgentOptions(t: TlsSettings | undefined, extraBundle: boolean): https.AgentOptions {
  if (!t) return {};
  const secureContext = secureContextFor(t, { extraBundle });
  return { rejectUnauthorized: t.rejectUnauthorized, ...(secureContext ? { secureContext } : {}) };
}

/** A certificate that did not verify (as opposed to a connection that failed). */
function isUntrusted(e: unknown): boolean {
  const err = e as NodeJS.ErrnoException;
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/i.test(err?.code ?? '');
}

/** One request. `body` is sent as is; the answer's body is left for the caller to read or drain. */
export interface Request {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  /** Absolute URL, or a path (with query) on the transport's host. */
  url: string;
  headers?: OutgoingHttpHeaders;
  body?: Buffer;
}

/** The timeout fired: the registry stopped answering. */
export class TimeoutError extends Error {
  override name = 'TimeoutError';
  readonly code = 'ETIMEDOUT';
}

/** Error codes of a connection that failed in a way a later attempt may not. */
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_SOCKET']);
/** Statuses worth another attempt. */
const RETRY_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/** Is this error from the network (worth a retry, or a resume of a blob)? */
export function isTransient(e: unknown): boolean {
  const err = e as NodeJS.ErrnoException;
  return e instanceof TimeoutError || TRANSIENT_CODES.has(err?.code ?? '') || /socket hang up|aborted/i.test(err?.message ?? '');
}

/** Resolve a path against the transport's origin. */
export function urlOf(t: Transport, url: string): URL {
  return new URL(url, `${t.protocol}//${t.host}`);
}

/** Send once, following redirects; resolves with the response whose headers arrived. */
function sendOnce(t: Transport, req: Request): Promise<IncomingMessage> {
  const go = (url: URL, hops: number, headers: OutgoingHttpHeaders): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const lib = url.protocol === 'http:' ? http : https;
      // The registry's TLS trust applies to its token realm and its blob storage too (as docker does:
      // one transport); credentials are dropped on a redirect to another host (below).
      const sameScheme = url.protocol === t.protocol;
      const r = lib.request(url, { method: req.method, headers, ...(sameScheme ? { agent: t.agent } : {}) }, (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
          res.resume();
          if (hops >= MAX_REDIRECTS) return reject(new RegistryError(`${t.host}: more than ${MAX_REDIRECTS} redirects for ${url.pathname}`, t.host));
          const next = new URL(res.headers.location, url);
          const h = { ...headers };
          if (next.host !== url.host) delete h.authorization;
          resolve(go(next, hops + 1, h));
          return;
        }
        resolve(res);
      });
      r.setTimeout(t.timeoutMs, () => r.destroy(new TimeoutError(`no answer from ${t.host} for ${t.timeoutMs / 1000} s`)));
      r.on('error', reject);
      r.end(req.body);
    });
  return go(urlOf(t, req.url), 0, { 'user-agent': 'containerspec', ...(req.body ? { 'content-length': req.body.length } : {}), ...(req.headers ?? {}) });
}

/** Milliseconds a Retry-After header asks for (seconds or an HTTP date), or null. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** Exponential backoff with full jitter: attempt 0 waits up to 250 ms, doubling, capped at 8 s. */
export function backoffMs(attempt: number): number {
  return Math.round(Math.random() * Math.min(8000, 250 * 2 ** attempt));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A network failure as a one-line error a user can act on. */
export function networkError(t: Transport, e: unknown, what: string): RegistryError {
  const err = e as NodeJS.ErrnoException;
  const code = err?.code ?? '';
  const msg = String(err?.message ?? e);
  if (e instanceof TimeoutError) return new RegistryError(`${t.host}: ${what}: no answer for ${t.timeoutMs / 1000} s (raise --timeout, or check the registry)`, t.host, { cause: e });
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|certificate/i.test(code + msg)) {
    return new RegistryError(
      `${t.host}: TLS certificate not trusted (${msg}): pass --ca-file FILE, put the CA in /etc/containers/certs.d/${t.host}/ca.crt, or use --tls-verify=false for a lab registry`,
      t.host,
      { cause: e },
    );
  }
  if (code === 'EPROTO' || /wrong version number|packet length too long/i.test(msg)) {
    return new RegistryError(`${t.host}: TLS handshake failed (${msg}): is it a plain-HTTP registry? then use --plain-http`, t.host, { cause: e });
  }
  if (code === 'ENOTFOUND') return new RegistryError(`${t.host}: no such host`, t.host, { cause: e });
  if (code === 'ECONNREFUSED') return new RegistryError(`${t.host}: connection refused (is the registry running?)`, t.host, { cause: e });
  return new RegistryError(`${t.host}: ${what}: ${msg}`, t.host, { cause: e });
}

/**
 * Send a request, retrying transient failures (dropped or refused connections, timeouts, 408, 429,
 * 5xx) with backoff; 429 and 503 honour Retry-After. Resolves with the last response (any status:
 * the caller decides what a 4xx means); throws a RegistryError when every attempt failed on the network.
 */
export async function send(t: Transport, req: Request, what: string): Promise<IncomingMessage> {
  for (let attempt = 0; ; attempt++) {
    let res: IncomingMessage;
    const used = t.agent;
    try {
      res = await sendOnce(t, req);
    } catch (e) {
      if (e instanceof RegistryError) throw e;
      // Not trusted without NODE_EXTRA_CA_CERTS: once more with it (not counted as a retry); also when
      // another request widened the trust while this one was on the old agent.
      if (isUntrusted(e) && (t.agent !== used || t.widenTrust?.())) {
        attempt--;
        continue;
      }
      // A timeout is retried once: a registry that is slow now is likely slow again.
      const budget = e instanceof TimeoutError ? Math.min(1, t.retries) : t.retries;
      if (!isTransient(e) || attempt >= budget) throw networkError(t, e, what);
      const wait = backoffMs(attempt);
      t.onRetry?.(`${what}: ${(e as Error).message}`, wait);
      await sleep(wait);
      continue;
    }
    const status = res.statusCode ?? 0;
    if (!RETRY_STATUSES.has(status) || attempt >= t.retries) return res;
    const asked = retryAfterMs(res.headers['retry-after'] as string | undefined);
    res.resume();
    if (asked !== null && asked > MAX_RETRY_AFTER_MS) {
      throw new RegistryError(`${t.host}: ${what}: HTTP ${status}, and the registry asks to retry after ${Math.round(asked / 1000)} s`, t.host);
    }
    const wait = asked ?? backoffMs(attempt);
    t.onRetry?.(`${what}: HTTP ${status}`, wait);
    await sleep(wait);
  }
}

/** Read a whole (small) body, at most `max` bytes: a bigger one is an error naming `what`. */
export async function readBody(t: Transport, res: IncomingMessage, max: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    res.destroy();
    throw new RegistryError(`${t.host}: ${what} is ${declared} bytes, over the ${max} read for it`, t.host);
  }
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of res as AsyncIterable<Buffer>) {
      n += c.length;
      if (n > max) {
        res.destroy();
        throw new RegistryError(`${t.host}: ${what} is over the ${max} bytes read for it`, t.host);
      }
      chunks.push(c);
    }
  } catch (e) {
    if (e instanceof RegistryError) throw e;
    throw networkError(t, e, what);
  }
  return Buffer.concat(chunks);
}
