import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ElfCollector, isaLevelName, isElfMagic, machineToArch, parseElf } from '../src/elf/index.js';
import type { ElfInfo, ElfResult } from '../src/elf/index.js';

const LIBDIR = '/usr/lib/x86_64-linux-gnu';
const LIBC = `${LIBDIR}/libc.so.6`;
const LS = '/bin/ls';

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const hasReadelf = has('readelf');
const onAmd64Debian = existsSync(LIBC) && existsSync(LS);

function info(r: ElfResult): ElfInfo {
  if (!r.ok) throw new Error(`expected ok, got: ${r.reason}`);
  return r.info;
}

function stream(buf: Uint8Array, chunk: number, opts: { maxKeep?: number } = {}): { r: ElfResult; c: ElfCollector } {
  const c = new ElfCollector(opts);
  for (let i = 0; i < buf.length; i += chunk) c.push(buf.subarray(i, i + chunk));
  return { r: c.finish(), c };
}

// ---------------------------------------------------------------------------------------------------------------
// What readelf (binutils) says about a file: the reference the reader is checked against.

interface ReadelfFacts {
  bits: 32 | 64;
  endian: 'little' | 'big';
  type: string;
  machine: string;
  osabi: string;
  interpreter: string | null;
  needed: string[];
  soname: string | null;
  versionNeeds: { file: string; versions: string[] }[];
  versionDefs: string[];
  abiTag: { os: string; kernel: string } | null;
  isaNeeded: string[];
}

function readelf(path: string): ReadelfFacts {
  const out = execFileSync('readelf', ['-h', '-l', '-d', '-V', '-n', '--wide', path], {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    env: { ...process.env, LC_ALL: 'C' },
  });
  const one = (re: RegExp): string | null => re.exec(out)?.[1] ?? null;
  const facts: ReadelfFacts = {
    bits: one(/Class:\s+ELF(\d+)/) === '64' ? 64 : 32,
    endian: /Data:.*little endian/.test(out) ? 'little' : 'big',
    type: (one(/^\s*Type:\s+(\w+)/m) ?? '').toLowerCase(),
    machine: one(/Machine:\s+(.*)/) ?? '',
    osabi: one(/OS\/ABI:\s+(.*)/) ?? '',
    interpreter: one(/\[Requesting program interpreter: (.*)\]/),
    needed: [...out.matchAll(/\(NEEDED\)\s+Shared library: \[(.*)\]/g)].map((m) => m[1] ?? ''),
    soname: one(/\(SONAME\)\s+Library soname: \[(.*)\]/),
    versionNeeds: [],
    versionDefs: [],
    abiTag: null,
    isaNeeded: (one(/x86 ISA needed: (.*)/) ?? '').split(', ').filter((s) => s !== ''),
  };
  const abi = /OS: (\w+), ABI: ([\d.]+)/.exec(out);
  if (abi) facts.abiTag = { os: (abi[1] ?? '').toLowerCase(), kernel: abi[2] ?? '' };
  let block = '';
  for (const line of out.split('\n')) {
    if (/^Version \w+ section/.test(line)) block = line.startsWith('Version needs') ? 'r' : line.startsWith('Version definition') ? 'd' : '';
    else if (/^\S/.test(line)) block = '';
    const file = /File: (\S+)\s+Cnt:/.exec(line);
    const need = /^\s+0x[0-9a-f]+:\s+Name: (\S+)\s+Flags:/.exec(line);
    const def = /Rev: \d+\s+Flags: (.*?)\s+Index: \d+\s+Cnt: \d+\s+Name: (\S+)/.exec(line);
    if (block === 'r' && file) facts.versionNeeds.push({ file: file[1] ?? '', versions: [] });
    else if (block === 'r' && need) facts.versionNeeds.at(-1)?.versions.push(need[1] ?? '');
    else if (block === 'd' && def && !(def[1] ?? '').includes('BASE')) facts.versionDefs.push(def[2] ?? '');
  }
  return facts;
}

const ISA_BITS: Record<string, number> = { 'x86-64-baseline': 1, 'x86-64-v2': 2, 'x86-64-v3': 4, 'x86-64-v4': 8 };
const OSABI: Record<string, number> = { 'UNIX - System V': 0, 'UNIX - GNU': 3 };

