import type { EntryMeta, FileResult, LayerScan, Warning } from './types.js';
import { parentOf } from './paths.js';
import { resolveLinks } from './resolve.js';

/** One path of the squashed image. */
export interface ViewEntry {
  meta: EntryMeta;
  /** Index of the layer the entry comes from (base = 0). */
  layer: number;
  /** That layer's digest (or diff id; null for a rootfs source). */
  layerId: string | null;
  /** Kept content (for hard links, the target's). */
  result?: FileResult;
}

/** The outcome of resolving a path through symlinks inside the image root. */
export type Resolved =
  | { ok: true; path: string; entry: ViewEntry }
  | { ok: false; reason: 'missing' | 'loop'; path: string };

/** Is `p` equal to or below one of `prefixes`? */
function underAny(p: string, prefixes: Set<string>): boolean {
  if (prefixes.size === 0) return false;
  if (prefixes.has('')) return true;
  let q = p;
  for (;;) {
    if (prefixes.has(q)) return true;
    const i = q.lastIndexOf('/');
    if (i < 0) return false;
    q = q.slice(0, i);
  }
}

/**
 * The squashed view of an image: layers applied base first, whiteouts and opaque markers of a
 * layer hiding entries of the layers below it only, with symlinks resolved inside the root.
 */
export class ImageView {
  readonly entries = new Map<string, ViewEntry>();
  readonly warnings: Warning[] = [];
  /** What the scans behind this view could not see (e.g. extended attributes of a directory). */
  readonly notes: string[] = [];

  /** Apply layer scans in order; `checkLoops` (default true) flags symlink loops as warnings. */
  static fromScans(scans: readonly LayerScan[], opts: { checkLoops?: boolean } = {}): ImageView {
    const v = new ImageView();
    for (const s of scans) v.apply(s);
    if (opts.checkLoops ?? true) v.checkSymlinks();
    return v;
  }

  private apply(scan: LayerScan): void {
    for (const n of scan.notes) if (!this.notes.includes(n)) this.notes.push(n);
    // Whiteouts and opaque markers hide lower entries only: apply them before this layer's own.
    const hidden = new Set(scan.whiteouts);
    const opaque = new Set(scan.opaques);
    if (hidden.size || opaque.size) {
      for (const key of [...this.entries.keys()]) {
        if (underAny(key, hidden)) this.entries.delete(key);
        else if (opaque.size && underAny(parentOf(key), opaque)) this.entries.delete(key);
      }
    }
    const replacedDirs = new Set<string>();
    for (const meta of scan.entries) {
      const prev = this.entries.get(meta.path);
      if (prev && prev.meta.type === 'dir' && meta.type !== 'dir') replacedDirs.add(meta.path);
      const e: ViewEntry = { meta, layer: scan.index, layerId: scan.id };
      let r: FileResult | undefined;
      if (meta.type === 'hardlink' && meta.linkname !== undefined) {
        r = scan.results[meta.linkname] ?? this.entries.get(meta.linkname)?.result;
      } else {
        r = scan.results[meta.path];
      }
      if (r) e.result = r;
      this.entries.set(meta.path, e);
    }
    if (replacedDirs.size) {
      for (const key of [...this.entries.keys()]) {
        if (!replacedDirs.has(key) && underAny(key, replacedDirs)) this.entries.delete(key);
      }
    }
  }

  /** The entry at exactly this path, no symlink resolution. */
  get(path: string): ViewEntry | undefined {
    return this.entries.get(path);
  }

  /**
   * Resolve a path (relative to the root, no leading slash) through symlinks in every
   * component, as the kernel would inside a chroot: `..` never climbs above the root.
   */
  resolve(path: string): Resolved {
    const r = resolveLinks(path, (p) => {
      const e = this.entries.get(p);
      return e && e.meta.type === 'symlink' && e.meta.linkname !== undefined ? e.meta.linkname : null;
    });
    if (r.loop) return { ok: false, reason: 'loop', path };
    const entry = this.entries.get(r.path);
    if (!entry) return { ok: false, reason: 'missing', path: r.path };
    return { ok: true, path: r.path, entry };
  }

  /** Every entry, in path order of insertion. */
  *all(): IterableIterator<[string, ViewEntry]> {
    yield* this.entries.entries();
  }

  /** Flag symlinks that loop (dangling ones are normal in images and are not flagged). */
  private checkSymlinks(): void {
    for (const [p, e] of this.entries) {
      if (e.meta.type !== 'symlink') continue;
      const r = this.resolve(p);
      if (!r.ok && r.reason === 'loop') {
        this.warnings.push({
          code: 'symlink-loop',
          message: `symlink loop at /${p} -> ${e.meta.linkname ?? ''}`,
          path: p,
          layer: e.layerId,
        });
      }
    }
  }
}
