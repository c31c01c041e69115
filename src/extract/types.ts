/**
 * The extractor interface: each extractor is one module that declares what it wants from the
 * walk (paths, patterns, ELF, string scans) and turns what it got (the squashed view) into facts.
 * Extractors run in the order of the registry (`index.ts`); a later one may read what an earlier one
 * found. Adding an extractor touches its own file and that list, nothing else.
 */
import type { ImageConfig, Platform } from '../image/types.js';
import type { ImageView, ViewEntry } from '../layers/view.js';
import type { Wants } from '../layers/wants.js';
import type {
  CudaFacts, FactWarning, LibcFacts, MpiFact, OsFacts, PermissionFacts, PlatformFacts, Requirements,
} from '../model/facts.js';
import type { InstalledPackage } from './package-db.js';

/** What an extractor reads: the squashed view and the image's config. */
export interface ExtractInput {
  readonly view: ImageView;
  /** Whether this is an image or a host root ("the host is just another root filesystem"). */
  readonly kind: 'image' | 'host';
  /** The image config (null for dir:, tar: and host roots). */
  readonly config: ImageConfig | null;
  /** The platform the index entry or the config names (null when neither does). */
  readonly platform: Platform | null;
}

/** What the extractors found: typed slots, each filled by the extractor that owns it. */
export interface Found {
  platform: PlatformFacts;
  os: OsFacts;
  libc: LibcFacts;
  mpi: MpiFact[];
  cuda: CudaFacts;
  labels: Record<string, string>;
  env: Record<string, string>;
  requires: Requirements;
  permissions: PermissionFacts;
  sonames: string[];
  stats: { files: number; elfFiles: number };
  warnings: FactWarning[];
  /** Installed packages (dpkg, apk), for version fallbacks. */
  packages: Map<string, InstalledPackage>;
  /** The libc shared object the libc extractor settled on (its ELF ABI tag gives the minimum kernel). */
  libcFile: { path: string; entry: ViewEntry } | null;
}

/** One extractor. */
export interface Extractor {
  /** Unique name, used in messages and to own its scan rules. */
  readonly name: string;
  /** Which roots it runs on (default: both images and hosts). */
  readonly kinds?: readonly ('image' | 'host')[];
  /** What it wants kept from file contents while the layers stream. */
  readonly wants: Wants;
  /** Turn the view (and what earlier extractors found) into facts, writing its own slots of `found`. */
  run(input: ExtractInput, found: Found): void;
}
