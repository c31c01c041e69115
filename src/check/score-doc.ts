/**
 * The README's score table, generated from the penalties the rules use (`PENALTY` in rule.ts), so
 * the documentation cannot drift from the code: `test/score.test.ts` checks that README.md holds
 * exactly this table, and `node scripts/score-table.mjs` prints it.
 */
import { PENALTY } from './rule.js';

/** The rows of the table: what costs points, and how many. */
export function scoreRows(): [string, string][] {
  const P = PENALTY;
  return [
    ['the image runs emulated (arch warn), or an architecture is unknown (it might only run emulated)', `${P.emulated}`],
    ['a fact unknown: kernel, libc or gpu (verdict "cannot tell"), or an MPI version the ABI table cannot place (advisory)', `${P.unknown} each`],
    [
      "CPU fit: the share of the host target's instruction-set features (archspec; POWER: its generations) the image's target does not have. A generic image on a host past its family's baseline loses all of it; an image built for the host's exact target, none",
      `up to ${P.microarchUnused} (${P.microarchUnused} × unused share, rounded)`,
    ],
    ["CPU fit unknown (the host's target, the image's target or an architecture unknown): as a generic image", `${P.microarchUnused}`],
    ['GPU only under CUDA minor-version compatibility', `${P.minorVersionCuda}`],
    ['no host MPI that can stand in for the image\'s (none, another ABI family or series, older than the image\'s): the image\'s own MPI runs within one node', `${P.noHostMpi}`],
    ['host MPI of the same ABI from another implementation', `${P.crossImplementationMpi}`],
    ['provenance drift', `${P.provenanceDrift} per drifted fact, at most ${P.provenanceMax}`],
  ];
}

/** The table as Markdown. */
export function scoreTable(): string {
  return ['| what | points off |', '| --- | --- |', ...scoreRows().map(([a, b]) => `| ${a} | ${b} |`)].join('\n');
}
