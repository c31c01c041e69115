/**
 * What the commands do, as library functions (the CLI only parses and prints): read host facts from
 * files or this host, inspect images (or read image facts files), expand a multi-platform index to
 * the platforms the hosts need, and produce the report or the matrix.
 */
import { basename } from 'node:path';
import { loadArchspec, type Archspec } from './arch/index.js';
import { check, type CheckOptions } from './check/check.js';
import { matchFacts, type MatchResult } from './check/match.js';
import { normaliseArch, platformMatches, parsePlatform } from './image/platform.js';
import { imagePlatforms } from './image/open.js';
import type { HostOptions } from './host/facts.js';
import { inspect, registriesFor, type InspectOptions } from './inspect.js';
import type { HostFacts, ImageFacts } from './model/facts.js';
import { readHostFacts, readImageFacts } from './model/files.js';
import type { Report } from './model/report.js';

/** A host given to the library: facts, or the path of a facts file (`containerspec host --json`). */
export type HostInput = HostFacts | string;
/** An image given to the library: facts, the path of a facts file (`*.json`), or an image reference. */
export type ImageInput = ImageFacts | string;

/** Is this argument a facts file rather than an image reference? (`*.json` with no transport prefix.) */
export function isFactsFile(arg: string): boolean {
  return /\.json$/.test(arg) && !/^[a-z][a-z0-9-]*:/.test(arg);
}

/** Host facts from facts, a facts file, or (when nothing is given) this host. */
export async function loadHost(input?: HostInput, opts: HostOptions = {}): Promise<HostFacts> {
  // This host's probes (and the extractors they share with images) load only when they are used.
  if (input === undefined) return (await import('./host/facts.js')).hostFacts(opts);
  return typeof input === 'string' ? readHostFacts(input) : input;
}

/**
 * Names for the matrix: each host's own name, or its facts file's name (`node01` for
 * `nodes/node01.json`) when it has none; a name several hosts share is told apart by their file
 * names (`vm (a.json)`), and whatever still repeats gets `#2`, `#3` (see uniqueNames).
 */
export function hostNamesOf(inputs: readonly HostInput[], facts: readonly HostFacts[]): string[] {
  const fileOf = (i: number) => (typeof inputs[i] === 'string' ? basename(inputs[i] as string) : null);
  const names = facts.map((h, i) => h.name.trim() || fileOf(i)?.replace(/\.json$/i, '') || '');
  const count = new Map<string, number>();
  for (const n of names) count.set(n, (count.get(n) ?? 0) + 1);
  return names.map((n, i) => (count.get(n)! > 1 && fileOf(i) ? `${n || 'host'} (${fileOf(i)})` : n));
}

/** Image facts from facts, a facts file, or an image reference (inspected). */
export async function loadImage(input: ImageInput, opts: InspectOptions = {}): Promise<ImageFacts> {
  if (typeof input !== 'string') return input;
  return isFactsFile(input) ? readImageFacts(input) : inspect(input, opts);
}

/**
 * How images are reached and read, for check and match: registry settings, the layer-facts cache,
 * whether facts attached in the registry may stand in for reading the layers, progress.
 */
export type ImageAccess = Pick<InspectOptions, 'registry' | 'registries' | 'cache' | 'attached' | 'onProgress' | 'chStorage'>;

/** Options for {@link checkImage}. */
export interface CheckImageOptions extends Omit<CheckOptions, 'history'>, ImageAccess {
  /** The host: facts, a facts file; default this host. */
  host?: HostInput | undefined;
  /** Host facts (or files) of earlier successful runs, oldest first. */
  history?: HostInput[];
  /** `os/arch[/variant]` to pick from a multi-platform index; default: the checked host's platform (after `--set arch`). */
  platform?: string | undefined;
  /** Layers streamed at once. */
  parallel?: number | undefined;
  /** Where this host's library scan is kept between runs, or false for none (hostFacts `cache`; used only when `host` is absent). */
  hostCache?: string | false | undefined;
}

/**
 * `can-i-run`: inspect an image (or read its facts) and check it against a host (a facts file, or
 * this host). A multi-platform index is resolved to the checked host's platform unless `platform`
 * names one.
 */
