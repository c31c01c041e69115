// GPU hosts can be decided (issue 13): host facts record the NVIDIA GPUs' brand and compute
// capability (nvidia-smi on the live host, else the driver's model names through the vendored GPU
// model table), --set cuda.version (conda's CONDA_OVERRIDE_CUDA habit), and match --set.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { applySets, parseSets } from '../src/check/overrides.js';
import { combineGpus, datacenterGpu, gpuModel, parseNvidiaSmiQuery } from '../src/gpu/gpu-models.js';
import { nfdHostFeatureList, NFD_KEYS } from '../src/sched/nfd-features.js';
import { slurmConstraint, slurmFeatures } from '../src/sched/slurm.js';
import type { GpuDevice, HostFacts } from '../src/model/facts.js';
import { gpuNameByPciId } from '../src/gpu/gpu-pci.js';
import { gpuFacts } from '../src/host/gpu.js';
import { hostPaths } from '../src/host/paths.js';
import { minimumDriverFor } from '../src/gpu/cuda-table.js';
import { compareVersions } from '../src/util/version.js';
import { emptyHostFacts, emptyImageFacts } from '../src/model/empty.js';
import { buildCli, errorLine, runCli, show } from './helpers/cli.js';
import { hostJson, makeFakeHost, nvidiaVersionFile, put, writeFacts } from './helpers/fake-host.js';
import { debianPackages } from './helpers/libcuda1.js';
import { schemaErrors } from './helpers/schemas.js';

const base = mkdtempSync(join(tmpdir(), 'cs-gpuid-'));
beforeAll(async () => {
  await buildCli();
});

/** proc/driver/nvidia/gpus/<bus>/information as the 535 driver writes it. */
function information(model: string, bus: string): string {
  return `Model: \t\t ${model}\nIRQ:   \t\t 145\nGPU UUID: \t GPU-3f9b6a1e-0000-0000-0000-000000000000\nVideo BIOS: \t 92.00.45.00.03\nBus Type: \t PCIe\nDMA Size: \t 47 bits\nDMA Mask: \t 0x7fffffffffff\nBus Location: \t ${bus}\nDevice Minor: \t 0\nGPU Excluded:\t No\n`;
}

describe('the GPU model table', () => {
  it('maps model names to NVML brand and compute capability, and leaves undocumented brands unknown', () => {
    expect(gpuModel('Tesla V100-SXM2-32GB')).toMatchObject({ brand: 'tesla', computeCapability: '7.0' });
    expect(gpuModel('Tesla T4')).toMatchObject({ brand: 'tesla', computeCapability: '7.5' });
    expect(gpuModel('NVIDIA A100-SXM4-80GB')).toMatchObject({ brand: null, computeCapability: '8.0' });
    expect(gpuModel('NVIDIA A10')).toMatchObject({ computeCapability: '8.6' });
    expect(gpuModel('NVIDIA H100 80GB HBM3')).toMatchObject({ computeCapability: '9.0' });
    expect(gpuModel('NVIDIA GeForce RTX 3090')).toMatchObject({ brand: 'geforcertx', computeCapability: '8.6' });
    expect(gpuModel('Some Future GPU')).toBeNull();
  });
  it('parses nvidia-smi --query-gpu=name,compute_cap and combines several GPUs (one brand, the lowest capability)', () => {
    expect(parseNvidiaSmiQuery('NVIDIA A100-SXM4-80GB, 8.0\nNVIDIA A100-SXM4-80GB, 8.0\n')).toEqual([
      { name: 'NVIDIA A100-SXM4-80GB', computeCapability: '8.0' },
      { name: 'NVIDIA A100-SXM4-80GB', computeCapability: '8.0' },
    ]);
    expect(parseNvidiaSmiQuery('Tesla T4, [N/A]')).toEqual([{ name: 'Tesla T4', computeCapability: null }]);
    expect(combineGpus([{ brand: 'tesla', computeCapability: '7.5' }, { brand: 'tesla', computeCapability: '7.0' }])).toEqual({ brand: 'tesla', computeCapability: '7.0' });
    expect(combineGpus([{ brand: 'tesla', computeCapability: '10.0' }, { brand: 'geforce', computeCapability: '9.0' }])).toEqual({ brand: null, computeCapability: '9.0' });
    expect(combineGpus([{ brand: 'tesla', computeCapability: null }])).toEqual({ brand: 'tesla', computeCapability: null });
  });
});

