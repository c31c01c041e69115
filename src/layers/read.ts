import { availableParallelism } from 'node:os';
import type { Image } from '../image/types.js';
import { scanDirectory } from './dir-scan.js';
import { scanLayer, type LayerTask } from './scan.js';
import type { LayerScan } from './types.js';

/** Options for reading an image's layers. */
export interface ReadOptions {
  /** How many layers to stream at once; default: up to 4 (inflation runs on libuv's thread pool, which has 4 threads). 1 reads serially. */
  parallel?: number;
}

/** Run tasks with at most `limit` in flight; results in input order; the first failure wins. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed: unknown = null;
  const worker = async () => {
    while (next < items.length && failed === null) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!);
      } catch (e) {
        if (failed === null) failed = e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed !== null) throw failed;
  return out;
}

/**
 * Stream every layer of an image once (in parallel where cores allow; layers are independent
 * until whiteouts are applied, so results equal a serial read) and return the scans base first.
 */
export async function readLayers(image: Image, opts: ReadOptions = {}): Promise<LayerScan[]> {
  if (image.rootDir !== undefined) return [await scanDirectory(image.rootDir)];
  const tasks: LayerTask[] = image.layers.map((l, index) => ({
    index,
    location: l.location,
    digest: l.digest,
    diffId: l.diffId,
    where: l.where,
  }));
  const limit = opts.parallel ?? Math.max(2, Math.min(4, availableParallelism() * 2));
  return mapLimit(tasks, limit, scanLayer);
}
