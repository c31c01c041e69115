/**
 * The Consumer (DESIGN.md, "Run-spec provenance"): a run-spec committed to git and recorded in the
 * provenance store with its repository (a tar of the directory holding `.git`), the image it names
 * (in Charliecloud storage, verified by digest, or pulled), and the host's SystemKernel row; and
 * the artifact handler, which moves a stored repository to and from a git remote the user names.
 *
 * Order, so bad input loses nothing: parse and validate, check the image, then commit, then one
 * store transaction for both rows. A remote's URL is used, never stored or printed (remote.ts).
 */
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { hostname, tmpdir, userInfo } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { NotFoundError, UsageError } from '../errors/index.js';
import { archiveRepo, restoreRepo } from './repo-archive.js';
import { checkRemote, redactUrl } from './remote.js';
import { parseRunSpec, readRunSpec } from './parse.js';
import type { RunSpec } from './types.js';
import type { StoreBackend } from '../store/types.js';

/** Options of the Consumer. */
export interface ConsumerOptions {
  /** The store: a SQLite path or postgres:// URL (default `$CONTAINERSPEC_STORE`, else the SQLite default). */
  store?: string | undefined;
  /** Charliecloud storage (default `$CH_IMAGE_STORAGE`, else `/var/tmp/$USER.ch`). */
  storage?: string | undefined;
  /** Pull the image by digest (`ch-image pull NAME@sha256:...`) when it is not in storage. */
  pull?: boolean | undefined;
  /** For the pull: do not verify the registry's certificate / trust these CAs. */
  tlsNoVerify?: boolean | undefined;
  caBundle?: string | undefined;
  /** Told what happens (one line each). */
  onProgress?: ((line: string) => void) | undefined;
}

/** What the Consumer recorded. */
export interface Recorded {
  commit: string;
  /** Whether a new commit was made (false: the file was committed already, HEAD holds it). */
  committed: boolean;
  repo: string;
  runspecPath: string;
  image: { reference: string; digest: string; acquired: 'present' | 'pulled' };
  store: string;
  consumerId: number;
  systemKernelId: number;
}

const say = (o: ConsumerOptions, s: string) => o.onProgress?.(s);

/** `git commit`, with an identity of the user and host when git has none configured (containers often have none). */
async function commitFile(g: SimpleGit, message: string, path: string): Promise<boolean> {
  try {
    return (await g.commit(message, [path])).commit !== '';
  } catch (e) {
    if (!/Please tell me who you are|unable to auto-detect email|empty ident/i.test(String((e as Error).message))) throw e;
    const user = process.env.USER ?? (() => { try { return userInfo().username; } catch { return 'containerspec'; } })();
    return (await g.env({ ...process.env, GIT_AUTHOR_NAME: user, GIT_COMMITTER_NAME: user, GIT_AUTHOR_EMAIL: `${user}@${hostname()}`, GIT_COMMITTER_EMAIL: `${user}@${hostname()}` }).commit(message, [path])).commit !== '';
  }
}

/** What a record needs from this host, started before the git work so the two overlap. */
function hostSide(): Promise<{ facts: import('../model/facts.js').HostFacts; sk: import('../store/system-kernel.js').SystemKernelRow; chVersion: string | null }> {
  return (async () => {
    const [{ collectSystemKernel }, { hostFacts }, { charliecloudVersion }] = await Promise.all([import('../store/system-kernel.js'), import('../host/facts.js'), import('../charliecloud/pull.js')]);
    const [facts, chVersion] = await Promise.all([hostFacts(), charliecloudVersion()]);
    return { facts, sk: await collectSystemKernel({ hostFacts: facts }), chVersion };
  })();
}

