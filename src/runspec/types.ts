/**
 * The parsed form of a run-spec: a Dockerfile-like text file that describes one containerized run
 * (README "Run-specs"; JSON: schemas/runspec-1.0.schema.json). Every entry carries the 1-based line
 * of the instruction it came from, so later tools can point back into the file.
 */

/** Version of the run-spec JSON this code writes (`schemas/runspec-1.0.schema.json`). */
export const RUNSPEC_SCHEMA_VERSION = '1.0';

/** The image of the run: `FROM name@sha256:<hex>` or `FROM name:tag@sha256:<hex>`. */
export interface RunSpecImage {
  /** The reference as written after FROM. */
  reference: string;
  /** The normalised repository name, registry host included: `docker.io/library/ubuntu`, `ghcr.io/lab/lammps`. */
  name: string;
  /** The tag written next to the digest, or null. Only a label: the digest names the image. */
  tag: string | null;
  /** The manifest digest, `sha256:<64 hex>` (or `sha384:` / `sha512:`, as the reference grammar allows). */
  digest: string;
  /** Line of the FROM instruction. */
  line: number;
}

/** `ENV NAME=VALUE`: a variable set in the run's environment. */
export interface RunSpecEnv {
  /** A portable variable name: `[A-Za-z_][A-Za-z0-9_]*`. */
  name: string;
  /** The value with Docker's quoting and escapes removed; `$VAR` is kept as written, not expanded. */
  value: string;
  line: number;
}

/** `UNSETENV NAME`: a variable removed from the run's environment. */
export interface RunSpecUnset {
  /** A portable variable name (no glob patterns). */
  name: string;
  line: number;
}

/** `BIND SRC[:DST][:ro|:rw]`: a host path bind-mounted into the container (ch-run `-b SRC:DST`). */
export interface RunSpecBind {
  /** Absolute host path, as written. */
  source: string;
  /** Absolute container path, as written; the source path when none was given. */
  target: string;
  /** True for `:ro`; binds are read-write by default (`:rw`), as ch-run's are. */
  readOnly: boolean;
  line: number;
}

/** `WORKDIR /path`: the working directory of every command (ch-run `--cd`). */
export interface RunSpecWorkdir {
  /** Absolute container path, as written. */
  path: string;
  line: number;
}

/** One `RUN`: a command of the run. */
export interface RunSpecRun {
  /**
   * What is executed. Exec form (`RUN ["lmp", "-in", "in.lj"]`): the JSON array itself. Shell form
   * (`RUN make -j 4`): `["/bin/sh", "-c", "make -j 4"]`, as Docker does.
   */
  argv: string[];
  /** Which form was written. */
  form: 'exec' | 'shell';
  line: number;
}

/** A parsed, valid run-spec. Nothing in it has been run or looked up. */
export interface RunSpec {
  schemaVersion: typeof RUNSPEC_SCHEMA_VERSION;
  /** The file name used in messages (the path it was read from, or what the caller named it). */
  file: string;
  from: RunSpecImage;
  /** In file order; a later ENV of the same name wins, as in Docker. */
  env: RunSpecEnv[];
  /** In file order. A name is never both set (ENV) and unset (UNSETENV), so the order of the two lists does not matter. */
  unsetenv: RunSpecUnset[];
  /** In file order; no two binds share a target. */
  binds: RunSpecBind[];
  /** At most one WORKDIR; null when none is given (the image's or ch-run's default applies). */
  workdir: RunSpecWorkdir | null;
  /** One or more commands, run in this order, each its own container invocation. */
  run: RunSpecRun[];
}
