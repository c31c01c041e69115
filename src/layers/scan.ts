/**
 * The streaming walker for one blob layer: the stored bytes are hashed (the layer's digest, or its
 * diff_id when the source cannot name the stored blob) and counted while they stream, decompressed
 * by magic bytes, and the tar parsed synchronously as the decoder emits it (src/layers/tar.ts: no
 * stream or promise per entry); only what the declared wants ask for is kept. Whatever the source,
 * verification happens here, and any error stops the source and the decoder at once.
 */
import type { Hash } from 'node:crypto';
import type { Readable, Transform } from 'node:stream';
import { ContainerspecError, DecodeError, DigestMismatchError, FormatError, NotFoundError } from '../errors/index.js';
import { digestOf, hasherFor } from '../image/digest.js';
import type { BlobLayer } from '../image/types.js';
import { Budget, limit, overLimit } from '../limits.js';
import { table } from '../util/own.js';
import { CodecError, createDecompressor, detectCompression, type Compression } from './decompress.js';
import { FileSink, recordResult } from './file-sink.js';
import { classifyWhiteout, cleanEntryName } from './paths.js';
import { TarParser, type TarHandler, type TarHeader } from './tar.js';
import { emptyScan, type EntryMeta, type EntryType, type LayerScan } from './types.js';
import type { WantSet } from './wants.js';

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

/** The entries, whiteouts and kept file contents of one layer, as the tar parser walks it. */
function tarHandler(scan: LayerScan, wants: WantSet, budget: Budget, where: string): TarHandler {
  const maxPath = limit('pathLength');
  let sink: FileSink | null = null;
  let sinkPath = '';
  return {
    entry(h: TarHeader): boolean {
      budget.take(where);
      const path = cleanEntryName(h.name, where);
      const wo = classifyWhiteout(path);
      if (wo.kind === 'whiteout') {
        scan.whiteouts.push(wo.target);
        return false;
      }
      if (wo.kind === 'opaque') {
        scan.opaques.push(wo.dir);
        return false;
      }
      const type = TAR_TYPES[h.type ?? 'file'] ?? 'other';
      const meta: EntryMeta = { path, type, mode: h.mode ?? 0, uid: h.uid ?? 0, gid: h.gid ?? 0, size: h.size ?? 0 };
      if (type === 'symlink' && h.linkname != null) {
        if (h.linkname.length > maxPath) throw new FormatError(`${where}: the target of /${path}, ${overLimit('pathLength', `${h.linkname.length} bytes`)}`, where);
        meta.linkname = h.linkname;
      }
      if (type === 'hardlink' && h.linkname != null) meta.linkname = cleanEntryName(h.linkname, where);
      if (h.pax) {
        const xattrs = Object.keys(h.pax).filter((k) => k.startsWith('SCHILY.xattr.')).map((k) => k.slice('SCHILY.xattr.'.length));
        if (xattrs.length) meta.xattrs = xattrs;
      }
      if (path !== '') scan.entries.push(meta);
      if (type === 'file' && meta.size > 0 && wants.wantsContent(path)) {
        sink = new FileSink(path, wants, meta.size);
        sinkPath = path;
        return true;
      }
      delete scan.results[path]; // a later entry of the same path replaces an earlier file's content
      return false;
    },
    data(chunk: Buffer): boolean {
      const s = sink!;
      s.push(chunk);
      return s.needsMore; // once the sink has what it wants the rest is only skipped
    },
    end(): void {
      const s = sink!;
      sink = null;
      try {
        recordResult(scan, sinkPath, s.finish());
      } catch (e) {
        scan.warnings.push({ code: 'file-unreadable', message: `could not read ${sinkPath}: ${(e as Error).message}`, path: sinkPath, layer: scan.id });
      }
    },
  };
}

/**
 * Stream one blob layer once: verify its digest (sha256 or sha512, whichever it names) and size,
 * decompress by magic bytes, walk the tar, record entries and whiteouts, and keep only what `wants`
 * asks for. Throws a ContainerspecError (FormatError, DecodeError, DigestMismatchError,
 * NotFoundError) for a layer that cannot be trusted: no facts from it are reported.
 */