function expectMatchesReadelf(i: ElfInfo, ref: ReadelfFacts): void {
  expect(i.bits).toBe(ref.bits);
  expect(i.endian).toBe(ref.endian);
  expect(i.type).toBe(ref.type);
  if (ref.machine === 'Advanced Micro Devices X86-64') expect(i.arch).toBe('amd64');
  else if (ref.machine === 'Intel 80386') expect(i.arch).toBe('386');
  else throw new Error(`unexpected machine in readelf output: ${ref.machine}`);
  expect(OSABI[ref.osabi]).toBe(i.osabi);
  expect(i.interpreter).toBe(ref.interpreter);
  expect(i.needed).toEqual(ref.needed);
  expect(i.soname).toBe(ref.soname);
  expect(i.versionNeeds).toEqual(ref.versionNeeds);
  expect(i.versionDefs).toEqual(ref.versionDefs);
  expect(i.abiTag).toEqual(ref.abiTag);
  const refMask = ref.isaNeeded.reduce((m, n) => m | (ISA_BITS[n] ?? 0x100), 0);
  expect(i.x86IsaNeeded).toBe(ref.isaNeeded.length > 0 ? refMask : null);
  expect(i.warnings).toEqual([]);
}

/** Real files on this machine, plus two built with the local toolchain when it can. */
function realFiles(): string[] {
  const candidates = [
    LS,
    '/bin/bash',
    '/sbin/ldconfig',
    '/usr/bin/git',
    LIBC,
    `${LIBDIR}/libm.so.6`,
    `${LIBDIR}/libstdc++.so.6`,
    `${LIBDIR}/libgcc_s.so.1`,
    `${LIBDIR}/libz.so.1`,
    `${LIBDIR}/ld-linux-x86-64.so.2`,
  ];
  return [...new Set(candidates.filter((p) => existsSync(p)).map((p) => realpathSync(p)))];
}

let built: { v3: string | null; lib32: string | null } | null = null;
/** A v3-marked executable and a 32-bit shared library with version definitions, built with gcc if possible. */
function builtFiles(): { v3: string | null; lib32: string | null } {
  if (built) return built;
  built = { v3: null, lib32: null };
  if (!has('gcc')) return built;
  const dir = mkdtempSync(join(tmpdir(), 'elf-test-'));
  writeFileSync(join(dir, 'main.c'), 'int main(void) { return 0; }\n');
  writeFileSync(join(dir, 'f.c'), 'int f(void) { return 1; }\nint g(void) { return 2; }\n');
  writeFileSync(join(dir, 'v.map'), 'V1 { global: f; local: *; };\nV2 { global: g; } V1;\n');
  try {
    execFileSync('gcc', ['-o', join(dir, 'v3'), join(dir, 'main.c'), '-Wl,-z,x86-64-v3'], { stdio: 'ignore' });
    built.v3 = join(dir, 'v3');
  } catch {
    /* linker without -z x86-64-v3 */
  }
  try {
    execFileSync(
      'gcc',
      ['-m32', '-shared', '-nostdlib', '-fPIC', '-Wl,-soname,libf32.so.1', `-Wl,--version-script=${join(dir, 'v.map')}`, '-o', join(dir, 'libf32.so'), join(dir, 'f.c')],
      { stdio: 'ignore' },
    );
    built.lib32 = join(dir, 'libf32.so');
  } catch {
    /* no 32-bit support */
  }
  return built;
}

// ---------------------------------------------------------------------------------------------------------------

