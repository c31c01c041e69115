import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import tar from 'tar-stream';
import { ContainerspecError, DigestMismatchError, FormatError, NotFoundError } from '../errors/index.js';
import type { LayerLocation } from '../image/types.js';
import { createDecompressor, detectCompression } from './decompress.js';
import { FileSink, recordResult } from './file-sink.js';
import { classifyWhiteout, cleanEntryName } from './paths.js';
import { emptyScan, type EntryMeta, type EntryType, type LayerScan, type Warning } from './types.js';

/** What a layer scan needs to know about the layer: plain data, so it can cross to a worker. */
export interface LayerTask {
  index: number;
  location: LayerLocation;
  /** Digest of the stored blob, verified while streaming; null when unknown. */
  digest: string | null;
  /** Digest of the uncompressed tar, verified when `digest` is null; null when unknown. */
  diffId: string | null;
  where: string;
}

const TAR_TYPES: Record<string, EntryType> = {
  file: 'file',
  'contiguous-file': 'file',
  directory: 'dir',
  symlink: 'symlink',
  link: 'hardlink',
  'character-device': 'char',
  'block-device': 'block',
  fifo: 'fifo',
};

/** A pass-through that hashes what flows through it. */
function hashTap(hash: Hash | null, count: { n: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash?.update(chunk);
      count.n += chunk.length;
      cb(null, chunk);
    },
  });
}

function openLocation(loc: LayerLocation, where: string): Readable {
  const opts: { highWaterMark: number; start?: number; end?: number } = { highWaterMark: 512 * 1024 };
  if (loc.start > 0 || loc.length !== null) {
    opts.start = loc.start;
    if (loc.length !== null) opts.end = loc.start + loc.length - 1;
  }
  const s = createReadStream(loc.file, opts);
  s.on('error', () => {}); // reported through the pipeline
  void where;
  return s;
}

function describeError(e: unknown, where: string): ContainerspecError {
  if (e instanceof ContainerspecError) return e;
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT') return new NotFoundError(`missing blob: ${where} (${err.path ?? ''})`, err.path ?? where);
  const msg = String(err?.message ?? e);
  if (/unexpected end of file/i.test(msg)) return new FormatError(`truncated gzip stream in ${where}`, where, { cause: e });
  if (err?.code === 'Z_DATA_ERROR' || /incorrect header check|invalid (?:block type|distance|stored)/i.test(msg)) {
    return new FormatError(`corrupt gzip stream in ${where} (${msg})`, where, { cause: e });
  }
  if (/zstd/i.test(msg)) return new FormatError(`${msg} in ${where}`, where, { cause: e });
  if (/tar|header|Unexpected end of data/i.test(msg)) return new FormatError(`malformed tar in ${where} (${msg})`, where, { cause: e });
  return new FormatError(`cannot read ${where}: ${msg}`, where, { cause: e });
}

/**
 * Stream one layer once: verify its digest, decompress by magic bytes, walk the tar with
 * every entry drained, record entries and whiteouts, and keep only what the extractors
 * declared. Throws a ContainerspecError (FormatError, DigestMismatchError, NotFoundError)
 * for a layer that cannot be trusted: no facts from it are reported.
 */
export async function scanLayer(task: LayerTask): Promise<LayerScan> {
  const { where } = task;
  const scan = emptyScan(task.digest ?? task.diffId, task.index, 'none');
  const raw = openLocation(task.location, where);
  const storedCount = { n: 0 };
  const tarCount = { n: 0 };
  const storedHash = task.digest ? createHash('sha256') : null;
  const tarHash = !task.digest && task.diffId ? createHash('sha256') : null;

  const extract = tar.extract();
  let failure: ContainerspecError | null = null;
  const fail = (e: unknown) => {
    if (!failure) failure = describeError(e, where);
    extract.destroy(failure);
  };
  const tap = hashTap(tarHash, tarCount);
  tap.on('error', fail);
  raw.on('error', fail);
  tap.pipe(extract as unknown as NodeJS.WritableStream);
  let decoder: Transform | null = null;
  // Feed the stored bytes: hash them, pick the decoder from the first bytes, respect backpressure.
  const pump = (async () => {
    for await (const chunk of raw as AsyncIterable<Buffer>) {
      if (failure) break;
      storedHash?.update(chunk);
      storedCount.n += chunk.length;
      if (!decoder) {
        scan.compression = detectCompression(chunk);
        decoder = createDecompressor(scan.compression);
        decoder.on('error', fail);
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
    if (!decoder) {
      decoder = createDecompressor('none');
      decoder.pipe(tap);
    }
    decoder.end();
  })().catch(fail);

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
      const meta: EntryMeta = {
        path,
        type,
        mode: h.mode ?? 0,
        uid: h.uid ?? 0,
        gid: h.gid ?? 0,
        size: h.size ?? 0,
      };
      if (type === 'symlink' && h.linkname != null) meta.linkname = h.linkname;
      if (type === 'hardlink' && h.linkname != null) meta.linkname = cleanEntryName(h.linkname, where);
      const pax = (h as { pax?: Record<string, string> | null }).pax;
      if (pax) {
        const xattrs = Object.keys(pax).filter((k) => k.startsWith('SCHILY.xattr.')).map((k) => k.slice('SCHILY.xattr.'.length));
        if (xattrs.length) meta.xattrs = xattrs;
      }
      if (path !== '') scan.entries.push(meta);
      if (type === 'file' && meta.size > 0) {
        const sink = new FileSink(path);
        // Plain 'data' events (no promise per chunk); once the sink has what it wants the rest is only drained.
        await new Promise<void>((resolve, reject) => {
          let wants = true;
          entry.on('data', (chunk: unknown) => {
            if (!wants) return;
            sink.push(chunk as Buffer);
            wants = sink.needsMore;
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
    throw failure ?? describeError(e, where);
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
  if (storedHash && task.digest) {
    const actual = `sha256:${storedHash.digest('hex')}`;
    if (actual !== task.digest) throw new DigestMismatchError(where, task.digest, actual);
  } else if (tarHash && task.diffId) {
    const actual = `sha256:${tarHash.digest('hex')}`;
    if (actual !== task.diffId) throw new DigestMismatchError(where, task.diffId, actual);
  }
  return scan;
}
