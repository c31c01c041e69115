/**
 * NVIDIA PCI device ids to model names (`data/nvidia-pci-ids.json`, generated from pci.ids by
 * scripts/gen-nvidia-pci-ids.mjs; replaceable with `CONTAINERSPEC_GPU_PCI_TABLE`): the name of a
 * GPU the driver names no model for (no `/proc/driver/nvidia/gpus/*`, no nvidia-smi), from the id
 * sysfs gives. The model table (gpu-models.ts) then says its brand and compute capability.
 */
import { loadTable, type TableSpec } from '../data/tables.js';
import { FactsError } from '../errors/index.js';

/** Environment variable naming a replacement table file. */
export const GPU_PCI_TABLE_ENV = 'CONTAINERSPEC_GPU_PCI_TABLE';

function parse(json: unknown, file: string): ReadonlyMap<string, string> {
  const devices = (json as { devices?: unknown })?.devices;
  if (typeof devices !== 'object' || devices === null || Array.isArray(devices)) throw new FactsError(`GPU PCI id table ${file}: no "devices" object`);
  const out = new Map<string, string>();
  for (const [id, name] of Object.entries(devices as Record<string, unknown>)) {
    if (!/^[0-9a-f]{4}$/.test(id) || typeof name !== 'string' || !name) throw new FactsError(`GPU PCI id table ${file}: devices.${id} needs four lower-case hex digits and a name`);
    out.set(id, name);
  }
  return out;
}

const PCI_TABLE: TableSpec<ReadonlyMap<string, string>> = { what: 'GPU PCI id table', vendored: 'nvidia-pci-ids.json', env: GPU_PCI_TABLE_ENV, parse };

/** The model name of NVIDIA PCI device `id` (`0x20b0`, `20B0`), or null when the table does not know it. */
export function gpuNameByPciId(id: string | null, file?: string): string | null {
  const m = id === null ? null : /^(?:0x)?([0-9a-f]{1,4})$/i.exec(id.trim());
  return m ? (loadTable(PCI_TABLE, file).get(m[1]!.toLowerCase().padStart(4, '0')) ?? null) : null;
}
