// `containerspec host` on fake hosts made of real data (archspec cpuinfo dumps of real machines,
// Debian's real libcuda1) and on this real machine, always through the real CLI process.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SELECTED_KCONFIG } from '../src/host/kernel.js';
import type { HostFacts } from '../src/model/facts.js';
import { dumps, family, hasTarget, KERNEL_MACHINE, OCI_ARCH } from './helpers/archspec-data.js';
import { buildCli, errorJson, errorLine, REPO, runCli } from './helpers/cli.js';
import { hostJson, makeFakeHost, nvidiaVersionFile } from './helpers/fake-host.js';
import { compareVersions } from './helpers/images.js';
import { libcuda1, type Libcuda1 } from './helpers/libcuda1.js';
import { schemaErrors } from './helpers/schemas.js';

let base = '';
beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'cs-host-facts-'));
  await buildCli();
});
afterAll(() => {
  if (base) rmSync(base, { recursive: true, force: true });
});

/** The CUDA driver table read here, not through src/gpu: the highest toolkit whose minimum driver is <= `driver`. */
function tableCudaMax(driver: string): string | null {
  const t = JSON.parse(readFileSync(join(REPO, 'data/cuda-drivers.json'), 'utf8')) as { toolkitMinimumDriver: Record<string, string> };
  let best: string | null = null;
  for (const [cuda, min] of Object.entries(t.toolkitMinimumDriver)) {
    if (cuda.startsWith('_')) continue;
    if (compareVersions(min, driver) <= 0 && (best === null || compareVersions(cuda, best) > 0)) best = cuda;
  }
  return best;
}

describe.concurrent('host --json on archspec cpuinfo dumps of real machines (--proc/--root/--sys)', () => {
  const all = dumps();

  it('has the dumps, and every file names a target archspec knows', ({ expect }) => {
    expect(all.length).toBeGreaterThanOrEqual(14);
    for (const d of all) expect(hasTarget(d.target), d.file).toBe(true);
  });

  // Without proc/sys/kernel/arch the machine is inferred from cpuinfo. cpuinfo cannot tell POWER
  // byte order, so the big-endian ppc64 dump is left to the next test, which states the machine.
  for (const d of all.filter((x) => family(x.target) !== 'ppc64')) {
    it(`${d.file}: cpu.microarch ${d.target}, architecture inferred from cpuinfo`, async ({ expect }) => {
      const h = makeFakeHost(base, { name: `inferred-${d.target}`, cpuinfoFile: d.path, osrelease: '5.14.0-362.24.1.el9_3.x86_64' });
      const { facts } = await hostJson(h);
      expect(schemaErrors('facts-2.1', facts)).toBeNull();
      expect(facts.kind).toBe('host');
      expect(facts.name).toBe(h.name);
      expect(facts.cpu.microarch).toBe(d.target);
      const machine = KERNEL_MACHINE[family(d.target)]!;
      expect(facts.platform.architecture).toBe(OCI_ARCH[machine]);
      expect(facts.platform.evidence[0]?.source).toBe('inferred from cpuinfo');
      expect(facts.kernel.machine).toBe(machine);
      expect(facts.kernel.release).toBe('5.14.0-362.24.1.el9_3.x86_64');
      // The root's os-release, not this machine's.
      expect(facts.os.id).toBe('rocky');
      expect(facts.os.versionId).toBe('9.3');
      // No GPU in the fake trees.
      expect(facts.gpu.driver).toBeNull();
      expect(facts.gpu.cudaMax).toBeNull();
    });
  }

  it('an aarch64 dump without proc/sys/kernel/arch is an arm64 (v8) host', async ({ expect }) => {
    const d = all.find((x) => family(x.target) === 'aarch64');
    expect(d, 'an aarch64 dump').toBeDefined();
    const { facts } = await hostJson(makeFakeHost(base, { name: `arm-${d!.target}`, cpuinfoFile: d!.path }));
    expect(facts.platform.architecture).toBe('arm64');
    expect(facts.platform.variant).toBe('v8');
    expect(facts.cpu.microarch).toBe(d!.target);
  });

  for (const d of all) {
    it(`${d.file}: proc/sys/kernel/arch states the machine`, async ({ expect }) => {
      const machine = KERNEL_MACHINE[family(d.target)]!;
      const h = makeFakeHost(base, { name: `stated-${d.target}`, cpuinfoFile: d.path, arch: machine });
      const { facts } = await hostJson(h);
      expect(schemaErrors('facts-2.1', facts)).toBeNull();
      expect(facts.cpu.microarch).toBe(d.target);
      expect(facts.platform.architecture).toBe(OCI_ARCH[machine]);
      expect(facts.platform.evidence[0]?.source).toBe('proc/sys/kernel/arch');
      expect(facts.kernel.machine).toBe(machine);
    });
  }

  it('the stated machine wins over the one cpuinfo suggests (POWER9 dump: ppc64 stated, ppc64le inferred)', async ({ expect }) => {
    const d = all.find((x) => x.target === 'power9');
    if (!d) return expect.fail('no power9 dump');
    const stated = (await hostJson(makeFakeHost(base, { name: 'p9-stated', cpuinfoFile: d.path, arch: 'ppc64' }))).facts;
    const inferred = (await hostJson(makeFakeHost(base, { name: 'p9-inferred', cpuinfoFile: d.path }))).facts;
    expect(stated.platform.architecture).toBe('ppc64');
    expect(stated.cpu.microarch).toBe('power9');
    expect(inferred.platform.architecture).toBe('ppc64le');
    expect(family(inferred.cpu.microarch ?? '')).toBe('ppc64le');
  });

  it('no cpuinfo: microarch unknown and a warning says why, the rest is still reported', async ({ expect }) => {
    const h = makeFakeHost(base, { name: 'no-cpuinfo', arch: 'x86_64', osrelease: '6.1.0-18-amd64' });
    const { facts } = await hostJson(h);
    expect(schemaErrors('facts-2.1', facts)).toBeNull();
    expect(facts.cpu.microarch).toBeNull();
    expect(facts.warnings.map((w) => w.code)).toContain('no-cpuinfo');
    expect(facts.platform.architecture).toBe('amd64');
    expect(facts.kernel.release).toBe('6.1.0-18-amd64');
  });
});

