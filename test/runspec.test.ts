/**
 * Run-specs (README "Run-specs"): parseRunSpec over every instruction and form, the errors with
 * their FILE:LINE:COL, the JSON against schemas/runspec-1.0.schema.json, readRunSpec, and
 * `containerspec runspec check` as a process.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import AjvModule from 'ajv';
import { beforeAll, describe, expect, it } from 'vitest';
import { FormatError, NotFoundError, UsageError } from '../src/errors/index.js';
import { parseRunSpec, readRunSpec } from '../src/runspec/parse.js';
import type { RunSpec } from '../src/runspec/types.js';
import { REPO, buildCli, expectOneLineError, runCli, show } from './helpers/cli.js';

const D = `sha256:${'a'.repeat(64)}`;
const FROM = `FROM ghcr.io/lab/lammps:2024@${D}`;
const EXAMPLE = join(REPO, 'examples/runspec/lammps.runspec');

/** A run-spec from lines. */
const text = (...lines: string[]) => `${lines.join('\n')}\n`;
/** FROM, the given lines, and a RUN (unless one is given). */
const withFrom = (...lines: string[]) => text(FROM, ...lines, ...(lines.some((l) => /^RUN/i.test(l)) ? [] : ['RUN true']));
const parse = (t: string) => parseRunSpec(t, 'job.runspec');

/** The message parseRunSpec throws, checked to be a one-line UsageError. */
function errorOf(t: string): string {
  let caught: unknown;
  try {
    parse(t);
  } catch (e) {
    caught = e;
  }
  expect(caught, `no error for:\n${t}`).toBeInstanceOf(UsageError);
  const message = (caught as Error).message;
  expect(message).not.toMatch(/[\r\n\u2028\u2029]/);
  return message;
}

