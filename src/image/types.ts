/**
 * The image core every source implements (go-containerregistry's `v1.Image` in spirit): an image
 * resolved to one platform has a manifest digest, a config and layers base first, and each layer
 * opens as a stream of its stored bytes. Everything else (the index and platform walk, the layer
 * walker with its digest checks, squashing, extraction) is written once on top of this.
 */
import type { Readable } from 'node:stream';

/** An OCI platform: `os/architecture[/variant]`. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string | undefined;
}

/** An OCI content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  /** Size in bytes; -1 when the document that named the blob did not say. */
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

/** The parts of an OCI / Docker image config we read. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  config?: {
    Env?: string[] | null;
    Labels?: Record<string, string> | null;
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    User?: string;
    WorkingDir?: string;
  } | null;
  rootfs?: { type?: string; diff_ids?: string[] };
}

/**
 * A layer whose stored bytes come as a stream: a tar, compressed or not. The walker verifies the
 * bytes against `digest` (the stored blob) while they stream, or against `diffId` (the uncompressed
 * tar) when the source cannot name the stored blob (classic docker-archive layer.tar files), and
 * checks `size` when known. A source never verifies layers itself.
 */
export interface BlobLayer {
  readonly kind: 'blob';
  readonly digest: string | null;
  readonly diffId: string | null;
  readonly mediaType: string;
  /** Stored size in bytes, when the source knows it (checked by the walker). */
  readonly size: number | null;
  /** Human-readable name for messages: `layer sha256:abcd… of oci:path`. */
  readonly where: string;
  /** Open a fresh stream of the stored bytes, from the first byte. */
  open(): Promise<Readable>;
  /**
   * For a source that cannot name the stored bytes by digest: a key that is equal for two layers
   * only when they stream the same bytes and are checked against the same digest (a classic
   * docker-archive listing one member twice), so the walker reads them once. Content-addressed
   * layers need none: their digest is the key.
   */
  readonly sameAs?: string;
}

/**
 * A root filesystem already unpacked in a directory (`dir:`, later `ch-image:`): the walker lists it
 * instead of streaming a tar, and reads only the parts of files the extractors want.
 */
export interface TreeLayer {
  readonly kind: 'tree';
  /** The directory holding the root filesystem. */
  readonly root: string;
  readonly where: string;
}

/** One layer, base first. */
export type Layer = BlobLayer | TreeLayer;

/** An image resolved to one platform: what every source produces. */
export interface Image {
  /** The reference as the user gave it. */
  readonly ref: string;
  readonly transport: string;
  /** Manifest digest; null when the source has none (dir:, tar:, classic docker-archive). */
  readonly manifestDigest: string | null;
  readonly configDigest: string | null;
  readonly config: ImageConfig | null;
  readonly layers: readonly Layer[];
  /** Platform from the index entry or the config; null when neither says (dir:, tar:). */
  readonly platform: Platform | null;
  /** Platforms present in the index the image came from, when it came from one. */
  readonly indexPlatforms?: readonly string[];
  /**
   * The image's content identity, computed when asked (it may read the whole image): the manifest
   * digest where there is one, else what names the content (a classic docker-archive's config
   * digest, a tar:'s file digest, a dir:'s tree digest).
   */
  identity(): Promise<string>;
}
