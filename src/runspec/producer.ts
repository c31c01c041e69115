/**
 * The Producer (DESIGN.md, "Run-spec provenance"): replay a stored run-spec with `ch-run`, gated
 * by the compatibility check of its image on this host and by the provenance of earlier successful
 * runs of the same commit, and record every replay (also a refusal) as a `Producer` row.
 *
 * Order: restore the stored repository (verified by its sha256) and check out the commit; make
 * sure the image is in Charliecloud storage by digest (verified as the `ch-image:` transport does,
 * else pulled by digest); judge; then run each RUN in its own `ch-run`, streaming its output and
 * keeping the tail of it; then one store transaction for the SystemKernel and Producer rows.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { constants as osConstants, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleGit } from 'simple-git';
import { NotFoundError, StorageChangedError, UsageError } from '../errors/index.js';
import { parseDockerReference } from '../image/docker-reference.js';
import type { HostFacts, ImageFacts } from '../model/facts.js';
import type { Report } from '../model/report.js';
import type { Drift } from '../check/rules/provenance.js';
import type { ProvenanceFacts } from '../check/rule.js';
import type { RunSpec } from './types.js';

/** Version of the `replay --json` document, with or without `--affected` (`schemas/replay-1.0.schema.json`). */
export const REPLAY_SCHEMA_VERSION = '1.0';

/** At most this many bytes of each of stdout and stderr are kept in the store (the last ones). */
export const OUTPUT_KEEP = 1 << 20;

/** Exit statuses `ch-run` itself uses for its own failures (newer Charliecloud; 0.31 exits 1), told apart by its error line. */
export const CHARLIECLOUD_STATUSES: ReadonlySet<number> = new Set([1, 31, 49, 84, 87]);

/** Options of {@link replay}. */
export interface ReplayOptions {
  /** The store: a SQLite path or postgres:// URL (default `$CONTAINERSPEC_STORE`, else the SQLite default). */
  store?: string | undefined;
  /** Charliecloud storage (default `$CH_IMAGE_STORAGE`, else `/var/tmp/$USER.ch`). */
  storage?: string | undefined;
  /** Run even when the gate refuses (recorded as forced). A changed image is never run. */
  force?: boolean | undefined;
  /** Print the plan and the report; run and record nothing. */
  dryRun?: boolean | undefined;
  /** What-if overrides of this host's facts (as `check --set`), already parsed. */
  set?: Record<string, string> | undefined;
  /** This host's facts (default: read them). */
  host?: HostFacts | undefined;
  /** For a pull: do not verify the registry's certificate / trust these CAs. */
  tlsNoVerify?: boolean | undefined;
  caBundle?: string | undefined;
  /** Where the run's stdout and stderr are streamed as they come (default: this process's); null: nowhere. */
  stdout?: NodeJS.WritableStream | null | undefined;
  stderr?: NodeJS.WritableStream | null | undefined;
  /** Bytes of each stream kept in the store (default {@link OUTPUT_KEEP}). */
  keep?: number | undefined;
  /** Forward this process's SIGINT and SIGTERM to the running container (default true). */
  forwardSignals?: boolean | undefined;
  /** Told what happens (one line each). */
  onProgress?: ((line: string) => void) | undefined;
}

/** How a replay ended. */
export type ExitKind = 'exited' | 'charliecloud' | 'signal' | 'refused' | 'error';

/** What was (or would be) run. */
export interface ReplayPlan {
  /** The ch-run argv of each RUN, in order. */
  commands: string[][];
  /** The environment file given to `--set-env` (image environment, then the run-spec's ENV). */
  env: string[];
  /** The unpacked image. */
  imgPath: string;
  /** Things the plan does differently from what the run-spec says, and why. */
  notes: string[];
}

