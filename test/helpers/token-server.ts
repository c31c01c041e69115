/**
 * A Docker registry token server (the "token authentication" protocol distribution 2.8 speaks) on
 * 127.0.0.1 over HTTPS with the test server certificate: `GET /auth/token?service=..&scope=..`
 * (and the OAuth2 `POST` form), Basic auth checked against a user table, RS256 JWTs signed with
 * node:crypto whose `x5c` header carries a certificate in the registry's rootcertbundle. Every
 * request is recorded, so tests can assert which scopes a client asked for.
 */
import { createPrivateKey, randomUUID, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One `access` entry of a registry token (and one parsed `scope`). */
export interface Access {
  type: string;
  name: string;
  actions: string[];
}

/** What the token server saw in one request. */
export interface TokenRequest {
  method: string;
  /** Path without the query. */
  path: string;
  /** Every `scope` parameter, as sent (e.g. `repository:lab/app:pull,push`). */
  scopes: string[];
  service: string | null;
  /** Whether an Authorization header came. */
  authorized: boolean;
  /** The user whose credentials were accepted; null for anonymous or refused. */
  user: string | null;
  /** HTTP status answered. */
  status: number;
  /** What the issued token grants (empty when refused). */
  granted: Access[];
}

/** How to start a token server. */
export interface TokenServerOptions {
  /** TLS (serverCert/serverKey) and signing (tokenCert/tokenKey) material, PEM file paths. */
  certs: { serverCert: string; serverKey: string; tokenCert: string; tokenKey: string };
  /** user -> password; an authenticated user gets every action it asks for. */
  users: Record<string, string>;
  /** Repositories anonymous clients may pull ('*' for all); anonymous gets nothing else. */
  anonymousPull?: string[];
  /** Token lifetime in seconds (default 300). */
  expiresIn?: number;
  /** Default 'containerspec-test'. */
  service?: string;
  /** Default 'containerspec-test-issuer'. */
  issuer?: string;
}

/** A running token server. */
export interface TokenServer {
  /** The realm to put in the registry's config: `https://127.0.0.1:PORT/auth/token`. */
  realm: string;
  /** `127.0.0.1:PORT` */
  host: string;
  service: string;
  issuer: string;
  /** Every request so far, oldest first (tests may clear it with `requests.length = 0`). */
  requests: TokenRequest[];
  /** Sign a token directly (e.g. an expired one: `exp` in the past). */
  mint(sub: string, access: Access[], opts?: { expiresIn?: number; issuer?: string; audience?: string }): string;
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/** Parse `type:name:actions`; the name may hold colons (a host:port), the actions are after the last one. */
export function parseScope(scope: string): Access | null {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last <= first) return null;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',').filter(Boolean) };
}

