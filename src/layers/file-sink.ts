import { ElfCollector, isElfMagic } from '../elf/index.js';
import { limit } from '../limits.js';
import type { FileResult, LayerScan } from './types.js';
import { SCAN_OVERLAP, type ScanRule, type WantSet } from './wants.js';

interface ScanState {
  rule: ScanRule;
  tail: string;
  tailBuf?: Buffer;
  found: string[];
}

const EMPTY = Buffer.alloc(0);

/**
 * Receives one regular file's bytes in order and keeps what the extractors declared:
 * ELF facts (byte ranges only), capped text, streaming-search matches. Never keeps a whole
 * file unless it is a wanted text file under its cap.
 */
export class FileSink {
  private head: Buffer | null = null;
  private elf: ElfCollector | null = null;
  private decided = false;
  private readonly text: Buffer[] | null;
  private textLen = 0;
  private truncated = false;
  private readonly cap: number;
  private readonly scans: ScanState[];
  private readonly wantsElf: boolean;
  /** Bytes of the file seen so far (the offset of the next byte pushed). */
  private pos = 0;
  /** Searching stops after this many bytes (a huge file named like a library is not read whole). */
  private readonly scanLimit = limit('scannedBytesPerFile');
  private scanCut = false;

  /**
   * A sink for one file, keeping what `wants` asks for at `path`. `size` is the file's size when known
   * (lets the ELF reader allocate kept ranges once).
   */
  constructor(readonly path: string, wants: WantSet, private readonly size?: number) {
    this.cap = wants.textCap(path);
    this.text = this.cap > 0 ? [] : null;
    this.scans = wants.scanRules(path).map((rule) => ({ rule, tail: '', found: [] }));
    this.wantsElf = wants.elf(path);
    if (!this.wantsElf) this.decided = true; // no ELF sniffing: nothing to decide from the first bytes
  }

  /** Whether the string searches still want bytes. */
  private get scanning(): boolean {
    return !this.scanCut && this.scans.some((s) => s.found.length < s.rule.max);
  }

  /** Whether more bytes could change the result (false once ELF ranges are in and nothing else is wanted). */
  get needsMore(): boolean {
    if (!this.decided) return true;
    if (this.text && !this.truncated) return true;
    if (this.scanning) return true;
    return this.elf !== null && this.elf.wantsMore;
  }

  /**
   * The next offset of the file this sink wants, or null when it wants nothing more. Text and
   * string searches want every byte in order; ELF facts only their ranges, so a source with random
   * access (a file on disk) may {@link seek} past the rest.
   */
  nextOffset(): number | null {
    if (!this.decided || (this.text && !this.truncated) || this.scanning) return this.pos;
    return this.elf && this.elf.wantsMore ? this.elf.nextWanted() : null;
  }

  /** Skip to `offset` (at most {@link nextOffset}): the bytes in between are not wanted. */
  seek(offset: number): void {
    const next = this.nextOffset();
    if (next === null || offset <= this.pos) return;
    this.pos = Math.min(offset, next);
    this.elf?.seek(this.pos);
  }

  /** Feed the next chunk (the bytes at the current offset). */
  push(chunk: Buffer): void {
    this.pos += chunk.length;
    if (!this.decided) this.sniff(chunk);
    else if (this.elf && this.elf.wantsMore) this.elf.push(chunk);
    if (this.text && !this.truncated) {
      const room = this.cap - this.textLen;
      if (chunk.length <= room) {
        this.text.push(chunk);
        this.textLen += chunk.length;
      } else {
        this.text.push(chunk.subarray(0, room));
        this.textLen += room;
        this.truncated = true;
      }
    }
    if (this.scans.length) this.scan(chunk);
  }

  private sniff(chunk: Buffer): void {
    const head = this.head ? Buffer.concat([this.head, chunk]) : chunk;
    if (head.length < 4) {
      this.head = Buffer.from(head);
      return;
    }
    this.decided = true;
    this.head = null;
    if (this.wantsElf && isElfMagic(head)) {
      this.elf = new ElfCollector({ maxKeep: limit('keptBytesPerFile'), ...(this.size === undefined ? {} : { size: this.size }) });
      this.elf.push(head);
    }
  }