/** One replay (or refusal, or plan). */
export interface ReplayResult {
  schemaVersion: typeof REPLAY_SCHEMA_VERSION;
  commit: string;
  runspecPath: string;
  image: { reference: string; digest: string; acquired: 'present' | 'pulled' };
  /** ran, refused, or planned (`--dry-run`). */
  outcome: 'ran' | 'refused' | 'planned';
  forced: boolean;
  /** Why the gate refused (also set when forced). */
  refusal: string | null;
  /** The compatibility report (null when the image could not be judged: it changed in storage). */
  report: Report | null;
  /** Facts that differ from the last successful run of this commit. */
  drift: Drift[];
  /** How many earlier successful runs of this commit were compared. */
  history: number;
  plan: ReplayPlan | null;
  run: { startedAt: string; endedAt: string; exitStatus: number | null; exitKind: ExitKind; signal: string | null; stepsRun: number; stdoutBytes: number; stderrBytes: number } | null;
  store: string;
  producerId: number | null;
  /** What the CLI exits with: the run's status; 1 refused (3 when the verdict is "cannot tell"). */
  exitCode: number;
}

const say = (o: ReplayOptions, s: string) => o.onProgress?.(s);

/** The last `limit` bytes of a stream, and how many there were. */
class Tail {
  #parts: Buffer[] = [];
  #size = 0;
  total = 0;
  constructor(readonly limit: number) {}
  push(b: Buffer): void {
    this.total += b.length;
    this.#parts.push(b);
    this.#size += b.length;
    while (this.#size - (this.#parts[0]?.length ?? 0) >= this.limit && this.#parts.length > 1) this.#size -= this.#parts.shift()!.length;
  }
  bytes(): Buffer {
    const all = Buffer.concat(this.#parts);
    return all.length > this.limit ? all.subarray(all.length - this.limit) : all;
  }
}

/** A value for ch-run's `--set-env=FILE`: one `NAME='VALUE'` a line (ch-run strips one pair of single quotes). */
function envLine(name: string, value: string, where: string): string {
  if (/[\n\r\0]/.test(value)) throw new UsageError(`${where}: the value of ${name} holds a line break or NUL, which ch-run's --set-env file cannot carry`);
  return `${name}='${value}'`;
}

/** The image's working directory as Charliecloud recorded it (`ch/metadata.json` cwd), or null. */
async function imageCwd(imgPath: string): Promise<string | null> {
  try {
    const m = JSON.parse(await readFile(join(imgPath, 'ch/metadata.json'), 'utf8')) as { cwd?: unknown };
    return typeof m.cwd === 'string' && m.cwd.startsWith('/') ? m.cwd : null;
  } catch {
    return null;
  }
}

/**
 * The ch-run command of each RUN: a clean environment (`--unset-env=*`, then the image's
 * environment and the run-spec's ENV from one file, then `--unset-env=NAME` for each UNSETENV),
 * the binds (`-b SRC:DST`; ch-run 0.31 has no read-only bind, see the notes), the working directory
 * (`-c`: WORKDIR, else the image's, else `/`, never the host's), the image read-only.
 */
export function planCommands(spec: RunSpec, image: Pick<ImageFacts, 'env'>, where: { storage: string; name: string; imgPath: string }, envFile: string, cwd: string | null, hasPasswd = true): ReplayPlan {
  const imgPath = where.imgPath;
  const env = [
    ...Object.entries(image.env).map(([k, v]) => envLine(k, v, `the image's environment`)),
    ...spec.env.map((e) => envLine(e.name, e.value, `${spec.file}:${e.line}`)),
  ];
  const notes: string[] = [];
  const common = ['--unset-env=*', `--set-env=${envFile}`, ...spec.unsetenv.map((u) => `--unset-env=${u.name}`)];
  for (const b of spec.binds) {
    common.push('-b', `${b.source}:${b.target}`);
    if (b.readOnly) notes.push(`${spec.file}:${b.line}: BIND ${b.source}:${b.target}:ro would be mounted read-write: ch-run 0.31 has no read-only bind`);
  }
  if (!hasPasswd) {
    // ch-run binds its own /etc/passwd and /etc/group over the image's, which must exist (the image is mounted read-only).
    common.push('--no-passwd');
    notes.push("the image has no /etc/passwd or /etc/group to bind over: ch-run runs with --no-passwd");
  }
  const wd = spec.workdir?.path ?? cwd ?? '/';
  if (!spec.workdir) notes.push(`no WORKDIR: commands start in ${wd} (${cwd ? "the image's working directory" : 'the image has none'}), not in the host's directory`);
  common.push('-c', wd);
  // ch-run runs an image of its storage by name only ("can't run directory images from storage").
  return { commands: spec.run.map((r) => ['ch-run', ...common, '-s', where.storage, where.name, '--', ...r.argv]), env, imgPath, notes };
}

/** Signal number by name. */
const SIGNALS = osConstants.signals as Record<string, number>;
const signalName = (n: number): string | null => Object.entries(SIGNALS).find(([, v]) => v === n)?.[0] ?? null;

/**
 * How one ch-run ended: killed by a signal (or a status 128+N, which a shell reports for a child
 * a signal killed) is `signal`; a status ch-run uses for its own failures together with ch-run's
 * own error line (`ch-run[PID]: error: ...`) on stderr is `charliecloud`; anything else is the
 * command's own status (`exited`).
 */
export function exitKindOf(code: number | null, signal: NodeJS.Signals | null, stderrTail: string): { kind: ExitKind; status: number | null; signal: string | null } {
  if (signal !== null) return { kind: 'signal', status: 128 + (SIGNALS[signal] ?? 0), signal };
  if (code === null) return { kind: 'error', status: null, signal: null };
  if (CHARLIECLOUD_STATUSES.has(code) && /ch-run\[\d+\]: error/.test(stderrTail)) return { kind: 'charliecloud', status: code, signal: null };
  if (code > 128 && code <= 128 + 64) return { kind: 'signal', status: code, signal: signalName(code - 128) };
  return { kind: 'exited', status: code, signal: null };
}

/** Run the plan's commands in order, stopping at the first that fails or at a forwarded signal. */
async function runPlan(plan: ReplayPlan, o: ReplayOptions, chEnv: NodeJS.ProcessEnv): Promise<NonNullable<ReplayResult['run']> & { stdout: Buffer; stderr: Buffer }> {
  const keep = o.keep ?? OUTPUT_KEEP;
  const out = new Tail(keep);
  const err = new Tail(keep);
  const toOut = o.stdout === undefined ? process.stdout : o.stdout;
  const toErr = o.stderr === undefined ? process.stderr : o.stderr;
  const startedAt = new Date().toISOString();
  let child: ReturnType<typeof spawn> | null = null;
  let interrupted: NodeJS.Signals | null = null;
  const forward = (sig: NodeJS.Signals) => {
    interrupted = sig;
    // The container runs in its own process group (so a terminal's Ctrl-C reaches it once, from here).
    if (child?.pid !== undefined) {
      try {
        process.kill(-child.pid, sig);
      } catch {
        /* exited already */
      }
    }
  };
  const onInt = () => forward('SIGINT');
  const onTerm = () => forward('SIGTERM');
  if (o.forwardSignals !== false) {
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  }
  let last: { kind: ExitKind; status: number | null; signal: string | null } = { kind: 'exited', status: 0, signal: null };
  let steps = 0;
  try {
    for (const argv of plan.commands) {
      if (interrupted) break;
      steps++;
      let stepErr = '';
      const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError: string | null }>((resolve) => {
        const c = spawn(argv[0]!, argv.slice(1), { env: chEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
        child = c;
        c.stdout!.on('data', (b: Buffer) => {
          out.push(b);
          toOut?.write(b);
        });
        c.stderr!.on('data', (b: Buffer) => {
          err.push(b);
          if (stepErr.length < 64 * 1024) stepErr += b.toString('utf8');
          toErr?.write(b);
        });
        c.on('error', (e) => resolve({ code: null, signal: null, spawnError: e.message }));
        c.on('close', (code, signal) => resolve({ code, signal, spawnError: null }));
      });
      child = null;
      if (ended.spawnError !== null) {
        err.push(Buffer.from(`containerspec: cannot start ch-run: ${ended.spawnError}\n`));
        last = { kind: 'error', status: null, signal: null };
        break;
      }
      last = exitKindOf(ended.code, ended.signal, stepErr);
      if (last.kind !== 'exited' || last.status !== 0) break;
    }
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
  const sig = last.signal ?? (interrupted as NodeJS.Signals | null);
  return { startedAt, endedAt: new Date().toISOString(), exitStatus: last.status, exitKind: last.kind, signal: sig, stepsRun: steps, stdoutBytes: out.total, stderrBytes: err.total, stdout: out.bytes(), stderr: err.bytes() };
}

/** The libraries of an image's facts, name to version, for "which runs used library Y" queries. */
export function imageLibraries(f: ImageFacts): Record<string, string> {
  const libs: Record<string, string> = {};
  if (f.libc.family && f.libc.version) libs[f.libc.family] = f.libc.version;
  for (const m of f.mpi) if (m.implementation !== 'unknown' && m.version) libs[m.implementation] = m.version;
  if (f.cuda.runtime) libs.cuda = f.cuda.runtime;
  return libs;
}

/** The flat host-fact columns of a Producer row (for queries without parsing host_facts). */
function hostColumns(h: HostFacts): Record<string, string | null> {
  return {
    kernel_release: h.kernel.release,
    gpu_driver: h.gpu.driver,
    glibc_version: h.libc.family === 'glibc' ? h.libc.version : null,
    microarch: h.cpu.microarch,
    host_mpi: h.mpi.map((m) => `${m.implementation}@${m.version ?? '?'}`).sort().join(',') || null,
  };
}

type StoredImage = { facts: ImageFacts; acquired: 'present' | 'pulled'; imgPath: string; storage: string; name: string };
/** What looking in Charliecloud storage found: the image verified, an image that changed there, or none (and why). */
type StorageLook = StoredImage | { changed: StorageChangedError } | { missing: NotFoundError; storage: string };

/** The image `name@digest` as Charliecloud storage holds it, verified by digest, with its facts; nothing is pulled. */
async function lookInStorage(name: string, digest: string, o: ReplayOptions): Promise<StorageLook> {
  const [{ inspect }, { imagePath, storageDir, canonicalName }] = await Promise.all([import('../inspect.js'), import('../charliecloud/storage.js')]);
  const full = `${name}@${digest}`;
  const storage = storageDir({ storage: o.storage });
  const canonical = canonicalName(full);
  try {
    return { facts: await inspect(`ch-image:${full}`, { chStorage: storage }), acquired: 'present', imgPath: imagePath(storage, canonical), storage, name: canonical };
  } catch (e) {
    if (e instanceof StorageChangedError) return { changed: e };
    if (e instanceof NotFoundError) return { missing: e, storage };
    throw e;
  }
}

/**
 * Make sure the image is in storage, verified by digest (or pull it), and read its facts. `early`:
 * a look at storage already under way for this very name and digest.
 */
async function imageFor(spec: RunSpec, o: ReplayOptions, early?: Promise<StorageLook>): Promise<StoredImage | { changed: StorageChangedError }> {
  const look = await (early ?? lookInStorage(spec.from.name, spec.from.digest, o));
  if (!('missing' in look)) return look;
  const { storage } = look;
  say(o, `${spec.from.name}@${spec.from.digest} is not verified in ${storage} (${look.missing.message.replace(/^.*?: /, '')}); pulling it by digest`);
  const { pullByDigest } = await import('../charliecloud/pull.js');
  await pullByDigest(spec.from.name, spec.from.digest, { storage, tlsNoVerify: o.tlsNoVerify, caBundle: o.caBundle, onProgress: o.onProgress });
  const pulled = await lookInStorage(spec.from.name, spec.from.digest, o);
  if ('missing' in pulled) throw pulled.missing;
  if ('changed' in pulled) throw pulled.changed;
  return { ...pulled, acquired: 'pulled' };
}

/**
 * The look at storage for the image a Consumer row recorded, started before the commit is checked
 * out (it reads the image while git works); null when the row names no image with a digest. Its
 * outcome is used only when the run-spec at the commit names the same image.
 */
function earlyLook(row: Record<string, unknown>, o: ReplayOptions): { name: string; digest: string; look: Promise<StorageLook> } | null {
  if (typeof row.image_reference !== 'string') return null;
  let ref;
  try {
    ref = parseDockerReference(row.image_reference);
  } catch {
    return null; // the run-spec's own FROM says what is wrong
  }
  if (ref.digest === null || ref.digest !== row.image_digest) return null;
  const look = lookInStorage(ref.name, ref.digest, o);
  look.catch(() => {}); // awaited only when it is used; imageFor reports a failure itself
  return { name: ref.name, digest: ref.digest, look };
}

/**
 * Host facts of the earlier successful runs (exit kind "exited", status 0) of a recorded commit (a
 * prefix of 7+ hex digits names the newest recorded commit it starts), oldest first, each with the
 * Charliecloud version it ran with: the provenance rule's history (`check --store S --commit C`).
 */
export async function runHistory(commit: string, opts: { store?: string | undefined } = {}): Promise<{ commit: string; history: ProvenanceFacts[] }> {
  const [{ storedRunIn }, { openStore }] = await Promise.all([import('./consumer.js'), import('../store/open.js')]);
  const store = await openStore(opts.store, { create: false });
  try {
    const full = String((await storedRunIn(store, commit)).row.commit_hash);
    return { commit: full, history: await historyOf(store, full) };
  } finally {
    await store.close();
  }
}

/** Host facts of earlier successful runs of `commit`, oldest first. */
async function historyOf(store: import('../store/types.js').StoreBackend, commit: string): Promise<ProvenanceFacts[]> {
  const rows = await store.rows('Producer', { commit_hash: commit, exit_kind: 'exited', exit_status: 0 }, { columns: ['host_facts', 'charliecloud_version'] });
  return rows
    .filter((r) => typeof r.host_facts === 'object' && r.host_facts !== null && !Array.isArray(r.host_facts))
    .map((r) => ({ ...(r.host_facts as unknown as HostFacts), charliecloudVersion: typeof r.charliecloud_version === 'string' ? r.charliecloud_version : null }));
}

/**
 * `containerspec replay COMMIT`: restore the stored run-spec at COMMIT (a prefix of 7+ hex), make
 * sure its image is in Charliecloud storage by digest, judge this host (compatibility and
 * provenance), and run it with ch-run, or refuse; every replay and refusal is a Producer row
 * (a dry run records nothing). Bad input (an unknown commit, a damaged stored repository, a bad
 * run-spec) throws before anything is run or recorded.
 */
export async function replay(commit: string, o: ReplayOptions = {}): Promise<ReplayResult> {
  if (!/^[0-9a-f]{7,64}$/i.test(commit)) throw new UsageError(`${commit}: not a commit hash (7 to 64 hex digits)`);
  const [{ restoreStored }, { parseRunSpec }] = await Promise.all([import('./consumer.js'), import('./parse.js')]);
  const hostSide = (async () => {
    const [{ hostFacts }, { charliecloudVersion, charliecloudEnv }, { collectSystemKernel }, { applySets }] = await Promise.all([
      import('../host/facts.js'),
      import('../charliecloud/pull.js'),
      import('../store/system-kernel.js'),
      import('../check/overrides.js'),
    ]);
    const real = o.host ?? (await hostFacts());
    const facts = o.set && Object.keys(o.set).length ? applySets(real, o.set) : real;
    const [chVersion, sk] = await Promise.all([charliecloudVersion(), collectSystemKernel({ hostFacts: facts })]);
    return { facts, chVersion, sk, chEnv: charliecloudEnv() };
  })();
  hostSide.catch(() => {}); // awaited below; a bad commit fails first
  // What the steps after the checkout load, loaded now: the main thread has it ready when git is done.
  for (const m of [import('../inspect.js'), import('../charliecloud/storage.js'), import('../store/open.js'), import('../check/check.js')]) m.catch(() => {});
  const { dir, tmp, row } = await restoreStored(o.store, commit);
  const early = earlyLook(row, o);
  const work = await mkdtemp(join(tmpdir(), 'containerspec-replay-'));
  try {
    const full = String(row.commit_hash);
    const runspecPath = typeof row.runspec_path === 'string' ? row.runspec_path : null;
    if (!runspecPath) throw new NotFoundError(`Consumer row ${String(row.id)} names no run-spec path`, full);
    const g = simpleGit(dir);
    try {
      await g.raw(['checkout', '-q', '--detach', full]);
    } catch (e) {
      throw new NotFoundError(`commit ${full.slice(0, 12)} is not in its stored repository (${String((e as Error).message).split('\n')[0]})`, full, { cause: e });
    }
    const spec = parseRunSpec(await readFile(join(dir, runspecPath), 'utf8'), runspecPath);
    if (spec.from.digest !== row.image_digest) throw new NotFoundError(`${runspecPath} at ${full.slice(0, 12)} names ${spec.from.digest}, the store recorded ${String(row.image_digest)}`, full);
    const same = early !== null && early.name === spec.from.name && early.digest === spec.from.digest;
    const image = await imageFor(spec, o, same ? early.look.catch(() => lookInStorage(spec.from.name, spec.from.digest, o)) : undefined);
    const host = await hostSide;
    const { openStore } = await import('../store/open.js');
    const store = await openStore(o.store);
    try {
      await store.init();
      const history = await historyOf(store, full);
      const base = { schemaVersion: REPLAY_SCHEMA_VERSION, commit: full, runspecPath, store: store.location } as const;
      const record = async (r: Omit<ReplayResult, 'producerId' | 'store' | 'schemaVersion' | 'commit' | 'runspecPath'>, output?: { stdout: Buffer; stderr: Buffer }, libs?: Record<string, string>): Promise<ReplayResult> => {
        if (r.outcome === 'planned') return { ...base, ...r, producerId: null };
        const producerId = await store.transaction(async (tx) => {
          const systemKernelId = await tx.append('SystemKernel', host.sk);
          return tx.append('Producer', {
            consumer_id: typeof row.id === 'number' ? row.id : null,
            commit_hash: full,
            runspec_path: runspecPath,
            image_digest: spec.from.digest,
            image_reference: spec.from.reference,
            image_libraries: libs ?? null,
            started_at: r.run?.startedAt ?? null,
            ended_at: r.run?.endedAt ?? null,
            exit_status: r.run?.exitStatus ?? null,
            exit_kind: r.run?.exitKind ?? 'refused',
            forced: r.forced ? 1 : 0,
            refused: r.outcome === 'refused' ? 1 : 0,
            refusal: r.refusal,
            verdict: r.report?.verdict ?? null,
            score: r.report?.score ?? null,
            report: r.report as never,
            overrides: o.set ?? {},
            host_facts: host.facts as never,
            drift: r.drift as never,
            stdout: output?.stdout ?? null,
            stderr: output?.stderr ?? null,
            stdout_bytes: r.run?.stdoutBytes ?? null,
            stderr_bytes: r.run?.stderrBytes ?? null,
            steps_run: r.run?.stepsRun ?? 0,
            signal: r.run?.signal ?? null,
            command: r.plan ? ({ commands: r.plan.commands, env: r.plan.env } as never) : null,
            charliecloud_version: host.chVersion,
            system_kernel_id: systemKernelId,
            host_name: hostname(),
            ...hostColumns(host.facts),
          });
        });
        return { ...base, ...r, producerId };
      };
      const acquired = 'changed' in image ? 'present' : image.acquired;
      const imageInfo = { reference: spec.from.reference, digest: spec.from.digest, acquired } as const;
      if ('changed' in image) {
        const refusal = `the image changed in Charliecloud storage: ${image.changed.message}`;
        return await record({ image: imageInfo, outcome: o.dryRun ? 'planned' : 'refused', forced: false, refusal, report: null, drift: [], history: history.length, plan: null, run: null, exitCode: 1 });
      }
      const { check } = await import('../check/check.js');
      const { provenanceDrift } = await import('../check/rules/provenance.js');
      const report = await check(image.facts, host.facts, { history, charliecloud: host.chVersion });
      const drift = history.length ? provenanceDrift(host.facts, history, { charliecloud: host.chVersion }).drift : [];
      const envFile = join(work, 'env');
      const hasPasswd = (await Promise.all(['etc/passwd', 'etc/group'].map((f) => stat(join(image.imgPath, f)).then((st) => st.isFile(), () => false)))).every(Boolean);
      const plan = planCommands(spec, image.facts, image, envFile, spec.workdir ? null : await imageCwd(image.imgPath), hasPasswd);
      const reasons: string[] = [];
      if (report.verdict === 'incompatible') reasons.push(`incompatible with this host: ${report.checks.filter((c) => c.status === 'fail' && c.required).map((c) => `${c.id}: ${c.message}`).join('; ')}`);
      if (report.verdict === 'unknown') reasons.push(`cannot tell whether it runs here: ${report.checks.filter((c) => c.status === 'unknown' && c.required).map((c) => `${c.id}: ${c.message}`).join('; ')}`);
      const ro = spec.binds.filter((b) => b.readOnly);
      if (ro.length) reasons.push(`read-only bind${ro.length > 1 ? 's' : ''} ${ro.map((b) => `${b.source}:${b.target}`).join(', ')}: ch-run 0.31 cannot bind read-only, and a read-write bind could change what the run-spec says it only reads`);
      const refusal = reasons.length ? reasons.join('; ') : null;
      const refusedCode = report.verdict === 'unknown' && reasons.length === 1 ? 3 : 1;
      const libs = imageLibraries(image.facts);
      if (o.dryRun) return await record({ image: imageInfo, outcome: 'planned', forced: false, refusal, report, drift, history: history.length, plan, run: null, exitCode: refusal && !o.force ? refusedCode : 0 });
      if (refusal && !o.force) {
        say(o, `refused: ${refusal}`);
        return await record({ image: imageInfo, outcome: 'refused', forced: false, refusal, report, drift, history: history.length, plan, run: null, exitCode: refusedCode }, undefined, libs);
      }
      if (refusal) say(o, `forced: ${refusal}`);
      await writeFile(envFile, plan.env.map((l) => `${l}\n`).join(''), { mode: 0o600 });
      say(o, `replaying ${runspecPath} at ${full.slice(0, 12)}: ${plan.commands.length} command${plan.commands.length === 1 ? '' : 's'} in ${spec.from.reference}`);
      const { stdout, stderr, ...run } = await runPlan(plan, o, host.chEnv);
      const exitCode = run.exitStatus ?? 70;
      return await record({ image: imageInfo, outcome: 'ran', forced: refusal !== null, refusal, report, drift, history: history.length, plan, run, exitCode }, { stdout, stderr }, libs);
    } finally {
      await store.close();
    }
  } finally {
    await Promise.all([rm(tmp, { recursive: true, force: true }), rm(work, { recursive: true, force: true })]);
  }
}
