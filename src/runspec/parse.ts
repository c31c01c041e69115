/**
 * Parse a run-spec (README "Run-specs"). The Dockerfile syntax is dockerfile-ast's: it finds the
 * parser directives, the comments and each instruction with its extent (line continuations
 * included), its flags, FROM's image, heredocs and the words of BIND, UNSETENV and WORKDIR. Two
 * things are done here, the way Docker's own parser (buildkit) does them, because dockerfile-ast's
 * text helpers differ from Docker there: joining an instruction's lines into the text of RUN and
 * ENV (a continuation drops the escape, comment lines and blank lines inside it are skipped), and
 * ENV's words and quotes. Every error is a UsageError `FILE:LINE:COL: what is wrong`, one line,
 * with 1-based lines and columns (columns count Unicode characters).
 */
import { DockerfileParser, Keyword, type Dockerfile, type From, type Instruction, type Run } from 'dockerfile-ast';
import { FormatError, ImageReferenceError, UsageError } from '../errors/index.js';
import { parseDockerReference } from '../image/docker-reference.js';
import { readRegularFile } from '../util/files.js';
import {
  RUNSPEC_SCHEMA_VERSION,
  type RunSpec,
  type RunSpecBind,
  type RunSpecEnv,
  type RunSpecImage,
  type RunSpecRun,
  type RunSpecUnset,
  type RunSpecWorkdir,
} from './types.js';

/** The instructions of a run-spec. */
export const RUNSPEC_INSTRUCTIONS = ['FROM', 'ENV', 'UNSETENV', 'BIND', 'WORKDIR', 'RUN'] as const;

/** A portable environment variable name (POSIX shell names). */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DOCKERFILE_KEYWORDS: ReadonlySet<string> = new Set(Object.values(Keyword));
const ALLOWED = `a run-spec has ${RUNSPEC_INSTRUCTIONS.slice(0, -1).join(', ')} and RUN`;
const DIGEST_FORM = 'FROM name@sha256:<64 hex>';

/** A 0-based position, as dockerfile-ast reports it (UTF-16 code units within the line). */
interface Pos {
  line: number;
  character: number;
}

