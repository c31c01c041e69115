/**
 * Pull an image by digest into Charliecloud storage with the real `ch-image pull`, then verify
 * what it kept (verify.ts) and record the unpacked tree's identity (pull-record.ts), so that a
 * later {@link imageInStorage} can say "present". ch-image runs as a child process, never
 * blocking the event loop; its output is handed on line by line and only its tail is kept.
 */
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { CharliecloudError, ImageReferenceError, StorageChangedError, UsageError } from '../errors/index.js';
import { listingDigest, treeListing } from '../image/rootfs.js';
import { formatPlatform, normaliseArch } from '../image/platform.js';
import { recordPull, type PullRecord, type RecordOptions } from './pull-record.js';
import { canonicalName, imagePath, parseChImageName, repositoryOf, storageDir, storageUser } from './storage.js';
import { imageInStorage, verifyDownloadCache } from './verify.js';

/** How to pull. */
export interface PullOptions extends RecordOptions {
  /** The storage directory (`ch-image -s`); default `$CH_IMAGE_STORAGE`, else `/var/tmp/$USER.ch`. */
  storage?: string | undefined;
  /**
   * `ch-image --tls-no-verify`: do not verify the registry's certificate. `$REQUESTS_CA_BUNDLE` and
   * `$CURL_CA_BUNDLE` are removed from ch-image's environment, since Python requests lets them
   * override `verify=False`.
   */
  tlsNoVerify?: boolean | undefined;
  /** A PEM file of the CA certificates to trust for the registry (`$REQUESTS_CA_BUNDLE` for ch-image; it replaces the system roots). */
  caBundle?: string | undefined;
  /** `ch-image --arch` (`arm64`, `arm64/v8`, `amd64`); default: the host's. */
  arch?: string | undefined;
  /** The environment ch-image runs in; default: this process's. PATH gets /usr/bin first, `$USER` is set when missing. */
  env?: NodeJS.ProcessEnv | undefined;
  /** Told each line ch-image prints (progress and messages). */
  onProgress?: ((line: string) => void) | undefined;
  /** Kill ch-image after this many milliseconds; default: no limit. */
  timeoutMs?: number | undefined;
}