export async function checkImage(image: ImageInput, opts: CheckImageOptions = {}): Promise<Report> {
  const host = await loadHost(opts.host, opts.hostCache !== undefined ? { cache: opts.hostCache } : {});
  const history = await Promise.all((opts.history ?? []).map((h) => loadHost(h)));
  const setArch = opts.set?.arch ? normaliseArch(opts.set.arch) : null;
  const arch = setArch ?? host.platform.architecture;
  const platform = opts.platform ?? (arch ? `linux/${arch}` : undefined);
  const facts = await loadImage(image, { ...imageAccessOf(opts), platform, explicitPlatform: Boolean(opts.platform), parallel: opts.parallel });
  const checkOpts: CheckOptions = { history };
  if (opts.set) checkOpts.set = opts.set;
  if (opts.bind) checkOpts.bind = opts.bind;
  if (opts.archspec) checkOpts.archspec = opts.archspec;
  if (opts.charliecloud !== undefined) checkOpts.charliecloud = opts.charliecloud;
  return check(facts, host, checkOpts);
}

/** The image-access part of a set of options (so that it can be handed on as is). */
export function imageAccessOf(opts: ImageAccess): ImageAccess {
  const a: ImageAccess = {};
  if (opts.registry) a.registry = opts.registry;
  if (opts.registries) a.registries = opts.registries;
  if (opts.cache) a.cache = opts.cache;
  if (opts.attached !== undefined) a.attached = opts.attached;
  if (opts.onProgress) a.onProgress = opts.onProgress;
  if (opts.chStorage) a.chStorage = opts.chStorage;
  return a;
}

/**
 * The platforms of an index worth inspecting for these hosts: every platform some host runs natively;
 * for a host with none, the first one it can emulate; and when no host can run any, the first
 * platform, so the matrix still says why.
 */
export function platformsFor(present: readonly string[], hosts: readonly HostFacts[]): string[] {
  const parsed = present.map((p) => ({ p, plat: parsePlatform(p) }));
  const want = new Set<string>();
  for (const h of hosts) {
    const arch = h.platform.architecture;
    if (!arch) continue;
    const native = parsed.filter(({ plat }) => platformMatches(plat, { os: 'linux', architecture: arch }));
    if (native.length) {
      for (const n of native) want.add(n.p);
      continue;
    }
    const emulated = parsed.find(({ plat }) => h.emulators.some((e) => e.architecture === plat.architecture));
    if (emulated) want.add(emulated.p);
  }
  if (want.size === 0 && present[0] !== undefined) want.add(present[0]);
  return present.filter((p) => want.has(p));
}

/**
 * An image for matching: its facts, or for a multi-platform index the facts of each platform the
 * hosts need (each platform inspected once, whatever the number of hosts).
 */
export async function loadImageVariants(input: ImageInput, hosts: readonly HostFacts[], opts: InspectOptions = {}): Promise<ImageFacts | ImageFacts[]> {
  if (typeof input !== 'string' || isFactsFile(input)) return loadImage(input, opts);
  const present = await imagePlatforms(input, { registry: opts.registry, registries: opts.registries, blobCache: opts.cache ?? null, chStorage: opts.chStorage });
  if (!present || present.length === 0) return inspect(input, { ...opts, explicitPlatform: false });
  const variants: ImageFacts[] = [];
  for (const p of platformsFor(present, hosts)) variants.push(await inspect(input, { ...opts, platform: p, explicitPlatform: true }));
  return variants.length === 1 ? variants[0]! : variants;
}

/** Options for {@link match}. */
export interface MatchOptions extends ImageAccess {
  archspec?: Archspec;
  /** `--set` overrides applied to every host (what-ifs at scale). */
  set?: Record<string, string>;
  /** Called after each image is loaded (progress). */
  onImage?: (input: ImageInput, index: number, total: number) => void;
}

/**
 * The compatibility matrix of images on hosts, with the best host for each image and the best image
 * for each host. Hosts and images may be facts or files; images may be references (inspected once
 * per platform the hosts need: a multi-platform index is judged per host on the platform it runs).
 */
export async function match(hosts: readonly HostInput[], images: readonly ImageInput[], opts: MatchOptions = {}): Promise<MatchResult> {
  const hf = await Promise.all(hosts.map((h) => loadHost(h)));
  const loaded: (ImageFacts | ImageFacts[])[] = [];
  const access = imageAccessOf(opts);
  // One set of registry clients for every image: one token per repository, one connection pool per registry.
  const registries = await registriesFor(images.filter((i): i is string => typeof i === 'string' && !isFactsFile(i)), access);
  if (registries) access.registries = registries;
  for (const [i, img] of images.entries()) {
    loaded.push(await loadImageVariants(img, hf, access));
    opts.onImage?.(img, i, images.length);
  }
  return matchFacts(hf, loaded, { archspec: opts.archspec ?? loadArchspec(), ...(opts.set ? { set: opts.set } : {}), hostNames: hostNamesOf(hosts, hf) });
}
