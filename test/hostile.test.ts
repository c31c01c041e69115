/**
 * Hostile input: each class the fuzzer found (issue 14) as a regression test. The contract: exit
 * 0/1/3 with valid JSON, or exit 2 with one line naming what and where; never a crash, a hang, or a
 * read outside the root.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, errorJson, errorLine, runCli, type CliResult } from './helpers/cli.js';
import { buildOci, packTar, rewriteImage, sha256 } from './helpers/oci.js';

const base = mkdtempSync(join(tmpdir(), 'cs-hostile-'));
let n = 0;
const tmp = () => join(base, `h${n++}`);
beforeAll(async () => {
  await buildCli();
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

const osRelease = { name: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\n' };

/** An exit-2 error of one line that contains every `parts`, with no stack trace and nothing on stdout. */
function refused(r: CliResult, ...parts: string[]): string {
  expect(r.code, r.stderr).toBe(2);
  const line = errorLine(r);
  // with --json the error is also the error JSON on stdout, with the same message; else stdout is empty
  if (r.stdout !== '') expect(errorJson(r).error.message).toBe(line.slice(line.indexOf(': ') + 2));
  for (const p of parts) expect(line).toContain(p);
  expect(line).not.toMatch(/internal error|\[object Object\]/);
  return line;
}

async function image(): Promise<string> {
  const dir = tmp();
  await buildOci(dir, [{ entries: [osRelease] }]);
  return dir;
}

/** A classic `docker save` archive holding `manifest` (raw JSON text) and one layer. */
async function dockerArchive(manifest: (layer: string, config: string) => string): Promise<string> {
  const layerTar = await packTar([osRelease]);
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha256(layerTar)] } });
  const cfgName = `${sha256(config).slice(7)}.json`;
  const file = `${tmp()}.tar`;
  writeFileSync(file, await packTar([
    { name: 'manifest.json', content: manifest('abc/layer.tar', cfgName) },
    { name: cfgName, content: config },
    { name: 'abc/layer.tar', content: layerTar },
  ]));
  return file;
}

