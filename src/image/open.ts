import { stat } from 'node:fs/promises';
import { ImageReferenceError, NotFoundError } from '../errors/index.js';
import { DirBlobStore, TarBlobStore } from './blob-store.js';
import { resolveDockerArchive } from './docker-archive.js';
import { resolveOciLayout, type ResolveOptions } from './oci.js';
import { hostPlatform, parsePlatform } from './platform.js';
import { parseReference } from './reference.js';
import type { Image } from './types.js';

/** Options for opening an image. */
export interface OpenOptions {
  /** `os/arch[/variant]`; default: the host's. */
  platform?: string | undefined;
  /** Whether the user named the platform (default: true when `platform` is given). */
  explicitPlatform?: boolean | undefined;
}

async function mustExist(path: string, ref: string, kind: 'file' | 'dir'): Promise<void> {
  let st;
  try {
    st = await stat(path);
  } catch {
    throw new NotFoundError(`${ref}: no such ${kind === 'dir' ? 'directory' : 'file'} ${path}`, path);
  }
  if (kind === 'dir' && !st.isDirectory()) throw new NotFoundError(`${ref}: ${path} is not a directory`, path);
  if (kind === 'file' && !st.isFile()) throw new NotFoundError(`${ref}: ${path} is not a file`, path);
}

/**
 * Open an image reference (skopeo-style transports) and resolve it to one platform:
 * manifest, config and layers, with every small blob verified. Layers are not read here.
 */
export async function openImage(ref: string, opts: OpenOptions = {}): Promise<Image> {
  const r = parseReference(ref);
  const resolve: ResolveOptions = {
    tag: r.tag,
    platform: opts.platform ? parsePlatform(opts.platform) : hostPlatform(),
    explicitPlatform: opts.explicitPlatform ?? Boolean(opts.platform),
    ref,
    transport: r.transport,
  };
  switch (r.transport) {
    case 'oci':
      await mustExist(r.path, ref, 'dir');
      return resolveOciLayout(new DirBlobStore(r.path, ref), resolve);
    case 'oci-archive': {
      await mustExist(r.path, ref, 'file');
      return resolveOciLayout(await TarBlobStore.open(r.path, ref), resolve);
    }
    case 'docker-archive':
      await mustExist(r.path, ref, 'file');
      return resolveDockerArchive(r.path, resolve);
    case 'dir':
      await mustExist(r.path, ref, 'dir');
      return { ref, transport: 'dir', manifestDigest: null, configDigest: null, config: null, layers: [], platform: null, rootDir: r.path };
    case 'tar': {
      await mustExist(r.path, ref, 'file');
      const st = await stat(r.path);
      return {
        ref,
        transport: 'tar',
        manifestDigest: null,
        configDigest: null,
        config: null,
        platform: null,
        layers: [
          {
            digest: null,
            diffId: null,
            mediaType: 'application/x-tar',
            size: st.size,
            where: `rootfs tarball ${r.path}`,
            location: { file: r.path, start: 0, length: null },
          },
        ],
      };
    }
    case 'ch-image':
      throw new ImageReferenceError(
        `${ref}: the ch-image: transport is not supported yet; export the image with "ch-convert NAME DIR" and use dir:DIR`,
      );
    case 'docker':
      throw new ImageReferenceError(
        `${ref}: registry references (docker://) are not supported yet; use oci:PATH, oci-archive:FILE, docker-archive:FILE, dir:PATH or tar:FILE`,
      );
  }
}
