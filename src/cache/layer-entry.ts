/**
 * One layer-facts entry: its key, where it lives, and its file format. The file records its own
 * key and format; a file whose bytes are not JSON, whose shape is not a layer scan, or that records
 * another key is not an entry for that key (a miss, never an error).
 *
 * Layout: `layers/v<FORMAT>/<FP16>/<ALG>/<HH>/<HEX>@<DIFF>.json`, where FP16 is the first 16 hex
 * digits of the scan fingerprint, ALG and HEX the layer digest's algorithm and hex, HH its first two
 * hex digits (so no directory grows past a few thousand files), and DIFF the diff_id the walker
 * checked (`sha256-` and its first 32 hex digits) or `none`.
 */
import { join } from 'node:path';
import type { BlobLayer } from '../image/types.js';
import type { EntryMeta, FileResult, LayerScan, Warning } from '../layers/types.js';
import { CACHE_FORMAT } from './version.js';

/** What names one layer-facts entry. */
export interface LayerKey {
  /** The stored blob's digest (`sha256:…` or `sha512:…`), verified by the walker. */
  readonly digest: string;
  /** The diff_id the walker checked the uncompressed tar against, or null when it had none. */
  readonly diffId: string | null;
  /** {@link scanFingerprint} of the wants and limits the scan was made under. */
  readonly fingerprint: string;
}

/** A scan found in the cache, with the number of tar entries the walker counted for it. */
export interface CachedScan {
  readonly scan: LayerScan;
  /** Tar entries of the layer, whiteout markers and the root included (what the entries limit counts). */
  readonly tarEntries: number;
}

/** The `format` string every layer entry carries. */
export const LAYER_ENTRY_FORMAT = 'containerspec-layer-facts';

const DIGEST = /^(sha256):([a-f0-9]{64})$|^(sha512):([a-f0-9]{128})$/;
const FINGERPRINT = /^[a-f0-9]{64}$/;

function split(digest: string): { alg: string; hex: string } | null {
  const m = DIGEST.exec(digest);
  if (!m) return null;
  return m[1] ? { alg: m[1], hex: m[2]! } : { alg: m[3]!, hex: m[4]! };
}

/**
 * The key of a blob layer's facts, or null when the layer is not content-addressed (no digest: a
 * classic docker-archive layer checked against its diff_id only) or names a digest the walker would
 * refuse anyway. Tree layers (dir:) are never cached: callers pass blob layers only.
 */
export function layerKey(layer: BlobLayer, fingerprint: string): LayerKey | null {
  if (layer.digest === null || !split(layer.digest)) return null;
  if (layer.diffId !== null && !split(layer.diffId)) return null;
  if (!FINGERPRINT.test(fingerprint)) return null;
  return { digest: layer.digest, diffId: layer.diffId, fingerprint };
}

/** Where the entry for `key` lives under the cache directory `root` (the key is checked by {@link layerKey}'s rules). */
export function layerEntryPath(root: string, key: LayerKey): string {
  const d = split(key.digest);
  if (!d || !FINGERPRINT.test(key.fingerprint)) throw new Error(`not a layer key: ${JSON.stringify(key)}`);
  const diff = key.diffId === null ? null : split(key.diffId);
  if (key.diffId !== null && !diff) throw new Error(`not a layer key: ${JSON.stringify(key)}`);
  const tag = diff ? `${diff.alg}-${diff.hex.slice(0, 32)}` : 'none';
  return join(root, 'layers', `v${CACHE_FORMAT}`, key.fingerprint.slice(0, 16), d.alg, d.hex.slice(0, 2), `${d.hex}@${tag}.json`);
}

/** The bytes of the entry for `key`: the scan (its position in the image dropped) and its key and format. */
export function encodeLayerEntry(key: LayerKey, scan: LayerScan, tarEntries: number): string {
  const entry = {
    format: LAYER_ENTRY_FORMAT,
    version: CACHE_FORMAT,
    key: { digest: key.digest, diffId: key.diffId, fingerprint: key.fingerprint },
    tarEntries,
    scan: { ...scan, index: 0 },
  };
  return JSON.stringify(entry);
}

/**
 * Read an entry's bytes for `key`: the cached scan, with `index` set, or null when the bytes are not
 * a well-formed entry of this format for exactly this key. Never throws.
 */
