/**
 * Build small OCI layouts in code for unit tests (ggcr's `random` in spirit): layers are real
 * tars packed with tar-stream and compressed with real gzip / zstd.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export interface TEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device';
  content?: string | Buffer;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  pax?: Record<string, string>;
}

/** Pack entries into an uncompressed tar. */
export async function packTar(entries: TEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((res, rej) => {
    pack.on('end', res);
    pack.on('error', rej);
  });
  for (const e of entries) {
    const content = e.content === undefined ? undefined : Buffer.isBuffer(e.content) ? e.content : Buffer.from(e.content);
    const header = {
      name: e.name,
      type: e.type ?? 'file',
      mode: e.mode ?? (e.type === 'directory' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: new Date(0),
    } as tar.Header;
    if (e.linkname !== undefined) header.linkname = e.linkname;
    if (e.pax) header.pax = e.pax;
    if (content) header.size = content.length;
    await new Promise<void>((res, rej) => {
      const cb = (err?: Error | null) => (err ? rej(err) : res());
      if (content) pack.entry(header, content, cb);
      else pack.entry(header, cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface LayerSpec {
  entries: TEntry[];
  compression?: 'gzip' | 'zstd' | 'none';
}

export interface BuiltImage {
  dir: string;
  manifestDigest: string;
  configDigest: string;
  layerDigests: string[];
}

function writeBlob(dir: string, data: Buffer | string): { digest: string; size: number } {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
  const digest = sha256(buf);
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), buf);
  return { digest, size: buf.length };
}

/** Write an OCI layout with one image. */
export async function buildOci(
  dir: string,
  layers: LayerSpec[],
  config: { architecture?: string; os?: string; variant?: string; Env?: string[]; Labels?: Record<string, string> } = {},
): Promise<BuiltImage> {
  mkdirSync(dir, { recursive: true });
  const layerDescs = [];
  const diffIds = [];
  for (const l of layers) {
    const t = await packTar(l.entries);
    diffIds.push(sha256(t));
    const c = l.compression ?? 'gzip';
    const data = c === 'gzip' ? gzipSync(t) : c === 'zstd' ? execFileSync('zstd', ['-q', '-c'], { input: t }) : t;
    const { digest, size } = writeBlob(dir, data);
    const mediaType = `application/vnd.oci.image.layer.v1.tar${c === 'gzip' ? '+gzip' : c === 'zstd' ? '+zstd' : ''}`;
    layerDescs.push({ mediaType, digest, size });
  }
  const cfg = {
    architecture: config.architecture ?? 'amd64',
    os: config.os ?? 'linux',
    ...(config.variant ? { variant: config.variant } : {}),
    config: { Env: config.Env ?? [], Labels: config.Labels ?? {} },
    rootfs: { type: 'layers', diff_ids: diffIds },
  };
  const c = writeBlob(dir, JSON.stringify(cfg));
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: c.digest, size: c.size },
    layers: layerDescs,
  };
  const m = writeBlob(dir, JSON.stringify(manifest));
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: manifest.mediaType, digest: m.digest, size: m.size, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }],
    }),
  );
  return { dir, manifestDigest: m.digest, configDigest: c.digest, layerDigests: layerDescs.map((d) => d.digest) };
}

/**
 * Replace layer `index`'s blob with other bytes, rewriting the config's diff_id (when the bytes
 * decode), the manifest and index.json so every digest and size matches again: only the layer's
 * content is then wrong (a truncated stream, say).
 */
export function replaceLayerBlob(dir: string, index: number, data: Buffer): string {
  const idx = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
  const manifest = JSON.parse(readFileSync(join(dir, 'blobs/sha256', (idx.manifests[0].digest as string).slice(7)), 'utf8'));
  const { digest, size } = writeBlob(dir, data);
  manifest.layers[index] = { ...manifest.layers[index], digest, size };
  const tar = decoded(data);
  if (tar !== null) {
    const config = JSON.parse(readFileSync(join(dir, 'blobs/sha256', (manifest.config.digest as string).slice(7)), 'utf8'));
    config.rootfs.diff_ids[index] = sha256(tar);
    const c = writeBlob(dir, JSON.stringify(config));
    manifest.config = { ...manifest.config, digest: c.digest, size: c.size };
  }
  const m = writeBlob(dir, JSON.stringify(manifest));
  idx.manifests[0] = { ...idx.manifests[0], digest: m.digest, size: m.size };
  writeFileSync(join(dir, 'index.json'), JSON.stringify(idx));
  return digest;
}

