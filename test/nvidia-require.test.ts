import { describe, expect, it } from 'vitest';
import { loadCudaTable, maxCudaForDriver } from '../src/gpu/cuda-table.js';
import {
  describeRequirement,
  evaluateRequirements,
  parseRequirements,
  prepareHost,
} from '../src/gpu/nvidia-require.js';
import type { GpuHostFacts } from '../src/gpu/nvidia-require.js';

// Real values from NVIDIA's CUDA image Dockerfiles (nvidia/cuda base images).
const CUDA_12_4 =
  'cuda>=12.4 brand=tesla,driver>=470,driver<471 brand=unknown,driver>=470,driver<471 brand=nvidia,driver>=470,driver<471 brand=nvidiartx,driver>=470,driver<471 brand=geforce,driver>=470,driver<471 brand=geforcertx,driver>=470,driver<471 brand=quadro,driver>=470,driver<471 brand=quadrortx,driver>=470,driver<471 brand=titan,driver>=470,driver<471 brand=titanrtx,driver>=470,driver<471 brand=tesla,driver>=525,driver<526 brand=tesla,driver>=535,driver<536';
const CUDA_11_8 = 'cuda>=11.8 brand=tesla,driver>=470,driver<471';
const CUDA_10_2 =
  'cuda>=10.2 brand=tesla,driver>=396,driver<397 brand=tesla,driver>=410,driver<411 brand=tesla,driver>=418,driver<419 brand=tesla,driver>=440,driver<441';

/** A host as callers build it: CUDA level from the driver table. */
function host(driver: string, brand: string | null = null, arch: string | null = null): GpuHostFacts {
  return { driver, cuda: maxCudaForDriver(driver), brand, arch };
}

function check(env: Record<string, string>, h: GpuHostFacts) {
  return evaluateRequirements(parseRequirements(env), h);
}