/** JSON-quote a string for a message, escaping the line separators JSON leaves alone. */
function show(s: string): string {
  return JSON.stringify(s).replace(/[\u0085\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The text being parsed: its lines, and errors that name a place in it. */
class Source {
  readonly lines: string[];
  constructor(
    readonly file: string,
    text: string,
  ) {
    // The line breaks of dockerfile-ast's text document.
    this.lines = text.split(/\r\n|\r|\n/);
  }
  /** `FILE:LINE:COL`, 1-based, the column in Unicode characters. */
  where(p: Pos): string {
    const col = [...(this.lines[p.line] ?? '').slice(0, p.character)].length + 1;
    return `${this.file}:${p.line + 1}:${col}`;
  }
  fail(p: Pos, what: string): never {
    throw new UsageError(`${this.where(p)}: ${what}`);
  }
}

/** The text of an instruction's lines joined as Docker joins them, with the position of each character. */
interface Joined {
  text: string;
  /** Where character `i` of `text` is (`text.length`: just after the last one). */
  pos(i: number): Pos;
}

function escapeRegExp(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

/**
 * The arguments of an instruction as one line, as buildkit's parser makes it: from just after the
 * keyword to the end of the instruction (dockerfile-ast's extent), a line ending in the escape
 * character (then optional blanks) continues on the next, the escape dropped; inside a continuation
 * comment lines and blank lines are skipped. Leading and trailing blanks are trimmed.
 */
function joinArguments(src: Source, inst: Instruction, escape: string): Joined {
  const start = inst.getInstructionRange().end;
  const endLine = inst.getRange().end.line;
  const continues = new RegExp(`${escapeRegExp(escape)}[ \\t]*$`);
  const segments: { line: number; character: number; text: string }[] = [];
  for (let l = start.line; l <= endLine; l++) {
    const from = l === start.line ? start.character : 0;
    let s = (src.lines[l] ?? '').slice(from);
    if (l > start.line && /^[ \t]*(?:#|$)/.test(s)) continue;
    const m = continues.exec(s);
    if (m) s = s.slice(0, m.index);
    segments.push({ line: l, character: from, text: s });
    if (!m) break;
  }
  const whole = segments.map((s) => s.text).join('');
  const lead = whole.length - whole.replace(/^[ \t]+/, '').length;
  const text = whole.slice(lead).replace(/[ \t]+$/, '');
  return {
    text,
    pos(i: number): Pos {
      let at = lead + i;
      for (const [k, s] of segments.entries()) {
        if (at < s.text.length || k === segments.length - 1) return { line: s.line, character: s.character + at };
        at -= s.text.length;
      }
      return start;
    },
  };
}

/**
 * Parse a run-spec's text. Pure: nothing is read, looked up or run. `file` names the text in
 * messages. Throws UsageError `FILE:LINE:COL: what is wrong` for anything that is not a valid
 * run-spec (README "Run-specs").
 */
export function parseRunSpec(text: string, file = 'runspec'): RunSpec {
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  const src: Source = new Source(file, text);
  const nul = text.indexOf('\0');
  if (nul >= 0) {
    const before = text.slice(0, nul).split(/\r\n|\r|\n/);
    src.fail({ line: before.length - 1, character: before.at(-1)?.length ?? 0 }, 'NUL byte: a run-spec is text');
  }
  const df = DockerfileParser.parse(text);
  checkDirectives(src, df);
  const escape = df.getEscapeCharacter();

  let from: RunSpecImage | null = null;
  let fromAt: Pos = { line: 0, character: 0 };
  const env: RunSpecEnv[] = [];
  const unsetenv: RunSpecUnset[] = [];
  const binds: RunSpecBind[] = [];
  let workdir: RunSpecWorkdir | null = null;
  const run: RunSpecRun[] = [];
  const setOn = new Map<string, number>();
  const unsetOn = new Map<string, number>();
  const boundOn = new Map<string, number>();

  for (const inst of df.getInstructions()) {
    const keyword = inst.getKeyword();
    const at = inst.getInstructionRange().start;
    const line = at.line + 1;
    if (!(RUNSPEC_INSTRUCTIONS as readonly string[]).includes(keyword)) {
      if (keyword === 'CMD' || keyword === 'ENTRYPOINT') src.fail(at, `${keyword} is not a run-spec instruction: what runs is RUN (${ALLOWED})`);
      if (DOCKERFILE_KEYWORDS.has(keyword)) src.fail(at, `${keyword} is a Dockerfile build instruction, not a run-spec one (${ALLOWED})`);
      src.fail(at, `unknown instruction ${show(inst.getInstruction())} (${ALLOWED})`);
    }
    if (from === null && keyword !== 'FROM') src.fail(at, `${keyword} before FROM: the first instruction of a run-spec is ${DIGEST_FORM}`);
    switch (keyword) {
      case 'FROM':
        if (from !== null) src.fail(at, `a second FROM (the first is on line ${from.line}): a run-spec names one image`);
        from = parseFrom(src, inst as From);
        fromAt = at;
        break;
      case 'ENV':
        for (const e of parseEnv(src, inst, escape)) {
          const unset = unsetOn.get(e.name);
          if (unset !== undefined) src.fail(e.at, `${e.name} is unset on line ${unset} and set here: a variable is either set (ENV) or unset (UNSETENV)`);
          setOn.set(e.name, line);
          env.push({ name: e.name, value: e.value, line });
        }
        break;
      case 'UNSETENV': {
        const args = plainArguments(src, inst, escape, 'write the names as they are');
        if (args.length === 0) src.fail(at, 'UNSETENV needs one or more variable names');
        for (const a of args) {
          const name = a.getValue();
          const p = a.getRange().start;
          if (!ENV_NAME.test(name)) {
            src.fail(p, `UNSETENV ${show(name)}: not a variable name (letters, digits and _, not starting with a digit${/[*?[]/.test(name) ? '; glob patterns are not supported' : ''})`);
          }
          const set = setOn.get(name);
          if (set !== undefined) src.fail(p, `${name} is set on line ${set} and unset here: a variable is either set (ENV) or unset (UNSETENV)`);
          unsetOn.set(name, line);
          unsetenv.push({ name, line });
        }
        break;
      }
      case 'BIND': {
        const args = plainArguments(src, inst, escape, "paths with blanks or ':' are not supported");
        if (args.length === 0) src.fail(at, 'BIND needs SRC[:DST][:ro|:rw] (absolute paths)');
        for (const a of args) {
          const b = parseBind(src, a.getValue(), a.getRange());
          const key = b.target.replace(/\/+$/, '') || '/';
          const other = boundOn.get(key);
          if (other !== undefined) src.fail(b.targetAt, `BIND target ${b.target} is already bound on line ${other}`);
          boundOn.set(key, line);
          binds.push({ source: b.source, target: b.target, readOnly: b.readOnly, line });
        }
        break;
      }
      case 'WORKDIR': {
        if (workdir !== null) src.fail(at, `a second WORKDIR (the first is on line ${workdir.line}): a run-spec has one working directory`);
        const args = plainArguments(src, inst, escape, 'paths with blanks are not supported');
        const first = args[0];
        if (first === undefined) src.fail(at, 'WORKDIR needs an absolute container path');
        if (args[1] !== undefined) src.fail(args[1].getRange().start, 'WORKDIR takes one path (paths with blanks are not supported)');
        const path = first.getValue();
        const p = first.getRange().start;
        if (!path.startsWith('/')) src.fail(p, `WORKDIR ${show(path)} is not an absolute path`);
        workdir = { path, line };
        break;
      }
      case 'RUN':
        run.push({ ...parseRun(src, inst as Run, escape), line });
        break;
    }
  }
  if (from === null) src.fail({ line: 0, character: 0 }, `empty run-spec: the first instruction must be ${DIGEST_FORM}`);
  if (run.length === 0) src.fail(fromAt, 'no RUN: a run-spec runs at least one command (RUN ["program", "arg"] or RUN command line)');
  return { schemaVersion: RUNSPEC_SCHEMA_VERSION, file, from, env, unsetenv, binds, workdir, run };
}

/** Only `# escape=\` or `` # escape=` `` changes anything; other directives (`# syntax=`) are comments here. */
function checkDirectives(src: Source, df: Dockerfile): void {
  for (const d of df.getDirectives()) {
    if (d.getName().toLowerCase() !== 'escape') continue;
    const v = d.getValue();
    if (v !== '\\' && v !== '`') src.fail(d.getValueRange().start, `escape directive ${show(v)}: the escape character is \\ or \``);
  }
}

function parseFrom(src: Source, inst: From): RunSpecImage {
  const at = inst.getInstructionRange().start;
  const flag = inst.getFlags()[0];
  if (flag !== undefined) {
    src.fail(
      flag.getRange().start,
      flag.getName() === 'platform'
        ? 'FROM --platform is not supported: the digest names the image (a platform\'s manifest, or an index the host\'s platform is picked from)'
        : `FROM --${flag.getName()} is not supported`,
    );
  }
  const [image, extra] = inst.getArguments();
  if (image === undefined) src.fail(at, `FROM needs the image: ${DIGEST_FORM}`);
  if (extra !== undefined) {
    const v = extra.getValue();
    src.fail(
      extra.getRange().start,
      v.toUpperCase() === 'AS' ? 'FROM ... AS NAME is not supported: a run-spec has one image and no build stages' : `unexpected ${show(v)} after the image reference`,
    );
  }
  const reference = image.getValue();
  const p = image.getRange().start;
  let ref;
  try {
    ref = parseDockerReference(reference);
  } catch (e) {
    if (e instanceof ImageReferenceError) src.fail(p, e.message);
    throw e;
  }
  if (ref.digest === null) {
    src.fail(p, `provenance needs the image digest: ${DIGEST_FORM} (${show(reference)} has ${ref.tagDefaulted ? 'neither tag nor digest' : 'a tag, which can move, and no digest'})`);
  }
  return { reference, name: ref.name, tag: ref.tag, digest: ref.digest, line: at.line + 1 };
}

/** One word of an instruction's joined text, quotes and escapes still in it. */
interface Word {
  raw: string;
  start: number;
}

/**
 * Split into words as buildkit's `parseWords` does: blanks outside quotes separate words; quotes
 * and escapes stay in the words (they are removed later, by {@link unquote}).
 */
function splitWords(text: string, escape: string): Word[] {
  const words: Word[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (i >= text.length) break;
    const start = i;
    let quote: string | null = null;
    for (; i < text.length; i++) {
      const c = text[i]!;
      if (quote === null && /\s/.test(c)) break;
      if (c === escape && quote !== "'") i++;
      else if (quote === null && (c === '"' || c === "'")) quote = c;
      else if (c === quote) quote = null;
    }
    words.push({ raw: text.slice(start, Math.min(i, text.length)), start });
  }
  return words;
}

/**
 * Remove quotes and escapes from a value as Docker's shell lexer does, without expanding
 * variables (`$` is an ordinary character here): outside quotes the escape character takes the
 * next character literally; '...' is literal; inside "...", the escape character escapes only `"`,
 * `$` and itself. Returns the value, or the offset of a quote that is never closed.
 */
function unquote(raw: string, escape: string): { value: string } | { unclosed: number } {
  let value = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === escape) {
      if (i + 1 < raw.length) value += raw[++i];
    } else if (c === "'") {
      const end = raw.indexOf("'", i + 1);
      if (end < 0) return { unclosed: i };
      value += raw.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      const open = i;
      for (i++; ; i++) {
        if (i >= raw.length) return { unclosed: open };
        const d = raw[i]!;
        if (d === '"') break;
        if (d === escape && i + 1 < raw.length && (raw[i + 1] === '"' || raw[i + 1] === '$' || raw[i + 1] === escape)) value += raw[++i];
        else value += d;
      }
    } else value += c;
  }
  return { value };
}

/** ENV NAME=VALUE ... or the legacy ENV NAME VALUE (buildkit's parseNameVal), quotes removed. */
function parseEnv(src: Source, inst: Instruction, escape: string): { name: string; value: string; at: Pos }[] {
  const j = joinArguments(src, inst, escape);
  const words = splitWords(j.text, escape);
  const first = words[0];
  if (first === undefined) src.fail(inst.getInstructionRange().start, 'ENV needs NAME=VALUE');
  const pairs: { name: string; raw: string; nameAt: number; valueAt: number }[] = [];
  if (!first.raw.includes('=')) {
    // Legacy form: the name, blanks, and the rest of the line is the value.
    const m = /^(\S+)\s+([^]*)$/.exec(j.text);
    if (!m) src.fail(j.pos(0), `ENV ${first.raw} has no value: write ${first.raw}=VALUE`);
    pairs.push({ name: m[1]!, raw: m[2]!, nameAt: 0, valueAt: j.text.length - m[2]!.length });
  } else {
    for (const w of words) {
      const eq = w.raw.indexOf('=');
      if (eq < 0) src.fail(j.pos(w.start), `ENV ${w.raw} has no value: write ${w.raw}=VALUE (one form per ENV: NAME=VALUE ... or NAME VALUE)`);
      pairs.push({ name: w.raw.slice(0, eq), raw: w.raw.slice(eq + 1), nameAt: w.start, valueAt: w.start + eq + 1 });
    }
  }
  return pairs.map((p) => {
    if (!ENV_NAME.test(p.name)) src.fail(j.pos(p.nameAt), `ENV ${show(p.name)}: not a variable name (letters, digits and _, not starting with a digit)`);
    const u = unquote(p.raw, escape);
    if ('unclosed' in u) src.fail(j.pos(p.valueAt + u.unclosed), `ENV ${p.name}: the quote ${p.raw[u.unclosed]} is never closed`);
    return { name: p.name, value: u.value, at: j.pos(p.nameAt) };
  });
}

/**
 * The words of BIND, UNSETENV and WORKDIR, as dockerfile-ast splits them, once it is sure none
 * holds a quote or an escape (which it would drop or keep unlike Docker): those are an error at
 * the first one.
 */
function plainArguments(src: Source, inst: Instruction, escape: string, hint: string): ReturnType<Instruction['getArguments']> {
  const j = joinArguments(src, inst, escape);
  const i = j.text.search(new RegExp(`["']|${escapeRegExp(escape)}`));
  if (i >= 0) src.fail(j.pos(i), `${inst.getKeyword()}: quotes and escapes are not supported (${hint})`);
  return inst.getArguments();
}

/** BIND SRC[:DST][:ro|:rw], one argument; positions within it when the argument is written plainly. */
function parseBind(src: Source, v: string, range: { start: Pos; end: Pos }): { source: string; target: string; readOnly: boolean; targetAt: Pos } {
  const { start, end } = range;
  const plain = start.line === end.line && end.character - start.character === v.length;
  const at = (i: number): Pos => (plain ? { line: start.line, character: start.character + i } : start);
  const form = 'SRC[:DST][:ro|:rw]';
  const parts = v.split(':');
  if (parts.length > 3) {
    const third = v.split(':', 3).join(':').length;
    src.fail(at(third), `BIND ${show(v)}: too many ':' (${form}; paths holding ':' are not supported)`);
  }
  const offset = (k: number) => parts.slice(0, k).reduce((n, s) => n + s.length + 1, 0);
  const source = parts[0]!;
  if (!source.startsWith('/')) src.fail(start, `BIND ${show(v)}: ${source === '' ? 'the source path is empty' : `source ${show(source)} is not an absolute host path`} (${form})`);
  let target = source;
  let targetAt = start;
  let mode: string | null = null;
  let modeAt = 0;
  if (parts.length === 2 && (parts[1] === 'ro' || parts[1] === 'rw')) [mode, modeAt] = [parts[1], offset(1)];
  else if (parts.length >= 2) {
    target = parts[1]!;
    targetAt = at(offset(1));
    if (!target.startsWith('/')) {
      src.fail(targetAt, `BIND ${show(v)}: ${target === '' ? 'the target path is empty' : `target ${show(target)} is not an absolute container path${parts.length === 2 ? ' (nor ro or rw)' : ''}`} (${form})`);
    }
    if (parts.length === 3) [mode, modeAt] = [parts[2]!, offset(2)];
  }
  if (mode !== null && mode !== 'ro' && mode !== 'rw') src.fail(at(modeAt), `BIND ${show(v)}: the mode is ro or rw, not ${show(mode)}`);
  return { source, target, readOnly: mode === 'ro', targetAt };
}

function parseRun(src: Source, inst: Run, escape: string): Omit<RunSpecRun, 'line'> {
  const at = inst.getInstructionRange().start;
  const flag = inst.getFlags()[0];
  if (flag !== undefined) src.fail(flag.getRange().start, `RUN --${flag.getName()} is a build option; a run-spec's RUN takes none`);
  if (inst.getHeredocs().length > 0) {
    src.fail(at, `heredocs (RUN <<EOF) are not supported in a run-spec: write the commands on the RUN line (continued with ${escape} at line ends)`);
  }
  const j = joinArguments(src, inst, escape);
  if (j.text === '') src.fail(at, 'RUN needs a command: RUN ["program", "arg"] or RUN command line');
  if (!j.text.startsWith('[')) return { argv: ['/bin/sh', '-c', j.text], form: 'shell' };
  const argv = execArgv(src, j);
  if (argv.length === 0) src.fail(j.pos(0), 'RUN [] runs nothing: the array needs at least the program');
  if (argv[0] === '') src.fail(j.pos(1), 'RUN exec form: the program (the first element) is empty');
  return { argv, form: 'exec' };
}

const EXEC_HINT = '; a RUN starting with "[" is the exec form, a JSON array of strings (in the shell form, write test ... rather than [ ... ])';

/** A JSON array of strings, with the position of whatever is wrong in it. */
function execArgv(src: Source, j: Joined): string[] {
  const t = j.text;
  const fail = (i: number, what: string): never => src.fail(j.pos(i), `RUN exec form: ${what}${EXEC_HINT}`);
  let i = 1;
  const blanks = () => {
    while (i < t.length && ' \t\n\r'.includes(t[i]!)) i++;
  };
  const argv: string[] = [];
  blanks();
  if (t[i] === ']') i++;
  else {
    for (;;) {
      blanks();
      if (i >= t.length) fail(i, 'the array is not closed with "]"');
      if (t[i] !== '"') {
        if (t[i] === ']' || t[i] === ',') fail(i, `element ${argv.length + 1} is missing`);
        const token = t[i] === '[' ? 'an array' : t[i] === '{' ? 'an object' : /^[^\s,\]]+/.exec(t.slice(i))?.[0] ?? t[i]!;
        const json = /^(?:-?\d[\d.eE+-]*|true|false|null)$/.test(token);
        fail(i, `element ${argv.length + 1} is ${token.startsWith('an ') || json ? token : show(token)}, not a string`);
      }
      const start = i++;
      for (;;) {
        if (i >= t.length) fail(start, 'a string is not closed with \'"\'');
        const c = t[i]!;
        if (c === '"') break;
        if (c === '\\') {
          const e = t[i + 1] ?? '';
          if ('"\\/bfnrt'.includes(e) && e !== '') i += 2;
          else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(t.slice(i + 2, i + 6))) i += 6;
          else fail(i, `bad escape ${show(`\\${e}`)} in a JSON string`);
        } else if (c < ' ') fail(i, 'a control character in a JSON string');
        else i++;
      }
      argv.push(JSON.parse(t.slice(start, ++i)) as string);
      blanks();
      if (t[i] === ',') {
        i++;
        continue;
      }
      if (t[i] === ']') {
        i++;
        break;
      }
      fail(i, i >= t.length ? 'the array is not closed with "]"' : `expected "," or "]", not ${show(t[i]!)}`);
    }
  }
  blanks();
  if (i < t.length) fail(i, `${show(t.slice(i))} after the closing "]"`);
  return argv;
}

/**
 * Read and parse a run-spec file: a regular file within the `jsonBytes` limit (src/limits.ts),
 * UTF-8. NotFoundError when it is missing, FormatError when it cannot be read or is not UTF-8,
 * UsageError `FILE:LINE:COL: ...` when it is not a valid run-spec.
 */
export async function readRunSpec(path: string): Promise<RunSpec> {
  const bytes = await readRegularFile(path, 'jsonBytes', `run-spec ${path}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (e) {
    throw new FormatError(`run-spec ${path}: not UTF-8 text`, path, { cause: e });
  }
  return parseRunSpec(text, path);
}
