/**
 * Integration: `inspect` over the fixture images built from real Debian packages
 * (fixtures/build.mjs), through every transport each image has, against expected.json.
 * Requirements are checked independently with binutils' readelf on the unpacked rootfs.
 */
import { copyFileSync, mkdtempSync, openSync, closeSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { inspect } from '../src/inspect.js';
import { ContainerspecError, DigestMismatchError, FormatError, NotFoundError } from '../src/errors/index.js';
import type { ImageFacts as Facts } from '../src/model/facts.js';
import {
  accessesOf,
  buildFixtures,
  compareVersions,
  debianUpstream,
  fixturePath,
  hostArchitecture,
  loadExpected,
  loadIndex,
  platformString,
  type Access,
  type ExpectedFacts,
  type ExpectedImage,
  type ExpectedMalformed,
  type IndexEntry,
} from './helpers/fixture-set.js';
import { buildCli, expectOneLineError, lines, runCli, show } from './helpers/cli.js';
import { abiTag, abiTags, elfFilesUnder, findGlibcLibc, glibcVersionOf, readelfAvailable, resolveInRoot, versionNeeds } from './helpers/readelf.js';

// The fixtures are required: build them (a no-op when fixtures/build/STAMP is current) before the
// test cases are generated from fixtures/build/index.json. A failed build fails this file.
await buildFixtures(15 * 60_000);

const index = loadIndex();
const goodEntries = index.filter((e) => e.kind === 'good');
const susEntries = index.filter((e) => e.kind === 'suspicious');
const badEntries = index.filter((e) => e.kind === 'malformed');
const byName = (n: string): IndexEntry => {
  const e = index.find((x) => x.name === n);
  if (!e) throw new Error(`fixtures/build/index.json has no image ${n}`);
  return e;
};

beforeAll(async () => {
  await buildCli();
}, 5 * 60_000);

it('the fixture index lists good, suspicious and malformed images', () => {
  expect(goodEntries.length).toBeGreaterThan(0);
  expect(susEntries.length).toBeGreaterThan(0);
  expect(badEntries.length).toBeGreaterThan(0);
});

// ---------------------------------------------------------------------------------------------
// Ground truth from readelf over the unpacked rootfs (computed once per image)

interface ElfTruth {
  /** Highest GLIBC_x.y any ELF file of the image needs (Version needs sections), null for none. */
  glibcMax: string | null;
  /** libc's own NT_GNU_ABI_TAG, or, when libc has none (musl), the highest tag of any file. */
  kernel: string | null;
  libcFile: string | null;
}
const truthCache = new Map<string, ElfTruth>();
function elfTruth(name: string, rootfs: string, exp: ExpectedFacts): ElfTruth {
  const hit = truthCache.get(name);
  if (hit) return hit;
  const files = elfFilesUnder(rootfs);
  let glibcMax: string | null = null;
  for (const n of versionNeeds(files)) {
    const v = glibcVersionOf(n.name);
    if (v && (glibcMax === null || compareVersions(v, glibcMax) > 0)) glibcMax = v;
  }
  let libcFile: string | null = null;
  if (exp.glibc) libcFile = findGlibcLibc(rootfs);
  else if (exp.musl && exp.muslLoader) libcFile = resolveInRoot(rootfs, exp.muslLoader);
  let kernel = libcFile ? abiTag(libcFile) : null;
  if (kernel === null) {
    for (const t of abiTags(files).values()) if (t && (kernel === null || compareVersions(t, kernel) > 0)) kernel = t;
  }
  const t = { glibcMax, kernel, libcFile };
  truthCache.set(name, t);
  return t;
}

function needReadelf(ctx: TestContext): void {
  const r = readelfAvailable();
  if (!r.ok) {
    console.warn(`skipping readelf cross-check: ${r.reason}`);
    ctx.skip(r.reason);
  }
}

/** arm64 with no variant is arm64/v8 (the OCI default); an ELF file cannot tell them apart. */
function normVariant(arch: string | null, variant: string | null): string | null {
  if (arch === 'arm64' && (variant === 'v8' || variant === '8')) return null;
  return variant ?? null;
}

function compressionOf(mediaType: string): string {
  if (mediaType.endsWith('+gzip') || mediaType.endsWith('.gzip')) return 'gzip';
  if (mediaType.endsWith('+zstd') || mediaType.endsWith('.zstd')) return 'zstd';
  return 'none';
}

function cudaEnvOf(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('NVIDIA_') || k === 'CUDA_VERSION'));
}

