import type { Evidence } from '../model/facts.js';
import type { ViewEntry } from '../layers/view.js';

/** Evidence for a fact read from a file of the image (or host root). */
export function fileEvidence(source: string, path: string, entry: Pick<ViewEntry, 'layerId'> | null, detail?: string): Evidence {
  const e: Evidence = { source, path };
  if (entry && entry.layerId !== undefined) e.layer = entry.layerId;
  if (detail !== undefined) e.detail = detail;
  return e;
}
