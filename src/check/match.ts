import { loadArchspec, type Archspec } from '../arch/index.js';
import type { HostFacts, ImageFacts } from '../model/facts.js';
import { compileImage, prepareHost, type CompiledImage, type PreparedHost } from './compile.js';
import { applySets } from './overrides.js';
import { activeRules, plainContext, scorerFor } from './score.js';
import type { CheckId } from '../model/report.js';

/** Version of the match JSON (`schemas/match-1.1.schema.json`; 1.0, `schemas/match.schema.json`, had no per-cell reasons). */
export const MATCH_SCHEMA_VERSION = '1.1';

/** One cell of the matrix as JSON shows it. */
export interface MatchCell {
  verdict: 'compatible' | 'incompatible' | 'unknown';
  score: number;
}

/** Which required checks failed, and which could not tell, for one pair. */
export interface CellReasons {
  failed: CheckId[];
  unknown: CheckId[];
}

/** The compatibility matrix of many images on many hosts. */
export interface MatchResult {
  schemaVersion: string;
  hosts: string[];
  images: string[];
  /** Raw scores, one row per image (length = hosts): 0..100 compatible, -1 incompatible, -2-score unknown. */
  scores: Int16Array[];
  /** For each image, the best host (highest score among compatible hosts, then unknown ones), or null. */
  bestHostForImage: { image: string; host: string | null; score: number | null; verdict: MatchCell['verdict'] }[];
  /** For each host, the best image, or null. */
  bestImageForHost: { host: string; image: string | null; score: number | null; verdict: MatchCell['verdict'] }[];
  /** Per cell (one row per image), the required checks that failed or could not tell (empty lists for a compatible cell). */
  reasons: CellReasons[][];
}

/** Decode a raw score. */
export function cell(raw: number): MatchCell {
  if (raw === -1) return { verdict: 'incompatible', score: 0 };
  if (raw <= -2) return { verdict: 'unknown', score: -2 - raw };
  return { verdict: 'compatible', score: raw };
}

/** Rank raw scores: compatible by score, then unknown by score, then incompatible. */
function rank(raw: number): number {
  if (raw >= 0) return 1000 + raw;
  if (raw <= -2) return 500 + (-2 - raw);
  return 0;
}

/** Options for {@link matchFacts}. */
export interface MatchFactsOptions {
  archspec?: Archspec;
  /** `--set` overrides applied to every host. */
  set?: Record<string, string>;
  /** Host names to show, one per host (unique); default each host's facts name, made unique. */
  hostNames?: readonly string[];
}

/** Host names made unique: a repeated name gets `#2`, `#3`, ... in order; an empty one is `host<N>`. */
export function uniqueNames(names: readonly string[]): string[] {
  const seen = new Map<string, number>();
  const taken = new Set(names);
  return names.map((raw, i) => {
    const n = raw || `host${i + 1}`;
    const k = (seen.get(n) ?? 0) + 1;
    seen.set(n, k);
    if (k === 1) return n;
    let alt = `${n}#${k}`;
    while (taken.has(alt)) alt += "'";
    taken.add(alt);
    return alt;
  });
}

const NO_REASONS: CellReasons = Object.freeze({ failed: [], unknown: [] }) as CellReasons;

/** The required checks that fail or cannot tell on one pair (after matching, for the output only: not the hot path). */
export function cellReasons(ci: CompiledImage, ph: PreparedHost, spec: Archspec, ctx = plainContext(spec)): CellReasons {
  const failed: CheckId[] = [];
  const unknown: CheckId[] = [];
  for (const r of activeRules(ctx)) {
    const o = r.outcome(ci, ph, ctx);
    if ((o & 4) === 0) continue;
    if ((o & 3) === 3) failed.push(r.id);
    else if ((o & 3) === 2) unknown.push(r.id);
  }
  return failed.length || unknown.length ? { failed, unknown } : NO_REASONS;
}

/**
 * Score every image on every host with pre-compiled inputs (the hot path: no allocation per
 * pair; rule outcomes that depend only on a host's GPU, MPI or CPU profile are cached per image).
 */
