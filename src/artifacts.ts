/**
 * `attach` and `discover` as library functions (the CLI only parses and prints): inspect a registry
 * image and attach its facts and NFD spec to its manifest; list what is attached to an image.
 */
import { imagePlatforms, openImage } from './image/open.js';
import { inspect, registriesFor, type InspectOptions } from './inspect.js';
import type { ImageFacts } from './model/facts.js';
import { attachFacts, registryRef, type Attached } from './registry/attach.js';
import { listReferrers, type Referrers } from './registry/referrers.js';

/** Options for {@link attach} and {@link discover}. */
export interface ArtifactOptions extends Pick<InspectOptions, 'registry' | 'registries' | 'cache' | 'onProgress' | 'parallel'> {
  /** `os/arch[/variant]`, or `all` for every platform of an index; default: the host's. */
  platform?: string | undefined;
  /** Attach the NFD image-compatibility spec too (default true). */
  nfd?: boolean | undefined;
}

/** What was attached to one platform's manifest. */
export interface AttachResult {
  ref: string;
  platform: string | null;
  manifest: string;
  attached: Attached[];
}

/** The platforms to work on: every one for `all`, else the one asked for (or the default). */
async function platformsOf(ref: string, opts: ArtifactOptions & Pick<InspectOptions, 'registries'>): Promise<(string | undefined)[]> {
  if (opts.platform !== 'all') return [opts.platform];
  const present = await imagePlatforms(ref, { registries: opts.registries, blobCache: opts.cache ?? null });
  return present && present.length ? present : [undefined];
}

/**
 * Inspect a registry image (each platform with `platform: 'all'`) and attach its facts, and its NFD
 * image-compatibility spec, to the manifest the facts describe.
 */
export async function attach(ref: string, opts: ArtifactOptions = {}): Promise<AttachResult[]> {
  const dref = registryRef(ref, 'attach');
  const registries = (await registriesFor([ref], opts))!;
  const client = await registries.for(dref.domain);
  const nfdYaml = opts.nfd === false ? undefined : await nfdYamlMaker();
  const out: AttachResult[] = [];
  for (const platform of await platformsOf(ref, { ...opts, registries })) {
    const facts: ImageFacts = await inspect(ref, { ...opts, registries, platform, explicitPlatform: platform !== undefined });
    const attached = await attachFacts(client, dref, facts, { nfd: opts.nfd !== false, ...(nfdYaml ? { nfdYaml } : {}) });
    const p = facts.platform;
    out.push({ ref, platform: p.architecture ? `${p.os ?? 'linux'}/${p.architecture}${p.variant ? `/${p.variant}` : ''}` : null, manifest: facts.digest!, attached });
  }
  return out;
}

/** Facts to NFD spec YAML (src/registry/nfd.ts), loaded only when an NFD spec is attached. */
async function nfdYamlMaker(): Promise<(f: ImageFacts) => string> {
  const { nfdImageCompatibilityYaml } = await import('./registry/nfd.js');
  return (f) => nfdImageCompatibilityYaml(f);
}

/** What is attached to one platform's manifest. */
export interface DiscoverResult extends Referrers {
  ref: string;
  platform: string | null;
}

/** List the artifacts attached to a registry image's manifest (each platform's with `platform: 'all'`). Reads no layer. */
export async function discover(ref: string, opts: ArtifactOptions & { artifactType?: string } = {}): Promise<DiscoverResult[]> {
  const dref = registryRef(ref, 'discover');
  const registries = (await registriesFor([ref], opts))!;
  const client = await registries.for(dref.domain);
  const out: DiscoverResult[] = [];
  for (const platform of await platformsOf(ref, { ...opts, registries })) {
    const image = await openImage(ref, { registries, platform, explicitPlatform: platform !== undefined, blobCache: opts.cache ?? null });
    const list = await listReferrers(client, dref.path, image.manifestDigest!, opts.artifactType);
    const p = image.platform;
    out.push({ ref, platform: p ? `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}` : null, ...list });
  }
  return out;
}
