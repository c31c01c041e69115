/**
 * The flags every image-reading command shares: how registries are reached (credentials, TLS,
 * timeouts), the layer-facts cache, progress; and their conversion into library options.
 */
import { CommanderError, Option, type Command } from 'commander';
import type { FactsCache } from '../cache/facts-cache.js';
import type { ImageAccess } from '../orchestrate.js';
import type { RegistryOptions } from '../registry/client.js';
import { progress, type Progress } from './progress.js';

/** The parsed shared flags. */
export interface AccessFlags {
  creds?: string;
  credsFile?: string;
  caFile?: string;
  tlsVerify?: boolean;
  plainHttp?: boolean;
  timeout?: number;
  cacheDir?: string;
  cache?: boolean;
  storage?: string;
  attached?: boolean;
  quiet?: boolean;
}

/** `--tls-verify true|false` (also 1/0, yes/no); anything else is a usage error. */
export function parseBool(v: string): boolean {
  if (/^(true|1|yes)$/i.test(v)) return true;
  if (/^(false|0|no)$/i.test(v)) return false;
  throw new CommanderError(2, 'containerspec.badBool', `--tls-verify takes true or false, not ${JSON.stringify(v)}`);
}

function parseSeconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new CommanderError(2, 'containerspec.badNumber', `--timeout takes a number of seconds > 0, not ${JSON.stringify(v)}`);
  return n;
}

/** Add the registry, cache and progress flags to a command (`attached`: also --no-attached). */
export function addAccessOptions(cmd: Command, opts: { attached?: boolean } = {}): Command {
  cmd
    .option('--creds <user:password>', 'registry credentials (prefer --creds-file or an auth file: a command line is visible to other users)')
    .option('--creds-file <file>', 'a file whose first line is USER:PASSWORD')
    .option('--ca-file <file>', 'PEM CA certificates to trust for registries (also read: /etc/containers/certs.d/HOST/, /etc/docker/certs.d/HOST/)')
    .addOption(new Option('--tls-verify <bool>', 'verify registry certificates (--tls-verify=false for a lab registry)').argParser(parseBool))
    .option('--plain-http', 'talk plain HTTP to the registry (never the default)')
    .addOption(new Option('--timeout <seconds>', 'registry connect and idle timeout (default 30)').argParser(parseSeconds))
    .option('--cache-dir <dir>', 'layer-facts cache directory (default $XDG_CACHE_HOME/containerspec)')
    .option('--no-cache', 'read every layer, use and keep no cached facts')
    .option('--storage <dir>', 'Charliecloud storage for ch-image: references (default $CH_IMAGE_STORAGE, else /var/tmp/$USER.ch)')
    .option('-q, --quiet', 'no progress on stderr (there is none on a pipe anyway)');
  if (opts.attached) cmd.option('--no-attached', 'read the layers even when facts are attached to the image in its registry');
  return cmd;
}

/** The registry options of the flags. */
export function registryOptions(o: AccessFlags, p: Progress): RegistryOptions {
  const r: RegistryOptions = {};
  if (o.creds !== undefined) r.creds = o.creds;
  if (o.credsFile !== undefined) r.credsFile = o.credsFile;
  if (o.caFile !== undefined) r.caFile = o.caFile;
  if (o.tlsVerify !== undefined) r.tlsVerify = o.tlsVerify;
  if (o.plainHttp) r.plainHttp = true;
  if (o.timeout !== undefined) r.timeoutMs = Math.round(o.timeout * 1000);
  r.onRetry = (what, waitMs) => p.note(`retrying ${what}${waitMs ? ` in ${(waitMs / 1000).toFixed(1)} s` : ''}`);
  return r;
}

/** The cache the flags ask for: none with --no-cache (or CONTAINERSPEC_NO_CACHE=1), else --cache-dir or the default. */
export async function cacheOf(o: AccessFlags, p: Progress): Promise<FactsCache | null> {
  if (o.cache === false || process.env.CONTAINERSPEC_NO_CACHE === '1') return null;
  const { openCache } = await import('../cache/facts-cache.js');
  return openCache({ ...(o.cacheDir !== undefined ? { dir: o.cacheDir, explicit: true } : {}), onWarning: (m) => p.note(`containerspec: ${m}`) });
}

/** Library options and the progress display for a command's flags. */
export async function accessOf(o: AccessFlags): Promise<{ access: ImageAccess; progress: Progress }> {
  const p = progress(o.quiet);
  const access: ImageAccess = { registry: registryOptions(o, p) };
  const cache = await cacheOf(o, p);
  if (cache) access.cache = cache;
  if (p.on) access.onProgress = p.on;
  if (o.attached !== undefined) access.attached = o.attached;
  if (o.storage !== undefined) access.chStorage = o.storage;
  return { access, progress: p };
}
