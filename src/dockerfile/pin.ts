/**
 * `dockerfile pin`: pin each FROM to `name:tag@sha256:...` (the digest its tag names now), with
 * `update` move a stale pin to the tag's current digest (with `toNewest`, to the newest tag of its
 * family and its digest), and keep the `org.opencontainers.image.base.name` / `.base.digest` labels
 * of the built image right: set after the final stage's FROM (its value replaced in place where the
 * label is there already), deleted from the stages the final one builds on, where they would
 * describe an old base. Every other byte of the file stays as it was: the edits are splices of the
 * text at offsets parse.ts recorded, the line ending is the file's own.
 *
 * {@link planPins} computes the new texts (and their diffs); {@link writePins} writes them
 * atomically, refusing a file that changed since it was read.
 */
import { unifiedDiff } from './diff.js';
import { applyEdits, deleteLabels, insertLabels, quoteLabel, writeEdited, type Edit } from './edit.js';
import { Lookups, type LookupOptions } from './lookup.js';
import { atFrom, judgeFrom, DOCKERFILE_SCHEMA_VERSION } from './outdated.js';
import { baseOfFinal, type ArgDecl, type DockerfileLabel, type ParsedDockerfile } from './parse.js';
import { formatPlatform, hostPlatform } from '../image/platform.js';

/** The label naming the base image (OCI image annotations). */
export const BASE_NAME_LABEL = 'org.opencontainers.image.base.name';
/** The label holding the base image's digest. */
export const BASE_DIGEST_LABEL = 'org.opencontainers.image.base.digest';

/** What happened to one FROM. */
export interface PinChange {
  file: string;
  line: number;
  /** The image word before and after (equal when nothing changed). */
  from: string;
  to: string;
  /**
   * `pinned` (a digest added), `updated` (a stale digest replaced), `newer-tag` (moved to a newer
   * tag), `current` (nothing to do), `stale` (a stale pin left alone: no `update`), `skipped` (not
   * rewritten: see `note`).
   */
  action: 'pinned' | 'updated' | 'newer-tag' | 'current' | 'stale' | 'skipped';
  note: string | null;
}

/** The plan for one file. */
export interface PinnedFile {
  file: string;
  /** The text as read and as it would be written. */
  before: string;
  after: string;
  /** `diff -u` of the two ('' when unchanged). */
  diff: string;
  changes: PinChange[];
}

/** What `pin` did. */
export interface PinResult {
  schemaVersion: string;
  kind: 'pin';
  files: { file: string; changed: boolean; written: boolean; diff: string }[];
  changes: PinChange[];
}

/** Options for {@link planPins}. */
export interface PinOptions extends LookupOptions {
  /** Move stale pins to the tag's current digest. */
  update?: boolean | undefined;
  /** With `update`: move to the newest tag of the family (and its digest). */
  toNewest?: boolean | undefined;
  /** Platform a multi-platform pin is judged for (default: this host's). */
  platform?: string | undefined;
  lookups?: Lookups | undefined;
}

/**
 * The image word as written, split at a literal tag and digest: `${REGISTRY}/lab/cuda:12.4.1@sha256:...`
 * is the name `${REGISTRY}/lab/cuda` (variables kept), the tag `12.4.1` and the digest. Null when the
 * tag or the digest comes from a variable (`app:${TAG}`, `${BASE}`): then the word cannot be rewritten
 * without losing what the ARG says.
 */
function splitWord(word: string): { name: string; tag: string | null; digest: string | null } | null {
  const d = /@(sha256:[0-9a-f]{64})$/.exec(word);
  const rest = d ? word.slice(0, d.index) : word;
  const t = /:([\w][\w.-]{0,127})$/.exec(rest);
  const name = t ? rest.slice(0, t.index) : rest;
  // The name's variables must be whole (`${A:-x}` holds a colon that is not a tag's).
  const opened = (name.match(/\$\{/g) ?? []).length;
  const closed = (name.match(/\}/g) ?? []).length;
  if (opened !== closed || /[$}]$/.test(name) && !t) return null;
  if (!t && name.includes('$')) return null;
  return { name, tag: t ? t[1]! : null, digest: d ? d[1]! : null };
}

/**
 * The ARG whose default is the whole image of a FROM written `$NAME` or `${NAME}`, when that default
 * is a reference with a literal tag (and no --build-arg overrides it): the pin is written there.
 */
function argHolding(df: ParsedDockerfile, raw: string): ArgDecl | null {
  const m = /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$/.exec(raw);
  const name = m?.[1] ?? m?.[2];
  if (!name) return null;
  const decl = df.argDecls.filter((a) => a.name === name).pop();
  if (!decl || decl.overridden || decl.value === null || !decl.valueSpan) return null;
  const w = splitWord(decl.value);
  return w && w.tag !== null ? decl : null;
}