/** An NVIDIA GPU in a sysfs tree as the kernel lists it (display class, the PCI device id). */
function pciGpu(sys: string, bus: string, device: string): void {
  put(sys, `bus/pci/devices/${bus}/vendor`, '0x10de\n');
  put(sys, `bus/pci/devices/${bus}/class`, '0x030200\n');
  put(sys, `bus/pci/devices/${bus}/device`, `${device}\n`);
}

describe('a GPU the driver names no model for: its PCI device id, through the pci.ids names (data/nvidia-pci-ids.json)', () => {
  it('PCI ids as pci.ids names them: 0x1db1 is a Tesla V100 SXM2 (tesla, 7.0), 0x2330 an H100 SXM5 (9.0), 0x20b2 an A100 SXM4 80GB (8.0)', () => {
    expect(gpuNameByPciId('0x1db1')).toBe('Tesla V100 SXM2 16GB');
    expect(gpuNameByPciId('2330')).toBe('H100 SXM5 80GB');
    expect(gpuNameByPciId('0x20B2')).toBe('A100 SXM4 80GB');
    expect(gpuNameByPciId('0xffff')).toBeNull();
    expect(gpuNameByPciId(null)).toBeNull();
    expect(gpuModel(gpuNameByPciId('0x2330')!)).toMatchObject({ computeCapability: '9.0' });
    expect(gpuModel(gpuNameByPciId('0x20b2')!)).toMatchObject({ computeCapability: '8.0' });
  });
  it('a V100 node whose driver lists no gpus/ (sysfs only): brand tesla, compute 7.0 from the ids; an unknown id leaves both unknown, naming the device', async () => {
    const h = makeFakeHost(base, { name: 'v100-pci', arch: 'x86_64', nvidiaVersion: nvidiaVersionFile('535.104.05') });
    pciGpu(h.sys, '0000:3b:00.0', '0x1db1');
    pciGpu(h.sys, '0000:86:00.0', '0x1db1');
    const { facts } = await hostJson(h);
    expect(schemaErrors('facts-2.1', facts)).toBeNull();
    expect([facts.gpu.brand, facts.gpu.computeCapability]).toEqual(['tesla', '7.0']);
    expect(facts.gpu.devices.map((d) => d.id)).toEqual(['0x1db1', '0x1db1']);
    expect(facts.gpu.evidence.find((e) => e.source === 'nvidia.identity')?.detail).toMatch(/^PCI device ids through data\/nvidia-pci-ids\.json: Tesla V100 SXM2 16GB \(brand tesla, compute 7\.0\)/);
    pciGpu(h.sys, '0000:af:00.0', '0xffff');
    const mixed = (await hostJson(h)).facts;
    expect([mixed.gpu.brand, mixed.gpu.computeCapability]).toEqual([null, null]);
    expect(mixed.gpu.evidence.find((e) => e.source === 'nvidia.identity')?.detail).toContain('no model name for PCI device 0xffff');
  });
  it("the real nvidia-smi (Debian's, with its libnvidia-ml) on a host whose driver is not loaded fails, is not believed, and the PCI ids answer", async (ctx) => {
    const debs = await debianPackages(['nvidia-smi', 'libnvidia-ml1']);
    if (!Array.isArray(debs)) {
      console.warn(`skipping the real nvidia-smi test: ${debs.reason}`);
      return ctx.skip(debs.reason);
    }
    const dir = mkdtempSync(join(base, 'smi-'));
    for (const d of debs) expect(spawnSync('dpkg-deb', ['-x', d, dir]).status).toBe(0);
    const smi = join(dir, 'nvidia-smi');
    writeFileSync(smi, `#!/bin/sh\nLD_LIBRARY_PATH=${join(dir, 'usr/lib/x86_64-linux-gnu/nvidia/current')} exec ${join(dir, 'usr/lib/nvidia/current/nvidia-smi')} "$@"\n`, { mode: 0o755 });
    if (existsSync('/proc/driver/nvidia/version')) return ctx.skip('this machine has an NVIDIA driver loaded: the failure path cannot be shown');
    const sys = join(base, 'smi-sys');
    pciGpu(sys, '0000:3b:00.0', '0x1db1');
    const gpu = await gpuFacts(hostPaths({ sys }), { nvidiaSmi: smi });
    const said = gpu.evidence.filter((e) => e.source === 'nvidia.identity').map((e) => e.detail);
    expect(said[0]).toMatch(/--query-gpu=name,compute_cap failed \(exit 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.*\); not believed$/);
    expect(said[1]).toMatch(/^PCI device ids/);
    expect([gpu.driver, gpu.brand, gpu.computeCapability]).toEqual([null, 'tesla', '7.0']);
  }, 300_000);
});

