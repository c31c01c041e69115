/**
 * The receiving end of layer blobs, on a worker thread: HTTP parsing, TLS decryption and the
 * garbage of socket-sized buffers stay off the main thread, which then gets 1 MiB chunks (moved, not
 * copied) as it would from a file. The main thread authenticates first (client.ts) and hands over
 * the URL and headers; this thread follows redirects, resumes a dropped connection with a Range
 * request, and sends a chunk only when the main thread has room for it (a credit per chunk).
 *
 * Messages in: `open` {id, url, headers, tls, size, timeoutMs, retries}, `ack` {id} (one chunk
 * consumed), `cancel` {id}. Out: `data` {id, chunk}, `end` {id}, `retry` {id, offset, what},
 * `fail` {id, code, message, status}.
 */
import type { IncomingMessage } from 'node:http';
import { parentPort } from 'node:worker_threads';
import { isTransient, makeTransport, send, type Transport } from './http.js';
import { Gatherer, rangeMismatch, readAnswer } from './gather.js';
import type { TlsSettings } from './tls.js';

/** What the main thread asks for. */
export interface OpenMessage {
  type: 'open';
  id: number;
  /** The registry client asking (one transport per client here: each has its own TLS trust). */
  client: number;
  host: string;
  url: string;
  headers: Record<string, string>;
  tls: TlsSettings | null;
  plainHttp: boolean;
  size: number | null;
  timeoutMs: number;
  retries: number;
}

/** What this thread tells the main thread. */
export type WorkerMessage =
  | { type: 'data'; id: number; chunk: ArrayBuffer }
  | { type: 'end'; id: number }
  | { type: 'retry'; id: number; offset: number; what: string }
  | { type: 'fail'; id: number; code: string; message: string; status: number | null };

const CHUNK = 1024 * 1024;
/** Chunks in flight before this thread waits for an ack. */
const CREDITS = 4;

const transports = new Map<string, Transport>();

/** One blob being received. */
class Receive {
  private readonly bytes = new Gatherer(CHUNK, (parts, length) => this.send(parts, length));
  private credits = CREDITS;
  private resumes = 0;
  private res: IncomingMessage | null = null;
  private cancelled = false;

  constructor(
    private readonly m: OpenMessage,
    private readonly t: Transport,
    private readonly post: (msg: WorkerMessage, transfer?: ArrayBuffer[]) => void,
  ) {}

  async start(): Promise<void> {
    for (;;) {
      let res: IncomingMessage;
      try {
        res = await send(this.t, { method: 'GET', url: this.m.url, headers: { ...this.m.headers, ...(this.bytes.offset > 0 ? { range: `bytes=${this.bytes.offset}-` } : {}) } }, 'blob');
      } catch (e) {
        return this.fail(e);
      }
      if (this.cancelled) return void res.destroy();
      const status = res.statusCode ?? 0;
      const offset = this.bytes.offset;
      if (status === 416 && this.m.size !== null && offset >= this.m.size) {
        res.resume();
        return this.finish();
      }
      if (!(status === 200 || (status === 206 && offset > 0))) {
        res.resume();
        return this.post({ type: 'fail', id: this.m.id, code: 'HTTP', message: `HTTP ${status}`, status });
      }
      this.bytes.restart(status === 200);
      const wrong = status === 206 ? rangeMismatch(res, offset) : null;
      if (wrong) {
        res.destroy();
        return this.post({ type: 'fail', id: this.m.id, code: 'RANGE', message: wrong, status: null });
      }
      const outcome = await this.pump(res);
      if (outcome === 'done' || this.cancelled) return;
      const e = outcome.error;
      if (!isTransient(e) || this.resumes >= Math.max(1, this.m.retries)) return this.fail(e);
      this.resumes++;
      this.post({ type: 'retry', id: this.m.id, offset: this.bytes.offset, what: `resuming at byte ${this.bytes.offset}` });
    }
  }

  /** Read one answer to its end (or its failure), pausing and resuming it by credits. */
  private async pump(res: IncomingMessage): Promise<'done' | { error: unknown }> {
    this.res = res;
    const outcome = await readAnswer(res, this.bytes, this.m.size);
    this.res = null;
    if (outcome === 'done') this.finish();
    return outcome;
  }

  /** Send a gathered chunk (copied into a fresh ArrayBuffer, which moves to the main thread). */
  private send(parts: Buffer[], length: number): void {
    const ab = new ArrayBuffer(length);
    const view = new Uint8Array(ab);
    let at = 0;
    for (const p of parts) {
      view.set(p, at);
      at += p.length;
    }
    this.post({ type: 'data', id: this.m.id, chunk: ab }, [ab]);
    if (--this.credits <= 0) this.res?.pause();
  }

  private finish(): void {
    this.bytes.flush();
    this.post({ type: 'end', id: this.m.id });
  }

  private fail(e: unknown): void {
    const err = e as NodeJS.ErrnoException;
    // A RegistryError from the transport (a redirect loop, a refused connection after retries) keeps its message; the rest are network errors mapped on the main thread.
    this.post({ type: 'fail', id: this.m.id, code: err?.name === 'TimeoutError' ? 'ETIMEDOUT' : (err?.code ?? (err?.name === 'RegistryError' ? 'EWORKER' : 'ERR')), message: String(err?.message ?? e), status: null });
  }

  ack(): void {
    this.credits++;
    if (this.credits > 0) this.res?.resume();
  }

  cancel(): void {
    this.cancelled = true;
    this.res?.destroy();
  }
}

/** TLS settings as they arrive (structured clone makes Buffers plain Uint8Arrays), with Buffers again. */
function asBuffers(t: TlsSettings): TlsSettings {
  const b = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  return { rejectUnauthorized: t.rejectUnauthorized, ...(t.ca ? { ca: t.ca.map(b) } : {}), ...(t.cert ? { cert: b(t.cert) } : {}), ...(t.key ? { key: b(t.key) } : {}) };
}

if (parentPort) {
  const port = parentPort;
  const receives = new Map<number, Receive>();
  const post = (msg: WorkerMessage, transfer?: ArrayBuffer[]) => {
    if (msg.type === 'end' || msg.type === 'fail') receives.delete(msg.id);
    port.postMessage(msg, transfer ?? []);
  };
  port.on('message', (m: OpenMessage | { type: 'ack' | 'cancel'; id: number }) => {
    if (m.type === 'open') {
      const key = String(m.client);
      let t = transports.get(key);
      if (!t) {
        t = makeTransport(m.host, { tls: m.tls ? asBuffers(m.tls) : undefined, plainHttp: m.plainHttp, timeoutMs: m.timeoutMs, retries: m.retries });
        transports.set(key, t);
      }
      const r = new Receive(m, t, post);
      receives.set(m.id, r);
      void r.start();
    } else if (m.type === 'ack') receives.get(m.id)?.ack();
    else receives.get(m.id)?.cancel();
  });
}
