/**
 * The MPI ABI table (`data/mpi-abi.json`, replaceable with `CONTAINERSPEC_MPI_ABI_TABLE`): for each
 * implementation, the version series its project documents as ABI compatible, with the soname and
 * the source. The mpi rule asks it whether a host library can stand in for an image's.
 */
import { loadTable, type TableSpec } from '../data/tables.js';
import { FactsError } from '../errors/index.js';
import type { MpiFact } from '../model/facts.js';
import { compareTuples, parseVersion, type VersionTuple } from '../util/version.js';

/** Environment variable naming a replacement table file. */
export const MPI_ABI_TABLE_ENV = 'CONTAINERSPEC_MPI_ABI_TABLE';

/** One ABI-compatible series of one implementation. */
export interface MpiSeries {
  readonly implementation: MpiFact['implementation'];
  readonly abi: NonNullable<MpiFact['abi']>;
  readonly soname: string;
  /** First version of the series, as written and as a tuple. */
  readonly from: string;
  readonly fromV: VersionTuple;
  /** First version past the series, or null while it is open. */
  readonly before: string | null;
  readonly beforeV: VersionTuple | null;
  readonly source: string;
}

function parseTable(json: unknown, file: string): readonly MpiSeries[] {
  const rows = (json as { series?: unknown })?.series;
  if (!Array.isArray(rows)) throw new FactsError(`MPI ABI table ${file}: no "series" list`);
  return Object.freeze(rows.map((r: Record<string, unknown>, i) => {
    const str = (k: string) => {
      if (typeof r[k] !== 'string' || !r[k]) throw new FactsError(`MPI ABI table ${file}: series[${i}].${k} is not a non-empty string`);
      return r[k] as string;
    };
    const from = str('from');
    const before = r.before === null ? null : str('before');
    const fromV = parseVersion(from);
    const beforeV = before === null ? null : parseVersion(before);
    if (!fromV || (before !== null && !beforeV)) throw new FactsError(`MPI ABI table ${file}: series[${i}] has a version that is not one`);
    return Object.freeze({ implementation: str('implementation') as MpiFact['implementation'], abi: str('abi') as MpiSeries['abi'], soname: str('soname'), from, fromV, before, beforeV, source: str('source') });
  }));
}

const MPI_ABI_TABLE: TableSpec<readonly MpiSeries[]> = { what: 'MPI ABI table', vendored: 'mpi-abi.json', env: MPI_ABI_TABLE_ENV, parse: parseTable };

/** The table (the vendored one, `$CONTAINERSPEC_MPI_ABI_TABLE`, or `file`). */
export function loadMpiAbiTable(file?: string): readonly MpiSeries[] {
  const envFile = process.env[MPI_ABI_TABLE_ENV];
  // Asked for once per MPI library compiled: skip path resolution when nothing changed.
  if (file === undefined && lastDefault && lastDefault.env === envFile) return lastDefault.table;
  const table = loadTable(MPI_ABI_TABLE, file);
  if (file === undefined) lastDefault = { env: envFile, table };
  return table;
}

let lastDefault: { env: string | undefined; table: readonly MpiSeries[] } | null = null;

/** The series of the table a library belongs to (implementation, ABI and version), or null when none lists it. */
export function seriesOf(impl: MpiFact['implementation'], abi: MpiFact['abi'], version: VersionTuple | null): MpiSeries | null {
  if (!version || !abi) return null;
  for (const s of loadMpiAbiTable()) {
    if (s.implementation !== impl || s.abi !== abi) continue;
    if (compareTuples(version, s.fromV) < 0) continue;
    if (s.beforeV && compareTuples(version, s.beforeV) >= 0) continue;
    return s;
  }
  return null;
}
