/**
 * The compatibility report of one image on one host: every rule that applies (rules/index.ts),
 * each evaluated once and explained from that evaluation, a verdict and a score.
 */
import { existsSync } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { join, posix, resolve } from 'node:path';
import { loadArchspec, type Archspec } from '../arch/index.js';
import { readElfFile } from '../layers/dir-scan.js';
import { FactsError, NotFoundError, UsageError } from '../errors/index.js';
import type { HostFacts, ImageFacts } from '../model/facts.js';
import { REPORT_SCHEMA_VERSION, type Check, type Report } from '../model/report.js';
import { compileImage, prepareHost } from './compile.js';
import { applySets } from './overrides.js';
import { pack, penaltyReason, platformName, STATUS, type BoundLibrary, type ProvenanceFacts, type RuleContext } from './rule.js';
import { activeRules, summarise } from './score.js';

/** Options for {@link check}. */
export interface CheckOptions {
  /** `--set` overrides, already parsed (KEY → VALUE). */
  set?: Record<string, string>;
  /** Host libraries (or directories of them) to judge for bind-mounting into the image, as `SRC[:DST]`. */
  bind?: string[];
  /** Host facts recorded with earlier successful runs of the same run-spec (oldest first). */
  history?: ProvenanceFacts[];
  /** This host's `ch-run --version`, compared with the history's (provenance rule). */
  charliecloud?: string | null | undefined;
  /** archspec database (default: the vendored one). */
  archspec?: Archspec;
}

/** A `--bind SRC[:DST]` as Charliecloud (`-b`) and Singularity (`--bind`) take it: the host path and where it goes in the image. */
export function parseBind(spec: string): { src: string; dst: string } {
  if (spec === '') throw new UsageError('--bind: expected SRC[:DST]');
  if (existsSync(spec)) return { src: resolve(spec), dst: resolve(spec) }; // a path that itself holds a colon
  const parts = spec.split(':');
  if (parts.length === 3 && /^(ro|rw)$/.test(parts[2]!)) parts.pop(); // Singularity's SRC:DST:ro
  if (parts.length > 2 || parts.some((p) => p === '')) throw new UsageError(`--bind ${spec}: expected SRC[:DST] (host path, then where it goes in the image)`);
  return { src: resolve(parts[0]!), dst: parts[1] ?? resolve(parts[0]!) };
}

/** A shared library's file name: `libz.so`, `libz.so.1`, `libz.so.1.2.13`. */
const SHARED_LIBRARY = /\.so(\.\d+)*$/;

/**
 * Read the `--bind` libraries' ELF facts. SRC may be a library (a missing or non-ELF one is an
 * error naming it) or a directory: every shared library in it (by file name, one per distinct
 * file; linker scripts and other non-ELF `.so` files are left out), each judged on its own and
 * bound at DST/NAME.
 */
export async function readBinds(specs: readonly string[]): Promise<BoundLibrary[]> {
  const out: BoundLibrary[] = [];
  for (const spec of specs) {
    const { src, dst } = parseBind(spec);
    const st = await stat(src).catch(() => null);
    if (!st) throw new NotFoundError(`--bind ${spec}: no such file or directory on this host: ${src}`, src);
    if (st.isDirectory()) {
      const seen = new Set<string>();
      const names = (await readdir(src)).filter((n) => SHARED_LIBRARY.test(n)).sort();
      for (const name of names) {
        const path = join(src, name);
        const real = await realpath(path).catch(() => null);
        const rst = real ? await stat(real).catch(() => null) : null;
        if (!real || !rst?.isFile() || seen.has(real)) continue;
        seen.add(real);
        const r = await readElfFile(real, rst.size);
        if (!r?.elf) continue; // a linker script (libc.so) or another non-ELF file
        out.push({ path, dst: posix.join(dst, name), elf: r.elf, dir: src });
      }
      if (!names.length || !seen.size) throw new FactsError(`--bind ${spec}: no shared library (lib*.so*) in the directory ${src}`);
      continue;
    }
    if (!st.isFile()) throw new FactsError(`--bind ${spec}: ${src} is not a regular file or a directory`);
    const r = await readElfFile(src, st.size); // by position: headers and tables only
    if (!r?.elf) throw new FactsError(`--bind ${spec}: ${src} is not a usable ELF library (${r?.elfError ?? 'not an ELF file'})`);
    out.push({ path: src, dst, elf: r.elf, dir: null });
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
    charliecloud: opts.charliecloud,
  };
  const checks: Check[] = [];
  for (const rule of activeRules(ctx)) checks.push(...rule.report(rule.evaluate(ci, ph, ctx), ci, ph, ctx));
  // A not-applicable check is packed as the advisory, pointless unknown its rule evaluated (scorePair sees the same).
  const { verdict, score } = summarise(checks.map((c) => pack(STATUS.indexOf(c.status === 'not-applicable' ? 'unknown' : c.status), c.required, c.penalty)));
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
