/**
 * Dockerfile analysis without a registry: the corpus in fixtures/dockerfiles parsed (stages, FROMs
 * with ARG substitution, labels in every form, heredocs, CRLF, the escape directive), bad input as
 * one error naming file and line, the directory walk, tag families and their order, the unified
 * diff, and pin's byte-preserving edits (with registry answers stubbed; the real registry is in
 * dockerfile-registry.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DockerfileError } from '../src/errors/index.js';
import { unifiedDiff } from '../src/dockerfile/diff.js';
import { loadDockerfile } from '../src/dockerfile/load.js';
import { Lookups, type TagDigest } from '../src/dockerfile/lookup.js';
import { chainLabels, finalLabels, parseBuildArg, parseDockerfile, substitute } from '../src/dockerfile/parse.js';
import { BASE_DIGEST_LABEL, BASE_NAME_LABEL, planPins, writePinned } from '../src/dockerfile/pin.js';
import { findDockerfiles, isDockerfileName } from '../src/dockerfile/scan.js';
import { newerTags, parseTag, sameFamily, sortTags } from '../src/dockerfile/tags.js';
import type { DockerReference } from '../src/image/docker-reference.js';
import { judgeLabels, labelsFromFacts, planLabels, SC_ARCH, SC_GLIBC, SC_GPU, SC_MPI } from '../src/dockerfile/labels.js';
import { loadArchspec } from '../src/arch/index.js';
import { readImageFacts } from '../src/model/files.js';
import type { ImageFacts, MpiFact } from '../src/model/facts.js';
import { REPO } from './helpers/cli.js';

const CORPUS = join(REPO, 'fixtures/dockerfiles');
const corpus = (p: string) => join(CORPUS, p);
const tmp = mkdtempSync(join(tmpdir(), 'cs-dockerfile-'));
let n = 0;
/** Write a Dockerfile into a fresh directory. */
function write(text: string, name = 'Dockerfile'): string {
  const d = join(tmp, `d${n++}`);
  mkdirSync(d);
  writeFileSync(join(d, name), text);
  return join(d, name);
}
/** The DockerfileError a parse throws. */
function parseError(text: string, file = 'Dockerfile', buildArgs: Record<string, string> = {}): DockerfileError {
  try {
    parseDockerfile(text, file, { buildArgs });
  } catch (e) {
    if (e instanceof DockerfileError) return e;
    throw e;
  }
  throw new Error('parsed without error');
}

