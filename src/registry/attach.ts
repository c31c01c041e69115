/**
 * What `attach`, `discover` and the attached-facts shortcut of `check` / `match` do, as library
 * functions: push an image's facts (and its NFD image-compatibility spec) as artifacts whose subject
 * is the image manifest, list what is attached, and read attached facts back for exactly one
 * manifest digest, so a scheduler can judge an image without reading its layers.
 */
import { ImageReferenceError } from '../errors/index.js';
import type { DockerReference } from '../image/docker-reference.js';
import { parseReference } from '../image/reference.js';
import { limit } from '../limits.js';
import type { ImageFacts } from '../model/facts.js';
import { parseFacts } from '../model/files.js';
import { PACKAGE_VERSION } from '../util/package-version.js';
import type { RegistryClient } from './client.js';
import type { BlobCache } from './source.js';
import { fetchArtifact, listReferrers, OCI_MANIFEST, pushArtifact, type Referrer, type Referrers, type Subject } from './referrers.js';

/** Artifact type of containerspec's facts. */
export const FACTS_ARTIFACT_TYPE = 'application/vnd.containerspec.facts.v1+json';
/** Media type of the facts layer (the JSON of `inspect --json`). */
export const FACTS_LAYER_TYPE = 'application/vnd.containerspec.facts.v1+json';
/** NFD's image-compatibility artifact and its spec layer. */
export const NFD_ARTIFACT_TYPE = 'application/vnd.nfd.image-compatibility.v1alpha1';
export const NFD_LAYER_TYPE = 'application/vnd.nfd.image-compatibility.spec.v1alpha1+yaml';
/** Annotations containerspec sets on what it attaches. */
export const ANNOTATION_CREATED = 'org.opencontainers.image.created';
export const ANNOTATION_VERSION = 'io.containerspec.version';
export const ANNOTATION_FLATTENABLE = 'io.containerspec.permissions.flattenable';

/** A registry reference, or a UsageError saying artifacts live in registries. */
export function registryRef(ref: string, command: string): DockerReference {
  const r = parseReference(ref);
  if (r.transport !== 'docker') throw new ImageReferenceError(`${command} works on registry images (docker://HOST/NAME:TAG), not ${r.transport}: references`);
  return r.docker;
}

/** The subject descriptor of a manifest: its media type and size, from the registry. */
export async function subjectOf(client: RegistryClient, repo: string, digest: string): Promise<Subject> {
  const m = await client.getManifest(repo, digest, limit('jsonBytes'));
  let mediaType = m.mediaType;
  if (!mediaType) {
    try {
      mediaType = (JSON.parse(m.data.toString('utf8')) as { mediaType?: string }).mediaType ?? OCI_MANIFEST;
    } catch {
      mediaType = OCI_MANIFEST;
    }
  }
  return { mediaType, digest, size: m.data.length };
}

/** What one attach pushed. */
export interface Attached {
  artifactType: string;
  digest: string;
  via: Referrers['via'];
}

/** The annotations of an attached facts artifact. */
export function factsAnnotations(facts: ImageFacts, created = new Date()): Record<string, string> {
  const a: Record<string, string> = { [ANNOTATION_CREATED]: created.toISOString().replace(/\.\d+Z$/, 'Z'), [ANNOTATION_VERSION]: PACKAGE_VERSION };
  if (facts.permissions) a[ANNOTATION_FLATTENABLE] = String(facts.permissions.flattenable);
  return a;
}

/**
 * Attach facts (and, unless `nfd` is false, the NFD spec made from them) to the manifest they
 * describe (`facts.digest`) in the repository of `ref`.
 */
export async function attachFacts(client: RegistryClient, ref: DockerReference, facts: ImageFacts, opts: { nfd?: boolean; nfdYaml?: (facts: ImageFacts) => string } = {}): Promise<Attached[]> {
  if (!facts.digest) throw new ImageReferenceError(`${ref.familiar}: the facts name no manifest digest to attach to`);
  const subject = await subjectOf(client, ref.path, facts.digest);
  const annotations = factsAnnotations(facts);
  const out: Attached[] = [];
  const data = Buffer.from(`${JSON.stringify(facts, null, 2)}\n`);
  const f = await pushArtifact(client, ref.path, subject, { artifactType: FACTS_ARTIFACT_TYPE, layerMediaType: FACTS_LAYER_TYPE, data, title: 'facts.json', annotations });
  out.push({ artifactType: FACTS_ARTIFACT_TYPE, ...f });
  if (opts.nfd !== false && opts.nfdYaml) {
    const spec = Buffer.from(opts.nfdYaml(facts));
    const n = await pushArtifact(client, ref.path, subject, { artifactType: NFD_ARTIFACT_TYPE, layerMediaType: NFD_LAYER_TYPE, data: spec, title: 'image-compatibility.yaml', annotations: { [ANNOTATION_CREATED]: annotations[ANNOTATION_CREATED]!, [ANNOTATION_VERSION]: PACKAGE_VERSION } });
    out.push({ artifactType: NFD_ARTIFACT_TYPE, ...n });
  }
  return out;
}

/**
 * The newest attached facts for exactly this manifest digest, or null when none is attached (or
 * none is usable: another subject, not valid facts, facts of another digest). Reads no layer.
 */
export async function attachedFacts(client: RegistryClient, ref: DockerReference, manifestDigest: string, cache: BlobCache | null = null): Promise<{ facts: ImageFacts; artifact: Referrer } | null> {
  const list = await listReferrers(client, ref.path, manifestDigest, FACTS_ARTIFACT_TYPE);
  for (const r of list.referrers) {
    const got = await fetchArtifact(client, ref.path, r, manifestDigest, limit('jsonBytes'), cache);
    if (!got || got.layerMediaType !== FACTS_LAYER_TYPE) continue;
    let facts: ImageFacts;
    try {
      facts = await parseFacts(got.data, 'image', `attached facts ${r.digest} of ${ref.familiar}`);
    } catch {
      continue; // not valid facts: read the layers instead
    }
    if (facts.digest !== manifestDigest) continue;
    return { facts, artifact: r };
  }
  return null;
}
