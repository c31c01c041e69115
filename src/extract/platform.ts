import type { Evidence, FactWarning, PlatformFacts } from '../model/facts.js';
import type { ImageView } from '../layers/view.js';
import type { ImageConfig, Platform } from '../image/types.js';
import type { Extractor } from './types.js';

/** Count the architectures of the ELF executables and libraries visible in the view. */
export function elfArchitectures(view: ImageView): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [, e] of view.all()) {
    const elf = e.result?.elf;
    if (!elf || (elf.type !== 'exec' && elf.type !== 'dyn')) continue;
    counts[elf.arch] = (counts[elf.arch] ?? 0) + 1;
  }
  return counts;
}

function dominant(counts: Record<string, number>): string | null {
  let best: string | null = null;
  for (const [a, n] of Object.entries(counts)) if (best === null || n > counts[best]!) best = a;
  return best;
}

/**
 * Platform from the image's binaries when it has any, else from the config (or index entry).
 * The ELF machine of the image's executables and libraries is evidence; the config's
 * architecture is a claim: where they disagree the binaries win (that is what the kernel will
 * try to execute), so every transport of the same tree gives the same platform, and the
 * config's claim stays a warning (`arch-mismatch`). An architecture the config names and that
 * as many ELF files have as any other is kept (with its variant).
 */
export function extractPlatform(
  view: ImageView,
  config: ImageConfig | null,
  indexPlatform: Platform | null,
): { facts: PlatformFacts; warnings: FactWarning[] } {
  const counts = elfArchitectures(view);
  const fromElf = dominant(counts);
  const evidence: Evidence[] = [];
  const warnings: FactWarning[] = [];
  let architecture: string | null = null;
  let variant: string | null = null;
  let os: string | null = null;
  if (config?.architecture || indexPlatform) {
    architecture = config?.architecture ?? indexPlatform!.architecture;
    variant = config?.variant ?? indexPlatform?.variant ?? null;
    os = config?.os ?? indexPlatform?.os ?? null;
    evidence.push({ source: 'config', detail: `${os ?? '?'}/${architecture}${variant ? `/${variant}` : ''}` });
    if (fromElf && fromElf !== architecture && (counts[architecture] ?? 0) < counts[fromElf]!) {
      warnings.push({
        code: 'arch-mismatch',
        message: `the config says ${architecture} but the image's binaries are ${fromElf} (${counts[fromElf]} ELF files${counts[architecture] ? `, ${counts[architecture]} ${architecture}` : ''}): judged as ${fromElf}, what the kernel would execute`,
      });
      architecture = fromElf;
      variant = null; // the config's variant belongs to the architecture it claimed
    }
  } else if (fromElf) {
    architecture = fromElf;
    os = 'linux';
    evidence.push({ source: 'elf', detail: `${counts[fromElf]} ELF files are ${fromElf}` });
  }
  if (fromElf) evidence.push({ source: 'elf', detail: Object.entries(counts).map(([a, n]) => `${a}: ${n}`).join(', ') });
  return { facts: { os, architecture, variant, elfArchitectures: counts, evidence }, warnings };
}

/** The platform, from the config or index entry, cross-checked against the image's ELF machines. */
export const platformExtractor: Extractor = {
  name: 'platform',
  kinds: ['image'],
  wants: { elf: true },
  run(input, found) {
    const r = extractPlatform(input.view, input.config, input.platform);
    found.platform = r.facts;
    found.warnings.push(...r.warnings);
  },
};
