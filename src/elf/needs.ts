/** Versioned symbol needs of one ELF file (`.gnu.version_r`): "the highest GLIBC_x.y needed", computed here only. */
import { compareTuples, parseVersion, type VersionTuple } from '../util/version.js';
import type { ElfInfo } from './types.js';

/** Version-name families whose highest need matters: glibc, libstdc++ and its C++ ABI. */
export type NeedFamily = 'GLIBC' | 'GLIBCXX' | 'CXXABI';

/** The highest need of one family in one file. */
export interface HighestNeed {
  /** The version, e.g. `2.34`. */
  version: string;
  /** The version name as written, e.g. `GLIBC_2.34`. */
  name: string;
  /** The file it is needed from, e.g. `libc.so.6`. */
  from: string;
}

const NEED = /^(GLIBC|GLIBCXX|CXXABI)_(\d+(?:\.\d+)*)$/;

/**
 * The highest `FAMILY_x.y` an ELF file needs (versions compared as integer tuples, so 2.41 > 2.5),
 * or null when it needs none of that family. `GLIBC_PRIVATE` and other non-numeric names are ignored.
 */
export function highestNeed(elf: Pick<ElfInfo, 'versionNeeds'>, family: NeedFamily): HighestNeed | null {
  let best: HighestNeed | null = null;
  let bestT: VersionTuple | null = null;
  for (const vn of elf.versionNeeds) {
    for (const v of vn.versions) {
      const m = NEED.exec(v);
      if (!m || m[1] !== family) continue;
      const t = parseVersion(m[2]!);
      if (t === null) continue;
      if (bestT === null || compareTuples(t, bestT) > 0) {
        best = { version: m[2]!, name: v, from: vn.file };
        bestT = t;
      }
    }
  }
  return best;
}
