import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';

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
        cb(new Error(`corrupt zstd stream (${(e as Error).message})`));
      }
    },
    flush(cb: TransformCallback) {
      try {
        decoder.push(new Uint8Array(0), true);
        cb();
      } catch (e) {
        cb(new Error(`truncated or corrupt zstd stream (${(e as Error).message})`));
      }
    },
  });
  decoder = new ZstdDecompress((data: Uint8Array) => {
    t.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  });
  return t;
}

/** A decoder for the given compression (a pass-through for `none`). */
export function createDecompressor(c: Compression): Transform {
  if (c === 'gzip') return createGunzip({ chunkSize: 128 * 1024 });
  if (c === 'zstd') return createZstdDecompress();
  return new Transform({ transform(chunk, _e, cb) { cb(null, chunk); } });
}