/** A layer blob's tar (gunzipped or zstd-decoded by the real tools), or null when it does not decode. */
function decoded(data: Buffer): Buffer | null {
  try {
    if (data[0] === 0x1f && data[1] === 0x8b) return gunzipSync(data);
    if (data.readUInt32LE(0) === 0xfd2fb528) return execFileSync('zstd', ['-d', '-q', '-c'], { input: data, maxBuffer: 1 << 30, stdio: ['pipe', 'pipe', 'ignore'] });
    return data;
  } catch {
    return null;
  }
}

/** The stored bytes of layer `index` of an image built by buildOci. */
export function layerBlob(dir: string, index: number): Buffer {
  const idx = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
  const manifest = JSON.parse(readFileSync(join(dir, 'blobs/sha256', (idx.manifests[0].digest as string).slice(7)), 'utf8'));
  return readFileSync(join(dir, 'blobs/sha256', (manifest.layers[index].digest as string).slice(7)));
}

/** One platform of a multi-platform image built by {@link buildOciIndex}. */
export interface VariantSpec {
  platform: { os: string; architecture: string; variant?: string };
  layers: LayerSpec[];
}

/**
 * Write an OCI layout holding one multi-platform image: each variant's blobs, an image index
 * listing them with their platforms, and index.json naming that index (tag `latest`), or, with
 * `flat`, index.json listing the platform manifests itself.
 */
export async function buildOciIndex(dir: string, variants: VariantSpec[], opts: { flat?: boolean } = {}): Promise<{ dir: string; indexDigest: string; manifests: Record<string, string> }> {
  const entries: Record<string, unknown>[] = [];
  const manifests: Record<string, string> = {};
  for (const v of variants) {
    const sub = await buildOci(dir, v.layers, v.platform);
    const size = readFileSync(join(dir, 'blobs/sha256', sub.manifestDigest.slice(7))).length;
    const name = [v.platform.os, v.platform.architecture, v.platform.variant].filter(Boolean).join('/');
    manifests[name] = sub.manifestDigest;
    entries.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sub.manifestDigest, size, platform: v.platform });
  }
  const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries };
  const ix = writeBlob(dir, JSON.stringify(index));
  const top = opts.flat
    ? { schemaVersion: 2, manifests: entries }
    : { schemaVersion: 2, manifests: [{ mediaType: index.mediaType, digest: ix.digest, size: ix.size, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] };
  writeFileSync(join(dir, 'index.json'), JSON.stringify(top));
  return { dir, indexDigest: ix.digest, manifests };
}

/** Read a blob of a layout by digest. */
export function blobOf(dir: string, digest: string): Buffer {
  return readFileSync(join(dir, 'blobs', digest.replace(':', '/')));
}

/**
 * Rewrite the config and/or manifest of a one-image layout built by buildOci (given as raw JSON text,
 * so shapes and types JSON parsers would not produce are possible), re-fixing every digest and size
 * above them, so the document reaches containerspec's parsers with valid digests.
 */
export function rewriteImage(dir: string, edit: { config?: (text: string) => string; manifest?: (text: string) => string; index?: (text: string) => string }): void {
  const idxText = readFileSync(join(dir, 'index.json'), 'utf8');
  const idx = JSON.parse(idxText);
  const mDigest = idx.manifests[0].digest as string;
  let mText = blobOf(dir, mDigest).toString('utf8');
  if (edit.config) {
    const m = JSON.parse(mText);
    const c = writeBlob(dir, edit.config(blobOf(dir, m.config.digest).toString('utf8')));
    m.config = { ...m.config, digest: c.digest, size: c.size };
    mText = JSON.stringify(m);
  }
  if (edit.manifest) mText = edit.manifest(mText);
  const nm = writeBlob(dir, mText);
  idx.manifests[0] = { ...idx.manifests[0], digest: nm.digest, size: nm.size };
  const out = JSON.stringify(idx);
  writeFileSync(join(dir, 'index.json'), edit.index ? edit.index(out) : out);
}
