import { describe, expect, it } from 'vitest';
import { loadCudaTable, maxCudaForDriver } from '../src/gpu/cuda-table.js';
import {
  describeRequirement,
  evaluateRequirements,
  parseRequirements,
  prepareHost,
} from '../src/gpu/nvidia-require.js';
import type { GpuHostFacts } from '../src/gpu/nvidia-require.js';

// Real values from NVIDIA's CUDA image Dockerfiles (nvidia/cuda base images,
// gitlab.com/nvidia/container-images/cuda, `ENV NVIDIA_REQUIRE_CUDA=...`).
const CUDA_12_4 =
  'cuda>=12.4 brand=tesla,driver>=470,driver<471 brand=unknown,driver>=470,driver<471 brand=nvidia,driver>=470,driver<471 brand=nvidiartx,driver>=470,driver<471 brand=geforce,driver>=470,driver<471 brand=geforcertx,driver>=470,driver<471 brand=quadro,driver>=470,driver<471 brand=quadrortx,driver>=470,driver<471 brand=titan,driver>=470,driver<471 brand=titanrtx,driver>=470,driver<471 brand=tesla,driver>=525,driver<526 brand=tesla,driver>=535,driver<536';
const CUDA_11_8 = 'cuda>=11.8 brand=tesla,driver>=470,driver<471';
const CUDA_10_2 =
  'cuda>=10.2 brand=tesla,driver>=396,driver<397 brand=tesla,driver>=410,driver<411 brand=tesla,driver>=418,driver<419 brand=tesla,driver>=440,driver<441';
const INVALID = 'nvidia-container-cli: requirement error: invalid expression';

/** A host as callers build it: CUDA level from the driver table. */
function host(driver: string, brand: string | null = null, arch: string | null = null): GpuHostFacts {
  return { driver, cuda: maxCudaForDriver(driver), brand, arch };
}

function check(env: Record<string, string>, h: GpuHostFacts) {
  return evaluateRequirements(parseRequirements(env), h);
}

function req(value: string) {
  const r = parseRequirements({ NVIDIA_REQUIRE_X: value }).requirements[0];
  if (!r) throw new Error(`no requirement for ${JSON.stringify(value)}`);
  return r;
}