describe("a GPU host: Debian's real libcuda1 unpacked into the root", () => {
  let pkg: Libcuda1 | null = null;
  let reason = '';
  beforeAll(async () => {
    const r = await libcuda1();
    if ('reason' in r) {
      reason = r.reason;
      console.warn(`skipping the libcuda1 host tests: ${r.reason}`);
    } else pkg = r;
  });

  it('gpu.driver is the version in the real libcuda file name; cudaMax is what the CUDA table says', async (ctx) => {
    if (!pkg) return ctx.skip(reason);
    const cpu = dumps().find((d) => d.target === 'cascadelake')!;
    const h = makeFakeHost(base, { name: 'gpu-libcuda', cpuinfoFile: cpu.path, arch: 'x86_64', libcuda: pkg });
    const { facts } = await hostJson(h);
    expect(schemaErrors('facts-2.1', facts)).toBeNull();
    expect(facts.gpu.driver).toBe(pkg.version);
    const want = tableCudaMax(pkg.version);
    expect(want).not.toBeNull();
    expect(facts.gpu.cudaMax).toBe(want);
    expect(facts.gpu.evidence.some((e) => e.path === join(h.root, pkg!.relPath))).toBe(true);
    expect(facts.cpu.microarch).toBe('cascadelake');
  });

  it('a loaded kernel module (proc/driver/nvidia/version) wins over the library file name', async (ctx) => {
    if (!pkg) return ctx.skip(reason);
    const module = '535.54.03';
    expect(module).not.toBe(pkg.version);
    const h = makeFakeHost(base, { name: 'gpu-module', cpuinfoFile: dumps().find((d) => d.target === 'skylake_avx512')!.path, libcuda: pkg, nvidiaVersion: nvidiaVersionFile(module) });
    const { facts } = await hostJson(h);
    expect(schemaErrors('facts-2.1', facts)).toBeNull();
    expect(facts.gpu.driver).toBe(module);
    expect(facts.gpu.cudaMax).toBe(tableCudaMax(module));
    // The stale library is reported, with its version.
    expect(facts.gpu.evidence.some((e) => e.source === 'nvidia.driver' && (e.detail ?? '').includes(pkg!.version))).toBe(true);
  });
});

