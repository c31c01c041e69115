/**
 * binfmt_misc: which foreign architectures the host can run through a registered emulator (qemu-user).
 * Each entry file under `proc/sys/fs/binfmt_misc/` reads, as the kernel prints it:
 *
 * ```
 * enabled
 * interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
 * flags: POF
 * offset 0
 * magic 7f454c460201010000000000000000000200b700
 * mask ffffffffffffff00fffffffffffffffffeffffff
 * ```
 *
 * (an extension entry has `extension .pyc` instead of offset/magic/mask).
 */
import { join } from 'node:path';
import { EM, ociArchForElf } from '../elf/machines.js';
import type { EmulatorFact } from '../model/facts.js';
import { type Evidence, type HostPaths, listDir, procPath, readTextEvidence } from './paths.js';
import { table } from '../util/own.js';

/** One registered binfmt_misc handler, as parsed from its entry file. */
export interface BinfmtEntry {
  /** Entry name, e.g. `qemu-aarch64`. */
  name: string;
  /** The entry file. */
  path: string;
  /** First line is `enabled`. */
  enabled: boolean;
  /** Interpreter path, as registered. */
  interpreter: string | null;
  /** Flag letters: P preserve argv[0], O open binary, C credentials, F fix binary. */
  flags: string;
  /** F flag: the kernel opened the interpreter at registration, so it also works inside containers and chroots. */
  fixBinary: boolean;
  /** Magic offset; null for extension entries. */
  offset: number | null;
  /** Magic bytes as lower-case hex; null for extension entries. */
  magic: string | null;
  /** Mask as lower-case hex; null when none. */
  mask: string | null;
  /** File name extension for `E` entries, e.g. `.pyc`. */
  extension: string | null;
  /** OCI architecture this handler runs (`arm64`, `ppc64le`, …), or null when it is not an ELF emulator we recognise. */
  arch: string | null;
  /** How {@link BinfmtEntry.arch} was found: from the ELF header in the magic, or from the entry name. */
  archFrom: 'elf-magic' | 'name' | null;
}

/** Whether binfmt_misc is usable: `enabled`/`disabled` from its `status` file; `absent` when not mounted. */
export type BinfmtStatus = 'enabled' | 'disabled' | 'absent';

/** Result of {@link binfmtEmulators}. */
export interface BinfmtProbe {
  /** binfmt_misc itself. */
  binfmtStatus: BinfmtStatus;
  /** Enabled entries that emulate an architecture; sorted by name. */
  emulators: BinfmtEntry[];
  /** Every entry read, enabled or not, emulator or not (python, jar, WSLInterop…). */
  entries: BinfmtEntry[];
  /** What was read. Sources: `binfmt.status`, `binfmt.<entry name>`. */
  evidence: Evidence[];
}

const BINFMT_DIR = 'sys/fs/binfmt_misc';

/** Read binfmt_misc's status: `enabled`, `disabled`, or `absent` when `status` is missing (not mounted). */
export async function binfmtStatus(paths: HostPaths, evidence: Evidence[] = []): Promise<BinfmtStatus> {
  const statusPath = procPath(paths, join(BINFMT_DIR, 'status'));
  const text = await readTextEvidence('binfmt.status', statusPath, evidence);
  if (text === null) return 'absent';
  const t = text.trim();
  if (t === 'enabled' || t === 'disabled') return t;
  evidence.push({ source: 'binfmt.status', path: statusPath, detail: `unexpected status ${JSON.stringify(t)}; treated as absent` });
  return 'absent';
}

/**
 * Read every binfmt_misc entry under `paths.proc` and return the enabled emulators with the OCI
 * architecture each one runs. When binfmt_misc is disabled, no entry is in effect, so `emulators` is empty.
 */
export async function binfmtEmulators(paths: HostPaths): Promise<BinfmtProbe> {
  const evidence: Evidence[] = [];
  const status = await binfmtStatus(paths, evidence);
  const dir = procPath(paths, BINFMT_DIR);
  const names = (await listDir(dir)) ?? [];
  const entries: BinfmtEntry[] = [];
  for (const name of names) {
    if (name === 'register' || name === 'status') continue;
    const path = join(dir, name);
    const text = await readTextEvidence(`binfmt.${name}`, path, evidence, (t) => {
      const e = parseBinfmtEntry(name, path, t);
      return `${e.enabled ? 'enabled' : 'disabled'}, interpreter ${e.interpreter ?? '?'}, flags ${e.flags || '-'}, arch ${e.arch ?? 'none'}${e.archFrom ? ` (from ${e.archFrom})` : ''}`;
    }, 64 * 1024);
    if (text === null) continue;
    entries.push(parseBinfmtEntry(name, path, text));
  }
  if (status === 'disabled' && entries.some((e) => e.enabled)) {
    evidence.push({ source: 'binfmt.status', path: dir, detail: 'binfmt_misc is disabled: no entry is in effect' });
  }
  const emulators = status === 'enabled' ? entries.filter((e) => e.enabled && e.arch !== null) : [];
  return { binfmtStatus: status, emulators, entries, evidence };
}

