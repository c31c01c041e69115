import { highestNeed, isaLevelName, type NeedFamily } from '../elf/index.js';
import type { CudaFacts, Evidence, Requirements, VersionRequirement } from '../model/facts.js';
import type { ImageView, ViewEntry } from '../layers/view.js';
import { compareVersions } from '../util/version.js';
import { fileEvidence } from './evidence.js';
import type { Extractor } from './types.js';

const MAX_EVIDENCE = 3;

/** Track the highest version of a prefixed version need (GLIBC_, GLIBCXX_, CXXABI_) and who needs it. */
class Highest {
  version: string | null = null;
  evidence: Evidence[] = [];
  constructor(private readonly source: string) {}
  offer(v: string, path: string, e: ViewEntry, detail: string): void {
    const c = this.version === null ? 1 : compareVersions(v, this.version);
    if (c > 0) {
      this.version = v;
      this.evidence = [];
    }
    if (c >= 0 && this.evidence.length < MAX_EVIDENCE) this.evidence.push(fileEvidence(this.source, path, e, detail));
  }
  result(): VersionRequirement | null {
    return this.version === null ? null : { version: this.version, evidence: this.evidence };
  }
}

/** `x86-64-v3` → archspec `x86_64_v3`. */
function isaToTarget(level: string): string | null {
  const m = /^x86-64-v(\d)$/.exec(level);
  return m ? `x86_64_v${m[1]}` : null;
}

/**
 * What the image requires of a host: the highest GLIBC_x.y (and GLIBCXX_, CXXABI_) any ELF
 * file needs, the minimum kernel from the libc's ABI tag, the CUDA version from
 * NVIDIA_REQUIRE_CUDA / CUDA_VERSION / the runtime, the x86-64 ISA level, and the archspec
 * target the image declares (label or platform variant).
 */
export function deriveRequirements(
  view: ImageView,
  libcEntry: { path: string; entry: ViewEntry } | null,
  cuda: CudaFacts,
  labels: Record<string, string>,
  platform: { architecture: string | null; variant: string | null },
): Requirements {
  const glibc = new Highest('elf');
  const glibcxx = new Highest('elf');
  const cxxabi = new Highest('elf');
  const kernel = new Highest('elf');
  const FAMILIES: [NeedFamily, Highest][] = [['GLIBC', glibc], ['GLIBCXX', glibcxx], ['CXXABI', cxxabi]];
  let isaMask = 0;
  const isaEvidence: Evidence[] = [];
  for (const [path, e] of view.all()) {
    const elf = e.result?.elf;
    if (!elf) continue;
    for (const [family, target] of FAMILIES) {
      const need = highestNeed(elf, family);
      if (need) target.offer(need.version, path, e, `needs ${need.name} from ${need.from}`);
    }
    if (elf.x86IsaNeeded !== null && elf.x86IsaNeeded > 0) {
      const top = 31 - Math.clz32(elf.x86IsaNeeded);
      const had = isaMask === 0 ? -1 : 31 - Math.clz32(isaMask);
      if (top > had) isaEvidence.length = 0;
      if (top >= had && isaEvidence.length < MAX_EVIDENCE) isaEvidence.push(fileEvidence('elf', path, e, `ISA needed ${isaLevelName(elf.x86IsaNeeded)}`));
      isaMask |= 1 << top;
    }
  }
  // The kernel minimum is the libc's ABI tag (ld.so enforces it); without a libc, the highest tag of any executable.
  const libcTag = libcEntry?.entry.result?.elf?.abiTag;
  if (libcTag) kernel.offer(libcTag.kernel, libcEntry.path, libcEntry.entry, `NT_GNU_ABI_TAG ${libcTag.os} ${libcTag.kernel}`);
  else {
    for (const [path, e] of view.all()) {
      const tag = e.result?.elf?.abiTag;
      if (tag && tag.os === 'linux') kernel.offer(tag.kernel, path, e, `NT_GNU_ABI_TAG ${tag.os} ${tag.kernel}`);
    }
  }
  let cudaReq: VersionRequirement | null = null;
  const nrc = cuda.env.NVIDIA_REQUIRE_CUDA;
  const fromRequire = nrc ? /(?:^|[\s,])cuda>=?(\d+(?:\.\d+)*)/.exec(nrc)?.[1] : undefined;
  if (fromRequire) cudaReq = { version: fromRequire, evidence: [{ source: 'env', detail: `NVIDIA_REQUIRE_CUDA=${nrc}` }] };
  else if (cuda.env.CUDA_VERSION && /^\d+\.\d+/.test(cuda.env.CUDA_VERSION)) {
    cudaReq = { version: cuda.env.CUDA_VERSION.split('.').slice(0, 2).join('.'), evidence: [{ source: 'env', detail: `CUDA_VERSION=${cuda.env.CUDA_VERSION}` }] };
  } else if (cuda.runtime) {
    const lib = cuda.libraries.find((l) => l.name === 'libcudart' && l.version === cuda.runtimeFull);
    cudaReq = { version: cuda.runtime, evidence: [{ source: 'filename', path: lib?.path ?? '', layer: lib?.layer ?? null, detail: `libcudart ${cuda.runtimeFull}` }] };
  }
  const level = isaMask ? isaLevelName(isaMask) : null;
  let microarch: VersionRequirement | null = null;
  const label = labels['io.archspec.target'] ?? labels['org.supercontainers.arch'];
  if (label) microarch = { version: label.trim(), evidence: [{ source: 'label', detail: labels['io.archspec.target'] ? 'io.archspec.target' : 'org.supercontainers.arch' }] };
  else if (platform.architecture === 'amd64' && platform.variant && /^v[234]$/.test(platform.variant)) {
    microarch = { version: `x86_64_${platform.variant}`, evidence: [{ source: 'config', detail: `platform variant ${platform.variant}` }] };
  } else if (level && isaToTarget(level)) {
    microarch = { version: isaToTarget(level)!, evidence: isaEvidence };
  }
  return {
    glibc: glibc.result(),
    kernel: kernel.result(),
    cuda: cudaReq,
    glibcxx: glibcxx.result(),
    cxxabi: cxxabi.result(),
    isaLevel: level ? { version: level, evidence: isaEvidence } : null,
    microarch,
  };
}

/** What the image requires of a host: glibc, kernel, CUDA, ISA level, archspec target. */
export const requiresExtractor: Extractor = {
  name: 'requires',
  kinds: ['image'],
  wants: { elf: true },
  run(input, found) {
    found.requires = deriveRequirements(input.view, found.libcFile, found.cuda, found.labels, found.platform);
  },
};