// Tokenising: libnvidia-container src/cli/dsl.c, dsl_evaluate (strsep on " ", then on ",",
// empty pieces skipped) and evaluate_rule (name, operator run, value).
describe('parseRequirements: tokens', () => {
  it('reads alternatives (space) of constraints (comma) from the 12.4 image', () => {
    const p = parseRequirements({ NVIDIA_REQUIRE_CUDA: CUDA_12_4, PATH: '/usr/bin' });
    expect(p.errors).toEqual([]);
    expect(p.disabled).toBe(false);
    expect(p.requirements).toHaveLength(1);
    const r = p.requirements[0]!;
    expect(r.variable).toBe('NVIDIA_REQUIRE_CUDA');
    expect(r.tokens).toHaveLength(13);
    expect(r.alternatives).toHaveLength(13);
    expect(r.alternatives[0]).toMatchObject([{ ok: true, property: 'cuda', op: '>=', value: '12.4', version: [12, 4] }]);
    expect(r.alternatives[12]).toMatchObject([
      { property: 'brand', op: '=', brand: 'tesla' },
      { property: 'driver', op: '>=', version: [535] },
      { property: 'driver', op: '<', version: [536] },
    ]);
  });

  it('accepts every operator, and reads a lone "!" as "!=" (strncmp over the run length)', () => {
    const r = req('arch>=8.0,arch<=9.0,arch!=8.6,driver>500,driver<600,cuda=12.4 brand!=geforce brand!tesla');
    expect(r.alternatives.flat().map((c) => c.ok && c.op)).toEqual(['>=', '<=', '!=', '>', '<', '=', '!=', '!=']);
    expect(r.alternatives[2]).toMatchObject([{ ok: true, property: 'brand', value: 'tesla' }]);
  });

  it('skips doubled separators, blank variables and NVIDIA_REQUIRE_JETPACK*', () => {
    // cuda_image.go GetRequirements: !strings.HasPrefix(name, "NVIDIA_REQUIRE_JETPACK").
    const p = parseRequirements({
      NVIDIA_REQUIRE_CUDA: '  cuda>=11.8   brand=tesla,,driver>=470,driver<471 ',
      NVIDIA_REQUIRE_EMPTY: '   ',
      NVIDIA_REQUIRE_NONE: '',
      NVIDIA_REQUIRE_COMMAS: ' , ,, ',
      NVIDIA_REQUIRE_JETPACK: 'csv-mounts=all',
      NVIDIA_REQUIRE_JETPACK_HOST_MOUNTS: 'base-only',
    });
    expect(p.errors).toEqual([]);
    expect(p.requirements.map((r) => r.variable)).toEqual(['NVIDIA_REQUIRE_CUDA']);
    expect(p.requirements[0]!.tokens.map((a) => a.length)).toEqual([1, 3]);
  });

  it('splits on the ASCII space only: a tab or newline stays inside its token', () => {
    expect(req('cuda>=12.4\tbrand=tesla').tokens.map((a) => a.map((t) => t.raw))).toEqual([['cuda>=12.4\tbrand=tesla']]);
    expect(req('cuda>=12.4\nbrand=tesla driver>=470').tokens.map((a) => a.map((t) => t.raw))).toEqual([
      ['cuda>=12.4\nbrand=tesla'],
      ['driver>=470'],
    ]);
    // "\t" alone is a token, not a blank value.
    expect(req('\t').tokens).toHaveLength(1);
  });

  it('ends at a comma-only alternative: the rest is never read', () => {
    const r = req('cuda>=99 , cuda>=1');
    expect(r.tokens.map((a) => a.map((t) => t.raw))).toEqual([['cuda>=99']]);
    expect(r.unreachable).toBe(', cuda>=1');
    expect(req(', cuda>=99').tokens).toEqual([]);
  });

  it('does not judge malformed tokens when parsing (they are judged when reached)', () => {
    // Changed: these used to be reported in `errors` and the variable dropped.
    const p = parseRequirements({
      NVIDIA_REQUIRE_CUDA: 'cuda>>12',
      NVIDIA_REQUIRE_COLOUR: 'colour=red',
      NVIDIA_REQUIRE_BRAND: 'brand>=tesla',
      NVIDIA_REQUIRE_DRIVER: 'driver>=470 driver',
      NVIDIA_REQUIRE_OK: 'driver>=470',
    });
    expect(p.errors).toEqual([]);
    expect(p.requirements.map((r) => r.variable)).toEqual([
      'NVIDIA_REQUIRE_CUDA', 'NVIDIA_REQUIRE_BRAND', 'NVIDIA_REQUIRE_COLOUR', 'NVIDIA_REQUIRE_DRIVER', 'NVIDIA_REQUIRE_OK',
    ]);
    for (const r of p.requirements) for (const alt of r.tokens) for (const t of alt) expect(t.isParsed).toBe(false);
    // Parsed on demand, with the reason.
    const reason = (v: string) => {
      const t = p.requirements.find((r) => r.variable === v)!.alternatives.flat().find((c) => !c.ok);
      return t && !t.ok ? t.reason : '';
    };
    expect(reason('NVIDIA_REQUIRE_CUDA')).toContain('">>" is not an operator');
    expect(reason('NVIDIA_REQUIRE_COLOUR')).toContain('unknown property "colour"');
    expect(reason('NVIDIA_REQUIRE_BRAND')).toContain('only with = and !=');
    expect(reason('NVIDIA_REQUIRE_DRIVER')).toContain('no operator');
  });

  it('tokenises once and parses each token at most once, when first reached', () => {
    const r = parseRequirements({ NVIDIA_REQUIRE_CUDA: CUDA_12_4 }).requirements[0]!;
    const first = r.tokens[0]![0]!;
    const last = r.tokens[12]![2]!;
    expect(first.isParsed).toBe(false);
    const h = prepareHost(host('550.54.14'));
    expect(evaluateRequirements([r], h).status).toBe('pass');
    expect(first.isParsed).toBe(true);
    expect(last.isParsed).toBe(false); // the hook stopped at the first alternative
    const parsed = first.parse();
    evaluateRequirements([r], h);
    expect(first.parse()).toBe(parsed);
    expect(r.tokens[0]![0]).toBe(first);
  });
});

