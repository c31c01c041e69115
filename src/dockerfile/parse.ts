/**
 * Parse one Dockerfile into what the analysis needs: its stages, each stage's `FROM` (the image as
 * written, with `ARG` defaults and `--build-arg` overrides substituted, its place in the file,
 * `--platform`, the stage alias, or the earlier stage it builds on) and its `LABEL`s (every form:
 * `k=v` pairs, quoted keys and values, several per instruction, continuation lines, the legacy
 * `LABEL key value`), with offsets into the text so that pin.ts can edit bytes in place.
 *
 * The syntax is dockerfile-ast's (parser directives, comments, heredocs, continuations, the escape
 * character). What dockerfile-ast tolerates but Docker refuses is refused here, as buildkit does:
 * an unknown instruction, an instruction before the first FROM other than ARG, a FROM without an
 * image, no FROM at all. Every error is a {@link DockerfileError} `FILE:LINE:COL: what is wrong`.
 * Pure: nothing is read or looked up.
 */
import { DockerfileParser, Keyword, type Arg, type Copy, type From, type Heredoc, type Label } from 'dockerfile-ast';
import { DockerfileError, ImageReferenceError } from '../errors/index.js';
import { parseDockerReference, type DockerReference } from '../image/docker-reference.js';

/** A 1-based place in the file (the column counts UTF-16 code units, as editors do). */
export interface Place {
  line: number;
  column: number;
}

/** `[start, end)` offsets into the file's text (UTF-16 code units). */
export interface Span {
  start: number;
  end: number;
}

/** One `FROM` instruction. */
export interface DockerfileFrom {
  /** Where the image word starts. */
  place: Place;
  /** The image word as written (`${BASE}:${TAG:-22.04}`). */
  raw: string;
  /** The image word with every variable substituted (`ubuntu:22.04`). */
  image: string;
  /** Whether the word uses variables (then a pin rewrites the resolved reference in its place). */
  usesArgs: boolean;
  /** Offsets of the image word. */
  span: Span;
  /** `--platform` as written, substituted where its variables are known; null when absent. */
  platform: string | null;
  /** `AS name`, lower case; null when absent. */
  alias: string | null;
  /** Index of the earlier stage this FROM builds on (`FROM build`); null for an image. */
  stage: number | null;
  /** `scratch`: no image at all. */
  scratch: boolean;
  /** The registry reference (parsed by the one reference parser); null for a stage or scratch. */
  reference: DockerReference | null;
}

/** One label of a `LABEL` instruction. */
export interface DockerfileLabel {
  key: string;
  /** The value with quotes removed and known variables substituted. */
  value: string;
  /** 1-based line of the label's key. */
  line: number;
  /** Offsets of this `key=value` pair. */
  span: Span;
  /** Offsets of its whole instruction, from the start of its first line through its last line break. */
  instruction: Span;
  /** How many labels the instruction holds (1: deleting the label deletes the instruction). */
  siblings: number;
}

/** An ARG declared before the first FROM. */
export interface ArgDecl {
  name: string;
  /** The default as written, quotes removed; null without one. */
  value: string | null;
  /** Offsets of the default as written (quotes included); null without one. */
  valueSpan: Span | null;
  line: number;
  /** A --build-arg gives it another value in this parse. */
  overridden: boolean;
}

/** One build stage. */
export interface DockerfileStage {
  index: number;
  from: DockerfileFrom;
  labels: DockerfileLabel[];
  /**
   * Images (not stages) that `COPY --from=IMAGE` copies files from in this stage, read like a FROM's
   * image (`alias` and `platform` null); a --from whose variables are not known here is left out.
   */
  copyFrom: DockerfileFrom[];
  /** Offsets of the FROM instruction, from the start of its line through its last line break. */
  fromInstruction: Span;
}

/** A parsed Dockerfile. */
export interface ParsedDockerfile {
  file: string;
  /** The text as read (a byte-order mark, if any, kept). */
  text: string;
  /** The file's line ending: CRLF files stay CRLF when edited. */
  eol: '\r\n' | '\n';
  /** The escape character (`\\`, or a backtick by the `escape` directive). */
  escape: string;
  /** Parser directives (`syntax`, `escape`, `check`), lower-case names. */
  directives: Record<string, string>;
  /** ARGs declared before the first FROM, with their values for this parse (null: no value). */
  globalArgs: Record<string, string | null>;
  /** The declarations of those ARGs, in order (the last of a name wins). */
  argDecls: ArgDecl[];
  stages: DockerfileStage[];
}

