/**
 * `docker-archive:FILE[:TAG]`: a `docker save` archive. The Docker 25+ layout also carries an OCI
 * layout, which names the manifest by digest, so it is read as one. The classic layout
 * (`manifest.json`, `<id>/layer.tar`, `<config>.json`) has no stored layer digests: each layer is
 * verified against the config's `rootfs.diff_ids` instead, and the image's identity is its config
 * digest (its image id).
 */
import { FormatError, NotFoundError } from '../errors/index.js';
import { limit, overLimit } from '../limits.js';
import { readDocument } from '../model/boundary.js';
import { verifyDigest } from './digest.js';
import { TarFiles, type FileStore } from './files.js';
import { isLayout, layoutPlatforms, openLayout } from './oci-layout.js';
import type { ResolveOptions } from './resolve.js';
import { configPlatform, readConfig } from './resolve.js';
import type { BlobLayer, Image } from './types.js';

interface SaveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/** Does the archive carry the Docker 25+ OCI layout? (Prefer it: it names the manifest by digest.) */
async function hasOciLayout(files: FileStore): Promise<boolean> {
  return (await files.size('oci-layout')) !== null && (await isLayout(files));
}

async function saveEntry(files: FileStore, tag: string | null, ref: string): Promise<SaveEntry> {
  const where = `manifest.json of ${ref}`;
  const buf = await files.read('manifest.json', limit('jsonBytes'));
  if (!buf) throw new FormatError(`${ref} is not a docker-archive (no manifest.json)`, files.locate('manifest.json'));
  const entries = readDocument('docker-save-manifest', buf, where) as SaveEntry[];
  const tagsOf = (e: SaveEntry) => e.RepoTags ?? [];
  let entry: SaveEntry | undefined;
  if (tag !== null) {
    entry = entries.find((e) => tagsOf(e).some((rt) => rt === tag || rt.endsWith(`:${tag}`) || rt.startsWith(`${tag}:`)));
    if (!entry) throw new NotFoundError(`no image tagged ${JSON.stringify(tag)} in ${ref}; it has: ${entries.flatMap(tagsOf).join(', ') || '(no tags)'}`, where);
  } else if (entries.length === 1) entry = entries[0];
  else throw new FormatError(`${ref} holds ${entries.length} images; name one with :TAG (${entries.flatMap(tagsOf).join(', ')})`, where);
  if (!entry) throw new FormatError(`${where} lists no image`, where);
  if (entry.Layers.length > limit('layers')) throw new FormatError(`${where}: ${overLimit('layers', `${entry.Layers.length} layers`)}`, where);
  return entry;
}

/** Open a docker-archive and resolve it to one image. */
export async function openDockerArchive(file: string, tag: string | null, opts: ResolveOptions): Promise<Image> {
  const files = await TarFiles.open(file, opts.ref);
  if (await hasOciLayout(files)) return openLayout(files, tag, opts);
  if ((await files.size('manifest.json')) === null && (await isLayout(files))) return openLayout(files, tag, opts);
  const entry = await saveEntry(files, tag, opts.ref);
  const cfgBuf = await files.read(entry.Config, limit('jsonBytes'));
  if (!cfgBuf) throw new NotFoundError(`missing config ${entry.Config} in ${opts.ref}`, files.locate(entry.Config));
  const hexMatch = /(?:^|\/)([a-f0-9]{64})(?:\.json)?$/.exec(entry.Config);
  const configDigest = hexMatch ? `sha256:${hexMatch[1]}` : null;
  const cWhere = `config ${entry.Config} of ${opts.ref}`;
  if (configDigest) verifyDigest(cfgBuf, configDigest, cWhere);
  const config = readConfig(cfgBuf, cWhere);
  const diffIds = Array.isArray(config.rootfs?.diff_ids) ? config.rootfs.diff_ids : [];
  if (diffIds.length && diffIds.length !== entry.Layers.length) {
    throw new FormatError(`${opts.ref}: ${entry.Layers.length} layers but ${diffIds.length} diff_ids in the config`, file);
  }
  const layers: BlobLayer[] = [];
  for (const [i, name] of entry.Layers.entries()) {
    const size = await files.size(name);
    if (size === null) throw new NotFoundError(`missing layer ${i}: ${name} in ${opts.ref}`, files.locate(name));
    const blob = /^blobs\/(sha256)\/([a-f0-9]{64})$/.exec(name);
    const where = `layer ${name} of ${opts.ref}`;
    const diffId = typeof diffIds[i] === 'string' ? diffIds[i]! : null;
    layers.push({
      kind: 'blob',
      digest: blob ? `${blob[1]}:${blob[2]}` : null,
      diffId,
      mediaType: 'application/vnd.docker.image.rootfs.diff.tar',
      size,
      where,
      // the same member (however it is named or linked) checked against the same diff_id
      sameAs: `${await files.identity(name)} ${diffId ?? ''}`,
      open: () => files.open(name, where),
    });
  }
  return {
    ref: opts.ref,
    transport: opts.transport,
    manifestDigest: null,
    configDigest,
    config,
    layers,
    platform: configPlatform(config),
    identity: async () => {
      if (configDigest) return configDigest;
      throw new FormatError(`${opts.ref}: the config ${entry.Config} is not named by its digest, so the image has no identity`, file);
    },
  };
}

/** The platforms a docker-archive's image offers (null: a single-platform image). */
export async function dockerArchivePlatforms(file: string, tag: string | null, ref: string): Promise<string[] | null> {
  const files = await TarFiles.open(file, ref);
  if (await hasOciLayout(files)) return layoutPlatforms(files, tag);
  return null;
}