describe('parseRequirements', () => {
  it('reads alternatives (space) of constraints (comma) from the 12.4 image', () => {
    const p = parseRequirements({ NVIDIA_REQUIRE_CUDA: CUDA_12_4, PATH: '/usr/bin' });
    expect(p.errors).toEqual([]);
    expect(p.disabled).toBe(false);
    expect(p.requirements).toHaveLength(1);
    const req = p.requirements[0]!;
    expect(req.variable).toBe('NVIDIA_REQUIRE_CUDA');
    expect(req.alternatives).toHaveLength(13);
    expect(req.alternatives[0]).toMatchObject([{ property: 'cuda', op: '>=', value: '12.4', version: [12, 4] }]);
    expect(req.alternatives[12]).toMatchObject([
      { property: 'brand', op: '=', brand: 'tesla' },
      { property: 'driver', op: '>=', version: [535] },
      { property: 'driver', op: '<', version: [536] },
    ]);
  });

  it('matches the longest operator first and accepts every operator', () => {
    const p = parseRequirements({ NVIDIA_REQUIRE_X: 'arch>=8.0,arch<=9.0,arch!=8.6,driver>500,driver<600,cuda=12.4 brand!=geforce' });
    expect(p.errors).toEqual([]);
    expect(p.requirements[0]!.alternatives.flat().map((c) => c.op)).toEqual(['>=', '<=', '!=', '>', '<', '=', '!=']);
  });

  it('skips doubled separators, blank variables and NVIDIA_REQUIRE_JETPACK', () => {
    const p = parseRequirements({
      NVIDIA_REQUIRE_CUDA: '  cuda>=11.8   brand=tesla,,driver>=470,driver<471 ',
      NVIDIA_REQUIRE_EMPTY: '   ',
      NVIDIA_REQUIRE_JETPACK: 'jetpack>=5.1',
    });
    expect(p.errors).toEqual([]);
    expect(p.requirements.map((r) => r.variable)).toEqual(['NVIDIA_REQUIRE_CUDA']);
    expect(p.requirements[0]!.alternatives.map((a) => a.length)).toEqual([1, 3]);
  });

  it('reports malformed tokens naming the variable, without throwing', () => {
    const p = parseRequirements({
      NVIDIA_REQUIRE_CUDA: 'cuda>>12',
      NVIDIA_REQUIRE_COLOUR: 'colour=red',
      NVIDIA_REQUIRE_BRAND: 'brand>=tesla',
      NVIDIA_REQUIRE_DRIVER: 'driver>=470 driver',
      NVIDIA_REQUIRE_OK: 'driver>=470',
    });
    expect(p.requirements.map((r) => r.variable)).toEqual(['NVIDIA_REQUIRE_OK']);
    expect(p.errors).toHaveLength(4);
    const err = (v: string) => p.errors.find((e) => e.startsWith(`${v}:`)) ?? '';
    expect(err('NVIDIA_REQUIRE_CUDA')).toContain('"cuda>>12"');
    expect(err('NVIDIA_REQUIRE_CUDA')).toContain('">12" is not a version');
    expect(err('NVIDIA_REQUIRE_COLOUR')).toContain('"colour=red"');
    expect(err('NVIDIA_REQUIRE_COLOUR')).toContain('unknown property "colour"');
    expect(err('NVIDIA_REQUIRE_BRAND')).toContain('"brand>=tesla"');
    expect(err('NVIDIA_REQUIRE_BRAND')).toContain('only = and !=');
    expect(err('NVIDIA_REQUIRE_DRIVER')).toContain('"driver"');
  });

  it('turns a legacy CUDA_VERSION into cuda>=MAJOR.MINOR', () => {
    const p = parseRequirements({ CUDA_VERSION: '11.2.2' });
    expect(p.errors).toEqual([]);
    expect(p.requirements).toHaveLength(1);
    expect(p.requirements[0]).toMatchObject({ variable: 'CUDA_VERSION', raw: 'cuda>=11.2' });
    expect(parseRequirements({ CUDA_VERSION: '10' }).requirements[0]?.raw).toBe('cuda>=10.0');
    // Not legacy when NVIDIA_REQUIRE_CUDA is present.
    const modern = parseRequirements({ CUDA_VERSION: '12.4.1', NVIDIA_REQUIRE_CUDA: CUDA_12_4 });
    expect(modern.requirements.map((r) => r.variable)).toEqual(['NVIDIA_REQUIRE_CUDA']);
    expect(parseRequirements({ CUDA_VERSION: 'latest' }).errors[0]).toMatch(/^CUDA_VERSION: /);
  });

  it('reads NVIDIA_DISABLE_REQUIRE as Go strconv.ParseBool does', () => {
    for (const v of ['1', 'true', 'TRUE', 'True', 't', 'T']) {
      expect(parseRequirements({ NVIDIA_DISABLE_REQUIRE: v, NVIDIA_REQUIRE_CUDA: 'cuda>=12.4' }).disabled, v).toBe(true);
    }
    for (const v of ['', '0', 'false', 'yes', 'on']) {
      expect(parseRequirements({ NVIDIA_DISABLE_REQUIRE: v, NVIDIA_REQUIRE_CUDA: 'cuda>=12.4' }).disabled, v).toBe(false);
    }
  });
});