// ---------------------------------------------------------------------------------------------
// Good images, every transport

function describeAccess(entry: IndexEntry, top: ExpectedImage, a: Access): void {
  const e = a.expect;
  const rootfs = entry.paths.rootfs ? fixturePath(entry.paths.rootfs) : null;
  describe(`${entry.name} via ${a.label}`, () => {
    let facts: Facts;
    beforeAll(async () => {
      facts = await inspect(a.ref, a.platform ? { platform: a.platform } : {});
    }, 180_000);

    it(`platform is ${platformString(e.platform)}`, () => {
      expect(facts.platform.architecture).toBe(e.platform.architecture);
      expect(facts.platform.os).toBe(e.platform.os);
      if (a.hasConfig) {
        expect(facts.platform.variant).toBe(e.platform.variant);
      } else {
        // No config: the architecture must come from the ELF files themselves.
        expect(normVariant(facts.platform.architecture, facts.platform.variant)).toBe(normVariant(e.platform.architecture, e.platform.variant));
        expect(facts.platform.evidence.map((x) => x.source)).toContain('elf');
      }
    });

    it('os-release id and version', () => {
      if (e.os === null) {
        expect(facts.os.id).toBeNull();
        expect(facts.os.versionId).toBeNull();
      } else {
        expect(facts.os.id).toBe(e.os.id);
        expect(facts.os.versionId).toBe(e.os.versionId);
        expect(facts.os.prettyName).toBe(e.os.prettyName);
      }
    });

    it('libc family and version match the installed package', () => {
      if (e.glibc) {
        expect(facts.libc.family).toBe('glibc');
        expect(facts.libc.version).toBe(e.glibc);
        if (e.packages.libc6) expect(facts.libc.version).toBe(debianUpstream(e.packages.libc6));
      } else if (e.musl) {
        expect(facts.libc.family).toBe('musl');
        expect(facts.libc.version).toBe(e.musl);
        if (e.packages.musl) expect(facts.libc.version).toBe(debianUpstream(e.packages.musl));
        if (e.muslLoader) expect(facts.libc.loaders).toContain(e.muslLoader);
      } else {
        expect(facts.libc.family).toBeNull();
      }
    });

    it(`MPI: ${e.mpi.length ? e.mpi.map((m) => `${m.implementation} ${m.version}`).join(', ') : 'none'}`, () => {
      expect(facts.mpi).toHaveLength(e.mpi.length);
      for (const m of e.mpi) {
        expect(facts.mpi).toEqual(
          expect.arrayContaining([expect.objectContaining({ implementation: m.implementation, version: m.version, soname: m.soname, path: m.path })]),
        );
      }
    });

    it(`CUDA: ${e.cuda ? `runtime ${e.cuda.runtimeFull}, compat driver ${e.cuda.compatDriver}` : 'none'}`, () => {
      if (e.cuda === null) {
        expect(facts.cuda.runtime).toBeNull();
        expect(facts.cuda.runtimeFull).toBeNull();
        expect(facts.cuda.compatDriver).toBeNull();
      } else {
        expect(facts.cuda.runtime).toBe(e.cuda.runtime);
        expect(facts.cuda.runtimeFull).toBe(e.cuda.runtimeFull);
        expect(facts.cuda.compatDriver).toBe(e.cuda.compatDriver);
        expect(facts.cuda.libraries.map((l) => l.path)).toContain(e.cuda.runtimePath);
        if (e.cuda.compatPath) expect(facts.cuda.libraries.map((l) => l.path)).toContain(e.cuda.compatPath);
      }
      expect(facts.cuda.env).toEqual(a.hasConfig ? cudaEnvOf(e.env) : {});
    });

    it(a.hasConfig ? 'labels and env from the config' : 'no labels or env (no config)', () => {
      expect(facts.labels).toEqual(a.hasConfig ? e.labels : {});
      expect(facts.env).toEqual(a.hasConfig ? e.env : {});
    });

    if (a.transport === 'oci' || a.transport === 'oci-archive') {
      it('manifest, config and layer digests', () => {
        expect(facts.digest).toBe(e.manifestDigest);
        expect(facts.config?.digest).toBe(e.configDigest);
        expect(facts.layers?.map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size }))).toEqual(
          e.layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size })),
        );
        expect(facts.layers?.map((l) => l.compression)).toEqual(e.layers.map((l) => compressionOf(l.mediaType)));
      });
    } else if (a.transport === 'docker-archive') {
      it('config digest and layer diff IDs', () => {
        expect(facts.config?.digest).toBe(e.configDigest);
        expect(facts.layers?.map((l) => l.digest)).toEqual(e.layers.map((l) => l.diffId));
      });
    } else if (a.transport === 'docker25') {
      it('config digest and layer digests of the Docker 25+ archive', () => {
        expect(top.docker25, 'expected.json has a docker25 section').toBeDefined();
        expect(facts.config?.digest).toBe(top.docker25!.configDigest);
        expect(facts.layers?.map((l) => l.digest)).toEqual(top.docker25!.layers.map((l) => l.digest));
      });
    } else {
      it('no manifest or config digest (a bare root filesystem has none)', () => {
        expect(facts.digest ?? null).toBeNull();
        expect(facts.config?.digest ?? null).toBeNull();
      });
    }

    it('warnings', () => {
      const expected = top.warning && a.hasConfig ? [top.warning] : [];
      expect([...new Set(facts.warnings.map((w) => w.code))].sort(), JSON.stringify(facts.warnings)).toEqual(expected);
    });

    if (e.glibc) {
      it(`requires.glibc is at most the image's own glibc ${e.glibc}`, () => {
        expect(facts.requires.glibc).not.toBeNull();
        expect(compareVersions(facts.requires.glibc!.version, e.glibc!)).toBeLessThanOrEqual(0);
        expect(facts.requires.glibc!.evidence.length).toBeGreaterThan(0);
      });
    } else {
      it('requires no glibc', () => {
        expect(facts.requires.glibc).toBeNull();
      });
    }

    if (rootfs && a.rootfsMatches) {
      it('requires.glibc is the highest GLIBC_ version needed, and its evidence files need it (readelf -V)', (ctx) => {
        needReadelf(ctx);
        const truth = elfTruth(entry.name, rootfs, e);
        if (truth.glibcMax === null) {
          expect(facts.requires.glibc).toBeNull();
          return;
        }
        const req = facts.requires.glibc;
        expect(req).not.toBeNull();
        expect(req!.version).toBe(truth.glibcMax);
        for (const ev of req!.evidence) {
          expect(ev.path, JSON.stringify(ev)).toBeTruthy();
          const file = resolveInRoot(rootfs, ev.path!);
          expect(file, `evidence path ${ev.path} exists in ${entry.paths.rootfs}`).not.toBeNull();
          const needs = versionNeeds([file!]);
          const want = `GLIBC_${req!.version}`;
          expect(needs.map((n) => n.name), `readelf -V ${ev.path}`).toContain(want);
          const from = /\bfrom (\S+)$/.exec(ev.detail ?? '')?.[1];
          if (from) expect(needs.filter((n) => n.name === want).map((n) => n.from), `readelf -V ${ev.path}`).toContain(from);
        }
      });

      it("requires.kernel is the ABI tag of the image's libc (readelf -n)", (ctx) => {
        needReadelf(ctx);
        const truth = elfTruth(entry.name, rootfs, e);
        if (e.glibc || e.musl) expect(truth.libcFile, 'libc found in the rootfs').not.toBeNull();
        if (truth.kernel === null) {
          expect(facts.requires.kernel).toBeNull();
          return;
        }
        const req = facts.requires.kernel;
        expect(req).not.toBeNull();
        expect(req!.version).toBe(truth.kernel);
        const ev = req!.evidence[0];
        expect(ev?.path, JSON.stringify(req)).toBeTruthy();
        const file = resolveInRoot(rootfs, ev!.path!);
        expect(file, `evidence path ${ev!.path} exists`).not.toBeNull();
        expect(abiTag(file!), `readelf -n ${ev!.path}`).toBe(req!.version);
      });
    }
  });
}

