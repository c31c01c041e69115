/**
 * Property tests for every parser of outside input (fast-check): each property states something a
 * user relies on. The parsers never crash on what an image or a host can hold, fail only with the
 * error class the CLI turns into a one-line exit-2 message, and agree with themselves however
 * their input arrives (in chunks, by position, prepared or not).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ElfCollector, parseElf } from '../src/elf/index.js';
import type { ElfResult } from '../src/elf/index.js';
import { FactsError, FormatError, ImageReferenceError } from '../src/errors/index.js';
import { evaluateRequirements, parseRequirements, prepareHost } from '../src/gpu/nvidia-require.js';
import type { GpuHostFacts } from '../src/gpu/nvidia-require.js';
import { isDockerReference, parseDockerReference } from '../src/image/docker-reference.js';
import { parseReference } from '../src/image/reference.js';
import { paxSize, parsePax } from '../src/image/tar-index.js';
import { classifyWhiteout, cleanEntryName } from '../src/layers/paths.js';
import { jsonDepth } from '../src/model/boundary.js';
import { compareVersions, parseVersion } from '../src/util/version.js';

/** Fixed seed: a failure is reproduced by the same run (fast-check prints the counterexample and path). */
const SEED = 20240611;
const opts = (numRuns: number) => ({ seed: SEED, numRuns });

/** What an error is, for messages. */
const kind = (e: unknown) => (e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e));

/** Run `f`; an error is allowed only when it is an instance of `cls` (and then its message is one line). */
function throwsOnly(cls: abstract new (...a: never[]) => Error, f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof cls)) throw new Error(`threw ${kind(e)}, expected nothing or a ${cls.name}`);
    expect((e as Error).message, 'the CLI prints the message as one line').not.toMatch(/[\r\n]/);
  }
}

// ---------------------------------------------------------------------------------------------
// ELF reader

const LIBDIR = '/usr/lib/x86_64-linux-gnu';

/** Up to 24 real ELF files under 1 MiB from the system's library directory, spread over its listing. */
function realElfFiles(): { name: string; data: Buffer }[] {
  let names: string[];
  try {
    names = readdirSync(LIBDIR).filter((n) => /\.so(\.|$)/.test(n)).sort();
  } catch {
    return [];
  }
  const out: { name: string; data: Buffer }[] = [];
  const step = Math.max(1, Math.floor(names.length / 60));
  for (let i = 0; i < names.length && out.length < 24; i += step) {
    const p = join(LIBDIR, names[i]!);
    try {
      const st = statSync(p);
      if (!st.isFile() || st.size > 1 << 20 || st.size < 64) continue;
      const data = readFileSync(p);
      if (data.readUInt32BE(0) === 0x7f454c46) out.push({ name: names[i]!, data });
    } catch {
      /* unreadable: skip */
    }
  }
  return out;
}

const ELFS = realElfFiles();

/** Feed a file to a collector in the given chunk sizes (cycled). */
function streamed(buf: Uint8Array, sizes: number[]): ElfResult {
  const c = new ElfCollector();
  let i = 0;
  for (let off = 0; off < buf.length; i++) {
    const n = Math.max(1, sizes[i % sizes.length]!);
    c.push(buf.subarray(off, off + n));
    off += n;
  }
  return c.finish();
}

/** Feed a file as a reader with random access does (dir: images): at the offsets the collector asks for, stopping when it wants no more. */
function positional(buf: Uint8Array, chunk: number): ElfResult {
  const c = new ElfCollector();
  for (;;) {
    const at = c.nextWanted();
    if (at === null || at >= buf.length) break;
    c.seek(at);
    c.push(buf.subarray(at, Math.min(buf.length, at + chunk)));
    if (!c.wantsMore) break;
  }
  return c.finish(buf.length);
}

/** A result with its warnings set aside (their wording may say "not kept" where a full read says "outside the file"). */
const facts = (r: ElfResult) => (r.ok ? { ...r.info, warnings: [] } : r);

