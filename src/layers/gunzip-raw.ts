import { Duplex, type Transform } from 'node:stream';
import { createGunzip, createInflateRaw, type InflateRaw, type ZlibOptions } from 'node:zlib';

/**
 * gzip decoding without zlib's CRC-32, for blobs whose SHA-256 digest is verified anyway: the
 * first member's deflate data goes to a raw inflater (zlib computes no check value then, about
 * 12% less inflate work); its trailer's ISIZE is still checked. Anything after the first member
 * (more members, as in eStargz, or trailing garbage) is handed to a plain createGunzip, which
 * decodes or rejects it exactly as before. Errors are zlib's own (same messages and codes).
 * Only for streams whose stored digest is checked before any result is used: a flipped bit
 * in the data shows up as a digest mismatch instead of "incorrect data check".
 */

const FTEXT_MASK = 0xe0; // reserved flag bits
const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;

function zerr(message: string, code: string): Error {
  const e = new Error(message) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

/** Length of the gzip header at the start of `b`, 0 when incomplete; throws on a bad header. */
function headerLength(b: Buffer): number {
  if (b.length >= 1 && b[0] !== 0x1f) throw zerr('incorrect header check', 'Z_DATA_ERROR');
  if (b.length >= 2 && b[1] !== 0x8b) throw zerr('incorrect header check', 'Z_DATA_ERROR');
  if (b.length >= 3 && b[2] !== 8) throw zerr('unknown compression method', 'Z_DATA_ERROR');
  if (b.length < 10) return 0;
  const flg = b[3]!;
  if (flg & FTEXT_MASK) throw zerr('unknown header flags set', 'Z_DATA_ERROR');
  let at = 10;
  if (flg & FEXTRA) {
    if (b.length < at + 2) return 0;
    at += 2 + b.readUInt16LE(at);
  }
  for (const f of [FNAME, FCOMMENT]) {
    if (!(flg & f)) continue;
    const z = b.indexOf(0, at);
    if (z < 0) return 0;
    at = z + 1;
  }
  if (flg & FHCRC) at += 2;
  return b.length >= at ? at : 0;
}

type Mode = 'header' | 'body' | 'trailer' | 'after' | 'fallback' | 'ignore';

class RawGunzip extends Duplex {
  private mode: Mode = 'header';
  private head: Buffer = Buffer.alloc(0);
  private inflater: InflateRaw | null = null;
  /** Chunks written to the inflater not yet known to be consumed, and the input offset of the first. */
  private pending: Buffer[] = [];
  private pendingAt = 0;
  private outBytes = 0;
  private tail: Buffer = Buffer.alloc(0);
  private fallback: Transform | null = null;
  private paused: (Duplex | Transform) | null = null;
  private writeCb: ((e?: Error | null) => void) | null = null;
  private finalCb: ((e?: Error | null) => void) | null = null;

  constructor(private readonly zopts: ZlibOptions) {
    super({ writableHighWaterMark: (zopts as { writableHighWaterMark?: number }).writableHighWaterMark ?? 16384 });
  }

  override _read(): void {
    const p = this.paused;
    if (p) {
      this.paused = null;
      p.resume();
    }
  }

  private forward(src: Duplex | Transform, chunk: Buffer): void {
    if (!this.push(chunk) && !this.paused) {
      this.paused = src;
      src.pause();
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    try {
      this.input(chunk, cb);
    } catch (e) {
      cb(e as Error);
    }
  }

  private input(chunk: Buffer, cb: (e?: Error | null) => void): void {
    switch (this.mode) {
      case 'header': {
        const b = this.head.length ? Buffer.concat([this.head, chunk]) : chunk;
        const n = headerLength(b);
        if (n === 0) {
          this.head = Buffer.from(b);
          cb();
          return;
        }
        this.head = Buffer.alloc(0);
        this.startBody();
        const rest = b.subarray(n);
        if (rest.length) this.toInflater(rest, cb);
        else cb();
        return;
      }
      case 'body':
        this.toInflater(chunk, cb);
        return;
      case 'trailer':
        this.tail = this.tail.length ? Buffer.concat([this.tail, chunk]) : chunk;
        this.afterTrailer();
        cb();
        return;
      case 'after':
        this.afterMember(chunk);
        cb();
        return;
      case 'fallback':
        if (this.fallback!.write(chunk)) cb();
        else this.fallback!.once('drain', () => cb());
        return;
      case 'ignore':
        cb();
        return;
    }
  }

  private startBody(): void {
    const inf = createInflateRaw({ chunkSize: this.zopts.chunkSize });
    this.inflater = inf;
    this.mode = 'body';
    inf.on('data', (d: Buffer) => {
      this.outBytes += d.length;
      this.trimPending(inf.bytesWritten);
      this.forward(inf, d);
    });
    inf.on('error', (e) => this.destroy(e));
    inf.on('end', () => this.memberEnd(inf));
  }

  private toInflater(b: Buffer, cb: (e?: Error | null) => void): void {
    this.pending.push(b);
    if (this.inflater!.write(b)) cb();
    else {
      this.writeCb = cb;
      this.inflater!.once('drain', () => this.releaseWrite());
    }
  }

  private releaseWrite(): void {
    const cb = this.writeCb;
    this.writeCb = null;
    cb?.();
  }

  private trimPending(consumed: number): void {
    while (this.pending.length && this.pendingAt + this.pending[0]!.length <= consumed) {
      this.pendingAt += this.pending.shift()!.length;
    }
  }

  /** The deflate stream ended: what the inflater did not consume is the trailer and beyond. */
  private memberEnd(inf: InflateRaw): void {
    if (this.inflater !== inf) return;
    const consumed = inf.bytesWritten;
    this.trimPending(consumed);
    const parts = this.pending;
    if (parts.length) parts[0] = parts[0]!.subarray(consumed - this.pendingAt);
    this.pending = [];
    this.inflater = null;
    this.tail = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    this.mode = 'trailer';
    try {
      this.afterTrailer();
    } catch (e) {
      this.destroy(e as Error);
      return;
    }
    this.finishFinal(); // when _final came first
    this.releaseWrite(); // (may call _final)
  }

  private afterTrailer(): void {
    if (this.tail.length < 8) return;
    if (this.tail.readUInt32LE(4) !== this.outBytes % 0x100000000) throw zerr('incorrect length check', 'Z_DATA_ERROR');
    const rest = this.tail.subarray(8);
    this.tail = Buffer.alloc(0);
    this.mode = 'after';
    if (rest.length) this.afterMember(rest);
  }

  /** Bytes after a complete member: zero padding is ignored; anything else goes to createGunzip (more members, or garbage it rejects). */
  private afterMember(b: Buffer): void {
    if (b[0] === 0x00) {
      this.mode = 'ignore';
      return;
    }
    const g = createGunzip(this.zopts);
    this.fallback = g;
    this.mode = 'fallback';
    g.on('data', (d: Buffer) => this.forward(g, d));
    g.on('error', (e) => this.destroy(e));
    g.write(b);
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.finalCb = cb;
    if (this.mode === 'body') this.inflater!.end(); // its 'end' (or error) continues
    else this.finishFinal();
  }

  private finishFinal(): void {
    const cb = this.finalCb;
    if (!cb || this.mode === 'body') return; // not ended yet, or waiting for the inflater
    this.finalCb = null;
    switch (this.mode) {
      case 'header':
      case 'trailer':
        cb(zerr('unexpected end of file', 'Z_BUF_ERROR'));
        return;
      case 'fallback': {
        const g = this.fallback!;
        g.once('end', () => {
          this.push(null);
          cb();
        });
        g.end();
        return;
      }
      default:
        this.push(null);
        cb();
    }
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.inflater?.destroy();
    this.fallback?.destroy();
    cb(err);
  }
}

/** A gzip decoder that skips the CRC-32 (see the module comment); a Transform-compatible Duplex. */
export function createGunzipNoCrc(opts: ZlibOptions): Transform {
  return new RawGunzip(opts) as unknown as Transform;
}