describe.skipIf(!hasReadelf || !onAmd64Debian)('real binaries agree with readelf', () => {
  test.each(realFiles())('%s', (path) => {
    expectMatchesReadelf(info(parseElf(readFileSync(path))), readelf(path));
  });

  test('facts a user relies on: /bin/ls and libc.so.6', () => {
    const ls = info(parseElf(readFileSync(LS)));
    expect(ls.arch).toBe('amd64');
    expect(ls.interpreter).toBe('/lib64/ld-linux-x86-64.so.2');
    expect(ls.needed).toContain('libc.so.6');
    const glibc = ls.versionNeeds.find((v) => v.file === 'libc.so.6');
    expect(glibc?.versions).toContain('GLIBC_2.2.5');

    const libc = info(parseElf(readFileSync(LIBC)));
    expect(libc.soname).toBe('libc.so.6');
    expect(libc.abiTag).toEqual({ os: 'linux', kernel: '3.2.0' });
    expect(libc.x86IsaNeeded).toBe(1);
    expect(isaLevelName(libc.x86IsaNeeded)).toBe('x86-64');
    expect(libc.versionDefs).not.toContain('libc.so.6');
    for (let minor = 2; minor <= 36; minor++) {
      if ([19, 20, 21].includes(minor)) continue; // glibc never defined these version nodes on x86-64
      expect(libc.versionDefs).toContain(minor === 2 ? 'GLIBC_2.2.5' : `GLIBC_2.${minor}`);
    }
  });

  test('a large library (the largest under /usr/lib/x86_64-linux-gnu) agrees with readelf', () => {
    const path = largestLibrary();
    expectMatchesReadelf(info(stream(readFileSync(path), 1 << 20).r), readelf(path));
  });

  test('binaries built here: x86-64-v3 marker and a 32-bit library with version definitions', () => {
    const { v3, lib32 } = builtFiles();
    if (v3) {
      const i = info(parseElf(readFileSync(v3)));
      expectMatchesReadelf(i, readelf(v3));
      expect(isaLevelName(i.x86IsaNeeded)).toBe('x86-64-v3');
    }
    if (lib32) {
      const i = info(parseElf(readFileSync(lib32)));
      expectMatchesReadelf(i, readelf(lib32));
      expect(i).toMatchObject({ bits: 32, arch: '386', soname: 'libf32.so.1', versionDefs: ['V1', 'V2'] });
    }
  });
});

