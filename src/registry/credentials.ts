/**
 * Registry credentials: where they come from and in which order, as the containers tools (skopeo,
 * podman) look them up, so a user logged in with `podman login` or `docker login` needs nothing more.
 *
 * The order and the rules inside one auth file follow containers/image `pkg/docker/config/config.go`
 * (`getAuthFilePaths`, `findCredentialsInFile`, `authKeyLookupOrder`, `normalizeAuthFileKey`,
 * `getCredsFromCredHelper`); the helper protocol follows docker/docker-credential-helpers
 * (`client/client.go` `Get`, `credentials/error.go`). Differences from them are marked "Unlike the
 * reference" below.
 *
 * A credential is never printed, logged, cached or written: the objects returned here print as
 * `[credential from SOURCE]` through `String()`, template literals, `JSON.stringify` and
 * `util.inspect` / `console.log`, and their secret field is not enumerable (a spread or
 * `structuredClone` drops it). No error message here holds a secret, a decoded `auth` value, a
 * fragment of an auth file, or a credential helper's stdout.
 */
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { ContainerspecError, FormatError, NotFoundError, UsageError } from '../errors/index.js';
import { readRegularFile } from '../util/files.js';

/** What every credential carries besides its secret. */
interface CredentialCommon {
  /**
   * Where it came from, for messages: `--creds`, the path of a `--creds-file` or auth file, or
   * `docker-credential-NAME`. Never the secret.
   */
  readonly source: string;
  /** `[credential from SOURCE]`: never the secret. */
  toString(): string;
  /** `[credential from SOURCE]`, so `JSON.stringify` never writes the secret. */
  toJSON(): string;
}

/** A user name and password (HTTP Basic, or the `account`/Basic pair sent to a token server). */
export interface BasicCredential extends CredentialCommon {
  readonly kind: 'basic';
  /** The user name (not a secret). */
  readonly username: string;
  /** The secret (not enumerable). */
  readonly password: string;
}

/**
 * An OAuth2 refresh token (`identitytoken` in an auth file, or a credential helper's answer with
 * Username `<token>`): the client trades it for a bearer token with `grant_type=refresh_token`, as
 * containers/image `getBearerTokenOAuth2` does.
 */
export interface TokenCredential extends CredentialCommon {
  readonly kind: 'token';
  /** The secret (not enumerable). */
  readonly identityToken: string;
}

/** Credentials for one registry, or null (anonymous) from {@link credentialsFor}. */
export type Credential = BasicCredential | TokenCredential;

/** Options of {@link credentialsFor}. */
export interface CredentialsOptions {
  /** `--creds USER:PASSWORD` (split at the first colon; the user must not be empty). */
  creds?: string;
  /** `--creds-file FILE`: a file whose first line is `USER:PASSWORD`. */
  credsFile?: string;
  /**
   * The environment to read `REGISTRY_AUTH_FILE`, `XDG_RUNTIME_DIR`, `XDG_CONFIG_HOME`,
   * `DOCKER_CONFIG`, `HOME` and `PATH` from, and to run credential helpers with (default
   * `process.env`).
   */
  env?: NodeJS.ProcessEnv;
  /** The home directory (default `$HOME` of `env`, else `os.homedir()`). */
  home?: string;
  /** How long a credential helper may take to answer, in milliseconds (default 10 000). */
  helperTimeoutMs?: number;
}

/**
 * A credential could not be obtained although one is configured: a credential helper named by an
 * auth file is missing from PATH, fails, hangs or answers garbage, or `REGISTRY_AUTH_FILE` names a
 * file that cannot be read. The message names the helper (or file) and the registry, never a secret
 * nor the helper's stdout.
 */
export class CredentialError extends ContainerspecError {
  override name = 'CredentialError';
}