  private scan(chunk: Buffer): void {
    if (this.scanCut) return;
    if (this.pos > this.scanLimit) {
      this.scanCut = true; // reported with the result: the rest of the file was not searched
      const keep = chunk.length - (this.pos - this.scanLimit);
      if (keep <= 0) return;
      chunk = chunk.subarray(0, keep);
    }
    let s: string | null = null;
    for (const st of this.scans) {
      if (st.found.length >= st.rule.max) continue;
      if (st.rule.anchor) {
        this.scanAnchored(st, chunk);
        continue;
      }
      s ??= chunk.toString('latin1');
      const hay = st.tail + s;
      this.collect(st, hay, st.tail.length);
      st.tail = hay.length > SCAN_OVERLAP ? hay.slice(hay.length - SCAN_OVERLAP) : hay;
    }
  }

  /** Regex matches in `hay`, skipping those wholly inside the first `seen` characters (already searched). */
  private collect(st: ScanState, hay: string, seen: number): void {
    st.rule.pattern.lastIndex = 0;
    for (const m of hay.matchAll(st.rule.pattern)) {
      if (m.index + m[0].length <= seen) continue;
      const v = m[1] ?? m[0];
      if (!st.found.includes(v)) st.found.push(v);
      if (st.found.length >= st.rule.max) break;
    }
  }

  /** Native search for the rule's literal, then the pattern on a window around each hit. */
  private scanAnchored(st: ScanState, chunk: Buffer): void {
    const win = st.rule.window ?? 256;
    const prev = st.tailBuf ?? EMPTY;
    const buf = prev.length ? Buffer.concat([prev, chunk]) : chunk;
    const anchor = st.rule.anchor!;
    let from = 0;
    let lastEnd = 0;
    for (;;) {
      const i = buf.indexOf(anchor, from, 'latin1');
      if (i < 0) break;
      from = i + 1;
      const start = Math.max(lastEnd, i - win);
      const end = Math.min(buf.length, i + anchor.length + win);
      if (end <= lastEnd) continue;
      this.collect(st, buf.toString('latin1', Math.max(0, i - win), end), 0);
      lastEnd = end;
      void start;
      if (st.found.length >= st.rule.max) return;
    }
    const keep = Math.min(buf.length, win * 2 + anchor.length);
    st.tailBuf = Buffer.from(buf.subarray(buf.length - keep));
  }

  /** Finish and return what was kept, or null when nothing was. */
  finish(size?: number): FileResult | null {
    if (!this.decided && this.head) {
      this.decided = true; // shorter than 4 bytes: not ELF
    }
    const r: FileResult = {};
    let any = false;
    if (this.elf) {
      const res = this.elf.finish(size);
      if (res.ok) r.elf = res.info;
      else r.elfError = res.reason;
      any = true;
    }
    if (this.text) {
      r.text = Buffer.concat(this.text).toString('utf8');
      if (this.truncated) r.truncated = true;
      any = true;
    }
    if (this.scans.length) {
      const scans: Record<string, string[]> = {};
      for (const st of this.scans) {
        if (!st.found.length) continue;
        const have = scans[st.rule.id] ?? [];
        for (const v of st.found) if (!have.includes(v)) have.push(v);
        scans[st.rule.id] = have;
      }
      r.scans = scans;
      if (this.scanCut) r.scanCut = true;
      any = true;
    }
    return any ? r : null;
  }
}

/**
 * Keep a file's result in its layer scan (a later entry of the same path replaces it), and turn
 * an unreadable ELF file into a warning with its coordinates.
 */
export function recordResult(scan: LayerScan, path: string, r: FileResult | null): void {
  if (!r) {
    delete scan.results[path];
    return;
  }
  scan.results[path] = r;
  if (r.scanCut) {
    scan.warnings.push({ code: 'scan-cut', message: `only the first ${limit('scannedBytesPerFile')} bytes of ${path} were searched for version strings (raise CONTAINERSPEC_MAX_SCANNED_BYTES)`, path, layer: scan.id });
  }
  if (r.elfError && r.elfError !== 'not an ELF file') {
    scan.warnings.push({ code: 'corrupt-elf', message: `corrupt ELF file ${path}: ${r.elfError}`, path, layer: scan.id });
  }
}