/** Parse the text of one binfmt_misc entry file (the format the kernel prints). */
export function parseBinfmtEntry(name: string, path: string, text: string): BinfmtEntry {
  const lines = text.split('\n').map((l) => l.trim());
  let interpreter: string | null = null;
  let flags = '';
  let offset: number | null = null;
  let magic: string | null = null;
  let mask: string | null = null;
  let extension: string | null = null;
  for (const line of lines) {
    if (line.startsWith('interpreter ')) interpreter = line.slice('interpreter '.length).trim() || null;
    else if (line.startsWith('flags:')) flags = line.slice('flags:'.length).trim();
    else if (line.startsWith('offset ')) offset = Number.parseInt(line.slice('offset '.length), 10);
    else if (line.startsWith('magic ')) magic = line.slice('magic '.length).trim().toLowerCase();
    else if (line.startsWith('mask ')) mask = line.slice('mask '.length).trim().toLowerCase();
    else if (line.startsWith('extension ')) extension = line.slice('extension '.length).trim();
  }
  if (offset !== null && !Number.isFinite(offset)) offset = null;
  let arch: string | null = null;
  let archFrom: BinfmtEntry['archFrom'] = null;
  if (magic !== null) {
    arch = archFromElfMagic(magic, mask, offset ?? 0);
    if (arch !== null) archFrom = 'elf-magic';
  }
  if (arch === null && extension === null) {
    arch = archFromEntryName(name);
    if (arch !== null) archFrom = 'name';
  }
  return {
    name,
    path,
    enabled: lines[0] === 'enabled',
    interpreter,
    flags,
    fixBinary: flags.includes('F'),
    offset,
    magic,
    mask,
    extension,
    arch,
    archFrom,
  };
}

/**
 * Architecture emulated by a magic-matching entry, from the ELF header bytes it matches:
 * needs `\x7fELF` at file offset 0, EI_CLASS (byte 4), EI_DATA (byte 5, byte order) and e_machine
 * (bytes 18–19, in that byte order). Bytes are taken after applying the mask. Null when the magic is not
 * an ELF header or too short to include e_machine.
 */
export function archFromElfMagic(magicHex: string, maskHex: string | null, offset = 0): string | null {
  if (offset !== 0 || !/^([0-9a-f]{2})+$/.test(magicHex)) return null;
  const magic = Buffer.from(magicHex, 'hex');
  const mask = maskHex !== null && /^([0-9a-f]{2})*$/.test(maskHex) ? Buffer.from(maskHex, 'hex') : null;
  const byte = (i: number): number | null => {
    const b = magic[i];
    if (b === undefined) return null;
    const m = mask ? (mask[i] ?? 0xff) : 0xff;
    return b & m;
  };
  if (byte(0) !== 0x7f || byte(1) !== 0x45 || byte(2) !== 0x4c || byte(3) !== 0x46) return null;
  const cls = byte(4);
  const data = byte(5);
  const lo = byte(18);
  const hi = byte(19);
  if (lo === null || hi === null) return null;
  const endian = data === 2 ? 'big' : 'little';
  const machine = endian === 'little' ? lo | (hi << 8) : (lo << 8) | hi;
  const bits = cls === 1 ? 32 : 64;
  if (machine === EM.MIPS && bits === 32) {
    // n32 (64-bit MIPS, 32-bit pointers) is ELFCLASS32 with EF_MIPS_ABI2 (0x20) in e_flags (bytes 36–39): no OCI name.
    const flagsLast = byte(endian === 'little' ? 36 : 39);
    if (flagsLast !== null && (flagsLast & 0x20) !== 0) return null;
  }
  return ociArchForElf(machine, bits, endian);
}

/** qemu target names (after `qemu-`) mapped to OCI architectures. */
const QEMU_TARGETS = table<string>({
  aarch64: 'arm64',
  arm64: 'arm64',
  arm: 'arm',
  armhf: 'arm',
  armel: 'arm',
  i386: '386',
  i486: '386',
  i686: '386',
  x86_64: 'amd64',
  amd64: 'amd64',
  ppc64le: 'ppc64le',
  ppc64el: 'ppc64le',
  ppc64: 'ppc64',
  ppc: 'ppc',
  s390x: 's390x',
  riscv64: 'riscv64',
  riscv32: 'riscv32',
  mips: 'mips',
  mipsel: 'mipsle',
  mips64: 'mips64',
  mips64el: 'mips64le',
  loongarch64: 'loong64',
  loong64: 'loong64',
  sparc64: 'sparc64',
  sparc: 'sparc',
  m68k: 'm68k',
  hppa: 'hppa',
});

/** Architecture from an entry name: `qemu-aarch64` → `arm64`, `qemu-ppc64le-static` → `ppc64le`; null when unknown. */
export function archFromEntryName(name: string): string | null {
  const base = name.toLowerCase().replace(/^qemu-/, '').replace(/-static$/, '');
  return QEMU_TARGETS[base] ?? null;
}

/** An enabled emulator entry as the host facts record it. */
export function emulatorFact(e: BinfmtEntry): EmulatorFact {
  return { name: e.name, architecture: e.arch, interpreter: e.interpreter, flags: e.flags || null, fixBinary: e.fixBinary, path: e.path };
}