/** Make sure the image of line 1 is in Charliecloud storage by digest, or pull it. */
async function acquireImage(spec: RunSpec, o: ConsumerOptions): Promise<'present' | 'pulled'> {
  const { imageInStorage } = await import('../charliecloud/verify.js');
  const name = `${spec.from.name}@${spec.from.digest}`;
  const state = await imageInStorage(name, spec.from.digest, { storage: o.storage });
  if (state.state === 'present') return 'present';
  if (!o.pull) {
    const why = /^no image /.test(state.why) ? '' : ` (${state.why})`;
    throw new NotFoundError(`${spec.file}:${spec.from.line}: image ${name} is not in Charliecloud storage ${state.storage}${why}; add --pull to pull it by digest`, state.storage);
  }
  say(o, `pulling ${name} into ${state.storage}`);
  const { pullByDigest } = await import('../charliecloud/pull.js');
  await pullByDigest(spec.from.name, spec.from.digest, { storage: o.storage, tlsNoVerify: o.tlsNoVerify, caBundle: o.caBundle, onProgress: o.onProgress });
  return 'pulled';
}

/** Record a repository at `commit` in the store: SystemKernel and Consumer rows, one transaction. */
async function record(repo: string, commit: string, committed: boolean, runspecPath: string, spec: RunSpec, acquired: 'present' | 'pulled', o: ConsumerOptions, host = hostSide()): Promise<Recorded> {
  const { openStore } = await import('../store/open.js');
  const [archive, { facts, sk, chVersion }, store] = await Promise.all([archiveRepo(repo), host, openStore(o.store)]);
  try {
    await store.init();
    const ids = await store.transaction(async (tx) => {
      const systemKernelId = await tx.append('SystemKernel', sk);
      const consumerId = await tx.append('Consumer', {
        commit_hash: commit,
        image_reference: spec.from.reference,
        image_digest: spec.from.digest,
        runspec_path: runspecPath,
        container_run_commands: archive.tar,
        container_run_commands_sha256: archive.sha256,
        system_kernel_id: systemKernelId,
        host_name: hostname(),
        charliecloud_version: chVersion,
        image_acquired: acquired,
        host_facts: facts,
      });
      return { systemKernelId, consumerId };
    });
    return { commit, committed, repo, runspecPath, image: { reference: spec.from.reference, digest: spec.from.digest, acquired }, store: store.location, ...ids };
  } finally {
    await store.close();
  }
}

async function isRepoRoot(dir: string): Promise<boolean> {
  return (await stat(join(dir, '.git')).catch(() => null)) !== null;
}

/**
 * `runspec commit FILE [--repo DIR] [-m MSG]`: validate the run-spec, check its image, commit it into
 * DIR (default: the file's directory; a new repository when it is none), and record it.
 */
export async function commitRunSpec(file: string, opts: ConsumerOptions & { repo?: string | undefined; message?: string | undefined } = {}): Promise<Recorded> {
  const spec = await readRunSpec(file);
  const repo = resolve(opts.repo ?? dirname(file));
  const st = await stat(repo).catch(() => null);
  if (opts.repo !== undefined && st && !st.isDirectory()) throw new UsageError(`--repo ${opts.repo}: not a directory`);
  const acquired = await acquireImage(spec, opts);
  // Started once the image is known good, so this host's facts are read (on this thread) while git
  // works (in its own processes); started earlier, the reading only delayed the image check.
  const host = hostSide();
  host.catch(() => {}); // awaited in record(); a git failure is reported first
  void import('../store/open.js').then((m) => m.preloadStore(opts.store), () => {});
  const target = opts.repo !== undefined && relative(repo, resolve(file)).startsWith('..') ? join(repo, basename(file)) : resolve(file);
  if (!(await isRepoRoot(repo))) {
    say(opts, `new git repository in ${repo}`);
    await mkdir(repo, { recursive: true });
    await simpleGit(repo).raw(['init', '-q', '-b', 'main']);
  }
  if (target !== resolve(file)) await copyFile(file, target);
  const g = simpleGit(repo);
  const runspecPath = relative(repo, target).split('\\').join('/');
  await g.add([runspecPath]);
  const committed = await commitFile(g, opts.message ?? `runspec: ${runspecPath}`, runspecPath);
  const commit = (await g.revparse(['HEAD'])).trim();
  say(opts, committed ? `committed ${runspecPath} as ${commit.slice(0, 12)}` : `${runspecPath} is unchanged at ${commit.slice(0, 12)}`);
  return record(repo, commit, committed, runspecPath, spec, acquired, opts, host);
}