describe('evaluateRequirements on nvidia/cuda 12.4 requirements', () => {
  const env = { NVIDIA_REQUIRE_CUDA: CUDA_12_4 };

  it('passes with driver 550.54.14 (CUDA 12.4)', () => {
    const r = check(env, host('550.54.14'));
    expect(r.status).toBe('pass');
    expect(r.message).toBe('NVIDIA_REQUIRE_CUDA is met (cuda>=12.4)');
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
  });

  it('fails driver 535.104.05 on a GeForce (only Tesla has the 535 branch)', () => {
    expect(check(env, host('535.104.05', 'geforce')).status).toBe('fail');
  });

  it('passes driver 470.82.01 with brand geforce', () => {
    expect(check(env, host('470.82.01', 'geforce')).status).toBe('pass');
  });

  it('fails driver 520, naming what would satisfy it', () => {
    for (const brand of ['geforce', 'tesla', null]) {
      const r = check(env, host('520.61.05', brand));
      expect(r.status, String(brand)).toBe('fail');
      expect(r.failed.map((q) => q.variable)).toEqual(['NVIDIA_REQUIRE_CUDA']);
      expect(r.message).toContain('this host has CUDA 11.8, driver 520.61.05');
      expect(r.message).toContain('CUDA >= 12.4');
      expect(r.message).toContain('driver 470.x with brand tesla, unknown, nvidia');
      expect(r.message).toContain('driver 535.x with brand tesla');
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
    expect(check(env, host('535.104.05')).status).toBe('unknown');
    // A failing variable wins over an undecided one.
    expect(check(env, host('440.33.01')).status).toBe('fail');
  });

  it('compares arch as a version and brand case-insensitively', () => {
    const env = { NVIDIA_REQUIRE_ARCH: 'arch>=7.5,arch<9.0', NVIDIA_REQUIRE_BRAND: 'brand!=GeForce' };
    expect(check(env, host('550.54.14', 'tesla', '8.0')).status).toBe('pass');
    expect(check(env, host('550.54.14', 'tesla', '7.10')).status).toBe('pass'); // 7.10 > 7.5
    expect(check(env, host('550.54.14', 'GEFORCE', '8.0')).status).toBe('fail');
    expect(check(env, host('550.54.14', 'tesla', '9.0')).status).toBe('fail');
  });

  it('honours NVIDIA_DISABLE_REQUIRE', () => {
    const r = check({ NVIDIA_REQUIRE_CUDA: CUDA_12_4, NVIDIA_DISABLE_REQUIRE: 'true' }, host('418.87.01'));
    expect(r.status).toBe('pass');
    expect(r.message).toContain('NVIDIA_DISABLE_REQUIRE');
    expect(check({ NVIDIA_REQUIRE_CUDA: CUDA_12_4, NVIDIA_DISABLE_REQUIRE: 'false' }, host('418.87.01')).status).toBe('fail');
  });

  it('treats a legacy CUDA_VERSION=11.2.2 as cuda>=11.2', () => {
    expect(check({ CUDA_VERSION: '11.2.2' }, host('460.27.03')).status).toBe('pass');
    expect(check({ CUDA_VERSION: '11.2.2' }, host('455.23.05')).status).toBe('fail');
  });

  it('does not pass over malformed requirements', () => {
    const r = check({ NVIDIA_REQUIRE_CUDA: 'cuda>>12' }, host('550.54.14'));
    expect(r.status).toBe('unknown');
    expect(r.message).toContain('NVIDIA_REQUIRE_CUDA: bad constraint "cuda>>12"');
    expect(check({ NVIDIA_REQUIRE_CUDA: 'cuda>=12.4', NVIDIA_REQUIRE_X: 'colour=red' }, host('470.82.01')).status).toBe('fail');
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
      expect(evaluateRequirements(reqs, prepareHost(facts))).toEqual(evaluateRequirements(reqs, facts));
    }
  });
});

describe('describeRequirement', () => {
  it('groups alternatives that differ only in brand', () => {
    const [req] = parseRequirements({ NVIDIA_REQUIRE_CUDA: CUDA_12_4 }).requirements;
    expect(describeRequirement(req!)).toBe(
      'CUDA >= 12.4; or driver 470.x with brand tesla, unknown, nvidia, nvidiartx, geforce, geforcertx, quadro, quadrortx, titan or titanrtx; or driver 525.x with brand tesla; or driver 535.x with brand tesla',
    );
    expect(describeRequirement(req!, { table: loadCudaTable() })).toMatch(/^CUDA >= 12\.4 \(driver >= 550\.54\.14\); or /);
  });

  it('describes other operators plainly', () => {
    const [req] = parseRequirements({ NVIDIA_REQUIRE_X: 'arch>=8.0,brand!=geforce driver>=500,driver<600' }).requirements;
    expect(describeRequirement(req!)).toBe('compute capability >= 8.0 and brand other than geforce; or driver >= 500 and driver < 600');
  });
});