describe('shapes nobody checked: every outside document is checked against its schema first', () => {
  it('the precompiled validators are those of the vendored schemas (regenerated, they are the same)', async () => {
    const { spawnSync } = await import('node:child_process');
    const { REPO } = await import('./helpers/cli.js');
    const r = spawnSync(process.execPath, ['scripts/gen-validators.mjs', '--check'], { cwd: REPO, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });

  it('a config Env that is not a list', async () => {
    const dir = await image();
    rewriteImage(dir, { config: (t) => t.replace('"Env":[]', '"Env":"PATH=/bin"') });
    refused(await runCli(['inspect', `oci:${dir}`]), 'is not an image config', '/config/Env');
  });

  it('a config Env holding non-strings', async () => {
    const dir = await image();
    rewriteImage(dir, { config: (t) => t.replace('"Env":[]', '"Env":["A=1",2,null]') });
    refused(await runCli(['inspect', `oci:${dir}`]), 'is not an image config', '/config/Env/1', 'must be string');
  });

  it('label values that are not strings', async () => {
    const dir = await image();
    rewriteImage(dir, { config: (t) => t.replace('"Labels":{}', '"Labels":{"org.supercontainers.mpi":{"x":1}}') });
    refused(await runCli(['check', `oci:${dir}`]), 'is not an image config', '/config/Labels');
  });

  it('an index ref.name annotation that is a number', async () => {
    const dir = await image();
    rewriteImage(dir, { index: (t) => t.replace('"org.opencontainers.image.ref.name":"latest"', '"org.opencontainers.image.ref.name":7') });
    refused(await runCli(['inspect', `oci:${dir}:latest`]), 'index.json', 'is not an image index', 'org.opencontainers.image.ref.name');
  });

  it('docker-archive manifest.json with RepoTags or Layers of the wrong type', async () => {
    const tags = await dockerArchive((l, c) => JSON.stringify([{ Config: c, RepoTags: 'app:1', Layers: [l] }]));
    refused(await runCli(['inspect', `docker-archive:${tags}`]), 'manifest.json', 'is not a docker save manifest.json', '/0/RepoTags');
    const layers = await dockerArchive((_l, c) => JSON.stringify([{ Config: c, Layers: 'abc/layer.tar' }]));
    refused(await runCli(['inspect', `docker-archive:${layers}`]), 'is not a docker save manifest.json', '/0/Layers');
    const fine = await dockerArchive((l, c) => JSON.stringify([{ Config: c, RepoTags: ['app:1'], Layers: [l] }]));
    expect((await runCli(['inspect', `docker-archive:${fine}`])).code).toBe(0); // the premise: the archive is otherwise good
  });

  it('a config nested 100,000 levels deep is refused before parsing, naming the limit and how to raise it', async () => {
    const dir = await image();
    rewriteImage(dir, { config: (t) => t.replace('"Env":[]', `"Env":[],"x":${'['.repeat(100_000)}${']'.repeat(100_000)}`) });
    refused(await runCli(['inspect', `oci:${dir}`]), 'nesting depth 65', 'CONTAINERSPEC_MAX_JSON_DEPTH');
  });

  it('--platform linux/__proto__ is a platform like any other, not a prototype lookup', async () => {
    const dir = tmp();
    const { buildOciIndex } = await import('./helpers/oci.js');
    await buildOciIndex(dir, [{ platform: { os: 'linux', architecture: 'amd64' }, layers: [{ entries: [osRelease] }] }]);
    refused(await runCli(['inspect', `oci:${dir}`, '--platform', 'linux/__proto__']), 'no image for platform linux/__proto__', 'linux/amd64');
    refused(await runCli(['check', `oci:${dir}`, '--set', '__proto__=1']), 'unknown key "__proto__"');
    refused(await runCli(['check', `oci:${dir}`, '--set', 'mpi=constructor@1']), '--set mpi=constructor@1');
  });
});

describe('sizes nobody checked', () => {
  /** An oci-archive whose index.json member carries a PAX size record of `size`. */
  async function paxArchive(size: string): Promise<string> {
    const dir = await image();
    const { readdirSync, readFileSync } = await import('node:fs');
    const entries = [
      { name: 'oci-layout', content: readFileSync(join(dir, 'oci-layout')) },
      { name: 'index.json', content: readFileSync(join(dir, 'index.json')), pax: { size } },
      ...readdirSync(join(dir, 'blobs/sha256')).map((h) => ({ name: `blobs/sha256/${h}`, content: readFileSync(join(dir, 'blobs/sha256', h)) })),
    ];
    const file = `${tmp()}.tar`;
    writeFileSync(file, await packTar(entries));
    return file;
  }

  for (const size of ['-1', 'abc', '0.5', '99999999999999999999']) {
    it(`a PAX size of ${size} in an oci-archive`, async () => {
      const file = await paxArchive(size);
      refused(await runCli(['inspect', `oci-archive:${file}`]), file);
    });
  }

  it('a docker-archive member that is a symlink cycle, or a link chain longer than the limit', async () => {
    const layerTar = await packTar([osRelease]);
    const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(layerTar)] } });
    const cfg = `${sha256(config).slice(7)}.json`;
    const cycle = `${tmp()}.tar`;
    writeFileSync(cycle, await packTar([
      { name: 'manifest.json', content: JSON.stringify([{ Config: cfg, Layers: ['a/layer.tar'] }]) },
      { name: cfg, content: config },
      { name: 'a/layer.tar', type: 'symlink', linkname: '../b/layer.tar' },
      { name: 'b/layer.tar', type: 'symlink', linkname: '../a/layer.tar' },
    ]));
    refused(await runCli(['inspect', `docker-archive:${cycle}`]), 'a/layer.tar');
    const chain = `${tmp()}.tar`;
    const links = Array.from({ length: 60 }, (_, i) => ({ name: `l${i}/layer.tar`, type: 'symlink' as const, linkname: `../l${i + 1}/layer.tar` }));
    writeFileSync(chain, await packTar([
      { name: 'manifest.json', content: JSON.stringify([{ Config: cfg, Layers: ['l0/layer.tar'] }]) },
      { name: cfg, content: config },
      ...links,
      { name: 'l60/layer.tar', content: layerTar },
    ]));
    refused(await runCli(['inspect', `docker-archive:${chain}`]), 'l0/layer.tar');
  });

  it('a manifest naming one layer 10,000 times: over the layers limit; with the limit raised, read once', async () => {
    const dir = await image();
    rewriteImage(dir, {
      manifest: (t) => {
        const m = JSON.parse(t);
        m.layers = Array.from({ length: 10_000 }, () => m.layers[0]);
        return JSON.stringify(m);
      },
      config: (t) => {
        const c = JSON.parse(t);
        c.rootfs.diff_ids = Array.from({ length: 10_000 }, () => c.rootfs.diff_ids[0]);
        return JSON.stringify(c);
      },
    });
    refused(await runCli(['inspect', `oci:${dir}`]), '10000 layers', 'CONTAINERSPEC_MAX_LAYERS');
    const ok = await runCli(['inspect', `oci:${dir}`, '--json', '--limit', 'layers=20000']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).layers).toHaveLength(10_000);
  });
});