describe('the corpus', () => {
  it('a Spack build stage and a runtime stage: ARG defaults substituted, aliases, labels of every form, a heredoc that is not instructions', async () => {
    const df = await loadDockerfile(corpus('spack-mpich/Dockerfile'));
    expect(df.directives).toEqual({ syntax: 'docker/dockerfile:1.7' });
    expect(df.stages).toHaveLength(2); // the "FROM" inside the heredoc is script, not a stage
    const [build, runtime] = df.stages;
    expect(build!.from).toMatchObject({ raw: '${REGISTRY}/lab/spack:${SPACK_TAG}', image: 'registry.invalid:5000/lab/spack:0.21.2', alias: 'build', usesArgs: true, place: { line: 9, column: 6 } });
    expect(build!.from.reference).toMatchObject({ domain: 'registry.invalid:5000', path: 'lab/spack', tag: '0.21.2', digest: null });
    // An ARG whose default uses another ARG (RUNTIME=${REGISTRY}/...).
    expect(runtime!.from.image).toBe('registry.invalid:5000/lab/debian:12.5-slim');
    expect(runtime!.from.stage).toBeNull();
    // The in-stage ARG SPACK_TAG brings in the global value for the build stage's labels.
    expect(build!.labels.map((l) => [l.key, l.value, l.line])).toEqual([['stage', 'build', 11], ['spack.version', '0.21.2', 11]]);
    expect(runtime!.labels.map((l) => [l.key, l.value, l.line])).toEqual([
      ['org.opencontainers.image.title', 'LAMMPS (Spack, MPICH)', 27],
      ['org.supercontainers.mpi', 'mpich', 28],
      ['org.supercontainers.glibc', '2.36.0', 29],
      ['maintainer', 'hpc-support@example.org', 30],
    ]);
    expect(df.text.slice(runtime!.labels[1]!.span.start, runtime!.labels[1]!.span.end)).toBe('"org.supercontainers.mpi"=mpich');
    expect(df.eol).toBe('\n');
  });

  it('--build-arg overrides a default, and a FROM platform, a digest, ${VAR:-default} and FROM <stage> are read', async () => {
    const spack = await loadDockerfile(corpus('spack-mpich/Dockerfile'), { buildArgs: { SPACK_TAG: '0.22.0', REGISTRY: 'ghcr.io' } });
    expect(spack.stages.map((s) => s.from.image)).toEqual(['ghcr.io/lab/spack:0.22.0', 'ghcr.io/lab/debian:12.5-slim']);
    const cuda = await loadDockerfile(corpus('cuda-openmpi/Dockerfile'));
    expect(cuda.directives).toEqual({ syntax: 'docker/dockerfile:1', check: 'skip=JSONArgsRecommended' });
    const [devel, runtime, final] = cuda.stages;
    expect(devel!.from.platform).toBe('linux/amd64');
    expect(devel!.from.reference).toMatchObject({ tag: '12.4.1-devel', digest: `sha256:${'0'.repeat(64)}` });
    expect(runtime!.from.image).toBe('registry.invalid:5000/lab/cuda:12.4.1-runtime');
    const flavoured = await loadDockerfile(corpus('cuda-openmpi/Dockerfile'), { buildArgs: { CUDA_FLAVOUR: 'cudnn-runtime' } });
    expect(flavoured.stages[1]!.from.image).toBe('registry.invalid:5000/lab/cuda:12.4.1-cudnn-runtime');
    expect(final!.from).toMatchObject({ raw: 'runtime', stage: 1, reference: null });
    // The built image inherits the runtime stage's labels, then adds its own.
    expect(finalLabels(cuda)).toEqual({
      'org.opencontainers.image.base.name': 'registry.invalid:5000/lab/cuda:12.3.0-runtime',
      'org.opencontainers.image.base.digest': `sha256:${'1'.repeat(64)}`,
      'org.supercontainers.mpi': 'openmpi',
      'org.supercontainers.gpu': 'cuda',
    });
    expect(chainLabels(cuda).map((l) => l.line)).toEqual([13, 14, 19, 19]);
  });

  it('a CRLF file: lines counted as in an editor, continuations, the legacy LABEL key value form; eol CRLF', async () => {
    const df = await loadDockerfile(corpus('windows-crlf/Dockerfile'));
    expect(df.eol).toBe('\r\n');
    expect(df.stages[0]!.from.place).toEqual({ line: 2, column: 6 });
    expect(df.stages[0]!.labels.map((l) => [l.key, l.value, l.line])).toEqual([
      ['org.supercontainers.gpu', 'none', 8],
      ['org.opencontainers.image.vendor', 'Example HPC Center', 9],
      ['org.supercontainers.mpi', 'mpich', 10],
    ]);
    // The instruction span covers its continuation line and its CRLF.
    const l = df.stages[0]!.labels[1]!;
    expect(df.text.slice(l.instruction.start, l.instruction.end)).toBe('LABEL org.opencontainers.image.vendor="Example HPC Center" \\\r\n      org.supercontainers.mpi=mpich\r\n');
  });

  it('the escape directive: backtick continuations', async () => {
    const df = await loadDockerfile(corpus('backtick-escape/Containerfile'));
    expect(df.escape).toBe('`');
    expect(df.stages[0]!.labels.map((l) => [l.key, l.value])).toEqual([['org.supercontainers.mpi', 'openmpi'], ['description', 'a backtick continues this line']]);
  });

  it('Docker Hub names normalised, $BUILDPLATFORM and TARGETARCH, a COPY heredoc, FROM <stage> chains, a final FROM scratch', async () => {
    const df = await loadDockerfile(corpus('gromacs-multiarch/Dockerfile'), { platform: 'linux/arm64' });
    expect(df.stages.map((s) => [s.from.alias, s.from.image, s.from.stage, s.from.scratch, s.from.platform])).toEqual([
      ['toolchain', 'nvidia/cuda:12.4.1-devel-ubuntu22.04', null, false, 'linux/arm64'],
      ['build', 'toolchain', 0, false, null],
      ['runtime', 'ubuntu:22.04', null, false, null],
      [null, 'scratch', null, true, null],
    ]);
    expect(df.stages[0]!.from.reference?.canonical).toBe('docker.io/nvidia/cuda:12.4.1-devel-ubuntu22.04');
    expect(df.stages[2]!.from.reference).toMatchObject({ domain: 'docker.io', path: 'library/ubuntu', familiar: 'ubuntu:22.04' });
    // The built image (FROM scratch) inherits no label: COPY --from copies files, not labels.
    expect(finalLabels(df)).toEqual({});
    // COPY --from a stage is not an image.
    expect(df.stages.flatMap((s) => s.copyFrom)).toEqual([]);
    const copy = parseDockerfile('FROM a AS s\nFROM b\nARG T=1.0\nCOPY --from=s /x /x\nCOPY --from=0 /x /x\nCOPY --chmod=755 --from=ghcr.io/lab/tool:${T} /t /t\nCOPY --from=$UNKNOWN /u /u\n', 'x');
    expect(copy.stages[1]!.copyFrom.map((c) => [c.raw, c.image, c.place.line, c.place.column, c.usesArgs])).toEqual([['ghcr.io/lab/tool:${T}', 'ghcr.io/lab/tool:1.0', 6, 25, true]]);
    expect(parseError('FROM a\nCOPY --from=Bad:1 /x /x\n').message).toMatch(/^Dockerfile:2:13: COPY --from=Bad:1: not a build stage of this file, nor an image reference/);
    expect(df.stages[2]!.labels.map((l) => l.value)).toEqual(['cuda', 'x86_64_v3']);
    // A --build-arg without a value takes it from the environment, as docker build does.
    process.env.CS_TEST_UBUNTU = '24.04';
    try {
      const [name, value] = parseBuildArg('CS_TEST_UBUNTU');
      expect([name, value]).toEqual(['CS_TEST_UBUNTU', '24.04']);
    } finally {
      delete process.env.CS_TEST_UBUNTU;
    }
    expect(() => parseBuildArg('CS_TEST_UNSET_ARG')).toThrow('--build-arg CS_TEST_UNSET_ARG: no =VALUE and no CS_TEST_UNSET_ARG in the environment');
  });

  it('a byte-order mark is kept in the text and does not move any offset', () => {
    const text = '\uFEFFFROM debian:12\nLABEL a=b\n';
    const df = parseDockerfile(text, 'bom');
    expect(df.text).toBe(text);
    expect(text.slice(df.stages[0]!.from.span.start, df.stages[0]!.from.span.end)).toBe('debian:12');
  });
});