/** Default time a credential helper gets to answer. */
const HELPER_TIMEOUT_MS = 10_000;
/** What a credential helper may write before it is stopped (an answer is a few hundred bytes). */
const HELPER_MAX_STDOUT = 1024 * 1024;
const HELPER_MAX_STDERR = 64 * 1024;
/** The message a helper prints when it has nothing for the server (docker-credential-helpers `errCredentialsNotFoundMessage`). */
const NOT_FOUND_MESSAGE = 'credentials not found in native keychain';
/** The Username a helper answers with when Secret is an identity token (docker/cli `tokenUsername`). */
const TOKEN_USERNAME = '<token>';
/** The auth-file key and helper server URL `docker login` uses for Docker Hub (docker/cli `registry.IndexServer`). */
const DOCKER_HUB_INDEX = 'https://index.docker.io/v1/';
const DOCKER_HUB_NAMES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** Make a credential object whose printed forms never show the secret. */
function makeCredential(
  fields: { kind: 'basic'; username: string; password: string } | { kind: 'token'; identityToken: string },
  source: string,
): Credential {
  const label = `[credential from ${source}]`;
  const show = (): string => label;
  const cred: Record<PropertyKey, unknown> = { kind: fields.kind, source };
  if (fields.kind === 'basic') {
    cred.username = fields.username;
    Object.defineProperty(cred, 'password', { value: fields.password, enumerable: false });
  } else {
    Object.defineProperty(cred, 'identityToken', { value: fields.identityToken, enumerable: false });
  }
  for (const key of ['toString', 'toJSON', inspect.custom, Symbol.toPrimitive] as const) {
    Object.defineProperty(cred, key, { value: show, enumerable: false });
  }
  return Object.freeze(cred) as unknown as Credential;
}

/**
 * The credential for `registry`/`repository`, or null to go anonymous. Looked up in this order,
 * the first hit winning:
 *
 * 1. `opts.creds` (`--creds USER:PASSWORD`);
 * 2. `opts.credsFile` (`--creds-file FILE`, its first line `USER:PASSWORD`);
 * 3. the auth files of {@link authFilePaths}, in order: `$REGISTRY_AUTH_FILE` alone when it is
 *    set, else `$XDG_RUNTIME_DIR/containers/auth.json` (`/run/containers/UID/auth.json` without
 *    `XDG_RUNTIME_DIR`), `${XDG_CONFIG_HOME:-$HOME/.config}/containers/auth.json`,
 *    `$DOCKER_CONFIG/config.json` (else `$HOME/.docker/config.json`), `$HOME/.dockercfg`.
 *
 * Inside one auth file: `credHelpers[registry]` first (the helper's answer, or "not found" which
 * moves on to the next file); then `auths` keys from the most specific to the registry
 * (`host/ns/repo`, `host/ns`, `host`); then keys written as URLs or Docker Hub aliases
 * (`https://host`, `http://host/v2/`, `https://index.docker.io/v1/`), in file order; then
 * `credsStore`. An entry gives `auth` (base64 of `USER:PASSWORD`), else `username` and `password`;
 * an `identitytoken` makes it a token credential. An empty entry (`{}`, as `docker login` writes
 * next to a helper) counts as absent.
 *
 * Docker Hub: `docker.io`, `index.docker.io` and `registry-1.docker.io` are one registry; its keys
 * are looked up as `docker.io/REPO…`, `docker.io`, then any alias or `https://index.docker.io/v1/`.
 *
 * @param registry host[:port] as in the image reference (`docker.io` for Docker Hub)
 * @param repository the path in the registry, e.g. `library/ubuntu`
 * @throws UsageError for a malformed `--creds` or an unreadable `--creds-file`; FormatError naming
 *   the file for a malformed auth file; CredentialError for a credential helper that is missing,
 *   fails, hangs or answers garbage, and for a `REGISTRY_AUTH_FILE` that cannot be read
 */
export async function credentialsFor(registry: string, repository: string, opts: CredentialsOptions = {}): Promise<Credential | null> {
  if (!registry || /[/\s]/.test(registry)) throw new Error(`credentialsFor: not a registry host[:port]: ${JSON.stringify(registry)}`);
  const env = opts.env ?? process.env;
  if (opts.creds !== undefined) return fromCredsOption(opts.creds);
  if (opts.credsFile !== undefined) return fromCredsFile(opts.credsFile);

  const hub = DOCKER_HUB_NAMES.has(registry);
  const reg = hub ? 'docker.io' : registry;
  const ctx: Lookup = {
    registry: reg,
    key: repository ? `${reg}/${repository.replace(/^\/+|\/+$/g, '')}` : reg,
    hub,
    env,
    timeoutMs: opts.helperTimeoutMs ?? HELPER_TIMEOUT_MS,
  };
  const paths = authFilePaths({ env, ...(opts.home !== undefined ? { home: opts.home } : {}) });
  for (const p of paths) {
    const doc = await readAuthFile(p);
    if (doc === null) continue;
    const found = await findInFile(doc, p, ctx);
    if (found) return found;
  }
  return null;
}

/** One auth file to search, in {@link authFilePaths}. */
export interface AuthFilePath {
  /** The file's path. */
  readonly path: string;
  /** `~/.dockercfg`: the whole file is the `auths` map, keyed by registry only. */
  readonly legacy: boolean;
  /** Named by `REGISTRY_AUTH_FILE`: it must exist. */
  readonly explicit: boolean;
}

