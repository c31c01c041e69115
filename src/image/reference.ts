import { existsSync } from 'node:fs';
import { ImageReferenceError } from '../errors/index.js';

/** Transports we recognise (skopeo-style). */
export type Transport = 'oci' | 'oci-archive' | 'docker-archive' | 'dir' | 'tar' | 'ch-image' | 'docker';

/** A parsed image reference. */
export interface ImageReference {
  transport: Transport;
  /** Path (local transports) or registry reference (docker). */
  path: string;
  tag: string | null;
  raw: string;
}

const LOCAL: Transport[] = ['oci', 'oci-archive', 'docker-archive'];

/**
 * Parse `oci:PATH[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:TAG]`, `dir:PATH`,
 * `tar:FILE`, `ch-image:NAME`, `docker://REF`. A reference with no transport is `docker://`.
 * When `PATH:TAG` is ambiguous, an existing path wins.
 */
export function parseReference(raw: string): ImageReference {
  if (!raw) throw new ImageReferenceError('empty image reference');
  if (raw.startsWith('docker://')) return { transport: 'docker', path: raw.slice('docker://'.length), tag: null, raw };
  const m = /^([a-z-]+):(.*)$/.exec(raw);
  if (!m || !['oci', 'oci-archive', 'docker-archive', 'dir', 'tar', 'ch-image'].includes(m[1]!)) {
    return { transport: 'docker', path: raw, tag: null, raw };
  }
  const transport = m[1] as Transport;
  const rest = m[2]!;
  if (rest === '') throw new ImageReferenceError(`image reference ${JSON.stringify(raw)} names no path`);
  if (LOCAL.includes(transport)) {
    const i = rest.lastIndexOf(':');
    if (i > 0 && !rest.slice(i + 1).includes('/') && !existsSync(rest)) {
      return { transport, path: rest.slice(0, i), tag: rest.slice(i + 1) || null, raw };
    }
  }
  return { transport, path: rest, tag: null, raw };
}