describe('limits', () => {
  it('a bad limit value is a usage error naming the variable', async () => {
    const dir = await image();
    refused(await runCli(['inspect', `oci:${dir}`, '--limit', 'layers=0']), '--limit layers=0');
    refused(await runCli(['inspect', `oci:${dir}`, '--limit', 'bogus=3']), 'unknown limit', 'jsonDepth');
  });
});


describe('host trees are read safely', () => {
  it('a FIFO in a --proc copy is not opened for reading (host finishes, and says the file is not regular)', async () => {
    const { makeFakeHost } = await import('./helpers/fake-host.js');
    const { execFileSync } = await import('node:child_process');
    const h = makeFakeHost(tmp(), { name: 'fifo-node', cpuinfoFile: 'test/data/archspec-targets/linux-rhel7-haswell', arch: 'x86_64' });
    execFileSync('mkfifo', [join(h.proc, 'meminfo')]);
    execFileSync('mkfifo', [join(h.proc, 'modules')]);
    const r = await runCli(['host', '--proc', h.proc, '--sys', h.sys, '--root', h.root, '--json'], { timeoutMs: 20_000 });
    expect(r.signal).toBeNull(); // not killed by the timeout: nothing blocked
    expect(r.code, r.stderr).toBe(0);
    const f = JSON.parse(r.stdout);
    expect(f.system.memTotalBytes).toBeNull();
    expect(f.system.evidence.find((e: { path?: string }) => e.path === join(h.proc, 'meminfo'))?.detail).toContain('not a regular file');
    expect(f.cpu.microarch).toBe('haswell'); // the rest was read
  });

  it('modulespath and ld.so.conf entries with /.. reach nothing outside --root', async () => {
    const { makeFakeHost, put } = await import('./helpers/fake-host.js');
    const { symlinkSync } = await import('node:fs');
    const outside = tmp();
    // Outside the root: a modulefile that names a library directory, and a conf file.
    put(outside, 'modules/openmpi', '#%Module\nprepend-path LD_LIBRARY_PATH /outside-mpi/lib\n');
    put(outside, 'ld.conf', '/outside-conf/lib\n');
    const h = makeFakeHost(tmp(), { name: 'escape-node', cpuinfoFile: 'test/data/archspec-targets/linux-rhel7-haswell', arch: 'x86_64' });
    const up = '/..'.repeat(12);
    put(h.root, 'etc/environment-modules/modulespath', `${up}${outside}/modules\n`);
    put(h.root, 'etc/ld.so.conf', `include ${up}${outside}/ld.conf\n`);
    // and a --proc copy holding a symlink out of the tree
    symlinkSync(join(outside, 'ld.conf'), join(h.proc, 'sys/kernel/version'));
    // A library directory the outside files name, with an MPI library in it, inside the root: found only if they were read.
    const { readFileSync } = await import('node:fs');
    put(h.root, 'outside-mpi/lib/libmpi.so.40', readFileSync('/usr/lib/x86_64-linux-gnu/libc.so.6'));
    const r = await runCli(['host', '--proc', h.proc, '--sys', h.sys, '--root', h.root, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const f = JSON.parse(r.stdout);
    expect(f.mpi).toEqual([]); // the outside modulefile was not read
    expect(f.kernel.version).toBeNull(); // proc/sys/kernel/version pointed outside the copy: not read
    expect(f.kernel.evidence.find((e: { source: string }) => e.source === 'kernel.version')?.detail).toContain('outside the host tree');
    expect(JSON.stringify(f)).not.toContain('outside-conf');
  });
});

describe('dir: reads ELF files by position', () => {
  it('a 64 GiB sparse file with an ELF header whose tables lie far out, and a huge libc.so.6 without a banner, cost what their headers cost', async () => {
    const { readFileSync, truncateSync } = await import('node:fs');
    const { put } = await import('./helpers/fake-host.js');
    const root = tmp();
    put(root, 'etc/os-release', osRelease.content);
    // /bin/true with its PT_DYNAMIC moved to 60 GiB into the file
    const elf = Buffer.from(readFileSync('/bin/true'));
    const phoff = Number(elf.readBigUInt64LE(0x20));
    const phentsize = elf.readUInt16LE(0x36);
    const phnum = elf.readUInt16LE(0x38);
    for (let i = 0; i < phnum; i++) {
      const ph = phoff + i * phentsize;
      if (elf.readUInt32LE(ph) === 2) elf.writeBigUInt64LE(60n << 30n, ph + 8);
    }
    const tool = put(root, 'usr/bin/tool', elf);
    truncateSync(tool, 64 * 2 ** 30);
    // a "libc.so.6" the glibc banner search would read to the end
    const libc = Buffer.from(readFileSync('/usr/lib/x86_64-linux-gnu/libc.so.6'));
    libc.fill(0x20, libc.indexOf('GNU C Library'), libc.indexOf('GNU C Library') + 13);
    const big = put(root, 'usr/lib/x86_64-linux-gnu/libc.so.6', libc);
    truncateSync(big, 64 * 2 ** 30);
    const r = await runCli(['inspect', `dir:${root}`, '--json', '--limit', 'scannedBytesPerFile=16777216'], { timeoutMs: 60_000 });
    expect(r.signal).toBeNull();
    expect(r.code, r.stderr).toBe(0);
    const f = JSON.parse(r.stdout);
    expect(f.platform.architecture).toBe('amd64'); // both ELF files were read
    expect(f.stats.elfFiles).toBe(2);
    expect(f.warnings.map((w: { code: string }) => w.code)).toContain('scan-cut');
    // What this process really read (rchar of /proc/self/io), in-process: megabytes, not 128 GiB.
    const { inspect } = await import('../src/inspect.js');
    const rchar = () => Number(/^rchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))![1]);
    process.env.CONTAINERSPEC_MAX_SCANNED_BYTES = String(16 << 20);
    try {
      const before = rchar();
      await inspect(`dir:${root}`);
      expect(rchar() - before).toBeLessThan(64 << 20);
    } finally {
      delete process.env.CONTAINERSPEC_MAX_SCANNED_BYTES;
    }
  });
});

