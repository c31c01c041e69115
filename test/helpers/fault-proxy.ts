/**
 * A loopback HTTPS reverse proxy in front of a TestRegistry that causes real faults on request:
 * error statuses, connections cut mid-body, a flipped byte, delays and stalls, an HTML page where
 * JSON belongs. Everything else passes through as streams (no buffering, layers may be large):
 * method, headers (Authorization, Range, Accept, ...) and bodies both ways. Only URLs that point
 * at the registry or its token server are rewritten to the proxy: `Location` and the
 * `WWW-Authenticate` realm, so auth and blob uploads go through the proxy too (token requests
 * are forwarded to the token server, under the realm's path).
 */
import { readFileSync } from 'node:fs';
import { Agent, createServer, request as httpsRequest, type Server } from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import { testCerts, type TestRegistry } from './registry.js';

/** Which requests a rule applies to. */
interface Matcher {
  /** Tested against the request path including its query. */
  match: RegExp;
  /** Only this method (e.g. 'GET', 'HEAD'); any when absent. */
  method?: string;
}

/** A fault. `times` counts the requests it applies to; after that, requests pass through (absent: every request). */
export type FaultRule = Matcher & (
  /** Answer `status` (with `headers` and `body`, default a distribution-style JSON error) instead of forwarding. */
  | { kind: 'status'; status: number; times: number; headers?: Record<string, string>; body?: string }
  /** Forward, send the real status and headers and the first `afterBytes` body bytes, then destroy the socket. */
  | { kind: 'cut'; afterBytes: number; times: number }
  /** Forward, flip (XOR 0xff) the body byte at `offset`; length and headers unchanged. */
  | { kind: 'corrupt'; offset: number; times?: number }
  /** Wait `ms` before forwarding. */
  | { kind: 'delay'; ms: number; times?: number }
  /** Forward, send headers and `afterBytes` body bytes, then wait `ms` before the rest. */
  | { kind: 'stall'; afterBytes: number; ms: number; times?: number }
  /** Answer 200 with Content-Type text/html and an HTML page (a captive portal, a misconfigured proxy). */
  | { kind: 'html'; times?: number }
  /**
   * Hold the request until a later one whose path matches `until` arrives, then forward it; after
   * `ms` without one, forward it anyway. Which of the two released it is in {@link ProxiedRequest.released}:
   * whether the client asked for something else while it waited.
   */
  | { kind: 'hold'; until: RegExp; ms: number; times?: number }
);

/** One request the proxy saw. */
export interface ProxiedRequest {
  method: string;
  /** Path with query. */
  path: string;
  /** The client's headers, as received. */
  headers: IncomingHttpHeaders;
  /** The fault applied to it, if any. */
  fault: FaultRule['kind'] | null;
  /** A held request ('hold'): released by the request it waited for, or by the timeout (unset until then). */
  released?: 'arrival' | 'timeout';
}

