import { availableParallelism } from 'node:os';
import type { FactsCache } from '../cache/facts-cache.js';
import { scanFingerprint } from '../cache/fingerprint.js';
import { layerKey } from '../cache/layer-entry.js';
import type { Image, Layer } from '../image/types.js';
import { Budget } from '../limits.js';
import { mapLimit } from '../util/limit.js';
import { scanTree } from './dir-scan.js';
import { scanBlob } from './scan.js';
import type { LayerScan } from './types.js';
import type { WantSet } from './wants.js';

export { mapLimit };

/** Options for reading an image's layers. */
export interface ReadOptions {
  /** How many layers to stream at once; default: up to 4 (inflation runs on libuv's thread pool, which has 4 threads). 1 reads serially. */
  parallel?: number | undefined;
  /**
   * The layer-facts cache: a layer named by a digest is looked up first and, on a miss, put after
   * the walker verified it. Null or absent: every layer is read.
   */
  cache?: FactsCache | null | undefined;
  /**
   * Told once per distinct layer as its scan is ready (a layer listed twice is told once, at its
   * first position): `cached` when it came from the cache, `read` when it was streamed or listed.
   */
  onLayer?: ((index: number, how: 'cached' | 'read', scan: LayerScan) => void) | undefined;
}

/** The image-wide entries budget, counting what one layer takes of it (what a cached layer must take again). */
class LayerBudget extends Budget {
  /** Entries this layer took. */
  count = 0;
  constructor(private readonly shared: Budget) {
    super(shared.key);
  }
  override take(where: string, n = 1): void {
    this.count += n;
    this.shared.take(where, n);
  }
}

/** Scan one layer of either kind: a blob streams through the tar walker, a tree is listed from disk. */
export function scanLayer(layer: Layer, index: number, wants: WantSet, budget: Budget = new Budget('entries')): Promise<LayerScan> {
  return layer.kind === 'blob' ? scanBlob(layer, index, wants, budget) : scanTree(layer.root, index, wants, { budget });
}

/**
 * What names a layer's stored bytes: its digest, or the source's sameAs key (the same archive member
 * checked against the same diff_id). A diff_id alone is a claim about content, so two different
 * layer files claiming one (a classic docker-archive) are each read. Null: read it on its own.
 */
function bytesKey(l: Layer): string | null {
  return l.kind === 'blob' ? (l.digest ?? l.sameAs ?? null) : null;
}

/**
 * Read every layer of an image once (in parallel where cores allow; layers are independent until
 * whiteouts are applied, so results equal a serial read) and return the scans base first. A layer
 * listed twice in one manifest is read once. With a cache, a layer named by a digest whose facts
 * were kept under the same wants and limits is not read at all; its entries still count against
 * the entries limit, so limits behave as for a read.
 */
export async function readLayers(image: Image, wants: WantSet, opts: ReadOptions = {}): Promise<LayerScan[]> {
  const limit = opts.parallel ?? Math.max(2, Math.min(4, availableParallelism() * 2));
  const first = new Map<string, number>();
  const unique: number[] = [];
  image.layers.forEach((l, i) => {
    const key = bytesKey(l);
    if (key !== null && first.has(key)) return;
    if (key !== null) first.set(key, i);
    unique.push(i);
  });
  const budget = new Budget('entries'); // one count for all the image's layers
  const cache = opts.cache ?? null;
  const fingerprint = cache ? scanFingerprint(wants) : '';
  // Cache writes wait until every layer is read: an image that fails (a corrupt layer, a dropped
  // registry) leaves nothing behind, not even the facts of its good layers.
  const verified: (() => void)[] = [];
  const one = async (i: number): Promise<LayerScan> => {
    const layer = image.layers[i]!;
    const key = cache && layer.kind === 'blob' ? layerKey(layer, fingerprint) : null;
    if (cache && key && layer.kind === 'blob') {
      const hit = cache.getScan(key, i);
      // A descriptor size the verified bytes do not have is the walker's error to report: read it.
      if (hit && (layer.size === null || hit.scan.bytes.stored === layer.size)) {
        budget.take(layer.where, hit.tarEntries);
        opts.onLayer?.(i, 'cached', hit.scan);
        return hit.scan;
      }
      const counted = new LayerBudget(budget);
      const scan = await scanBlob(layer, i, wants, counted);
      verified.push(() => cache.putScan(key, scan, counted.count)); // the walker verified the layer; kept once every layer has
      opts.onLayer?.(i, 'read', scan);
      return scan;
    }
    const scan = await scanLayer(layer, i, wants, budget);
    opts.onLayer?.(i, 'read', scan);
    return scan;
  };
  const scans = await mapLimit(unique, limit, one);
  for (const put of verified) put();
  const byIndex = new Map(unique.map((i, k) => [i, scans[k]!]));
  return image.layers.map((l, i) => {
    const own = byIndex.get(i);
    if (own) return own;
    return { ...byIndex.get(first.get(bytesKey(l)!)!)!, index: i };
  });
}