/**
 * The auth files {@link credentialsFor} searches, in order (containers/image `getAuthFilePaths` and
 * `getPathToAuthWithOS` on Linux; `REGISTRY_AUTH_FILE` is how skopeo and podman set the
 * "user-specified" path, and then it is the only file read). Some may not exist.
 */
export function authFilePaths(opts: { env?: NodeJS.ProcessEnv; home?: string } = {}): AuthFilePath[] {
  const env = opts.env ?? process.env;
  const home = opts.home ?? (env.HOME || homedir());
  const file = (path: string, legacy = false, explicit = false): AuthFilePath => ({ path, legacy, explicit });
  if (env.REGISTRY_AUTH_FILE) return [file(env.REGISTRY_AUTH_FILE, false, true)];
  const paths: AuthFilePath[] = [];
  const runtimeDir = env.XDG_RUNTIME_DIR;
  if (runtimeDir) {
    // The reference warns and skips when $XDG_RUNTIME_DIR names a directory that does not exist.
    if (exists(runtimeDir)) paths.push(file(join(runtimeDir, 'containers', 'auth.json')));
  } else if (typeof process.getuid === 'function') {
    paths.push(file(`/run/containers/${process.getuid()}/auth.json`));
  }
  paths.push(file(join(env.XDG_CONFIG_HOME || join(home, '.config'), 'containers', 'auth.json')));
  paths.push(file(env.DOCKER_CONFIG ? join(env.DOCKER_CONFIG, 'config.json') : join(home, '.docker', 'config.json')));
  paths.push(file(join(home, '.dockercfg'), true));
  return paths;
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** What one lookup searches for. */
interface Lookup {
  /** host[:port], `docker.io` for every Docker Hub alias. */
  registry: string;
  /** `registry/repository`, the most specific auth-file key. */
  key: string;
  hub: boolean;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
}

function fromCredsOption(value: string): Credential {
  const i = value.indexOf(':');
  if (i <= 0) throw new UsageError('--creds takes USER:PASSWORD');
  return makeCredential({ kind: 'basic', username: value.slice(0, i), password: value.slice(i + 1) }, '--creds');
}

async function fromCredsFile(path: string): Promise<Credential> {
  let data: Buffer;
  try {
    data = await readRegularFile(path, 'jsonBytes', `--creds-file ${path}`);
  } catch (e) {
    if (e instanceof NotFoundError) throw new UsageError(`--creds-file ${path}: no such file`);
    if (e instanceof ContainerspecError) throw new UsageError(e.message);
    throw e;
  }
  const first = data.toString('utf8').split('\n', 1)[0]!.replace(/\r$/, '');
  const i = first.indexOf(':');
  if (i <= 0) throw new UsageError(`--creds-file ${path}: the first line must be USER:PASSWORD`);
  return makeCredential({ kind: 'basic', username: first.slice(0, i), password: first.slice(i + 1) }, path);
}

/** An auth file's contents after its shape is checked. */
interface AuthDoc {
  auths: Map<string, Record<string, unknown>>;
  credHelpers: Map<string, string>;
  credsStore: string | null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Read and shape-check one auth file; null when it does not exist (unless it was named explicitly). */
async function readAuthFile(p: AuthFilePath): Promise<AuthDoc | null> {
  let data: Buffer;
  try {
    data = await readRegularFile(p.path, 'jsonBytes', `auth file ${p.path}`);
  } catch (e) {
    if (e instanceof NotFoundError) {
      if (p.explicit) throw new CredentialError(`REGISTRY_AUTH_FILE names ${p.path}, which does not exist (create it or unset REGISTRY_AUTH_FILE)`);
      return null;
    }
    throw e;
  }
  const text = data.toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    // Not the parser's message: some name the offending text, which may be a secret.
    throw new FormatError(`auth file ${p.path} is not valid JSON (${where(text, e)})`, p.path);
  }
  const bad = (what: string): never => {
    throw new FormatError(`auth file ${p.path}: ${what}`, p.path);
  };
  if (!isObject(doc)) bad('not a JSON object');
  const d = doc as Record<string, unknown>;
  const out: AuthDoc = { auths: new Map(), credHelpers: new Map(), credsStore: null };
  const auths = p.legacy ? d : Object.hasOwn(d, 'auths') ? d.auths : {};
  if (!isObject(auths)) bad('"auths" is not an object');
  for (const [k, v] of Object.entries(auths as Record<string, unknown>)) {
    if (!isObject(v)) bad(`${p.legacy ? '' : 'auths'}[${JSON.stringify(k)}] is not an object`);
    out.auths.set(k, v as Record<string, unknown>);
  }
  if (p.legacy) return out;
  if (Object.hasOwn(d, 'credHelpers') && d.credHelpers !== null) {
    if (!isObject(d.credHelpers)) bad('"credHelpers" is not an object');
    for (const [k, v] of Object.entries(d.credHelpers as Record<string, unknown>)) {
      if (typeof v !== 'string' || !validHelperName(v)) bad(`credHelpers[${JSON.stringify(k)}] is not a credential helper name`);
      out.credHelpers.set(k, v as string);
    }
  }
  if (Object.hasOwn(d, 'credsStore') && d.credsStore !== null && d.credsStore !== '') {
    if (typeof d.credsStore !== 'string' || !validHelperName(d.credsStore)) bad('"credsStore" is not a credential helper name');
    out.credsStore = d.credsStore as string;
  }
  return out;
}

/** Where in `text` a JSON.parse error happened, from its position (never the text there). */
function where(text: string, e: unknown): string {
  const m = /position (\d+)/.exec(e instanceof Error ? e.message : '');
  if (!m) return /end of JSON/i.test(e instanceof Error ? e.message : '') ? 'it ends early' : 'cannot be parsed';
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  return `at line ${line}, column ${column}`;
}

/** A helper name becomes `docker-credential-NAME` run from PATH: no path separators, no NUL. */
function validHelperName(name: string): boolean {
  return name.length > 0 && !/[/\\\0]/.test(name) && name !== '.' && name !== '..';
}

/** The registry a URL-form or legacy key names (containers/image `normalizeAuthFileKey` + `normalizeRegistry`). */
function normalizeKey(key: string, legacy: boolean): string {
  const stripped = key.replace(/^https?:\/\//, '');
  const host = legacy || stripped !== key ? stripped.split('/', 1)[0]! : stripped;
  return normalizeRegistry(host);
}

function normalizeRegistry(registry: string): string {
  return DOCKER_HUB_NAMES.has(registry) ? 'index.docker.io' : registry;
}

/** Search one auth file, in the order {@link credentialsFor} describes. */
async function findInFile(doc: AuthDoc, p: AuthFilePath, ctx: Lookup): Promise<Credential | null> {
  // credHelpers first: keyed by registry only, never by namespace.
  const helperKeys = ctx.hub ? ['docker.io', 'index.docker.io', 'registry-1.docker.io', DOCKER_HUB_INDEX] : [ctx.registry];
  for (const k of helperKeys) {
    const helper = doc.credHelpers.get(k);
    if (helper !== undefined) return runHelper(helper, k, ctx, `credHelpers in ${p.path}`);
  }

  // Exact keys, most specific first (a legacy file knows registries only).
  const exact: string[] = [];
  if (p.legacy) exact.push(ctx.registry);
  else for (let k = ctx.key; ; k = k.slice(0, k.lastIndexOf('/'))) {
    exact.push(k);
    if (!k.includes('/')) break;
  }
  for (const k of exact) {
    const entry = doc.auths.get(k);
    if (entry) {
      const c = decodeEntry(entry, k, p);
      if (c) return c;
    }
  }
  // URL-form keys (`https://host/v1/`) and Docker Hub aliases, in file order.
  const want = normalizeRegistry(ctx.registry);
  for (const [k, entry] of doc.auths) {
    if (exact.includes(k) || normalizeKey(k, p.legacy) !== want) continue;
    const c = decodeEntry(entry, k, p);
    if (c) return c;
  }

  // Unlike the reference (which ignores credsStore) and docker (which asks the store instead of
  // `auths`): the store last, so a real entry in `auths` wins and a `{}` marker falls through to it.
  if (doc.credsStore !== null) return runHelper(doc.credsStore, ctx.hub ? DOCKER_HUB_INDEX : ctx.registry, ctx, `credsStore in ${p.path}`);
  return null;
}

/**
 * One `auths` entry as a credential; null for an empty entry. A malformed entry is an error naming
 * the file and key (unlike the reference, which skips an `auth` without a colon with a warning).
 */
function decodeEntry(entry: Record<string, unknown>, key: string, p: AuthFilePath): Credential | null {
  const at = `auth file ${p.path}: ${p.legacy ? '' : 'auths'}[${JSON.stringify(key)}]`;
  const str = (field: string): string => {
    const v = Object.hasOwn(entry, field) ? entry[field] : undefined;
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string') throw new FormatError(`${at}.${field} is not a string`, p.path);
    return v;
  };
  const auth = str('auth');
  const identityToken = str('identitytoken');
  let username = '';
  let password = '';
  if (auth !== '') {
    const decoded = decodeBase64(auth);
    const i = decoded === null ? -1 : decoded.indexOf(':');
    if (decoded === null || i <= 0) throw new FormatError(`${at}.auth is not base64 of USER:PASSWORD`, p.path);
    username = decoded.slice(0, i);
    password = decoded.slice(i + 1).replace(/^\0+|\0+$/g, '');
  } else {
    username = str('username');
    password = str('password');
    if ((username === '') !== (password === '') && identityToken === '') {
      throw new FormatError(`${at} has ${username ? 'a username but no password' : 'a password but no username'}`, p.path);
    }
  }
  if (identityToken !== '') return makeCredential({ kind: 'token', identityToken }, p.path);
  if (username === '') return null;
  return makeCredential({ kind: 'basic', username, password }, p.path);
}

/** Strict standard base64 (padding required, as Go's `base64.StdEncoding`), decoded as UTF-8. */
function decodeBase64(s: string): string | null {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return null;
  const buf = Buffer.from(s, 'base64');
  const text = buf.toString('utf8');
  return Buffer.from(text, 'utf8').equals(buf) ? text : null;
}

/**
 * Ask `docker-credential-NAME get` for `serverUrl` (the protocol of docker-credential-helpers
 * `client.Get`): the server URL on stdin, `{"ServerURL","Username","Secret"}` on stdout, or exit
 * non-zero printing "credentials not found in native keychain". Not found → null.
 */
async function runHelper(name: string, serverUrl: string, ctx: Lookup, origin: string): Promise<Credential | null> {
  const program = `docker-credential-${name}`;
  const fail = (what: string): CredentialError => new CredentialError(`credential helper ${program} for ${ctx.registry} (from ${origin}) ${what}`);
  const result = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: Buffer; stderr: string }>((resolve, reject) => {
    let child;
    try {
      child = spawn(program, ['get'], { env: ctx.env, stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (e) {
      reject(fail(`could not be started (${(e as NodeJS.ErrnoException).code ?? 'error'})`));
      return;
    }
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    let problem: CredentialError | null = null;
    const stop = (e: CredentialError): void => {
      problem ??= e;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => stop(fail(`did not answer within ${ctx.timeoutMs / 1000} s`)), ctx.timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      outBytes += b.length;
      if (outBytes > HELPER_MAX_STDOUT) stop(fail(`wrote more than ${HELPER_MAX_STDOUT} bytes`));
      else out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => {
      if (err.length < HELPER_MAX_STDERR) err += b.toString('utf8');
    });
    child.stdin.on('error', () => {}); // a helper that exits without reading: its exit status tells
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        e.code === 'ENOENT'
          ? fail('is not on PATH; install it or remove it from that file')
          : fail(`could not be run (${e.code ?? 'error'})`),
      );
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (problem) reject(problem);
      else resolve({ code, signal, stdout: Buffer.concat(out), stderr: err });
    });
    child.stdin.end(serverUrl);
  });

  const stdout = result.stdout.toString('utf8');
  if (stdout.trim() === NOT_FOUND_MESSAGE) return null;
  if (result.code !== 0) {
    // Never its stdout: a helper's output is where secrets are. Its stderr (which the reference
    // passes straight to the terminal) may say what is wrong.
    const why = result.stderr.trim().split('\n', 1)[0]!.slice(0, 200);
    throw fail(`failed (${result.signal ? `killed by ${result.signal}` : `exit status ${result.code}`}${why ? `: ${why}` : ''})`);
  }
  let answer: unknown;
  try {
    answer = JSON.parse(stdout);
  } catch {
    throw fail('answered with something other than JSON');
  }
  if (!isObject(answer)) throw fail('answered with something other than a JSON object');
  const username = Object.hasOwn(answer, 'Username') ? answer.Username : undefined;
  const secret = Object.hasOwn(answer, 'Secret') ? answer.Secret : undefined;
  if ((username !== undefined && typeof username !== 'string') || (secret !== undefined && typeof secret !== 'string')) {
    throw fail('answered with a Username or Secret that is not a string');
  }
  // An empty answer is "nothing stored", as the reference's empty DockerAuthConfig.
  if (!username && !secret) return null;
  if (username === TOKEN_USERNAME) {
    if (!secret) throw fail('answered with an empty identity token');
    return makeCredential({ kind: 'token', identityToken: secret }, program);
  }
  if (!username) throw fail('answered with an empty Username');
  return makeCredential({ kind: 'basic', username, password: secret ?? '' }, program);
}
