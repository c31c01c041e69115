/**
 * The CUDA toolkit / NVIDIA driver table: which driver each CUDA toolkit needs,
 * and CUDA minor-version compatibility per major family.
 *
 * The table is data (`data/cuda-drivers.json`, from NVIDIA's release notes) so
 * it can be replaced without a release: pass a file to {@link loadCudaTable} or
 * set `CONTAINERSPEC_CUDA_TABLE`.
 */

import { loadTable, vendoredTablePath, type TableSpec } from '../data/tables.js';
import { FactsError } from '../errors/index.js';
import { compareTuples, parseVersion } from '../util/version.js';
import type { VersionTuple } from '../util/version.js';

/** Environment variable naming a replacement table file. */
export const CUDA_TABLE_ENV = 'CONTAINERSPEC_CUDA_TABLE';

/** One toolkit row: CUDA `major.minor` and the minimum Linux x86_64 driver for it. */
export interface CudaToolkitEntry {
  /** Toolkit version as written in the table, e.g. `"12.4"`. */
  readonly cuda: string;
  /** `cuda` as an integer tuple. */
  readonly version: VersionTuple;
  /** Minimum driver as written in the table, e.g. `"550.54.14"`. */
  readonly minimumDriver: string;
  /** `minimumDriver` as an integer tuple. */
  readonly driver: VersionTuple;
}

/** Minor-version compatibility for one major family (CUDA 11 and later). */
export interface CudaFamilyEntry {
  readonly major: number;
  /** Lowest driver on which any toolkit of this major runs (with a limited feature set). */
  readonly minimumDriver: string;
  readonly driver: VersionTuple;
}

/** A loaded, validated table. */
export interface CudaTable {
  /** Absolute path of the file it was read from. */
  readonly file: string;
  /** The file's `_source` note, if any. */
  readonly source: string | null;
  /** Toolkits, ascending by version. */
  readonly toolkits: readonly CudaToolkitEntry[];
  /** Minor-version compatibility families by major version. */
  readonly families: ReadonlyMap<number, CudaFamilyEntry>;
}

/** Result of {@link cudaCompatibility}. */
export interface CudaCompatibility {
  /**
   * `full`: the driver meets the toolkit's minimum.
   * `minor-version`: below that, but at or above the major family's minimum: the
   * application runs under CUDA minor-version compatibility (no PTX JIT, some newer features missing).
   * `none`: neither.
   */
  status: 'full' | 'minor-version' | 'none';
  /** The toolkit's minimum driver (from the table). */
  minimumDriver: string;
  /** The major family's minimum driver, or null when the family has no minor-version compatibility (before CUDA 11). */
  familyMinimum: string | null;
  /** One line for users. */
  message: string;
}

/** Path of the table shipped with containerspec (`data/cuda-drivers.json`), from both `src/gpu/` and `dist/gpu/`. */
export function defaultCudaTablePath(): string {
  return vendoredTablePath('cuda-drivers.json');
}

