/**
 * containerspec as a library: image facts, host facts, compatibility reports and matchmaking.
 *
 * @example
 * ```ts
 * import { inspect, hostFacts, check, match, checkImage } from 'containerspec';
 * const image = await inspect('oci:/images/lammps');
 * const report = await check(image, await hostFacts());
 * if (report.verdict !== 'compatible') console.log(report.checks.filter((c) => c.status !== 'pass'));
 * const same = await checkImage('oci:/images/lammps', { host: 'nodes/n01.json' });
 * const m = await match(['nodes/n01.json', 'nodes/n02.json'], ['oci:/images/lammps', 'oci:/images/gromacs']);
 * // Registries: one set of clients (tokens, connections) and a cache for many images.
 * const registries = new Registries({ caFile: '/etc/lab-ca.pem' });
 * const cache = openCache();
 * const facts = await inspect('registry.lab:5000/lammps:2024', { registries, cache });
 * ```
 */
export { inspect, inspectAll, type InspectOptions, type ProgressEvent } from './inspect.js';
export { imageFacts, factsOfImage } from './image-facts.js';
export { attach, discover, type ArtifactOptions, type AttachResult, type DiscoverResult } from './artifacts.js';
export { Registries, RegistryClient, type RegistryOptions } from './registry/client.js';
export { FACTS_ARTIFACT_TYPE, NFD_ARTIFACT_TYPE, attachedFacts } from './registry/attach.js';
export { listReferrers, type Referrer, type Referrers } from './registry/referrers.js';
export { nfdImageCompatibility, nfdImageCompatibilityYaml, planNfdImageCompatibility, type NfdSpec } from './registry/nfd.js';
export { nfdHostFeatures, writeNfdFeatures } from './sched/nfd-features.js';
export { FactsCache, openCache, pruneCache, defaultCacheDir, type CacheOptions } from './cache/index.js';
export { hostFacts, type HostOptions } from './host/facts.js';
export { check, type CheckOptions } from './check/check.js';
export { checkImage, match, loadHost, loadImage, loadImageVariants, platformsFor, type CheckImageOptions, type HostInput, type ImageInput, type ImageAccess, type MatchOptions } from './orchestrate.js';
export { readFactsFile, readHostFacts, readImageFacts, upgradeFacts } from './model/files.js';
export { matchFacts, matchPrepared, matchToJson, cell, MATCH_SCHEMA_VERSION, type MatchResult, type MatchCell, type MatchFactsOptions } from './check/match.js';
export { compileImage, prepareHost, type CompiledImage, type PreparedHost } from './check/compile.js';
export { scorePair, summarise } from './check/score.js';
export { RULES } from './check/rules/index.js';
export type { Rule, RuleContext, Evaluation } from './check/rule.js';
export { EXTRACTORS } from './extract/index.js';
export type { Extractor, ExtractInput, Found } from './extract/types.js';
export { parseSets, applySets, SET_KEYS } from './check/overrides.js';
export { loadArchspec, detectTarget, type Archspec } from './arch/index.js';
export { openImage, imagePlatforms } from './image/open.js';
export { parseReference, type ImageReference } from './image/reference.js';
export { parseDockerReference, type DockerReference } from './image/docker-reference.js';
export { resolveImage, type BlobSource, type Document } from './image/resolve.js';
export type { Image, Layer, BlobLayer, TreeLayer, Descriptor, Platform } from './image/types.js';
export * from './errors/index.js';
export type * from './model/facts.js';
export type * from './model/report.js';
export { FACTS_SCHEMA_VERSION } from './model/facts.js';
export { REPORT_SCHEMA_VERSION } from './model/report.js';
export { hostFeatures, imageNeeds, type FeatureOptions, type ImageNeeds } from './sched/constraint.js';
export { and, or, feat, satisfies, prune, toInfix, TRUE, FALSE, type Expr, type Needs } from './sched/expr.js';
export { slurmFeatures, slurmConstraint, toSlurmSyntax, andConstraint, parseSlurmConstraint, DEFAULT_SLURM_PREFIX, SLURM_CONSTRAINT_MAX, type SlurmConstraint, type SlurmOptions } from './sched/slurm.js';
export { clusterNodes, planSync, applySync, planSubmit, slurmRunner, SlurmError, type SlurmNode, type SlurmRunner, type SyncStep, type SubmitPlan } from './sched/slurm-cluster.js';
export { imageSlurmConstraint, slurmSync, slurmSubmit, type SubmitOutcome, type SubmitOptions } from './scheduler.js';
export { parseDockerfile, substitute, chainLabels, finalLabels, type ParsedDockerfile, type DockerfileStage, type DockerfileFrom, type DockerfileLabel, type ParseOptions as DockerfileParseOptions } from './dockerfile/parse.js';
export { findDockerfiles, isDockerfileName } from './dockerfile/scan.js';
export { loadDockerfile, loadDockerfiles } from './dockerfile/load.js';
export { parseTag, newerTags, sameFamily, sortTags, compareTagInfo, type TagInfo, type TagKind } from './dockerfile/tags.js';
export { Lookups, type LookupOptions, type TagDigest } from './dockerfile/lookup.js';
export { outdated, describeBase, DOCKERFILE_SCHEMA_VERSION, type OutdatedResult, type OutdatedOptions, type BaseStatus, type PinStatus } from './dockerfile/outdated.js';
export { planPins, writePinned, pinResult, BASE_NAME_LABEL, BASE_DIGEST_LABEL, type PinOptions, type PinnedFile, type PinChange, type PinResult } from './dockerfile/pin.js';
export { dockerfileLabels, judgeLabels, labelsFromFacts, type LabelsResult, type LabelSuggestion, type LabelContradiction, type DockerfileSummary } from './dockerfile/labels.js';
export { unifiedDiff } from './dockerfile/diff.js';
export { codeQuality, type CodeQualityIssue } from './dockerfile/report-formats.js';
export { planLabels, writeLabels, type LabelEdit } from './dockerfile/labels.js';
export { parseRunSpec, readRunSpec } from './runspec/parse.js';
export type { RunSpec } from './runspec/types.js';
export { pullByDigest, charliecloudVersion } from './charliecloud/pull.js';
export { imageInStorage } from './charliecloud/verify.js';
export { storageDir } from './charliecloud/storage.js';
export { commitRunSpec, cloneRunSpec, pullRunSpec, pushRunSpec, type ConsumerOptions, type Recorded } from './runspec/consumer.js';
export { replay, runHistory, planCommands, exitKindOf, imageLibraries, REPLAY_SCHEMA_VERSION, OUTPUT_KEEP, type ReplayOptions, type ReplayResult, type ReplayPlan, type ExitKind } from './runspec/producer.js';
export { affected, storeRuns, compileQuery, parseLibraryFilter, parseHostFilter, RUNS_SCHEMA_VERSION, type AffectedOptions, type RunsQuery, type RunsAnswer, type RunRecord } from './runspec/affected.js';
export { provenanceDrift, PROVENANCE_KEYS, type Drift, type ProvenanceKey } from './check/rules/provenance.js';
export type { ProvenanceFacts } from './check/rule.js';
export { openStore } from './store/open.js';
