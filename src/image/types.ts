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
 * Where a layer's bytes are: a byte range of a file on disk. Plain data, so a worker thread
 * can open it as well as the main thread.
 */
export interface LayerLocation {
  /** File holding the blob. */
  file: string;
  /** First byte of the blob in that file. */
  start: number;
  /** Length in bytes, or null for "to the end of the file". */
  length: number | null;
}

/**
 * One layer, base first. `digest` names the stored (possibly compressed) blob and is verified
 * while it streams; `diffId` names the uncompressed tar and is verified when `digest` is not
 * known (docker-archive's layer.tar files).
 */
export interface Layer {
  digest: string | null;
  diffId: string | null;
  mediaType: string;
  size: number | null;
  /** Human-readable name for messages: `layer sha256:abcd… of oci:path`. */
  where: string;
  location: LayerLocation;
}

/** An image resolved to one platform: manifest, config and layers. */
export interface Image {
  /** The reference as the user gave it. */
  ref: string;
  transport: string;
  manifestDigest: string | null;
  configDigest: string | null;
  config: ImageConfig | null;
  layers: Layer[];
  /** Platform from the index entry or the config. */
  platform: Platform | null;
  /** For `dir:` images: the root filesystem to walk instead of layers. */
  rootDir?: string;
  /** Platforms present in the index the image came from (for messages and facts). */
  indexPlatforms?: string[];
}
