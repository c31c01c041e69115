import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { FactsError } from '../src/errors/index.js';
import {
  ARCHSPEC_ENV,
  Archspec,
  describeCpu,
  detectTarget,
  inferMachine,
  loadArchspec,
  parseCpuinfo,
} from '../src/arch/index.js';

const dumps = fileURLToPath(new URL('./data/archspec-targets/', import.meta.url));
const dumpFiles = readdirSync(dumps).filter((f) => f.startsWith('linux-'));
const read = (f: string): string => readFileSync(join(dumps, f), 'utf8');

describe('detectTarget on archspec cpuinfo dumps', () => {
  const spec = loadArchspec();
  it('has the dumps', () => {
    expect(dumpFiles.length).toBeGreaterThanOrEqual(14);
  });
  for (const file of dumpFiles) {
    // linux-<os>-<target>: the target is everything after the second dash.
    const expected = file.split('-').slice(2).join('-');
    it(`${file} → ${expected}`, () => {
      const text = read(file);
      let machine = inferMachine(text);
      expect(machine).not.toBeNull();
      expect(spec.has(expected)).toBe(true);
      // cpuinfo cannot tell POWER byte order (inferMachine says ppc64le); the big-endian
      // dump's expected target (power9, family ppc64) says it was a ppc64 host.
      if (machine === 'ppc64le' && spec.family(expected) === 'ppc64') machine = 'ppc64';
      expect(detectTarget(spec, text, machine ?? '')).toBe(expected);
    });
  }

  it('one flag missing (BIOS) still gives a target above the best generic one (step 4)', () => {
    const text = read('linux-rhel7-skylake_avx512');
    const without = (flag: string): string =>
      text.replace(/^(flags\s*:.*)$/m, (line) => line.replace(new RegExp(` ${flag}(?= |$)`), ''));
    expect(without('avx512f')).not.toBe(text);
    // without avx512f: x86_64_v4 is out, best generic is x86_64_v3, answer the best Intel above it
    const a = detectTarget(spec, without('avx512f'), 'x86_64');
    expect(a).toBe('skylake');
    expect(spec.lt('x86_64_v3', a)).toBe(true);
    // without clflushopt (a skylake feature, not an x86-64-v4 one): best generic is x86_64_v4
    // and no Intel target above it is compatible, so the answer is x86_64_v4 (step 5)
    expect(detectTarget(spec, without('clflushopt'), 'x86_64')).toBe('x86_64_v4');
    // cascadelake dump without avx512_vnni: skylake_avx512
    const cl = read('linux-centos7-cascadelake').replace(' avx512_vnni', '');
    expect(detectTarget(spec, cl, 'x86_64')).toBe('skylake_avx512');
  });

  it('falls back to the generic target', () => {
    expect(detectTarget(spec, 'processor : 0\nvendor_id : Foo\nflags : fpu lm\n', 'x86_64')).toBe('x86_64');
    expect(detectTarget(spec, 'processor : 0\ncpu : unknown\n', 'ppc64le')).toBe('ppc64le');
    expect(detectTarget(spec, 'processor : 0\nisa : rv64gc\n', 'riscv64')).toBe('riscv64');
    expect(detectTarget(spec, 'vendor_id : IBM/S390\n', 's390x')).toBe('s390x');
    // aarch64 with an unknown part and few features: aarch64 (armv8.Xa are never answers)
    expect(
      detectTarget(spec, 'processor : 0\nFeatures : fp asimd\nCPU implementer : 0x41\nCPU part : 0xfff\n', 'aarch64'),
    ).toBe('aarch64');
  });

  it('POWER dumps on either byte order', () => {
    expect(detectTarget(spec, read('linux-rhel8-power9'), 'ppc64')).toBe('power9');
    expect(detectTarget(spec, read('linux-rhel8-power9'), 'ppc64le')).toBe('power9le');
    expect(detectTarget(spec, read('linux-centos7-power8le'), 'ppc64le')).toBe('power8le');
  });
});