for (const entry of goodEntries) {
  const exp = loadExpected<ExpectedImage>(entry);
  for (const a of accessesOf(entry, exp)) describeAccess(entry, exp, a);
}

// ---------------------------------------------------------------------------------------------
// Image-specific behaviour

describe('whiteout', () => {
  const entry = byName('whiteout');
  const exp = loadExpected<ExpectedImage & { whiteouts?: { removed: string[] } }>(entry);
  const configured = accessesOf(entry, exp).filter((a) => a.hasConfig);

  it('the fixture really whites out libmpi while the package database still lists Open MPI', () => {
    expect(exp.whiteouts?.removed.some((p) => /libmpi\.so\.\d+/.test(p))).toBe(true);
    expect(Object.keys(exp.packages)).toContain('libopenmpi3');
  });

  for (const a of configured) {
    it(`${a.label}: the whited-out libmpi is not reported, and the openmpi label is flagged`, async () => {
      const facts = await inspect(a.ref);
      expect(facts.mpi).toEqual([]);
      const w = facts.warnings.filter((x) => x.code === exp.warning);
      expect(w, JSON.stringify(facts.warnings)).toHaveLength(1);
      expect(w[0]!.message).toContain(exp.warningDetail.value);
      expect(exp.warningDetail.value).toBe('openmpi');
    });
  }
});

