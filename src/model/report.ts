import type { Evidence, FactWarning } from './facts.js';

/**
 * Version of the report JSON this code writes (`schemas/report-2.1.schema.json`; 2.0 had no
 * `not-applicable` status; 1.0, in `schemas/report.schema.json`, had no `penalties` and no `warnings`).
 */
export const REPORT_SCHEMA_VERSION = '2.1';

/** Check ids: one per rule, and `bind:HOSTPATH` for each library `--bind` asks about (`bind` is the summary of a directory). */
export type CheckId = 'arch' | 'microarch' | 'kernel' | 'libc' | 'gpu' | 'mpi' | 'bind' | 'provenance' | `bind:${string}`;

/** The four outcomes: unknown is honest, never a disguised pass. */
/** `not-applicable`: the check does not apply to the pair (never required, no points); since report 2.1. */
export type CheckStatus = 'pass' | 'fail' | 'warn' | 'unknown' | 'not-applicable';

/** One check of a report. */
export interface Check {
  id: CheckId;
  status: CheckStatus;
  /** A required check that fails makes the image incompatible; one that is unknown makes the verdict unknown. */
  required: boolean;
  /** What was found, in one sentence. */
  message: string;
  /** What to do about it (failures and warnings). */
  fix?: string;
  /** Points this check takes off the score. */
  penalty: number;
  /** The host side's value. */
  host: unknown;
  /** The image side's value. */
  image: unknown;
  evidence: Evidence[];
}

/** The compatibility report of one image on one host. */
export interface Report {
  schemaVersion: string;
  verdict: 'compatible' | 'incompatible' | 'unknown';
  /** 0..100: 0 when incompatible; otherwise 100 minus the checks' penalties (README: "The score"). */
  score: number;
  image: { name: string; digest: string | null; platform: string | null };
  host: { name: string; overrides: Record<string, string> };
  checks: Check[];
  /** Every point off the score, one entry per check that takes points (none when incompatible). */
  penalties: Penalty[];
  /** The image's own warnings, as `inspect` reports them. */
  warnings: FactWarning[];
}

/** Points a check takes off the score, and why. */
export interface Penalty {
  check: CheckId;
  points: number;
  reason: string;
}
