import { FormatError, NotFoundError } from '../errors/index.js';
import { parseJson, TarBlobStore, verifyDigest } from './blob-store.js';
import { resolveOciLayout, type ResolveOptions } from './oci.js';
import type { Image, ImageConfig, Layer } from './types.js';

interface SaveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/**
 * A `docker save` archive: the classic layout (`manifest.json`, `<id>/layer.tar`,
 * `<config>.json`) and the Docker 25+ layout, which also carries an OCI layout: its
 * `manifest.json` points into `blobs/sha256/`. Classic layer.tar files have no stored digest,
 * so each is verified against the config's `rootfs.diff_ids` instead.
 */
export async function resolveDockerArchive(file: string, opts: ResolveOptions): Promise<Image> {
  const store = await TarBlobStore.open(file, opts.ref);
  // Docker 25+ writes an OCI layout too: it names the manifest by digest, so prefer it.
  if ((await store.readFile('oci-layout')) && (await store.readFile('index.json'))) return resolveOciLayout(store, opts);
  const manBuf = await store.readFile('manifest.json');
  if (!manBuf) {
    if (await store.readFile('index.json')) return resolveOciLayout(store, opts);
    throw new FormatError(`${opts.ref} is not a docker-archive (no manifest.json)`, file);
  }
  const where = `manifest.json of ${opts.ref}`;
  const list = parseJson(manBuf, where);
  if (!Array.isArray(list) || list.length === 0) throw new FormatError(`${where} is not a non-empty list`, where);
  const entries = list as SaveEntry[];
  let entry: SaveEntry | undefined;
  if (opts.tag !== null) {
    const t = opts.tag;
    entry = entries.find((e) => (e.RepoTags ?? []).some((rt) => rt === t || rt.endsWith(`:${t}`) || rt.startsWith(`${t}:`)));
    if (!entry) {
      const tags = entries.flatMap((e) => e.RepoTags ?? []);
      throw new NotFoundError(`no image tagged ${JSON.stringify(t)} in ${opts.ref}; it has: ${tags.join(', ') || '(no tags)'}`, file);
    }
  } else if (entries.length === 1) {
    entry = entries[0];
  } else {
    const tags = entries.flatMap((e) => e.RepoTags ?? []);
    throw new FormatError(`${opts.ref} holds ${entries.length} images; name one with :TAG (${tags.join(', ')})`, file);
  }
  if (!entry || typeof entry.Config !== 'string' || !Array.isArray(entry.Layers)) {
    throw new FormatError(`${where} entry lacks Config or Layers`, where);
  }
  const cfgBuf = await store.readFile(entry.Config);
  if (!cfgBuf) throw new NotFoundError(`missing config ${entry.Config} in ${opts.ref}`, `${file}:${entry.Config}`);
  const hexMatch = /(?:^|\/)([a-f0-9]{64})(?:\.json)?$/.exec(entry.Config);
  const configDigest = hexMatch ? `sha256:${hexMatch[1]}` : null;
  if (configDigest) verifyDigest(cfgBuf, configDigest, `config ${entry.Config} of ${opts.ref}`);
  const cWhere = `config ${entry.Config} of ${opts.ref}`;
  const config = parseJson(cfgBuf, cWhere) as ImageConfig;
  if (!config || typeof config !== 'object') throw new FormatError(`${cWhere} is not a JSON object`, cWhere);
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length && diffIds.length !== entry.Layers.length) {
    throw new FormatError(`${opts.ref}: ${entry.Layers.length} layers but ${diffIds.length} diff_ids in the config`, file);
  }
  const layers: Layer[] = [];
  for (const [i, name] of entry.Layers.entries()) {
    const location = await store.fileLocation(name, `layer ${i}`);
    const blob = /^blobs\/(sha256)\/([a-f0-9]{64})$/.exec(name);
    const digest = blob ? `${blob[1]}:${blob[2]}` : null;
    layers.push({
      digest,
      diffId: diffIds[i] ?? null,
      mediaType: 'application/vnd.docker.image.rootfs.diff.tar',
      size: location.length,
      where: `layer ${name} of ${opts.ref}`,
      location,
    });
  }
  const platform = config.architecture ? { os: config.os ?? 'linux', architecture: config.architecture, variant: config.variant } : null;
  return {
    ref: opts.ref,
    transport: opts.transport,
    manifestDigest: null,
    configDigest,
    config,
    layers,
    platform,
  };
}