describe('bad input: one DockerfileError naming file and line', () => {
  it('the corpus of bad files', async () => {
    const cases: [string, number, RegExp][] = [
      ['bad/unknown-instruction.Dockerfile', 2, /:2:1: unknown instruction "FOO"/],
      ['bad/unset-arg.Dockerfile', 2, /:2:6: FROM uses ARG BASE \(line 1\), which has no value .*--build-arg BASE=VALUE/],
      ['bad/run-before-from.Dockerfile', 1, /:1:1: RUN before the first FROM/],
    ];
    for (const [f, line, re] of cases) {
      const e = await loadDockerfile(corpus(f)).then(() => null, (x: unknown) => x);
      expect(e, f).toBeInstanceOf(DockerfileError);
      const d = e as DockerfileError;
      expect(d.message, f).toMatch(re);
      expect(d.message.startsWith(corpus(f)), f).toBe(true);
      expect([d.file, d.line]).toEqual([corpus(f), line]);
      expect(d.message).not.toContain('\n');
    }
  });

  it('a FROM naming an ARG never declared, a required ARG, no FROM at all, a bad reference, an unknown flag, NUL bytes, not UTF-8', async () => {
    expect(parseError('FROM $IMAGE\n').message).toMatch(/^Dockerfile:1:6: FROM uses \$IMAGE, which no ARG before the first FROM declares/);
    expect(parseError('ARG V\nFROM debian:${V:?required}\n').message).toBe('Dockerfile:2:13: FROM: ARG V is required: required');
    expect(parseError('# just a comment\n').message).toMatch(/no FROM instruction/);
    expect(parseError('FROM Debian:12\n').message).toMatch(/^Dockerfile:1:6: FROM Debian:12: image reference "Debian:12": repository name must be lowercase/);
    expect(parseError('ARG T="bad tag"\nFROM debian:${T}\n').message).toMatch(/^Dockerfile:2:6: FROM debian:\$\{T\} \(debian:bad tag\): image reference/);
    expect(parseError('FROM --chown=1 debian:12\n').message).toMatch(/^Dockerfile:1:6: FROM --chown: unknown flag/);
    expect(parseError('FROM debian:12 AS\n').message).toMatch(/^Dockerfile:1:16: FROM takes one image, then optionally AS name/);
    expect(parseError('FROM debian:12\nRUN a\0b\n').message).toMatch(/^Dockerfile:2:6: NUL byte/);
    expect(parseError('FROM a AS x\nFROM b AS x\n').message).toMatch(/^Dockerfile:2:1: duplicate stage name "x"/);
    expect(parseError('FROM debian:12\nRUN <<EOT bash\n  echo never ended\nFROM debian:13\n').message).toBe('Dockerfile:2:5: here-document <<EOT is never ended (no line "EOT" after it)');
    expect(parseDockerfile('FROM debian:12\nCOPY <<a.txt <<b.txt /x/\none\na.txt\ntwo\nb.txt\n', 'ok').stages).toHaveLength(1);
    const latin1 = write('');
    writeFileSync(latin1, Buffer.from('FROM debian:12\nLABEL author="J\xf6rg"\n', 'latin1'));
    await expect(loadDockerfile(latin1)).rejects.toThrow(`${latin1}: not UTF-8 text`);
    await expect(loadDockerfile(join(tmp, 'nope'))).rejects.toThrow('no such file');
  });

  it('the --build-arg that gives the unset ARG a value makes the same file parse', () => {
    const df = parseDockerfile('ARG BASE\nFROM ${BASE}:latest\n', 'x', { buildArgs: { BASE: 'debian' } });
    expect(df.stages[0]!.from.reference?.canonical).toBe('docker.io/library/debian:latest');
  });
});