describe('parseCpuinfo / inferMachine / describeCpu', () => {
  it('reads only the first block', () => {
    const info = parseCpuinfo('\nprocessor\t: 0\nmodel name : a: b\n\nprocessor : 1\nflags : x\n');
    expect({ ...info }).toEqual({ processor: '0', 'model name': 'a: b' });
  });
  it('infers machines', () => {
    expect(inferMachine(read('linux-rhel7-haswell'))).toBe('x86_64');
    expect(inferMachine('vendor_id : GenuineIntel\nflags : fpu sse\n')).toBe('i686');
    expect(inferMachine(read('linux-amazon-neoverse_n1'))).toBe('aarch64');
    expect(inferMachine(read('linux-centos7-power8le'))).toBe('ppc64le');
    expect(inferMachine(read('linux-sifive-u74mc'))).toBe('riscv64');
    expect(inferMachine('vendor_id       : IBM/S390\n# processors    : 4\n')).toBe('s390x');
    expect(inferMachine('hello\n')).toBeNull();
  });
  it('describes the host', () => {
    const spec = loadArchspec();
    const arm = describeCpu(spec, read('linux-rocky8-a64fx'), 'aarch64');
    expect(arm.vendor).toBe('Fujitsu');
    expect(arm.cpupart).toBe('0x001');
    expect(arm.features.has('sve')).toBe(true);
    const x = describeCpu(spec, read('linux-rhel7-haswell'), 'x86_64');
    expect(x.vendor).toBe('GenuineIntel');
    expect(x.features.has('sse3')).toBe(true); // from ssse3
    expect(describeCpu(spec, read('linux-centos7-power8le'), 'ppc64le').generation).toBe(8);
  });
});

describe('Archspec graph', () => {
  const spec = loadArchspec();
  it('caches the default load', () => {
    expect(loadArchspec()).toBe(spec);
  });
  it('targets', () => {
    const h = spec.target('haswell');
    expect(h?.vendor).toBe('GenuineIntel');
    expect(h?.parents).toEqual(['ivybridge', 'x86_64_v3']);
    expect(h?.features.has('avx2')).toBe(true);
    expect(h?.features.has('sse3')).toBe(true); // ssse3 ⇒ sse3
    expect(spec.target('power9')?.generation).toBe(9);
    expect(spec.target('neoverse_n1')?.cpupart).toBe('0xd0c');
    expect(spec.target('nope')).toBeUndefined();
    expect(spec.names()).toContain('zen4');
  });
  it('ancestors in archspec order', () => {
    expect(spec.ancestors('haswell').slice(0, 3)).toEqual(['ivybridge', 'x86_64_v3', 'sandybridge']);
    expect(spec.ancestors('x86_64')).toEqual([]);
    expect(new Set(spec.ancestors('icelake')).size).toBe(spec.ancestors('icelake').length);
    expect(spec.ancestors('icelake')).toContain('x86_64');
    expect(() => spec.ancestors('nope')).toThrow(FactsError);
  });
  it('partial order', () => {
    expect(spec.le('haswell', 'skylake')).toBe(true);
    expect(spec.lt('haswell', 'skylake')).toBe(true);
    expect(spec.le('skylake', 'haswell')).toBe(false);
    expect(spec.le('x86_64', 'zen4')).toBe(true);
    expect(spec.le('zen4', 'zen4')).toBe(true);
    expect(spec.lt('zen4', 'zen4')).toBe(false);
    expect(spec.comparable('cascadelake', 'cannonlake')).toBe(false);
    expect(spec.le('cascadelake', 'cannonlake') || spec.le('cannonlake', 'cascadelake')).toBe(false);
    expect(spec.comparable('haswell', 'zen4')).toBe(false);
    expect(spec.lt('power8', 'power9')).toBe(true); // power9 > power8
    expect(spec.family('neoverse_n1')).toBe('aarch64');
    expect(spec.family('power9le')).toBe('ppc64le');
    expect(spec.family('x86_64')).toBe('x86_64');
    expect(spec.le('nope', 'nope')).toBe(false);
  });
  it('feature aliases', () => {
    expect(spec.hasFeature('skylake_avx512', 'avx512')).toBe(true);
    expect(spec.hasFeature('haswell', 'avx512')).toBe(false);
    expect(spec.hasFeature('haswell', 'sse4.2')).toBe(true);
    expect(spec.hasFeature('neoverse_n1', 'neon')).toBe(true); // families: aarch64
    expect(spec.hasFeature('aarch64', 'neon')).toBe(true);
    expect(spec.hasFeature('haswell', 'neon')).toBe(false);
    expect(spec.hasFeature('power9le', 'altivec')).toBe(true);
    expect(spec.hasFeature('nope', 'avx')).toBe(false);
  });
  it('compiler flags', () => {
    // microarchitectures.json: haswell gcc [{versions "4.9:", flags "-march={name} -mtune={name}"},
    // {versions "4.8:4.8.5", name "core-avx2", ...}]
    expect(spec.compilerFlags('haswell', 'gcc', '12')).toBe('-march=haswell -mtune=haswell');
    expect(spec.compilerFlags('haswell', 'gcc', '4.8.2')).toBe('-march=core-avx2 -mtune=core-avx2');
    expect(spec.compilerFlags('haswell', 'gcc', '4.8.9')).toBeNull(); // outside both ranges
    expect(spec.compilerFlags('haswell', 'gcc', '4.7')).toBeNull();
    expect(spec.compilerFlags('haswell', 'gcc')).toBe('-march=haswell -mtune=haswell');
    expect(spec.compilerFlags('haswell', 'nvhpc', '23.1')).toBe('-tp haswell');
    expect(spec.compilerFlags('neoverse_n1', 'gcc', '8.2.0')).toBe(
      '-march=armv8.2-a+fp16+rcpc+dotprod+crypto -mtune=cortex-a72',
    );
    expect(spec.compilerFlags('neoverse_n1', 'gcc', '12.1')).toBe('-mcpu=neoverse-n1');
    expect(spec.compilerFlags('x86_64', 'gcc', '12')).toBe('-march=x86-64 -mtune=generic');
    expect(spec.compilerFlags('haswell', 'no-such-compiler', '1')).toBeNull();
    // x86_64 has an (empty) nvhpc list; no range matches
    expect(spec.compilerFlags('x86_64', 'nvhpc', '23')).toBeNull();
  });
  it('null (no guess) when only an ancestor knows the compiler', () => {
    const json = {
      microarchitectures: {
        root: { from: [], vendor: 'generic', features: [], compilers: { gcc: [{ versions: ':', flags: '-march=root' }] } },
        kid: { from: ['root'], vendor: 'V', features: ['a'] },
      },
      feature_aliases: {},
    };
    const s = new Archspec(json, 'inline');
    expect(s.compilerFlags('root', 'gcc', '1')).toBe('-march=root');
    expect(s.compilerFlags('kid', 'gcc', '1')).toBeNull();
  });
});