/** Options for {@link parseDockerfile}. */
export interface ParseOptions {
  /** `--build-arg NAME=VALUE` overrides. */
  buildArgs?: Readonly<Record<string, string>> | undefined;
  /** The platform the automatic `TARGETPLATFORM`/`BUILDPLATFORM` args stand for (default linux/amd64). */
  platform?: string | undefined;
}

const KEYWORDS: ReadonlySet<string> = new Set(Object.values(Keyword));

/** The automatic platform ARGs buildkit offers in FROM lines, for a platform `os/arch[/variant]`. */
function platformArgs(platform: string): Record<string, string> {
  const [os = 'linux', arch = 'amd64', variant = ''] = platform.split('/');
  const out: Record<string, string> = {};
  for (const p of ['TARGET', 'BUILD']) {
    out[`${p}PLATFORM`] = platform;
    out[`${p}OS`] = os;
    out[`${p}ARCH`] = arch;
    out[`${p}VARIANT`] = variant;
  }
  return out;
}

/** Where lines start, as offsets (`\r\n`, `\r` and `\n` end a line, as in dockerfile-ast). */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 13 && text.charCodeAt(i + 1) === 10) continue;
    if (c === 10 || c === 13) starts.push(i + 1);
  }
  return starts;
}

/** A variable reference the substitution could not resolve. */
class Unset extends Error {
  constructor(readonly variable: string, readonly offset: number, readonly required: string | null) {
    super(variable);
  }
}

/**
 * Substitute `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME-word}`, `${NAME:+word}`, `${NAME+word}`,
 * `${NAME:?msg}` and `${NAME?msg}` from `vars` (undefined or null: unset), as buildkit's shell lexer
 * does; the escape character before `$` makes it literal. `strict`: an unset variable without a
 * default throws {@link Unset}; otherwise it is left as written.
 */
export function substitute(word: string, vars: Readonly<Record<string, string | null | undefined>>, escape = '\\', strict = true): string {
  let out = '';
  for (let i = 0; i < word.length; i++) {
    const c = word[i]!;
    if (c === escape && word[i + 1] === '$') {
      out += '$';
      i++;
      continue;
    }
    if (c !== '$') {
      out += c;
      continue;
    }
    const start = i;
    if (word[i + 1] === '{') {
      let close = -1;
      for (let j = i + 2, depth = 1; j < word.length; j++) {
        if (word[j] === '$' && word[j + 1] === '{') {
          depth++;
          j++;
        } else if (word[j] === '}' && --depth === 0) {
          close = j;
          break;
        }
      }
      if (close < 0) {
        out += word.slice(i);
        break;
      }
      const body = word.slice(i + 2, close);
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])(.*))?$/s.exec(body);
      if (!m) {
        out += word.slice(i, close + 1);
        i = close;
        continue;
      }
      const [, name, op, arg = ''] = m as unknown as [string, string, string | undefined, string | undefined];
      const v = vars[name!];
      const set = v !== undefined && v !== null;
      const nonEmpty = set && v !== '';
      const alt = substitute(arg, vars, escape, strict);
      if (op === ':-') out += nonEmpty ? v : alt;
      else if (op === '-') out += set ? v : alt;
      else if (op === ':+') out += nonEmpty ? alt : '';
      else if (op === '+') out += set ? alt : '';
      else if (op === ':?' || op === '?') {
        if (op === ':?' ? !nonEmpty : !set) throw new Unset(name!, start, arg || null);
        out += v;
      } else if (set) out += v;
      else if (strict) throw new Unset(name!, start, null);
      else out += word.slice(i, close + 1);
      i = close;
      continue;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(word.slice(i + 1));
    if (!m) {
      out += c;
      continue;
    }
    const v = vars[m[0]];
    if (v !== undefined && v !== null) out += v;
    else if (strict) throw new Unset(m[0], start, null);
    else out += word.slice(i, i + 1 + m[0].length);
    i += m[0].length;
  }
  return out;
}

