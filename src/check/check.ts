/**
 * The compatibility report of one image on one host: every rule that applies (rules/index.ts),
 * each evaluated once and explained from that evaluation, a verdict and a score.
 */
import { stat } from 'node:fs/promises';
import { loadArchspec, type Archspec } from '../arch/index.js';
import { readElfFile } from '../layers/dir-scan.js';
import { FactsError, NotFoundError } from '../errors/index.js';
import type { HostFacts, ImageFacts } from '../model/facts.js';
import { REPORT_SCHEMA_VERSION, type Check, type Report } from '../model/report.js';
import { compileImage, prepareHost } from './compile.js';
import { applySets } from './overrides.js';
import { pack, penaltyReason, platformName, STATUS, type BoundLibrary, type RuleContext } from './rule.js';
import { activeRules, summarise } from './score.js';

/** Options for {@link check}. */
export interface CheckOptions {
  /** `--set` overrides, already parsed (KEY → VALUE). */
  set?: Record<string, string>;
  /** Host library paths to judge for bind-mounting into the image. */
  bind?: string[];
  /** Host facts recorded with earlier successful runs of the same run-spec (oldest first). */
  history?: HostFacts[];
  /** archspec database (default: the vendored one). */
  archspec?: Archspec;
}

/** Read the `--bind` libraries' ELF facts (a library that is missing or not ELF is an error naming it). */
export async function readBinds(paths: readonly string[]): Promise<BoundLibrary[]> {
  const out: BoundLibrary[] = [];
  for (const p of paths) {
    const st = await stat(p).catch(() => null);
    if (!st) throw new NotFoundError(`--bind ${p}: no such file on this host`, p);
    if (!st.isFile()) throw new FactsError(`--bind ${p}: not a regular file`);
    const r = await readElfFile(p, st.size); // by position: headers and tables only
    if (!r?.elf) throw new FactsError(`--bind ${p}: not a usable ELF library (${r?.elfError ?? 'not an ELF file'})`);
    out.push({ path: p, elf: r.elf });
  }
  return out;
}

/**
 * Check an image's facts against a host's facts: every rule of DESIGN.md "Compatibility rules",
 * a verdict, a score and, for each check, what to do.
 */
export async function check(image: ImageFacts, host: HostFacts, opts: CheckOptions = {}): Promise<Report> {
  const spec = opts.archspec ?? loadArchspec();
  const hostFacts = opts.set && Object.keys(opts.set).length ? applySets(host, opts.set) : host;
  const ci = compileImage(image, spec);
  const ph = prepareHost(hostFacts, spec);
  const ctx: RuleContext = {
    spec,
    binds: opts.bind?.length ? await readBinds(opts.bind) : null,
    history: opts.history?.length ? opts.history : null,
  };
  const checks: Check[] = [];
  for (const rule of activeRules(ctx)) checks.push(...rule.report(rule.evaluate(ci, ph, ctx), ci, ph, ctx));
  const { verdict, score } = summarise(checks.map((c) => pack(STATUS.indexOf(c.status), c.required, c.penalty)));
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    verdict,
    score,
    image: { name: image.name, digest: image.digest ?? null, platform: platformName(ci.arch, ci.variant) },
    host: { name: hostFacts.name, overrides: opts.set ?? {} },
    checks,
    penalties: verdict === 'incompatible' ? [] : checks.filter((c) => c.penalty > 0).map((c) => ({ check: c.id, points: c.penalty, reason: penaltyReason(c) })),
    warnings: image.warnings,
  };
}