describe('host records brand and compute capability from the driver\'s model names', () => {
  it('a Tesla V100 node (proc/driver/nvidia/gpus/*/information): brand tesla, compute capability 7.0, with evidence; the facts validate', async () => {
    const h = makeFakeHost(base, { name: 'v100', arch: 'x86_64', osrelease: '5.14.0-362.24.1.el9_3.x86_64', nvidiaVersion: nvidiaVersionFile('535.104.05') });
    put(h.proc, 'driver/nvidia/gpus/0000:3b:00.0/information', information('Tesla V100-SXM2-32GB', '0000:3b:00.0'));
    put(h.proc, 'driver/nvidia/gpus/0000:86:00.0/information', information('Tesla V100-SXM2-32GB', '0000:86:00.0'));
    const { facts } = await hostJson(h);
    expect(schemaErrors('facts-2.1', facts)).toBeNull();
    expect(facts.gpu.driver).toBe('535.104.05');
    expect(facts.gpu.brand).toBe('tesla');
    expect(facts.gpu.computeCapability).toBe('7.0');
    expect(facts.gpu.evidence.find((e) => e.source === 'nvidia.identity')?.detail).toMatch(/model names in \/proc.*Tesla V100-SXM2-32GB \(brand tesla, compute 7\.0\)/);
  });
  it('an unknown model: brand and compute capability stay unknown (null), and the evidence says it is not in the table', async () => {
    const h = makeFakeHost(base, { name: 'future', arch: 'x86_64', nvidiaVersion: nvidiaVersionFile('575.57.08') });
    put(h.proc, 'driver/nvidia/gpus/0000:3b:00.0/information', information('NVIDIA Future X9', '0000:3b:00.0'));
    const { facts } = await hostJson(h);
    expect([facts.gpu.brand, facts.gpu.computeCapability]).toEqual([null, null]);
    expect(facts.gpu.evidence.find((e) => e.source === 'nvidia.identity')?.detail).toContain('not in the GPU model table');
  });
  it('a CUDA image whose NVIDIA_REQUIRE_CUDA has brand clauses: the V100 node is decided (not "cannot tell") where the brand decides it', async () => {
    const h = makeFakeHost(base, { name: 'v100b', arch: 'x86_64', nvidiaVersion: nvidiaVersionFile('535.104.05') });
    put(h.proc, 'driver/nvidia/gpus/0000:3b:00.0/information', information('Tesla V100-SXM2-32GB', '0000:3b:00.0'));
    const { file, facts } = await hostJson(h);
    const img = emptyImageFacts('cuda-12.4', 'oci');
    img.platform = { os: 'linux', architecture: 'amd64', variant: null, evidence: [] };
    img.cuda.runtime = '12.4';
    img.cuda.env = { CUDA_VERSION: '12.4.1', NVIDIA_REQUIRE_CUDA: 'cuda>=12.4 brand=tesla,driver>=535,driver<536 brand=unknown,driver>=535,driver<536' };
    img.env = { ...img.cuda.env };
    const imgFile = writeFacts(join(base, 'cuda-img.json'), { ...img });
    const r = await runCli(['match', '--hosts', file, '--images', imgFile, '--json']);
    expect(r.code, show(r)).toBe(0);
    const cell = (JSON.parse(r.stdout) as { matrix: { verdict: string }[][] }).matrix[0]![0]!;
    expect(cell.verdict).toBe('compatible');
    // the same node with its brand erased cannot be decided
    const blind = writeFacts(join(base, 'v100-blind.json'), { ...facts, gpu: { ...facts.gpu, brand: null } });
    const r2 = await runCli(['match', '--hosts', blind, '--images', imgFile, '--json']);
    expect((JSON.parse(r2.stdout) as { matrix: { verdict: string }[][] }).matrix[0]![0]!.verdict).toBe('unknown');
  }, 60_000);
});

