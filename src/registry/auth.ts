/**
 * Registry authentication as the distribution token spec and docker do it: try anonymously (or with
 * what worked before for that scope), read the `WWW-Authenticate` challenge of a 401, then answer
 * with Basic credentials or with a Bearer token fetched from the challenge's realm for a scope per
 * repository. Tokens are held in memory for their lifetime and never written anywhere; credentials
 * are looked up only when a registry asks (credentials.ts).
 */
import type { IncomingMessage } from 'node:http';
import { AuthError } from '../errors/index.js';
import type { Credential } from './credentials.js';
import { readBody, send, type Transport } from './http.js';

/** One challenge of a `WWW-Authenticate` header. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parse a `WWW-Authenticate` header (RFC 7235): `Bearer realm="...",service="...",scope="..."`,
 * `Basic realm="..."`; several challenges may follow each other.
 */
export function parseChallenges(header: string | undefined): Challenge[] {
  if (!header) return [];
  const out: Challenge[] = [];
  let cur: Challenge | null = null;
  let i = 0;
  const skip = (chars: RegExp) => {
    while (i < header.length && chars.test(header[i]!)) i++;
  };
  while (i < header.length) {
    skip(/[\s,]/);
    const start = i;
    while (i < header.length && /[^\s,=]/.test(header[i]!)) i++;
    const word = header.slice(start, i);
    if (word === '') break;
    skip(/\s/);
    if (header[i] !== '=') {
      cur = { scheme: word.toLowerCase(), params: {} };
      out.push(cur);
      continue;
    }
    i++; // '='
    skip(/\s/);
    let value = '';
    if (header[i] === '"') {
      for (i++; i < header.length && header[i] !== '"'; i++) value += header[i] === '\\' && i + 1 < header.length ? header[++i] : header[i];
      i++; // closing quote
    } else {
      const v0 = i;
      while (i < header.length && /[^\s,]/.test(header[i]!)) i++;
      value = header.slice(v0, i);
    }
    if (cur) cur.params[word.toLowerCase()] = value;
  }
  return out;
}