export async function scanBlob(layer: BlobLayer, index: number, wants: WantSet, budget: Budget = new Budget('entries')): Promise<LayerScan> {
  const { where } = layer;
  const scan = emptyScan(layer.digest ?? layer.diffId, index, 'none');
  let stored = 0;
  let tarBytes = 0;
  const storedHash: Hash | null = layer.digest ? hasherFor(layer.digest, where) : null;
  // The uncompressed tar is checked against the config's diff_id too: a config that names other
  // content than the layer holds is refused, as an engine unpacking it would. (An uncompressed
  // layer's diff_id must equal its digest: no second hash is needed, see below.)
  let tarHash: Hash | null = layer.diffId ? hasherFor(layer.diffId, where) : null;
  /** Uncompressed, and the diff_id uses the digest's algorithm: the stored bytes' digest is the tar's. */
  let tarIsStored = false;
  const raw: Readable = await layer.open().catch((e: unknown) => {
    throw sourceError(e, where);
  });
  const parser = new TarParser(tarHandler(scan, wants, budget, where));

  let failure: ContainerspecError | null = null;
  let decoder: Transform | null = null;
  let decoded = false;
  let settle: (() => void) | null = null;
  const decodedDone = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const fail = (e: ContainerspecError) => {
    if (failure) return;
    failure = e;
    raw.destroy();
    decoder?.destroy();
    settle?.();
  };
  raw.on('error', (e) => fail(sourceError(e, where)));

  // Decoded chunks are parsed in a microtask, not inside the decoder's 'data' event: zlib's callback
  // then hands the next inflate to the thread pool before the main thread parses.
  const queue: Buffer[] = [];
  let queued = false;
  const drain = () => {
    queued = false;
    for (let i = 0; i < queue.length && !failure; i++) {
      const chunk = queue[i]!;
      tarBytes += chunk.length;
      tarHash?.update(chunk);
      try {
        parser.push(chunk);
      } catch (e) {
        fail(tarError(e, where));
      }
    }
    queue.length = 0;
  };
  const attach = (d: Transform, c: Compression) => {
    d.on('error', (e) => fail(decoderError(e, c, where)));
    d.on('data', (chunk: Buffer) => {
      queue.push(chunk);
      if (!queued) {
        queued = true;
        queueMicrotask(drain);
      }
    });
    d.on('end', () => {
      drain();
      if (!failure) {
        try {
          parser.end();
        } catch (e) {
          fail(tarError(e, where));
        }
      }
      decoded = true;
      settle?.();
    });
  };

  // Feed the stored bytes: count and hash them, pick the decoder from the first bytes, respect backpressure.
  const pump = (async () => {
    for await (const chunk of raw as AsyncIterable<Buffer>) {
      if (failure) break;
      stored += chunk.length;
      if (layer.size !== null && stored > layer.size) {
        throw new FormatError(`${where}: more bytes than the ${layer.size} its descriptor says`, where);
      }
      if (!decoder) {
        const c = detectCompression(chunk);
        scan.compression = c;
        // Uncompressed with the same algorithm: the stored bytes are the tar, so the digest just
        // computed is the tar's too (compared by name below) and no second hash is taken.
        if (c === 'none' && layer.digest && layer.diffId && layer.digest.slice(0, 7) === layer.diffId.slice(0, 7)) {
          tarHash = null;
          tarIsStored = true;
        }
        // The CRC-32 of gzip may be skipped only where the stored bytes' digest is checked.
        decoder = createDecompressor(c, { digestVerified: storedHash !== null });
        attach(decoder, c);
      }
      // Hand the chunk to the decoder first, then hash it while the thread pool inflates.
      const full = !decoder.write(chunk);
      storedHash?.update(chunk);
      if (full) {
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
    if (stored === 0) throw new FormatError(`${where} is empty (0 bytes): not a layer`, where);
    if (layer.size !== null && stored !== layer.size) {
      throw new FormatError(`${where}: ${stored} bytes arrived, its descriptor says ${layer.size}`, where);
    }
    decoder!.end();
  })().catch((e: unknown) => fail(e instanceof ContainerspecError ? e : sourceError(e, where)));

  await pump;
  // The tar may end before the compressed stream does (padding): wait until the decoder has seen it all.
  if (!failure && !decoded) await decodedDone;
  if (failure) throw failure;
  scan.bytes = { stored, tar: tarBytes };
  if (storedHash && layer.digest) {
    const actual = digestOf(storedHash, layer.digest);
    if (actual !== layer.digest) throw new DigestMismatchError(where, layer.digest, actual);
  }
  if (layer.diffId) {
    // Uncompressed: the tar's digest is the stored digest just checked (same algorithm) or, without one, the hash taken.
    const actual = tarHash ? digestOf(tarHash, layer.diffId) : tarIsStored ? layer.digest! : null;
    if (actual !== null && actual !== layer.diffId) throw new DigestMismatchError(`${where} (the config's diff_id)`, layer.diffId, actual);
  }
  return scan;
}