describe('multiarch', () => {
  const entry = byName('multiarch');
  const exp = loadExpected<ExpectedImage>(entry);
  const oci = `oci:${fixturePath(entry.paths.oci!)}`;
  const ociArchive = `oci-archive:${fixturePath(entry.paths.ociArchive!)}`;
  const listed = (exp.platforms ?? []).map((p) => platformString(p.platform));

  it('has an amd64 and an arm64/v8 manifest', () => {
    expect(listed).toEqual(expect.arrayContaining(['linux/amd64', 'linux/arm64/v8']));
  });

  for (const ref of [oci, ociArchive]) {
    it(`${ref.split(':')[0]}: with no --platform, picks the host's platform`, async (ctx) => {
      const arch = hostArchitecture();
      const want = (exp.platforms ?? []).find((p) => p.platform.architecture === arch);
      if (!want) {
        const reason = `the multiarch index has no manifest for this host's architecture (${process.arch})`;
        console.warn(`skipping: ${reason}`);
        ctx.skip(reason);
      }
      const facts = await inspect(ref);
      expect(facts.digest).toBe(want!.manifestDigest);
      expect(facts.platform.architecture).toBe(want!.platform.architecture);
    });

    it(`${ref.split(':')[0]}: --platform linux/s390x is rejected, listing the platforms present`, async () => {
      const err = await inspect(ref, { platform: 'linux/s390x' }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ContainerspecError);
      const msg = (err as Error).message;
      expect(msg).toContain('linux/s390x');
      for (const p of listed) expect(msg).toContain(p);
    });
  }

  it('CLI: --platform linux/s390x exits 2 with one line listing the platforms present', async () => {
    const r = await runCli(['inspect', oci, '--platform', 'linux/s390x']);
    const line = expectOneLineError(r);
    for (const p of listed) expect(line).toContain(p);
  });

  it('--platform linux/arm64 (no variant) selects the arm64/v8 manifest', async () => {
    const arm = (exp.platforms ?? []).find((p) => p.platform.architecture === 'arm64');
    expect(arm).toBeDefined();
    const facts = await inspect(oci, { platform: 'linux/arm64' });
    expect(facts.digest).toBe(arm!.manifestDigest);
  });
});