const STRICT_VERSION = /^\d+(?:\.\d+)*$/;

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function parseTable(json: unknown, file: string): CudaTable {
  const bad = (why: string): FactsError => new FactsError(`bad CUDA driver table ${file}: ${why}`);
  if (!isRecord(json)) throw bad('expected a JSON object');
  const source = typeof json['_source'] === 'string' ? json['_source'] : null;

  const rows = json['toolkitMinimumDriver'];
  if (!isRecord(rows)) throw bad('"toolkitMinimumDriver" must be an object of "major.minor": "driver version"');
  const toolkits: CudaToolkitEntry[] = [];
  for (const [cuda, minimumDriver] of Object.entries(rows)) {
    if (cuda.startsWith('_')) continue;
    const version = STRICT_VERSION.test(cuda) ? parseVersion(cuda) : null;
    if (version === null) throw bad(`toolkit key ${JSON.stringify(cuda)} is not a version`);
    const driver = typeof minimumDriver === 'string' && STRICT_VERSION.test(minimumDriver) ? parseVersion(minimumDriver) : null;
    if (driver === null || typeof minimumDriver !== 'string') {
      throw bad(`driver for CUDA ${cuda} is not a version string: ${JSON.stringify(minimumDriver)}`);
    }
    toolkits.push({ cuda, version, minimumDriver, driver });
  }
  if (toolkits.length === 0) throw bad('"toolkitMinimumDriver" lists no toolkits');
  toolkits.sort((a, b) => compareTuples(a.version, b.version));
  for (let i = 1; i < toolkits.length; i++) {
    const prev = toolkits[i - 1];
    const cur = toolkits[i];
    if (prev && cur && compareTuples(prev.version, cur.version) === 0) {
      throw bad(`CUDA ${prev.cuda} and ${cur.cuda} are the same toolkit`);
    }
  }

  const families = new Map<number, CudaFamilyEntry>();
  const mvc = json['minorVersionCompatibility'];
  if (mvc !== undefined) {
    if (!isRecord(mvc)) throw bad('"minorVersionCompatibility" must be an object');
    for (const [key, val] of Object.entries(mvc)) {
      if (key.startsWith('_')) continue;
      if (!/^\d+$/.test(key)) throw bad(`minorVersionCompatibility key ${JSON.stringify(key)} is not a major version`);
      const minimumDriver = isRecord(val) ? val['minimumDriver'] : undefined;
      const driver = typeof minimumDriver === 'string' && STRICT_VERSION.test(minimumDriver) ? parseVersion(minimumDriver) : null;
      if (driver === null || typeof minimumDriver !== 'string') {
        throw bad(`minorVersionCompatibility.${key}.minimumDriver is not a version string`);
      }
      const major = Number(key);
      families.set(major, { major, minimumDriver, driver });
    }
  }
  return { file, source, toolkits, families };
}

/**
 * Load and validate a CUDA driver table (cached per path).
 *
 * Which file: `file` if given, else the file named by `CONTAINERSPEC_CUDA_TABLE`
 * (when non-empty), else the vendored `data/cuda-drivers.json`.
 *
 * @throws FactsError naming the file when it cannot be read, is not JSON, or does not have the expected shape.
 */
export function loadCudaTable(file?: string): CudaTable {
  const envFile = process.env[CUDA_TABLE_ENV];
  // The default table is asked for in hot loops (matching): skip path resolution when nothing changed.
  if (file === undefined && lastDefault && lastDefault.env === envFile) return lastDefault.table;
  const table = loadTable(CUDA_TABLE, file);
  if (file === undefined) lastDefault = { env: envFile, table };
  return table;
}

let lastDefault: { env: string | undefined; table: CudaTable } | null = null;

const CUDA_TABLE: TableSpec<CudaTable> = { what: 'CUDA driver table', vendored: 'cuda-drivers.json', env: CUDA_TABLE_ENV, parse: parseTable };

function tupleOf(what: string, s: string): VersionTuple {
  const t = parseVersion(s);
  if (t === null) throw new FactsError(`not a ${what} version: ${JSON.stringify(s)}`);
  return t;
}

/**
 * The table row that governs a CUDA version: the exact `major.minor` row, or for an
 * unlisted minor (e.g. 12.7) the next *lower* listed minor of the same major (12.6).
 * Patch levels are ignored (12.4.1 uses 12.4). Null when the major has no row at or
 * below that minor (e.g. 14.0 in a table that stops at 13.x).
 */
export function toolkitRow(cuda: VersionTuple, table: CudaTable = loadCudaTable()): CudaToolkitEntry | null {
  const major = cuda[0] ?? 0;
  const minor = cuda[1] ?? 0;
  const rows = table.toolkits;
  for (let i = rows.length - 1; i >= 0; i--) {
    const row = rows[i];
    if (row === undefined) continue;
    const rmaj = row.version[0] ?? 0;
    if (rmaj !== major) continue;
    if ((row.version[1] ?? 0) <= minor) return row;
  }
  return null;
}

