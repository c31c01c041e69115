import type { FactWarning, LibcFacts, MpiFact, CudaFacts } from '../model/facts.js';
import type { Extractor } from './types.js';

/** Labels containerspec reads; others are reported but not interpreted. */
export const KNOWN_LABELS = ['org.supercontainers.mpi', 'org.supercontainers.gpu', 'org.supercontainers.glibc', 'org.supercontainers.arch', 'io.archspec.target'];

/**
 * Compare the labels an image declares with what its layers show. A label that disagrees
 * (label says openmpi, no libmpi present) is a warning: the layers are the truth.
 */
export function checkLabels(labels: Record<string, string>, libc: LibcFacts, mpi: MpiFact[], cuda: CudaFacts): FactWarning[] {
  const w: FactWarning[] = [];
  const mpiLabel = labels['org.supercontainers.mpi']?.trim().toLowerCase();
  if (mpiLabel) {
    const name = mpiLabel.split('@')[0]!;
    if (name === 'none') {
      if (mpi.length) w.push({ code: 'label-mismatch', message: `label org.supercontainers.mpi=${mpiLabel} but the image has ${mpi.map((m) => m.implementation).join(', ')}` });
    } else if (!mpi.some((m) => m.implementation === name || (name === 'intelmpi' && m.implementation === 'intel'))) {
      w.push({
        code: 'label-mismatch',
        message: `label org.supercontainers.mpi=${mpiLabel} but no ${name} library is present in the image${mpi.length ? ` (found ${mpi.map((m) => m.implementation).join(', ')})` : ''}`,
      });
    }
  }
  const gpuLabel = labels['org.supercontainers.gpu']?.trim().toLowerCase();
  if (gpuLabel && /cuda|nvidia/.test(gpuLabel) && !cuda.runtime && !cuda.env.NVIDIA_REQUIRE_CUDA && !cuda.env.CUDA_VERSION) {
    w.push({ code: 'label-mismatch', message: `label org.supercontainers.gpu=${gpuLabel} but the image has no CUDA runtime or CUDA requirement` });
  }
  const glibcLabel = labels['org.supercontainers.glibc']?.trim();
  if (glibcLabel) {
    if (libc.family !== 'glibc') {
      if (glibcLabel !== 'none') w.push({ code: 'label-mismatch', message: `label org.supercontainers.glibc=${glibcLabel} but the image has ${libc.family ?? 'no'} libc` });
    } else if (libc.version && glibcLabel.replace(/^v/, '') !== libc.version) {
      w.push({ code: 'label-mismatch', message: `label org.supercontainers.glibc=${glibcLabel} but the image's glibc is ${libc.version}` });
    }
  }
  return w;
}

/** Labels that disagree with the layers become warnings (the layers are the truth). */
export const labelsExtractor: Extractor = {
  name: 'labels',
  kinds: ['image'],
  wants: {},
  run(_input, found) {
    found.warnings.push(...checkLabels(found.labels, found.libc, found.mpi, found.cuda));
  },
};
