/**
 * A push tar parser for the layer walker: synchronous, no stream or promise per entry.
 * Feed decoded chunks in order with {@link TarParser.push}, then call {@link TarParser.end}.
 * Header decoding follows tar-stream 3.x (`headers.decode`, `decodePax`, the extractor's long
 * header handling) so that entries come out exactly as they did: ustar prefix, GNU long
 * names and links, PAX records (path, linkpath, size; a global header is merged into later
 * local ones), base-256 numbers; the same errors
 * (bad checksum, unknown format, oversized long header, invalid size, unexpected end of data).
 */
import { dict } from '../util/own.js';


/** An entry's header as the walker needs it (tar-stream's field names and type strings). */
export interface TarHeader {
  name: string;
  type: string | null;
  mode: number | null;
  uid: number | null;
  gid: number | null;
  /** Size from the header (or PAX `size`); `null` for an invalid base-256 field. */
  size: number | null;
  linkname: string | null;
  pax: Record<string, string> | null;
}

/** What the parser calls while walking. Exceptions thrown by these propagate out of push(). */
export interface TarHandler {
  /**
   * A new entry. Return true to receive its data (only called for entries that have data),
   * false to have it skipped without any call.
   */
  entry(h: TarHeader): boolean;
  /** The next bytes of the current entry's data (a view of the caller's chunk: copy what you keep). Return false to skip the rest. */
  data(chunk: Buffer): boolean;
  /** The current entry (one for which entry() returned true) is complete. */
  end(): void;
}

const MAX_HEADER_SIZE = 4 * 1024 * 1024; // as tar-stream

function toType(flag: number): string | null {
  switch (flag) {
    case 0: return 'file';
    case 1: return 'link';
    case 2: return 'symlink';
    case 3: return 'character-device';
    case 4: return 'block-device';
    case 5: return 'directory';
    case 6: return 'fifo';
    case 7: return 'contiguous-file';
    case 72: return 'pax-header';
    case 55: return 'pax-global-header';
    case 27: return 'gnu-long-link-path';
    case 28:
    case 30: return 'gnu-long-path';
  }
  return null;
}

function indexOf(b: Uint8Array, v: number, from: number, end: number): number {
  for (; from < end; from++) if (b[from] === v) return from;
  return end;
}

function decodeStr(b: Buffer, off: number, len: number): string {
  return b.toString('utf8', off, indexOf(b, 0, off, off + len));
}

function parse256(b: Uint8Array, off: number, len: number): number | null {
  let positive: boolean;
  if (b[off] === 0x80) positive = true;
  else if (b[off] === 0xff) positive = false;
  else return null;
  let sum = 0;
  let mul = 1;
  for (let i = off + len - 1; i > off; i--) {
    const byte = b[i]!;
    sum += (positive ? byte : 0xff - byte) * mul;
    mul *= 256;
  }
  return positive ? sum : -1 * sum;
}

/** tar-stream's decodeOct: base-256, or octal digits after leading spaces and NULs up to the first space. */
function decodeOct(b: Buffer, off: number, len: number): number | null {
  if (b[off]! & 0x80) return parse256(b, off, len);
  const stop = off + len;
  let i = off;
  while (i < stop && b[i] === 32) i++;
  const end = indexOf(b, 32, i, stop);
  while (i < end && b[i] === 0) i++;
  if (end === i) return 0;
  const c = b[i]!;
  if (c >= 0x30 && c <= 0x37) {
    // parseInt(s, 8) stops at the first non-octal character: the same number, without the string
    let n = 0;
    for (; i < end; i++) {
      const d = b[i]! - 0x30;
      if (d < 0 || d > 7) break;
      n = n * 8 + d;
    }
    return n;
  }
  return parseInt(b.toString('utf8', i, end), 8);
}

function cksum(b: Uint8Array, off: number): number {
  let sum = 8 * 32;
  for (let i = off; i < off + 148; i++) sum += b[i]!;
  for (let j = off + 156; j < off + 512; j++) sum += b[j]!;
  return sum;
}