describe('ARG substitution', () => {
  const vars = { A: 'x', E: '', N: null };
  it.each([
    ['$A', 'x'], ['${A}', 'x'], ['a${A}b', 'axb'], ['${N:-d}', 'd'], ['${E:-d}', 'd'], ['${E-d}', ''], ['${N-d}', 'd'],
    ['${A:+alt}', 'alt'], ['${E:+alt}', ''], ['${E+alt}', 'alt'], ['\\$A', '$A'], ['${A:-${N:-z}}', 'x'], ['${N:-${A}}', 'x'],
    ['$', '$'], ['${1bad}', '${1bad}'],
  ])('%s -> %s', (word, want) => {
    expect(substitute(word, vars)).toBe(want);
  });
  it('an unset variable without a default is an error when strict, left alone otherwise', () => {
    expect(() => substitute('${N}', vars)).toThrow();
    expect(() => substitute('$Z', vars)).toThrow();
    expect(substitute('${N}/$Z', vars, '\\', false)).toBe('${N}/$Z');
  });
  it('in a stage only its own ARGs are in scope: a global one is brought in by ARG NAME, the automatic ones too', () => {
    const df = parseDockerfile('ARG V=1.0\nFROM debian:12\nLABEL a=$V\nARG V\nARG TARGETARCH\nARG W=${V}-x\nLABEL b=$V c=$TARGETARCH d=$W\n', 'x', { platform: 'linux/arm64' });
    expect(df.stages[0]!.labels.map((l) => [l.key, l.value])).toEqual([['a', '$V'], ['b', '1.0'], ['c', 'arm64'], ['d', '1.0-x']]);
  });

  it('the automatic platform ARGs follow --platform', () => {
    const df = parseDockerfile('FROM --platform=$BUILDPLATFORM debian:12 AS b\nFROM lab/${TARGETARCH}-base:1\n', 'x', { platform: 'linux/arm64' });
    expect(df.stages.map((s) => [s.from.platform, s.from.image])).toEqual([['linux/arm64', 'debian:12'], [null, 'lab/arm64-base:1']]);
  });
});

describe('the directory walk', () => {
  it('finds Dockerfile, Containerfile, *.Dockerfile, Dockerfile.*, sorted; skips node_modules, .git and .dockerignore', async () => {
    const root = join(tmp, 'walk');
    for (const d of ['a', 'b/c', 'node_modules/x', '.git/hooks']) mkdirSync(join(root, d), { recursive: true });
    const names = ['a/Dockerfile', 'a/Dockerfile.dev', 'a/app.Dockerfile', 'b/c/Containerfile', 'b/README.md', 'b/.dockerignore', 'b/Dockerfile.dockerignore', 'node_modules/x/Dockerfile', '.git/hooks/Dockerfile', 'b/notDockerfile'];
    for (const f of names) writeFileSync(join(root, f), 'FROM debian:12\n');
    symlinkSync(join(root, 'a'), join(root, 'b/loop'));
    const found = (await findDockerfiles([root])).map((f) => relative(root, f));
    expect(found).toEqual(['a/Dockerfile', 'a/Dockerfile.dev', 'a/app.Dockerfile', 'b/c/Containerfile']);
    // A file named directly is taken whatever its name; each file once.
    expect((await findDockerfiles([join(root, 'b/README.md'), root, join(root, 'a/Dockerfile')])).length).toBe(5);
    await expect(findDockerfiles([join(root, 'b/c/none')])).rejects.toThrow('no such file or directory');
    mkdirSync(join(root, 'empty'));
    await expect(findDockerfiles([join(root, 'empty')])).rejects.toThrow(/no Dockerfile, Containerfile/);
    expect(['Dockerfile', 'Containerfile', 'x.Dockerfile', 'x.dockerfile', 'Dockerfile.cuda'].every(isDockerfileName)).toBe(true);
    expect(['Dockerfile.dockerignore', '.dockerignore', 'Dockerfilex', 'README'].some(isDockerfileName)).toBe(false);
  });
});