/**
 * Minimum NVIDIA driver for a CUDA toolkit version.
 *
 * For a minor the table does not list (e.g. 12.7, never released) this returns
 * the minimum of the next lower listed minor of the same major (12.6): a lower
 * bound, chosen because a driver below it certainly cannot run the toolkit, and
 * because NVIDIA's own minimums only rise with the minor. Patch levels are ignored.
 *
 * @param table defaults to {@link loadCudaTable}().
 * @returns the driver version as written in the table, or null when the major is not in the table.
 * @throws FactsError when `cuda` is not a version.
 */
export function minimumDriverFor(cuda: string, table: CudaTable = loadCudaTable()): string | null {
  return toolkitRow(tupleOf('CUDA', cuda), table)?.minimumDriver ?? null;
}

/**
 * Highest CUDA toolkit a driver supports: the highest table row whose minimum
 * driver is <= `driver` (535.54.03 gives `"12.2"`, 550.54.14 gives `"12.4"`).
 * This is what `nvidia-smi` reports as "CUDA Version" and what `cuda>=` in
 * `NVIDIA_REQUIRE_CUDA` compares against.
 *
 * @param table defaults to {@link loadCudaTable}().
 * @returns the toolkit as written in the table, or null when the driver is older than every row.
 * @throws FactsError when `driver` is not a version.
 */
export function maxCudaForDriver(driver: string, table: CudaTable = loadCudaTable()): string | null {
  const d = tupleOf('driver', driver);
  let best: CudaToolkitEntry | null = null;
  for (const row of table.toolkits) {
    if (compareTuples(row.driver, d) <= 0 && (best === null || compareTuples(row.version, best.version) > 0)) best = row;
  }
  return best?.cuda ?? null;
}

/**
 * Can a CUDA toolkit's applications run on a driver?
 *
 * `full` when the driver meets the toolkit's minimum; `minor-version` when it meets
 * only the major family's minimum (CUDA 11 and later: the application runs, but PTX
 * JIT and some newer features are unavailable); `none` otherwise.
 *
 * @example cudaCompatibility('12.4', '535.54.03').message
 *   // 'CUDA 12.4 needs an NVIDIA driver >= 550.54.14; this host has 535.54.03
 *   //  (runs under CUDA minor-version compatibility, PTX JIT unavailable)'
 * @param table defaults to {@link loadCudaTable}().
 * @throws FactsError when an argument is not a version, or the toolkit's major is not in the table
 *   (check with {@link minimumDriverFor} first to treat that as "unknown").
 */
export function cudaCompatibility(cuda: string, driver: string, table: CudaTable = loadCudaTable()): CudaCompatibility {
  const c = tupleOf('CUDA', cuda);
  const d = tupleOf('driver', driver);
  const row = toolkitRow(c, table);
  if (row === null) {
    const lo = table.toolkits[0]?.cuda ?? '?';
    const hi = table.toolkits[table.toolkits.length - 1]?.cuda ?? '?';
    throw new FactsError(
      `CUDA ${cuda} is not in the driver table ${table.file} (it covers ${lo} to ${hi}); update the table or set ${CUDA_TABLE_ENV}`,
    );
  }
  const family = table.families.get(c[0] ?? 0) ?? null;
  const familyMinimum = family?.minimumDriver ?? null;
  const via = compareTuples(row.version, c.slice(0, 2)) === 0 ? '' : ` (the table's entry for CUDA ${row.cuda})`;
  const needs = `CUDA ${cuda.trim()} needs an NVIDIA driver >= ${row.minimumDriver}${via}`;
  const has = `this host has ${driver.trim()}`;
  if (compareTuples(d, row.driver) >= 0) {
    return { status: 'full', minimumDriver: row.minimumDriver, familyMinimum, message: `${needs}; ${has}` };
  }
  if (family !== null && compareTuples(d, family.driver) >= 0) {
    return {
      status: 'minor-version',
      minimumDriver: row.minimumDriver,
      familyMinimum,
      message: `${needs}; ${has} (runs under CUDA minor-version compatibility, PTX JIT unavailable)`,
    };
  }
  const alt = family === null ? '' : ` (>= ${family.minimumDriver} to run under minor-version compatibility)`;
  return { status: 'none', minimumDriver: row.minimumDriver, familyMinimum, message: `${needs}${alt}; ${has}` };
}