export function matchPrepared(images: (CompiledImage | CompiledImage[])[], hosts: PreparedHost[], spec: Archspec = loadArchspec()): Int16Array[] {
  const ctx = plainContext(spec);
  const score = scorerFor(activeRules(ctx));
  const rows: Int16Array[] = [];
  for (const img of images) {
    const row = new Int16Array(hosts.length);
    if (Array.isArray(img)) {
      // Platform variants of one image (a multi-platform index): each host gets the best fitting one.
      for (let h = 0; h < hosts.length; h++) {
        let best = -1;
        for (const ci of img) {
          const s = score(ci, hosts[h]!, ctx);
          if (rank(s) > rank(best)) best = s;
        }
        row[h] = best;
      }
    } else for (let h = 0; h < hosts.length; h++) row[h] = score(img, hosts[h]!, ctx);
    rows.push(row);
  }
  return rows;
}

/**
 * The compatibility matrix with scores, the best host for each image and the best image for
 * each host. Images compile once; scoring one more host is cheap. An image given as an array
 * is the platform variants of one multi-platform index: each host is scored on its best variant.
 */
export function matchFacts(hosts: readonly HostFacts[], images: readonly (ImageFacts | readonly ImageFacts[])[], opts: MatchFactsOptions = {}): MatchResult {
  const spec = opts.archspec ?? loadArchspec();
  const sets = opts.set && Object.keys(opts.set).length ? opts.set : null;
  const ph = hosts.map((h) => prepareHost(sets ? applySets(h, sets) : h, spec));
  const ci = images.map((i) => (isVariants(i) ? i.map((v) => compileImage(v, spec)) : compileImage(i, spec)));
  const scores = matchPrepared(ci, ph, spec);
  const hostNames = uniqueNames(opts.hostNames ?? hosts.map((h) => h.name));
  // Why each cell is not compatible: for a multi-platform image, on the variant the host was scored on.
  const ctx = plainContext(spec);
  let score: ReturnType<typeof scorerFor> | null = null;
  const reasons = scores.map((row, i) => {
    const img = ci[i]!;
    return Array.from(row, (raw, h) => {
      if (raw >= 0) return NO_REASONS;
      const variants = Array.isArray(img) ? img : [img];
      score ??= scorerFor(activeRules(ctx));
      const scored = variants.length === 1 ? variants[0]! : variants.find((v) => score!(v, ph[h]!, ctx) === raw) ?? variants[0]!;
      return cellReasons(scored, ph[h]!, spec);
    });
  });
  const imageNames = images.map((i) => (isVariants(i) ? i[0]?.name ?? '' : i.name));
  const bestHostForImage = scores.map((row, i) => {
    let best = -1;
    for (let h = 0; h < row.length; h++) if (best < 0 || rank(row[h]!) > rank(row[best]!)) best = h;
    const c = best >= 0 && rank(row[best]!) > 0 ? cell(row[best]!) : null;
    return { image: imageNames[i]!, host: c ? hostNames[best]! : null, score: c ? c.score : null, verdict: c ? c.verdict : 'incompatible' as const };
  });
  const bestImageForHost = hostNames.map((name, h) => {
    let best = -1;
    for (let i = 0; i < scores.length; i++) if (best < 0 || rank(scores[i]![h]!) > rank(scores[best]![h]!)) best = i;
    const c = best >= 0 && rank(scores[best]![h]!) > 0 ? cell(scores[best]![h]!) : null;
    return { host: name, image: c ? imageNames[best]! : null, score: c ? c.score : null, verdict: c ? c.verdict : 'incompatible' as const };
  });
  return { schemaVersion: MATCH_SCHEMA_VERSION, hosts: hostNames, images: imageNames, scores, bestHostForImage, bestImageForHost, reasons };
}

function isVariants(i: ImageFacts | readonly ImageFacts[]): i is readonly ImageFacts[] {
  return Array.isArray(i);
}

/** JSON form of a match result (cells decoded). */
export function matchToJson(m: MatchResult): unknown {
  return {
    schemaVersion: m.schemaVersion,
    hosts: m.hosts,
    images: m.images,
    matrix: m.scores.map((row, i) => Array.from(row, (raw, h) => ({ ...cell(raw), ...(m.reasons[i]?.[h] ?? NO_REASONS) }))),
    bestHostForImage: m.bestHostForImage,
    bestImageForHost: m.bestImageForHost,
  };
}