/** The run-spec file of a repository: `file` when given, else the one `*.runspec` (or `runspec`, `Runspec`) at its top. */
async function findRunSpec(repo: string, file: string | undefined): Promise<string> {
  if (file !== undefined) {
    if (!(await stat(join(repo, file)).catch(() => null))?.isFile()) throw new NotFoundError(`--file ${file}: no such file in the repository`, file);
    return file;
  }
  const names = (await readdir(repo)).filter((n) => /\.runspec$/.test(n) || n === 'runspec' || n === 'Runspec');
  if (names.length === 1) return names[0]!;
  throw new UsageError(names.length === 0 ? 'the repository has no *.runspec file at its top; name it with --file PATH' : `the repository has several run-specs (${names.join(', ')}); name one with --file PATH`);
}

/** A failed `git clone|push` of a remote: git's last line, with the remote's user part hidden wherever it shows. */
function gitFailure(what: 'clone' | 'push', url: string, e: unknown): UsageError {
  const last = String((e as Error).message).split('\n').filter(Boolean).at(-1) ?? 'failed';
  return new UsageError(`git ${what} ${redactUrl(url)}: ${redactUrl(last)}`);
}

/** Clone a remote into `dir` at `ref`, with no trace of the URL left in it. */
async function cloneClean(url: string, dir: string, ref: string | undefined): Promise<void> {
  const g = simpleGit();
  try {
    await g.clone(url, dir, ['--quiet']);
  } catch (e) {
    throw gitFailure('clone', url, e);
  }
  const r = simpleGit(dir);
  const unborn = (await r.raw(['rev-parse', '--verify', '-q', 'HEAD']).catch(() => '')).trim() === '';
  if (ref === undefined && unborn) {
    // The remote's HEAD names a branch it lacks (a bare repository made with another default): take its only branch, or main.
    const branches = (await r.raw(['branch', '-r', '--format=%(refname:lstrip=3)'])).split('\n').map((b) => b.trim()).filter((b) => b && b !== 'HEAD');
    const pick = branches.length === 1 ? branches[0] : branches.find((b) => b === 'main') ?? branches.find((b) => b === 'master');
    if (!pick) throw new UsageError(`${redactUrl(url)} has ${branches.length ? `several branches (${branches.join(', ')}) and its HEAD names none of them; give --ref` : 'no commits'}`);
    await r.checkout(['--quiet', '-b', pick, `origin/${pick}`]);
  }
  if (ref !== undefined) {
    try {
      await r.checkout(['--quiet', ref]);
    } catch {
      throw new UsageError(`--ref ${ref}: no such branch, tag or commit in ${redactUrl(url)}`);
    }
  }
  await r.removeRemote('origin');
}

/**
 * `runspec clone URL [--ref REF] [--dir DIR]`: start from a remote: clone it into DIR (default: the
 * repository's name), check out REF, and record its run-spec at that commit.
 */
export async function cloneRunSpec(url: string, opts: ConsumerOptions & { ref?: string | undefined; dir?: string | undefined; file?: string | undefined } = {}): Promise<Recorded> {
  checkRemote(url);
  const dir = resolve(opts.dir ?? basename(url.replace(/\/+$/, '')).replace(/\.git$/, ''));
  if ((await readdir(dir).catch(() => [])).length) throw new UsageError(`${dir} exists and is not empty; give --dir`);
  await cloneClean(url, dir, opts.ref);
  return recordCheckout(dir, opts);
}

/** Record what a clean checkout holds at HEAD. */
async function recordCheckout(dir: string, opts: ConsumerOptions & { file?: string | undefined }): Promise<Recorded> {
  const path = await findRunSpec(dir, opts.file);
  const spec = parseRunSpec(await readFile(join(dir, path), 'utf8'), path);
  const acquired = await acquireImage(spec, opts);
  const commit = (await simpleGit(dir).revparse(['HEAD'])).trim();
  return record(dir, commit, false, path, spec, acquired, opts);
}