// Legacy images: nvidia-container-toolkit internal/config/image/cuda_image.go, CUDA.IsLegacy,
// CUDA.GetRequirements, legacyVersion, parseMajorMinorVersion (Masterminds/semver v3
// NewVersion, coercing); the hook panics "failed to get requirements"
// (cmd/nvidia-container-runtime-hook/container_config.go, getNvidiaConfig).
describe('legacy CUDA_VERSION', () => {
  it('turns CUDA_VERSION into cuda>=MAJOR.MINOR (cases from TestParseMajorMinorVersionValid)', () => {
    const cases: [string, string][] = [
      ['0', '0.0'], ['8', '8.0'], ['7.5', '7.5'], ['9.0.116', '9.0'],
      ['4294967295.4294967295.4294967295', '4294967295.4294967295'], ['v11.6', '11.6'],
      // Ours: real nvidia/cuda values, a bare major, and what coercing semver also admits.
      ['11.2.2', '11.2'], ['12', '12.0'], ['10', '10.0'], ['12.4.1-rc1', '12.4'], ['12.4.1+build.7', '12.4'], ['012.04', '12.4'],
    ];
    for (const [v, mm] of cases) {
      const p = parseRequirements({ CUDA_VERSION: v });
      expect(p.errors, v).toEqual([]);
      expect(p.requirements.map((r) => [r.variable, r.raw]), v).toEqual([['CUDA_VERSION', `cuda>=${mm}`]]);
    }
    expect(check({ CUDA_VERSION: '11.2.2' }, host('460.27.03')).status).toBe('pass');
    expect(check({ CUDA_VERSION: '11.2.2' }, host('455.23.05')).status).toBe('fail');
  });

  it('fails whatever the host for what the semver parser rejects (TestParseMajorMinorVersionInvalid and more)', () => {
    const nvidias = ['foo', 'foo.5.10', '9.0.116.50', '9.0.116foo', '7.foo', '9.0.bar', '9.4294967296', '9.0.116.', '9..0', '9.', '.5.10', '-9', '+9', '-9.1.116', '-9.-1.-116'];
    const ours = ['11.2.2.1', 'latest', ' 11.2', '11.2\n', 'V12.4', '12.4.1-rc.01', '99999999999999999999.1', `1.${'1'.repeat(300)}`];
    for (const v of [...nvidias, ...ours]) {
      const p = parseRequirements({ CUDA_VERSION: v });
      expect(p.requirements, v).toEqual([]);
      expect(p.errors, v).toHaveLength(1);
      expect(p.errors[0], v).toMatch(/^CUDA_VERSION: /);
      expect(p.errors[0], v).toContain('failed to get requirements');
      expect(p.errors[0], v).toContain(JSON.stringify(v));
      expect(p.errors[0], v).not.toContain('\n');
      const r = evaluateRequirements(p, host('550.54.14', 'tesla', '9.0'));
      expect(r.status, v).toBe('fail');
      expect(r.refusal, v).toMatch(/^nvidia-container-runtime-hook: failed to get requirements failed to get version: invalid CUDA version /);
    }
    expect(parseRequirements({ CUDA_VERSION: '11.2.2.1' }).refusals[0]).toBe(
      'nvidia-container-runtime-hook: failed to get requirements failed to get version: invalid CUDA version 11.2.2.1: invalid version string: invalid semantic version',
    );
    expect(parseRequirements({ CUDA_VERSION: '9.4294967296' }).refusals[0]).toMatch(/invalid CUDA version 9\.4294967296: invalid minor version$/);
  });

  it('is legacy only without a non-empty NVIDIA_REQUIRE_CUDA (CUDA.IsLegacy)', () => {
    const modern = parseRequirements({ CUDA_VERSION: '12.4.1', NVIDIA_REQUIRE_CUDA: CUDA_12_4 });
    expect(modern.requirements.map((r) => r.variable)).toEqual(['NVIDIA_REQUIRE_CUDA']);
    expect(parseRequirements({ CUDA_VERSION: 'latest', NVIDIA_REQUIRE_CUDA: 'cuda>=12.4' }).errors).toEqual([]);
    const emptyRequire = parseRequirements({ CUDA_VERSION: '11.6', NVIDIA_REQUIRE_CUDA: '' });
    expect(emptyRequire.requirements.map((r) => r.raw)).toEqual(['cuda>=11.6']);
    // TestGetRequirements: "legacy image with additional requirement".
    const extra = parseRequirements({ CUDA_VERSION: '11.6', NVIDIA_REQUIRE_BRAND: 'brand=tesla' });
    expect(extra.requirements.map((r) => r.raw)).toEqual(['cuda>=11.6', 'brand=tesla']);
  });

  it('checks nothing, not even CUDA_VERSION, when NVIDIA_DISABLE_REQUIRE is true', () => {
    const p = parseRequirements({ CUDA_VERSION: 'latest', NVIDIA_DISABLE_REQUIRE: 'true' });
    expect(p.errors).toEqual([]);
    expect(evaluateRequirements(p, host('418.87.01')).status).toBe('pass');
  });
});

