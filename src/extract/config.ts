import { dict } from '../util/own.js';
import type { Extractor } from './types.js';

/** Parse a config's `Env` list (`KEY=VALUE`); entries that are not strings or hold no `=` are skipped. */
export function envMap(list: readonly unknown[] | null | undefined): Record<string, string> {
  const out = dict<string>();
  if (!Array.isArray(list)) return out;
  for (const kv of list) {
    if (typeof kv !== 'string') continue;
    const i = kv.indexOf('=');
    if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/** Labels from a config: string values only. */
function labelMap(labels: unknown): Record<string, string> {
  const out = dict<string>();
  if (!labels || typeof labels !== 'object' || Array.isArray(labels)) return out;
  for (const [k, v] of Object.entries(labels as Record<string, unknown>)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** The image config's environment and labels. */
export const configExtractor: Extractor = {
  name: 'config',
  kinds: ['image'],
  wants: {},
  run(input, found) {
    found.env = envMap(input.config?.config?.Env);
    found.labels = labelMap(input.config?.config?.Labels);
  },
};
