/**
 * The one in-root symlink resolver, used by the image view (entries in memory) and by host probes
 * reading a root on disk (`--root`): paths resolve as the kernel would inside a chroot of that root.
 */

import { limit } from '../limits.js';

/** The outcome of {@link resolveLinks}. */
export interface Resolution {
  /** The resolved path, relative to the root, no leading slash (`''` is the root). */
  path: string;
  /** True when more than the link-hop limit (40, as the kernel's) were followed: a loop, or an absurd chain. */
  loop: boolean;
}

/**
 * Resolve `path` (relative to the root) through symlinks in every component: a relative target is
 * taken from the link's directory, an absolute one from the root, and `..` never climbs above the
 * root. `readLink(p)` gives the target of `p` (a cleaned relative path) when it is a symlink, else
 * null; a component that does not exist is simply not a link (tar layers need not list parents).
 */
export function resolveLinks(path: string, readLink: (p: string) => string | null): Resolution {
  const maxHops = limit('linkHops');
  let hops = 0;
  const pending = path.split('/').reverse();
  let cur = '';
  while (pending.length) {
    const seg = pending.pop()!;
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      cur = cur.slice(0, Math.max(0, cur.lastIndexOf('/')));
      continue;
    }
    const parent = cur;
    cur = cur ? `${cur}/${seg}` : seg;
    const target = readLink(cur);
    if (target === null) continue;
    if (++hops > maxHops) return { path: cur, loop: true };
    cur = target.startsWith('/') ? '' : parent;
    const parts = target.split('/');
    for (let i = parts.length - 1; i >= 0; i--) pending.push(parts[i]!);
  }
  return { path: cur, loop: false };
}
