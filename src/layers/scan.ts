/**
 * The streaming walker for one blob layer: the stored bytes are hashed (the layer's digest, or its
 * diff_id when the source cannot name the stored blob) and counted while they stream, decompressed
 * by magic bytes, and the tar walked with every entry drained; only what the declared wants ask for
 * is kept. Whatever the source, verification happens here.
 */
import type { Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import tar from 'tar-stream';
import { ContainerspecError, DecodeError, DigestMismatchError, FormatError, NotFoundError } from '../errors/index.js';
import { digestOf, hasherFor } from '../image/digest.js';
import type { BlobLayer } from '../image/types.js';
import { CodecError, createDecompressor, detectCompression, type Compression } from './decompress.js';
import { FileSink, recordResult } from './file-sink.js';
import { classifyWhiteout, cleanEntryName } from './paths.js';
import { emptyScan, type EntryMeta, type EntryType, type LayerScan, type Warning } from './types.js';
import type { WantSet } from './wants.js';
import { table } from '../util/own.js';

const TAR_TYPES = table<EntryType>({
  file: 'file',
  'contiguous-file': 'file',
  directory: 'dir',
  symlink: 'symlink',
  link: 'hardlink',
  'character-device': 'char',
  'block-device': 'block',
  fifo: 'fifo',
});

/** A pass-through that hashes and counts what flows through it. */
function hashTap(hash: Hash | null, count: { n: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash?.update(chunk);
      count.n += chunk.length;
      cb(null, chunk);
    },
  });
}

/** Errors by the stage that raised them: the type says what failed, never the message text. */
function sourceError(e: unknown, where: string): ContainerspecError {
  if (e instanceof ContainerspecError) return e;
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT') return new NotFoundError(`missing blob: ${where} (${err.path ?? ''})`, err.path ?? where);
  return new FormatError(`cannot read ${where}: ${String(err?.message ?? e)}`, where, { cause: e });
}

function decoderError(e: unknown, compression: Compression, where: string): ContainerspecError {
  if (e instanceof ContainerspecError) return e;
  if (e instanceof CodecError) return new DecodeError(e.kind, e.truncated, where, e.detail, { cause: e });
  const err = e as NodeJS.ErrnoException;
  // zlib: Z_BUF_ERROR is input that ended early; Z_DATA_ERROR (and the rest) are corrupt bytes.
  const kind = compression === 'zstd' ? 'zstd' : 'gzip';
  if (err?.code === 'Z_BUF_ERROR') return new DecodeError(kind, true, where, '', { cause: e });
  return new DecodeError(kind, kind === 'zstd' ? null : false, where, String(err?.message ?? e), { cause: e });
}

function tarError(e: unknown, where: string): ContainerspecError {
  if (e instanceof ContainerspecError) return e;
  return new DecodeError('tar', null, where, String((e as Error)?.message ?? e), { cause: e });
}

/**
 * Stream one blob layer once: verify its digest (sha256 or sha512, whichever it names) and size,
 * decompress by magic bytes, walk the tar with every entry drained, record entries and whiteouts,
 * and keep only what `wants` asks for. Throws a ContainerspecError (FormatError, DecodeError,
 * DigestMismatchError, NotFoundError) for a layer that cannot be trusted: no facts from it are reported.
 */