describe('loadArchspec errors and override', () => {
  const saved = process.env[ARCHSPEC_ENV];
  let dir: string | undefined;
  afterEach(() => {
    if (saved === undefined) delete process.env[ARCHSPEC_ENV];
    else process.env[ARCHSPEC_ENV] = saved;
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });
  const tmp = (): string => (dir = mkdtempSync(join(tmpdir(), 'archspec-test-')));

  it('env pointing at a non-JSON file: FactsError naming the file', () => {
    const f = join(tmp(), 'bad.json');
    writeFileSync(f, '{not json');
    process.env[ARCHSPEC_ENV] = f;
    expect(() => loadArchspec()).toThrow(FactsError);
    expect(() => loadArchspec()).toThrow(f);
    try {
      loadArchspec();
    } catch (e) {
      expect((e as Error).message).not.toContain('\n');
    }
  });
  it('missing file and wrong shape: FactsError naming the file', () => {
    const d = tmp();
    const missing = join(d, 'missing.json');
    expect(() => loadArchspec(missing)).toThrow(FactsError);
    expect(() => loadArchspec(missing)).toThrow(missing);
    const shape = join(d, 'shape.json');
    writeFileSync(shape, JSON.stringify({ microarchitectures: { x: { from: 'y', vendor: 'v', features: [] } } }));
    expect(() => loadArchspec(shape)).toThrow(/shape\.json is not a microarchitectures\.json: microarchitectures\.x\.from/);
    const orphan = join(d, 'orphan.json');
    writeFileSync(orphan, JSON.stringify({ microarchitectures: { x: { from: ['y'], vendor: 'v', features: [] } } }));
    expect(() => loadArchspec(orphan)).toThrow(FactsError);
  });
  it('env pointing at a good copy is used', () => {
    const f = join(tmp(), 'micro.json');
    writeFileSync(
      f,
      JSON.stringify({ microarchitectures: { x86_64: { from: [], vendor: 'generic', features: [] } }, feature_aliases: {} }),
    );
    process.env[ARCHSPEC_ENV] = f;
    const s = loadArchspec();
    expect(s.source).toBe(f);
    expect(s.names()).toEqual(['x86_64']);
    expect(detectTarget(s, read('linux-rhel7-haswell'), 'x86_64')).toBe('x86_64');
  });
});
