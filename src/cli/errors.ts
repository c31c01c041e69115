import { CommanderError } from 'commander';
import { ContainerspecError, oneLine } from '../errors/index.js';

/** Commander's codes for output that is not an error (help, version). */
const NOT_ERRORS = new Set(['commander.helpDisplayed', 'commander.version', 'commander.help', 'commander.executeSubCommandAsync']);

/** Version of the error JSON printed on stdout under `--json` (`schemas/error-1.0.schema.json`). */
export const ERROR_SCHEMA_VERSION = '1.0';

/** The error JSON: what kind of error, its one-line message, and where (a file, blob, registry or flag), or null. */
export interface ErrorJson {
  schemaVersion: string;
  error: { kind: string; message: string; where: string | null };
}

/** `ImageReferenceError` -> `image-reference`; `Error` -> `internal`. */
function kindOf(e: unknown): string {
  if (e instanceof CommanderError) return 'usage';
  if (!(e instanceof ContainerspecError)) return 'internal';
  return e.name.replace(/Error$/, '').replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase() || 'error';
}

/** Where the error is, from the fields its class carries. */
function whereOf(e: unknown): string | null {
  if (!(e instanceof ContainerspecError)) return null;
  const f = e as unknown as Record<string, unknown>;
  for (const k of ['where', 'path', 'file', 'host', 'storage', 'command']) if (typeof f[k] === 'string' && f[k]) return f[k] as string;
  return null;
}

/** A commander message as one line: its suggestion ("Did you mean check?") joined in, not cut off. */
function commanderLine(e: CommanderError): string {
  return oneLine(e.message.replace(/^error: /, '').replace(/\n\(Did you mean (.*)\?\)/, ': did you mean $1?'));
}

/**
 * The one top-level handler. Every error class carries its exit status: a ContainerspecError is the
 * user's to fix and prints as one line with its status (2 for bad input); a command-line error from
 * the parser prints one line and exits 2; help and version exit 0; anything else is a bug and
 * prints its stack (exit status 70). With `json`, the error is also an {@link ErrorJson} object on
 * stdout, so a script reading the report's JSON never reads an empty string.
 */
export function reportError(e: unknown, prog: string, opts: { json?: boolean } = {}): number {
  let status: number;
  let message: string;
  if (e instanceof ContainerspecError) {
    message = oneLine(e.message);
    process.stderr.write(`${prog}: ${message}\n`);
    status = e.exitCode;
  } else if (e instanceof CommanderError) {
    if (NOT_ERRORS.has(e.code)) return 0;
    message = `${commanderLine(e)} (see ${prog} --help)`;
    process.stderr.write(`${prog}: ${message}\n`);
    status = 2;
  } else {
    message = `internal error (please report): ${(e as Error)?.message ?? String(e)}`;
    process.stderr.write(`${prog}: internal error (please report): ${(e as Error)?.stack ?? String(e)}\n`);
    status = 70;
  }
  if (opts.json) {
    const doc: ErrorJson = { schemaVersion: ERROR_SCHEMA_VERSION, error: { kind: kindOf(e), message, where: whereOf(e) } };
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  }
  return status;
}
