/**
 * The boundary: every JSON document read from outside (OCI index, manifest, config and layout file;
 * a docker-archive's manifest.json) is bounded in size and depth, parsed, and checked against its
 * schema before any code uses it. Past this point code trusts the types. The OCI schemas are the
 * image-spec's own (vendored in schemas/vendor/oci-image-spec, draft-04); the others are ours. The
 * validators are compiled ahead of time (src/model/generated/, by scripts/gen-validators.mjs; a test
 * checks they match the schemas), so no run loads or compiles ajv to read an image.
 */
import { FormatError } from '../errors/index.js';
import { limit, overLimit } from '../limits.js';
import * as docker from './generated/docker-validators.js';
import * as oci from './generated/oci-validators.js';

/** The documents checked at the boundary. */
export type DocumentKind = 'oci-index' | 'oci-manifest' | 'oci-config' | 'oci-layout' | 'docker-save-manifest';

type ValidateFn = ((d: unknown) => boolean) & { errors?: { instancePath: string; message?: string; params?: Record<string, unknown> }[] | null };

/** The validators, compiled ahead of time from the schemas (scripts/gen-validators.mjs). */
const VALIDATORS: Record<DocumentKind, ValidateFn> = {
  'oci-index': oci.ociIndex as ValidateFn,
  'oci-manifest': oci.ociManifest as ValidateFn,
  'oci-config': oci.ociConfig as ValidateFn,
  'oci-layout': oci.ociLayout as ValidateFn,
  'docker-save-manifest': docker.dockerSaveManifest as ValidateFn,
};

/** What each kind is called in messages. */
const NAMES: Record<DocumentKind, string> = {
  'oci-index': 'an image index',
  'oci-manifest': 'an image manifest',
  'oci-config': 'an image config',
  'oci-layout': 'an oci-layout file',
  'docker-save-manifest': 'a docker save manifest.json',
};

/**
 * The nesting depth of a JSON text (brackets outside strings), counted without recursion, or the
 * first depth past `max` (then the caller refuses it before parsing).
 */
export function jsonDepth(text: string, max: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > max) return deepest;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

/** Parse JSON from outside within the size and depth limits; a FormatError naming `where` otherwise. */
export function parseBoundedJson(data: Buffer, where: string): unknown {
  if (data.length > limit('jsonBytes')) throw new FormatError(`${where}: ${overLimit('jsonBytes', `${data.length} bytes`)}`, where);
  const text = data.toString('utf8');
  const max = limit('jsonDepth');
  const depth = jsonDepth(text, max);
  if (depth > max) throw new FormatError(`${where}: nesting ${overLimit('jsonDepth', `depth ${depth}`)}`, where);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FormatError(`${where} is not valid JSON (${(e as Error).message})`, where, { cause: e });
  }
}

/**
 * Check a parsed document against its schema; a FormatError naming `where`, the JSON pointer and
 * what was expected otherwise.
 */
export function checkDocument(kind: DocumentKind, doc: unknown, where: string): void {
  const v = VALIDATORS[kind];
  if (v(doc)) return;
  const e = v.errors?.[0];
  const pointer = e?.instancePath || '/';
  const allowed = e?.params && Array.isArray(e.params.allowedValues) ? ` (${(e.params.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')})` : '';
  throw new FormatError(`${where} is not ${NAMES[kind]}: ${pointer} ${e?.message ?? 'is invalid'}${allowed}`, where);
}

/** Parse within the limits and check against the schema: what every reader of outside JSON calls. */
export function readDocument(kind: DocumentKind, data: Buffer, where: string): unknown {
  const doc = parseBoundedJson(data, where);
  checkDocument(kind, doc, where);
  return doc;
}
