/**
 * Microarchitectures (archspec): the target database, `/proc/cpuinfo` reading and host
 * target detection.
 */

export { ARCHSPEC_ENV, Archspec, DEFAULT_ARCHSPEC_FILE, loadArchspec } from './archspec.js';
export type { ArchTarget, CompilerEntry } from './archspec.js';
export { inferMachine, parseCpuinfo } from './cpuinfo.js';
export { compatibleTargets, describeCpu, detectTarget } from './detect.js';
export type { HostCpu } from './detect.js';
