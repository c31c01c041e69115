/**
 * Reading Linux `/proc/cpuinfo` text: the first processor block, and the kernel machine
 * name it implies.
 */

/**
 * The first processor block of a `/proc/cpuinfo` text, as archspec reads it: lines
 * `key : value` (split at the first colon, both sides trimmed; a later duplicate key wins)
 * until the first line without a colon once some data was read. Colon-less lines before any
 * data (e.g. leading blank lines) are skipped.
 */
export function parseCpuinfo(text: string): Record<string, string> {
  const data: Record<string, string> = Object.create(null) as Record<string, string>;
  let any = false;
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i < 0) {
      if (any) break;
      continue;
    }
    data[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    any = true;
  }
  return data;
}

/**
 * The kernel machine name (as `uname -m` prints it) implied by a `/proc/cpuinfo` text, for
 * when nothing else says it; `null` when the text matches no known layout.
 * - `vendor_id : IBM/S390` → `s390x`;
 * - x86 (`flags` and `vendor_id`) → `x86_64`, or `i686` when `flags` lacks `lm` (long mode);
 * - ARM (`Features` and `CPU implementer`) → `aarch64`, or `armv7l` when
 *   `CPU architecture` is a number below 8;
 * - POWER (`cpu : POWERn`, or a `revision` line with a `pvr`) → `ppc64le`: cpuinfo does not
 *   tell the byte order, and little-endian is what current POWER Linux distributions run, so
 *   big-endian `ppc64` hosts are reported as `ppc64le` here;
 * - RISC-V (`isa : rv64...` or a `uarch` line) → `riscv64` (`isa : rv32...` → `riscv32`).
 */
export function inferMachine(cpuinfoText: string): string | null {
  const info = parseCpuinfo(cpuinfoText);
  const vendor = info['vendor_id'];
  if (vendor === 'IBM/S390') return 's390x';
  const flags = info['flags'];
  if (flags !== undefined && vendor !== undefined) {
    return flags.split(/\s+/).includes('lm') ? 'x86_64' : 'i686';
  }
  if (info['Features'] !== undefined && info['CPU implementer'] !== undefined) {
    const archNum = Number.parseInt(info['CPU architecture'] ?? '', 10);
    return Number.isFinite(archNum) && archNum < 8 ? 'armv7l' : 'aarch64';
  }
  if (/POWER\d+/.test(info['cpu'] ?? '') || /\bpvr\b/.test(info['revision'] ?? '')) return 'ppc64le';
  const isa = (info['isa'] ?? '').toLowerCase();
  if (isa.startsWith('rv32')) return 'riscv32';
  if (isa.startsWith('rv64') || info['uarch'] !== undefined) return 'riscv64';
  return null;
}
