import type { CudaFacts, CudaLibrary, Evidence } from '../model/facts.js';
import type { ImageView } from '../layers/view.js';
import { baseOf } from '../layers/paths.js';
import { compareVersions } from '../util/version.js';
import { fileEvidence } from './evidence.js';
import type { Extractor } from './types.js';

/** CUDA and NVIDIA libraries worth listing: name and version from `libNAME.so.X.Y[.Z]`. */
const GPU_LIB = /^lib(cudart|cublas|cublasLt|cufft|curand|cusparse|cusolver|cudnn|nccl|nvrtc|nvjitlink|cuda|nvidia-ml|nvidia-ptxjitcompiler|amdhip64|rocblas)\.so\.(\d+(?:\.\d+)*)$/;

/** The environment variables that matter for GPU requirements. */
export function gpuEnv(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith('NVIDIA_') || k === 'CUDA_VERSION' || k === 'NV_CUDA_CUDART_VERSION') out[k] = v;
  return out;
}

/**
 * CUDA facts of an image: the runtime version from `libcudart.so.X.Y.Z`, other CUDA libraries,
 * the NVIDIA_* / CUDA_VERSION environment, and forward-compatibility driver libraries under
 * `/usr/local/cuda*\/compat`.
 */
export function extractCuda(view: ImageView, env: Record<string, string>): CudaFacts {
  const libraries: CudaLibrary[] = [];
  const evidence: Evidence[] = [];
  let runtimeFull: string | null = null;
  let compatDriver: string | null = null;
  for (const [path, e] of view.all()) {
    if (e.meta.type !== 'file' && e.meta.type !== 'hardlink') continue;
    const m = GPU_LIB.exec(baseOf(path));
    if (!m) continue;
    const [, name, version] = m as unknown as [string, string, string];
    libraries.push({ name: `lib${name}`, version, path, layer: e.layerId });
    if (/(?:^|\/)usr\/local\/cuda[^/]*\/compat\//.test(path) && name === 'cuda') {
      if (!compatDriver || compareVersions(version, compatDriver) > 0) compatDriver = version;
      evidence.push(fileEvidence('filename', path, e, `forward-compatibility driver ${version}`));
    }
    if (name === 'cudart' && version.split('.').length >= 2 && (!runtimeFull || compareVersions(version, runtimeFull) > 0)) {
      runtimeFull = version;
    }
  }
  if (runtimeFull) {
    const lib = libraries.find((l) => l.name === 'libcudart' && l.version === runtimeFull)!;
    evidence.push({ source: 'filename', path: lib.path, layer: lib.layer ?? null, detail: `CUDA runtime ${runtimeFull}` });
  }
  const ge = gpuEnv(env);
  for (const k of Object.keys(ge)) evidence.push({ source: 'env', detail: k });
  const runtime = runtimeFull ? runtimeFull.split('.').slice(0, 2).join('.') : null;
  libraries.sort((a, b) => a.path.localeCompare(b.path));
  return { runtime, runtimeFull, libraries, env: ge, compatDriver, evidence };
}

/** CUDA runtime and libraries (from file names) and the image's NVIDIA environment. */
export const cudaExtractor: Extractor = {
  name: 'cuda',
  wants: {},
  run(input, found) {
    found.cuda = extractCuda(input.view, found.env);
  },
};