describe('--set cuda.version (CONDA_OVERRIDE_CUDA)', () => {
  const gpuHost = () => {
    const h = emptyHostFacts('g');
    h.platform = { os: 'linux', architecture: 'amd64', variant: null, evidence: [] };
    h.gpu.driver = '535.104.05';
    h.gpu.cudaMax = '12.2';
    return h;
  };
  it("sets the driver's highest CUDA; with no driver known, the driver table's minimum for it", () => {
    expect(parseSets(['cuda.version=12.4'])).toEqual({ 'cuda.version': '12.4' });
    expect(applySets(gpuHost(), { 'cuda.version': '12.4' }).gpu).toMatchObject({ driver: '535.104.05', cudaMax: '12.4' });
    const none = applySets(emptyHostFacts('n'), { 'cuda.version': '12.4' });
    expect(none.gpu).toMatchObject({ driver: minimumDriverFor('12.4'), cudaMax: '12.4' });
    // whichever order the keys come in
    expect(applySets(emptyHostFacts('n'), { 'cuda.version': '12.6', 'cuda.driver': '550.54.15' }).gpu).toMatchObject({ driver: '550.54.15', cudaMax: '12.6' });
  });
  it('bad values are usage errors naming the key', async () => {
    for (const [args, want] of [[['--set', 'cuda.version=twelve'], /cuda\.version=twelve: expected MAJOR\.MINOR/], [['--set', 'cuda.version=99.9'], /does not list CUDA 99\.9/], [['--set', 'cuda.version=12.4', '--set', 'cuda.driver=none'], /contradicts/]] as const) {
      const r = await runCli(['check', 'oci:fixtures/sample', ...args]);
      expect(r.code).toBe(2);
      expect(errorLine(r)).toMatch(want);
    }
  });
});

describe('match --set applies to every host', () => {
  it('a CUDA 12.4 image on two no-GPU hosts: incompatible; with --set cuda.version=12.4 compatible on both', async () => {
    const hosts = ['a', 'b'].map((n) => {
      const h = emptyHostFacts(`node-${n}`);
      h.platform = { os: 'linux', architecture: 'amd64', variant: null, evidence: [] };
      h.cpu.microarch = 'x86_64';
      h.kernel.release = '6.1.0';
      return writeFacts(join(base, `set-${n}.json`), h);
    });
    const img = emptyImageFacts('cuda-app', 'oci');
    img.platform = { os: 'linux', architecture: 'amd64', variant: null, evidence: [] };
    img.cuda.runtime = '12.4';
    const imgFile = writeFacts(join(base, 'set-img.json'), img);
    const verdicts = async (extra: string[]) => {
      const r = await runCli(['match', '--hosts', ...hosts, '--images', imgFile, '--json', ...extra]);
      expect(r.code, show(r)).toBe(0);
      return (JSON.parse(r.stdout) as { matrix: { verdict: string }[][] }).matrix[0]!.map((c) => c.verdict);
    };
    expect(await verdicts([])).toEqual(['incompatible', 'incompatible']);
    expect(await verdicts(['--set', 'cuda.version=12.4'])).toEqual(['compatible', 'compatible']);
    const bad = await runCli(['match', '--hosts', ...hosts, '--images', imgFile, '--set', 'nonsense=1']);
    expect(bad.code).toBe(2);
    expect(errorLine(bad)).toMatch(/unknown key "nonsense"/);
  }, 60_000);
});


