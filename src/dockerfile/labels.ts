/**
 * `dockerfile labels`: what each Dockerfile declares (stages, bases, labels), and, given the facts
 * of the image it builds (`inspect`), the supercontainers labels those facts support and the
 * labels that contradict them:
 *
 * - `org.supercontainers.mpi`: `openmpi` or `mpich` (the ABI family: Intel MPI, MVAPICH and Cray
 *   MPICH are `mpich`), from the MPI libraries found in the layers;
 * - `org.supercontainers.gpu`: `cuda` (a CUDA runtime, `NVIDIA_REQUIRE_CUDA` or `CUDA_VERSION`),
 *   `rocm` (HIP / HSA runtime libraries) or `opencl` (an OpenCL ICD loader and neither of the others);
 * - `org.supercontainers.glibc`: the image's glibc as a semantic version (`2.31` -> `2.31.0`);
 * - `org.supercontainers.arch`: the archspec target the ELF files need (an x86-64 ISA level, a
 *   platform variant), else the architecture's generic family (`x86_64`, `aarch64`).
 *
 * A fact the image does not show gives no suggestion (no guess); a label that says otherwise than
 * the layers is a contradiction, with both sides.
 */
import semver from 'semver';
import type { Archspec } from '../arch/index.js';
import type { ImageFacts } from '../model/facts.js';
import { DOCKERFILE_SCHEMA_VERSION } from './outdated.js';
import { unifiedDiff } from './diff.js';
import { applyEdits, deleteLabels, insertLabels, quoteLabel, writeEdited, type Edit } from './edit.js';
import { chainLabels, finalLabels, type DockerfileLabel, type ParsedDockerfile } from './parse.js';

/** The supercontainers label keys. */
export const SC_MPI = 'org.supercontainers.mpi';
export const SC_GPU = 'org.supercontainers.gpu';
export const SC_GLIBC = 'org.supercontainers.glibc';
export const SC_ARCH = 'org.supercontainers.arch';

/** A label value the facts support, and why. */
export interface LabelSuggestion {
  key: string;
  value: string;
  reason: string;
  /** What the Dockerfile says now (null: not set). */
  current: string | null;
}

/** A label the facts contradict. */
export interface LabelContradiction {
  key: string;
  /** What the Dockerfile says. */
  value: string;
  /** What the image shows. */
  found: string;
  file: string;
  line: number;
  message: string;
}

/** One Dockerfile as `labels` shows it. */
export interface DockerfileSummary {
  file: string;
  stages: {
    index: number;
    alias: string | null;
    line: number;
    /** The image (resolved), `scratch`, or the stage it builds on as `stage:<n>`. */
    base: string;
    platform: string | null;
    labels: { key: string; value: string; line: number }[];
  }[];
  /** Labels of the built image as the Dockerfile writes them (the last stage's, and those it inherits from the stages it builds on). */
  labels: Record<string, string>;
  suggestions?: LabelSuggestion[];
  contradictions?: LabelContradiction[];
  /** With image facts: the labels `--write` changes (added, replaced, removed), its diff, and whether it wrote them. */
  changes?: LabelEdit[];
  diff?: string;
  written?: boolean;
}

/** What `labels` prints. */
export interface LabelsResult {
  schemaVersion: string;
  kind: 'labels';
  /** The image whose facts the suggestions come from, when one was given. */
  image: string | null;
  dockerfiles: DockerfileSummary[];
}

/** Generic archspec family of an OCI architecture. */
const FAMILY: Record<string, string> = { amd64: 'x86_64', arm64: 'aarch64', ppc64le: 'ppc64le', riscv64: 'riscv64', s390x: 's390x', '386': 'x86' };