export function decodeLayerEntry(data: Buffer | string, key: LayerKey, index: number): CachedScan | null {
  let v: unknown;
  try {
    v = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch {
    return null;
  }
  if (!isObject(v) || v.format !== LAYER_ENTRY_FORMAT || v.version !== CACHE_FORMAT) return null;
  const k = v.key;
  if (!isObject(k) || k.digest !== key.digest || k.diffId !== key.diffId || k.fingerprint !== key.fingerprint) return null;
  if (!isCount(v.tarEntries) || !isLayerScan(v.scan) || v.scan.id !== key.digest) return null;
  v.scan.index = index;
  return { scan: v.scan, tarEntries: v.tarEntries };
}

// ---- shape checks: enough that nothing reading a scan meets a type it does not expect ----

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isStrs = (v: unknown): v is string[] => Array.isArray(v) && v.every(isStr);
const opt = (v: unknown, test: (x: unknown) => boolean): boolean => v === undefined || test(v);
const isStrOrNull = (v: unknown): boolean => v === null || isStr(v);

const ENTRY_TYPES = new Set(['file', 'dir', 'symlink', 'hardlink', 'char', 'block', 'fifo', 'other']);
const COMPRESSIONS = new Set(['gzip', 'zstd', 'none']);
const ELF_TYPES = new Set(['rel', 'exec', 'dyn', 'core', 'other']);

function isEntry(v: unknown): v is EntryMeta {
  return (
    isObject(v) &&
    isStr(v.path) &&
    isStr(v.type) &&
    ENTRY_TYPES.has(v.type) &&
    isNum(v.mode) &&
    isNum(v.uid) &&
    isNum(v.gid) &&
    isNum(v.size) &&
    opt(v.linkname, isStr) &&
    opt(v.xattrs, isStrs)
  );
}

function isElf(v: unknown): boolean {
  if (!isObject(v)) return false;
  const tag = v.abiTag;
  return (
    (v.bits === 32 || v.bits === 64) &&
    (v.endian === 'little' || v.endian === 'big') &&
    isNum(v.machine) &&
    isStr(v.arch) &&
    isStr(v.type) &&
    ELF_TYPES.has(v.type) &&
    isNum(v.osabi) &&
    isStrOrNull(v.interpreter) &&
    (tag === null || (isObject(tag) && isStr(tag.os) && isStr(tag.kernel))) &&
    isStrs(v.needed) &&
    isStrOrNull(v.soname) &&
    Array.isArray(v.versionNeeds) &&
    v.versionNeeds.every((n) => isObject(n) && isStr(n.file) && isStrs(n.versions)) &&
    isStrs(v.versionDefs) &&
    (v.x86IsaNeeded === null || isNum(v.x86IsaNeeded)) &&
    isStrs(v.warnings)
  );
}

function isResult(v: unknown): v is FileResult {
  return (
    isObject(v) &&
    opt(v.text, isStr) &&
    opt(v.truncated, (x) => typeof x === 'boolean') &&
    opt(v.scans, (x) => isObject(x) && Object.values(x).every(isStrs)) &&
    opt(v.scanCut, (x) => typeof x === 'boolean') &&
    opt(v.elf, isElf) &&
    opt(v.elfError, isStr)
  );
}

function isWarning(v: unknown): v is Warning {
  return isObject(v) && isStr(v.code) && isStr(v.message) && opt(v.path, isStr) && opt(v.layer, isStrOrNull);
}

/** Whether `v` has the shape of a blob layer's scan (src/layers/types.ts). */
export function isLayerScan(v: unknown): v is LayerScan {
  if (!isObject(v)) return false;
  const bytes = v.bytes;
  return (
    isStr(v.id) &&
    isNum(v.index) &&
    Array.isArray(v.entries) &&
    v.entries.every(isEntry) &&
    isStrs(v.whiteouts) &&
    isStrs(v.opaques) &&
    isObject(v.results) &&
    Object.values(v.results).every(isResult) &&
    Array.isArray(v.warnings) &&
    v.warnings.every(isWarning) &&
    isObject(bytes) &&
    isCount(bytes.stored) &&
    isCount(bytes.tar) &&
    isStr(v.compression) &&
    COMPRESSIONS.has(v.compression) &&
    isStrs(v.notes)
  );
}