describe('tags', () => {
  it('reads version, prefix, suffix and kind', () => {
    expect(parseTag('3.12-slim')).toMatchObject({ kind: 'version', version: '3.12.0', numbers: [3, 12], suffix: '-slim', prefix: '' });
    expect(parseTag('v1.2')).toMatchObject({ kind: 'version', version: '1.2.0', prefix: 'v' });
    expect(parseTag('2024.03')).toMatchObject({ kind: 'date', version: '2024.3.0' });
    expect(parseTag('20240301')).toMatchObject({ kind: 'date' });
    expect(parseTag('jammy-20240301')).toMatchObject({ kind: 'date', prefix: 'jammy-' });
    expect(parseTag('12.4.1-cudnn-devel-ubuntu22.04')).toMatchObject({ kind: 'version', version: '12.4.1', suffix: '-cudnn-devel-ubuntu22.04' });
    expect(parseTag('2.3.0-cuda12.4-devel')).toMatchObject({ version: '2.3.0', suffix: '-cuda12.4-devel' });
    expect(parseTag('3.13.0rc1')).toMatchObject({ prerelease: 'rc1', version: '3.13.0-rc1', suffix: '' });
    expect(parseTag('1.2.3.4')).toMatchObject({ numbers: [1, 2, 3, 4] });
    for (const t of ['latest', 'bookworm', 'edge', 'sha256-' + 'a'.repeat(64), 'cuda12.4-devel', '1.2.3.4.5']) expect(parseTag(t).family, t).toBeNull();
    expect(parseTag('latest').kind).toBe('latest');
  });

  it('families: suffix variants, precision, calendar versions and prefixes are kept apart', () => {
    expect(sameFamily('3.12-slim', '3.13-slim')).toBe(true);
    expect(sameFamily('3.12-slim', '3.13')).toBe(false);
    expect(sameFamily('3.12-slim', '3.13-alpine')).toBe(false);
    expect(sameFamily('3.12', '3.12.1')).toBe(false);
    expect(sameFamily('22.04', '2024.03')).toBe(false);
    expect(sameFamily('v1.2', '1.3')).toBe(false);
    expect(sameFamily('2.3.0-cuda12.1-devel', '2.4.0-cuda12.4-devel')).toBe(false);
    expect(sameFamily('latest', 'latest')).toBe(false);
  });

  it('newer tags, newest first, semver order (not string order), pre-releases only for a pre-release', () => {
    const all = ['3.9-slim', '3.10-slim', '3.11-slim', '3.12-slim', '3.13-slim', '3.12', '3.13', '3.12.4-slim', '3.14.0rc1-slim', '3.14rc1-slim', '3.12-alpine', '3.13-alpine', 'latest', 'slim'];
    expect(newerTags('3.11-slim', all)).toEqual(['3.13-slim', '3.12-slim']);
    expect(newerTags('3.13-slim', all)).toEqual([]);
    expect(newerTags('3.12-alpine', all)).toEqual(['3.13-alpine']);
    expect(newerTags('3.9-slim', all)).toEqual(['3.13-slim', '3.12-slim', '3.11-slim', '3.10-slim']);
    expect(newerTags('3.14rc0-slim', ['3.14rc1-slim', '3.14-slim', '3.15-slim'])).toEqual(['3.15-slim', '3.14-slim', '3.14rc1-slim']);
    expect(newerTags('latest', all)).toEqual([]);
    expect(newerTags('bookworm', ['trixie', 'bookworm'])).toEqual([]);
    expect(newerTags('2024.03', ['2023.12', '2024.06', '2024.10', '24.04', '2025.01-rc1'])).toEqual(['2024.10', '2024.06']);
    expect(newerTags('20240301', ['20231201', '20240515', '22.04'])).toEqual(['20240515']);
    expect(newerTags('jammy-20240301', ['jammy-20240515', 'noble-20240601', 'jammy-20230101'])).toEqual(['jammy-20240515']);
    expect(newerTags('v1.2', ['v1.10', 'v1.9', '1.11', 'v2.0'])).toEqual(['v2.0', 'v1.10', 'v1.9']);
    expect(newerTags('12.4.1-cudnn-devel-ubuntu22.04', ['12.6.0-cudnn-devel-ubuntu22.04', '12.6.0-cudnn-devel-ubuntu24.04', '12.6.0-devel-ubuntu22.04'])).toEqual(['12.6.0-cudnn-devel-ubuntu22.04']);
    expect(newerTags('1.2.3.4', ['1.2.3.10', '1.2.3.9', '1.2.4.0'])).toEqual(['1.2.4.0', '1.2.3.10', '1.2.3.9']);
    expect(newerTags('0.21.2', ['0.21.10', '0.22.0', '0.3.0', '1.0.0'])).toEqual(['1.0.0', '0.22.0', '0.21.10']);
  });

  it('sortTags groups families, oldest first, words last', () => {
    expect(sortTags(['latest', '3.10-slim', '3.9-slim', 'bookworm', '3.11'])).toEqual(['3.11', '3.9-slim', '3.10-slim', 'bookworm', 'latest']);
  });
});

describe('unified diff', () => {
  it('is what patch applies, CRs included; empty for equal texts', () => {
    const before = 'a\r\nb\r\nc\r\nd\r\ne\r\nf\r\ng\r\nh\r\n';
    const after = 'a\r\nB\r\nc\r\nd\r\ne\r\nf\r\ng\r\nh\r\nnew\r\n';
    const d = unifiedDiff(before, after, 'Dockerfile');
    expect(d).toBe('--- a/Dockerfile\n+++ b/Dockerfile\n@@ -1,8 +1,9 @@\n a\r\n-b\r\n+B\r\n c\r\n d\r\n e\r\n f\r\n g\r\n h\r\n+new\r\n');
    expect(unifiedDiff(before, before, 'x')).toBe('');
    const noEol = unifiedDiff('FROM a', 'FROM b', 'x');
    expect(noEol).toBe('--- a/x\n+++ b/x\n@@ -1 +1 @@\n-FROM a\n\\ No newline at end of file\n+FROM b\n\\ No newline at end of file\n');
    const hasPatch = spawnSync('sh', ['-c', 'command -v patch'], { stdio: 'ignore' }).status === 0;
    if (hasPatch) {
      const long = Array.from({ length: 40 }, (_, i) => `line ${i}\n`).join('');
      const changed = long.replace('line 3\n', 'LINE 3\n').replace('line 30\n', 'line 30\nextra\n');
      const f = write(long, 'target');
      const diff = unifiedDiff(long, changed, 'target');
      expect(diff.match(/^@@/gm)).toHaveLength(2);
      const r = spawnSync('patch', [f], { input: diff, encoding: 'utf8' });
      expect(r.status, r.stderr + r.stdout).toBe(0);
      expect(readFileSync(f, 'utf8')).toBe(changed);
    }
  });
});