/** A compact JWS (RS256) of `claims`, with `x5c` holding the signing certificate (base64 DER). */
export function signJwt(claims: Record<string, unknown>, key: KeyObject, certDer: Buffer): string {
  const header = { typ: 'JWT', alg: 'RS256', x5c: [certDer.toString('base64')] };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${b64url(sign('sha256', Buffer.from(input), key))}`;
}

/** The user named by a Basic Authorization header when its password is right; null otherwise. */
function checkBasic(header: string | undefined, users: Record<string, string>): { user: string | null; refused: boolean } {
  if (!header) return { user: null, refused: false };
  const m = /^Basic\s+(\S+)$/i.exec(header);
  if (!m?.[1]) return { user: null, refused: true };
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  const user = text.slice(0, colon);
  const ok = colon > 0 && Object.hasOwn(users, user) && users[user] === text.slice(colon + 1);
  return ok ? { user, refused: false } : { user: null, refused: true };
}

/** What a request is granted: all it asks for when authenticated; pull on allowed repositories when anonymous. */
function grant(scopes: string[], user: string | null, anonymousPull: string[]): Access[] {
  const out: Access[] = [];
  for (const s of scopes) {
    const a = parseScope(s);
    if (!a) continue;
    if (user) out.push(a);
    else if (a.type === 'repository' && a.actions.includes('pull') && (anonymousPull.includes(a.name) || anonymousPull.includes('*'))) out.push({ ...a, actions: ['pull'] });
  }
  return out;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (s += c));
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...extra });
  res.end(JSON.stringify(body));
}

/**
 * Start a token server on 127.0.0.1 (HTTPS, the test server certificate). GET answers Basic-auth
 * or anonymous requests; POST takes `grant_type=password` (username, password) or
 * `grant_type=refresh_token` (refresh tokens are issued for password grants).
 */
export async function startTokenServer(opts: TokenServerOptions): Promise<TokenServer> {
  const service = opts.service ?? 'containerspec-test';
  const issuer = opts.issuer ?? 'containerspec-test-issuer';
  const key = createPrivateKey(readFileSync(opts.certs.tokenKey));
  const certDer = new X509Certificate(readFileSync(opts.certs.tokenCert)).raw;
  const requests: TokenRequest[] = [];
  const refreshTokens = new Map<string, string>();

  const mint: TokenServer['mint'] = (sub, access, o = {}) => {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + (o.expiresIn ?? opts.expiresIn ?? 300);
    return signJwt({ iss: o.issuer ?? issuer, sub, aud: o.audience ?? service, exp, nbf: now - 10, iat: now, jti: randomUUID(), access }, key, certDer);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'https://token.invalid');
    const rec: TokenRequest = { method: req.method ?? 'GET', path: url.pathname, scopes: url.searchParams.getAll('scope'), service: url.searchParams.get('service'), authorized: req.headers.authorization !== undefined, user: null, status: 0, granted: [] };
    requests.push(rec);
    const answer = (status: number, body: unknown, extra: Record<string, string> = {}) => {
      rec.status = status;
      json(res, status, body, extra);
    };
    if (url.pathname !== '/auth/token') return answer(404, { errors: [{ code: 'NOT_FOUND', message: 'no such endpoint' }] });
    let user: string | null = null;
    let refresh: string | undefined;
    if (req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      rec.scopes = form.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
      rec.service = form.get('service');
      const gt = form.get('grant_type');
      if (gt === 'password') user = checkBasic(basicOf(form.get('username') ?? '', form.get('password') ?? ''), opts.users).user;
      else if (gt === 'refresh_token') user = refreshTokens.get(form.get('refresh_token') ?? '') ?? null;
      if (!user) return answer(401, { error: 'invalid_grant' });
      if (gt === 'password') {
        refresh = randomUUID();
        refreshTokens.set(refresh, user);
      }
    } else if (req.method === 'GET') {
      const c = checkBasic(req.headers.authorization, opts.users);
      if (c.refused) return answer(401, { errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }, { 'WWW-Authenticate': 'Basic realm="containerspec-test-token"' });
      user = c.user;
    } else {
      return answer(405, { errors: [{ code: 'UNSUPPORTED', message: 'GET or POST' }] });
    }
    rec.user = user;
    if (rec.service !== null && rec.service !== service) return answer(400, { errors: [{ code: 'DENIED', message: `unknown service ${rec.service}` }] });
    rec.granted = grant(rec.scopes, user, opts.anonymousPull ?? []);
    const token = mint(user ?? '', rec.granted);
    const expiresIn = opts.expiresIn ?? 300;
    answer(200, { token, access_token: token, expires_in: expiresIn, issued_at: new Date().toISOString(), ...(refresh ? { refresh_token: refresh } : {}) });
  };

  const server: Server = createServer({ cert: readFileSync(opts.certs.serverCert), key: readFileSync(opts.certs.serverKey) }, (req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) json(res, 500, { errors: [{ code: 'UNKNOWN', message: String(e) }] });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = `127.0.0.1:${port}`;
  return {
    realm: `https://${host}/auth/token`, host, service, issuer, requests, mint,
    stop: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

const basicOf = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