// ajv is CommonJS: under ESM its class is the default export's `default`.
type Validate = ((d: unknown) => boolean) & { errors?: { instancePath: string; message?: string }[] | null };
const Ajv = ((AjvModule as unknown as { default?: unknown }).default ?? AjvModule) as unknown as new (o: object) => { compile(s: object): Validate };
const validate = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(join(REPO, 'schemas/runspec-1.0.schema.json'), 'utf8')) as object);
function schemaErrors(doc: unknown): string[] {
  return validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`);
}

describe('parseRunSpec: instructions and forms', () => {
  it('reads every instruction into the parsed form, with 1-based lines', () => {
    const spec = parse(
      text(
        '# a comment before FROM',
        '',
        FROM,
        'ENV OMP_NUM_THREADS=4 MSG="hello world"',
        'UNSETENV SLURM_EXPORT_ENV LD_PRELOAD',
        'BIND /scratch /data:/in:ro',
        'WORKDIR /work',
        'RUN make -j 4',
        'RUN ["lmp", "-in", "in.lj"]',
      ),
    );
    expect(spec).toEqual<RunSpec>({
      schemaVersion: '1.0',
      file: 'job.runspec',
      from: { reference: `ghcr.io/lab/lammps:2024@${D}`, name: 'ghcr.io/lab/lammps', tag: '2024', digest: D, line: 3 },
      env: [
        { name: 'OMP_NUM_THREADS', value: '4', line: 4 },
        { name: 'MSG', value: 'hello world', line: 4 },
      ],
      unsetenv: [
        { name: 'SLURM_EXPORT_ENV', line: 5 },
        { name: 'LD_PRELOAD', line: 5 },
      ],
      binds: [
        { source: '/scratch', target: '/scratch', readOnly: false, line: 6 },
        { source: '/data', target: '/in', readOnly: true, line: 6 },
      ],
      workdir: { path: '/work', line: 7 },
      run: [
        { argv: ['/bin/sh', '-c', 'make -j 4'], form: 'shell', line: 8 },
        { argv: ['lmp', '-in', 'in.lj'], form: 'exec', line: 9 },
      ],
    });
  });

  it('takes instructions in any order after FROM, in any case, and keeps several RUN in order', () => {
    const spec = parse(text(`from ubuntu@${D}`, 'run first', 'workdir /w', 'Env A=1', 'bind /x', 'unsetenv B', 'RUN second', 'Run ["third"]'));
    expect(spec.run.map((r) => r.argv.at(-1))).toEqual(['first', 'second', 'third']);
    expect(spec.workdir).toEqual({ path: '/w', line: 3 });
    expect(spec.env).toEqual([{ name: 'A', value: '1', line: 4 }]);
    expect(spec.binds).toEqual([{ source: '/x', target: '/x', readOnly: false, line: 5 }]);
    expect(spec.unsetenv).toEqual([{ name: 'B', line: 6 }]);
    expect(spec.workdir === null).toBe(false);
    expect(parse(text(FROM, 'RUN x')).workdir).toBeNull();
  });

  it('FROM: any registry reference with a digest, normalised by the reference grammar', () => {
    expect(parse(text(`FROM ubuntu@${D}`, 'RUN x')).from).toEqual({ reference: `ubuntu@${D}`, name: 'docker.io/library/ubuntu', tag: null, digest: D, line: 1 });
    expect(parse(text(`FROM 127.0.0.1:5000/lab/app:v1.2@${D}`, 'RUN x')).from).toMatchObject({ name: '127.0.0.1:5000/lab/app', tag: 'v1.2', digest: D });
    const sha512 = `sha512:${'b'.repeat(128)}`;
    expect(parse(text(`FROM lab/app@${sha512}`, 'RUN x')).from).toMatchObject({ name: 'docker.io/lab/app', tag: null, digest: sha512 });
  });

  it('RUN shell form is /bin/sh -c with the text as written; exec form is the JSON array, escapes decoded', () => {
    const spec = parse(withFrom(`RUN echo "a  b" 'c' $HOME > out.txt`, 'RUN ["printf", "%s\\n", "\\u00e9 \\"q\\" \\\\ \\/"]'));
    expect(spec.run[0]).toMatchObject({ argv: ['/bin/sh', '-c', `echo "a  b" 'c' $HOME > out.txt`], form: 'shell' });
    expect(spec.run[1]).toMatchObject({ argv: ['printf', '%s\n', 'é "q" \\ /'], form: 'exec' });
    // Blanks inside and around the array do not matter.
    expect(parse(withFrom('RUN   [ "a" ,"b"   ]   ')).run[0]?.argv).toEqual(['a', 'b']);
  });

  it('line continuations: the escape is dropped, comment and blank lines inside are skipped, as Docker does', () => {
    const spec = parse(
      withFrom(
        'RUN make -j 4 \\',
        '  # this comment is not part of the command',
        '',
        '  && make install',
        'RUN ["lmp", \\',
        '     "-in", "in.lj"]',
        'ENV A=1 \\',
        '# a comment',
        '    B="x \\',
        'y"',
        'BIND /a \\',
        '     /b:/c',
      ),
    );
    expect(spec.run[0]?.argv[2]).toBe('make -j 4   && make install');
    expect(spec.run[1]?.argv).toEqual(['lmp', '-in', 'in.lj']);
    expect(spec.env).toEqual([
      { name: 'A', value: '1', line: 8 },
      { name: 'B', value: 'x y', line: 8 },
    ]);
    expect(spec.binds.map((b) => b.target)).toEqual(['/a', '/c']);
    expect(parse(text(FROM, 'RUN true \\')).run[0]?.argv[2]).toBe('true');
  });

  it('# escape=` makes the backtick the escape character; a backslash is then an ordinary character', () => {
    const spec = parse(text('# escape=`', FROM, 'ENV P=C:\\temp Q="a`"b"', 'RUN echo a\\b `', '  c'));
    expect(spec.env).toEqual([
      { name: 'P', value: 'C:\\temp', line: 3 },
      { name: 'Q', value: 'a"b', line: 3 },
    ]);
    expect(spec.run[0]?.argv[2]).toBe('echo a\\b   c');
    // After a comment it is only a comment: Docker reads directives at the very top only.
    expect(parse(text('# note', '# escape=`', FROM, 'RUN a \\', ' b')).run[0]?.argv[2]).toBe('a  b');
    // Other directives are comments here.
    expect(parse(text('# syntax=docker/dockerfile:1', FROM, 'RUN x')).run).toHaveLength(1);
  });

  it('ENV: NAME=VALUE pairs with Docker quoting, and the legacy ENV NAME VALUE', () => {
    const env = (line: string) => parse(withFrom(line)).env.map((e) => [e.name, e.value]);
    expect(env('ENV A=1 B="v 2" C=\'s q\' D=a\\ b E=x"y z"w')).toEqual([
      ['A', '1'],
      ['B', 'v 2'],
      ['C', 's q'],
      ['D', 'a b'],
      ['E', 'xy zw'],
    ]);
    // Inside "...", the escape escapes only ", $ and itself; '...' is literal; $ is never expanded.
    expect(env('ENV F="a\\$b\\q\\\\" G=\'a\\b\' H=$HOME I=${X:-y} J= K=""')).toEqual([
      ['F', 'a$b\\q\\'],
      ['G', 'a\\b'],
      ['H', '$HOME'],
      ['I', '${X:-y}'],
      ['J', ''],
      ['K', ''],
    ]);
    expect(env('ENV PATH /opt/bin:$PATH')).toEqual([['PATH', '/opt/bin:$PATH']]);
    expect(env('ENV MSG hello,  "big" world')).toEqual([['MSG', 'hello,  big world']]);
    // A later ENV of the same name is kept after the first (it wins when the run starts).
    expect(env('ENV A=1 A=2')).toEqual([
      ['A', '1'],
      ['A', '2'],
    ]);
  });

  it('BIND: SRC, SRC:DST, SRC:ro, SRC:DST:ro and :rw, several per line', () => {
    const spec = parse(withFrom('BIND /a /b:/c /d:ro /e:/f:ro /g:/h:rw'));
    expect(spec.binds.map(({ source, target, readOnly }) => [source, target, readOnly])).toEqual([
      ['/a', '/a', false],
      ['/b', '/c', false],
      ['/d', '/d', true],
      ['/e', '/f', true],
      ['/g', '/h', false],
    ]);
  });

  it('a byte order mark and CRLF line ends are accepted', () => {
    const spec = parse(`\uFEFF${FROM}\r\nENV A=1 \\\r\n  B=2\r\nRUN x\r\n`);
    expect(spec.env.map((e) => e.value)).toEqual(['1', '2']);
    expect(spec.run[0]).toEqual({ argv: ['/bin/sh', '-c', 'x'], form: 'shell', line: 4 });
  });

  it('parses the example in examples/runspec/', () => {
    const spec = parseRunSpec(readFileSync(EXAMPLE, 'utf8'), 'lammps.runspec');
    expect(spec.from).toMatchObject({ name: 'ghcr.io/lab/lammps', tag: '2Aug2023' });
    expect(spec.env.map((e) => e.name)).toEqual(['OMP_NUM_THREADS', 'OMPI_MCA_btl', 'LAMMPS_POTENTIALS']);
    expect(spec.env[1]?.value).toBe('^openib');
    expect(spec.binds).toHaveLength(2);
    expect(spec.run.map((r) => r.form)).toEqual(['exec', 'shell']);
    expect(schemaErrors(spec)).toEqual([]);
  });

  it("parses the README's example, which is the example file without its comments", () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    const block = /## Run-specs[^]*?```dockerfile\n([^]*?)```/.exec(readme)?.[1];
    expect(block, 'a dockerfile block in the README section "Run-specs"').toBeDefined();
    const shown = parse(block ?? '');
    const file = parseRunSpec(readFileSync(EXAMPLE, 'utf8'), 'job.runspec');
    const strip = (s: RunSpec) => JSON.stringify(s, (k, v: unknown) => (k === 'line' ? undefined : v));
    expect(strip(shown)).toBe(strip({ ...file, run: file.run.map((r) => (r.form === 'shell' ? { ...r, argv: ['/bin/sh', '-c', (r.argv[2] ?? '').replace(/ +/g, ' ')] } : r)) }));
  });
});