/** Registry answers from a table: name:tag -> digest, repository -> tags. */
class StubLookups extends Lookups {
  constructor(private readonly digestTable: Record<string, string>, private readonly tagTable: Record<string, string[]> = {}) {
    super({});
  }
  override digestOf(ref: DockerReference, tag: string): Promise<TagDigest> {
    const d = this.digestTable[`${ref.name}:${tag}`];
    return d ? Promise.resolve({ digest: d, mediaType: 'application/vnd.oci.image.manifest.v1+json', index: false }) : Promise.reject(new DockerfileError(`no ${ref.name}:${tag}`, 'x', null));
  }
  override tagsOf(ref: DockerReference): Promise<{ tags: string[]; pages: number }> {
    return Promise.resolve({ tags: this.tagTable[ref.name] ?? [], pages: 1 });
  }
}
const D = (c: string) => `sha256:${c.repeat(64)}`;

describe('pin, with registry answers stubbed', () => {
  const R = 'registry.invalid:5000/lab';
  const stub = () => new StubLookups(
    { [`${R}/debian:12.5-slim`]: D('a'), [`${R}/spack:0.21.2`]: D('b'), [`${R}/cuda:12.4.1-devel`]: D('c'), [`${R}/cuda:12.4.1-runtime`]: D('d'), [`${R}/cuda:12.6.0-runtime`]: D('e'), [`${R}/python:3.11-slim`]: D('f') },
    { [`${R}/cuda`]: ['12.4.1-runtime', '12.6.0-runtime', '12.4.1-devel'] },
  );

  it('a CRLF file: the FROM pinned, the base labels added after it, every other byte kept, CRLF kept; pinning again changes nothing', async () => {
    const df = await loadDockerfile(corpus('windows-crlf/Dockerfile'));
    const [p] = await planPins([df], { lookups: stub() });
    const want = df.text
      .replace('FROM registry.invalid:5000/lab/debian:12.5-slim\r\n', `FROM registry.invalid:5000/lab/debian:12.5-slim@${D('a')}\r\nLABEL ${BASE_NAME_LABEL}="${R}/debian:12.5-slim" \\\r\n      ${BASE_DIGEST_LABEL}="${D('a')}"\r\n`);
    expect(p!.after).toBe(want);
    expect(p!.after.replace(/\r\n/g, '')).not.toMatch(/\n/); // no bare LF slipped in
    expect(p!.changes.map((c) => c.action)).toEqual(['pinned']);
    const again = parseDockerfile(p!.after, df.file);
    const [q] = await planPins([again], { lookups: stub() });
    expect(q!.diff).toBe('');
    expect(q!.changes.map((c) => c.action)).toEqual(['current']);
  });

  it('stale pins: left alone (and said) without update, moved with update, moved to the newest tag with toNewest; old base labels replaced in place', async () => {
    const df = await loadDockerfile(corpus('cuda-openmpi/Dockerfile'));
    const [keep] = await planPins([df], { lookups: stub() });
    expect(keep!.changes.map((c) => [c.line, c.action])).toEqual([[6, 'stale'], [12, 'skipped']]);
    expect(keep!.changes[1]!.note).toContain(`pin its ARG's default instead: ${R}/cuda:12.4.1-runtime@${D('d')}`);
    // The final stage (FROM runtime) inherits runtime's base labels: they name the old base and are replaced with what the file pins (its FROM has no digest: the digest label goes).
    expect(keep!.after).toContain(`LABEL ${BASE_NAME_LABEL}="${R}/cuda:12.4.1-runtime"`);
    expect(keep!.after).not.toContain(BASE_DIGEST_LABEL);
    const [upd] = await planPins([df], { lookups: stub(), update: true });
    expect(upd!.changes[0]).toMatchObject({ action: 'updated', to: `\${REGISTRY}/lab/cuda:12.4.1-devel@${D('c')}` });
    expect(upd!.after).toContain(`FROM --platform=linux/amd64 \${REGISTRY}/lab/cuda:12.4.1-devel@${D('c')} AS devel\n`);
    // Only the FROM word and the labels changed: every other line is as it was.
    const kept = (t: string) => t.split('\n').filter((l) => !l.startsWith('FROM') && !l.includes('org.opencontainers.image.base'));
    expect(kept(upd!.after)).toEqual(kept(df.text));
  });

  it('a FROM written without ARGs moves to the newest tag of its family with toNewest', async () => {
    const df = parseDockerfile(`# base\nFROM ${R}/cuda:12.4.1-runtime   AS run  \nLABEL ${BASE_NAME_LABEL}=old \\\n  keep=me\n`, 'Dockerfile');
    const [p] = await planPins([df], { lookups: stub(), update: true, toNewest: true });
    expect(p!.after).toBe(`# base\nFROM ${R}/cuda:12.6.0-runtime@${D('e')}   AS run  \nLABEL ${BASE_DIGEST_LABEL}="${D('e')}"\nLABEL ${BASE_NAME_LABEL}="${R}/cuda:12.6.0-runtime" \\\n  keep=me\n`);
  });

  it('the escape directive is used for the inserted continuation', async () => {
    const df = await loadDockerfile(corpus('backtick-escape/Containerfile'));
    const [p] = await planPins([df], { lookups: stub() });
    expect(p!.after).toContain(`LABEL ${BASE_NAME_LABEL}="${R}/python:3.11-slim" \`\n      ${BASE_DIGEST_LABEL}="${D('f')}"\n`);
  });

  it('writePinned writes atomically and refuses a file that changed since it was read, keeping its new content', async () => {
    const f = write(`FROM ${R}/debian:12.5-slim\n`);
    const [p] = await planPins([await loadDockerfile(f)], { lookups: stub() });
    writeFileSync(f, `FROM ${R}/debian:12.5-slim\n# edited meanwhile\n`);
    const e = await writePinned(p!).then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(DockerfileError);
    expect((e as Error).message).toBe(`${f}: changed while it was being pinned; not written (its new content is kept; run again)`);
    expect(readFileSync(f, 'utf8')).toBe(`FROM ${R}/debian:12.5-slim\n# edited meanwhile\n`);
    const [q] = await planPins([await loadDockerfile(f)], { lookups: stub() });
    expect(await writePinned(q!)).toBe(true);
    expect(readFileSync(f, 'utf8')).toBe(q!.after);
    expect(q!.after).toContain('# edited meanwhile\n');
    // No temporary file is left next to it.
    expect(spawnSync('ls', ['-A', join(f, '..')], { encoding: 'utf8' }).stdout.trim()).toBe('Dockerfile');
  });
});

