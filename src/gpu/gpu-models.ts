/**
 * NVIDIA GPU models to NVML brand and compute capability (`data/nvidia-gpus.json`, replaceable with
 * `CONTAINERSPEC_GPU_TABLE`): what `host` records when nvidia-smi cannot say, from the model names
 * the driver prints in `/proc/driver/nvidia/gpus/* /information`. A model no row matches, or a row
 * without a brand, leaves the fact unknown; nothing is guessed.
 */
import { loadTable, type TableSpec } from '../data/tables.js';
import { FactsError } from '../errors/index.js';
import type { GpuFacts } from '../model/facts.js';
import { gpuNameByPciId } from './gpu-pci.js';

/** Environment variable naming a replacement table file. */
export const GPU_TABLE_ENV = 'CONTAINERSPEC_GPU_TABLE';

/** One row: a model-name pattern, its NVML brand (or null: undocumented) and compute capability. */
export interface GpuModelRow {
  readonly match: RegExp;
  readonly brand: string | null;
  readonly computeCapability: string;
  /** A data center GPU, where NVIDIA supports CUDA forward compatibility; null: select SKUs only, or not documented (a table without the field says nothing). */
  readonly datacenter: boolean | null;
}

function parse(json: unknown, file: string): readonly GpuModelRow[] {
  const rows = (json as { models?: unknown })?.models;
  if (!Array.isArray(rows)) throw new FactsError(`GPU model table ${file}: no "models" list`);
  return Object.freeze(rows.map((r: Record<string, unknown>, i) => {
    if (typeof r.match !== 'string' || typeof r.computeCapability !== 'string' || !/^\d+\.\d+$/.test(r.computeCapability) || (r.brand !== null && typeof r.brand !== 'string')) {
      throw new FactsError(`GPU model table ${file}: models[${i}] needs "match", "brand" (string or null) and "computeCapability" (M.m)`);
    }
    if (r.datacenter !== undefined && r.datacenter !== null && typeof r.datacenter !== 'boolean') {
      throw new FactsError(`GPU model table ${file}: models[${i}].datacenter must be true, false or null`);
    }
    let match: RegExp;
    try {
      match = new RegExp(r.match, 'i');
    } catch {
      throw new FactsError(`GPU model table ${file}: models[${i}].match is not a regular expression`);
    }
    return Object.freeze({ match, brand: r.brand as string | null, computeCapability: r.computeCapability, datacenter: (r.datacenter as boolean | null | undefined) ?? null });
  }));
}

const GPU_TABLE: TableSpec<readonly GpuModelRow[]> = { what: 'GPU model table', vendored: 'nvidia-gpus.json', env: GPU_TABLE_ENV, parse };

/** The row for a model name, or null. */
export function gpuModel(name: string, file?: string): GpuModelRow | null {
  for (const r of loadTable(GPU_TABLE, file)) if (r.match.test(name.trim())) return r;
  return null;
}

/** Parse `nvidia-smi --query-gpu=name,compute_cap --format=csv,noheader` output: one `{name, computeCapability}` per GPU. */
export function parseNvidiaSmiQuery(text: string): { name: string; computeCapability: string | null }[] {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
    const i = l.lastIndexOf(',');
    const name = (i < 0 ? l : l.slice(0, i)).trim();
    const cc = i < 0 ? '' : l.slice(i + 1).trim();
    return { name, computeCapability: /^\d+\.\d+$/.test(cc) ? cc : null };
  });
}

/**
 * One host's brand and compute capability from its GPUs: the brand when every GPU has the same
 * known one, and the lowest compute capability when every GPU's is known (a job may land on any
 * of them); null otherwise.
 */
export function combineGpus(gpus: readonly { brand: string | null; computeCapability: string | null }[]): { brand: string | null; computeCapability: string | null } {
  if (gpus.length === 0) return { brand: null, computeCapability: null };
  const brands = new Set(gpus.map((g) => g.brand));
  const brand = brands.size === 1 ? [...brands][0] ?? null : null;
  let cc: string | null = null;
  for (const g of gpus) {
    if (!g.computeCapability) return { brand, computeCapability: null };
    if (cc === null || ccLess(g.computeCapability, cc)) cc = g.computeCapability;
  }
  return { brand, computeCapability: cc };
}

function ccLess(a: string, b: string): boolean {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am !== bm ? am < bm : an < bn;
}

/** NVML brands of data center GPUs (`nvidia` is what A100 and later report), and of consumer ones. */
const DATACENTER_BRANDS: ReadonlySet<string> = new Set(['tesla', 'nvidia']);
const CONSUMER_BRANDS: ReadonlySet<string> = new Set(['geforce', 'geforcertx', 'titan', 'titanrtx', 'nvs']);

/**
 * Whether the host's NVIDIA GPUs are data center GPUs, where NVIDIA supports CUDA forward
 * compatibility (an image's `cuda-compat` libraries on an older kernel driver): from the brand
 * when it says (`tesla`, `nvidia`: yes; GeForce, TITAN, NVS: no), else from every NVIDIA GPU's
 * model through the GPU model table (the driver's model name, else the PCI id's). Null when that
 * cannot be told: no GPU listed, a model the table does not know or marks null (Quadro and RTX
 * workstation cards, supported only on select SKUs), or GPUs that disagree.
 */
export function datacenterGpu(gpu: Pick<GpuFacts, 'brand' | 'devices'>): boolean | null {
  const brand = gpu.brand?.trim().toLowerCase();
  if (brand && DATACENTER_BRANDS.has(brand)) return true;
  if (brand && CONSUMER_BRANDS.has(brand)) return false;
  const nvidia = gpu.devices.filter((d) => d.vendor === 'nvidia');
  if (nvidia.length === 0) return null;
  let out: boolean | null = null;
  for (const d of nvidia) {
    const name = d.model ?? gpuNameByPciId(d.id);
    const dc = name ? gpuModel(name)?.datacenter ?? null : null;
    if (dc === null || (out !== null && dc !== out)) return null;
    out = dc;
  }
  return out;
}
