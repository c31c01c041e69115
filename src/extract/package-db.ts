import type { ImageView } from '../layers/view.js';

/** One installed package from dpkg's status file or apk's installed db. */
export interface InstalledPackage {
  name: string;
  version: string;
  /** Upstream part of the version: epoch and Debian revision removed ("2.31-13+deb11u11" → "2.31"). */
  upstream: string;
  source: 'dpkg' | 'apk';
  path: string;
  layer: string | null;
}

/** Upstream version of a Debian/Alpine package version. */
export function upstreamVersion(v: string): string {
  let u = v.replace(/^\d+:/, '');
  const dash = u.lastIndexOf('-');
  if (dash > 0) u = u.slice(0, dash);
  return u.replace(/[+~].*$/, '');
}

/** Installed packages (dpkg status, then apk db), keyed by name. Empty when there is no package database. */
export function installedPackages(view: ImageView): Map<string, InstalledPackage> {
  const out = new Map<string, InstalledPackage>();
  const dpkg = view.resolve('var/lib/dpkg/status');
  if (dpkg.ok && dpkg.entry.result?.text) {
    for (const stanza of dpkg.entry.result.text.split(/\n\s*\n/)) {
      const name = /^Package:\s*(\S+)/m.exec(stanza)?.[1];
      const version = /^Version:\s*(\S+)/m.exec(stanza)?.[1];
      const status = /^Status:\s*(.+)$/m.exec(stanza)?.[1] ?? 'install ok installed';
      if (name && version && /installed$/.test(status.trim())) {
        out.set(name, { name, version, upstream: upstreamVersion(version), source: 'dpkg', path: dpkg.path, layer: dpkg.entry.layerId });
      }
    }
  }
  const apk = view.resolve('lib/apk/db/installed');
  if (apk.ok && apk.entry.result?.text) {
    for (const stanza of apk.entry.result.text.split(/\n\s*\n/)) {
      const name = /^P:(\S+)/m.exec(stanza)?.[1];
      const version = /^V:(\S+)/m.exec(stanza)?.[1];
      if (name && version) {
        out.set(name, { name, version, upstream: version.replace(/-r\d+$/, ''), source: 'apk', path: apk.path, layer: apk.entry.layerId });
      }
    }
  }
  return out;
}