describe('parallel and serial layer reading agree', () => {
  const entry = byName('trixie-mpich-cuda');
  const exp = loadExpected<ExpectedImage>(entry);
  const ref = `oci:${fixturePath(entry.paths.oci!)}`;

  it('trixie-mpich-cuda: parallel 1, default and 4 give deep-equal facts', async () => {
    const serial = await inspect(ref, { parallel: 1 });
    const dflt = await inspect(ref);
    const four = await inspect(ref, { parallel: 4 });
    // The premise: several layers, one of them zstd.
    expect(serial.layers).toHaveLength(exp.layers.length);
    expect(exp.layers.length).toBeGreaterThanOrEqual(4);
    expect(serial.layers?.map((l) => l.compression)).toContain('zstd');
    expect(dflt).toEqual(serial);
    expect(four).toEqual(serial);
  }, 180_000);
});

// ---------------------------------------------------------------------------------------------
// Malformed images: a one-line error naming the blob, never a crash

const errorClassOf: Record<string, new (...args: never[]) => ContainerspecError> = {
  'digest-mismatch': DigestMismatchError,
  'missing-blob': NotFoundError,
  'bad-json': FormatError,
  'truncated-gzip': FormatError,
  'unsafe-path': FormatError,
};

describe('malformed images', () => {
  for (const entry of badEntries) {
    const exp = loadExpected<ExpectedMalformed>(entry);
    const ref = `oci:${fixturePath(entry.paths.oci!)}`;

    it(`${entry.name}: inspect rejects with a ${exp.error.kind} error naming ${exp.error.blob.slice(0, 19)}`, async () => {
      const err = await inspect(ref).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, 'inspect should reject').not.toBeNull();
      expect(err).toBeInstanceOf(ContainerspecError);
      const cls = errorClassOf[exp.error.kind];
      if (cls) expect(err).toBeInstanceOf(cls);
      expect((err as Error).message).toContain(exp.error.blob);
    });

    it(`${entry.name}: CLI exits 2 with one line naming the blob`, async () => {
      const r = await runCli(['inspect', ref]);
      const line = expectOneLineError(r);
      expect(line).toContain(exp.error.blob);
    });
  }
});

