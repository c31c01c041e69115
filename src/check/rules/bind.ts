import { highestNeed } from '../../elf/index.js';
import { compareVersions } from '../../util/version.js';
import type { CompiledImage } from '../compile.js';
import { FAIL, makeCheck, pack, PASS, PENALTY, statusOf, UNKNOWN, type BoundLibrary, type Evaluation, type Rule } from '../rule.js';

/** One bound library judged. */
interface BindResult {
  lib: BoundLibrary;
  outcome: number;
  problems: string[];
  needsGlibc: string | null;
}

/** Every `--bind` library judged, once. */
interface BindEvaluation extends Evaluation {
  results: BindResult[];
}

function judge(ci: CompiledImage, lib: BoundLibrary, provided: ReadonlySet<string>): BindResult {
  const info = lib.elf;
  const problems: string[] = [];
  if (ci.arch && info.arch !== ci.arch) problems.push(`it is ${info.arch}, the image is ${ci.arch}`);
  const needsGlibc = highestNeed(info, 'GLIBC')?.version ?? null;
  const imgGlibc = ci.facts.libc.family === 'glibc' ? ci.facts.libc.version : null;
  let unknown = false;
  if (needsGlibc) {
    if (!imgGlibc) {
      if (ci.facts.libc.family === 'glibc') unknown = true;
      else problems.push(`it needs GLIBC_${needsGlibc} and the image has ${ci.facts.libc.family ?? 'no'} libc`);
    } else if (compareVersions(needsGlibc, imgGlibc) > 0) problems.push(`it needs GLIBC_${needsGlibc}, the image's glibc is ${imgGlibc}`);
  }
  const missing = info.needed.filter((n) => !provided.has(n));
  if (missing.length) problems.push(`its DT_NEEDED ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} neither in the image nor bound`);
  const outcome = problems.length ? pack(FAIL, true) : unknown ? pack(UNKNOWN, true, PENALTY.unknown) : pack(PASS, true);
  return { lib, outcome, problems, needsGlibc };
}

/** Combine per-library outcomes: the worst status, the penalties summed (as the report's checks sum them). */
function combine(results: readonly BindResult[]): number {
  let status = PASS;
  let penalty = 0;
  for (const r of results) {
    status = Math.max(status, statusOf(r.outcome));
    penalty += r.outcome >>> 3;
  }
  return pack(status, true, penalty);
}

/** bind: can a host library be bind-mounted into the image? Same arch, no GLIBC need beyond the image's glibc, DT_NEEDED satisfiable. */
export const bindRule: Rule<BindEvaluation> = {
  id: 'bind',
  applies: (ctx) => Boolean(ctx.binds?.length),
  outcome(ci, ph, ctx) {
    return bindRule.evaluate(ci, ph, ctx).outcome; // only with --bind, never in the matcher
  },
  evaluate(ci, _ph, ctx) {
    const libs = ctx.binds ?? [];
    const provided = new Set<string>(ci.facts.sonames);
    for (const { path, elf } of libs) {
      provided.add(path.slice(path.lastIndexOf('/') + 1));
      if (elf.soname) provided.add(elf.soname);
    }
    const results = libs.map((l) => judge(ci, l, provided));
    return { outcome: combine(results), results };
  },
  report(ev, ci) {
    const imgGlibc = ci.facts.libc.family === 'glibc' ? ci.facts.libc.version : null;
    return ev.results.map(({ lib: { path: p, elf: info }, outcome, problems, needsGlibc }) => {
      const s = statusOf(outcome);
      const msg = problems.length ? `cannot bind ${p}: ${problems.join('; ')}`
        : s === UNKNOWN ? `${p}: the image's glibc version is unknown`
        : `${p} can be bound: ${info.arch}, needs GLIBC ${needsGlibc ?? 'nothing'}, its DT_NEEDED are satisfied`;
      const fix = problems.length ? "bind a library built for the image's architecture and an older glibc, and bind its dependencies too" : undefined;
      return makeCheck('bind', outcome, msg, { path: p, arch: info.arch, needsGlibc, needed: info.needed }, { arch: ci.arch, glibc: imgGlibc }, fix, [{ source: 'elf', path: p }]);
    });
  },
};
