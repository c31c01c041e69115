import { highestNeed } from '../../elf/needs.js';
import { compareVersions } from '../../util/version.js';
import type { CompiledImage } from '../compile.js';
import { FAIL, makeCheck, pack, PASS, PENALTY, statusOf, UNKNOWN, type BoundLibrary, type Evaluation, type Rule } from '../rule.js';

/** Why one bound library cannot be used in the image, each with its own remedy. */
interface Problem {
  kind: 'arch' | 'glibc' | 'libc-family' | 'needed';
  message: string;
  fix: string;
}

/** One bound library judged. */
interface BindResult {
  lib: BoundLibrary;
  outcome: number;
  problems: Problem[];
  needsGlibc: string | null;
  /** DT_NEEDED that neither the image nor another bound library provides. */
  missing: string[];
}

/** Every `--bind` library judged, once. */
interface BindEvaluation extends Evaluation {
  results: BindResult[];
}

const base = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

function judge(ci: CompiledImage, lib: BoundLibrary, provided: ReadonlySet<string>): BindResult {
  const info = lib.elf;
  const problems: Problem[] = [];
  if (ci.arch && info.arch !== ci.arch) {
    problems.push({ kind: 'arch', message: `it is ${info.arch}, the image is ${ci.arch}`, fix: `bind a ${ci.arch} build of it` });
  }
  const needsGlibc = highestNeed(info, 'GLIBC')?.version ?? null;
  const family = ci.facts.libc.family;
  const imgGlibc = family === 'glibc' ? ci.facts.libc.version : null;
  let unknown = false;
  if (needsGlibc) {
    if (family === 'glibc' && !imgGlibc) unknown = true;
    else if (family !== 'glibc') {
      problems.push({
        kind: 'libc-family',
        message: `it is linked against glibc (needs GLIBC_${needsGlibc}) and the image's C library is ${family ?? 'none'}`,
        fix: family === 'musl' ? 'the image uses musl, which cannot load a glibc-linked library at any glibc version: bind a musl build of it, or use a glibc image' : 'use an image with glibc, or a statically linked build of it',
      });
    } else if (compareVersions(needsGlibc, imgGlibc!) > 0) {
      problems.push({ kind: 'glibc', message: `it needs GLIBC_${needsGlibc}, the image's glibc is ${imgGlibc}`, fix: `bind a build linked against glibc ${imgGlibc} or older (or use an image with glibc >= ${needsGlibc})` });
    }
  }
  const missing = info.needed.filter((n) => !provided.has(n));
  if (missing.length) {
    problems.push({
      kind: 'needed',
      message: `its DT_NEEDED ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} neither in the image nor bound`,
      fix: `bind ${missing.length === 1 ? 'that library' : 'those libraries'} too (${missing.join(', ')}), e.g. the directory that holds them`,
    });
  }
  const outcome = problems.length ? pack(FAIL, true) : unknown ? pack(UNKNOWN, true, PENALTY.unknown) : pack(PASS, true);
  return { lib, outcome, problems, needsGlibc, missing };
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

/**
 * bind: can host libraries be bind-mounted into the image (`--bind SRC[:DST]`, a library or a
 * directory of them)? Each library: the image's architecture, a C library that can load it (no
 * GLIBC_x.y newer than the image's glibc; never a glibc-linked library in a musl image), and every
 * DT_NEEDED in the image or bound too. One check per library (`bind:HOSTPATH`), and for a directory
 * a summary check (`bind`) naming the ones that cannot be bound.
 */
export const bindRule: Rule<BindEvaluation> = {
  id: 'bind',
  applies: (ctx) => Boolean(ctx.binds?.length),
  outcome(ci, ph, ctx) {
    return bindRule.evaluate(ci, ph, ctx).outcome; // only with --bind, never in the matcher
  },
  evaluate(ci, _ph, ctx) {
    const libs = ctx.binds ?? [];
    const provided = new Set<string>(ci.facts.sonames);
    for (const { dst, elf } of libs) {
      provided.add(base(dst));
      if (elf.soname) provided.add(elf.soname);
    }
    const results = libs.map((l) => judge(ci, l, provided));
    return { outcome: combine(results), results };
  },
  report(ev, ci) {
    const imgGlibc = ci.facts.libc.family === 'glibc' ? ci.facts.libc.version : null;
    const image = { arch: ci.arch, glibc: imgGlibc, libc: ci.facts.libc.family };
    const checks = ev.results.map(({ lib, outcome, problems, needsGlibc, missing }) => {
      const { path: p, dst, elf: info } = lib;
      const s = statusOf(outcome);
      const at = dst !== p ? ` (at ${dst})` : '';
      const msg = problems.length ? `cannot bind ${p}${at}: ${problems.map((x) => x.message).join('; ')}`
        : s === UNKNOWN ? `${p}${at}: the image's glibc version is unknown`
        : `${p}${at} can be bound: ${info.arch}, needs GLIBC ${needsGlibc ?? 'nothing'}, its DT_NEEDED are satisfied`;
      const fix = problems.length ? problems.map((x) => x.fix).join('; ') : undefined;
      return makeCheck(`bind:${p}`, outcome, msg, { path: p, target: dst, arch: info.arch, needsGlibc, missing }, image, fix, [{ source: 'elf', path: p }]);
    });
    // A summary per directory: which of its libraries cannot be bound (no points of its own: each library's check carries them).
    const dirs = [...new Set(ev.results.map((r) => r.lib.dir).filter((d): d is string => d !== null))];
    for (const dir of dirs) {
      const here = ev.results.filter((r) => r.lib.dir === dir);
      const bad = here.filter((r) => r.problems.length);
      const worst = Math.max(...here.map((r) => statusOf(r.outcome)));
      const msg = bad.length
        ? `${bad.length} of the ${here.length} libraries in ${dir} cannot be bound: ${bad.map((r) => `${base(r.lib.path)} (${r.problems.map((x) => x.kind === 'needed' ? `needs ${r.missing.join(', ')}` : x.kind).join(', ')})`).join('; ')}`
        : `all ${here.length} libraries in ${dir} can be bound`;
      checks.push(makeCheck('bind', pack(worst, true), msg, { path: dir, libraries: here.length, failing: bad.map((r) => r.lib.path) }, image, bad.length ? 'see the bind:PATH checks for each library' : undefined, [{ source: 'bind', path: dir }]));
    }
    return checks;
  },
};