// NVIDIA_DISABLE_REQUIRE: cuda_image.go CUDA.HasDisableRequire (strconv.ParseBool).
describe('NVIDIA_DISABLE_REQUIRE', () => {
  it('is read as Go strconv.ParseBool does', () => {
    for (const v of ['1', 'true', 'TRUE', 'True', 't', 'T']) {
      expect(parseRequirements({ NVIDIA_DISABLE_REQUIRE: v, NVIDIA_REQUIRE_CUDA: 'cuda>=12.4' }).disabled, v).toBe(true);
    }
    for (const v of ['', '0', 'false', 'yes', 'on', ' true', 'tRUE']) {
      expect(parseRequirements({ NVIDIA_DISABLE_REQUIRE: v, NVIDIA_REQUIRE_CUDA: 'cuda>=12.4' }).disabled, v).toBe(false);
    }
  });

  it('makes the hook skip every requirement, malformed ones included', () => {
    const r = check({ NVIDIA_REQUIRE_CUDA: CUDA_12_4, NVIDIA_DISABLE_REQUIRE: 'true' }, host('418.87.01'));
    expect(r.status).toBe('pass');
    expect(r.message).toContain('NVIDIA_DISABLE_REQUIRE');
    expect(check({ NVIDIA_REQUIRE_CUDA: 'cuda>>12', NVIDIA_DISABLE_REQUIRE: '1' }, host('550.54.14')).status).toBe('pass');
    expect(check({ NVIDIA_REQUIRE_CUDA: CUDA_12_4, NVIDIA_DISABLE_REQUIRE: 'false' }, host('418.87.01')).status).toBe('fail');
  });
});

// One --require per requirement (cmd/nvidia-container-runtime-hook/main.go, doPrestart), at most
// 32 of them (libnvidia-container src/cli/cli.h `reqs[32]`, src/cli/configure.c configure_parser).
describe('number of requirements', () => {
  const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`NVIDIA_REQUIRE_V${String(i).padStart(2, '0')}`, 'driver>=1']));

  it('accepts 32 and fails 33 ("too many requirements"), counting blank and legacy ones', () => {
    expect(parseRequirements(many(32)).errors).toEqual([]);
    const p = parseRequirements(many(33));
    expect(p.errors).toHaveLength(1);
    expect(p.errors[0]).toContain('too many requirements');
    expect(evaluateRequirements(p, host('550.54.14')).status).toBe('fail');
    expect(evaluateRequirements(p, host('550.54.14')).refusal).toBe('nvidia-container-cli: input error: too many requirements');
    expect(parseRequirements({ ...many(31), NVIDIA_REQUIRE_BLANK: '' }).errors).toEqual([]);
    expect(parseRequirements({ ...many(32), NVIDIA_REQUIRE_BLANK: '' }).errors).toHaveLength(1);
    expect(parseRequirements({ ...many(32), CUDA_VERSION: '11.8.0' }).errors).toHaveLength(1);
    expect(parseRequirements({ ...many(40), NVIDIA_DISABLE_REQUIRE: 'true' }).errors).toEqual([]);
  });
});

describe('evaluateRequirements on nvidia/cuda 12.4 requirements', () => {
  const env = { NVIDIA_REQUIRE_CUDA: CUDA_12_4 };

  it('passes with driver 550.54.14 (CUDA 12.4)', () => {
    const r = check(env, host('550.54.14'));
    expect(r.status).toBe('pass');
    expect(r.message).toBe('NVIDIA_REQUIRE_CUDA is met (cuda>=12.4)');
    expect(r.refusal).toBeNull();
  });

  it('passes a Tesla with driver 535.104.05 via brand=tesla,driver>=535,driver<536', () => {
    const r = check(env, host('535.104.05', 'Tesla'));
    expect(r.status).toBe('pass');
    expect(r.message).toContain('brand=tesla,driver>=535,driver<536');
  });

  it('is unknown, not pass, for driver 535.104.05 when the brand is unknown', () => {
    const r = check(env, host('535.104.05'));
    expect(r.status).toBe('unknown');
    expect(r.missing).toEqual(['brand']);
    expect(r.undecided.map((q) => q.variable)).toEqual(['NVIDIA_REQUIRE_CUDA']);
    expect(r.failed).toEqual([]);
    expect(r.message).toContain('GPU brand is unknown');
    expect(r.message).toContain('driver 535.x with brand tesla');
    expect(r.refusal).toBeNull();
  });

  it('fails driver 535.104.05 on a GeForce (only Tesla has the 535 branch)', () => {
    expect(check(env, host('535.104.05', 'geforce')).status).toBe('fail');
  });

  it('passes driver 470.82.01 with brand geforce', () => {
    expect(check(env, host('470.82.01', 'geforce')).status).toBe('pass');
  });

  it('fails driver 520, naming what would satisfy it and quoting the hook', () => {
    for (const brand of ['geforce', 'tesla', null]) {
      const r = check(env, host('520.61.05', brand));
      expect(r.status, String(brand)).toBe('fail');
      expect(r.failed.map((q) => q.variable)).toEqual(['NVIDIA_REQUIRE_CUDA']);
      expect(r.message).toContain('this host has CUDA 11.8, driver 520.61.05');
      expect(r.message).toContain('CUDA >= 12.4');
      expect(r.message).toContain('driver 470.x with brand tesla, unknown, nvidia');
      expect(r.message).toContain('driver 535.x with brand tesla');
      // dsl.c dsl_evaluate: the first space-separated piece, with the cuda>= advice.
      expect(r.refusal).toBe(
        'nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.4, please update your driver to a newer version, or use an earlier cuda container',
      );
    }
    const withTable = evaluateRequirements(parseRequirements(env), host('520.61.05', 'geforce'), { table: loadCudaTable() });
    expect(withTable.message).toContain('CUDA >= 12.4 (driver >= 550.54.14)');
  });

  it('is unknown when the host driver is unknown', () => {
    const r = check(env, { brand: 'tesla' });
    expect(r.status).toBe('unknown');
    expect(r.missing.sort()).toEqual(['cuda', 'driver']);
  });
});

