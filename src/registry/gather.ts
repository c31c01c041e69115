/**
 * The bytes of one blob as they arrive over answers: socket chunks gathered into chunks of about
 * `size` bytes, the position reached (where a Range request resumes), and the bytes to skip when a
 * server answers a Range request with the whole blob. Shared by the main-thread stream (client.ts)
 * and the blob worker (blob-worker.ts), which differ only in how a gathered chunk is handed on.
 */
import type { IncomingMessage } from 'node:http';

export class Gatherer {
  /** Bytes of the blob received so far (kept or handed on). */
  offset = 0;
  private skip = 0;
  private parts: Buffer[] = [];
  private held = 0;

  constructor(
    private readonly size: number,
    /** Called with the parts of each gathered chunk (at least `size` bytes, or the rest at the end) and their length. */
    private readonly emit: (parts: Buffer[], length: number) => void,
  ) {}

  /** A new answer begins: a full one (200) repeats what already arrived, which is skipped. */
  restart(full: boolean): void {
    this.skip = full ? this.offset : 0;
  }

  /** A socket chunk arrived. */
  add(c: Buffer): void {
    let chunk = c;
    if (this.skip > 0) {
      if (chunk.length <= this.skip) {
        this.skip -= chunk.length;
        return;
      }
      chunk = chunk.subarray(this.skip);
      this.skip = 0;
    }
    this.offset += chunk.length;
    this.parts.push(chunk);
    this.held += chunk.length;
    if (this.held >= this.size) this.flush();
  }

  /** Hand on what is held (at the end of the blob). */
  flush(): void {
    if (this.held === 0) return;
    const parts = this.parts;
    const length = this.held;
    this.parts = [];
    this.held = 0;
    this.emit(parts, length);
  }
}

/**
 * What is wrong with a partial answer (206) to a Range request from `offset`: its Content-Range
 * starts elsewhere. Null when it starts there.
 */
export function rangeMismatch(res: IncomingMessage, offset: number): string | null {
  const m = /bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
  return m && Number(m[1]) === offset ? null : `resumed at the wrong offset (${String(res.headers['content-range'])}, wanted ${offset})`;
}

/**
 * Read one answer into `bytes` to its end: 'done', or the error that ended it early (an error
 * event, a connection closed before the end, or fewer bytes than the blob's `size`, all of which a
 * Range request may resume).
 */
export function readAnswer(res: IncomingMessage, bytes: Gatherer, size: number | null): Promise<'done' | { error: unknown }> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (v: 'done' | { error: unknown }) => {
      if (settled) return;
      settled = true;
      if (v !== 'done') res.destroy();
      resolve(v);
    };
    res.on('data', (c: Buffer) => bytes.add(c));
    res.on('end', () => {
      const got = bytes.offset;
      if (size !== null && got < size) settle({ error: Object.assign(new Error(`the connection closed after ${got} of ${size} bytes`), { code: 'ECONNRESET' }) });
      else settle('done');
    });
    res.on('error', (e) => settle({ error: e }));
    res.on('close', () => {
      if (!res.complete) settle({ error: Object.assign(new Error('aborted'), { code: 'ECONNRESET' }) });
    });
  });
}