describe('a driver-only GPU host (proc/driver/nvidia/version, no libraries)', () => {
  it('reads the proprietary module line; cudaMax from the table', async () => {
    const h = makeFakeHost(base, { name: 'gpu-proc-only', cpuinfoFile: dumps().find((d) => d.target === 'zen3')!.path, nvidiaVersion: nvidiaVersionFile('550.54.14') });
    const { facts } = await hostJson(h);
    expect(facts.gpu.driver).toBe('550.54.14');
    expect(typeof facts.gpu.driver).toBe('string');
    expect(facts.gpu.cudaMax).toBe(tableCudaMax('550.54.14'));
  });
});

describe('host --json on this real machine', () => {
  it('validates against schemas/facts-2.1.schema.json and kernel.release is `uname -r`', async (ctx) => {
    const uname = spawnSync('uname', ['-r'], { encoding: 'utf8' });
    if (uname.status !== 0) return ctx.skip('uname not available');
    const r = await runCli(['host', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const facts = JSON.parse(r.stdout) as HostFacts;
    expect(schemaErrors('facts-2.1', facts)).toBeNull();
    expect(facts.kind).toBe('host');
    expect(facts.kernel.release).toBe(uname.stdout.trim());
    const m = spawnSync('uname', ['-m'], { encoding: 'utf8' }).stdout.trim();
    if (OCI_ARCH[m]) expect(facts.platform.architecture).toBe(OCI_ARCH[m]);
    const osRelease = readFileSync('/etc/os-release', 'utf8');
    const id = /^ID="?([^"\n]+)"?$/m.exec(osRelease)?.[1] ?? null;
    expect(facts.os.id).toBe(id);
  });

  it("the kernel's build configuration: the options containers depend on by default, all of them with --kernel-config", async (ctx) => {
    const full = JSON.parse((await runCli(['host', '--json', '--kernel-config'])).stdout) as HostFacts;
    if (!full.kernel.config) return ctx.skip('this host has no readable kernel config (/proc/config.gz, /boot/config-RELEASE)');
    const r = await runCli(['host', '--json']);
    const small = JSON.parse(r.stdout) as HostFacts;
    expect(schemaErrors('facts-2.1', full)).toBeNull();
    expect(full.kernel.config.complete).toBe(true);
    expect(small.kernel.config).toMatchObject({ complete: false, source: full.kernel.config.source, path: full.kernel.config.path });
    const picked = Object.fromEntries(Object.entries(full.kernel.config.options).filter(([k]) => SELECTED_KCONFIG.includes(k)));
    expect(small.kernel.config!.options).toEqual(picked);
    expect(small.kernel.config!.notSet).toEqual(full.kernel.config.notSet.filter((n) => SELECTED_KCONFIG.includes(n)));
    expect(Object.keys(full.kernel.config.options).length).toBeGreaterThan(Object.keys(picked).length);
    // The judgement that needs the config (CONFIG_USER_NS) is the same either way.
    expect(small.kernel.userNamespaces).toBe(full.kernel.userNamespaces);
    expect(r.stdout.length * 3, 'the default facts stay small').toBeLessThan(JSON.stringify(full).length);
  });

  it('the human form names the kernel release and the CPU target', async () => {
    const r = await runCli(['host']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse((await runCli(['host', '--json'])).stdout) as HostFacts;
    expect(r.stdout).toContain(j.kernel.release!);
    if (j.cpu.microarch) expect(r.stdout).toContain(j.cpu.microarch);
  });
});

describe('host: bad directories', () => {
  for (const flag of ['--proc', '--sys', '--root']) {
    it(`${flag} /nonexistent → exit 2, one line naming it`, async () => {
      const r = await runCli(['host', '--json', flag, '/nonexistent-containerspec']);
      expect(r.code).toBe(2);
      const line = errorLine(r);
      // --json: the error as JSON on stdout too (schemas/error-1.0.schema.json)
      expect(errorJson(r).error).toEqual({ kind: 'usage', message: line.slice('containerspec: '.length), where: null });
      expect(line).toContain(flag);
      expect(line).toContain('/nonexistent-containerspec');
    });
  }

  it('a file where a directory is expected is an error too', async () => {
    const r = await runCli(['host', '--proc', join(REPO, 'package.json')]);
    expect(r.code).toBe(2);
    expect(errorLine(r)).toContain('package.json');
  });
});

