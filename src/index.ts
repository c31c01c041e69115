/**
 * containerspec as a library: image facts, host facts, compatibility reports and matchmaking.
 *
 * @example
 * ```ts
 * import { inspect, hostFacts, check, match } from 'containerspec';
 * const image = await inspect('oci:/images/lammps');
 * const report = await check(image, await hostFacts());
 * if (report.verdict !== 'compatible') console.log(report.checks.filter((c) => c.status !== 'pass'));
 * ```
 */
export { inspect, type InspectOptions } from './inspect.js';
export { hostFacts, type HostOptions } from './host/facts.js';
export { check, readFactsFile, readHostFacts, type CheckOptions } from './check/check.js';
export { match, matchPrepared, matchToJson, cell, type MatchResult, type MatchCell } from './check/match.js';
export { compileImage, prepareHost, type CompiledImage, type PreparedHost } from './check/compile.js';
export { scorePair } from './check/rules.js';
export { parseSets, applySets, SET_KEYS } from './check/overrides.js';
export { loadArchspec, detectTarget, type Archspec } from './arch/index.js';
export * from './errors/index.js';
export type * from './model/facts.js';
export type * from './model/report.js';
export { FACTS_SCHEMA_VERSION } from './model/facts.js';
export { REPORT_SCHEMA_VERSION } from './model/report.js';