/** A running fault proxy. */
export interface FaultProxy {
  /** `127.0.0.1:PORT` */
  host: string;
  /** `https://127.0.0.1:PORT` */
  url: string;
  /** The CA that verifies the proxy (the registry's). */
  caFile: string;
  /** Every request seen, oldest first (clear with `requests.length = 0`). */
  requests: ProxiedRequest[];
  /** Replace the active rule (null: pass everything through); resets its count. */
  set(rule: FaultRule | null): void;
  /** How many requests the current rule has applied to. */
  hits(): number;
  stop(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Headers minus hop-by-hop ones. */
function endToEnd(h: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

/** An upstream this proxy forwards to. */
interface Upstream {
  origin: string;
  host: string;
}

/** Rewrite every upstream origin in `value` to the proxy's. */
function rewriteUrls(value: string, upstreams: Upstream[], proxyOrigin: string): string {
  let v = value;
  for (const u of upstreams) v = v.split(u.origin).join(proxyOrigin);
  return v;
}

/** Response headers for the client: hop-by-hop removed, Location and WWW-Authenticate rewritten. */
function responseHeaders(h: IncomingHttpHeaders, upstreams: Upstream[], proxyOrigin: string): OutgoingHttpHeaders {
  const out = endToEnd(h);
  for (const k of ['location', 'www-authenticate']) {
    const v = out[k];
    if (typeof v === 'string') out[k] = rewriteUrls(v, upstreams, proxyOrigin);
    else if (Array.isArray(v)) out[k] = v.map((x) => rewriteUrls(x, upstreams, proxyOrigin));
  }
  return out;
}

/** A pass-through stream that flips one byte ('corrupt') or pauses at a byte position ('stall'). */
class BodyFault extends Transform {
  private pos = 0;
  constructor(private readonly rule: Extract<FaultRule, { kind: 'corrupt' | 'stall' }>) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const start = this.pos;
    this.pos += chunk.length;
    const r = this.rule;
    const at = r.kind === 'corrupt' ? r.offset : r.afterBytes;
    if (at < start || at >= this.pos) return cb(null, chunk);
    if (r.kind === 'corrupt') {
      const copy = Buffer.from(chunk);
      copy[at - start] = (copy[at - start] ?? 0) ^ 0xff;
      return cb(null, copy);
    }
    if (at > start) this.push(chunk.subarray(0, at - start));
    setTimeout(() => cb(null, chunk.subarray(at - start)), r.ms);
  }
}

/** Send the first `afterBytes` of `upRes` to `res`, then destroy both connections (with backpressure until then). */
function cutAfter(upRes: IncomingMessage, res: ServerResponse, afterBytes: number): void {
  const destroy = () => {
    upRes.destroy();
    res.socket?.destroy();
  };
  res.flushHeaders();
  if (afterBytes === 0) {
    setTimeout(destroy, 50);
    return;
  }
  let sent = 0;
  upRes.on('data', (chunk: Buffer) => {
    const room = afterBytes - sent;
    if (chunk.length < room) {
      sent += chunk.length;
      if (!res.write(chunk)) {
        upRes.pause();
        res.once('drain', () => upRes.resume());
      }
      return;
    }
    upRes.pause();
    res.write(chunk.subarray(0, room), destroy);
  });
  upRes.on('end', () => res.end());
}

const HTML = '<!DOCTYPE html>\n<html><head><title>Sign in to the network</title></head><body><h1>Welcome</h1><p>Please accept the terms to continue.</p></body></html>\n';

function errorBody(status: number): string {
  return JSON.stringify({ errors: [{ code: status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE', message: `injected fault: status ${status}`, detail: null }] });
}

/** Answer a rule that does not forward. */
function answerLocally(rule: FaultRule, req: IncomingMessage, res: ServerResponse): boolean {
  if (rule.kind !== 'status' && rule.kind !== 'html') return false;
  req.resume();
  const body = rule.kind === 'html' ? HTML : rule.body ?? errorBody(rule.status);
  const type = rule.kind === 'html' ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8';
  const status = rule.kind === 'html' ? 200 : rule.status;
  const extra = rule.kind === 'status' ? rule.headers ?? {} : {};
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...extra });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}

/** Start a fault proxy on 127.0.0.1 in front of `target` (and its token server, if any). */
export async function startFaultProxy(target: TestRegistry): Promise<FaultProxy> {
  const certs = testCerts();
  const ca = readFileSync(target.caFile);
  const agent = new Agent({ keepAlive: true, ca });
  const registry: Upstream = { origin: target.url, host: target.host };
  const token: Upstream | null = target.token ? { origin: `https://${target.token.host}`, host: target.token.host } : null;
  const tokenPath = target.token ? new URL(target.token.realm).pathname : null;
  const upstreams = token ? [registry, token] : [registry];
  const requests: ProxiedRequest[] = [];
  let rule: FaultRule | null = null;
  let hits = 0;
  let origin = '';

  const takeRule = (req: IncomingMessage): FaultRule | null => {
    if (!rule || !rule.match.test(req.url ?? '/') || (rule.method && rule.method !== req.method)) return null;
    if (rule.times !== undefined && hits >= rule.times) return null;
    hits++;
    return rule;
  };

  const forward = (req: IncomingMessage, res: ServerResponse, applied: FaultRule | null): void => {
    const path = req.url ?? '/';
    const up = token && tokenPath && (path === tokenPath || path.startsWith(`${tokenPath}?`)) ? token : registry;
    const headers = { ...endToEnd(req.headers), host: up.host };
    const upReq = httpsRequest(`${up.origin}${path}`, { method: req.method ?? 'GET', headers, agent }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage ?? '', responseHeaders(upRes.headers, upstreams, origin));
      if (applied?.kind === 'cut') return cutAfter(upRes, res, applied.afterBytes);
      if (applied?.kind === 'corrupt' || applied?.kind === 'stall') {
        res.flushHeaders();
        upRes.pipe(new BodyFault(applied)).pipe(res);
        return;
      }
      upRes.pipe(res);
    });
    upReq.on('error', (e) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'Content-Type': 'text/plain' });
        res.end(`fault proxy: upstream error: ${e.message}\n`);
      } else res.destroy();
    });
    req.on('aborted', () => upReq.destroy());
    req.pipe(upReq);
  };

  /** Held requests, each released once. */
  const held: { until: RegExp; release: (how: 'arrival' | 'timeout') => void }[] = [];
  const server: Server = createServer({ cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) }, (req, res) => {
    const path = req.url ?? '/';
    for (const h of held.filter((x) => x.until.test(path))) h.release('arrival');
    const applied = takeRule(req);
    const seen: ProxiedRequest = { method: req.method ?? 'GET', path, headers: req.headers, fault: applied?.kind ?? null };
    requests.push(seen);
    if (applied && answerLocally(applied, req, res)) return;
    if (applied?.kind === 'delay') setTimeout(() => forward(req, res, applied), applied.ms);
    else if (applied?.kind === 'hold') {
      const entry = {
        until: applied.until,
        release: (how: 'arrival' | 'timeout') => {
          if (seen.released) return;
          seen.released = how;
          clearTimeout(timer);
          held.splice(held.indexOf(entry), 1);
          forward(req, res, null);
        },
      };
      const timer = setTimeout(() => entry.release('timeout'), applied.ms);
      held.push(entry);
    } else forward(req, res, applied);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = `127.0.0.1:${port}`;
  origin = `https://${host}`;
  return {
    host, url: origin, caFile: target.caFile, requests,
    set: (r) => {
      rule = r;
      hits = 0;
    },
    hits: () => hits,
    stop: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      agent.destroy();
    }),
  };
}