/** What the facts say for each label: the value, or null (not shown), with the reason. */
export function labelsFromFacts(facts: ImageFacts): Record<string, { value: string; reason: string } | null> {
  const out: Record<string, { value: string; reason: string } | null> = {};
  const families = [...new Set(facts.mpi.map((m) => m.abi ?? (m.implementation === 'openmpi' ? 'openmpi' : m.implementation === 'unknown' ? null : 'mpich')).filter((a): a is 'openmpi' | 'mpich' => a === 'openmpi' || a === 'mpich'))];
  out[SC_MPI] = families.length === 1 ? { value: families[0]!, reason: facts.mpi.map((m) => `${m.implementation}${m.version ? ` ${m.version}` : ''} (${m.soname ?? m.path})`).join(', ') } : null;
  const sonames = facts.sonames ?? [];
  const has = (re: RegExp) => sonames.find((s) => re.test(s));
  const cudaWhy = facts.cuda.runtime ? `CUDA runtime ${facts.cuda.runtime}` : facts.cuda.env.NVIDIA_REQUIRE_CUDA ? `NVIDIA_REQUIRE_CUDA=${facts.cuda.env.NVIDIA_REQUIRE_CUDA}` : facts.cuda.env.CUDA_VERSION ? `CUDA_VERSION=${facts.cuda.env.CUDA_VERSION}` : null;
  const rocm = has(/^lib(?:amdhip64|hsa-runtime64|rocm_smi64)\.so/);
  const opencl = has(/^libOpenCL\.so/);
  out[SC_GPU] = cudaWhy ? { value: 'cuda', reason: cudaWhy } : rocm ? { value: 'rocm', reason: rocm } : opencl ? { value: 'opencl', reason: opencl } : null;
  const glibc = facts.libc.family === 'glibc' && facts.libc.version ? semver.coerce(facts.libc.version)?.version ?? null : null;
  out[SC_GLIBC] = glibc ? { value: glibc, reason: `glibc ${facts.libc.version}` } : null;
  const m = facts.requires.microarch;
  const fromLayers = m && !m.evidence.some((e) => e.source === 'label') ? m : null;
  const family = facts.platform.architecture ? FAMILY[facts.platform.architecture] : undefined;
  out[SC_ARCH] = fromLayers
    ? { value: fromLayers.version, reason: fromLayers.evidence[0]?.detail ?? 'ELF ISA notes' }
    : family
      ? { value: family, reason: `platform ${facts.platform.architecture}` }
      : null;
  return out;
}