describe('evaluateRequirements on other real images and rules', () => {
  it('handles the 11.8 and 10.2 requirement strings', () => {
    expect(check({ NVIDIA_REQUIRE_CUDA: CUDA_11_8 }, host('520.61.05')).status).toBe('pass');
    expect(check({ NVIDIA_REQUIRE_CUDA: CUDA_11_8 }, host('470.82.01', 'tesla')).status).toBe('pass');
    expect(check({ NVIDIA_REQUIRE_CUDA: CUDA_11_8 }, host('470.82.01', 'geforce')).status).toBe('fail');
    expect(check({ NVIDIA_REQUIRE_CUDA: CUDA_11_8 }, host('470.82.01')).status).toBe('unknown');
    expect(check({ NVIDIA_REQUIRE_CUDA: CUDA_10_2 }, host('440.33.01')).status).toBe('pass');
    expect(check({ NVIDIA_REQUIRE_CUDA: CUDA_10_2 }, host('418.87.01', 'tesla')).status).toBe('pass');
    expect(check({ NVIDIA_REQUIRE_CUDA: CUDA_10_2 }, host('418.87.01', 'quadro')).status).toBe('fail');
  });

  it('ANDs several NVIDIA_REQUIRE_* variables', () => {
    const env = { NVIDIA_REQUIRE_CUDA: 'cuda>=11.0', NVIDIA_REQUIRE_ARCH: 'arch>=8.0' };
    expect(check(env, host('535.104.05', null, '8.6')).status).toBe('pass');
    const r = check(env, host('535.104.05', null, '7.0'));
    expect(r.status).toBe('fail');
    expect(r.failed.map((q) => q.variable)).toEqual(['NVIDIA_REQUIRE_ARCH']);
    expect(r.message).toContain('compute capability >= 8.0');
    expect(r.refusal).toBe('nvidia-container-cli: requirement error: unsatisfied condition: arch>=8.0');
    expect(check(env, host('535.104.05')).status).toBe('unknown');
    // A failing variable wins over an undecided one.
    expect(check(env, host('440.33.01')).status).toBe('fail');
  });

  it('passes an image without requirements', () => {
    const r = check({ PATH: '/bin' }, host('550.54.14'));
    expect(r.status).toBe('pass');
    expect(r.message).toContain('no NVIDIA_REQUIRE_*');
  });

  it('gives the same answers for a prepared host and a plain array of requirements', () => {
    const reqs = parseRequirements({ NVIDIA_REQUIRE_CUDA: CUDA_12_4 }).requirements;
    for (const [d, b] of [['550.54.14', null], ['535.104.05', 'tesla'], ['535.104.05', null], ['520.61.05', 'geforce']] as const) {
      const facts = host(d, b);
      // every answer, including the lazily rendered words
      const words = (e: ReturnType<typeof evaluateRequirements>) => ({ status: e.status, failed: e.failed, undecided: e.undecided, missing: e.missing, message: e.message, refusal: e.refusal, refusalKind: e.refusalKind });
      expect(words(evaluateRequirements(reqs, prepareHost(facts)))).toEqual(words(evaluateRequirements(reqs, facts)));
    }
  });
});

