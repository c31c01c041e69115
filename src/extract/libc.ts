import type { Evidence, LibcFacts } from '../model/facts.js';
import type { ImageView, ViewEntry } from '../layers/view.js';
import { baseOf } from '../layers/paths.js';
import { firstMatch, type ScanRule } from '../layers/wants.js';
import { compareVersions } from '../util/version.js';
import { fileEvidence } from './evidence.js';
import type { InstalledPackage } from './package-db.js';
import type { Extractor } from './types.js';

const GLIBC_LIB = /^(?:libc\.so\.6|libc-(\d+\.\d+)\.so)$/;
const GLIBC_LOADER = /^ld-linux[-a-z0-9_.]*\.so\.\d+$|^ld64\.so\.[12]$|^ld\.so\.1$/;
const MUSL_LIB = /^(?:ld-musl-[a-z0-9_]+\.so\.1|libc\.musl-[a-z0-9_]+\.so\.1)$|-linux-musl[a-z]*\/libc\.so$/;

const LIB = String.raw`(?:^|/)`;
/** musl's libc and loader (Debian ships the loader as a symlink to lib/x86_64-linux-musl/libc.so). */
const MUSL_PATH = new RegExp(`${LIB}(?:ld-musl-[a-z0-9_]+\\.so\\.1|libc\\.musl-[a-z0-9_]+\\.so\\.1|[a-z0-9_]+-linux-musl[a-z]*/libc\\.so)$`);
/** glibc's libc. */
const GLIBC_PATH = new RegExp(`${LIB}(?:libc\\.so\\.6|libc-2\\.\\d+\\.so)$`);

/** glibc's banner: "GNU C Library (Debian GLIBC 2.36-9+deb12u4) stable release version 2.36." */
const GLIBC_BANNER: ScanRule = {
  id: 'glibc-banner',
  path: GLIBC_PATH,
  pattern: /GNU C Library[^\n\0]{0,120}? release version (\d+\.\d+(?:\.\d+)?)/g,
  max: 1,
  anchor: 'GNU C Library',
  window: 200,
};
/** musl prints "musl libc (x86_64)\nVersion %s" when run; the version itself is a standalone string in its libc. */
const MUSL_VERSION: ScanRule = { id: 'musl-version', path: MUSL_PATH, pattern: /\0(\d\.\d+\.\d+(?:_git\d+)?)\0/g, max: 3 };
/** Marks a musl libc (the loader banner format string). */
const MUSL_BANNER: ScanRule = { id: 'musl-banner', path: MUSL_PATH, pattern: /musl libc \(([a-z0-9_]+)\)/g, max: 1 };

/** The libc file the extractor settled on, for other extractors (kernel ABI tag). */
export interface LibcResult {
  facts: LibcFacts;
  /** The path of the libc shared object whose facts were used. */
  libPath: string | null;
  libEntry: ViewEntry | null;
}

function highestGlibcDef(defs: readonly string[]): string | null {
  let best: string | null = null;
  for (const d of defs) {
    const m = /^GLIBC_(\d+\.\d+(?:\.\d+)?)$/.exec(d);
    if (m && (best === null || compareVersions(m[1]!, best) > 0)) best = m[1]!;
  }
  return best;
}

/**
 * libc family and version: glibc from libc.so.6's banner, a `libc-2.xx.so` file name, its
 * version definitions (glibc >= 2.34 has no libc-2.xx.so), or the package database; musl from
 * its loader / libc and the package database. `arch` prefers the libc of the image's architecture
 * when several (multiarch) are present.
 */
