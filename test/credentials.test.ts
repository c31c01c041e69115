/**
 * Registry credential lookup against real files in temporary home directories and a real
 * credential helper (`docker-credential-cstest`, a script first on PATH that speaks the
 * docker-credential-helpers `get` protocol and answers from a JSON file).
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { format, inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContainerspecError, FormatError, UsageError } from '../src/errors/index.js';
import { CredentialError, authFilePaths, credentialsFor, type Credential, type CredentialsOptions } from '../src/registry/credentials.js';

const PASSWORD = 'hunter2-Sup3rSecret';

/** The helper: logs the server URL it was asked for, answers from $CSTEST_STORE. */
const HELPER_JS = `
const fs = require('node:fs');
if (process.argv[2] !== 'get') { process.stdout.write('unsupported action'); process.exit(1); }
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  fs.appendFileSync(process.env.CSTEST_LOG, JSON.stringify({ helper: process.argv[1], serverURL: input }) + '\\n');
  const store = JSON.parse(fs.readFileSync(process.env.CSTEST_STORE, 'utf8'));
  const e = Object.hasOwn(store, input) ? store[input] : undefined;
  if (e === undefined) { process.stdout.write('credentials not found in native keychain\\n'); process.exit(1); }
  if (e === 'FAIL') {
    process.stderr.write('keychain is locked\\n');
    process.stdout.write(JSON.stringify({ ServerURL: input, Username: 'u', Secret: 'stdout-${PASSWORD}' }));
    process.exit(3);
  }
  if (e === 'GARBAGE') { process.stdout.write('garbage-${PASSWORD}'); return; }
  if (e === 'HANG') { setTimeout(() => {}, 60000); return; }
  process.stdout.write(JSON.stringify({ ServerURL: input, Username: e.Username, Secret: e.Secret }));
});
`;

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

let root: string;
let home: string;
let runDir: string;
let bin: string;
let store: string;
let log: string;
let env: NodeJS.ProcessEnv;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'cstest-creds-'));
  home = join(root, 'home');
  runDir = join(root, 'run');
  bin = join(root, 'bin');
  for (const d of [home, runDir, bin]) mkdirSync(d, { recursive: true });
  store = join(root, 'store.json');
  log = join(root, 'helper.log');
  writeFileSync(store, '{}');
  writeFileSync(log, '');
  writeFileSync(join(bin, 'helper.cjs'), HELPER_JS);
  for (const name of ['docker-credential-cstest', 'docker-credential-cstest2']) {
    const script = join(bin, name);
    writeFileSync(script, `#!/bin/sh\nexec "${process.execPath}" "\${0%/*}/helper.cjs" "$@"\n`);
    chmodSync(script, 0o755);
  }
  // A clean environment: nothing of the real user's leaks in.
  env = { PATH: `${bin}:/usr/bin:/bin`, HOME: home, XDG_RUNTIME_DIR: runDir, CSTEST_STORE: store, CSTEST_LOG: log };
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function writeJson(path: string, doc: unknown): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, typeof doc === 'string' ? doc : JSON.stringify(doc, null, 2));
  return path;
}
const runtimeAuth = (): string => join(runDir, 'containers', 'auth.json');
const configAuth = (): string => join(home, '.config', 'containers', 'auth.json');
const dockerConfig = (): string => join(home, '.docker', 'config.json');
const helperStore = (answers: Record<string, unknown>): void => writeFileSync(store, JSON.stringify(answers));
const helperCalls = (): { helper: string; serverURL: string }[] =>
  readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { helper: string; serverURL: string });

const lookup = (registry: string, repository: string, extra: Partial<CredentialsOptions> = {}): Promise<Credential | null> =>
  credentialsFor(registry, repository, { env, home, ...extra });