/**
 * `runspec pull --remote URL [--commit C]`: bring a remote's work into the store: the remote's HEAD
 * (or commit C), recorded as a new Consumer row; nothing is left on disk.
 */
export async function pullRunSpec(url: string, opts: ConsumerOptions & { commit?: string | undefined; file?: string | undefined } = {}): Promise<Recorded> {
  checkRemote(url);
  const tmp = await mkdtemp(join(tmpdir(), 'containerspec-pull-'));
  try {
    const dir = join(tmp, 'repo');
    await cloneClean(url, dir, opts.commit);
    return await recordCheckout(dir, opts);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** A stored repository: the newest Consumer row of `commit` (a prefix of 7+ hex is enough), or the newest of all. */
export async function storedRun(storeSpec: string | undefined, commit: string | undefined): Promise<StoredRun> {
  const { openStore } = await import('../store/open.js');
  const store = await openStore(storeSpec, { create: false });
  try {
    return await storedRunIn(store, commit);
  } finally {
    await store.close();
  }
}

/** What {@link storedRun} finds. */
export interface StoredRun {
  row: Record<string, unknown>;
  archive: Buffer;
  sha256: string | null;
  location: string;
}

/** {@link storedRun} in a store the caller has open (and closes). */
export async function storedRunIn(store: StoreBackend, commit: string | undefined): Promise<StoredRun> {
  if (commit !== undefined && !/^[0-9a-f]{7,64}$/i.test(commit)) throw new UsageError(`--commit ${commit}: not a commit hash (7 to 64 hex digits)`);
  // Find the row from the commit column alone; then read that one row, repository included.
  const index = await store.rows('Consumer', {}, { columns: ['commit_hash'] });
  const hit = index.filter((r) => commit === undefined || String(r.commit_hash).startsWith(commit.toLowerCase())).at(-1);
  const row = hit ? (await store.rows('Consumer', { id: hit.id }))[0] : undefined;
  if (!row) throw new NotFoundError(commit === undefined ? `the store ${store.location} holds no run-spec yet` : `commit ${commit} is not in the store ${store.location}`, commit ?? store.location);
  const archive = row.container_run_commands;
  if (!Buffer.isBuffer(archive)) throw new NotFoundError(`Consumer row ${row.id} of ${store.location} holds no repository`, store.location);
  const sha = row.container_run_commands_sha256;
  return { row, archive, sha256: typeof sha === 'string' ? sha : null, location: store.location };
}

/** Restore a stored repository into a new temp dir (verified); the caller removes `tmp`. */
export async function restoreStored(storeSpec: string | undefined, commit: string | undefined): Promise<{ dir: string; tmp: string; row: Record<string, unknown> }> {
  const s = await storedRun(storeSpec, commit);
  const tmp = await mkdtemp(join(tmpdir(), 'containerspec-repo-'));
  const dir = join(tmp, 'repo');
  try {
    await restoreRepo(s.archive, s.sha256, dir, `commit ${String(s.row.commit_hash).slice(0, 12)} in ${s.location}`);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return { dir, tmp, row: s.row };
}

/** `runspec push --remote URL [--commit C]`: push the stored repository's branches and tags to the remote. */
export async function pushRunSpec(url: string, opts: { store?: string | undefined; commit?: string | undefined } = {}): Promise<{ commit: string; remote: string; branches: string[] }> {
  checkRemote(url);
  const { dir, tmp, row } = await restoreStored(opts.store, opts.commit);
  try {
    const g = simpleGit(dir);
    const branches = (await g.branchLocal()).all;
    try {
      await g.raw(['push', '--quiet', url, ...branches.map((b) => `refs/heads/${b}:refs/heads/${b}`)]);
      await g.raw(['push', '--quiet', '--tags', url]);
    } catch (e) {
      throw gitFailure('push', url, e);
    }
    return { commit: String(row.commit_hash), remote: redactUrl(url), branches };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