/** The text being parsed and errors naming places in it. */
class Source {
  readonly starts: number[];
  constructor(readonly file: string, readonly text: string) {
    this.starts = lineStarts(text);
  }
  offset(p: { line: number; character: number }): number {
    return (this.starts[p.line] ?? this.text.length) + p.character;
  }
  /** Offsets from the start of `first`'s line through the line break after `last`'s line. */
  lines(first: number, last: number): Span {
    return { start: this.starts[first] ?? this.text.length, end: this.starts[last + 1] ?? this.text.length };
  }
  fail(p: { line: number; character: number }, what: string, cause?: unknown): never {
    throw new DockerfileError(`${this.file}:${p.line + 1}:${p.character + 1}: ${what}`, this.file, p.line + 1, cause === undefined ? undefined : { cause });
  }
}

/**
 * Parse a Dockerfile's text (`file` names it in messages and in the result). Throws
 * {@link DockerfileError} for what Docker would refuse, for a FROM that names an ARG with no value,
 * and for a FROM whose image is not a valid reference.
 */
export function parseDockerfile(text: string, file: string, opts: ParseOptions = {}): ParsedDockerfile {
  const src = new Source(file, text);
  const nul = text.indexOf('\0');
  if (nul >= 0) {
    const line = src.starts.filter((s) => s <= nul).length - 1;
    src.fail({ line, character: nul - src.starts[line]! }, 'NUL byte: not a Dockerfile (a Dockerfile is text)');
  }
  const body = text.startsWith('\uFEFF') ? ` ${text.slice(1)}` : text; // same offsets, no BOM for the parser
  const df = DockerfileParser.parse(body);
  const escape = df.getEscapeCharacter();
  const directives: Record<string, string> = {};
  for (const d of df.getDirectives()) directives[d.getName().toLowerCase()] = d.getValue();

  const buildArgs = opts.buildArgs ?? {};
  const auto = platformArgs(opts.platform ?? 'linux/amd64');
  const globalArgs: Record<string, string | null> = {};
  /** Where each global ARG was declared (for "declared without a value" messages). */
  const declaredAt = new Map<string, number>();
  const argDecls: ArgDecl[] = [];
  const stages: DockerfileStage[] = [];
  const aliases = new Map<string, number>();
  let stageArgs: Record<string, string | null> = {};

  const instructions = df.getInstructions();
  if (!instructions.some((i) => i.getKeyword() === 'FROM')) {
    src.fail(instructions[0]?.getRange().start ?? { line: 0, character: 0 }, 'no FROM instruction: not a Dockerfile (a build needs at least one stage)');
  }
  for (const inst of instructions) {
    const kw = inst.getKeyword();
    const at = inst.getInstructionRange().start;
    if (!KEYWORDS.has(kw)) src.fail(at, `unknown instruction ${JSON.stringify(inst.getInstruction())}`);
    if (stages.length === 0 && kw !== 'ARG' && kw !== 'FROM') {
      src.fail(at, `${kw} before the first FROM: only ARG may come before it (no build stage in current context)`);
    }
    if (kw === 'RUN' || kw === 'COPY' || kw === 'ADD') {
      // A here-document that never ends swallows the rest of the file: buildkit refuses it, so do we.
      const docs = (inst as unknown as { getHeredocs?: () => Heredoc[] }).getHeredocs?.() ?? [];
      for (const h of docs) if (h.getDelimiterRange() === null) src.fail(h.getStartRange().start, `here-document <<${h.getName()} is never ended (no line "${h.getName()}" after it)`);
    }
    if (kw === 'ARG') {
      for (const prop of argProperties(src, inst as Arg)) {
        const name = prop.name;
        if (stages.length === 0) {
          const given = buildArgs[name];
          const value = given ?? (prop.value === null ? null : substitute(prop.value, { ...auto, ...globalArgs }, escape, false));
          globalArgs[name] = value;
          declaredAt.set(name, at.line + 1);
          const vr = prop.valueRange;
          argDecls.push({ name, value: prop.value, valueSpan: vr ? { start: src.offset(vr.start), end: src.offset(vr.end) } : null, line: at.line + 1, overridden: given !== undefined });
        } else {
          // In a stage, `ARG NAME` brings in the global value (or the automatic one: TARGETARCH, ...);
          // a default or a --build-arg wins. Only the stage's own ARGs are in scope for a default.
          const given = buildArgs[name];
          stageArgs[name] = given ?? (prop.value === null ? (globalArgs[name] ?? auto[name] ?? null) : substitute(prop.value, stageArgs, escape, false));
        }
      }
      continue;
    }
    if (kw === 'FROM') {
      const from = parseFrom(src, inst as From, escape, { ...auto, ...globalArgs }, declaredAt, aliases, stages.length);
      const end = inst.getRange().end.line;
      stages.push({ index: stages.length, from, labels: [], copyFrom: [], fromInstruction: src.lines(inst.getRange().start.line, end) });
      if (from.alias !== null) {
        if (aliases.has(from.alias)) src.fail(at, `duplicate stage name ${JSON.stringify(from.alias)} (also stage ${aliases.get(from.alias)! + 1})`);
        aliases.set(from.alias, stages.length - 1);
      }
      stageArgs = {};
      continue;
    }
    if (kw === 'COPY') {
      // Copy.getFromFlag() finds --from only when it is the first flag: look through them all.
      const flag = (inst as Copy).getFlags().find((f) => f.getName() === 'from');
      const v = flag?.getValue();
      const r = flag?.getValueRange();
      if (flag && v && r) {
        const image = substitute(v, stageArgs, escape, false);
        const known = !image.includes('$') && !aliases.has(image.toLowerCase()) && !/^\d+$/.test(image);
        if (known) {
          let reference: DockerReference;
          try {
            reference = parseDockerReference(image);
          } catch (e) {
            if (e instanceof ImageReferenceError) src.fail(r.start, `COPY --from=${v}: not a build stage of this file, nor an image reference: ${e.message}`, e);
            throw e;
          }
          stages[stages.length - 1]!.copyFrom.push({
            place: { line: r.start.line + 1, column: r.start.character + 1 }, raw: v, image, usesArgs: image !== v,
            span: { start: src.offset(r.start), end: src.offset(r.end) }, platform: null, alias: null, stage: null, scratch: false, reference,
          });
        }
      }
    }
    if (kw === 'LABEL') {
      const stage = stages[stages.length - 1]!;
      const props = (inst as Label).getProperties();
      if (props.length === 0) src.fail(at, 'LABEL needs at least one key=value');
      const span = src.lines(inst.getRange().start.line, inst.getRange().end.line);
      for (const p of props) {
        const r = p.getRange();
        const value = p.getValue() ?? '';
        stage.labels.push({
          // Global ARGs are not in scope inside a stage unless it declares them again (stageArgs).
          key: substitute(p.getName(), stageArgs, escape, false),
          value: substitute(value, stageArgs, escape, false),
          line: r.start.line + 1,
          span: { start: src.offset(r.start), end: src.offset(r.end) },
          instruction: span,
          siblings: props.length,
        });
      }
    }
  }
  const eol = /\r\n/.test(text) ? '\r\n' : '\n';
  return { file, text, eol, escape, directives, globalArgs, argDecls, stages };
}