function largestLibrary(): string {
  let best = LIBC;
  let bestSize = 0;
  for (const name of readdirSync(LIBDIR)) {
    if (!/\.so(\.|$)/.test(name)) continue;
    const p = join(LIBDIR, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (st?.isFile() && st.size > bestSize && isElfMagic(readFileSync(p).subarray(0, 4))) {
      best = p;
      bestSize = st.size;
    }
  }
  return best;
}

describe.skipIf(!onAmd64Debian)('streaming', () => {
  test.each([1, 7, 4096, 1 << 20])('/bin/ls in chunks of %i bytes equals parseElf', (chunk) => {
    const buf = readFileSync(LS);
    expect(stream(buf, chunk).r).toEqual(parseElf(buf));
  });

  test.each([7, 4096, 65536, 1 << 20])('libc.so.6 in chunks of %i bytes equals parseElf', (chunk) => {
    const buf = readFileSync(LIBC);
    expect(stream(buf, chunk).r).toEqual(parseElf(buf));
  });

  test('the caller may stop once wantsMore is false, passing the size to finish', () => {
    for (const path of [LS, LIBC]) {
      const buf = readFileSync(path);
      const c = new ElfCollector();
      let fed = 0;
      while (c.wantsMore && fed < buf.length) {
        c.push(buf.subarray(fed, fed + 4096));
        fed += 4096;
      }
      expect(fed).toBeLessThan(buf.length); // section headers and what follows PT_DYNAMIC are skipped
      expect(c.finish(buf.length)).toEqual(parseElf(buf));
    }
  });

  test('kept bytes are copies: the caller may reuse its chunk buffer after push', () => {
    const buf = readFileSync(LS);
    const c = new ElfCollector();
    const scratch = Buffer.alloc(8192);
    for (let i = 0; i < buf.length; i += scratch.length) {
      const n = buf.copy(scratch, 0, i, i + scratch.length);
      c.push(scratch.subarray(0, n));
      scratch.fill(0xa5);
    }
    expect(c.finish()).toEqual(parseElf(buf));
  });

  test('a non-ELF file stops wanting bytes after the magic', () => {
    const c = new ElfCollector();
    c.push(new TextEncoder().encode('#!/bin/sh\necho hi\n'));
    expect(c.wantsMore).toBe(false);
    expect(c.finish()).toEqual({ ok: false, reason: 'not an ELF file' });
  });

  test('keeps only a small part of libc.so.6', () => {
    const buf = readFileSync(LIBC);
    const { c } = stream(buf, 65536);
    expect(c.keptBytes).toBeGreaterThan(0);
    expect(c.keptBytes).toBeLessThan(buf.length / 4);
  });

  test('keeps far less than the largest library', () => {
    const path = largestLibrary();
    const buf = readFileSync(path);
    const { r, c } = stream(buf, 1 << 20);
    expect(r.ok).toBe(true);
    expect(c.keptBytes).toBeLessThanOrEqual((16 << 20) + (4 << 20));
    if (buf.length > 64 << 20) expect(c.keptBytes).toBeLessThan(buf.length / 4);
  });

  test('a small maxKeep gives warnings, not failure, and the header facts survive', () => {
    const buf = readFileSync(LIBC);
    const { r, c } = stream(buf, 65536, { maxKeep: 4096 });
    const i = info(r);
    expect(c.keptBytes).toBeLessThan(64 * 1024);
    expect(i.arch).toBe('amd64');
    expect(i.interpreter).toBe('/lib64/ld-linux-x86-64.so.2'); // PT_INTERP is kept on its own
    expect(i.abiTag).toEqual({ os: 'linux', kernel: '3.2.0' }); // so are the notes
    expect(i.versionDefs).toEqual([]);
    expect(i.warnings.join('\n')).toMatch(/beyond the bytes kept/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Hand-built files: other machines, classes and byte orders, and tables after PT_DYNAMIC.

interface Spec {
  bits: 32 | 64;
  little: boolean;
  machine: number;
  interp?: string;
  needed: string[];
  soname: string;
  needs: { file: string; versions: string[] }[];
  defs: string[];
  abi: [number, number, number, number];
  isa: number;
  /** Put the string and version tables in a second PT_LOAD after PT_DYNAMIC, past a gap. */
  tablesLast?: boolean;
}

interface Built {
  buf: Uint8Array;
  /** File offsets of the Verneed entries. */
  verneed: number[];
  /** File offset of the dynamic section. */
  dynamic: number;
}

function build(s: Spec): Built {
  const w = s.bits === 64;
  const buf = new Uint8Array(1 << 18);
  const dv = new DataView(buf.buffer);
  const u16 = (o: number, v: number): void => dv.setUint16(o, v, s.little);
  const u32 = (o: number, v: number): void => dv.setUint32(o, v, s.little);
  const word = (o: number, v: number): void => (w ? dv.setBigUint64(o, BigInt(v), s.little) : dv.setUint32(o, v, s.little));
  const ws = w ? 8 : 4;

  // dynstr
  let strtab = '\0';
  const strOff = new Map<string, number>();
  const str = (x: string): number => {
    if (!strOff.has(x)) {
      strOff.set(x, strtab.length);
      strtab += `${x}\0`;
    }
    return strOff.get(x) ?? 0;
  };

  const ehsize = w ? 64 : 52;
  const phentsize = w ? 56 : 32;
  const phnum = 6;
  let at = ehsize + phnum * phentsize;
  const align8 = (n: number): number => Math.ceil(n / 8) * 8;

  const writeTables = (): { strtab: number; verneed: number[]; verneedAt: number; verdefAt: number; end: number } => {
    const verneed: number[] = [];
    const verneedAt = at;
    s.needs.forEach((n, k) => {
      const e = at;
      verneed.push(e);
      u16(e, 1);
      u16(e + 2, n.versions.length);
      u32(e + 4, str(n.file));
      u32(e + 8, 16);
      u32(e + 12, k === s.needs.length - 1 ? 0 : 16 + 16 * n.versions.length);
      n.versions.forEach((v, j) => {
        const a = e + 16 + 16 * j;
        u32(a + 8, str(v));
        u32(a + 12, j === n.versions.length - 1 ? 0 : 16);
      });
      at = e + 16 + 16 * n.versions.length;
    });
    const verdefAt = at;
    const defs = [s.soname, ...s.defs];
    defs.forEach((d, k) => {
      const e = at;
      u16(e, 1);
      u16(e + 2, k === 0 ? 1 : 0);
      u16(e + 4, k + 1);
      u16(e + 6, 1);
      u32(e + 12, 20);
      u32(e + 16, k === defs.length - 1 ? 0 : 28);
      u32(e + 20, str(d));
      at = e + 28;
    });
    s.needed.forEach(str);
    const strAt = at;
    buf.set(new TextEncoder().encode(strtab), strAt);
    at = align8(strAt + strtab.length);
    return { strtab: strAt, verneed, verneedAt, verdefAt, end: at };
  };
  const writeInterp = (): [number, number] => {
    if (!s.interp) return [0, 0];
    const o = at;
    buf.set(new TextEncoder().encode(`${s.interp}\0`), o);
    at = align8(o + s.interp.length + 1);
    return [o, s.interp.length + 1];
  };
  const writeNotes = (): [number, number, number] => {
    const o = at;
    u32(o, 4), u32(o + 4, 16), u32(o + 8, 1), buf.set([71, 78, 85, 0], o + 12);
    s.abi.forEach((v, k) => u32(o + 16 + 4 * k, v));
    const p = o + 32;
    const descsz = w ? 16 : 12;
    u32(p, 4), u32(p + 4, descsz), u32(p + 8, 5), buf.set([71, 78, 85, 0], p + 12);
    u32(p + 16, 0xc0008002), u32(p + 20, 4), u32(p + 24, s.isa);
    at = align8(p + 16 + descsz);
    return [o, at - o, p];
  };

  let tables: ReturnType<typeof writeTables>;
  let interp: [number, number];
  let notes: [number, number, number];
  const dynAt = (): number => at;
  let dyn = 0;
  const dynCount = s.needed.length + 8;
  const reserveDynamic = (): void => {
    dyn = dynAt();
    at += dynCount * 2 * ws;
  };
  let load2 = 0;
  if (s.tablesLast) {
    interp = writeInterp();
    notes = writeNotes();
    reserveDynamic();
    at = align8(at) + 0x8000; // a gap: the tables are not in the first PT_LOAD
    load2 = at;
    tables = writeTables();
  } else {
    tables = writeTables();
    interp = writeInterp();
    notes = writeNotes();
    reserveDynamic();
  }
  const size = at;
  // Second PT_LOAD is mapped 0x10000 above its file offset, to exercise address mapping.
  const VDELTA = 0x10000;
  const va = (off: number): number => (s.tablesLast && off >= load2 ? off + VDELTA : off);

  // dynamic
  let d = dyn;
  const ent = (tag: number, val: number): void => {
    word(d, tag);
    word(d + ws, val);
    d += 2 * ws;
  };
  s.needed.forEach((n) => ent(1, str(n)));
  ent(14, str(s.soname));
  ent(5, va(tables.strtab));
  ent(10, strtab.length);
  ent(0x6ffffffe, va(tables.verneedAt));
  ent(0x6fffffff, s.needs.length);
  ent(0x6ffffffc, va(tables.verdefAt));
  ent(0x6ffffffd, s.defs.length + 1);
  ent(0, 0);

  // header
  buf.set([0x7f, 0x45, 0x4c, 0x46, w ? 2 : 1, s.little ? 1 : 2, 1, 0], 0);
  u16(16, 3);
  u16(18, s.machine);
  u32(20, 1);
  word(w ? 32 : 28, ehsize);
  u16(w ? 52 : 40, ehsize);
  u16(w ? 54 : 42, phentsize);
  u16(w ? 56 : 44, phnum);

  const phdr = (k: number, type: number, off: number, vaddr: number, filesz: number, align: number): void => {
    const p = ehsize + k * phentsize;
    u32(p, type);
    if (w) {
      word(p + 8, off), word(p + 16, vaddr), word(p + 24, vaddr), word(p + 32, filesz), word(p + 40, filesz), word(p + 48, align);
    } else {
      u32(p + 4, off), u32(p + 8, vaddr), u32(p + 12, vaddr), u32(p + 16, filesz), u32(p + 20, filesz), u32(p + 28, align);
    }
  };
  const firstEnd = s.tablesLast ? load2 - 0x8000 : size;
  phdr(0, 1, 0, 0, firstEnd, 0x1000);
  phdr(1, 1, s.tablesLast ? load2 : firstEnd, s.tablesLast ? load2 + VDELTA : firstEnd, s.tablesLast ? size - load2 : 0, 0x1000);
  phdr(2, s.interp ? 3 : 0, interp[0], interp[0], interp[1], 1);
  phdr(3, 4, notes[0], notes[0], notes[1], 4);
  phdr(4, 2, dyn, dyn, dynCount * 2 * ws, ws);
  phdr(5, 0x6474e553, notes[2], notes[2], notes[1] - (notes[2] - notes[0]), ws);
  return { buf: buf.slice(0, size), verneed: tables.verneed, dynamic: dyn };
}

const SAMPLE = {
  interp: '/lib/ld.so.1',
  needed: ['libfoo.so.1', 'libc.so.6'],
  soname: 'libbar.so.2',
  needs: [
    { file: 'libc.so.6', versions: ['GLIBC_2.17', 'GLIBC_2.34'] },
    { file: 'libfoo.so.1', versions: ['FOO_1.0'] },
  ],
  defs: ['BAR_1', 'BAR_2'],
  abi: [0, 4, 19, 1] as [number, number, number, number],
  isa: 0b0111,
};

describe('hand-built files for other machines', () => {
  const cases: [string, 32 | 64, boolean, number][] = [
    ['mips', 32, false, 8],
    ['mipsle', 32, true, 8],
    ['mips64', 64, false, 8],
    ['ppc64', 64, false, 21],
    ['ppc64le', 64, true, 21],
    ['s390x', 64, false, 22],
    ['arm', 32, true, 40],
    ['arm64', 64, true, 183],
    ['riscv64', 64, true, 243],
    ['ppc', 32, false, 20],
  ];
  test.each(cases)('%s (%i-bit, little=%s)', (arch, bits, little, machine) => {
    for (const tablesLast of [false, true]) {
      const { buf } = build({ bits, little, machine, tablesLast, ...SAMPLE });
      const i = info(parseElf(buf));
      expect(i).toEqual({
        bits,
        endian: little ? 'little' : 'big',
        machine,
        arch,
        type: 'dyn',
        osabi: 0,
        interpreter: SAMPLE.interp,
        abiTag: { os: 'linux', kernel: '4.19.1' },
        needed: SAMPLE.needed,
        soname: SAMPLE.soname,
        versionNeeds: SAMPLE.needs,
        versionDefs: SAMPLE.defs,
        x86IsaNeeded: SAMPLE.isa,
        warnings: [],
      });
      for (const chunk of [1, 5, 64, 4096]) expect(stream(buf, chunk).r).toEqual(parseElf(buf));
    }
  });

  test('string and version tables after PT_DYNAMIC are kept even when the first PT_LOAD is small', () => {
    const { buf } = build({ bits: 64, little: true, machine: 62, tablesLast: true, ...SAMPLE });
    const { r, c } = stream(buf, 1000);
    expect(info(r).versionNeeds).toEqual(SAMPLE.needs);
    expect(c.keptBytes).toBeLessThan(buf.length / 2); // the 32 KiB gap was not kept
  });

  test('machineToArch names', () => {
    expect(machineToArch(62, 64, 'little')).toBe('amd64');
    expect(machineToArch(3, 32, 'little')).toBe('386');
    expect(machineToArch(183, 64, 'little')).toBe('arm64');
    expect(machineToArch(40, 32, 'little')).toBe('arm');
    expect(machineToArch(21, 64, 'little')).toBe('ppc64le');
    expect(machineToArch(21, 64, 'big')).toBe('ppc64');
    expect(machineToArch(20, 32, 'big')).toBe('ppc');
    expect(machineToArch(22, 64, 'big')).toBe('s390x');
    expect(machineToArch(243, 64, 'little')).toBe('riscv64');
    expect(machineToArch(243, 32, 'little')).toBe('riscv32');
    expect(machineToArch(8, 64, 'little')).toBe('mips64le');
    expect(machineToArch(8, 64, 'big')).toBe('mips64');
    expect(machineToArch(8, 32, 'little')).toBe('mipsle');
    expect(machineToArch(8, 32, 'big')).toBe('mips');
    expect(machineToArch(258, 64, 'little')).toBe('loong64');
    expect(machineToArch(9999, 64, 'little')).toBe('unknown-9999');
  });

  test('isaLevelName picks the highest level bit', () => {
    expect(isaLevelName(null)).toBeNull();
    expect(isaLevelName(0)).toBeNull();
    expect(isaLevelName(1)).toBe('x86-64');
    expect(isaLevelName(0b11)).toBe('x86-64-v2');
    expect(isaLevelName(0b101)).toBe('x86-64-v3');
    expect(isaLevelName(0b1111)).toBe('x86-64-v4');
  });

  test('isElfMagic', () => {
    expect(isElfMagic(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2]))).toBe(true);
    expect(isElfMagic(new Uint8Array([0x7f, 0x45, 0x4c]))).toBe(false);
    expect(isElfMagic(new TextEncoder().encode('#!/bin/sh'))).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Corrupt input: a result, never an exception, never a hang.

/** parseElf plus the streaming path, checking they agree and neither throws nor reports an internal error. */
function robust(buf: Uint8Array): ElfResult {
  const r = parseElf(buf);
  expect(stream(buf, 4093).r).toEqual(r);
  if (!r.ok) expect(r.reason).not.toMatch(/internal error/);
  return r;
}

function patch(buf: Uint8Array, f: (dv: DataView) => void): Uint8Array {
  const copy = new Uint8Array(buf);
  f(new DataView(copy.buffer, copy.byteOffset, copy.byteLength));
  return copy;
}

describe('corrupt input', () => {
  test('header problems are failures with a reason', () => {
    expect(parseElf(new Uint8Array(0))).toEqual({ ok: false, reason: 'not an ELF file' });
    expect(parseElf(new Uint8Array([0x7f, 0x45]))).toEqual({ ok: false, reason: 'not an ELF file' });
    const head = new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, ...new Array<number>(56).fill(0)]);
    expect(robust(head.subarray(0, 20))).toMatchObject({ ok: false, reason: expect.stringMatching(/truncated ELF header/) });
    expect(robust(patch(head, (d) => d.setUint8(4, 7)))).toMatchObject({ ok: false, reason: expect.stringMatching(/class/) });
    expect(robust(patch(head, (d) => d.setUint8(5, 0)))).toMatchObject({ ok: false, reason: expect.stringMatching(/data encoding/) });
  });

  test.skipIf(!onAmd64Debian || !hasReadelf)('truncated libc.so.6: header only, mid program headers, mid dynamic, anywhere', () => {
    const buf = readFileSync(LIBC);
    const ref = info(parseElf(buf));
    expect(robust(buf.subarray(0, 40))).toMatchObject({ ok: false, reason: expect.stringMatching(/truncated ELF header/) });
    expect(robust(buf.subarray(0, 64))).toMatchObject({ ok: false, reason: expect.stringMatching(/program header table out of range/) });
    expect(robust(buf.subarray(0, 64 + 56 * 5 + 13))).toMatchObject({ ok: false });
    const dynOff = Number(/Dynamic section at offset (0x[0-9a-f]+)/.exec(readelfOut(LIBC))?.[1] ?? 0);
    if (dynOff > 0) {
      const mid = info(robust(buf.subarray(0, dynOff + 40)));
      expect(mid.arch).toBe('amd64');
      expect(mid.abiTag).toEqual(ref.abiTag);
      expect(mid.warnings.join('\n')).toMatch(/outside the file/);
    }
    const t0 = Date.now();
    for (let k = 1; k < 200; k++) robust(buf.subarray(0, Math.floor((buf.length * k) / 200)));
    expect(Date.now() - t0).toBeLessThan(20_000);
  });

  test.skipIf(!onAmd64Debian)('offsets flipped to huge values in /bin/ls', () => {
    const buf = readFileSync(LS);
    const le = true;
    expect(robust(patch(buf, (d) => d.setBigUint64(32, 0xffffffffffffn, le)))).toMatchObject({ ok: false });
    expect(robust(patch(buf, (d) => d.setBigUint64(32, 0xffffffffffffffffn, le)))).toMatchObject({ ok: false });
    expect(robust(patch(buf, (d) => d.setUint16(56, 0xfff0, le)))).toMatchObject({ ok: false });
    expect(robust(patch(buf, (d) => d.setUint16(56, 0xffff, le)))).toMatchObject({ ok: false });
    expect(robust(patch(buf, (d) => d.setUint16(54, 0, le)))).toMatchObject({ ok: false });
    const phnum = new DataView(buf.buffer, buf.byteOffset).getUint16(56, le);
    for (let k = 0; k < phnum; k++) {
      for (const field of [8, 16, 32]) {
        for (const v of [0xffffffffn, 0x7fffffffffffn, 0xffffffffffffffffn]) {
          const r = robust(patch(buf, (d) => d.setBigUint64(64 + k * 56 + field, v, le)));
          expect(r.ok, `phdr ${k} field ${field} = ${v}: ${r.ok ? '' : r.reason}`).toBe(true);
        }
      }
    }
  });

  test.skipIf(!onAmd64Debian || !hasReadelf)('broken dynamic entries and version chains in /bin/ls', () => {
    const buf = readFileSync(LS);
    const out = readelfOut(LS);
    const dyn = Number(/Dynamic section at offset (0x[0-9a-f]+)/.exec(out)?.[1]);
    const vr = Number(/Version needs section[^\n]*\n[^\n]*Offset: (0x[0-9a-f]+)/.exec(out)?.[1]);
    expect(dyn).toBeGreaterThan(0);
    expect(vr).toBeGreaterThan(0);
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const entry = (tag: number): number => {
      for (let o = dyn; o < dyn + 4096; o += 16) if (dv.getBigUint64(o, true) === BigInt(tag)) return o;
      throw new Error(`no dynamic tag ${tag}`);
    };
    const setVal = (tag: number, v: bigint): Uint8Array => patch(buf, (d) => d.setBigUint64(entry(tag) + 8, v, true));

    const strsz = info(robust(setVal(10, 1n)));
    expect(strsz.needed).toEqual([]);
    expect(strsz.warnings.join('\n')).toMatch(/beyond DT_STRSZ/);
    expect(info(robust(setVal(5, 0x7fffffffffn))).warnings.join('\n')).toMatch(/not in any PT_LOAD/);
    expect(info(robust(setVal(5, 0xffffffffffffffffn))).needed).toEqual([]);
    expect(info(robust(setVal(0x6ffffffe, 0x7fffffffn))).versionNeeds).toEqual([]);
    expect(info(robust(setVal(0x6fffffff, 0xffffffffn))).warnings.join('\n')).toMatch(/absurd count/);
    // vn_next of the first entry pointing far away; vn_cnt huge; vna_next pointing back to the entry itself.
    expect(info(robust(patch(buf, (d) => d.setUint32(vr + 12, 0xfffffff0, true)))).warnings.join('\n')).toMatch(/outside the file/);
    expect(robust(patch(buf, (d) => d.setUint16(vr + 2, 0xffff, true))).ok).toBe(true);
    expect(robust(patch(buf, (d) => d.setUint32(vr + 16 + 12, 0, true))).ok).toBe(true);
  });

  test('a vn_next loop in a 32-bit file (links wrap as a 32-bit loader adds them)', () => {
    const b = build({ bits: 32, little: false, machine: 8, ...SAMPLE });
    const [first, second] = b.verneed as [number, number];
    const looped = patch(b.buf, (d) => {
      d.setUint32(second + 12, (first - second) >>> 0, false); // second -> first
    });
    // Remove DT_VERNEEDNUM's bound so only loop detection stops the walk.
    const dv = new DataView(looped.buffer);
    for (let o = b.dynamic; o + 8 <= looped.length; o += 8) if (dv.getUint32(o, false) === 0x6fffffff) dv.setUint32(o + 4, 1000, false);
    const i = info(robust(looped));
    expect(i.versionNeeds.map((v) => v.file)).toEqual(['libc.so.6', 'libfoo.so.1']);
    expect(i.warnings).toContain('version needs: vn_next loop');
  });

  test.skipIf(!onAmd64Debian || !hasReadelf)('random byte corruption of /bin/ls and hand-built files never throws', () => {
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const ls = readFileSync(LS);
    const dyn = Number(/Dynamic section at offset (0x[0-9a-f]+)/.exec(readelfOut(LS))?.[1]);
    const samples = [build({ bits: 32, little: false, machine: 8, ...SAMPLE }).buf, build({ bits: 64, little: true, machine: 62, tablesLast: true, ...SAMPLE }).buf];
    const t0 = Date.now();
    for (let k = 0; k < 300; k++) {
      const src = k % 3 === 0 ? ls : (samples[k % 2] ?? ls);
      const hot = src === ls ? [0, 0x2000, dyn, dyn + 0x200] : [0, src.length];
      const copy = new Uint8Array(src);
      for (let j = 0; j < 1 + rnd(8); j++) {
        const region = rnd(2) * 2;
        const lo = hot[region] ?? 0;
        const hi = hot[region + 1] ?? src.length;
        copy[lo + rnd(hi - lo)] = rnd(256);
      }
      const r = parseElf(copy);
      if (!r.ok) expect(r.reason).not.toMatch(/internal error/);
      if (k % 10 === 0) expect(stream(copy, 997).r).toEqual(r);
    }
    expect(Date.now() - t0).toBeLessThan(30_000);
  });
});

const readelfCache = new Map<string, string>();
function readelfOut(path: string): string {
  let out = readelfCache.get(path);
  if (out === undefined) {
    out = execFileSync('readelf', ['-d', '-V', '--wide', path], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
    readelfCache.set(path, out);
  }
  return out;
}
