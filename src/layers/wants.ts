/**
 * What extractors may ask of a file's content, declared before the pass (snyk's ExtractAction,
 * syft's catalogers), and the compiled union the walker consults for each file. The walker knows
 * no extractor: it keeps, for each file, only what some declared want asks for.
 */
import { createHash } from 'node:crypto';
import type { FileResult } from './types.js';

/** Keep the text of files at this exact path (or matching this pattern), up to `cap` bytes. */
export interface TextWant {
  path: string | RegExp;
  cap: number;
}

/** A streaming search inside files whose path matches `path`. */
export interface ScanRule {
  /** Name of the rule; results are keyed by it (unique per extractor set). */
  readonly id: string;
  /** Which files (cleaned path, no leading slash). */
  readonly path: RegExp;
  /** What to find, on the bytes read as latin1; capture group 1 (or the whole match) is kept. Must be global. */
  readonly pattern: RegExp;
  /** Stop after this many distinct matches. */
  readonly max: number;
  /**
   * A literal every match contains. When set, the scanner finds it with a native byte search and
   * runs the pattern only on a window of `window` bytes around each hit, instead of on every byte.
   */
  readonly anchor?: string;
  readonly window?: number;
}

/** What one extractor wants from file contents. */
export interface Wants {
  /** Text files kept whole (capped). */
  readonly text?: readonly TextWant[];
  /** Streaming string searches. */
  readonly scans?: readonly ScanRule[];
  /** ELF facts (headers, dynamic section, version tables, notes) of files matching this (true: every file). */
  readonly elf?: true | RegExp;
}

/** Overlap kept between chunks so a match that straddles two chunks is found. */
export const SCAN_OVERLAP = 512;

/** The matches one declared rule found in a file (empty when none, or the file was not searched). */
export function matchesOf(result: FileResult | undefined, rule: ScanRule): string[] {
  return result?.scans?.[rule.id] ?? [];
}

/** The first match of a declared rule in a file, or null. */
export function firstMatch(result: FileResult | undefined, rule: ScanRule): string | null {
  return matchesOf(result, rule)[0] ?? null;
}

/** The union of several extractors' wants, compiled once, asked once per file by the walker. */
export class WantSet {
  private readonly exact = new Map<string, number>();
  private readonly patterns: TextWant[] = [];
  private readonly rules: ScanRule[] = [];
  private readonly elfAll: boolean;
  private readonly elfPatterns: RegExp[] = [];
  private fingerprintMemo: string | null = null;

  /**
   * @param wants each extractor's name and wants. A scan rule id declared by two extractors is a
   *   programming error (their results would mix) and throws.
   */
  constructor(wants: readonly { owner: string; wants: Wants }[]) {
    const owners = new Map<string, string>();
    let elfAll = false;
    for (const { owner, wants: w } of wants) {
      for (const t of w.text ?? []) {
        if (typeof t.path === 'string') this.exact.set(t.path, Math.max(this.exact.get(t.path) ?? 0, t.cap));
        else this.patterns.push(t);
      }
      for (const r of w.scans ?? []) {
        const prev = owners.get(r.id);
        if (prev !== undefined && prev !== owner) throw new Error(`scan rule ${r.id} is declared by both ${prev} and ${owner}`);
        owners.set(r.id, owner);
        this.rules.push(r);
      }
      if (w.elf === true) elfAll = true;
      else if (w.elf) this.elfPatterns.push(w.elf);
    }
    this.elfAll = elfAll;
  }

  /** Bytes of text to keep for this path; 0 when its text is not wanted. */
  textCap(path: string): number {
    let cap = this.exact.get(path) ?? 0;
    for (const t of this.patterns) if ((t.path as RegExp).test(path) && t.cap > cap) cap = t.cap;
    return cap;
  }

  /** The scan rules that apply to this path. */
  scanRules(path: string): ScanRule[] {
    const out: ScanRule[] = [];
    for (const r of this.rules) if (r.path.test(path)) out.push(r);
    return out;
  }

  /** Whether this path's ELF facts are wanted (if it is an ELF file). */
  elf(path: string): boolean {
    if (this.elfAll) return true;
    for (const re of this.elfPatterns) if (re.test(path)) return true;
    return false;
  }

  /**
   * A digest of everything in this set that changes what the walker keeps (exact text paths and
   * caps, text patterns as source and flags with caps, scan rules with every field, the ELF flag and
   * patterns), in an order that does not depend on the order extractors declared them in: two sets
   * with the same fingerprint make equal scans of the same bytes. `sha256:<hex>`.
   */
  fingerprint(): string {
    if (this.fingerprintMemo !== null) return this.fingerprintMemo;
    const re = (r: RegExp) => [r.source, r.flags];
    const sorted = (items: unknown[]) => items.map((x) => JSON.stringify(x)).sort();
    const parts = {
      text: sorted([...this.exact].map(([path, cap]) => [path, cap])),
      patterns: sorted(this.patterns.map((t) => [re(t.path as RegExp), t.cap])),
      rules: sorted(this.rules.map((r) => [r.id, re(r.path), re(r.pattern), r.max, r.anchor ?? null, r.window ?? null])),
      elf: this.elfAll ? true : sorted(this.elfPatterns.map(re)),
    };
    this.fingerprintMemo = `sha256:${createHash('sha256').update(JSON.stringify(parts)).digest('hex')}`;
    return this.fingerprintMemo;
  }

  /** Whether anything of this path's content is wanted. */
  wantsContent(path: string): boolean {
    return this.elf(path) || this.textCap(path) > 0 || this.scanRules(path).length > 0;
  }
}