describe('CUDA forward compatibility needs a data center GPU (brand, else the GPU model table\'s "datacenter")', () => {
  const dev = (model: string | null, id: string | null = null): GpuDevice => ({ vendor: 'nvidia', bus: '0000:3b:00.0', model, id, uuid: null, pciClass: '0x030200', kernelDriver: 'nvidia', gfxTarget: null, kfdNode: null, seenIn: ['proc'] });
  it('the brand decides when it says; else every GPU\'s model; anything else is unknown (null)', () => {
    expect(datacenterGpu({ brand: 'tesla', devices: [] })).toBe(true);
    expect(datacenterGpu({ brand: 'NVIDIA', devices: [] })).toBe(true); // what A100 and later report
    expect(datacenterGpu({ brand: 'geforce', devices: [dev('NVIDIA A100-SXM4-80GB')] })).toBe(false); // --set cuda.brand wins
    expect(datacenterGpu({ brand: null, devices: [dev('NVIDIA A100-SXM4-80GB'), dev('NVIDIA A100-SXM4-80GB')] })).toBe(true);
    expect(datacenterGpu({ brand: null, devices: [dev(null, '0x2330')] })).toBe(true); // H100 SXM5 by its PCI id
    expect(datacenterGpu({ brand: null, devices: [dev('NVIDIA GeForce RTX 3090')] })).toBe(false);
    expect(datacenterGpu({ brand: 'quadrortx', devices: [dev('Quadro RTX 8000')] })).toBeNull(); // select SKUs only
    expect(datacenterGpu({ brand: null, devices: [dev('NVIDIA Future X9')] })).toBeNull();
    expect(datacenterGpu({ brand: null, devices: [dev('NVIDIA A100-SXM4-80GB'), dev('NVIDIA GeForce RTX 3090')] })).toBeNull();
    expect(datacenterGpu({ brand: null, devices: [] })).toBeNull();
  });

  /** A CUDA 12.4 image with no NVIDIA_REQUIRE_*, shipping cuda-compat for driver 550.54.15 (the gpu check judges its runtime). */
  const compatImage = () => {
    const img = emptyImageFacts('cuda-12.4-compat', 'oci');
    img.platform = { os: 'linux', architecture: 'amd64', variant: null, evidence: [] };
    img.cuda.runtime = '12.4';
    img.cuda.compatDriver = '550.54.15';
    return img;
  };
  /** Host facts of a fake node with one GPU of this model on driver 470 (CUDA 11.4: too old for 12.4, even under minor-version compatibility). */
  const node = async (name: string, model: string) => {
    const h = makeFakeHost(base, { name, arch: 'x86_64', nvidiaVersion: nvidiaVersionFile('470.82.01') });
    put(h.proc, 'driver/nvidia/gpus/0000:3b:00.0/information', information(model, '0000:3b:00.0'));
    return hostJson(h);
  };
  const gpuCheck = (r: { stdout: string }) => (JSON.parse(r.stdout) as { checks: { id: string; status: string; message: string; fix?: string }[] }).checks.find((c) => c.id === 'gpu')!;

  it('driver 470 and a CUDA 12.4 image with forward-compatibility libraries: runs on an A100 (brand not documented), unknown on an unknown model until --set cuda.brand=tesla, refused on a GeForce', async () => {
    expect(compareVersions('550.54.15', minimumDriverFor('12.4')!)).toBeGreaterThanOrEqual(0);
    const img = writeFacts(join(base, 'compat-img.json'), compatImage());
    const a100 = await node('fc-a100', 'NVIDIA A100-SXM4-80GB');
    expect(a100.facts.gpu.brand).toBeNull();
    const ok = await runCli(['check', img, '--host', a100.file, '--json']);
    expect(ok.code, show(ok)).toBe(0);
    expect(gpuCheck(ok).status).toBe('pass');
    expect(gpuCheck(ok).message).toContain("forward-compatibility driver 550.54.15 (data center GPU)");

    const future = await node('fc-future', 'NVIDIA Future X9');
    const unsure = await runCli(['check', img, '--host', future.file, '--json']);
    expect(unsure.code, show(unsure)).toBe(3);
    expect(gpuCheck(unsure).status).toBe('unknown');
    expect(gpuCheck(unsure).message).toMatch(/covers CUDA 12\.4 on a data center GPU, and whether this host's GPU is one is unknown/);
    expect(gpuCheck(unsure).fix).toContain('--set cuda.brand=tesla');
    const told = await runCli(['check', img, '--host', future.file, '--set', 'cuda.brand=tesla', '--json']);
    expect(told.code, show(told)).toBe(0);

    const rtx = await node('fc-rtx', 'NVIDIA GeForce RTX 3090');
    const no = await runCli(['check', img, '--host', rtx.file, '--json']);
    expect(no.code, show(no)).toBe(1);
    expect(gpuCheck(no).status).toBe('fail');
    expect(gpuCheck(no).message).toContain("they help only on data center GPUs, and this host's are not");

    // The scheduler side says the same: only the A100 node offers the feature the image's constraint asks for.
    const constraint = slurmConstraint(compatImage()).constraint!;
    expect(constraint).toContain('cs_gpu_datacenter');
    const offers = (f: HostFacts) => slurmFeatures(f).includes('cs_gpu_datacenter');
    expect([offers(a100.facts), offers(future.facts), offers(rtx.facts)]).toEqual([true, false, false]);
    const nfd = (f: HostFacts) => nfdHostFeatureList(f).some((x) => x.name === NFD_KEYS.cudaDatacenter && x.value === 'true');
    expect([nfd(a100.facts), nfd(future.facts), nfd(rtx.facts)]).toEqual([true, false, false]);
  }, 60_000);
});