function isMagic(b: Uint8Array, off: number, last: number): boolean {
  // "ustar" + last at 257..262
  return b[off + 257] === 0x75 && b[off + 258] === 0x73 && b[off + 259] === 0x74 && b[off + 260] === 0x61 && b[off + 261] === 0x72 && b[off + 262] === last;
}

/** Decode one 512-byte header at b[off..off+512); null for an all-zero block. Throws as tar-stream does. */
export function decodeHeader(b: Buffer, off: number): TarHeader | null {
  const c = cksum(b, off);
  if (c === 8 * 32) return null;
  if (c !== decodeOct(b, off + 148, 8)) throw new Error('Invalid tar header. Maybe the tar is corrupted or it needs to be gunzipped?');
  const typeflag = b[off + 156] === 0 ? 0 : b[off + 156]! - 0x30;
  let name = decodeStr(b, off, 100);
  if (isMagic(b, off, 0x00)) {
    if (b[off + 345]) name = decodeStr(b, off + 345, 155) + '/' + name;
  } else if (isMagic(b, off, 0x20) && b[off + 263] === 0x20 && b[off + 264] === 0x00) {
    // GNU / old GNU
  } else {
    throw new Error('Invalid tar header: unknown format.');
  }
  // (tar-stream also turns typeflag 0 with a trailing slash into 5, but after taking the type
  // string, so it has no effect: such an entry stays a 'file', and so it does here.)
  return {
    name,
    type: toType(typeflag),
    mode: decodeOct(b, off + 100, 8),
    uid: decodeOct(b, off + 108, 8),
    gid: decodeOct(b, off + 116, 8),
    size: decodeOct(b, off + 124, 12),
    linkname: b[off + 157] === 0 ? null : decodeStr(b, off + 157, 100),
    pax: null,
  };
}

/**
 * tar-stream's decodePax, with the record length checked: digits only, longer than its own prefix,
 * within the buffer (a negative or absurd length ends the records, where tar-stream could loop).
 * Keys land in an object without a prototype.
 */
export function decodePax(buf: Buffer): Record<string, string> {
  const result = dict<string>();
  while (buf.length) {
    let i = 0;
    while (i < buf.length && buf[i] !== 32) i++;
    const text = buf.toString('latin1', 0, i);
    if (!/^[0-9]{1,9}$/.test(text)) return result;
    const len = Number(text);
    if (len <= i + 1 || len > buf.length) return result;
    const b = buf.subarray(i + 1, len - 1).toString('utf8');
    const keyIndex = b.indexOf('=');
    if (keyIndex === -1) return result;
    result[b.slice(0, keyIndex)] = b.slice(keyIndex + 1);
    buf = buf.subarray(len);
  }
  return result;
}

const enum State {
  Header,
  Data,
  Long,
  Skip,
}

/** The push parser; see the module comment. */
export class TarParser {
  private state = State.Header;
  /** Bytes still to come in the current Data / Long / Skip state. */
  private missing = 0;
  /** Padding after the current entry's data. */
  private pad = 0;
  private readonly hbuf = Buffer.allocUnsafe(512);
  private hlen = 0;
  private long: Buffer | null = null;
  private longLen = 0;
  private longType: string | null = null;
  /** The current entry was accepted by the handler (it gets end()); `wants`: it still gets data. */
  private accepted = false;
  private wants = false;
  private pax: Record<string, string> | null = null;
  private paxGlobal: Record<string, string> | null = null;
  private gnuLongPath: string | null = null;
  private gnuLongLinkPath: string | null = null;

  constructor(private readonly handler: TarHandler) {}