// Comparisons: dsl.c dsl_compare_version (digits and dots, integer components, trailing
// zeros ignored) and dsl_compare_string (strcasecmp, = and != only); rule names matched
// with str_case_equal (configure.c rules[]).
describe('comparisons', () => {
  it('compares arch as a version and brand case-insensitively', () => {
    const env = { NVIDIA_REQUIRE_ARCH: 'arch>=7.5,arch<9.0', NVIDIA_REQUIRE_BRAND: 'brand!=GeForce' };
    expect(check(env, host('550.54.14', 'tesla', '8.0')).status).toBe('pass');
    expect(check(env, host('550.54.14', 'tesla', '7.10')).status).toBe('pass'); // 7.10 > 7.5
    expect(check(env, host('550.54.14', 'GEFORCE', '8.0')).status).toBe('fail');
    expect(check(env, host('550.54.14', 'tesla', '9.0')).status).toBe('fail');
  });

  it('compares versions component by component, with missing and trailing components as 0', () => {
    const h = host('535.104.05', 'tesla', '8.0');
    const s = (v: string) => check({ NVIDIA_REQUIRE_X: v }, h).status;
    expect(s('driver<535.104.06')).toBe('pass');
    expect(s('driver>535.54.03')).toBe('pass'); // not a string or float comparison
    expect(s('driver=535.104.5')).toBe('pass'); // leading zeros are insignificant
    expect(s('driver>=0535')).toBe('pass');
    expect(s('driver<536')).toBe('pass');
    expect(s('driver<535')).toBe('fail');
    expect(s('arch=8')).toBe('pass');
    expect(s('arch=8.0.0')).toBe('pass');
    expect(s('arch=8..0.')).toBe('pass'); // runs of dots are one separator, a trailing dot is nothing
    expect(s('arch!=8.0')).toBe('fail');
    expect(s('arch<=8.0')).toBe('pass');
    expect(s('arch>8.0')).toBe('fail');
  });

  it('matches rule names and brand values in any ASCII case', () => {
    const h = host('550.54.14', 'Tesla');
    expect(check({ NVIDIA_REQUIRE_X: 'CUDA>=12.4' }, h).status).toBe('pass');
    expect(check({ NVIDIA_REQUIRE_X: 'Brand=TESLA' }, h).status).toBe('pass');
    expect(check({ NVIDIA_REQUIRE_X: 'brand!tesla' }, h).status).toBe('fail'); // a lone ! is !=
    expect(check({ NVIDIA_REQUIRE_X: 'brand=a=b' }, h).status).toBe('fail'); // a well-formed brand "a=b"
  });

  it('is exact beyond 2^53, and refuses a reached component of 2^64-1 or more', () => {
    const s = (v: string, d = '535.104.05') => check({ NVIDIA_REQUIRE_X: v }, host(d)).status;
    expect(s('driver<535.18446744073709551614')).toBe('pass');
    expect(s('driver>=18446744073709551614')).toBe('fail');
    // The overflowing component is reached only when the earlier ones are equal.
    expect(s('driver>=535.18446744073709551615')).toBe('fail');
    expect(check({ NVIDIA_REQUIRE_X: 'driver>=535.18446744073709551615' }, host('535.104.05')).refusal).toBe(INVALID);
    expect(s('driver>=535.18446744073709551615', '550.54.14')).toBe('pass');
    expect(s('driver<18446744073709551615')).toBe('fail'); // first component: always reached
  });
});

