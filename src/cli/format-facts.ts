import type { Facts, VersionRequirement } from '../model/facts.js';
import { table } from './output.js';

const req = (r: VersionRequirement | null, prefix = '') => (r ? `${prefix}${r.version}${r.evidence[0]?.path ? `  (/${r.evidence[0].path.replace(/^\//, '')})` : ''}` : '-');

/** A short human summary of image or host facts. */
export function formatFacts(f: Facts): string {
  const rows: string[][] = [];
  const p = f.platform;
  rows.push(['platform', p.architecture ? `${p.os ?? 'linux'}/${p.architecture}${p.variant ? `/${p.variant}` : ''}` : 'unknown']);
  if (f.os.id || f.os.prettyName) rows.push(['os', f.os.prettyName ?? `${f.os.id} ${f.os.versionId ?? ''}`]);
  rows.push(['libc', f.libc.family ? `${f.libc.family} ${f.libc.version ?? '(version unknown)'}` : 'none found']);
  rows.push(['mpi', f.mpi.length ? f.mpi.map((m) => `${m.implementation} ${m.version ?? '?'} (${m.soname ?? '?'}, ${m.abi ?? '?'} ABI)`).join('; ') : 'none']);
  if (f.kind === 'image') {
    const cuda = f.cuda.runtime ? `CUDA runtime ${f.cuda.runtimeFull ?? f.cuda.runtime}` : 'no CUDA runtime';
    rows.push(['gpu', `${cuda}${f.cuda.env.NVIDIA_REQUIRE_CUDA ? `; NVIDIA_REQUIRE_CUDA=${f.cuda.env.NVIDIA_REQUIRE_CUDA}` : ''}${f.cuda.compatDriver ? `; compat driver ${f.cuda.compatDriver}` : ''}`]);
    rows.push(['requires glibc', req(f.requires.glibc, '>= ')]);
    rows.push(['requires kernel', req(f.requires.kernel, '>= ')]);
    if (f.requires.cuda) rows.push(['requires cuda', `>= ${f.requires.cuda.version}`]);
    if (f.requires.glibcxx) rows.push(['requires GLIBCXX', req(f.requires.glibcxx, '>= ')]);
    if (f.requires.microarch) rows.push(['requires target', `${f.requires.microarch.version} (${f.requires.microarch.evidence[0]?.source ?? ''})`]);
    else if (f.requires.isaLevel) rows.push(['x86 ISA level', f.requires.isaLevel.version]);
    if (f.permissions) rows.push(['permissions', f.permissions.flattenable ? `flattenable${f.permissions.notes.length ? ` (${f.permissions.notes.join('; ')})` : ''}` : `NOT flattenable: ${f.permissions.notes.join('; ')}`]);
    rows.push(['layers', `${f.stats.layers} (${f.stats.files} files, ${f.stats.elfFiles} ELF)`]);
    if (f.digest) rows.push(['digest', f.digest]);
    if (f.identity && f.identity !== f.digest) rows.push(['identity', f.identity]);
    if (f.platforms && f.platforms.length > 1) rows.push(['index offers', f.platforms.join(', ')]);
  } else {
    rows.push(['cpu', `${f.cpu.microarch ?? 'unknown target'}${f.cpu.model ? ` (${f.cpu.model})` : ''}${f.cpu.cores ? `, ${f.cpu.cores} core${f.cpu.cores === 1 ? '' : 's'}` : ''}`]);
    rows.push(['kernel', f.kernel.release ?? 'unknown']);
    rows.push(['gpu', f.gpu.driver ? `NVIDIA driver ${f.gpu.driver} (CUDA <= ${f.gpu.cudaMax ?? '?'}), ${f.gpu.devices.length} device${f.gpu.devices.length === 1 ? '' : 's'}` : `no NVIDIA driver${f.gpu.devices.length ? `, ${f.gpu.devices.length} device${f.gpu.devices.length === 1 ? '' : 's'}` : ''}`]);
    if (f.gpu.rocm) rows.push(['rocm', f.gpu.rocm]);
    rows.push(['emulators', f.emulators.length ? f.emulators.map((e) => e.architecture ?? e.name).join(', ') : 'none']);
  }
  const labels = f.kind === 'image' ? Object.entries(f.labels) : [];
  if (labels.length) rows.push(['labels', labels.map(([k, v]) => `${k}=${v}`).join(', ')]);
  let s = `${f.kind} ${f.name}\n${table(rows, '  ')}`;
  for (const w of f.warnings) s += `  warning: ${w.message}${w.layer ? ` [layer ${w.layer.slice(0, 19)}]` : ''}\n`;
  return s;
}
