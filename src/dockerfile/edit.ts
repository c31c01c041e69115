/**
 * Byte-preserving edits of a Dockerfile's text, shared by pin.ts and labels.ts: splices at offsets
 * parse.ts recorded, labels quoted with the file's escape character, whole LABEL instructions or
 * runs of pairs deleted without leaving empty continuation lines, a LABEL inserted after a FROM
 * with that line's own line ending; and the atomic write that refuses a file changed meanwhile.
 */
import { chmod, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tempNameFor } from '../cache/atomic.js';
import { DockerfileError } from '../errors/index.js';
import type { DockerfileLabel, DockerfileStage, ParsedDockerfile, Span } from './parse.js';

/** Replace `[start, end)` with `text`. */
export interface Edit extends Span {
  text: string;
}

/** A label value, double-quoted for a LABEL instruction (quotes, `$` and the escape character escaped). */
export function quoteLabel(v: string, escape: string): string {
  const special = new Set(['"', '$', escape]);
  return `"${[...v].map((c) => (special.has(c) ? escape + c : c)).join('')}"`;
}

/**
 * The edits deleting some labels: an instruction all of whose labels go is deleted whole (its
 * lines); otherwise each run of deleted pairs goes with the blanks and continuation before it (or,
 * for the first pair, after it), so that no empty continuation line is left.
 */
export function deleteLabels(all: readonly DockerfileLabel[], doomed: ReadonlySet<DockerfileLabel>): Edit[] {
  const edits: Edit[] = [];
  const byInstruction = new Map<number, DockerfileLabel[]>();
  for (const l of all) byInstruction.set(l.instruction.start, [...(byInstruction.get(l.instruction.start) ?? []), l]);
  for (const pairs of byInstruction.values()) {
    pairs.sort((a, b) => a.span.start - b.span.start);
    const gone = pairs.map((l) => doomed.has(l));
    if (!gone.some(Boolean)) continue;
    if (gone.every(Boolean)) {
      edits.push({ ...pairs[0]!.instruction, text: '' });
      continue;
    }
    for (let a = 0; a < pairs.length; a++) {
      if (!gone[a]) continue;
      let b = a;
      while (b + 1 < pairs.length && gone[b + 1]) b++;
      edits.push(a > 0 ? { start: pairs[a - 1]!.span.end, end: pairs[b]!.span.end, text: '' } : { start: pairs[0]!.span.start, end: pairs[b + 1]!.span.start, text: '' });
      a = b;
    }
  }
  return edits;
}

/** Apply non-overlapping edits to a text. */
export function applyEdits(text: string, edits: Edit[]): string {
  const sorted = [...edits].sort((a, b) => b.start - a.start || b.end - a.end);
  let out = text;
  let limit = Infinity;
  for (const e of sorted) {
    if (e.end > limit) throw new Error(`overlapping edits at ${e.start}`);
    out = out.slice(0, e.start) + e.text + out.slice(e.end);
    limit = e.start;
  }
  return out;
}

/** A LABEL instruction holding `pairs` (`key="value"`), inserted just after `stage`'s FROM instruction. */
export function insertLabels(df: ParsedDockerfile, stage: DockerfileStage, pairs: readonly string[]): Edit {
  // The FROM line's own line ending (a file that mixes them keeps each line's).
  const fromText = df.text.slice(stage.fromInstruction.start, stage.fromInstruction.end);
  const eol = /\r\n$/.test(fromText) ? '\r\n' : /\n$/.test(fromText) ? '\n' : df.eol;
  const at = stage.fromInstruction.end;
  const needsEol = at === df.text.length && !/[\r\n]$/.test(df.text);
  return { start: at, end: at, text: `${needsEol ? eol : ''}LABEL ${pairs.join(` ${df.escape}${eol}      `)}${eol}` };
}

/**
 * Write `after` over `file` atomically: to a temporary file in the same directory (with the file's
 * mode), then, only if the file still holds exactly `before` (the text that was read), renamed over
 * it. A file that changed meanwhile is left as it is (the temporary file removed) and is a
 * DockerfileError: neither the other writer's version nor this one is lost (run again). `what`
 * says what was being done (`pinned`, `labelled`). False when there was nothing to change.
 */
export async function writeEdited(file: string, before: string, after: string, what: string): Promise<boolean> {
  if (before === after) return false;
  const st = await stat(file);
  const tmp = tempNameFor(file);
  try {
    await writeFile(tmp, after, { flag: 'wx' });
    await chmod(tmp, st.mode & 0o7777);
    const now = await readFile(file, 'utf8').catch(() => null);
    if (now !== before) throw new DockerfileError(`${file}: changed while it was being ${what}; not written (its new content is kept; run again)`, file, null);
    await rename(tmp, file);
    return true;
  } finally {
    await rm(tmp, { force: true });
  }
}