describe('parseRunSpec: errors name FILE:LINE:COL (1-based) and what is wrong', () => {
  it('an empty file, or one with only comments', () => {
    expect(errorOf('')).toBe('job.runspec:1:1: empty run-spec: the first instruction must be FROM name@sha256:<64 hex>');
    expect(errorOf(text('# nothing', '', '# here'))).toMatch(/^job\.runspec:1:1: empty run-spec/);
  });

  it('FROM without a digest: a tag alone, or a bare name', () => {
    expect(errorOf(text('# c', 'FROM ubuntu:22.04', 'RUN x'))).toBe(
      'job.runspec:2:6: provenance needs the image digest: FROM name@sha256:<64 hex> ("ubuntu:22.04" has a tag, which can move, and no digest)',
    );
    expect(errorOf(text('FROM ubuntu', 'RUN x'))).toBe('job.runspec:1:6: provenance needs the image digest: FROM name@sha256:<64 hex> ("ubuntu" has neither tag nor digest)');
  });

  it('FROM with a reference the reference grammar refuses gives its message', () => {
    expect(errorOf(text('FROM  ubuntu@sha256:abc', 'RUN x'))).toBe(
      'job.runspec:1:7: image reference "ubuntu@sha256:abc": invalid reference format (the digest has 3 hex digits; sha256 needs 64)',
    );
    expect(errorOf(text(`FROM Lab/App@${D}`, 'RUN x'))).toMatch(/^job\.runspec:1:6: image reference .*must be lowercase/);
  });

  it('FROM --platform, FROM ... AS, FROM with no image, and a second FROM', () => {
    expect(errorOf(text(`FROM --platform=linux/amd64 ubuntu@${D}`, 'RUN x'))).toMatch(/^job\.runspec:1:6: FROM --platform is not supported/);
    expect(errorOf(text(`FROM ubuntu@${D} AS build`, 'RUN x'))).toBe(
      `job.runspec:1:${'FROM ubuntu@'.length + D.length + 2}: FROM ... AS NAME is not supported: a run-spec has one image and no build stages`,
    );
    expect(errorOf(text(`FROM ubuntu@${D} extra`, 'RUN x'))).toMatch(/^job\.runspec:1:\d+: unexpected "extra" after the image reference$/);
    expect(errorOf(text('FROM', 'RUN x'))).toMatch(/^job\.runspec:1:1: FROM needs the image/);
    expect(errorOf(text(FROM, 'RUN x', '', `  FROM ubuntu@${D}`))).toBe('job.runspec:4:3: a second FROM (the first is on line 1): a run-spec names one image');
  });

  it('an instruction before FROM', () => {
    expect(errorOf(text('# comment', 'ENV A=1', FROM, 'RUN x'))).toBe('job.runspec:2:1: ENV before FROM: the first instruction of a run-spec is FROM name@sha256:<64 hex>');
    expect(errorOf(text('RUN x', FROM))).toMatch(/^job\.runspec:1:1: RUN before FROM/);
  });

  it('unknown instructions and Dockerfile build instructions', () => {
    expect(errorOf(withFrom('  FOO bar'))).toBe('job.runspec:2:3: unknown instruction "FOO" (a run-spec has FROM, ENV, UNSETENV, BIND, WORKDIR and RUN)');
    expect(errorOf(withFrom('CMD ["x"]'))).toBe('job.runspec:2:1: CMD is not a run-spec instruction: what runs is RUN (a run-spec has FROM, ENV, UNSETENV, BIND, WORKDIR and RUN)');
    expect(errorOf(withFrom('ENTRYPOINT ["x"]'))).toMatch(/^job\.runspec:2:1: ENTRYPOINT is not a run-spec instruction/);
    expect(errorOf(withFrom('copy a /b'))).toBe('job.runspec:2:1: COPY is a Dockerfile build instruction, not a run-spec one (a run-spec has FROM, ENV, UNSETENV, BIND, WORKDIR and RUN)');
    // A typo of FROM is an unknown instruction, not "before FROM".
    expect(errorOf(text(`FORM ubuntu@${D}`))).toMatch(/^job\.runspec:1:1: unknown instruction "FORM"/);
  });

  it('bad BIND arguments, with the column of the bad part', () => {
    const cases: [string, string][] = [
      ['BIND', 'job.runspec:2:1: BIND needs SRC[:DST][:ro|:rw] (absolute paths)'],
      ['BIND rel:/b', 'job.runspec:2:6: BIND "rel:/b": source "rel" is not an absolute host path (SRC[:DST][:ro|:rw])'],
      ['BIND /ok :/b', 'job.runspec:2:10: BIND ":/b": the source path is empty (SRC[:DST][:ro|:rw])'],
      ['BIND /a:rel', 'job.runspec:2:9: BIND "/a:rel": target "rel" is not an absolute container path (nor ro or rw) (SRC[:DST][:ro|:rw])'],
      ['BIND /a:/b:rel', 'job.runspec:2:12: BIND "/a:/b:rel": the mode is ro or rw, not "rel"'],
      ['BIND /a:', 'job.runspec:2:9: BIND "/a:": the target path is empty (SRC[:DST][:ro|:rw])'],
      ['BIND /a:/b:ro:x', 'job.runspec:2:14: BIND "/a:/b:ro:x": too many \':\' (SRC[:DST][:ro|:rw]; paths holding \':\' are not supported)'],
      ['BIND /a:/b:', 'job.runspec:2:12: BIND "/a:/b:": the mode is ro or rw, not ""'],
      ['BIND "/my data":/d', "job.runspec:2:6: BIND: quotes and escapes are not supported (paths with blanks or ':' are not supported)"],
      ['BIND /a /my\\ data:/d', "job.runspec:2:12: BIND: quotes and escapes are not supported (paths with blanks or ':' are not supported)"],
      ["BIND /a:/b:'ro'", "job.runspec:2:12: BIND: quotes and escapes are not supported (paths with blanks or ':' are not supported)"],
      ['BIND /a:/t /b:/t/', 'job.runspec:2:15: BIND target /t/ is already bound on line 2'],
    ];
    for (const [line, message] of cases) expect(errorOf(withFrom(line)), line).toBe(message);
    // On a continuation line, the column is on that line.
    expect(errorOf(withFrom('BIND /a \\', '   /b:c'))).toMatch(/^job\.runspec:3:7: BIND "\/b:c": target "c"/);
    // A second BIND of the same target, on another line.
    expect(errorOf(withFrom('BIND /a:/t', 'BIND /b:/t'))).toBe('job.runspec:3:9: BIND target /t is already bound on line 2');
  });

  it('bad ENV: names, missing values, unclosed quotes', () => {
    const cases: [string, string][] = [
      ['ENV', 'job.runspec:2:1: ENV needs NAME=VALUE'],
      ['ENV 1A=2', 'job.runspec:2:5: ENV "1A": not a variable name (letters, digits and _, not starting with a digit)'],
      ['ENV A=1 B-C=2', 'job.runspec:2:9: ENV "B-C": not a variable name (letters, digits and _, not starting with a digit)'],
      ['ENV =x', 'job.runspec:2:5: ENV "": not a variable name (letters, digits and _, not starting with a digit)'],
      ['ENV A=1 B', 'job.runspec:2:9: ENV B has no value: write B=VALUE (one form per ENV: NAME=VALUE ... or NAME VALUE)'],
      ['ENV A', 'job.runspec:2:5: ENV A has no value: write A=VALUE'],
      ['ENV A="x y', 'job.runspec:2:7: ENV A: the quote " is never closed'],
      ["ENV A=1 B=it's", "job.runspec:2:13: ENV B: the quote ' is never closed"],
      ['ENV é=1', 'job.runspec:2:5: ENV "é": not a variable name (letters, digits and _, not starting with a digit)'],
      ['ENV A=é B-=1', 'job.runspec:2:9: ENV "B-": not a variable name (letters, digits and _, not starting with a digit)'],
    ];
    for (const [line, message] of cases) expect(errorOf(withFrom(line)), line).toBe(message);
  });

  it('bad UNSETENV: names, globs, none, and a name both set and unset', () => {
    expect(errorOf(withFrom('UNSETENV'))).toBe('job.runspec:2:1: UNSETENV needs one or more variable names');
    expect(errorOf(withFrom('UNSETENV A\\B'))).toBe('job.runspec:2:11: UNSETENV: quotes and escapes are not supported (write the names as they are)');
    expect(errorOf(withFrom('UNSETENV OK A-B'))).toBe('job.runspec:2:13: UNSETENV "A-B": not a variable name (letters, digits and _, not starting with a digit)');
    expect(errorOf(withFrom('UNSETENV SLURM_*'))).toBe(
      'job.runspec:2:10: UNSETENV "SLURM_*": not a variable name (letters, digits and _, not starting with a digit; glob patterns are not supported)',
    );
    expect(errorOf(withFrom('ENV A=1', 'UNSETENV B A'))).toBe('job.runspec:3:12: A is set on line 2 and unset here: a variable is either set (ENV) or unset (UNSETENV)');
    expect(errorOf(withFrom('UNSETENV A', 'ENV B=1 A=2'))).toBe('job.runspec:3:9: A is unset on line 2 and set here: a variable is either set (ENV) or unset (UNSETENV)');
  });

  it('RUN exec form that is not a JSON array of strings, with the column of the bad element', () => {
    const hint = '; a RUN starting with "[" is the exec form, a JSON array of strings (in the shell form, write test ... rather than [ ... ])';
    const cases: [string, string][] = [
      ['RUN ["a", 1]', 'job.runspec:2:11: RUN exec form: element 2 is 1, not a string'],
      ['RUN ["a", true]', 'job.runspec:2:11: RUN exec form: element 2 is true, not a string'],
      ['RUN ["a", ["b"]]', 'job.runspec:2:11: RUN exec form: element 2 is an array, not a string'],
      ['RUN [{"a": 1}]', 'job.runspec:2:6: RUN exec form: element 1 is an object, not a string'],
      ["RUN ['a']", 'job.runspec:2:6: RUN exec form: element 1 is "\'a\'", not a string'],
      ['RUN [ -f /x ] && echo yes', 'job.runspec:2:7: RUN exec form: element 1 is "-f", not a string'],
      ['RUN ["a",]', 'job.runspec:2:10: RUN exec form: element 2 is missing'],
      ['RUN ["a" "b"]', 'job.runspec:2:10: RUN exec form: expected "," or "]", not "\\""'],
      ['RUN ["a"] && b', 'job.runspec:2:11: RUN exec form: "&& b" after the closing "]"'],
      ['RUN ["a"', 'job.runspec:2:9: RUN exec form: the array is not closed with "]"'],
      ['RUN ["a', 'job.runspec:2:6: RUN exec form: a string is not closed with \'"\''],
      ['RUN ["a\\q"]', 'job.runspec:2:8: RUN exec form: bad escape "\\\\q" in a JSON string'],
      ['RUN ["é", 2]', 'job.runspec:2:11: RUN exec form: element 2 is 2, not a string'],
    ];
    for (const [line, message] of cases) expect(errorOf(withFrom(line)), line).toBe(message + hint);
    // Across a continuation, the column is on the line of the bad element.
    expect(errorOf(withFrom('RUN ["a", \\', '     "b", 3]'))).toBe(`job.runspec:3:11: RUN exec form: element 3 is 3, not a string${hint}`);
    expect(errorOf(withFrom('RUN []'))).toBe('job.runspec:2:5: RUN [] runs nothing: the array needs at least the program');
    expect(errorOf(withFrom('RUN ["", "x"]'))).toBe('job.runspec:2:6: RUN exec form: the program (the first element) is empty');
  });

  it('RUN with no command, with build flags, or with a heredoc', () => {
    expect(errorOf(withFrom('RUN'))).toBe('job.runspec:2:1: RUN needs a command: RUN ["program", "arg"] or RUN command line');
    expect(errorOf(withFrom('RUN --mount=type=cache,target=/c make'))).toBe("job.runspec:2:5: RUN --mount is a build option; a run-spec's RUN takes none");
    expect(errorOf(withFrom('RUN <<EOF', 'echo hi', 'EOF'))).toMatch(/^job\.runspec:2:1: heredocs \(RUN <<EOF\) are not supported/);
  });

  it('no RUN at all', () => {
    expect(errorOf(text('# c', FROM, 'ENV A=1'))).toBe('job.runspec:2:1: no RUN: a run-spec runs at least one command (RUN ["program", "arg"] or RUN command line)');
  });

  it('bad WORKDIR: relative, two paths, two WORKDIRs, quoted', () => {
    expect(errorOf(withFrom('WORKDIR work'))).toBe('job.runspec:2:9: WORKDIR "work" is not an absolute path');
    expect(errorOf(withFrom('WORKDIR /my work'))).toBe('job.runspec:2:13: WORKDIR takes one path (paths with blanks are not supported)');
    expect(errorOf(withFrom('WORKDIR /a', 'WORKDIR /b'))).toBe('job.runspec:3:1: a second WORKDIR (the first is on line 2): a run-spec has one working directory');
    expect(errorOf(withFrom('WORKDIR "/a"'))).toBe('job.runspec:2:9: WORKDIR: quotes and escapes are not supported (paths with blanks are not supported)');
    expect(errorOf(withFrom('WORKDIR /my\\ work'))).toBe('job.runspec:2:12: WORKDIR: quotes and escapes are not supported (paths with blanks are not supported)');
    expect(errorOf(withFrom('WORKDIR'))).toBe('job.runspec:2:1: WORKDIR needs an absolute container path');
  });

  it('a bad escape directive, and a NUL byte', () => {
    expect(errorOf(text('# escape=x', FROM, 'RUN x'))).toBe('job.runspec:1:10: escape directive "x": the escape character is \\ or `');
    expect(errorOf(text(FROM, 'RUN a\0b'))).toBe('job.runspec:2:6: NUL byte: a run-spec is text');
  });

  it('the file name is the one given (default "runspec")', () => {
    expect(() => parseRunSpec('')).toThrow(/^runspec:1:1: /);
    expect(() => parseRunSpec('', 'dir/a b.runspec')).toThrow(/^dir\/a b\.runspec:1:1: /);
  });
});