/** No masked crash: `finish()` turns an exception into `reason: "internal error: ..."`, which would hide a bug as "not ELF". */
function noInternalError(r: ElfResult): void {
  if (!r.ok) expect(r.reason, 'an exception inside the ELF reader, reported as a reason').not.toMatch(/internal error/);
}

/** A mutation of a real ELF file: byte flips concentrated in the headers, a field set to an extreme, a cut. */
const elfMutation = fc.record({
  file: fc.nat(),
  flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean()), { minLength: 1, maxLength: 12 }),
  field: fc.option(fc.tuple(fc.constantFrom(16, 18, 24, 32, 40, 48, 52, 54, 56, 58, 60, 62), fc.constantFrom(0, 1, 0xff, 0xffff, 0xffffffff, 0x7fffffff)), { nil: undefined }),
  cut: fc.option(fc.nat(), { nil: undefined }),
});

function applyMutation(m: { file: number; flips: [number, number, boolean][]; field: [number, number] | undefined; cut: number | undefined }): Buffer {
  const src = ELFS[m.file % ELFS.length]!.data;
  const b = Buffer.from(src);
  const phoff = Number(b.readBigUInt64LE(32));
  const headersEnd = Math.min(b.length, Math.max(64, phoff + b.readUInt16LE(56) * 56));
  for (const [at, x, inHeaders] of m.flips) b[inHeaders ? at % headersEnd : at % b.length]! ^= x;
  if (m.field) {
    const [off, v] = m.field;
    if (off === 24 || off === 32 || off === 40) b.writeBigUInt64LE(BigInt(v) * (v === 0xffffffff ? 0x100000001n : 1n), off);
    else if (off >= 52) b.writeUInt16LE(v & 0xffff, off);
    else b.writeUInt32LE(v >>> 0, off);
  }
  return m.cut === undefined ? b : b.subarray(0, m.cut % (b.length + 1));
}