// Left to right: dsl.c dsl_evaluate — alternatives in order, the first one whose constraints
// all hold wins; inside one, the first false constraint ends it (`if (!ret) break;`); a
// reached token evaluate_rule cannot parse returns -1: "invalid expression" at once.
describe('left-to-right evaluation and malformed tokens', () => {
  const h = host('550.54.14', 'tesla', '9.0');

  it('ignores a malformed alternative after one that holds', () => {
    const r = req('cuda>=12.4 cuda>>12');
    expect(evaluateRequirements([r], h).status).toBe('pass');
    expect(r.tokens[1]![0]!.isParsed).toBe(false);
  });

  it('refuses a malformed alternative before one that holds, quoting the hook', () => {
    const r = check({ NVIDIA_REQUIRE_CUDA: 'cuda>>12 cuda>=12.4' }, h);
    expect(r.status).toBe('fail');
    expect(r.failed.map((q) => q.variable)).toEqual(['NVIDIA_REQUIRE_CUDA']);
    expect(r.refusal).toBe(INVALID);
    expect(r.message).toContain('NVIDIA_REQUIRE_CUDA');
    expect(r.message).toContain('"cuda>>12"');
    expect(r.message).toContain('invalid expression');
    expect(r.message).toContain('">>" is not an operator');
  });

  it('refuses a malformed alternative reached after a failing one (not "unsatisfied")', () => {
    const r = check({ NVIDIA_REQUIRE_CUDA: 'cuda>=99 cuda>>12' }, h);
    expect(r.status).toBe('fail');
    expect(r.refusal).toBe(INVALID);
  });

  it('does not reach the rest of an alternative after its first false constraint', () => {
    expect(check({ NVIDIA_REQUIRE_X: 'driver>=999,cuda>>12 cuda>=12.4' }, h).status).toBe('pass');
    expect(check({ NVIDIA_REQUIRE_X: 'driver>=999,cuda>>12' }, h).refusal).toMatch(/unsatisfied condition: driver>=999,cuda>>12$/);
    expect(check({ NVIDIA_REQUIRE_X: 'cuda>>12,driver>=999 cuda>=12.4' }, h).refusal).toBe(INVALID);
    expect(check({ NVIDIA_REQUIRE_X: 'driver>=1,cuda>>12 cuda>=12.4' }, h).refusal).toBe(INVALID);
  });

  it('refuses every kind of malformed token it reaches', () => {
    const bad = [
      'cuda>>12', 'cuda==12', 'cuda=>12', 'cuda<>12', 'cuda>=', '=12', '>=12', 'driver', 'colour=red', 'cudaa>=12',
      'brand>=tesla', 'brand<tesla', 'cuda>=12.x', 'cuda>=.12', 'cuda>=-1', 'cuda>=+12', 'cuda>= 12'.replace(' ', '\u00a0'),
      'cuda>=12.4\tbrand=tesla', 'driver>=470\n', '\tcuda>=12', '\t', 'cuda>=99999999999999999999',
    ];
    for (const v of bad) {
      const r = check({ NVIDIA_REQUIRE_X: v }, h);
      expect(r.status, JSON.stringify(v)).toBe('fail');
      expect(r.refusal, JSON.stringify(v)).toBe(INVALID);
      expect(r.message, JSON.stringify(v)).toContain(JSON.stringify(v));
      expect(r.message, JSON.stringify(v)).not.toMatch(/[\n\t]/);
    }
  });

  it('refuses a false constraint whose "name op value" text is 128 bytes or longer (EXPR_MAX)', () => {
    const long = `brand=${'x'.repeat(120)}`; // "brand = xxx..." is 128 bytes
    expect(check({ NVIDIA_REQUIRE_X: `${long} cuda>=12.4` }, h).refusal).toBe(INVALID);
    expect(check({ NVIDIA_REQUIRE_X: `brand=${'x'.repeat(119)} cuda>=12.4` }, h).status).toBe('pass');
    // A true one is never formatted.
    expect(check({ NVIDIA_REQUIRE_X: `brand!=${'x'.repeat(200)}` }, h).status).toBe('pass');
  });

  it('treats doubled spaces as nothing, and a comma-only alternative as the end', () => {
    expect(check({ NVIDIA_REQUIRE_X: 'cuda>=99  cuda>=12.4' }, h).status).toBe('pass');
    expect(check({ NVIDIA_REQUIRE_X: ' cuda>=99 cuda>=12.4 ' }, h).status).toBe('pass');
    // After a failed alternative, "," ends with "unsatisfied": cuda>=12.4 is never tried.
    const stop = check({ NVIDIA_REQUIRE_X: 'cuda>=99 , cuda>=12.4' }, h);
    expect(stop.status).toBe('fail');
    expect(stop.refusal).toBe('nvidia-container-cli: requirement error: unsatisfied condition: cuda>=99, please update your driver to a newer version, or use an earlier cuda container');
    // As the first alternative, it ends with success: cuda>>12 is never parsed.
    const first = check({ NVIDIA_REQUIRE_X: ', cuda>>12' }, h);
    expect(first.status).toBe('pass');
    expect(first.message).toContain('empty first alternative');
    expect(check({ NVIDIA_REQUIRE_X: 'cuda>=12.4,, brand=tesla' }, h).status).toBe('pass');
  });

  it('keeps messages on one line and names the variable', () => {
    const r = check({ NVIDIA_REQUIRE_CUDA: 'cuda>=99', NVIDIA_REQUIRE_X: 'colour=red\nx' }, h);
    expect(r.status).toBe('fail');
    expect(r.failed.map((q) => q.variable)).toEqual(['NVIDIA_REQUIRE_CUDA', 'NVIDIA_REQUIRE_X']);
    expect(r.message).not.toMatch(/[\n\r]/);
    expect(r.message).toContain('NVIDIA_REQUIRE_X makes the hook refuse the container');
  });

  it('does not pass over malformed requirements', () => {
    // Changed: "cuda>>12" used to be "unknown" (our parser might differ from the hook's);
    // dsl.c evaluate_rule rejects it, so it is a fail with the hook's reason.
    const r = check({ NVIDIA_REQUIRE_CUDA: 'cuda>>12' }, host('550.54.14'));
    expect(r.status).toBe('fail');
    expect(r.message).toContain('"cuda>>12"');
    expect(r.message).toContain('invalid expression');
    expect(check({ NVIDIA_REQUIRE_CUDA: 'cuda>=12.4', NVIDIA_REQUIRE_X: 'colour=red' }, host('470.82.01')).status).toBe('fail');
  });
});