describe('schemas/runspec-1.0.schema.json', () => {
  const good = parse(withFrom('ENV A=1', 'UNSETENV B', 'BIND /x:/y:ro', 'WORKDIR /w', 'RUN ["a"]', 'RUN b c'));

  it('the parsed form validates, with and without the optional parts', () => {
    expect(schemaErrors(good)).toEqual([]);
    expect(schemaErrors(parse(text(`FROM ubuntu@sha512:${'c'.repeat(128)}`, 'RUN x')))).toEqual([]);
    expect(schemaErrors(JSON.parse(JSON.stringify(good)))).toEqual([]);
  });

  it('rejects documents that are not a valid run-spec', () => {
    const bad = (f: (d: Record<string, any>) => void) => {
      const d = structuredClone(good) as unknown as Record<string, any>;
      f(d);
      return schemaErrors(d);
    };
    expect(bad((d) => (d.from.digest = 'sha256:abc'))).not.toEqual([]);
    expect(bad((d) => delete d.from.digest)).not.toEqual([]);
    expect(bad((d) => (d.run = []))).not.toEqual([]);
    expect(bad((d) => (d.run[0].argv = [1]))).not.toEqual([]);
    expect(bad((d) => (d.run[0].form = 'json'))).not.toEqual([]);
    expect(bad((d) => (d.binds[0].source = 'rel'))).not.toEqual([]);
    expect(bad((d) => (d.env[0].name = 'A-B'))).not.toEqual([]);
    expect(bad((d) => (d.workdir = '/w'))).not.toEqual([]);
    expect(bad((d) => (d.extra = 1))).not.toEqual([]);
    expect(bad((d) => (d.schemaVersion = '2.0'))).not.toEqual([]);
  });
});