describe('ELF reader (src/elf: parseElf, ElfCollector)', () => {
  it('never throws and never hides a crash on arbitrary bytes, with or without an ELF header in front', () => {
    const header = fc.tuple(fc.constantFrom(1, 2, 0, 3), fc.constantFrom(1, 2, 0), fc.uint8Array({ minLength: 0, maxLength: 600 }));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 2048 }), header.map(([cls, data, rest]) => new Uint8Array([0x7f, 0x45, 0x4c, 0x46, cls, data, 1, ...rest]))), (bytes) => {
        let r: ElfResult | undefined;
        expect(() => (r = parseElf(bytes))).not.toThrow();
        noInternalError(r!);
        if (bytes.length < 4 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) expect(r!.ok, 'no ELF magic, no ELF facts').toBe(false);
      }),
      opts(2000),
    );
  });

  it.skipIf(ELFS.length === 0)('reads every sampled real library as amd64 ELF (the mutations below start from real files)', () => {
    for (const { name, data } of ELFS) {
      const r = parseElf(data);
      expect(r.ok, name).toBe(true);
      if (r.ok) expect(r.info.arch, name).toBe('amd64');
    }
  });

  it.skipIf(ELFS.length === 0)('never throws on mutated real ELF files, and reports what it read the same way in any chunking and by position', () => {
    fc.assert(
      fc.property(elfMutation, fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 6 }), fc.constantFrom(1, 7, 512, 4096, 256 * 1024), (m, sizes, chunk) => {
        const buf = applyMutation(m);
        let whole: ElfResult | undefined;
        expect(() => (whole = parseElf(buf))).not.toThrow();
        noInternalError(whole!);
        const s = streamed(buf, sizes);
        expect(s, 'streamed in chunks = read at once').toEqual(whole);
        const p = positional(buf, chunk);
        noInternalError(p);
        expect(facts(p), 'read by position (dir: images) = streamed (layers)').toEqual(facts(whole!));
      }),
      opts(400),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// tar entry names and whiteouts

const segment = fc.oneof(
  fc.constantFrom('..', '.', '', 'a', 'b', 'usr', 'lib', '.wh.a', '.wh..wh..opq', '.wh.', '.wh..', '...', 'é', ' ', '\\'),
  fc.string({ maxLength: 6 }),
);
const entryName = fc.tuple(fc.constantFrom('', '/', './', '././', '//', '/./'), fc.array(segment, { maxLength: 8 }), fc.constantFrom('', '/', '//')).map(([pre, segs, post]) => `${pre}${segs.join('/')}${post}`);

describe('tar entry names (src/layers/paths.ts)', () => {
  it('cleanEntryName yields a path inside the root (no "..", no leading "/") or a FormatError, and never throws anything else', () => {
    fc.assert(
      fc.property(fc.oneof(entryName, fc.string({ unit: 'binary', maxLength: 40 })), (name) => {
        let out: string | undefined;
        try {
          out = cleanEntryName(name, 'layer L');
        } catch (e) {
          expect(e, kind(e)).toBeInstanceOf(FormatError);
          return;
        }
        expect(out.split('/'), `${JSON.stringify(name)} -> ${JSON.stringify(out)}`).not.toContain('..');
        expect(out.startsWith('/')).toBe(false);
        expect(out.endsWith('/')).toBe(false);
        expect(posix.join('/root', out).startsWith('/root'), 'joined onto a root it stays below it').toBe(true);
        expect(cleanEntryName(out, 'layer L'), 'cleaning is idempotent').toBe(out);
      }),
      opts(5000),
    );
  });

  it('a name without ".." segments or NUL bytes is never refused', () => {
    fc.assert(
      fc.property(entryName.filter((n) => !n.split('/').includes('..') && !n.includes('\0')), (name) => {
        expect(() => cleanEntryName(name, 'layer L')).not.toThrow();
      }),
      opts(3000),
    );
  });

  it('classifyWhiteout never throws; a whiteout hides a sibling of itself, an opaque marker its own directory', () => {
    fc.assert(
      fc.property(entryName, (name) => {
        let path: string;
        try {
          path = cleanEntryName(name, 'layer L');
        } catch {
          return;
        }
        const w = classifyWhiteout(path);
        const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
        const base = path.slice(path.lastIndexOf('/') + 1);
        if (w.kind === 'whiteout') {
          expect(w.target.split('/'), 'a whiteout never names a path above its directory').not.toContain('..');
          expect(w.target.slice(0, w.target.lastIndexOf('/') + 1 || 0), 'same directory').toBe(dir ? `${dir}/` : '');
          expect(`.wh.${w.target.slice(w.target.lastIndexOf('/') + 1)}`).toBe(base);
        } else if (w.kind === 'opaque') {
          expect(w.dir).toBe(dir);
          expect(base).toBe('.wh..wh..opq');
        } else expect(base.startsWith('.wh.') && base !== '.wh.' && base !== '.wh..' && base !== '.wh...', `${JSON.stringify(path)} is a whiteout`).toBe(false);
      }),
      opts(5000),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// NVIDIA_REQUIRE_* grammar

const nvToken = fc.tuple(
  fc.constantFrom('cuda', 'driver', 'arch', 'brand', 'CUDA', 'Brand', 'foo', ''),
  fc.constantFrom('>=', '<=', '=', '!=', '<', '>', '>>', '!', '==', '=<', ''),
  fc.oneof(fc.constantFrom('12.4', '11', '470', '535.54.03', '8.0', 'tesla', 'geforce', '', '.', '1..2', '18446744073709551615', '18446744073709551616', 'x'), fc.stringMatching(/^[0-9.]{0,8}$/)),
).map(([p, o, v]) => `${p}${o}${v}`);
const nvValue = fc.oneof(
  fc.array(fc.array(nvToken, { minLength: 1, maxLength: 4 }).map((a) => a.join(',')), { minLength: 1, maxLength: 4 }).chain((alts) => fc.constantFrom(' ', '  ', '\t', ' , ').map((sep) => alts.join(sep))),
  fc.string({ unit: 'binary', maxLength: 40 }),
);
const envArb = fc.dictionary(
  fc.oneof(fc.constantFrom('NVIDIA_REQUIRE_CUDA', 'NVIDIA_REQUIRE_DRIVER', 'NVIDIA_REQUIRE_X', 'NVIDIA_REQUIRE_JETPACK_X', 'NVIDIA_DISABLE_REQUIRE', 'CUDA_VERSION', '__proto__', 'constructor'), fc.string({ maxLength: 20 }).map((s) => `NVIDIA_REQUIRE_${s}`)),
  fc.oneof(nvValue, fc.constantFrom('1', 'true', 'yes', '12.4.127', '11.2.2.1', 'latest', 'v11.6', '12', ' 12.4', '4294967296.0')),
  { maxKeys: 6 },
);
const hostValues = {
  cuda: fc.constantFrom('12.4', '11.8', '12.2', '10.0', '13.0', '12'),
  driver: fc.constantFrom('535.54.03', '470.82.01', '550.163.01', '418.0', '535.104.05'),
  arch: fc.constantFrom('8.0', '7.5', '9.0', '6.1'),
  brand: fc.constantFrom('tesla', 'geforce', 'nvidia', 'quadro', 'Tesla'),
};
const partialHost = fc.record({
  cuda: fc.option(hostValues.cuda, { nil: null }),
  driver: fc.option(hostValues.driver, { nil: null }),
  arch: fc.option(hostValues.arch, { nil: null }),
  brand: fc.option(hostValues.brand, { nil: null }),
});
const fullHost = fc.record({ cuda: hostValues.cuda, driver: hostValues.driver, arch: hostValues.arch, brand: hostValues.brand });

/** Everything a user sees of an evaluation (the explanation is rendered lazily: asking for it must not throw either). */
function seen(e: ReturnType<typeof evaluateRequirements>) {
  return { status: e.status, failed: e.failed.map((r) => r.variable), undecided: e.undecided.map((r) => r.variable), missing: e.missing, message: e.message, refusal: e.refusal, refusalKind: e.refusalKind };
}

describe('NVIDIA_REQUIRE_* (src/gpu/nvidia-require.ts)', () => {
  it('parsing and evaluating never throw on arbitrary image environments; the status is pass, fail or unknown; a prepared host agrees with a plain one', () => {
    fc.assert(
      fc.property(envArb, partialHost, (env, host) => {
        const parsed = parseRequirements(env);
        const plain = seen(evaluateRequirements(parsed, host));
        expect(['pass', 'fail', 'unknown']).toContain(plain.status);
        expect(seen(evaluateRequirements(parsed, prepareHost(host))), 'prepareHost is an optimisation, not another judge').toEqual(plain);
        expect(seen(evaluateRequirements(parseRequirements(env), host)), 'evaluating again gives the same answer').toEqual(plain);
      }),
      opts(3000),
    );
  });

  it('with host facts missing, "pass" and "fail" hold for every host that has those facts (unknown is never guessed)', () => {
    fc.assert(
      fc.property(envArb, partialHost, fullHost, (env, partial, fill) => {
        const parsed = parseRequirements(env);
        const status = evaluateRequirements(parsed, partial).status;
        if (status === 'unknown') return;
        const completed: GpuHostFacts = {
          cuda: partial.cuda ?? fill.cuda,
          driver: partial.driver ?? fill.driver,
          arch: partial.arch ?? fill.arch,
          brand: partial.brand ?? fill.brand,
        };
        expect(evaluateRequirements(parsed, completed).status, `partial host ${JSON.stringify(partial)} said ${status}; completed ${JSON.stringify(completed)}`).toBe(status);
      }),
      opts(3000),
    );
  });

  it('NVIDIA_DISABLE_REQUIRE=true passes whatever else is set', () => {
    fc.assert(
      fc.property(envArb, partialHost, fc.constantFrom('1', 't', 'T', 'true', 'TRUE', 'True'), (env, host, v) => {
        expect(evaluateRequirements(parseRequirements({ ...env, NVIDIA_DISABLE_REQUIRE: v }), host).status).toBe('pass');
      }),
      opts(500),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// versions

const versionString = fc.tuple(fc.constantFrom('', 'v', 'V', ' '), fc.array(fc.oneof(fc.nat({ max: 600 }).map(String), fc.constantFrom('0', '00', '05', '010')), { minLength: 1, maxLength: 5 }), fc.constantFrom('', '-rc1', '+cuda', 'rc2', '~', ' ')).map(([p, parts, s]) => `${p}${parts.join('.')}${s}`);

describe('versions (src/util/version.ts)', () => {
  it('parseVersion never throws; it gives null or whole non-negative components', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 30 }), versionString, fc.constantFrom('99999999999999999999.1', '1e400', '0x10', '١٢.٣', '.1', '1..2')), (s) => {
        const v = parseVersion(s);
        if (v === null) return;
        expect(v.length).toBeGreaterThan(0);
        for (const n of v) expect(Number.isSafeInteger(n) && n >= 0, `${JSON.stringify(s)} -> ${JSON.stringify(v)}`).toBe(true);
      }),
      opts(5000),
    );
  });

  it('parseVersion reads back the components it is given (leading zeros insignificant)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 1_000_000 }), { minLength: 1, maxLength: 6 }), fc.boolean(), (parts, pad) => {
        expect(parseVersion(parts.map((p) => (pad ? `0${p}` : String(p))).join('.'))).toEqual(parts);
      }),
      opts(2000),
    );
  });

  it('compareVersions is an order: reflexive, antisymmetric, transitive; trailing zeros do not count; it throws only FactsError', () => {
    fc.assert(
      fc.property(versionString, versionString, versionString, (a, b, c) => {
        expect(compareVersions(a, a)).toBe(0);
        expect(compareVersions(a, b), `${a} vs ${b}`).toBe(-compareVersions(b, a) || 0);
        if (compareVersions(a, b) <= 0 && compareVersions(b, c) <= 0) expect(compareVersions(a, c), `${a} <= ${b} <= ${c}`).toBeLessThanOrEqual(0);
        const t = parseVersion(a)!;
        expect(compareVersions(t, [...t, 0, 0])).toBe(0);
      }),
      opts(3000),
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 20 }), (a, b) => throwsOnly(FactsError, () => compareVersions(a, b))),
      opts(2000),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// image references

const refDir = mkdtempSync(join(tmpdir(), 'cs-props-ref-'));
// A file system state that would tempt a parser that looks at the disk: paths with colons exist.
mkdirSync(join(refDir, 'img:v1'), { recursive: true });
mkdirSync(join(refDir, 'img'), { recursive: true });
writeFileSync(join(refDir, 'a.tar'), '');
writeFileSync(join(refDir, 'a.tar:latest'), '');
afterAll(() => rmSync(refDir, { recursive: true, force: true }));

const lower = fc.stringMatching(/^[a-z0-9]{1,6}$/);
const pathComponent = fc.tuple(lower, fc.array(fc.tuple(fc.constantFrom('.', '_', '__', '-', '--'), lower), { maxLength: 2 })).map(([a, rest]) => a + rest.map(([s, b]) => s + b).join(''));
const domain = fc.oneof(fc.constantFrom('docker.io', 'index.docker.io', 'ghcr.io', 'localhost', 'localhost:5000', '127.0.0.1:5000', '[::1]:5000', 'registry.example.com:443', 'Quay.IO'));
const tagArb = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/);
const digestArb = fc.constantFrom(`sha256:${'a'.repeat(64)}`, `sha256:${'0123456789abcdef'.repeat(4)}`, `sha512:${'f'.repeat(128)}`);
const dockerRef = fc
  .tuple(fc.option(domain, { nil: undefined }), fc.array(pathComponent, { minLength: 1, maxLength: 3 }), fc.option(tagArb, { nil: undefined }), fc.option(digestArb, { nil: undefined }))
  .map(([d, p, t, g]) => `${d ? `${d}/` : ''}${p.join('/')}${t ? `:${t}` : ''}${g ? `@${g}` : ''}`);

const localRest = fc.oneof(
  fc.constantFrom(join(refDir, 'img:v1'), join(refDir, 'img'), `${join(refDir, 'img')}:v1`, join(refDir, 'a.tar'), `${join(refDir, 'a.tar')}:latest`, '/no/such:tag', 'rel/path:x', 'a:b:c', 'x:', ':x', '/p:t/q'),
  fc.string({ maxLength: 20 }).filter((s) => s !== ''),
);

describe('image references (src/image/reference.ts, src/image/docker-reference.ts)', () => {
  it('parseReference throws only ImageReferenceError (one line) and gives the same answer every time', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), localRest.chain((r) => fc.constantFrom('oci', 'oci-archive', 'docker-archive', 'dir', 'tar', 'ch-image', 'docker:/', 'OCI').map((t) => `${t}:${r}`)), dockerRef), (raw) => {
        throwsOnly(ImageReferenceError, () => parseReference(raw));
        let a: unknown;
        let b: unknown;
        try {
          a = parseReference(raw);
        } catch (e) {
          a = (e as Error).message;
        }
        try {
          b = parseReference(raw);
        } catch (e) {
          b = (e as Error).message;
        }
        expect(b).toEqual(a);
      }),
      opts(4000),
    );
  });

  it('a local reference splits into PATH and :TAG by the text alone (paths with colons on disk make no difference), and the parts give back the reference', () => {
    fc.assert(
      fc.property(fc.constantFrom('oci', 'oci-archive', 'docker-archive', 'dir', 'tar'), localRest.filter((r) => !r.includes('\n') && !r.includes('\0') && !r.startsWith('//')), (t, rest) => {
        const r = parseReference(`${t}:${rest}`);
        expect(r.transport).toBe(t);
        if (r.transport === 'dir' || r.transport === 'tar') {
          expect(r.path).toBe(rest);
          return;
        }
        if (r.transport !== 'oci' && r.transport !== 'oci-archive' && r.transport !== 'docker-archive') throw new Error(`unexpected ${r.transport}`);
        expect(r.whole).toBe(rest);
        const i = rest.lastIndexOf(':');
        const tagged = i > 0 && i < rest.length - 1 && !rest.slice(i + 1).includes('/');
        expect(r.tag).toBe(tagged ? rest.slice(i + 1) : null);
        expect(r.tag === null ? r.path : `${r.path}:${r.tag}`).toBe(r.tag === null && rest.endsWith(':') ? rest.slice(0, -1) : rest);
      }),
      opts(3000),
    );
  });

  it('parseDockerReference throws only ImageReferenceError on arbitrary text, and isDockerReference says exactly when it succeeds', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), dockerRef, dockerRef.map((s) => s.toUpperCase())), (s) => {
        throwsOnly(ImageReferenceError, () => parseDockerReference(s));
        let ok = true;
        try {
          parseDockerReference(s);
        } catch {
          ok = false;
        }
        expect(isDockerReference(s)).toBe(ok);
      }),
      opts(4000),
    );
  });

  it('the canonical form of a registry reference (and the familiar one, where Docker\'s is unambiguous) parses back to the same reference', () => {
    fc.assert(
      fc.property(dockerRef, (s) => {
        let r;
        try {
          r = parseDockerReference(s);
        } catch {
          return; // e.g. over the length limit
        }
        const c = parseDockerReference(r.canonical);
        expect({ ...c, tagDefaulted: r.tagDefaulted }, `${s} -> ${r.canonical}`).toEqual(r);
        // Docker's FamiliarString drops docker.io/ even when the path's first component looks like a
        // registry host (docker.io/0.0/x -> 0.0/x, which reads back as registry 0.0); the same here.
        const first = r.familiar.split('/')[0]!;
        const looksLikeHost = r.familiar.includes('/') && (/[.:]/.test(first) || first === 'localhost');
        if (!looksLikeHost) expect(parseDockerReference(r.familiar).canonical, `${s} -> familiar ${r.familiar}`).toBe(r.canonical);
        expect(parseReference(`docker://${s}`)).toMatchObject({ transport: 'docker', docker: r });
      }),
      opts(3000),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// JSON depth

/** Nesting depth the obvious recursive way: a scalar is 0, a container 1 + its deepest child. */
function refDepth(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0;
  const kids = Array.isArray(v) ? v : Object.values(v as object);
  return 1 + kids.reduce((m: number, k) => Math.max(m, refDepth(k)), 0);
}

describe('JSON depth (src/model/boundary.ts jsonDepth)', () => {
  const tricky = fc.constantFrom('[', ']', '{', '}', '"', '\\', '\\"', '\\\\', '[[[', '"]}');
  const value = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small', withCrossShrink: true }, fc.jsonValue({ maxDepth: 2 }), tricky, fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(fc.oneof(fc.string({ maxLength: 4 }), tricky), tie('v'), { maxKeys: 3 })),
  })).v;

  it('agrees with a recursive count on random JSON (brackets and escapes inside strings included), however it is formatted', () => {
    fc.assert(
      fc.property(value, fc.constantFrom(0, 2), (v, indent) => {
        const text = JSON.stringify(v, null, indent);
        expect(jsonDepth(text, 10_000), text.slice(0, 200)).toBe(refDepth(v));
      }),
      opts(3000),
    );
  });

  it('goes past the limit exactly when the document is deeper than it (the limit check before parsing is sound)', () => {
    fc.assert(
      fc.property(value, fc.nat({ max: 8 }), (v, max) => {
        const text = JSON.stringify(v);
        expect(jsonDepth(text, max) > max).toBe(refDepth(v) > max);
      }),
      opts(3000),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// PAX records

/** PAX records as a correct writer encodes them: `LEN KEY=VALUE\n`, LEN counting itself. */
function encodePax(records: [string, string][]): Buffer {
  return Buffer.concat(
    records.map(([k, v]) => {
      const body = Buffer.from(` ${k}=${v}\n`, 'utf8');
      let len = body.length + 1;
      while (String(len).length + body.length !== len) len = String(len).length + body.length;
      return Buffer.concat([Buffer.from(String(len)), body]);
    }),
  );
}

describe('PAX records (src/image/tar-index.ts parsePax)', () => {
  const key = fc.oneof(fc.constantFrom('path', 'size', 'linkpath', '__proto__', 'constructor', 'toString', 'SCHILY.xattr.user.x', 'hasOwnProperty'), fc.string({ maxLength: 12 }).filter((k) => k !== '' && !k.includes('=') && !k.includes('\n')));
  const val = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('-1', 'abc', '0.5', '99999999999999999999', ''));

  it('throws only FormatError on arbitrary bytes, and never touches Object.prototype', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)), fc.array(fc.oneof(fc.tuple(key, val).map(([k, v]) => encodePax([[k, v]])), fc.constantFrom('5 path=x\n', '999 a=b\n', '-1 a=b\n', '0 \n', '12path=xyz\n', '3 \n', '11 path=xy').map((s) => Buffer.from(s))), { maxLength: 5 }).map((p) => Buffer.concat(p))), (data) => {
        throwsOnly(FormatError, () => parsePax(data, 'member M'));
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect(Object.prototype.toString.call({})).toBe('[object Object]');
      }),
      opts(4000),
    );
  });

  it('reads back exactly the records a correct writer wrote (a later record of the same key wins), __proto__ and friends as plain keys', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(key, val), { maxLength: 6 }), (records) => {
        const out = parsePax(encodePax(records), 'member M');
        const want: Record<string, string> = Object.create(null);
        for (const [k, v] of records) want[k] = v;
        expect({ ...out }).toEqual({ ...want });
        expect(Object.getPrototypeOf(out)).toBe(null);
      }),
      opts(3000),
    );
  });

  it('paxSize accepts only plain digit strings of safe integers', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 20 }), fc.nat().map(String), fc.constantFrom('-1', '0.5', '1e3', ' 12', '+5', '99999999999999999999')), (s) => {
        const n = paxSize(s);
        if (/^[0-9]{1,16}$/.test(s) && Number.isSafeInteger(Number(s))) expect(n).toBe(Number(s));
        else expect(Number.isNaN(n), `${JSON.stringify(s)} -> ${n}`).toBe(true);
      }),
      opts(2000),
    );
  });
});