describe('pin: a FROM written as one ARG', () => {
  const R = 'registry.invalid:5000/lab';
  const stub = () => new StubLookups({ [`${R}/debian:12.5-slim`]: D('a'), [`${R}/spack:0.21.2`]: D('b'), ['docker.io/library/debian:12']: D('c') });

  it('the pin goes into the ARG default (variables in its name kept), the base labels after the FROM; a tag from an ARG is left with a note', async () => {
    const df = await loadDockerfile(corpus('spack-mpich/Dockerfile'));
    const [p] = await planPins([df], { lookups: stub() });
    expect(p!.changes.map((c) => [c.line, c.action])).toEqual([[9, 'skipped'], [7, 'pinned']]);
    expect(p!.changes[1]).toMatchObject({ from: '${REGISTRY}/lab/debian:12.5-slim', to: `\${REGISTRY}/lab/debian:12.5-slim@${D('a')}`, note: 'ARG RUNTIME, the image of the FROM on line 22' });
    expect(p!.after).toBe(df.text
      .replace('ARG RUNTIME=${REGISTRY}/lab/debian:12.5-slim\n', `ARG RUNTIME=\${REGISTRY}/lab/debian:12.5-slim@${D('a')}\n`)
      .replace('FROM ${RUNTIME}\n', `FROM \${RUNTIME}\nLABEL ${BASE_NAME_LABEL}="${R}/debian:12.5-slim" \\\n      ${BASE_DIGEST_LABEL}="${D('a')}"\n`));
    // Pinned, it parses to the pinned reference and pinning again changes nothing.
    const again = parseDockerfile(p!.after, df.file);
    expect(again.stages[1]!.from.reference?.digest).toBe(D('a'));
    expect((await planPins([again], { lookups: stub() }))[0]!.diff).toBe('');
  });

  it('a quoted default keeps its quotes; an ARG shared by two FROMs is edited once; a --build-arg override is not written into the file', async () => {
    const text = 'ARG BASE="debian:12"\nFROM $BASE AS a\nFROM ${BASE}\n';
    const [p] = await planPins([parseDockerfile(text, 'Dockerfile')], { lookups: stub() });
    expect(p!.after.split('\n').slice(0, 3)).toEqual([`ARG BASE="debian:12@${D('c')}"`, 'FROM $BASE AS a', 'FROM ${BASE}']);
    const [o] = await planPins([parseDockerfile(text, 'Dockerfile', { buildArgs: { BASE: `${R}/debian:12.5-slim` } })], { lookups: stub() });
    expect(o!.after.startsWith('ARG BASE="debian:12"\n')).toBe(true);
    expect(o!.changes[0]).toMatchObject({ action: 'skipped' });
  });
});