describe('readRunSpec', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cs-runspec-'));

  it('reads a file and names it by its path', async () => {
    const spec = await readRunSpec(EXAMPLE);
    expect(spec.file).toBe(EXAMPLE);
    expect(spec.run).toHaveLength(2);
  });

  it('a missing file, a directory and a file that is not UTF-8 are errors naming the path', async () => {
    await expect(readRunSpec(join(dir, 'none'))).rejects.toBeInstanceOf(NotFoundError);
    await expect(readRunSpec(dir)).rejects.toThrow(/not a regular file/);
    const latin1 = join(dir, 'latin1.runspec');
    writeFileSync(latin1, Buffer.concat([Buffer.from(`${FROM}\nENV A=`), Buffer.from([0xe9]), Buffer.from('\nRUN x\n')]));
    await expect(readRunSpec(latin1)).rejects.toBeInstanceOf(FormatError);
    await expect(readRunSpec(latin1)).rejects.toThrow(`run-spec ${latin1}: not UTF-8 text`);
  });

  it('errors in the file name it with the line and column', async () => {
    const f = join(dir, 'bad.runspec');
    writeFileSync(f, text(FROM, 'RUN x', 'COPY a b'));
    await expect(readRunSpec(f)).rejects.toThrow(`${f}:3:1: COPY is a Dockerfile build instruction`);
  });
});

