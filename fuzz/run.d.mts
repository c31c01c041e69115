/** Types for fuzz/run.mjs (plain Node ESM), for the TypeScript tests that import it. */

export declare const REPO: string;
export declare const DEFAULTS: { timeoutMs: number; rssMb: number; jobs: number; keep: number };

export interface FuzzOptions {
  seed: string | number;
  minutes?: number | null;
  cases?: number | null;
  start?: number;
  jobs?: number;
  out?: string;
  work?: string;
  small?: boolean;
  classes?: string[] | null;
  replay?: number[] | null;
  keep?: number;
  quiet?: boolean;
  log?: string;
  timeoutMs?: number;
  rssMb?: number;
}

export interface Violation {
  kind: string;
  detail: string;
}

export interface FailureRecord {
  class: string;
  op: string;
  seed: string | number;
  index: number;
  signature: string;
  violations: Violation[];
  exit: number | null;
  rssKb: number;
  elapsedMs: number;
  /** The command as run (paths of the case directory as generated). */
  command: string;
  /** The saved case's repro.sh, or null when only the first cases of a signature were kept. */
  repro: string | null;
  /** How to regenerate the case from its seed. */
  regenerate: string;
}

export interface SignatureSummary {
  signature: string;
  count: number;
  classes: Record<string, number>;
  saved: number;
  example: FailureRecord;
  frame: { fn: string; file: string; line: number } | null;
  stderr: string;
}

export interface FuzzResult {
  seed: string | number;
  cases: number;
  elapsedMs: number;
  failures: FailureRecord[];
  generatorErrors: { index: number; error: string }[];
  byClass: Record<string, { cases: number; failures: number; exit: Record<string, number> }>;
  bySignature: SignatureSummary[];
  out: string;
}

export declare function runFuzz(opts: FuzzOptions): Promise<FuzzResult>;
export declare function formatSummary(res: FuzzResult): string;
export declare function mask(line: string): string;

export interface CliRun {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  rssKb: number;
  elapsedMs: number;
  timedOut: boolean;
}
export declare function runCli(args: string[], opts?: { env?: Record<string, string>; timeoutMs?: number; measure?: boolean }): Promise<CliRun>;
export declare function groupAlive(pgid: number): boolean;
