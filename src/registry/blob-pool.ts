/**
 * The main thread's side of the blob worker (blob-worker.ts): one worker for the process, started on
 * the first blob, referenced only while a blob is being received (so it never holds the process
 * open, and never lets it exit mid-blob). Each blob is a Readable of 1 MiB chunks moved from the
 * worker; a chunk consumed gives the worker a credit for the next.
 */
import { existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { OpenMessage, WorkerMessage } from './blob-worker.js';

/** How a blob ended before its first byte: nothing (it started), or why not. */
export type Started = null | { status: number | null; code: string; message: string };

/** A blob received on the worker. `started` settles at the first chunk, the end, or a failure. */
export class WorkerBlob extends Readable {
  owed = 0;
  readonly started: Promise<Started>;
  private settle: ((s: Started) => void) | null = null;

  constructor(
    private readonly pool: BlobPool,
    readonly id: number,
    readonly onRetry: (text: string) => void,
    /** The error to end the stream with when the worker gives up mid-blob. */
    private readonly failure: (f: NonNullable<Started>) => Error,
  ) {
    // Object mode: read() hands on one chunk as it came, never a concatenation of the queued ones (a copy).
    super({ objectMode: true, highWaterMark: 4 });
    this.started = new Promise((resolve) => (this.settle = resolve));
  }

  /** A message from the worker for this blob. */
  deliver(m: WorkerMessage): void {
    if (m.type === 'data') {
      this.settle?.(null);
      this.settle = null;
      if (this.push(Buffer.from(m.chunk))) this.pool.ack(this.id);
      else this.owed++;
    } else if (m.type === 'end') {
      this.settle?.(null);
      this.settle = null;
      this.push(null);
    } else if (m.type === 'retry') {
      this.onRetry(m.what);
    } else {
      const why = { status: m.status, code: m.code, message: m.message };
      if (this.settle) {
        this.settle(why);
        this.settle = null;
        return;
      }
      this.destroy(this.failure(why));
    }
  }

  override _read(): void {
    for (; this.owed > 0; this.owed--) this.pool.ack(this.id);
  }

  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    this.pool.cancel(this.id);
    cb(err);
  }
}

/** The one worker and the blobs it is receiving. */
class BlobPool {
  private next = 1;
  private readonly blobs = new Map<number, WorkerBlob>();

  constructor(private readonly worker: Worker) {
    worker.unref();
    worker.on('message', (m: WorkerMessage) => {
      const b = this.blobs.get(m.id);
      if (!b) return;
      if (m.type === 'end' || (m.type === 'fail' && !(b.destroyed))) this.done(m.id);
      b.deliver(m);
    });
    worker.on('error', (e) => {
      for (const b of this.blobs.values()) b.deliver({ type: 'fail', id: b.id, code: 'EWORKER', message: `the blob worker failed: ${e.message}`, status: null });
      this.blobs.clear();
      worker.unref();
      pool = null;
    });
  }

  /** Start receiving a blob. */
  open(m: Omit<OpenMessage, 'type' | 'id'>, onRetry: (text: string) => void, failure: (f: NonNullable<Started>) => Error): WorkerBlob {
    const id = this.next++;
    const b = new WorkerBlob(this, id, onRetry, failure);
    if (this.blobs.size === 0) this.worker.ref();
    this.blobs.set(id, b);
    this.worker.postMessage({ type: 'open', id, ...m } satisfies OpenMessage);
    return b;
  }

  ack(id: number): void {
    this.worker.postMessage({ type: 'ack', id });
  }

  cancel(id: number): void {
    if (!this.blobs.has(id)) return;
    this.worker.postMessage({ type: 'cancel', id });
    this.done(id);
  }

  private done(id: number): void {
    this.blobs.delete(id);
    if (this.blobs.size === 0) this.worker.unref();
  }
}

let pool: BlobPool | null = null;
let unavailable = false;

/**
 * The blob worker, started on first use; null when blobs are read on the main thread: when
 * `CONTAINERSPEC_BLOB_WORKER=0`, or when the compiled worker is not there (the sources run
 * uncompiled, as in the test runner's own process).
 */
export function blobWorker(): BlobPool | null {
  if (pool) return pool;
  if (unavailable || process.env.CONTAINERSPEC_BLOB_WORKER === '0') return null;
  const file = new URL('./blob-worker.js', import.meta.url);
  if (!existsSync(fileURLToPath(file))) {
    unavailable = true;
    return null;
  }
  pool = new BlobPool(new Worker(file));
  return pool;
}