// Missing host facts: our stricter, documented choice (configure.c check_device_brand /
// check_device_arch pass when the device reports nothing; we say "unknown").
describe('missing host facts', () => {
  it('keeps unknown brand and compute capability unknown', () => {
    const brand = check({ NVIDIA_REQUIRE_X: 'brand=tesla' }, host('550.54.14'));
    expect(brand.status).toBe('unknown');
    expect(brand.missing).toEqual(['brand']);
    const arch = check({ NVIDIA_REQUIRE_X: 'arch>=8.0' }, host('550.54.14', 'tesla'));
    expect(arch.status).toBe('unknown');
    expect(arch.missing).toEqual(['arch']);
    expect(arch.message).toContain('compute capability is unknown');
  });

  it('is unknown when an undecided alternative comes before a malformed one', () => {
    const env = { NVIDIA_REQUIRE_X: 'brand=tesla,driver>=535 cuda>>12' };
    const r = check(env, host('550.54.14'));
    expect(r.status).toBe('unknown');
    expect(r.missing).toEqual(['brand']);
    expect(r.undecided.map((q) => q.variable)).toEqual(['NVIDIA_REQUIRE_X']);
    expect(r.message).toContain('GPU brand is unknown');
    expect(r.message).toContain('"cuda>>12"');
    expect(r.message).toContain('invalid expression');
    expect(r.refusal).toBeNull();
    expect(check(env, host('550.54.14', 'tesla')).status).toBe('pass');
    const geforce = check(env, host('550.54.14', 'geforce'));
    expect(geforce.status).toBe('fail');
    expect(geforce.refusal).toBe(INVALID);
  });

  it('fails when only whether it is unsatisfied or invalid depends on the missing fact', () => {
    const r = check({ NVIDIA_REQUIRE_X: 'brand=tesla,cuda>>12 driver>=999' }, host('550.54.14'));
    expect(r.status).toBe('fail');
    expect(r.message).toContain('may instead reach "cuda>>12"');
  });

  it('refuses a reached malformed token even when its property is unknown', () => {
    // brand<tesla is invalid for every brand a GPU can report.
    expect(check({ NVIDIA_REQUIRE_X: 'brand<tesla' }, host('550.54.14')).refusal).toBe(INVALID);
    expect(check({ NVIDIA_REQUIRE_X: 'arch>=sm_80' }, host('550.54.14')).refusal).toBe(INVALID);
  });

  it('decides constraints that hold for every host value', () => {
    expect(check({ NVIDIA_REQUIRE_X: 'arch>=0' }, host('550.54.14')).status).toBe('pass');
    expect(check({ NVIDIA_REQUIRE_X: 'arch<0' }, host('550.54.14')).status).toBe('fail');
  });
});

describe('describeRequirement', () => {
  it('groups alternatives that differ only in brand', () => {
    const [r] = parseRequirements({ NVIDIA_REQUIRE_CUDA: CUDA_12_4 }).requirements;
    expect(describeRequirement(r!)).toBe(
      'CUDA >= 12.4; or driver 470.x with brand tesla, unknown, nvidia, nvidiartx, geforce, geforcertx, quadro, quadrortx, titan or titanrtx; or driver 525.x with brand tesla; or driver 535.x with brand tesla',
    );
    expect(describeRequirement(r!, { table: loadCudaTable() })).toMatch(/^CUDA >= 12\.4 \(driver >= 550\.54\.14\); or /);
  });

  it('describes other operators plainly', () => {
    const r = req('arch>=8.0,brand!=geforce driver>=500,driver<600');
    expect(describeRequirement(r)).toBe('compute capability >= 8.0 and brand other than geforce; or driver >= 500 and driver < 600');
  });

  it('marks malformed tokens and leaves out what the hook never reaches', () => {
    expect(describeRequirement(req('cuda>=12.4 cuda>>12'))).toBe('CUDA >= 12.4; or "cuda>>12" (malformed)');
    expect(describeRequirement(req('cuda>=12.4 , cuda>=11'))).toBe('CUDA >= 12.4');
  });
});