export async function scanBlob(layer: BlobLayer, index: number, wants: WantSet): Promise<LayerScan> {
  const { where } = layer;
  const scan = emptyScan(layer.digest ?? layer.diffId, index, 'none');
  const storedCount = { n: 0 };
  const tarCount = { n: 0 };
  const storedHash = layer.digest ? hasherFor(layer.digest, where) : null;
  const tarHash = !layer.digest && layer.diffId ? hasherFor(layer.diffId, where) : null;
  const raw: Readable = await layer.open().catch((e: unknown) => {
    throw sourceError(e, where);
  });

  const extract = tar.extract();
  let failure: ContainerspecError | null = null;
  let decoder: Transform | null = null;
  const fail = (e: ContainerspecError) => {
    if (!failure) failure = e;
    extract.destroy(failure);
    decoder?.destroy();
    raw.destroy();
  };
  const tap = hashTap(tarHash, tarCount);
  tap.on('error', (e) => fail(tarError(e, where)));
  raw.on('error', (e) => fail(sourceError(e, where)));
  extract.on('error', (e) => fail(tarError(e, where)));
  tap.pipe(extract as unknown as NodeJS.WritableStream);
  // Feed the stored bytes: hash and count them, pick the decoder from the first bytes, respect backpressure.
  const pump = (async () => {
    for await (const chunk of raw as AsyncIterable<Buffer>) {
      if (failure) break;
      storedHash?.update(chunk);
      storedCount.n += chunk.length;
      if (layer.size !== null && storedCount.n > layer.size) {
        throw new FormatError(`${where}: more bytes than the ${layer.size} its descriptor says`, where);
      }
      if (!decoder) {
        const c = detectCompression(chunk);
        scan.compression = c;
        decoder = createDecompressor(c);
        decoder.on('error', (e) => fail(decoderError(e, c, where)));
        decoder.pipe(tap);
      }
      if (!decoder.write(chunk)) {
        const d = decoder;
        await new Promise<void>((res) => {
          const done = () => {
            d.off('drain', done);
            d.off('error', done);
            d.off('close', done);
            res();
          };
          d.on('drain', done);
          d.on('error', done);
          d.on('close', done);
        });
      }
    }
    if (failure) return;
    if (layer.size !== null && storedCount.n !== layer.size) {
      throw new FormatError(`${where}: ${storedCount.n} bytes arrived, its descriptor says ${layer.size}`, where);
    }
    if (!decoder) {
      decoder = createDecompressor('none');
      decoder.pipe(tap);
    }
    decoder.end();
  })().catch((e: unknown) => fail(e instanceof ContainerspecError ? e : sourceError(e, where)));

  const warn = (w: Warning) => scan.warnings.push(w);
  try {
    for await (const entry of extract) {
      const h = entry.header;
      const path = cleanEntryName(h.name, where);
      const wo = classifyWhiteout(path);
      if (wo.kind === 'whiteout') {
        scan.whiteouts.push(wo.target);
        entry.resume();
        continue;
      }
      if (wo.kind === 'opaque') {
        scan.opaques.push(wo.dir);
        entry.resume();
        continue;
      }
      const type = TAR_TYPES[h.type ?? 'file'] ?? 'other';
      const meta: EntryMeta = { path, type, mode: h.mode ?? 0, uid: h.uid ?? 0, gid: h.gid ?? 0, size: h.size ?? 0 };
      if (type === 'symlink' && h.linkname != null) meta.linkname = h.linkname;
      if (type === 'hardlink' && h.linkname != null) meta.linkname = cleanEntryName(h.linkname, where);
      const pax = (h as { pax?: Record<string, string> | null }).pax;
      if (pax) {
        const xattrs = Object.keys(pax).filter((k) => k.startsWith('SCHILY.xattr.')).map((k) => k.slice('SCHILY.xattr.'.length));
        if (xattrs.length) meta.xattrs = xattrs;
      }
      if (path !== '') scan.entries.push(meta);
      if (type === 'file' && meta.size > 0 && wants.wantsContent(path)) {
        const sink = new FileSink(path, wants);
        // Plain 'data' events (no promise per chunk); once the sink has what it wants the rest is only drained.
        await new Promise<void>((resolve, reject) => {
          let more = true;
          entry.on('data', (chunk: unknown) => {
            if (!more) return;
            sink.push(chunk as Buffer);
            more = sink.needsMore;
          });
          entry.once('end', () => resolve());
          entry.once('error', reject);
        });
        try {
          recordResult(scan, path, sink.finish());
        } catch (e) {
          warn({ code: 'file-unreadable', message: `could not read ${path}: ${(e as Error).message}`, path, layer: scan.id });
        }
      } else {
        delete scan.results[path]; // a later entry of the same path replaces an earlier file's content
        entry.resume();
      }
    }
  } catch (e) {
    fail(tarError(e, where)); // stop the source and the decoder too: nothing keeps running after an error
    throw failure ?? tarError(e, where);
  }
  await pump;
  // The tar may end before the compressed stream does (padding): wait until the decoder has seen it all.
  if (!failure && !tap.writableFinished) {
    await new Promise<void>((resolve) => {
      tap.once('finish', resolve);
      tap.once('close', resolve);
      tap.once('error', () => resolve());
    });
  }
  if (failure) throw failure;
  scan.bytes = { stored: storedCount.n, tar: tarCount.n };
  if (storedHash && layer.digest) {
    const actual = digestOf(storedHash, layer.digest);
    if (actual !== layer.digest) throw new DigestMismatchError(where, layer.digest, actual);
  } else if (tarHash && layer.diffId) {
    const actual = digestOf(tarHash, layer.diffId);
    if (actual !== layer.diffId) throw new DigestMismatchError(where, layer.diffId, actual);
  }
  return scan;
}