export function extractLibc(view: ImageView, packages: Map<string, InstalledPackage>, arch: string | null): LibcResult {
  const glibc: [string, ViewEntry][] = [];
  const musl: [string, ViewEntry][] = [];
  const loaders = new Set<string>();
  for (const [path, e] of view.all()) {
    const base = baseOf(path);
    if (e.meta.type === 'symlink') {
      if (GLIBC_LOADER.test(base) || /^ld-musl-/.test(base)) loaders.add(path);
      continue;
    }
    if (e.meta.type !== 'file' && e.meta.type !== 'hardlink') continue;
    if (GLIBC_LOADER.test(base) || /^ld-musl-/.test(base)) loaders.add(path);
    if (!e.result?.elf) continue;
    if (GLIBC_LIB.test(base)) glibc.push([path, e]);
    else if (MUSL_LIB.test(base) || MUSL_LIB.test(path)) musl.push([path, e]);
  }
  const byArch = (list: [string, ViewEntry][]) =>
    [...list].sort((a, b) => Number(b[1].result?.elf?.arch === arch) - Number(a[1].result?.elf?.arch === arch));
  const loaderList = [...loaders].sort();
  if (glibc.length) {
    const [path, e] = byArch(glibc)[0]!;
    const evidence: Evidence[] = [];
    let version: string | null = null;
    const banner = firstMatch(e.result, GLIBC_BANNER);
    const fromName = GLIBC_LIB.exec(baseOf(path))?.[1];
    const fromDefs = highestGlibcDef(e.result?.elf?.versionDefs ?? []);
    if (banner) {
      version = banner;
      evidence.push(fileEvidence('banner', path, e, `release version ${banner}`));
    } else if (fromName) {
      version = fromName;
      evidence.push(fileEvidence('filename', path, e));
    } else if (fromDefs) {
      version = fromDefs;
      evidence.push(fileEvidence('elf', path, e, `highest version definition GLIBC_${fromDefs} (a lower bound)`));
    }
    const pkg = packages.get('libc6') ?? packages.get('glibc') ?? packages.get('libc6-dev');
    if (pkg) {
      evidence.push({ source: 'package-db', path: pkg.path, layer: pkg.layer, detail: `${pkg.name} ${pkg.version}` });
      if (!version) version = pkg.upstream.replace(/^(\d+\.\d+).*$/, '$1');
    }
    return { facts: { family: 'glibc', version, loaders: loaderList, evidence }, libPath: path, libEntry: e };
  }
  const muslPkg = packages.get('musl');
  if (musl.length || muslPkg || loaderList.some((l) => /ld-musl-/.test(l))) {
    const evidence: Evidence[] = [];
    let version: string | null = null;
    const first = byArch(musl)[0];
    if (first) {
      const [path, e] = first;
      const v = firstMatch(e.result, MUSL_VERSION);
      if (v && firstMatch(e.result, MUSL_BANNER) !== null) {
        version = v;
        evidence.push(fileEvidence('banner', path, e, `musl ${v}`));
      } else evidence.push(fileEvidence('file', path, e));
    }
    if (muslPkg) {
      evidence.push({ source: 'package-db', path: muslPkg.path, layer: muslPkg.layer, detail: `${muslPkg.name} ${muslPkg.version}` });
      version ??= muslPkg.upstream;
    }
    return { facts: { family: 'musl', version, loaders: loaderList, evidence }, libPath: first?.[0] ?? null, libEntry: first?.[1] ?? null };
  }
  return { facts: { family: null, version: null, loaders: loaderList, evidence: [] }, libPath: null, libEntry: null };
}

/** libc family and version, and the libc file whose ABI tag gives the image's minimum kernel. */
export const libcExtractor: Extractor = {
  name: 'libc',
  wants: {
    elf: new RegExp(`${GLIBC_PATH.source}|${MUSL_PATH.source}`),
    scans: [GLIBC_BANNER, MUSL_VERSION, MUSL_BANNER],
  },
  run(input, found) {
    const r = extractLibc(input.view, found.packages, found.platform.architecture ?? input.platform?.architecture ?? null);
    found.libc = r.facts;
    found.libcFile = r.libPath && r.libEntry ? { path: r.libPath, entry: r.libEntry } : null;
  },
};