describe('damaged archives', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'cs-damaged-'));
  });
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  function truncatedCopy(src: string, dst: string): void {
    const size = statSync(src).size;
    const half = Math.floor(size / 2);
    const buf = Buffer.alloc(half);
    const fd = openSync(src, 'r');
    try {
      readSync(fd, buf, 0, half, 0);
    } finally {
      closeSync(fd);
    }
    const out = openSync(dst, 'w');
    try {
      writeSync(out, buf);
    } finally {
      closeSync(out);
    }
  }

  for (const entry of goodEntries.filter((e) => e.paths.dockerArchive)) {
    it(`${entry.name}: docker.tar cut in half is a one-line error (library and CLI)`, async () => {
      const file = join(tmp, `${entry.name}-half.tar`);
      truncatedCopy(fixturePath(entry.paths.dockerArchive!), file);
      const err = await inspect(`docker-archive:${file}`).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ContainerspecError);
      expectOneLineError(await runCli(['inspect', `docker-archive:${file}`]));
    });
  }

  it('an intact copy of a docker.tar still works (the damage is what fails above)', async () => {
    const entry = goodEntries.find((e) => e.paths.dockerArchive)!;
    const file = join(tmp, `${entry.name}-copy.tar`);
    copyFileSync(fixturePath(entry.paths.dockerArchive!), file);
    const r = await runCli(['inspect', `docker-archive:${file}`, '--json']);
    expect(r.code, show(r)).toBe(0);
    expect(JSON.parse(r.stdout).kind).toBe('image');
  });

  it('a text file given as docker-archive: is a one-line error', async () => {
    const file = join(tmp, 'notes.tar');
    writeFileSync(file, 'this is not a tar archive\n'.repeat(10));
    const line = expectOneLineError(await runCli(['inspect', `docker-archive:${file}`]));
    expect(line).toContain('notes.tar');
  });

  it('random bytes given as docker-archive: are a one-line error', async () => {
    const file = join(tmp, 'random.tar');
    writeFileSync(file, randomBytes(64 * 1024));
    expectOneLineError(await runCli(['inspect', `docker-archive:${file}`]));
  });
});

// ---------------------------------------------------------------------------------------------
// Suspicious images: facts still reported, with a warning

describe('suspicious images', () => {
  for (const entry of susEntries) {
    const exp = loadExpected<ExpectedImage>(entry);
    for (const a of accessesOf(entry, exp)) {
      // Without a config nothing can contradict the binaries: a lying config is only visible
      // where there is a config.
      const configOnly = exp.warning === 'arch-mismatch';
      const warns = a.hasConfig || !configOnly;
      it(`${entry.name} via ${a.label}: exit 0, facts reported${warns ? `, warning ${exp.warning}` : ''}`, async () => {
        const r = await runCli(['inspect', a.ref, '--json']);
        expect(r.code, show(r)).toBe(0);
        expect(r.stderr).not.toMatch(/^\s+at /m);
        const facts = JSON.parse(r.stdout) as Facts;
        expect(facts.libc.family).toBe(exp.glibc ? 'glibc' : exp.musl ? 'musl' : null);
        expect(facts.libc.version).toBe(exp.glibc ?? exp.musl);
        expect(facts.os.id).toBe(exp.os?.id ?? null);
        expect(facts.os.versionId).toBe(exp.os?.versionId ?? null);
        const codes = facts.warnings.map((w) => w.code);
        if (!warns) {
          // dir:/tar: of the lying-config image: the binaries decide, so the truth is reported.
          expect(facts.platform.architecture).toBe(exp.warningDetail.elfArchitecture);
          expect(codes).not.toContain(exp.warning);
          return;
        }
        // The binaries are evidence, the config a claim: the ELF machine wins on every transport (issue 13).
        expect(facts.platform.architecture).toBe(configOnly ? exp.warningDetail.elfArchitecture : exp.platform.architecture);
        expect(codes, JSON.stringify(facts.warnings)).toContain(exp.warning);
        const mine = facts.warnings.filter((w) => w.code === exp.warning);
        if (exp.warning === 'symlink-loop') {
          const members = (exp.warningDetail.loops as string[][]).flat();
          expect(mine.map((w) => w.path)).toEqual(expect.arrayContaining(members));
        } else if (exp.warning === 'corrupt-elf') {
          const paths = (exp.warningDetail.files as { path: string }[]).map((f) => f.path);
          expect(mine.map((w) => w.path)).toEqual(expect.arrayContaining(paths));
        } else if (exp.warning === 'arch-mismatch') {
          expect(mine[0]!.message).toContain(exp.warningDetail.configArchitecture);
          expect(mine[0]!.message).toContain(exp.warningDetail.elfArchitecture);
        }
        expect(lines(r.stderr)).toEqual([]);
      });
    }
  }
});