/** Compare one Dockerfile's final labels with the facts. */
export function judgeLabels(df: ParsedDockerfile, facts: ImageFacts, archspec?: Archspec): { suggestions: LabelSuggestion[]; contradictions: LabelContradiction[] } {
  const labels = finalLabels(df);
  const lineOf = (key: string) => chainLabels(df).reverse().find((l) => l.key === key)?.line ?? 0;
  const shown = labelsFromFacts(facts);
  const suggestions: LabelSuggestion[] = [];
  const contradictions: LabelContradiction[] = [];
  const contradict = (key: string, found: string, why: string) => {
    const line = lineOf(key);
    contradictions.push({ key, value: labels[key]!, found, file: df.file, line, message: `${df.file}:${line}: LABEL ${key}=${labels[key]} but ${why}` });
  };
  for (const key of [SC_MPI, SC_GPU, SC_GLIBC, SC_ARCH]) {
    const fact = shown[key] ?? null;
    const said = labels[key]?.trim();
    if (fact) suggestions.push({ key, value: fact.value, reason: fact.reason, current: said ?? null });
    if (said === undefined) continue;
    const v = said.toLowerCase();
    if (key === SC_MPI) {
      const name = v.split('@')[0]!;
      if (name !== 'openmpi' && name !== 'mpich' && name !== 'none') contradict(key, fact?.value ?? 'none', `${JSON.stringify(said)} is not one of openmpi, mpich`);
      else if (name === 'none' ? facts.mpi.length > 0 : fact ? fact.value !== name : true) {
        contradict(key, fact?.value ?? 'none', fact ? `the image carries ${fact.reason} (${fact.value})` : facts.mpi.length ? `the image carries ${facts.mpi.map((x) => x.implementation).join(' and ')}` : 'the image carries no MPI library');
      }
    } else if (key === SC_GPU) {
      const said = v.split(/[,\s]+/).filter(Boolean);
      const bad = said.find((g) => !['cuda', 'opencl', 'rocm', 'none'].includes(g));
      if (bad) contradict(key, fact?.value ?? 'none', `${JSON.stringify(bad)} is not one of cuda, opencl, rocm`);
      else if (said.includes('none') ? fact !== null : !fact || !said.includes(fact.value)) {
        contradict(key, fact?.value ?? 'none', fact ? `the image shows ${fact.value} (${fact.reason})` : 'the image has no CUDA, ROCm or OpenCL runtime');
      }
    } else if (key === SC_GLIBC) {
      const sv = semver.valid(said) ?? null;
      if (facts.libc.family !== 'glibc') contradict(key, facts.libc.family ?? 'none', `the image has ${facts.libc.family ?? 'no'} libc`);
      else if (!sv) contradict(key, fact?.value ?? 'unknown', `${JSON.stringify(said)} is not a semantic version${fact ? ` (the image's glibc is ${fact.value})` : ''}`);
      else if (fact && !semver.eq(sv, fact.value)) contradict(key, fact.value, `the image's glibc is ${facts.libc.version}`);
    } else if (key === SC_ARCH && archspec) {
      const family = facts.platform.architecture ? FAMILY[facts.platform.architecture] : undefined;
      if (!archspec.has(said)) contradict(key, fact?.value ?? 'unknown', `${JSON.stringify(said)} is not an archspec target`);
      else if (family && archspec.has(family) && archspec.family(said) !== family) contradict(key, fact?.value ?? family, `the image is ${facts.platform.architecture} (${family}), not ${archspec.family(said)}`);
      else if (fact && fact.value !== family && archspec.has(fact.value) && !archspec.le(fact.value, said)) contradict(key, fact.value, `the image's files need ${fact.value} (${fact.reason}), which ${said} does not include`);
    }
  }
  return { suggestions, contradictions };
}

/**
 * Summarise Dockerfiles; with image facts, suggest and check the supercontainers labels of each and
 * plan the edits that set them ({@link planLabels}; {@link writeLabels} writes them).
 */
export function dockerfileLabels(dfs: readonly ParsedDockerfile[], facts?: { image: string; facts: ImageFacts; archspec?: Archspec }): LabelsResult {
  return {
    schemaVersion: DOCKERFILE_SCHEMA_VERSION,
    kind: 'labels',
    image: facts?.image ?? null,
    dockerfiles: dfs.map((df) => {
      const summary: DockerfileSummary = {
        file: df.file,
        stages: df.stages.map((s) => ({
          index: s.index,
          alias: s.from.alias,
          line: s.from.place.line,
          base: s.from.stage !== null ? `stage:${s.from.stage}` : s.from.scratch ? 'scratch' : s.from.image,
          platform: s.from.platform,
          labels: s.labels.map((l) => ({ key: l.key, value: l.value, line: l.line })),
        })),
        labels: finalLabels(df),
      };
      if (facts) {
        const judged = judgeLabels(df, facts.facts, facts.archspec);
        const plan = planLabels(df, judged);
        Object.assign(summary, judged, { changes: plan.edits, diff: plan.diff, written: false });
      }
      return summary;
    }),
  };
}

/** What {@link planLabels} would do to one Dockerfile. */
export interface LabelEdit {
  key: string;
  /** The value the built image has now (null: none) and will have (null: removed). */
  from: string | null;
  to: string | null;
  line: number;
}

/**
 * The edits that make the built image's supercontainers labels what the facts support: a missing
 * label the facts support is added after the final stage's FROM; a contradicted label is replaced in
 * place (its last occurrence, which wins) with the supported value, or deleted where the facts
 * support none (`mpi=openmpi` on an image without MPI). A label that agrees is left as written
 * (`gpu=cuda,opencl`, a more specific `arch=zen3`). Every other byte of the file stays.
 */
export function planLabels(df: ParsedDockerfile, judged: { suggestions: LabelSuggestion[]; contradictions: LabelContradiction[] }): { before: string; after: string; diff: string; edits: LabelEdit[] } {
  const edits: Edit[] = [];
  const out: LabelEdit[] = [];
  const missing: string[] = [];
  const chain = chainLabels(df);
  const doomed = new Set<DockerfileLabel>();
  for (const key of [SC_MPI, SC_GPU, SC_GLIBC, SC_ARCH]) {
    const s = judged.suggestions.find((x) => x.key === key);
    const wrong = judged.contradictions.some((c) => c.key === key);
    const present = chain.filter((l) => l.key === key);
    const last = present[present.length - 1];
    if (!last) {
      if (s) {
        missing.push(`${key}=${quoteLabel(s.value, df.escape)}`);
        out.push({ key, from: null, to: s.value, line: df.stages[df.stages.length - 1]!.from.place.line });
      }
      continue;
    }
    if (!wrong) continue;
    if (s) {
      edits.push({ ...last.span, text: `${key}=${quoteLabel(s.value, df.escape)}` });
      out.push({ key, from: last.value, to: s.value, line: last.line });
    } else {
      for (const l of present) doomed.add(l);
      out.push({ key, from: last.value, to: null, line: last.line });
    }
  }
  edits.push(...deleteLabels(df.stages.flatMap((st) => st.labels), doomed));
  if (missing.length) edits.push(insertLabels(df, df.stages[df.stages.length - 1]!, missing));
  const after = applyEdits(df.text, edits);
  return { before: df.text, after, diff: unifiedDiff(df.text, after, df.file), edits: out };
}

/**
 * Write the planned label edits of each Dockerfile (atomically, refusing a file changed since it was
 * read: a DockerfileError); marks each summary `written`.
 */
export async function writeLabels(r: LabelsResult, dfs: readonly ParsedDockerfile[]): Promise<void> {
  for (const [i, d] of r.dockerfiles.entries()) {
    const df = dfs[i]!;
    if (!d.changes?.length) continue;
    const plan = planLabels(df, { suggestions: d.suggestions ?? [], contradictions: d.contradictions ?? [] });
    d.written = await writeEdited(df.file, plan.before, plan.after, 'labelled');
  }
}
