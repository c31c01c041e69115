import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archFromElfMagic, archFromEntryName, binfmtEmulators, binfmtStatus, parseBinfmtEntry } from '../src/host/binfmt.js';
import { gfxTargetName, gpuFacts, parseNvidiaLibraryName, parseNvidiaVersionFile } from '../src/host/gpu.js';
import { kernelFacts, parseKernelConfig, SELECTED_SYSCTLS } from '../src/host/kernel.js';
import { type HostPaths, defaultHostPaths, readCapped, resolveInRoot } from '../src/host/paths.js';
import { systemFacts } from '../src/host/system.js';
import { hostFacts } from '../src/host/facts.js';

const cleanup: string[] = [];
afterAll(() => {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

/** A fake host: `<tmp>/proc`, `<tmp>/sys`, `<tmp>/root`, all empty. */
function fakeHost(): HostPaths & { base: string } {
  const base = mkdtempSync(join(tmpdir(), 'cs-host-'));
  cleanup.push(base);
  const p = { base, proc: join(base, 'proc'), sys: join(base, 'sys'), root: join(base, 'root') };
  for (const d of [p.proc, p.sys, p.root]) mkdirSync(d, { recursive: true });
  return p;
}

function put(dir: string, rel: string, content: string | Buffer): string {
  const path = join(dir, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  return path;
}

function link(dir: string, rel: string, target: string): void {
  const path = join(dir, rel);
  mkdirSync(dirname(path), { recursive: true });
  symlinkSync(target, path);
}

/** A PCI function in a fake sysfs, laid out like the real one (devices/ symlinks into devices/pci…, driver symlink). */
function pciDevice(sys: string, bus: string, vendor: string, device: string, cls: string, driver: string | null): void {
  const real = `devices/pci0000:00/${bus}`;
  put(sys, `${real}/vendor`, `${vendor}\n`);
  put(sys, `${real}/device`, `${device}\n`);
  put(sys, `${real}/class`, `${cls}\n`);
  if (driver) {
    mkdirSync(join(sys, 'bus/pci/drivers', driver), { recursive: true });
    link(sys, `${real}/driver`, `../../../bus/pci/drivers/${driver}`);
  }
  link(sys, `bus/pci/devices/${bus}`, `../../../${real}`);
}

const PROPRIETARY = `NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.54.03  Tue Jun  6 22:20:39 UTC 2023
GCC version:  gcc version 11.3.1 20221121 (Red Hat 11.3.1-4) (GCC)
`;
const OPEN = `NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  550.54.14  Release Build  (dvs-builder@U16-I3-B03-4-3)  Thu Feb 22 01:25:25 UTC 2024
GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)
`;
const GPU_INFO = `Model: 		 Tesla V100-SXM2-16GB
IRQ:   		 46
GPU UUID: 	 GPU-8e6b0c5a-3f5f-1b2c-9d4e-0a1b2c3d4e5f
Video BIOS: 	 88.00.4f.00.09
Bus Type: 	 PCIe
DMA Size: 	 47 bits
DMA Mask: 	 0x7fffffffffff
Bus Location: 	 0000:3b:00.0
Device Minor: 	 0
GPU Excluded:	 No
`;

describe('NVIDIA version file formats', () => {
  it('parses the proprietary and open kernel module lines, x86_64 and aarch64', () => {
    expect(parseNvidiaVersionFile(PROPRIETARY)).toEqual({ version: '535.54.03', flavour: 'proprietary', arch: 'x86_64' });
    expect(parseNvidiaVersionFile(OPEN)).toEqual({ version: '550.54.14', flavour: 'open', arch: 'x86_64' });
    expect(parseNvidiaVersionFile('NVRM version: NVIDIA UNIX aarch64 Kernel Module  535.104.05  Sat Aug 19 01:13:10 UTC 2023\n')).toEqual({
      version: '535.104.05',
      flavour: 'proprietary',
      arch: 'aarch64',
    });
    expect(
      parseNvidiaVersionFile('NVRM version: NVIDIA UNIX Open Kernel Module for aarch64  550.54.14  Release Build  (dvs-builder@U16-I3-B03-4-3)  Thu Feb 22 01:25:25 UTC 2024\n'),
    ).toEqual({ version: '550.54.14', flavour: 'open', arch: 'aarch64' });
    // Two-part versions stay as written, and a version is never a float.
    expect(parseNvidiaVersionFile('NVRM version: NVIDIA UNIX x86_64 Kernel Module  390.157  Wed Oct 12 09:19:07 UTC 2022\n')?.version).toBe('390.157');
    expect(parseNvidiaVersionFile('NVRM version: NVIDIA UNIX x86_64 Kernel Module  470.80  Wed Oct 12 2022\n')?.version).toBe('470.80');
    expect(parseNvidiaVersionFile('GCC version: 12\n')).toBeNull();
    expect(parseNvidiaVersionFile('')).toBeNull();
  });

  it('reads versions only from versioned library names, not soname links', () => {
    expect(parseNvidiaLibraryName('libcuda.so.535.261.03')).toEqual({ library: 'libcuda', version: '535.261.03' });
    expect(parseNvidiaLibraryName('libnvidia-ml.so.550.54.14')).toEqual({ library: 'libnvidia-ml', version: '550.54.14' });
    expect(parseNvidiaLibraryName('libcuda.so.1')).toBeNull();
    expect(parseNvidiaLibraryName('libcuda.so.1.1')).toBeNull(); // WSL's stub name, not a driver version
    expect(parseNvidiaLibraryName('libcudart.so.12.2.140')).toBeNull();
  });
});

describe('gpuFacts on fake hosts', () => {
  it('a GPU host with the proprietary module: driver from proc, device merged from proc and sysfs', async () => {
    const h = fakeHost();
    put(h.proc, 'driver/nvidia/version', PROPRIETARY);
    put(h.proc, 'driver/nvidia/gpus/0000:3b:00.0/information', GPU_INFO);
    pciDevice(h.sys, '0000:3b:00.0', '0x10de', '0x1db1', '0x030200', 'nvidia');
    pciDevice(h.sys, '0000:3b:00.1', '0x10de', '0x10f1', '0x040300', 'snd_hda_intel'); // the GPU's audio function: not a GPU
    pciDevice(h.sys, '0000:00:02.0', '0x8086', '0x3e92', '0x030000', 'i915'); // another vendor's display
    put(h.root, 'usr/lib64/libcuda.so.535.54.03', '');
    put(h.root, 'usr/lib64/libnvidia-ml.so.530.30.02', ''); // stale library: reported as a mismatch
    const g = await gpuFacts(h);
    expect(g.driver).toBe('535.54.03');
    expect(typeof g.driver).toBe('string');
    expect(g.cudaMax).toBe('12.2'); // the driver table's highest CUDA for 535.54.03
    expect(g.driverSource).toEqual({ kind: 'proc', path: join(h.proc, 'driver/nvidia/version') });
    expect(g.kernelModule).toBe('proprietary');
    expect(g.devices).toEqual([
      {
        vendor: 'nvidia',
        bus: '0000:3b:00.0',
        model: 'Tesla V100-SXM2-16GB',
        id: '0x1db1',
        uuid: 'GPU-8e6b0c5a-3f5f-1b2c-9d4e-0a1b2c3d4e5f',
        pciClass: '0x030200',
        kernelDriver: 'nvidia',
        gfxTarget: null,
        kfdNode: null,
        seenIn: ['proc', 'sysfs'],
      },
    ]);
    expect(g.libraries.map((l) => l.version).sort()).toEqual(['530.30.02', '535.54.03']);
    expect(g.evidence.some((e) => e.source === 'nvidia.driver' && e.detail?.includes('530.30.02'))).toBe(true);
    expect(g.devices.filter((d) => d.vendor === 'amd')).toEqual([]);
  });

  it('a GPU host with the open kernel module', async () => {
    const h = fakeHost();
    put(h.proc, 'driver/nvidia/version', OPEN);
    put(h.proc, 'driver/nvidia/gpus/0000:c1:00.0/information', GPU_INFO.replace('0000:3b:00.0', '0000:c1:00.0').replace(/GPU-[0-9a-f-]+/, 'GPU-????????-????-????-????-????????????'));
    const g = await gpuFacts(h);
    expect(g.driver).toBe('550.54.14');
    expect(g.kernelModule).toBe('open');
    expect(g.devices).toHaveLength(1);
    expect(g.devices[0]?.uuid).toBeNull(); // an unreadable UUID is not a UUID
    expect(g.devices[0]?.seenIn).toEqual(['proc']);
  });

  it('a PCI-only NVIDIA device (driver not loaded, e.g. bound to vfio-pci) is still listed, with no driver version', async () => {
    const h = fakeHost();
    pciDevice(h.sys, '0000:17:00.0', '0x10de', '0x20b0', '0x030200', 'vfio-pci');
    const g = await gpuFacts(h);
    expect(g.driver).toBeNull();
    expect(g.driverSource).toBeNull();
    expect(g.cudaMax).toBeNull();
    expect(g.devices).toEqual([
      { vendor: 'nvidia', bus: '0000:17:00.0', model: null, id: '0x20b0', uuid: null, pciClass: '0x030200', kernelDriver: 'vfio-pci', gfxTarget: null, kfdNode: null, seenIn: ['sysfs'] },
    ]);
  });

  it('follows libcuda.so.1 through absolute alternatives links inside the root, not on this machine', async () => {
    const h = fakeHost();
    put(h.root, 'usr/lib/x86_64-linux-gnu/nvidia/tesla-470/libcuda.so.470.223.02', '');
    link(h.root, 'etc/alternatives/nvidia--libcuda.so.1-x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu/nvidia/tesla-470/libcuda.so.470.223.02');
    link(h.root, 'usr/lib/x86_64-linux-gnu/libcuda.so.1', '/etc/alternatives/nvidia--libcuda.so.1-x86_64-linux-gnu');
    const g = await gpuFacts(h);
    expect(g.driver).toBe('470.223.02');
    expect(g.driverSource).toEqual({ kind: 'library', path: join(h.root, 'usr/lib/x86_64-linux-gnu/nvidia/tesla-470/libcuda.so.470.223.02') });
  });

  it('AMD: KFD topology, PCI device, amdgpu module version and ROCm version through an absolute /opt/rocm link', async () => {
    const h = fakeHost();
    put(h.sys, 'module/amdgpu/version', '6.3.6\n');
    put(h.sys, 'class/kfd/kfd/topology/nodes/0/properties', 'cpu_cores_count 64\nsimd_count 0\ngfx_target_version 0\nvendor_id 0\ndevice_id 0\nlocation_id 0\ndomain 0\n');
    // 0000:c1:00.0 → location_id = bus << 8 | dev << 3 | fn = 0xc100
    put(h.sys, 'class/kfd/kfd/topology/nodes/1/properties', `cpu_cores_count 0\nsimd_count 440\ngfx_target_version 90010\nvendor_id 4098\ndevice_id 29711\nlocation_id ${0xc100}\ndomain 0\n`);
    pciDevice(h.sys, '0000:c1:00.0', '0x1002', '0x740f', '0x038000', 'amdgpu');
    pciDevice(h.sys, '0000:c1:00.1', '0x1002', '0xab28', '0x040300', 'snd_hda_intel');
    put(h.root, 'opt/rocm-6.0.2/.info/version', '6.0.2-115\n');
    link(h.root, 'etc/alternatives/rocm', '/opt/rocm-6.0.2');
    link(h.root, 'opt/rocm', '/etc/alternatives/rocm');
    const g = await gpuFacts(h);
    expect(g.amdDriver).toBe('6.3.6');
    expect(g.amdModuleLoaded).toBe(true);
    expect(g.rocm).toBe('6.0.2-115');
    expect(g.devices).toEqual([
      { vendor: 'amd', bus: '0000:c1:00.0', model: 'gfx90a', id: '0x740f', uuid: null, pciClass: '0x038000', kernelDriver: 'amdgpu', gfxTarget: 'gfx90a', kfdNode: 1, seenIn: ['kfd', 'sysfs'] },
    ]);
    expect(g.driver).toBeNull();
    expect(gfxTargetName(110000)).toBe('gfx1100');
    expect(gfxTargetName(90402)).toBe('gfx942');
    expect(gfxTargetName(0)).toBeNull();
  });
});

/** Download Debian's libcuda1 and unpack it; the reason when that cannot be done. */
function fetchLibcuda1(dir: string): { deb: string; listing: string } | { reason: string } {
  const which = spawnSync('sh', ['-c', 'command -v apt-get && command -v dpkg-deb'], { encoding: 'utf8' });
  if (which.status !== 0) return { reason: 'apt-get or dpkg-deb not installed' };
  const attempts: string[] = [];
  const tryDownload = (extra: string[]): string | null => {
    const r = spawnSync('apt-get', [...extra, '-o', 'APT::Sandbox::User=root', 'download', 'libcuda1'], { cwd: dir, encoding: 'utf8', timeout: 240_000 });
    const deb = readdirSync(dir).find((f) => /^libcuda1_.*\.deb$/.test(f));
    if (r.status === 0 && deb) return join(dir, deb);
    attempts.push(`${extra.length ? 'with non-free' : 'system sources'}: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').pop()}`);
    return null;
  };
  // libcuda1 is in Debian's non-free component. First the system's own sources; then, when those lack
  // non-free, a private apt state that adds non-free for the same archive (the system's config is untouched).
  let deb = tryDownload([]);
  if (deb === null) {
    const extra = privateNonFreeApt(dir);
    if (extra) {
      const up = spawnSync('apt-get', [...extra, 'update'], { encoding: 'utf8', timeout: 240_000 });
      if (up.status === 0) deb = tryDownload(extra);
      else attempts.push(`apt-get update with non-free: ${(up.stderr || `exit ${up.status}`).trim().split('\n').pop()}`);
    } else attempts.push('no Debian archive found in the apt sources');
  }
  if (deb === null) return { reason: `cannot download libcuda1 (${attempts.join('; ')})` };
  const listing = execFileSync('dpkg-deb', ['-c', deb], { encoding: 'utf8' });
  const into = join(dir, 'root');
  mkdirSync(into);
  execFileSync('dpkg-deb', ['-x', deb, into]);
  return { deb, listing };
}

/** apt-get options for a private state whose only source is the system's main Debian archive, non-free component. */
function privateNonFreeApt(dir: string): string[] | null {
  const entries: { uri: string; suite: string; signedBy: string | null }[] = [];
  const srcDir = '/etc/apt/sources.list.d';
  for (const f of existsSync(srcDir) ? readdirSync(srcDir).filter((n) => n.endsWith('.sources')) : []) {
    for (const stanza of readFileSync(join(srcDir, f), 'utf8').split(/\n\s*\n/)) {
      const field = (k: string) => new RegExp(`^${k}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim();
      if (!field('Types')?.split(/\s+/).includes('deb') || /^Enabled:\s*no/im.test(stanza)) continue;
      for (const uri of field('URIs')?.split(/\s+/) ?? []) {
        for (const suite of field('Suites')?.split(/\s+/) ?? []) entries.push({ uri, suite, signedBy: field('Signed-By') ?? null });
      }
    }
  }
  if (existsSync('/etc/apt/sources.list')) {
    for (const line of readFileSync('/etc/apt/sources.list', 'utf8').split('\n')) {
      const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
      if (m?.[2] && m[3]) entries.push({ uri: m[2], suite: m[3], signedBy: /signed-by=(\S+)/.exec(m[1] ?? '')?.[1] ?? null });
    }
  }
  const main = entries.find((e) => !e.suite.includes('-') && !e.suite.includes('/') && !/security/.test(e.uri));
  if (!main) return null;
  const state = join(dir, 'apt');
  for (const d of ['lists/partial', 'cache/archives/partial']) mkdirSync(join(state, d), { recursive: true });
  const list = put(state, 'sources.list', `deb ${main.signedBy ? `[signed-by=${main.signedBy}] ` : ''}${main.uri} ${main.suite} non-free\n`);
  return [
    '-o', `Dir::Etc::SourceList=${list}`,
    '-o', `Dir::Etc::SourceParts=${join(state, 'none')}`,
    '-o', `Dir::State::Lists=${join(state, 'lists')}`,
    '-o', `Dir::Cache=${join(state, 'cache')}`,
    '-o', 'Dir::State::status=/dev/null',
  ];
}

describe("gpuFacts on a root holding Debian's real libcuda1 package", () => {
  let pkg: { deb: string; listing: string; root: string } | null = null;
  let skipReason = '';
  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-libcuda1-'));
    cleanup.push(dir);
    const r = fetchLibcuda1(dir);
    if ('reason' in r) {
      skipReason = r.reason;
      console.warn(`skipping the libcuda1 test: ${r.reason}`);
    } else pkg = { ...r, root: join(dir, 'root') };
  });

  it('reports the driver version in the package file name, from Debian’s nvidia/current directory', async (ctx) => {
    if (pkg === null) {
      ctx.skip(skipReason);
      return;
    }
    // What dpkg-deb says the package installs: a regular file named libcuda.so.<driver version>.
    const files = pkg.listing
      .split('\n')
      .filter((l) => l.startsWith('-'))
      .map((l) => l.trim().split(/\s+/).pop() ?? '')
      .map((p) => ({ p: p.replace(/^\.\//, ''), m: /(?:^|\/)libcuda\.so\.(\d+\.\d+(?:\.\d+)?)$/.exec(p) }))
      .filter((x) => x.m !== null);
    expect(files).toHaveLength(1);
    const expected = files[0]!.m![1]!;
    const relPath = files[0]!.p;

    const empty = fakeHost();
    const g = await gpuFacts({ proc: empty.proc, sys: empty.sys, root: pkg.root });
    expect(g.driver).toBe(expected);
    expect(g.driverSource).toEqual({ kind: 'library', path: join(pkg.root, relPath) });
    expect(g.devices).toEqual([]);
    console.info(`libcuda1: ${relPath} → driver ${g.driver}`);
  });
});

// Exactly what the kernel prints for the entries Debian's qemu-user-static (1:7.2) registers from
// /usr/lib/binfmt.d/qemu-{aarch64,s390x,ppc64le}.conf (flags OPF): captured from this machine's
// /proc/sys/fs/binfmt_misc after registering them, with the interpreter path put back.
const QEMU_AARCH64 = `enabled
interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
flags: POF
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
`;
const QEMU_S390X = `enabled
interpreter /usr/libexec/qemu-binfmt/s390x-binfmt-P
flags: POF
offset 0
magic 7f454c4602020100000000000000000000020016
mask fffffffffffffffcfffffffffffffffffffeffff
`;
const QEMU_PPC64LE = `enabled
interpreter /usr/libexec/qemu-binfmt/ppc64le-binfmt-P
flags: POF
offset 0
magic 7f454c4602010100000000000000000002001500
mask fffffffffffffffcfffffffffffffffffeffff00
`;
const PYC = `enabled
interpreter /usr/bin/python3.11
flags: 
extension .pyc
`;

describe('binfmt_misc', () => {
  function binfmtHost(status: string | null): HostPaths {
    const h = fakeHost();
    const d = 'sys/fs/binfmt_misc';
    put(h.proc, `${d}/register`, '');
    if (status !== null) put(h.proc, `${d}/status`, `${status}\n`);
    put(h.proc, `${d}/qemu-aarch64`, QEMU_AARCH64);
    put(h.proc, `${d}/qemu-s390x`, QEMU_S390X);
    put(h.proc, `${d}/qemu-ppc64le`, QEMU_PPC64LE.replace('enabled', 'disabled'));
    put(h.proc, `${d}/python3.11`, PYC);
    // magic too short to reach e_machine: architecture from the entry name
    put(h.proc, `${d}/qemu-riscv64`, 'enabled\ninterpreter /usr/bin/qemu-riscv64-static\nflags: F\noffset 0\nmagic 7f454c460201\nmask ffffffffffff\n');
    return h;
  }

  it('returns the enabled emulators with their OCI architecture', async () => {
    const h = binfmtHost('enabled');
    const b = await binfmtEmulators(h);
    expect(b.binfmtStatus).toBe('enabled');
    expect(b.emulators.map((e) => [e.name, e.arch, e.archFrom])).toEqual([
      ['qemu-aarch64', 'arm64', 'elf-magic'],
      ['qemu-riscv64', 'riscv64', 'name'],
      ['qemu-s390x', 's390x', 'elf-magic'],
    ]);
    const a = b.emulators[0]!;
    expect(a).toMatchObject({ interpreter: '/usr/libexec/qemu-binfmt/aarch64-binfmt-P', flags: 'POF', fixBinary: true, offset: 0, enabled: true });
    expect(b.entries.map((e) => e.name)).toEqual(['python3.11', 'qemu-aarch64', 'qemu-ppc64le', 'qemu-riscv64', 'qemu-s390x']);
    expect(b.entries.find((e) => e.name === 'qemu-ppc64le')).toMatchObject({ enabled: false, arch: 'ppc64le' });
    expect(b.entries.find((e) => e.name === 'python3.11')).toMatchObject({ extension: '.pyc', arch: null, magic: null });
    expect(b.evidence.some((e) => e.source === 'binfmt.qemu-aarch64' && e.detail?.includes('arm64'))).toBe(true);
  });

  it('disabled binfmt_misc puts no emulator in effect; a missing one is absent', async () => {
    const off = await binfmtEmulators(binfmtHost('disabled'));
    expect(off.binfmtStatus).toBe('disabled');
    expect(off.emulators).toEqual([]);
    expect(off.entries).toHaveLength(5);
    const none = fakeHost();
    expect(await binfmtStatus(none)).toBe('absent');
    expect(await binfmtEmulators(none)).toMatchObject({ binfmtStatus: 'absent', emulators: [], entries: [] });
  });

  it('maps ELF e_machine with byte order and class', () => {
    const elf = (cls: number, data: number, machine: number) => {
      const b = Buffer.alloc(20);
      b.write('7f454c46', 'hex');
      b[4] = cls;
      b[5] = data;
      if (data === 1) b.writeUInt16LE(machine, 18);
      else b.writeUInt16BE(machine, 18);
      return b.toString('hex');
    };
    expect(archFromElfMagic(elf(2, 1, 183), null)).toBe('arm64');
    expect(archFromElfMagic(elf(2, 1, 21), null)).toBe('ppc64le');
    expect(archFromElfMagic(elf(2, 2, 21), null)).toBe('ppc64');
    expect(archFromElfMagic(elf(2, 1, 243), null)).toBe('riscv64');
    expect(archFromElfMagic(elf(2, 2, 22), null)).toBe('s390x');
    expect(archFromElfMagic(elf(1, 1, 40), null)).toBe('arm');
    expect(archFromElfMagic(elf(1, 1, 3), null)).toBe('386');
    expect(archFromElfMagic(elf(2, 1, 62), null)).toBe('amd64');
    expect(archFromElfMagic(elf(1, 2, 8), null)).toBe('mips');
    expect(archFromElfMagic(elf(2, 1, 8), null)).toBe('mips64le');
    expect(archFromElfMagic(elf(2, 1, 258), null)).toBe('loong64');
    expect(archFromElfMagic('cafebabe', null)).toBeNull();
    // qemu-mipsn32: ELFCLASS32 MIPS with EF_MIPS_ABI2 in e_flags — no OCI name, and not plain mips.
    const n32 = parseBinfmtEntry('qemu-mipsn32', '/x', `enabled\ninterpreter /q\nflags: POF\noffset 0\nmagic 7f454c4601020100000000000000000000020008000000000000000000000000000000000000000020\nmask ffffffffffffff00fefffffffffffffffffeff000000000000000000000000000000000000000020\n`);
    expect(n32.arch).toBeNull();
    expect(archFromEntryName('qemu-aarch64')).toBe('arm64');
    expect(archFromEntryName('qemu-mips64el')).toBe('mips64le');
    expect(archFromEntryName('qemu-x86_64-static')).toBe('amd64');
    expect(archFromEntryName('WSLInterop')).toBeNull();
  });
});

const CONFIG = `#
# Automatically generated file; DO NOT EDIT.
# Linux/x86 6.1.76 Kernel Configuration
#
CONFIG_CC_VERSION_TEXT="gcc-12 (Debian 12.2.0-14) 12.2.0"
CONFIG_LOCALVERSION=""
# CONFIG_LOCALVERSION_AUTO is not set
CONFIG_USER_NS=y
CONFIG_OVERLAY_FS=m
CONFIG_NR_CPUS=8192
# CONFIG_IKCONFIG_PROC is not set
`;

describe('kernelFacts on a fake /proc', () => {
  function kernelHost(): HostPaths {
    const h = fakeHost();
    put(h.proc, 'sys/kernel/osrelease', '6.1.0-18-amd64\n');
    put(h.proc, 'sys/kernel/version', '#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)\n');
    put(h.proc, 'sys/kernel/arch', 'x86_64\n');
    put(h.proc, 'cmdline', 'BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=UUID=1234 ro quiet\n');
    put(h.proc, 'modules', 'overlay 163840 0 - Live 0x0000000000000000\nnvidia_uvm 1540096 0 - Live 0x0000000000000000 (POE)\n');
    put(h.proc, 'sys/user/max_user_namespaces', '63213\n');
    put(h.proc, 'sys/kernel/unprivileged_userns_clone', '1\n');
    put(h.proc, 'sys/kernel/yama/ptrace_scope', '1\n');
    put(h.proc, 'sys/fs/file-max', '9223372036854775807\n');
    put(h.root, 'lib/modules/6.1.0-18-amd64/modules.builtin', 'kernel/fs/ext4/ext4.ko\nkernel/drivers/block/loop.ko\n');
    return h;
  }

  it('reads every field, with config.gz gunzipped and parsed', async () => {
    const h = kernelHost();
    put(h.proc, 'config.gz', gzipSync(CONFIG));
    const k = await kernelFacts(h, { config: 'full' });
    // By default only the options containers depend on are kept, and the config says so.
    expect((await kernelFacts(h)).config).toEqual({ source: 'proc-config-gz', path: join(h.proc, 'config.gz'), options: { CONFIG_USER_NS: 'y', CONFIG_OVERLAY_FS: 'm' }, notSet: [], complete: false });
    expect(k.config?.complete).toBe(true);
    // Both count what the whole file holds, though the default keeps two of its options.
    for (const kf of [k, await kernelFacts(h)]) expect(kf.evidence.find((e) => e.source === 'kernel.config')?.detail).toBe('5 options set, 2 not set');
    // Not read at all when not asked for; user namespaces then come from the sysctls alone.
    const none = await kernelFacts(h, { config: 'none' });
    expect(none.config).toBeNull();
    expect(none.evidence.find((e) => e.source === 'kernel.config')?.detail).toBe('not read (not asked for)');
    expect(k.release).toBe('6.1.0-18-amd64');
    expect(k.version).toBe('#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)');
    expect(k.machine).toBe('x86_64');
    expect(k.cmdline).toBe('BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=UUID=1234 ro quiet');
    expect(k.modules).toEqual(['overlay', 'nvidia_uvm']);
    expect(k.builtinModules).toEqual(['ext4', 'loop']);
    expect(k.config?.source).toBe('proc-config-gz');
    expect(k.config?.path).toBe(join(h.proc, 'config.gz'));
    expect(k.config?.options).toEqual({
      CONFIG_CC_VERSION_TEXT: 'gcc-12 (Debian 12.2.0-14) 12.2.0',
      CONFIG_LOCALVERSION: '',
      CONFIG_USER_NS: 'y',
      CONFIG_OVERLAY_FS: 'm',
      CONFIG_NR_CPUS: '8192',
    });
    expect(k.config?.notSet).toEqual(['CONFIG_LOCALVERSION_AUTO', 'CONFIG_IKCONFIG_PROC']);
    expect(Object.keys(k.sysctls).sort()).toEqual([...SELECTED_SYSCTLS].sort());
    expect(k.sysctls['kernel.yama.ptrace_scope']).toBe('1');
    expect(k.sysctls['fs.file-max']).toBe('9223372036854775807'); // stays a string: not representable as a double
    expect(k.sysctls['vm.max_map_count']).toBeNull();
    expect(k.userNamespaces).toBe(true);
    for (const field of ['release', 'version', 'machine', 'config', 'cmdline', 'modules', 'sysctls', 'userNamespaces']) {
      expect(k.evidence.some((e) => e.source === `kernel.${field}`), field).toBe(true);
    }
  });

  it('falls back to <root>/boot/config-<release>, and judges user namespaces off', async () => {
    const h = kernelHost();
    put(h.root, 'boot/config-6.1.0-18-amd64', CONFIG);
    put(h.proc, 'sys/kernel/unprivileged_userns_clone', '0\n');
    const k = await kernelFacts(h);
    expect(k.config?.source).toBe('boot');
    expect(k.config?.path).toBe(join(h.root, 'boot/config-6.1.0-18-amd64'));
    expect(k.config?.options['CONFIG_USER_NS']).toBe('y');
    expect(k.userNamespaces).toBe(false);
    expect(k.evidence.find((e) => e.source === 'kernel.userNamespaces')?.detail).toContain('unprivileged_userns_clone = 0');

    put(h.proc, 'sys/kernel/unprivileged_userns_clone', '1\n');
    put(h.proc, 'sys/user/max_user_namespaces', '0\n'); // RHEL 7's default
    expect((await kernelFacts(h)).userNamespaces).toBe(false);
  });

  it('no config anywhere is null; a corrupt config.gz is reported, not thrown', async () => {
    const h = kernelHost();
    put(h.proc, 'config.gz', Buffer.from('not gzip at all'));
    const k = await kernelFacts(h);
    expect(k.config).toBeNull();
    expect(k.evidence.find((e) => e.source === 'kernel.config')?.detail).toMatch(/cannot gunzip/);
    expect(parseKernelConfig('CONFIG_A="a \\"quoted\\" word"\n').options['CONFIG_A']).toBe('a "quoted" word');
  });
});

describe('the real machine', () => {
  it('kernelFacts on the real /proc gives the release uname -r prints', async () => {
    const k = await kernelFacts(defaultHostPaths());
    expect(k.release).toBe(execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim());
    expect(k.machine ?? execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim()).toBe(execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim());
    expect(k.sysctls['kernel.pid_max']).toBe(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim());
  });

  it('gpuFacts on this machine finds no GPU and no driver, as the machine has none', async () => {
    // Ground truth, checked independently of the probe: no NVIDIA module and no NVIDIA/AMD display function on the PCI bus.
    const pci = existsSync('/sys/bus/pci/devices') ? readdirSync('/sys/bus/pci/devices') : [];
    const gpuFunctions = pci.filter((d) => {
      const vendor = readFileSync(`/sys/bus/pci/devices/${d}/vendor`, 'utf8').trim();
      const cls = readFileSync(`/sys/bus/pci/devices/${d}/class`, 'utf8').trim();
      return (vendor === '0x10de' || vendor === '0x1002') && cls.startsWith('0x03');
    });
    expect(existsSync('/proc/driver/nvidia/version'), 'this test expects a machine without an NVIDIA driver').toBe(false);
    expect(gpuFunctions, 'this test expects a machine without a GPU').toEqual([]);
    const g = await gpuFacts(defaultHostPaths());
    expect(g.driver).toBeNull();
    expect(g.driverSource).toBeNull();
    expect(g.devices).toEqual([]);
    expect(g.evidence.find((e) => e.path === '/proc/driver/nvidia/version')?.detail).toBe('missing');
  });

  it('systemFacts, fast by default, agrees with node:os; slow asks systeminformation', async () => {
    const t0 = performance.now();
    const s = await systemFacts();
    const fastMs = performance.now() - t0;
    expect(s.slow).toBe(false);
    expect(s.memTotalBytes).toBe(totalmem());
    expect(s.cpu.logical).toBe(availableParallelism());
    expect(s.cpu.physical).toBeGreaterThan(0);
    expect(s.hostname).toBe(readFileSync('/proc/sys/kernel/hostname', 'utf8').trim());
    expect(s.evidence.some((e) => e.source.startsWith('system.') && e.detail?.includes('systeminformation'))).toBe(false);
    const slow = await systemFacts({ slow: true });
    expect(slow.slow).toBe(true);
    expect(slow.evidence.some((e) => e.detail?.startsWith('systeminformation.osInfo()'))).toBe(true);
    console.info(`systemFacts fast path: ${fastMs.toFixed(1)} ms`);
  });

  it('missing --proc/--sys/--root directories give nulls and empties, never a throw', async () => {
    const gone = join(tmpdir(), 'cs-does-not-exist-4f1c');
    const paths = { proc: join(gone, 'proc'), sys: join(gone, 'sys'), root: join(gone, 'root') };
    const k = await kernelFacts(paths);
    expect(k).toMatchObject({ release: null, version: null, machine: null, config: null, cmdline: null, modules: [], builtinModules: null, userNamespaces: null });
    expect(Object.values(k.sysctls).every((v) => v === null)).toBe(true);
    expect(k.evidence.find((e) => e.source === 'kernel.release')).toEqual({ source: 'kernel.release', path: join(paths.proc, 'sys/kernel/osrelease'), detail: 'missing' });
    const g = await gpuFacts(paths);
    expect(g).toMatchObject({ driver: null, driverSource: null, devices: [], libraries: [], amdDriver: null, rocm: null, amdModuleLoaded: false });
    expect((await binfmtEmulators(paths)).binfmtStatus).toBe('absent');
    const s = await systemFacts({ paths, slow: true });
    expect(s).toMatchObject({ hostname: null, memTotalBytes: null, slow: false, cpu: { logical: null, physical: null, model: null } });
  });
});

describe('file reading helpers', () => {
  it('caps reads and resolves absolute links inside a root', async () => {
    const h = fakeHost();
    const big = put(h.root, 'big', Buffer.alloc(5000));
    expect(await readCapped(big, 4096)).toEqual({ kind: 'too-large', cap: 4096 });
    expect((await readCapped(big, 5000)).kind).toBe('ok');
    expect(await readCapped(join(h.root, 'nope'))).toEqual({ kind: 'missing' });
    put(h.root, 'usr/lib/os-release', 'ID=rhel\n');
    link(h.root, 'etc/os-release', '../usr/lib/os-release');
    link(h.root, 'escape', '/../../../../etc/os-release');
    expect(await resolveInRoot(h.root, 'etc/os-release')).toBe(join(h.root, 'usr/lib/os-release'));
    expect(await resolveInRoot(h.root, 'escape')).toBe(join(h.root, 'usr/lib/os-release'));
    expect(await resolveInRoot('/', 'etc/os-release')).toBe('/etc/os-release');
  });

  it('systemFacts reads a copied host: cpuinfo, meminfo, DMI hypervisor; the host facts read its os-release via a link', async () => {
    const h = fakeHost();
    put(h.proc, 'sys/kernel/hostname', 'node042\n');
    put(h.proc, 'meminfo', 'MemTotal:       263842560 kB\nMemFree:  1 kB\n');
    const cpu = (n: number, core: number) => `processor\t: ${n}\nmodel name\t: AMD EPYC 7763 64-Core Processor\nflags\t\t: fpu tsc cx8 svm hypervisor\nphysical id\t: 0\ncore id\t\t: ${core}\n\n`;
    put(h.proc, 'cpuinfo', cpu(0, 0) + cpu(1, 0) + cpu(2, 1) + cpu(3, 1));
    put(h.root, 'usr/lib/os-release', 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\nPRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"\n');
    link(h.root, 'etc/os-release', '../usr/lib/os-release');
    put(h.sys, 'class/dmi/id/sys_vendor', 'QEMU\n');
    put(h.sys, 'class/dmi/id/product_name', 'Standard PC (Q35 + ICH9, 2009)\n');
    const s = await systemFacts({ paths: h });
    expect(s).toMatchObject({
      hostname: 'node042',
      memTotalBytes: 263842560 * 1024,
      cpu: { logical: 4, physical: 2, model: 'AMD EPYC 7763 64-Core Processor' },
      virtualization: { virtual: true, hypervisor: 'qemu', cpuCanVirtualize: true },
      slow: false,
    });
    // The distribution is read once, by the os-release extractor, through the root's own link.
    const f = await hostFacts({ proc: h.proc, sys: h.sys, root: h.root });
    expect(f.os).toMatchObject({ id: 'rocky', idLike: ['rhel', 'centos', 'fedora'], versionId: '9.3', prettyName: 'Rocky Linux 9.3 (Blue Onyx)' });
    expect(f.os.evidence[0]?.path).toBe('usr/lib/os-release');
    expect(f.system.hostname).toBe('node042');
  });
});