/** What a pull left in storage, verified and recorded. */
export interface PullResult {
  /** The Charliecloud name pulled: `REPOSITORY@sha256:…`. */
  name: string;
  digest: string;
  /** The manifest unpacked (the platform manifest when `digest` names an index). */
  manifestDigest: string;
  indexDigest: string | null;
  storage: string;
  imgPath: string;
  treeDigest: string;
  /** The pull record file written. */
  recordPath: string;
  record: PullRecord;
  /** `ch-run --version`, when it answered. */
  charliecloudVersion: string | null;
  /** An unpacked image of that name was there, not vouched for (or changed), and was deleted before the pull. */
  replaced: boolean;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const TAIL_LINES = 200;

/**
 * The environment Charliecloud's tools run in: PATH with /usr/bin first (ch-image must find
 * /usr/bin/python3, not a pyenv or virtualenv python without its modules), `$USER` set (ch-image
 * and ch-run refuse to run without it), and the TLS settings asked for.
 */
export function charliecloudEnv(opts: Pick<PullOptions, 'env' | 'tlsNoVerify' | 'caBundle'> = {}): NodeJS.ProcessEnv {
  const base = opts.env ?? process.env;
  const env: NodeJS.ProcessEnv = { ...base };
  env.PATH = ['/usr/bin', ...(base.PATH ?? '/bin').split(':').filter((p) => p !== '' && p !== '/usr/bin')].join(':');
  env.USER = storageUser(base);
  if (opts.tlsNoVerify && opts.caBundle) throw new UsageError('give a CA bundle or --tls-no-verify for ch-image, not both');
  if (opts.tlsNoVerify) {
    delete env.REQUESTS_CA_BUNDLE;
    delete env.CURL_CA_BUNDLE;
  }
  if (opts.caBundle) env.REQUESTS_CA_BUNDLE = resolve(opts.caBundle);
  return env;
}

/** How a Charliecloud command ended. */
interface Ran {
  status: number | null;
  signal: string | null;
  /** Its last `error:` line, with the `hint:` line after it, or its last line. */
  lastError: string;
}

/** Run a Charliecloud command, its output (both streams) split into lines for `onLine`; only the tail is kept. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, onLine: ((line: string) => void) | undefined, timeoutMs: number | undefined): Promise<Ran> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    let lastError = '';
    let hintNext = false;
    const line = (l: string) => {
      const s = l.trimEnd();
      if (s === '') return;
      tail.push(s);
      if (tail.length > TAIL_LINES) tail.shift();
      if (/^error: /.test(s)) {
        lastError = s;
        hintNext = true;
      } else if (hintNext && /^hint: /.test(s)) {
        lastError += ` (${s})`;
        hintNext = false;
      } else hintNext = false;
      onLine?.(s);
    };
    const splitter = () => {
      let rest = '';
      return {
        data: (c: Buffer) => {
          const parts = (rest + c.toString('utf8')).split(/\r\n|\r|\n/);
          rest = parts.pop() ?? '';
          if (rest.length > 64 * 1024) rest = rest.slice(-64 * 1024);
          parts.forEach(line);
        },
        end: () => {
          if (rest) line(rest);
          rest = '';
        },
      };
    };
    const out = splitter();
    const err = splitter();
    child.stdout.on('data', out.data);
    child.stderr.on('data', err.data);
    const timer = timeoutMs ? setTimeout(() => child.kill('SIGKILL'), timeoutMs) : null;
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
      fail(new CharliecloudError(missing ? `${cmd} not found on PATH (${env.PATH ?? ''}); install Charliecloud` : `cannot run ${cmd}: ${e.message}`, cmd, null, e.message, { cause: e }));
    });
    child.on('close', (status, signal) => {
      if (timer) clearTimeout(timer);
      out.end();
      err.end();
      done({ status, signal, lastError: lastError || (tail[tail.length - 1] ?? '') });
    });
  });
}

/** A failed Charliecloud command as one line. */
function failed(what: string, r: Ran, cmd: string): CharliecloudError {
  const how = r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
  return new CharliecloudError(`${what} failed (${how})${r.lastError ? `: ${r.lastError}` : ''}`, cmd, r.status, r.lastError);
}

/** The Charliecloud version `ch-run --version` prints (`0.31`), or null when ch-run is missing or says nothing. */
export async function charliecloudVersion(opts: Pick<PullOptions, 'env'> = {}): Promise<string | null> {
  let first = '';
  try {
    const r = await run('ch-run', ['--version'], charliecloudEnv({ env: opts.env }), (l) => (first ||= l), 30_000);
    return r.status === 0 && first ? first : null;
  } catch {
    return null;
  }
}

/** The architecture Charliecloud wrote into an unpacked image's `ch/metadata.json`, or null. */
async function unpackedArch(imgPath: string): Promise<string | null> {
  try {
    const m = JSON.parse(await readFile(`${imgPath}/ch/metadata.json`, 'utf8')) as { arch?: unknown };
    return typeof m.arch === 'string' && m.arch !== 'unknown' ? m.arch : null;
  } catch {
    return null;
  }
}

/**
 * Pull `name` (a registry image name: `127.0.0.1:5000/lab/app`; a tag in it is ignored, a digest in
 * it must be `digest`) by `digest` into Charliecloud storage: runs `ch-image pull NAME@DIGEST`,
 * then verifies the kept manifest (and index), config and layers against `digest`, and records
 * the unpacked tree's identity. An unpacked image of that name already there that containerspec
 * cannot vouch for (no record, or changed) is deleted first (`ch-image delete`), since ch-image
 * does not restore a changed image it finds already checked out. Throws CharliecloudError when
 * ch-image fails (its last error line in the message), StorageChangedError when what it kept does
 * not hash to `digest`.
 */
export async function pullByDigest(name: string, digest: string, opts: PullOptions = {}): Promise<PullResult> {
  if (!DIGEST.test(digest)) throw new ImageReferenceError(`${JSON.stringify(digest)} is not a sha256 digest (sha256: and 64 lower-case hex digits)`);
  const n = parseChImageName(name);
  if (n.digest !== null && `sha256:${n.digest.toLowerCase()}` !== digest) throw new ImageReferenceError(`the image name ${name} holds the digest sha256:${n.digest}, not ${digest}`);
  const pullName = canonicalName(`${repositoryOf(name)}@${digest}`);
  const env = charliecloudEnv(opts);
  const storage = storageDir({ storage: opts.storage, env });
  const imgPath = imagePath(storage, pullName);
  const where = { storage, env, dataDir: opts.dataDir };

  let replaced = false;
  if (await stat(imgPath).then((s) => s.isDirectory(), () => false)) {
    const state = await imageInStorage(pullName, digest, where).catch((e: unknown) => {
      if (e instanceof StorageChangedError) return null;
      throw e;
    });
    if (state?.state !== 'present') {
      const r = await run('ch-image', ['delete', '-s', storage, pullName], env, opts.onProgress, opts.timeoutMs);
      if (r.status !== 0) throw failed(`ch-image delete ${pullName}`, r, 'ch-image');
      replaced = true;
    }
  }

  const args = ['pull', '-s', storage, ...(opts.tlsNoVerify ? ['--tls-no-verify'] : []), ...(opts.arch ? ['--arch', opts.arch] : []), pullName];
  const r = await run('ch-image', args, env, opts.onProgress, opts.timeoutMs);
  if (r.status !== 0) throw failed(`ch-image pull ${pullName}`, r, 'ch-image');

  const arch = opts.arch ? normaliseArch(opts.arch.split('/')[0]!) : await unpackedArch(imgPath);
  const kept = await verifyDownloadCache(storage, pullName, digest, { newestFor: arch });
  if ('absent' in kept) throw new CharliecloudError(`ch-image pull ${pullName} succeeded, but ${kept.absent}`, 'ch-image', 0, kept.absent);
  const listing = await treeListing(imgPath);
  const treeDigest = listingDigest(listing);
  const version = await charliecloudVersion({ env });
  const record: PullRecord = {
    name: pullName,
    digest,
    manifestDigest: kept.manifestDigest,
    indexDigest: kept.indexDigest,
    platform: kept.platform ? formatPlatform(kept.platform) : null,
    platforms: kept.platforms,
    configDigest: kept.configDigest,
    layers: kept.layers,
    storage,
    imgPath,
    treeDigest,
    pulledAt: new Date().toISOString(),
    charliecloudVersion: version,
  };
  const recordPath = await recordPull(record, listing, where);
  return { name: pullName, digest, manifestDigest: kept.manifestDigest, indexDigest: kept.indexDigest, storage, imgPath, treeDigest, recordPath, record, charliecloudVersion: version, replaced };
}
