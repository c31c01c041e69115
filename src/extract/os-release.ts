import type { OsFacts } from '../model/facts.js';
import type { ImageView } from '../layers/view.js';
import type { Extractor } from './types.js';
import { fileEvidence } from './evidence.js';

/** Parse an os-release file (shell-style KEY=value, quotes optional). */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    let v = m[2]!;
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    out[m[1]!] = v.replace(/\\(["$`\\])/g, '$1');
  }
  return out;
}

/** The fallback table, in order: each path and how to read it. */
const FALLBACKS: { path: string; read: (text: string) => Partial<OsFacts> | null }[] = [
  { path: 'etc/os-release', read: fromOsRelease },
  { path: 'usr/lib/os-release', read: fromOsRelease },
  {
    path: 'etc/lsb-release',
    read: (t) => {
      const kv = parseOsRelease(t);
      if (!kv.DISTRIB_ID) return null;
      return { id: kv.DISTRIB_ID.toLowerCase(), versionId: kv.DISTRIB_RELEASE ?? null, prettyName: kv.DISTRIB_DESCRIPTION ?? null };
    },
  },
  { path: 'etc/debian_version', read: (t) => ({ id: 'debian', versionId: t.trim().split('.')[0] ?? null, prettyName: `Debian ${t.trim()}` }) },
  { path: 'etc/alpine-release', read: (t) => ({ id: 'alpine', versionId: t.trim(), prettyName: `Alpine Linux ${t.trim()}` }) },
  {
    path: 'etc/redhat-release',
    read: (t) => {
      const m = /^(.*?) release (\d+(?:\.\d+)*)/.exec(t.trim());
      if (!m) return null;
      const id = /centos/i.test(m[1]!) ? 'centos' : /rocky/i.test(m[1]!) ? 'rocky' : /alma/i.test(m[1]!) ? 'almalinux' : 'rhel';
      return { id, versionId: m[2]!, prettyName: t.trim() };
    },
  },
];

function fromOsRelease(text: string): Partial<OsFacts> | null {
  const kv = parseOsRelease(text);
  if (!kv.ID && !kv.NAME) return null;
  return {
    id: kv.ID ?? null,
    versionId: kv.VERSION_ID ?? null,
    prettyName: kv.PRETTY_NAME ?? kv.NAME ?? null,
    idLike: kv.ID_LIKE ? kv.ID_LIKE.split(/\s+/).filter(Boolean) : [],
  };
}

/** Distribution facts from os-release and its fallbacks, first readable source wins. */
export function extractOs(view: ImageView): OsFacts {
  for (const fb of FALLBACKS) {
    const r = view.resolve(fb.path);
    if (!r.ok || !r.entry.result?.text) continue;
    const got = fb.read(r.entry.result.text);
    if (!got) continue;
    return {
      id: got.id ?? null,
      versionId: got.versionId ?? null,
      prettyName: got.prettyName ?? null,
      idLike: got.idLike ?? [],
      evidence: [fileEvidence('file', r.path, r.entry, r.path === fb.path ? undefined : `via /${fb.path}`)],
    };
  }
  return { id: null, versionId: null, prettyName: null, idLike: [], evidence: [] };
}

/** Largest os-release (or fallback) file kept. */
const OS_TEXT_CAP = 4 * 1024 * 1024;

/** Distribution: os-release, then its fallbacks in order. */
export const osExtractor: Extractor = {
  name: 'os-release',
  wants: { text: FALLBACKS.map((fb) => ({ path: fb.path, cap: OS_TEXT_CAP })) },
  run(input, found) {
    found.os = extractOs(input.view);
  },
};