  push(chunk: Buffer): void {
    let off = 0;
    const n = chunk.length;
    while (off < n) {
      switch (this.state) {
        case State.Header: {
          if (this.hlen === 0 && n - off >= 512) {
            this.header(chunk, off);
            off += 512;
          } else {
            const take = Math.min(512 - this.hlen, n - off);
            chunk.copy(this.hbuf, this.hlen, off, off + take);
            this.hlen += take;
            off += take;
            if (this.hlen === 512) {
              this.hlen = 0;
              this.header(this.hbuf, 0);
            }
          }
          break;
        }
        case State.Data: {
          const take = Math.min(this.missing, n - off);
          this.missing -= take;
          if (this.wants && !this.handler.data(chunk.subarray(off, off + take))) this.wants = false;
          off += take;
          if (this.missing === 0) {
            if (this.accepted) this.handler.end();
            this.skip(this.pad);
          }
          break;
        }
        case State.Long: {
          const take = Math.min(this.missing, n - off);
          chunk.copy(this.long!, this.longLen, off, off + take);
          this.longLen += take;
          this.missing -= take;
          off += take;
          if (this.missing === 0) {
            this.decodeLong(this.long!);
            this.long = null;
            this.skip(this.pad);
          }
          break;
        }
        case State.Skip: {
          const take = Math.min(this.missing, n - off);
          this.missing -= take;
          off += take;
          if (this.missing === 0) this.state = State.Header;
          break;
        }
      }
    }
  }

  /** The tar stream ended: throws 'Unexpected end of data' inside an entry or a header, as tar-stream does. */
  end(): void {
    if (this.hlen !== 0 || (this.state !== State.Header && this.missing !== 0)) throw new Error('Unexpected end of data');
  }

  private skip(n: number): void {
    this.missing = n;
    this.state = n > 0 ? State.Skip : State.Header;
  }

  private header(b: Buffer, off: number): void {
    const h = decodeHeader(b, off);
    if (h === null) return; // a zero block: keep reading headers
    const size = h.size;
    switch (h.type) {
      case 'gnu-long-path':
      case 'gnu-long-link-path':
      case 'pax-global-header':
      case 'pax-header': {
        if ((size as number) > MAX_HEADER_SIZE) throw new Error('Header exceeds max size');
        const len = size ?? 0;
        if (!(len > 0)) return; // nothing to read (tar-stream reads the next block as a header too)
        this.longType = h.type;
        this.long = Buffer.allocUnsafe(len);
        this.longLen = 0;
        this.missing = len;
        this.pad = overflow(len);
        this.state = State.Long;
        return;
      }
    }
    this.applyLongHeaders(h);
    if (!((h.size as number) >= 0)) throw new Error('Invalid header');
    const dataLen = h.type === 'directory' ? 0 : (h.size ?? 0);
    if (dataLen > 0) {
      this.accepted = this.wants = this.handler.entry(h);
      this.missing = dataLen;
      this.pad = overflow(dataLen);
      this.state = State.Data;
    } else {
      if (this.handler.entry(h)) this.handler.end();
    }
  }

  private applyLongHeaders(h: TarHeader): void {
    if (this.gnuLongPath) {
      h.name = this.gnuLongPath;
      this.gnuLongPath = null;
    }
    if (this.gnuLongLinkPath) {
      h.linkname = this.gnuLongLinkPath;
      this.gnuLongLinkPath = null;
    }
    if (this.pax) {
      if (this.pax.path) h.name = this.pax.path;
      if (this.pax.linkpath) h.linkname = this.pax.linkpath;
      if (this.pax.size !== undefined) {
        // A PAX size is decimal digits; anything else (-1, abc, 0.5) is not a size.
        if (!/^[0-9]{1,16}$/.test(this.pax.size) || !Number.isSafeInteger(Number(this.pax.size))) throw new Error(`bad PAX size ${JSON.stringify(this.pax.size)}`);
        h.size = Number(this.pax.size);
      }
      h.pax = this.pax;
      this.pax = null;
    }
  }

  private decodeLong(buf: Buffer): void {
    switch (this.longType) {
      case 'gnu-long-path':
        this.gnuLongPath = decodeStr(buf, 0, buf.length);
        break;
      case 'gnu-long-link-path':
        this.gnuLongLinkPath = decodeStr(buf, 0, buf.length);
        break;
      case 'pax-global-header':
        this.paxGlobal = decodePax(buf);
        break;
      case 'pax-header':
        this.pax = this.paxGlobal === null ? decodePax(buf) : Object.assign(dict<string>(), this.paxGlobal, decodePax(buf));
        break;
    }
  }
}

function overflow(size: number): number {
  size &= 511;
  return size && 512 - size;
}