/** `ubuntu:22.04@sha256:...` -> `ubuntu` (the reference has a tag here). */
function familiarName(familiar: string): string {
  const f = familiar.replace(/@sha256:[0-9a-f]{64}$/, '');
  return f.slice(0, f.lastIndexOf(':'));
}

/** Plan one file: the pins, then the base labels of the built image. */
async function planFile(df: ParsedDockerfile, lookups: Lookups, opts: PinOptions, platform: string): Promise<PinnedFile> {
  const edits: Edit[] = [];
  const changes: PinChange[] = [];
  /** The reference each stage's FROM names once pinned (for the base labels). */
  const pinnedAs = new Map<number, { name: string; digest: string | null }>();
  const statuses = await Promise.all(df.stages.map((s) => (s.from.reference ? judgeFrom(df, s.index, lookups, platform) : Promise.resolve(null))));
  for (const s of df.stages) {
    const st = statuses[s.index];
    const from = s.from;
    if (!st || !from.reference) continue;
    const change = (action: PinChange['action'], to: string, note: string | null = null) => changes.push({ file: df.file, line: from.place.line, from: from.raw, to, action, note });
    const ref = from.reference;
    if (st.tag === null) {
      change('skipped', from.raw, 'pinned by digest only: no tag to look up');
      pinnedAs.set(s.index, { name: ref.name, digest: ref.digest });
      continue;
    }
    let tag = st.tag;
    // A stale pin of one platform's manifest moves to that platform's manifest now, not to the index.
    const byPlatform = st.status === 'stale' && st.pinnedKind === 'manifest' && st.platform !== null;
    let digest = st.status === 'current' ? st.pinned! : byPlatform && st.platformDigest ? st.platformDigest : st.current!;
    let action: PinChange['action'] = st.status === 'unpinned' ? 'pinned' : st.status === 'stale' ? 'updated' : 'current';
    if (opts.update && opts.toNewest && st.newer.length) {
      tag = st.newer[0]!;
      const next = await lookups.digestOf(ref, tag).catch((e: unknown) => atFrom(df, from, e));
      digest = next.digest;
      if (byPlatform && next.index) digest = (await lookups.platformManifest(ref, next.digest, st.platform!).catch((e: unknown) => atFrom(df, from, e))) ?? next.digest;
      action = 'newer-tag';
    } else if (st.status === 'stale' && !opts.update) {
      change('stale', from.raw, `the pin is stale (${st.name}:${st.tag} is now ${st.current}); --update moves it`);
      pinnedAs.set(s.index, { name: `${ref.name}:${st.tag}`, digest: ref.digest });
      continue;
    }
    if (action === 'current') {
      pinnedAs.set(s.index, { name: `${ref.name}:${tag}`, digest });
      change('current', from.raw);
      continue;
    }
    // `FROM ${BASE}`: the pin goes into the ARG's default, where the reference is written.
    const arg = argHolding(df, from.raw);
    if (arg) {
      const w = splitWord(arg.value!)!;
      pinnedAs.set(s.index, { name: `${ref.name}:${tag}`, digest });
      const to = `${w.name}:${tag}@${digest}`;
      const quoted = /^["']/.test(df.text.slice(arg.valueSpan!.start, arg.valueSpan!.start + 1));
      const span = quoted ? { start: arg.valueSpan!.start + 1, end: arg.valueSpan!.end - 1 } : arg.valueSpan!;
      if (!edits.some((e) => e.start === span.start)) edits.push({ ...span, text: to });
      changes.push({ file: df.file, line: arg.line, from: arg.value!, to, action, note: `ARG ${arg.name}, the image of the FROM on line ${from.place.line}` });
      continue;
    }
    const word = splitWord(from.raw);
    if (!word || (from.usesArgs && word.tag === null)) {
      // The file is not changed here, so the labels name only what it pins.
      pinnedAs.set(s.index, { name: `${ref.name}:${st.tag}`, digest: ref.digest });
      change('skipped', from.raw, `the tag comes from ARGs (${from.raw}); pin its ARG's default instead: ${familiarName(ref.familiar)}:${tag}@${digest}`);
      continue;
    }
    pinnedAs.set(s.index, { name: `${ref.name}:${tag}`, digest });
    const to = `${word.name}:${tag}@${digest}`;
    edits.push({ ...from.span, text: to });
    change(action, to);
  }
  // Images COPY --from names: pinned the same way, in the flag's value (no labels describe them).
  for (const s of df.stages) {
    for (const c of s.copyFrom) {
      const st = await judgeFrom(df, s.index, lookups, platform, c);
      const change = (action: PinChange['action'], to: string, note: string | null = null) => changes.push({ file: df.file, line: c.place.line, from: c.raw, to, action, note });
      if (st.tag === null) {
        change('skipped', c.raw, 'COPY --from pinned by digest only: no tag to look up');
        continue;
      }
      if (st.status === 'current') {
        change('current', c.raw);
        continue;
      }
      if (st.status === 'stale' && !opts.update) {
        change('stale', c.raw, `COPY --from: the pin is stale (${st.name}:${st.tag} is now ${st.current}); --update moves it`);
        continue;
      }
      let tag = st.tag;
      let digest = st.current!;
      let action: PinChange['action'] = st.status === 'unpinned' ? 'pinned' : 'updated';
      if (opts.update && opts.toNewest && st.newer.length) {
        tag = st.newer[0]!;
        digest = (await lookups.digestOf(c.reference!, tag).catch((e: unknown) => atFrom(df, c, e, 'COPY'))).digest;
        action = 'newer-tag';
      }
      const word = splitWord(c.raw);
      if (!word || (c.usesArgs && word.tag === null)) {
        change('skipped', c.raw, `COPY --from: the tag comes from ARGs (${c.raw}); pin its ARG's default instead: ${familiarName(c.reference!.familiar)}:${tag}@${digest}`);
        continue;
      }
      const to = `${word.name}:${tag}@${digest}`;
      edits.push({ ...c.span, text: to });
      change(action, to);
    }
  }
  // The base labels of the built image: its final stage, followed back through FROM <stage>.
  const final = df.stages[df.stages.length - 1];
  const baseStage = baseOfFinal(df);
  const base = baseStage ? pinnedAs.get(baseStage.index) : undefined;
  if (final && baseStage && base) {
    const want: Record<string, string | null> = { [BASE_NAME_LABEL]: base.name, [BASE_DIGEST_LABEL]: base.digest };
    const doomed = new Set<DockerfileLabel>();
    // Stages the final one builds on hand their labels down: base labels there describe an older base.
    for (let i = baseStage.index; i < final.index; i++) {
      if (!inChain(df, final.index, i)) continue;
      for (const l of df.stages[i]!.labels) if (l.key in want) doomed.add(l);
    }
    const missing: string[] = [];
    for (const [key, value] of Object.entries(want)) {
      const present = final.labels.filter((l) => l.key === key);
      if (value === null) {
        for (const l of present) doomed.add(l);
        continue;
      }
      if (present.length === 0) {
        missing.push(`${key}=${quoteLabel(value, df.escape)}`);
        continue;
      }
      // The last one wins in Docker: keep it, replaced in place when its value is old; drop earlier copies.
      const last = present[present.length - 1]!;
      for (const l of present.slice(0, -1)) doomed.add(l);
      if (last.value !== value) edits.push({ ...last.span, text: `${key}=${quoteLabel(value, df.escape)}` });
    }
    edits.push(...deleteLabels(df.stages.flatMap((s) => s.labels), doomed));
    if (missing.length) edits.push(insertLabels(df, final, missing));
  }
  const after = applyEdits(df.text, edits);
  return { file: df.file, before: df.text, after, diff: unifiedDiff(df.text, after, df.file), changes };
}

/** Is stage `i` one the stage `final` builds on (FROM i, or FROM a stage built on i)? */
function inChain(df: ParsedDockerfile, final: number, i: number): boolean {
  let s = df.stages[final];
  const seen = new Set<number>();
  while (s && s.from.stage !== null && !seen.has(s.index)) {
    seen.add(s.index);
    if (s.from.stage === i) return true;
    s = df.stages[s.from.stage];
  }
  return false;
}

/** Plan the pins of every Dockerfile: the new texts and diffs, nothing written. */
export async function planPins(dfs: readonly ParsedDockerfile[], opts: PinOptions = {}): Promise<PinnedFile[]> {
  const lookups = opts.lookups ?? new Lookups(opts);
  const platform = opts.platform ?? formatPlatform(hostPlatform());
  try {
    const settled = await Promise.allSettled(dfs.map((df) => planFile(df, lookups, opts, platform)));
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return settled.map((r) => (r as PromiseFulfilledResult<PinnedFile>).value);
  } finally {
    if (!opts.lookups) await lookups.close();
  }
}

/**
 * Write a planned file atomically, refusing a file that changed since it was read (see
 * {@link writeEdited}): true when it was written, false when there was nothing to change.
 */
export function writePinned(p: PinnedFile): Promise<boolean> {
  return writeEdited(p.file, p.before, p.after, 'pinned');
}

/** The result document of a pin run. */
export function pinResult(planned: readonly PinnedFile[], written: ReadonlySet<string>): PinResult {
  return {
    schemaVersion: DOCKERFILE_SCHEMA_VERSION,
    kind: 'pin',
    files: planned.map((p) => ({ file: p.file, changed: p.before !== p.after, written: written.has(p.file), diff: p.diff })),
    changes: planned.flatMap((p) => p.changes),
  };
}