/** The NAME[=value] pairs of an ARG instruction (one or several; quoted values unquoted). */
function argProperties(src: Source, inst: Arg): { name: string; value: string | null; valueRange: { start: { line: number; character: number }; end: { line: number; character: number } } | null }[] {
  const props = inst.getProperties();
  if (props.length === 0) src.fail(inst.getInstructionRange().start, 'ARG needs a name');
  return props.map((p) => {
    const name = p.getName();
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) src.fail(p.getRange().start, `ARG name ${JSON.stringify(name)} is not a valid name`);
    const set = p.getAssignmentOperator() !== null;
    return { name, value: set ? (p.getValue() ?? '') : null, valueRange: set ? p.getValueRange() : null };
  });
}

function parseFrom(
  src: Source,
  inst: From,
  escape: string,
  vars: Record<string, string | null>,
  declaredAt: ReadonlyMap<string, number>,
  aliases: ReadonlyMap<string, number>,
  index: number,
): DockerfileFrom {
  const at = inst.getInstructionRange().start;
  for (const flag of inst.getFlags()) {
    if (flag.getName() !== 'platform') src.fail(flag.getRange().start, `FROM --${flag.getName()}: unknown flag (FROM takes --platform)`);
  }
  const args = inst.getArguments();
  const imageArg = args[0];
  if (!imageArg) src.fail(at, 'FROM needs an image (FROM name[:tag][@digest] [AS stage])');
  let alias: string | null = null;
  if (args.length > 1) {
    if (args.length !== 3 || args[1]!.getValue().toLowerCase() !== 'as') {
      src.fail(args[1]!.getRange().start, 'FROM takes one image, then optionally AS name');
    }
    alias = args[2]!.getValue().toLowerCase();
    if (!/^[a-z][a-z0-9_.-]*$/.test(alias)) src.fail(args[2]!.getRange().start, `invalid stage name ${JSON.stringify(args[2]!.getValue())}`);
  }
  const raw = imageArg.getValue();
  const r = imageArg.getRange();
  const place = { line: r.start.line + 1, column: r.start.character + 1 };
  let image: string;
  try {
    image = substitute(raw, vars, escape, true);
  } catch (e) {
    if (!(e instanceof Unset)) throw e;
    const pos = { line: r.start.line, character: r.start.character + e.offset };
    if (e.required !== null) src.fail(pos, `FROM: ARG ${e.variable} is required: ${e.required}`);
    const where = declaredAt.get(e.variable);
    src.fail(
      pos,
      where === undefined
        ? `FROM uses $${e.variable}, which no ARG before the first FROM declares (declare ARG ${e.variable}=DEFAULT before it, or pass --build-arg ${e.variable}=VALUE)`
        : `FROM uses ARG ${e.variable} (line ${where}), which has no value (give it a default, ARG ${e.variable}=DEFAULT, or pass --build-arg ${e.variable}=VALUE)`,
    );
  }
  const flag = inst.getPlatformFlag();
  const platform = flag ? substitute(flag.getValue() ?? '', vars, escape, false) : null;
  const base = { place, raw, image, usesArgs: image !== raw, span: { start: src.offset(r.start), end: src.offset(r.end) }, platform, alias };
  if (image === '') src.fail(r.start, `FROM ${raw}: the image is empty once its ARGs are substituted`);
  const stage = aliases.get(image.toLowerCase());
  if (stage !== undefined) return { ...base, stage, scratch: false, reference: null };
  if (image.toLowerCase() === 'scratch') return { ...base, stage: null, scratch: true, reference: null };
  if (/^\d+$/.test(image) && Number(image) < index) return { ...base, stage: Number(image), scratch: false, reference: null };
  try {
    return { ...base, stage: null, scratch: false, reference: parseDockerReference(image) };
  } catch (e) {
    if (e instanceof ImageReferenceError) src.fail(r.start, `FROM ${raw}${image !== raw ? ` (${image})` : ''}: ${e.message}`, e);
    throw e;
  }
}

