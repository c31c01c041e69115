import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { Duplex, Transform, type TransformCallback } from 'node:stream';
import { createGunzip, type ZlibOptions } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import { createGunzipNoCrc } from './gunzip-raw.js';

/**
 * A decoder's failure, typed: which codec, and whether the input ended early (null: cannot tell).
 * The walker turns it into a DecodeError naming the layer.
 */
export class CodecError extends Error {
  override name = 'CodecError';
  constructor(readonly kind: 'zstd' | 'gzip', readonly truncated: boolean | null, readonly detail: string) {
    super(`${truncated === null ? 'truncated or corrupt' : truncated ? 'truncated' : 'corrupt'} ${kind} stream (${detail})`);
  }
}

/** Compression formats recognised by their magic bytes. */
export type Compression = 'gzip' | 'zstd' | 'none';

/** Detect compression from the first bytes of a blob. */
export function detectCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

/** A streaming zstd decoder (fzstd, pure JavaScript) as a Node Transform. */
export function createZstdDecompress(): Transform {
  let decoder: ZstdDecompress;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      try {
        decoder.push(chunk);
        cb();
      } catch (e) {
        cb(new CodecError('zstd', null, (e as Error).message));
      }
    },
    flush(cb: TransformCallback) {
      try {
        decoder.push(new Uint8Array(0), true);
        cb();
      } catch (e) {
        cb(new CodecError('zstd', null, (e as Error).message));
      }
    },
  });
  decoder = new ZstdDecompress((data: Uint8Array) => {
    t.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  });
  return t;
}

let zstdBinary: string | null | undefined;

/** The zstd command, when the machine has one (it decodes several times faster than JavaScript, in its own process). */
function findZstd(): string | null {
  if (zstdBinary !== undefined) return zstdBinary;
  zstdBinary = null;
  if (process.env.CONTAINERSPEC_ZSTD === 'js') return null;
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const p = `${dir || '.'}/zstd`;
    try {
      accessSync(p, constants.X_OK);
      zstdBinary = p;
      break;
    } catch {
      /* not here */
    }
  }
  return zstdBinary;
}

/** zstd decoding by the zstd command, as a Transform (stdin in, stdout out); its failure is a stream error. */
function createZstdProcess(bin: string): Transform {
  const child = spawn(bin, ['-dc', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const t = new Duplex({
    write(chunk, _e, cb) {
      if (!child.stdin.write(chunk)) child.stdin.once('drain', cb);
      else cb();
    },
    final(cb) {
      child.stdin.end();
      cb();
    },
    read() {
      child.stdout.resume();
    },
    destroy(err, cb) {
      child.kill();
      cb(err);
    },
  });
  child.stdin.on('error', () => {}); // the exit status tells
  child.stdout.on('data', (d: Buffer) => {
    if (!t.push(d)) child.stdout.pause();
  });
  let ended = false;
  let exited: number | null = null;
  const finish = () => {
    if (!ended || exited === null) return;
    if (exited === 0) t.push(null);
    else t.destroy(new CodecError('zstd', null, stderr.trim().split('\n').pop() || `zstd exit ${exited}`));
  };
  child.stdout.on('end', () => { ended = true; finish(); });
  child.on('close', (code) => { exited = code ?? 1; finish(); });
  child.on('error', (e) => t.destroy(e));
  return t as unknown as Transform;
}

/** Options for {@link createDecompressor}. */
export interface DecompressorOptions {
  /**
   * The stored bytes' digest is verified before anything decoded from them is used: gzip may then
   * skip its CRC-32 (see gunzip-raw.ts).
   */
  digestVerified?: boolean;
}

/** A decoder for the given compression (a pass-through for `none`). zstd uses the zstd command when present, else fzstd. */
export function createDecompressor(c: Compression, opts: DecompressorOptions = {}): Transform {
  if (c === 'gzip') {
    // big chunks: fewer thread-pool round trips; a few stored chunks queued ahead, so the inflater
    // never waits for the main thread between two input chunks
    const zopts = { chunkSize: 1024 * 1024, writableHighWaterMark: 1024 * 1024 } as ZlibOptions;
    return opts.digestVerified ? createGunzipNoCrc(zopts) : createGunzip(zopts);
  }
  if (c === 'zstd') {
    const bin = findZstd();
    return bin ? createZstdProcess(bin) : createZstdDecompress();
  }
  return new Transform({ transform(chunk, _e, cb) { cb(null, chunk); } });
}