describe('labels from image facts', () => {
  /** Facts of the sample image (musl, no MPI, no GPU), changed by `f`. */
  const facts = async (f: (x: ImageFacts) => void = () => {}): Promise<ImageFacts> => {
    const x = await readImageFacts(join(REPO, 'test/data/facts-1.0/sample-image.json'));
    f(x);
    return x;
  };
  const df = (labels: string) => parseDockerfile(`FROM debian:12\nLABEL ${labels}\n`, 'Dockerfile');
  const mpi = (implementation: MpiFact['implementation'], abi: MpiFact['abi']): MpiFact => ({ implementation, version: '4.2.1', abi, soname: 'libmpi.so.12', path: 'usr/lib/libmpi.so.12', evidence: [] });

  it('suggests nothing the image does not show: a musl image without MPI or GPU gets only its architecture', async () => {
    const f = await facts();
    expect(labelsFromFacts(f)).toEqual({ [SC_MPI]: null, [SC_GPU]: null, [SC_GLIBC]: null, [SC_ARCH]: { value: 'x86_64', reason: 'platform amd64' } });
    const r = judgeLabels(df('org.supercontainers.mpi=openmpi org.supercontainers.glibc=2.31.0 org.supercontainers.gpu=none'), f, loadArchspec());
    expect(r.contradictions.map((c) => [c.key, c.found])).toEqual([[SC_MPI, 'none'], [SC_GLIBC, 'musl']]);
    expect(r.contradictions[0]!.message).toBe('Dockerfile:2: LABEL org.supercontainers.mpi=openmpi but the image carries no MPI library');
  });

  it('MPI by ABI family (Intel MPI is mpich), GPU cuda > rocm > opencl, glibc as semver, arch from the ELF ISA level', async () => {
    const f = await facts((x) => {
      x.mpi = [mpi('intel', 'mpich')];
      x.libc = { ...x.libc, family: 'glibc', version: '2.31' };
      x.sonames = ['libOpenCL.so.1', 'libamdhip64.so.6'];
      x.requires.microarch = { version: 'x86_64_v3', evidence: [{ source: 'elf', detail: 'ISA needed x86-64-v3' }] };
    });
    expect(labelsFromFacts(f)).toMatchObject({ [SC_MPI]: { value: 'mpich' }, [SC_GPU]: { value: 'rocm', reason: 'libamdhip64.so.6' }, [SC_GLIBC]: { value: '2.31.0' }, [SC_ARCH]: { value: 'x86_64_v3' } });
    const ok = judgeLabels(df('org.supercontainers.mpi=mpich org.supercontainers.gpu=rocm org.supercontainers.glibc=2.31.0 org.supercontainers.arch=zen3'), f, loadArchspec());
    expect(ok.contradictions).toEqual([]);
    const bad = judgeLabels(df('org.supercontainers.mpi=openmpi org.supercontainers.gpu=cuda org.supercontainers.glibc=2.31 org.supercontainers.arch=x86_64_v2'), f, loadArchspec());
    expect(bad.contradictions.map((c) => c.key)).toEqual([SC_MPI, SC_GPU, SC_GLIBC, SC_ARCH]);
    expect(bad.contradictions[2]!.message).toContain('"2.31" is not a semantic version (the image\'s glibc is 2.31.0)');
    expect(bad.contradictions[3]!.message).toContain("the image's files need x86_64_v3");
    const arm = judgeLabels(df('org.supercontainers.arch=neoverse_v1'), f, loadArchspec());
    expect(arm.contradictions[0]!.message).toContain('the image is amd64 (x86_64), not aarch64');
    // Two ABI families in one image: no suggestion (no guess), and either label is not contradicted by a guess.
    const both = await facts((x) => (x.mpi = [mpi('openmpi', 'openmpi'), mpi('mpich', 'mpich')]));
    expect(labelsFromFacts(both)[SC_MPI]).toBeNull();
    const cuda = await facts((x) => (x.cuda = { ...x.cuda, runtime: '12.4' }));
    expect(labelsFromFacts(cuda)[SC_GPU]).toEqual({ value: 'cuda', reason: 'CUDA runtime 12.4' });
  });
});

describe('planLabels', () => {
  it('adds what is missing after the final FROM, replaces a contradicted value in place, removes one the facts support no value for; CRLF kept', async () => {
    const text = 'FROM a AS base\r\nLABEL org.supercontainers.gpu=cuda keep=1\r\nFROM base\r\nLABEL org.supercontainers.mpi=openmpi\r\n';
    const df = parseDockerfile(text, 'Dockerfile');
    const f = await readImageFacts(join(REPO, 'test/data/facts-1.0/sample-image.json'));
    f.mpi = [{ implementation: 'mpich', version: '4.2.1', abi: 'mpich', soname: 'libmpich.so.12', path: 'usr/lib/libmpich.so.12', evidence: [] }];
    const plan = planLabels(df, judgeLabels(df, f, loadArchspec()));
    expect(plan.edits).toEqual([
      { key: SC_MPI, from: 'openmpi', to: 'mpich', line: 4 },
      { key: SC_GPU, from: 'cuda', to: null, line: 2 },
      { key: SC_ARCH, from: null, to: 'x86_64', line: 3 },
    ]);
    expect(plan.after).toBe('FROM a AS base\r\nLABEL keep=1\r\nFROM base\r\nLABEL org.supercontainers.arch="x86_64"\r\nLABEL org.supercontainers.mpi="mpich"\r\n');
  });
});