function basic(c: Credential | null): { username: string; password: string; source: string } {
  expect(c?.kind).toBe('basic');
  if (c?.kind !== 'basic') throw new Error('not basic');
  return { username: c.username, password: c.password, source: c.source };
}

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('--creds and --creds-file', () => {
  it('--creds USER:PASSWORD is used as given (split at the first colon) and wins over auth files', async () => {
    writeJson(runtimeAuth(), { auths: { 'quay.io': { auth: b64('fileuser:filepass') } } });
    expect(basic(await lookup('quay.io', 'ns/app', { creds: `alice:${PASSWORD}:x` }))).toEqual({ username: 'alice', password: `${PASSWORD}:x`, source: '--creds' });
  });

  it.each(['alice', `:${PASSWORD}`, ''])('--creds %j is a usage error that does not echo it', async (v) => {
    const e = await failure(lookup('quay.io', 'ns/app', { creds: v }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toBe('--creds takes USER:PASSWORD');
  });

  it('--creds-file reads USER:PASSWORD from the first line', async () => {
    const f = join(root, 'creds.txt');
    writeFileSync(f, `bob:${PASSWORD}\r\nignored:line\n`);
    expect(basic(await lookup('quay.io', 'ns/app', { credsFile: f }))).toEqual({ username: 'bob', password: PASSWORD, source: f });
  });

  it('a missing --creds-file is a usage error naming it; a bad first line too, without its content', async () => {
    const missing = join(root, 'nope.txt');
    const e = await failure(lookup('quay.io', 'ns/app', { credsFile: missing }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toContain(missing);
    const bad = join(root, 'bad.txt');
    writeFileSync(bad, `${PASSWORD}\n`);
    const e2 = await failure(lookup('quay.io', 'ns/app', { credsFile: bad }));
    expect(e2).toBeInstanceOf(UsageError);
    expect(e2.message).toContain(bad);
    expect(e2.message).not.toContain(PASSWORD);
  });
});

describe('auth files', () => {
  it('searches the files in the containers-auth.json order', async () => {
    expect(authFilePaths({ env, home }).map((p) => p.path)).toEqual([
      runtimeAuth(),
      configAuth(),
      dockerConfig(),
      join(home, '.dockercfg'),
    ]);
    expect(authFilePaths({ env: { ...env, XDG_CONFIG_HOME: join(root, 'xdg'), DOCKER_CONFIG: join(root, 'dc') }, home }).map((p) => p.path)).toEqual([
      runtimeAuth(),
      join(root, 'xdg', 'containers', 'auth.json'),
      join(root, 'dc', 'config.json'),
      join(home, '.dockercfg'),
    ]);
    expect(authFilePaths({ env: { ...env, REGISTRY_AUTH_FILE: '/x/auth.json' }, home }).map((p) => p.path)).toEqual(['/x/auth.json']);
  });

  it('the first file with an entry wins: runtime dir, then ~/.config, then ~/.docker, then ~/.dockercfg', async () => {
    writeJson(join(home, '.dockercfg'), { 'https://quay.io/v1/': { auth: b64('legacy:p0') } });
    expect(basic(await lookup('quay.io', 'ns/app')).username).toBe('legacy');
    writeJson(dockerConfig(), { auths: { 'quay.io': { auth: b64('docker:p1') } } });
    expect(basic(await lookup('quay.io', 'ns/app'))).toEqual({ username: 'docker', password: 'p1', source: dockerConfig() });
    writeJson(configAuth(), { auths: { 'quay.io': { auth: b64('config:p2') } } });
    expect(basic(await lookup('quay.io', 'ns/app')).username).toBe('config');
    writeJson(runtimeAuth(), { auths: { 'quay.io': { auth: b64('runtime:p3') } } });
    expect(basic(await lookup('quay.io', 'ns/app'))).toEqual({ username: 'runtime', password: 'p3', source: runtimeAuth() });
  });

  it('$DOCKER_CONFIG/config.json replaces ~/.docker/config.json', async () => {
    writeJson(dockerConfig(), { auths: { 'quay.io': { auth: b64('home:p') } } });
    const dc = join(root, 'dockercfgdir');
    writeJson(join(dc, 'config.json'), { auths: { 'quay.io': { auth: b64('dockerconfig:p') } } });
    expect(basic(await lookup('quay.io', 'ns/app', { env: { ...env, DOCKER_CONFIG: dc } })).username).toBe('dockerconfig');
  });

  it('REGISTRY_AUTH_FILE wins over the docker config, and is then the only file read', async () => {
    writeJson(dockerConfig(), { auths: { 'quay.io': { auth: b64('docker:p') }, 'ghcr.io': { auth: b64('gh:p') } } });
    const f = writeJson(join(root, 'explicit.json'), { auths: { 'quay.io': { auth: b64('explicit:p') } } });
    const e = { ...env, REGISTRY_AUTH_FILE: f };
    expect(basic(await lookup('quay.io', 'ns/app', { env: e }))).toEqual({ username: 'explicit', password: 'p', source: f });
    expect(await lookup('ghcr.io', 'o/app', { env: e })).toBeNull();
    const missing = join(root, 'missing.json');
    const err = await failure(lookup('quay.io', 'ns/app', { env: { ...env, REGISTRY_AUTH_FILE: missing } }));
    expect(err).toBeInstanceOf(CredentialError);
    expect(err.message).toContain(missing);
  });

  it('the most specific key wins: host/ns/repo, then host/ns, then host', async () => {
    writeJson(runtimeAuth(), {
      auths: {
        'reg.example:5000': { auth: b64('host:p') },
        'reg.example:5000/team': { auth: b64('team:p') },
        'reg.example:5000/team/app': { auth: b64('app:p') },
      },
    });
    expect(basic(await lookup('reg.example:5000', 'team/app')).username).toBe('app');
    expect(basic(await lookup('reg.example:5000', 'team/other')).username).toBe('team');
    expect(basic(await lookup('reg.example:5000', 'solo/app')).username).toBe('host');
    expect(basic(await lookup('reg.example:5000', 'team/app/sub')).username).toBe('app');
    expect(await lookup('reg.example', 'team/app')).toBeNull(); // another port is another registry
  });

  it('a repo-scoped key in a later file loses to a host key in an earlier file (files first, then keys)', async () => {
    writeJson(runtimeAuth(), { auths: { 'quay.io': { auth: b64('early-host:p') } } });
    writeJson(dockerConfig(), { auths: { 'quay.io/ns/app': { auth: b64('late-repo:p') } } });
    expect(basic(await lookup('quay.io', 'ns/app')).username).toBe('early-host');
  });

  it('keys written as URLs match their host', async () => {
    writeJson(dockerConfig(), {
      auths: {
        'https://secure.example': { auth: b64('s:p') },
        'http://plain.example:8080/v2/': { auth: b64('h:p') },
        'plain.example:8080/v2': { auth: b64('not-a-url:p') },
      },
    });
    expect(basic(await lookup('secure.example', 'a/b')).username).toBe('s');
    expect(basic(await lookup('plain.example:8080', 'a/b')).username).toBe('h');
  });

  it('username/password entries and identity tokens', async () => {
    writeJson(runtimeAuth(), {
      auths: {
        'a.example': { username: 'carol', password: PASSWORD },
        'b.example': { identitytoken: 'refresh-tok' },
        'c.example': { auth: b64('dave:p'), identitytoken: 'refresh-tok-2' },
      },
    });
    expect(basic(await lookup('a.example', 'x/y'))).toEqual({ username: 'carol', password: PASSWORD, source: runtimeAuth() });
    const b = await lookup('b.example', 'x/y');
    expect(b?.kind === 'token' && b.identityToken).toBe('refresh-tok');
    const c = await lookup('c.example', 'x/y');
    expect(c?.kind === 'token' && c.identityToken).toBe('refresh-tok-2');
  });

  it('an empty entry ({} as docker login writes) counts as absent', async () => {
    writeJson(runtimeAuth(), { auths: { 'quay.io/ns': {}, 'quay.io': { auth: b64('host:p') } } });
    writeJson(dockerConfig(), { auths: { 'ghcr.io': {} } });
    expect(basic(await lookup('quay.io', 'ns/app')).username).toBe('host');
    expect(await lookup('ghcr.io', 'o/app')).toBeNull();
  });

  it('nothing found: null (anonymous)', async () => {
    expect(await lookup('quay.io', 'ns/app')).toBeNull();
    writeJson(runtimeAuth(), { auths: { 'ghcr.io': { auth: b64('x:y') } } });
    expect(await lookup('quay.io', 'ns/app')).toBeNull();
  });
});

describe('Docker Hub', () => {
  it.each(['docker.io', 'index.docker.io', 'registry-1.docker.io'])('%s finds the https://index.docker.io/v1/ key', async (registry) => {
    writeJson(dockerConfig(), { auths: { 'https://index.docker.io/v1/': { auth: b64('hubuser:p') } } });
    expect(basic(await lookup(registry, 'library/ubuntu')).username).toBe('hubuser');
  });

  it.each(['docker.io', 'index.docker.io', 'registry-1.docker.io'])('%s finds the docker.io key and docker.io/REPO keys first', async (registry) => {
    writeJson(runtimeAuth(), { auths: { 'docker.io': { auth: b64('hub:p') }, 'docker.io/library/ubuntu': { auth: b64('ubuntu:p') } } });
    expect(basic(await lookup(registry, 'library/ubuntu')).username).toBe('ubuntu');
    expect(basic(await lookup(registry, 'library/debian')).username).toBe('hub');
  });
});

describe('credential helpers', () => {
  it('credHelpers[host] runs docker-credential-NAME get with the server URL on stdin', async () => {
    helperStore({ 'quay.io': { Username: 'helperuser', Secret: PASSWORD } });
    writeJson(dockerConfig(), { credHelpers: { 'quay.io': 'cstest' } });
    expect(basic(await lookup('quay.io', 'ns/app'))).toEqual({ username: 'helperuser', password: PASSWORD, source: 'docker-credential-cstest' });
    expect(helperCalls()).toEqual([{ helper: join(bin, 'helper.cjs'), serverURL: 'quay.io' }]);
  });

  it('credHelpers beats auths in the same file; Username <token> means an identity token', async () => {
    helperStore({ 'quay.io': { Username: '<token>', Secret: 'id-token-from-helper' } });
    writeJson(runtimeAuth(), { auths: { 'quay.io/ns/app': { auth: b64('file:p') } }, credHelpers: { 'quay.io': 'cstest' } });
    const c = await lookup('quay.io', 'ns/app');
    expect(c?.kind).toBe('token');
    expect(c?.kind === 'token' && c.identityToken).toBe('id-token-from-helper');
    expect(c?.source).toBe('docker-credential-cstest');
  });

  it('a helper that has nothing ("credentials not found in native keychain") moves on to the next file, then null', async () => {
    writeJson(runtimeAuth(), { credHelpers: { 'quay.io': 'cstest' } });
    expect(await lookup('quay.io', 'ns/app')).toBeNull();
    writeJson(dockerConfig(), { auths: { 'quay.io': { auth: b64('next:p') } } });
    expect(basic(await lookup('quay.io', 'ns/app')).username).toBe('next');
    expect(helperCalls()).toHaveLength(2);
  });

  it('credsStore answers for hosts with no entry; Docker Hub is asked as https://index.docker.io/v1/', async () => {
    helperStore({ 'https://index.docker.io/v1/': { Username: 'hubstore', Secret: PASSWORD }, 'ghcr.io': { Username: 'ghstore', Secret: 'p' } });
    writeJson(dockerConfig(), { auths: { 'https://index.docker.io/v1/': {}, 'quay.io': { auth: b64('fromauths:p') } }, credsStore: 'cstest2' });
    expect(basic(await lookup('registry-1.docker.io', 'library/ubuntu'))).toEqual({ username: 'hubstore', password: PASSWORD, source: 'docker-credential-cstest2' });
    expect(basic(await lookup('ghcr.io', 'o/app')).username).toBe('ghstore');
    expect(basic(await lookup('quay.io', 'ns/app')).username).toBe('fromauths');
    expect(await lookup('other.example', 'a/b')).toBeNull();
    expect(helperCalls().map((c) => c.serverURL)).toEqual(['https://index.docker.io/v1/', 'ghcr.io', 'other.example']);
  });

  it('credHelpers for Docker Hub may be keyed docker.io or https://index.docker.io/v1/', async () => {
    helperStore({ 'docker.io': { Username: 'a', Secret: 'p' }, 'https://index.docker.io/v1/': { Username: 'b', Secret: 'p' } });
    writeJson(runtimeAuth(), { credHelpers: { 'docker.io': 'cstest' } });
    expect(basic(await lookup('index.docker.io', 'library/ubuntu')).username).toBe('a');
    writeJson(runtimeAuth(), { credHelpers: { 'https://index.docker.io/v1/': 'cstest' } });
    expect(basic(await lookup('docker.io', 'library/ubuntu')).username).toBe('b');
  });

  it('a helper missing from PATH is an exit-2 error naming the helper and the registry', async () => {
    writeJson(dockerConfig(), { credHelpers: { 'quay.io': 'cstest-missing' } });
    const e = await failure(lookup('quay.io', 'ns/app'));
    expect(e).toBeInstanceOf(CredentialError);
    expect(e).toBeInstanceOf(ContainerspecError);
    expect((e as ContainerspecError).exitCode).toBe(2);
    expect(e.message).toContain('docker-credential-cstest-missing');
    expect(e.message).toContain('quay.io');
    expect(e.message).toContain('PATH');
    expect(e.message).toContain(dockerConfig());
  });

  it('a failing helper: the error names it, the registry and its stderr, never its stdout', async () => {
    helperStore({ 'quay.io': 'FAIL', 'ghcr.io': 'GARBAGE' });
    writeJson(dockerConfig(), { credHelpers: { 'quay.io': 'cstest', 'ghcr.io': 'cstest' } });
    const e = await failure(lookup('quay.io', 'ns/app'));
    expect(e).toBeInstanceOf(CredentialError);
    expect(e.message).toMatch(/docker-credential-cstest for quay\.io .*exit status 3: keychain is locked/);
    expect(e.message).not.toContain(PASSWORD);
    const g = await failure(lookup('ghcr.io', 'o/app'));
    expect(g).toBeInstanceOf(CredentialError);
    expect(g.message).toContain('docker-credential-cstest');
    expect(g.message).toContain('ghcr.io');
    expect(g.message).not.toContain(PASSWORD);
  });

  it('a helper that hangs is stopped after the timeout', async () => {
    helperStore({ 'quay.io': 'HANG' });
    writeJson(dockerConfig(), { credHelpers: { 'quay.io': 'cstest' } });
    const started = Date.now();
    const e = await failure(lookup('quay.io', 'ns/app', { helperTimeoutMs: 300 }));
    expect(e).toBeInstanceOf(CredentialError);
    expect(e.message).toContain('did not answer within 0.3 s');
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('malformed auth files', () => {
  const cases: [string, string | object][] = [
    ['bad JSON', `{"auths": {"quay.io": {"auth": "${PASSWORD}" x}}}`],
    ['truncated JSON', `{"auths": {"quay.io": {"password": "${PASSWORD}"`],
    ['auth not base64', { auths: { 'quay.io': { auth: `${PASSWORD}!` } } }],
    ['auth without a colon', { auths: { 'quay.io': { auth: b64(PASSWORD) } } }],
    ['auth with an empty user', { auths: { 'quay.io': { auth: b64(`:${PASSWORD}`) } } }],
    ['auths not an object', { auths: [PASSWORD] }],
    ['an entry not an object', { auths: { 'quay.io': PASSWORD } }],
    ['a password without a user', { auths: { 'quay.io': { password: PASSWORD } } }],
    ['a helper name with a slash', { credHelpers: { 'quay.io': '../../bin/sh' } }],
  ];
  it.each(cases)('%s: an exit-2 FormatError naming the file, without the secret', async (_what, content) => {
    const f = writeJson(runtimeAuth(), content);
    const e = await failure(lookup('quay.io', 'ns/app'));
    expect(e).toBeInstanceOf(FormatError);
    expect((e as FormatError).exitCode).toBe(2);
    expect(e.message).toContain(f);
    expect(e.message).not.toContain(PASSWORD);
    expect(e.message).not.toContain(b64(PASSWORD).slice(0, 12));
    expect(e.message).not.toMatch(/\n/);
  });
});

describe('a credential never shows its secret', () => {
  it('String, template literals, JSON.stringify, util.inspect, console formats, spread and structuredClone hide it', async () => {
    writeJson(runtimeAuth(), { auths: { 'quay.io': { auth: b64(`alice:${PASSWORD}`) }, 'ghcr.io': { identitytoken: PASSWORD } } });
    for (const registry of ['quay.io', 'ghcr.io']) {
      const c = (await lookup(registry, 'ns/app'))!;
      const label = `[credential from ${runtimeAuth()}]`;
      expect(String(c)).toBe(label);
      expect(`${c}`).toBe(label);
      expect(JSON.stringify(c)).toBe(JSON.stringify(label));
      expect(JSON.stringify({ nested: { c } })).not.toContain(PASSWORD);
      expect(inspect(c)).toBe(label);
      expect(inspect({ c }, { depth: 5, showHidden: true })).not.toContain(PASSWORD);
      for (const f of ['%s', '%o', '%O', '%j']) expect(format(f, c)).not.toContain(PASSWORD);
      expect(JSON.stringify({ ...c })).not.toContain(PASSWORD);
      expect(inspect({ ...c })).not.toContain(PASSWORD);
      expect(JSON.stringify(Object.entries(c))).not.toContain(PASSWORD);
      expect(Object.isFrozen(c)).toBe(true);
      // ...yet the client can read it.
      expect(c.kind === 'basic' ? c.password : c.identityToken).toBe(PASSWORD);
    }
  });

  it('--creds credentials too', async () => {
    const c = (await lookup('quay.io', 'ns/app', { creds: `alice:${PASSWORD}` }))!;
    expect(String(c)).toBe('[credential from --creds]');
    expect(inspect(c)).not.toContain(PASSWORD);
    expect(JSON.stringify(c)).not.toContain(PASSWORD);
  });
});