describe('containerspec runspec check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cs-runspec-cli-'));
  beforeAll(async () => {
    await buildCli();
  }, 5 * 60_000);

  it('a valid run-spec: exit 0 and a short summary in file order', async () => {
    const r = await runCli(['runspec', 'check', 'examples/runspec/lammps.runspec']);
    expect(r.code, show(r)).toBe(0);
    expect(r.stderr).toBe('');
    const out = r.stdout.split('\n');
    expect(out[0]).toMatch(/^examples\/runspec\/lammps\.runspec: a valid run-spec: 2 commands in ghcr\.io\/lab\/lammps@sha256:[0-9a-f]{64}$/);
    expect(out.some((l) => /^\s+7\s+FROM\s+ghcr\.io\/lab\/lammps:2Aug2023@sha256:/.test(l))).toBe(true);
    expect(out.some((l) => /^\s+17\s+BIND\s+\/etc\/site\/openmpi -> \/etc\/openmpi \(read-only\)$/.test(l))).toBe(true);
    expect(out.some((l) => /^\s+20\s+RUN\s+\["lmp","-in","in\.lj",/.test(l))).toBe(true);
  });

  it('--json prints the parsed form, valid against the schema', async () => {
    const r = await runCli(['runspec', 'check', 'examples/runspec/lammps.runspec', '--json']);
    expect(r.code, show(r)).toBe(0);
    const doc = JSON.parse(r.stdout) as RunSpec;
    expect(schemaErrors(doc)).toEqual([]);
    expect(doc).toEqual(parseRunSpec(readFileSync(EXAMPLE, 'utf8'), 'examples/runspec/lammps.runspec'));
  });

  it('an invalid run-spec: exit 2, nothing on stdout, one line FILE:LINE:COL on stderr, no stack trace', async () => {
    const f = join(dir, 'tag-only.runspec');
    writeFileSync(f, text('# a job', 'FROM ubuntu:22.04', 'RUN true'));
    for (const args of [['runspec', 'check', f], ['runspec', 'check', f, '--json']]) {
      const line = expectOneLineError(await runCli(args));
      expect(line).toBe(`containerspec: ${f}:2:6: provenance needs the image digest: FROM name@sha256:<64 hex> ("ubuntu:22.04" has a tag, which can move, and no digest)`);
    }
    const g = join(dir, 'exec.runspec');
    writeFileSync(g, withFrom('RUN ["a", 1]'));
    expect(expectOneLineError(await runCli(['runspec', 'check', g]))).toMatch(new RegExp(`^containerspec: ${g.replace(/[.]/g, '\\.')}:2:11: RUN exec form: element 2 is 1`));
  });

  it('a missing file or argument: exit 2 with one line', async () => {
    expect(expectOneLineError(await runCli(['runspec', 'check', join(dir, 'none.runspec')]))).toBe(`containerspec: run-spec ${join(dir, 'none.runspec')}: no such file`);
    expect(expectOneLineError(await runCli(['runspec', 'check']))).toMatch(/missing required argument 'file'/);
  });

  it('--help shows the format and examples, exit 0', async () => {
    const r = await runCli(['runspec', 'check', '--help']);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/FROM NAME\[:TAG\]@sha256:HEX/);
    expect(r.stdout.split('\n').filter((l) => /^\s+containerspec runspec check \S+/.test(l)).length).toBeGreaterThanOrEqual(2);
  });
});