/** The Authorization header of Basic credentials. */
function basicHeader(cred: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`;
}

/** What a scope asks: pull, or pull and push, on one repository. */
export type Access = 'pull' | 'pull,push';

/** Looks up credentials for the registry only when it asks (never before a 401). */
export type CredentialLookup = (repo: string) => Promise<Credential | null>;

/** Authorization headers that worked, per scope, in memory for this process only. */
export class Authenticator {
  private readonly headers = new Map<string, { value: string; until: number }>();
  private readonly credentials = new Map<string, Promise<Credential | null>>();

  constructor(
    private readonly t: Transport,
    private readonly lookup: CredentialLookup,
  ) {}

  private scopeKey(repo: string, access: Access): string {
    return `repository:${repo}:${access}`;
  }

  /** The Authorization header to send for this scope, when one is known. */
  header(repo: string, access: Access): string | null {
    const h = this.headers.get(this.scopeKey(repo, access)) ?? (access === 'pull' ? this.headers.get(this.scopeKey(repo, 'pull,push')) : undefined);
    if (h && h.until > Date.now()) return h.value;
    return null;
  }

  /** Credentials for a repository (an auth file may hold some per repository), looked up once. */
  private creds(repo: string): Promise<Credential | null> {
    let c = this.credentials.get(repo);
    if (!c) {
      c = this.lookup(repo);
      this.credentials.set(repo, c);
    }
    return c;
  }

  /**
   * Answer a 401: from its challenge, work out a header for the scope (Basic with credentials, or a
   * Bearer token from the realm) and remember it. `tried` is the header that was refused, if any: a
   * refused header is not offered again. Throws AuthError when nothing can satisfy the registry.
   */
  async answer(res: IncomingMessage, repo: string, access: Access, tried: string | null): Promise<string> {
    const challenges = parseChallenges(res.headers['www-authenticate'] as string | undefined);
    res.resume();
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    const cred = await this.creds(repo);
    const key = this.scopeKey(repo, access);
    const who = cred ? `the credentials from ${cred.source}` : 'anonymous access';
    if (tried !== null) {
      throw new AuthError(`${this.t.host}: ${who} ${cred ? 'were' : 'was'} refused for ${repo} (${access}): ${cred ? 'wrong user or password, or no access to this repository' : 'it needs credentials: log in (podman login / docker login), or pass --creds USER:PASSWORD or --creds-file FILE'}`, this.t.host);
    }
    if (bearer) {
      const token = await this.token(bearer, repo, access, cred);
      const value = `Bearer ${token.token}`;
      this.headers.set(key, { value, until: Date.now() + Math.max(10, token.expiresIn - 10) * 1000 });
      return value;
    }
    if (basic || challenges.length === 0) {
      if (!cred || cred.kind !== 'basic') {
        throw new AuthError(`${this.t.host}: ${repo} needs credentials (Basic auth) and none were found: pass --creds USER:PASSWORD or --creds-file FILE, or log in with podman login / docker login`, this.t.host);
      }
      const value = basicHeader(cred);
      this.headers.set(key, { value, until: Number.MAX_SAFE_INTEGER });
      return value;
    }
    throw new AuthError(`${this.t.host}: unsupported authentication scheme ${challenges.map((c) => c.scheme).join(', ')}`, this.t.host);
  }

  /** Fetch a Bearer token for a scope from the challenge's realm (GET, or the OAuth2 refresh-token POST for identity tokens). */
  private async token(c: Challenge, repo: string, access: Access, cred: Credential | null): Promise<{ token: string; expiresIn: number }> {
    const realm = c.params.realm;
    if (!realm) throw new AuthError(`${this.t.host}: its Bearer challenge names no realm to get a token from`, this.t.host);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new AuthError(`${this.t.host}: its token realm ${JSON.stringify(realm)} is not a URL`, this.t.host);
    }
    const scope = `repository:${repo}:${access}`;
    const service = c.params.service;
    let res: IncomingMessage;
    if (cred?.kind === 'token') {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: cred.identityToken, client_id: 'containerspec', scope, ...(service ? { service } : {}) });
      res = await send(this.t, { method: 'POST', url: url.href, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from(form.toString()) }, 'token request');
    } else {
      if (service) url.searchParams.set('service', service);
      url.searchParams.append('scope', scope);
      const headers = cred?.kind === 'basic' ? { authorization: basicHeader(cred) } : {};
      res = await send(this.t, { method: 'GET', url: url.href, headers }, 'token request');
    }
    const status = res.statusCode ?? 0;
    if (status === 401 || status === 403) {
      res.resume();
      throw new AuthError(
        cred
          ? `${this.t.host}: the token server refused the credentials from ${cred.source} for ${repo} (${access}): wrong user or password, or no access`
          : `${this.t.host}: ${repo} needs credentials and none were found: pass --creds USER:PASSWORD or --creds-file FILE, or log in with podman login / docker login`,
        this.t.host,
      );
    }
    const body = await readBody(this.t, res, 1024 * 1024, 'token answer');
    if (status !== 200) throw new AuthError(`${this.t.host}: token server ${url.host} answered HTTP ${status}`, this.t.host);
    let json: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      json = JSON.parse(body.toString('utf8')) as typeof json;
    } catch {
      throw new AuthError(`${this.t.host}: token server ${url.host} answered something that is not JSON`, this.t.host);
    }
    const token = typeof json.token === 'string' && json.token ? json.token : typeof json.access_token === 'string' ? json.access_token : '';
    if (!token) throw new AuthError(`${this.t.host}: token server ${url.host} answered without a token`, this.t.host);
    const expiresIn = typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : 60;
    return { token, expiresIn };
  }

  /** Forget a header that stopped working (an expired token). */
  forget(repo: string, access: Access): void {
    this.headers.delete(this.scopeKey(repo, access));
  }
}
