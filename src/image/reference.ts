/**
 * Image references, skopeo-style: `TRANSPORT:REST`, or a registry reference (`docker://REF`, or a
 * bare `REF`, parsed by the distribution reference grammar in docker-reference.ts). Parsing is pure:
 * no file-system or network I/O; the opener decides what exists.
 */
import { ImageReferenceError } from '../errors/index.js';
import { parseDockerReference, type DockerReference } from './docker-reference.js';

/** Local transports whose references may end in `:TAG` (a tag or ref.name inside the archive or layout). */
export const TAGGED_TRANSPORTS = ['oci', 'oci-archive', 'docker-archive'] as const;
/** Local transports whose reference is a path and nothing else. */
export const PATH_TRANSPORTS = ['dir', 'tar'] as const;
/** Every transport recognised. */
export const TRANSPORTS = [...TAGGED_TRANSPORTS, ...PATH_TRANSPORTS, 'ch-image', 'docker'] as const;

/** A transport name. */
export type Transport = (typeof TRANSPORTS)[number];

/** `oci:`, `oci-archive:`, `docker-archive:`. */
export interface TaggedPathReference {
  transport: (typeof TAGGED_TRANSPORTS)[number];
  raw: string;
  /** The path, with a trailing `:TAG` taken off. */
  path: string;
  tag: string | null;
  /** Everything after the transport, untouched: the path when it holds a colon of its own (`a:b` as a file name). */
  whole: string;
}

/** `dir:` and `tar:`. */
export interface PathReference {
  transport: (typeof PATH_TRANSPORTS)[number];
  raw: string;
  path: string;
}

/** `ch-image:NAME` (Charliecloud storage). */
export interface StorageReference {
  transport: 'ch-image';
  raw: string;
  name: string;
}

/** `docker://REF` or a bare `REF`. */
export interface RegistryReference {
  transport: 'docker';
  raw: string;
  docker: DockerReference;
}

/** A parsed image reference. */
export type ImageReference = TaggedPathReference | PathReference | StorageReference | RegistryReference;

const TRANSPORT_PREFIX = /^([a-z][a-z0-9-]*):(?!\/\/)(.*)$/s;

function isTagged(t: string): t is TaggedPathReference['transport'] {
  return (TAGGED_TRANSPORTS as readonly string[]).includes(t);
}
function isPath(t: string): t is PathReference['transport'] {
  return (PATH_TRANSPORTS as readonly string[]).includes(t);
}

/**
 * Parse an image reference: `oci:PATH[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:TAG]`,
 * `dir:PATH`, `tar:FILE`, `ch-image:NAME`, `docker://REF`; anything else is a registry reference.
 * A trailing `:TAG` is split off at the last colon when what follows holds no `/`; the opener falls
 * back to the whole string when that path does not exist. Throws ImageReferenceError.
 */
export function parseReference(raw: string): ImageReference {
  if (raw === '') throw new ImageReferenceError('empty image reference');
  if (raw.includes('\n') || raw.includes('\0')) throw new ImageReferenceError(`image reference ${JSON.stringify(raw)} holds a newline or NUL byte`);
  if (raw.startsWith('docker://')) return { transport: 'docker', raw, docker: parseDockerReference(raw.slice('docker://'.length)) };
  const m = TRANSPORT_PREFIX.exec(raw);
  const transport = m?.[1];
  const rest = m?.[2] ?? '';
  if (transport !== undefined && (isTagged(transport) || isPath(transport) || transport === 'ch-image')) {
    if (rest === '') throw new ImageReferenceError(`image reference ${JSON.stringify(raw)} names no ${transport === 'ch-image' ? 'image' : 'path'}`);
    if (transport === 'ch-image') return { transport, raw, name: rest };
    if (isPath(transport)) return { transport, raw, path: rest };
    const i = rest.lastIndexOf(':');
    if (i > 0 && i < rest.length - 1 && !rest.slice(i + 1).includes('/')) {
      return { transport, raw, path: rest.slice(0, i), tag: rest.slice(i + 1), whole: rest };
    }
    return { transport, raw, path: rest.endsWith(':') ? rest.slice(0, -1) : rest, tag: null, whole: rest };
  }
  return { transport: 'docker', raw, docker: parseDockerReference(raw) };
}
