/** ELF reader: static facts (architecture, interpreter, needed libraries, symbol versions, notes) from ELF files. */
export { ElfCollector, isElfMagic, isaLevelName, machineToArch, parseElf } from './reader.js';
export type { ElfCollectorOptions, ElfResult } from './reader.js';
export type { ElfInfo } from './types.js';
export { highestNeed } from './needs.js';
export type { HighestNeed, NeedFamily } from './needs.js';
export { EM, ociArchForElf } from './machines.js';