/**
 * The labels the built image gets from the Dockerfile, in order: those of the stages the last one
 * builds on (`FROM build` inherits build's labels), then its own. A later label of a key wins.
 */
export function chainLabels(df: ParsedDockerfile): DockerfileLabel[] {
  const chain: DockerfileStage[] = [];
  let s = df.stages[df.stages.length - 1];
  while (s && !chain.includes(s)) {
    chain.unshift(s);
    s = s.from.stage !== null ? df.stages[s.from.stage] : undefined;
  }
  return chain.flatMap((c) => c.labels);
}

/** Labels of the built image, the last value of each key winning (see {@link chainLabels}). */
export function finalLabels(df: ParsedDockerfile): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of chainLabels(df)) out[l.key] = l.value;
  return out;
}

/** The stage whose FROM names the built image's base: the last stage, or the earlier stage it builds on (`FROM build`), followed back. */
export function baseOfFinal(df: ParsedDockerfile): DockerfileStage | null {
  let s = df.stages[df.stages.length - 1];
  const seen = new Set<number>();
  while (s && s.from.stage !== null && !seen.has(s.index)) {
    seen.add(s.index);
    s = df.stages[s.from.stage];
  }
  return s ?? null;
}

/** Parse `NAME=VALUE` (a --build-arg). */
export function parseBuildArg(s: string): [string, string] {
  const eq = s.indexOf('=');
  const name = eq < 0 ? s : s.slice(0, eq);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new DockerfileError(`--build-arg ${JSON.stringify(s)}: expected NAME=VALUE`, '--build-arg', null);
  if (eq < 0) {
    const env = process.env[name];
    if (env === undefined) throw new DockerfileError(`--build-arg ${name}: no =VALUE and no ${name} in the environment`, '--build-arg', null);
    return [name, env];
  }
  return [name, s.slice(eq + 1)];
}
