import { availableParallelism } from 'node:os';
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
  parallel?: number;
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
 * listed twice in one manifest is read once.
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
  const scans = await mapLimit(unique, limit, (i) => scanLayer(image.layers[i]!, i, wants, budget));
  const byIndex = new Map(unique.map((i, k) => [i, scans[k]!]));
  return image.layers.map((l, i) => {
    const own = byIndex.get(i);
    if (own) return own;
    return { ...byIndex.get(first.get(bytesKey(l)!)!)!, index: i };
  });
}