describe('clean shutdown on every error', () => {
  /** A layer whose tar goes bad after its first entry, followed by 32 MiB more: a decoder left running would block on a full pipe. */
  async function badMidStream(compression: 'gzip' | 'zstd' | 'none'): Promise<string> {
    const dir = tmp();
    const { gzipSync } = await import('node:zlib');
    const { execFileSync } = await import('node:child_process');
    const { replaceLayerBlob } = await import('./helpers/oci.js');
    await buildOci(dir, [{ entries: [osRelease], compression: 'none' }]);
    const tar = await packTar([osRelease, { name: 'opt/big', content: Buffer.alloc(32 << 20, 0x41) }]);
    tar.fill(0xff, 1024, 1024 + 100); // the second header: a bad checksum
    const data = compression === 'gzip' ? gzipSync(tar) : compression === 'zstd' ? execFileSync('zstd', ['-q', '-c'], { input: tar, maxBuffer: 1 << 30 }) : tar;
    replaceLayerBlob(dir, 0, data);
    return dir;
  }

  const childrenOf = async (pid: number) => {
    const { execFileSync } = await import('node:child_process');
    try {
      return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };

  for (const [label, compression, env] of [
    ['gzip', 'gzip', {}],
    ['zstd (the zstd command)', 'zstd', {}],
    ['zstd (fzstd)', 'zstd', { CONTAINERSPEC_ZSTD: 'js' }],
    ['uncompressed', 'none', {}],
  ] as const) {
    it(`${label}: a tar gone bad mid-stream is one error line, the process exits at once and leaves no decoder running`, async () => {
      const dir = await badMidStream(compression);
      const { spawn } = await import('node:child_process');
      const { REPO } = await import('./helpers/cli.js');
      const child = spawn(process.execPath, [join(REPO, 'bin/containerspec.js'), 'inspect', `oci:${dir}`], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      let left: string[] = [];
      let sawError = false;
      child.stderr.once('data', async () => {
        sawError = true;
        await new Promise((r) => setTimeout(r, 100));
        left = await childrenOf(child.pid!);
      });
      const code = await new Promise<number | null>((resolve) => {
        const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.on('close', (c) => {
          clearTimeout(t);
          resolve(c);
        });
      });
      expect(code, stderr).toBe(2); // not killed by the timer: it exited by itself
      expect(sawError).toBe(true);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(/malformed tar in layer sha256:/);
      expect(left, 'child processes still running after the error line').toEqual([]);
    });
  }
});

describe('layers: every size and range is checked', () => {
  async function withLayer(data: Buffer): Promise<string> {
    const dir = await image();
    const { replaceLayerBlob } = await import('./helpers/oci.js');
    replaceLayerBlob(dir, 0, data);
    return dir;
  }

  it('a 0-byte layer blob', async () => {
    refused(await runCli(['inspect', `oci:${await withLayer(Buffer.alloc(0))}`]), 'is empty (0 bytes)');
  });

  for (const size of ['-1', 'abc', '0.5']) {
    it(`a PAX size of ${size} inside a layer`, async () => {
      const t = await packTar([osRelease, { name: 'opt/x', content: 'data', pax: { size } }]);
      refused(await runCli(['inspect', `oci:${await withLayer(t)}`]), 'malformed tar in layer sha256:', 'bad PAX size');
    });
  }

  it('more entries than the limit, and a longer path than the limit, name the limit', async () => {
    const t = await packTar(Array.from({ length: 50 }, (_, i) => ({ name: `f${i}`, content: 'x' })));
    const dir = await withLayer(t);
    refused(await runCli(['inspect', `oci:${dir}`, '--limit', 'entries=20']), 'more than 20', 'CONTAINERSPEC_MAX_ENTRIES');
    expect((await runCli(['inspect', `oci:${dir}`])).code).toBe(0);
    const long = await withLayer(await packTar([{ name: `${'d/'.repeat(3000)}f`, content: 'x' }]));
    refused(await runCli(['inspect', `oci:${long}`]), 'a path of 6001 bytes', 'CONTAINERSPEC_MAX_PATH');
  });

  it('a descriptor size that disagrees with the blob', async () => {
    const dir = await image();
    rewriteImage(dir, {
      manifest: (t) => {
        const m = JSON.parse(t);
        m.layers[0].size += 7;
        return JSON.stringify(m);
      },
    });
    refused(await runCli(['inspect', `oci:${dir}`]), 'the manifest says');
  });
});

describe('the README states the limits', () => {
  it('its Limits table lists every limit with the default and variable the code uses', async () => {
    const { readFileSync } = await import('node:fs');
    const { REPO } = await import('./helpers/cli.js');
    const { LIMITS } = await import('../src/limits.js');
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    for (const l of LIMITS) expect(readme).toContain(`| \`${l.key}\` | ${l.what} | ${l.default.toLocaleString('en-US')} | \`${l.env}\` |`);
  });
});

describe('found by the fuzzer', () => {
  it("a layer whose blob digest is re-fixed but whose config diff_id is stale: the tar's digest is checked too", async () => {
    const dir = await image();
    const { gzipSync } = await import('node:zlib');
    const { readFileSync } = await import('node:fs');
    // the layer now holds another tar (its blob digest and size re-fixed in the manifest), the config still names the old one
    const { writeFileSync: write } = await import('node:fs');
    const idx = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    const m = JSON.parse(readFileSync(join(dir, 'blobs', idx.manifests[0].digest.replace(':', '/')), 'utf8'));
    const blob = gzipSync(await packTar([{ name: 'etc/os-release', content: 'ID=evil\n' }]));
    const d = sha256(blob);
    write(join(dir, 'blobs/sha256', d.slice(7)), blob);
    m.layers[0] = { ...m.layers[0], digest: d, size: blob.length };
    const mb = JSON.stringify(m);
    write(join(dir, 'blobs/sha256', sha256(mb).slice(7)), mb);
    idx.manifests[0] = { ...idx.manifests[0], digest: sha256(mb), size: mb.length };
    write(join(dir, 'index.json'), JSON.stringify(idx));
    refused(await runCli(['inspect', `oci:${dir}`]), "the config's diff_id", 'digest mismatch');
  });

  it('a classic docker-archive listing two different layer files under one diff_id: both are checked', async () => {
    const good = await packTar([osRelease]);
    const changed = await packTar([{ name: 'etc/os-release', content: 'ID=evil\n' }]);
    const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(good), sha256(good)] } });
    const cfg = `${sha256(config).slice(7)}.json`;
    const file = `${tmp()}.tar`;
    writeFileSync(file, await packTar([
      { name: 'manifest.json', content: JSON.stringify([{ Config: cfg, Layers: ['a/layer.tar', 'b/layer.tar'] }]) },
      { name: cfg, content: config },
      { name: 'a/layer.tar', content: good },
      { name: 'b/layer.tar', content: changed },
    ]));
    refused(await runCli(['inspect', `docker-archive:${file}`]), 'b/layer.tar', 'digest mismatch');
  });

  it('a classic docker-archive listing one layer file 500 times, by name and through a link: streamed once', async () => {
    const { openImage } = await import('../src/image/open.js');
    const { readLayers } = await import('../src/layers/read.js');
    const { wantsFor } = await import('../src/extract/index.js');
    const layerTar = await packTar([osRelease]);
    const id = sha256(layerTar);
    const names = Array.from({ length: 500 }, (_, i) => (i % 2 ? 'abc/layer.tar' : 'alias/layer.tar'));
    const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: names.map(() => id) } });
    const cfg = `${sha256(config).slice(7)}.json`;
    const file = `${tmp()}.tar`;
    writeFileSync(file, await packTar([
      { name: 'manifest.json', content: JSON.stringify([{ Config: cfg, Layers: names }]) },
      { name: cfg, content: config },
      { name: 'abc/layer.tar', content: layerTar },
      { name: 'alias/layer.tar', type: 'symlink', linkname: '../abc/layer.tar' },
    ]));
    const img = await openImage(`docker-archive:${file}`);
    let opens = 0;
    const counted = { ...img, layers: img.layers.map((l) => (l.kind === 'blob' ? { ...l, open: () => (opens++, l.open()) } : l)) };
    const scans = await readLayers(counted, wantsFor('image'));
    expect(scans).toHaveLength(500);
    expect(opens).toBe(1);
    // and the CLI answers (it streamed the member 500 times before: 20 s and more on a large layer)
    const r = await runCli(['inspect', `docker-archive:${file}`, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).layers).toHaveLength(500);
  });

  it('a FIFO or a character device given as --host, --history or --bind is refused at once, not read', async () => {
    const { execFileSync } = await import('node:child_process');
    const dir = await image();
    const fifo = `${tmp()}.fifo`;
    execFileSync('mkfifo', [fifo]);
    for (const args of [['--host', fifo], ['--host', '/dev/zero'], ['--history', '/dev/zero'], ['--bind', '/dev/zero'], ['--bind', fifo]]) {
      const r = await runCli(['check', `oci:${dir}`, ...args], { timeoutMs: 15_000 });
      expect(r.signal, args.join(' ')).toBeNull();
      refused(r, 'not a regular file');
    }
  });

  it('a huge sparse facts file is refused by its size, not read', async () => {
    const { truncateSync } = await import('node:fs');
    const dir = await image();
    const f = `${tmp()}.json`;
    writeFileSync(f, '{"kind":"host"');
    truncateSync(f, 16 * 2 ** 30);
    const r = await runCli(['check', `oci:${dir}`, '--host', f], { timeoutMs: 15_000 });
    expect(r.signal).toBeNull();
    refused(r, `${16 * 2 ** 30} bytes`);
  });

  it('--identity of a dir: holding a 1 TiB sparse file is refused by the identity limit, not hashed for hours', async () => {
    const { truncateSync } = await import('node:fs');
    const { put } = await import('./helpers/fake-host.js');
    const root = tmp();
    put(root, 'etc/os-release', osRelease.content);
    truncateSync(put(root, 'data/huge.bin', 'x'), 2 ** 40);
    const r = await runCli(['inspect', `dir:${root}`, '--identity'], { timeoutMs: 20_000 });
    expect(r.signal).toBeNull();
    refused(r, 'its identity would hash', 'CONTAINERSPEC_MAX_IDENTITY_BYTES');
    expect((await runCli(['inspect', `dir:${root}`])).code).toBe(0); // without --identity nothing reads it whole
  });

  it('symlink targets longer than the path limit stop the read at the first one', async () => {
    const { replaceLayerBlob } = await import('./helpers/oci.js');
    const dir = await image();
    replaceLayerBlob(dir, 0, await packTar(Array.from({ length: 5 }, (_, i) => ({ name: `l${i}`, type: 'symlink' as const, linkname: 'a/'.repeat(200_000) }))));
    refused(await runCli(['inspect', `oci:${dir}`]), 'the target of /l0', 'CONTAINERSPEC_MAX_PATH');
  });
});
