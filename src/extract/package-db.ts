import type { ImageView } from '../layers/view.js';
import type { Extractor } from './types.js';

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

const DPKG_STATUS = 'var/lib/dpkg/status';
const APK_INSTALLED = 'lib/apk/db/installed';
/** Largest package database kept (a full Debian install's status file is a few MiB). */
const PACKAGE_DB_CAP = 16 * 1024 * 1024;

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
  const dpkg = view.resolve(DPKG_STATUS);
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
  const apk = view.resolve(APK_INSTALLED);
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

/** Installed packages, for the version fallbacks of the libc and MPI extractors. */
export const packagesExtractor: Extractor = {
  name: 'package-db',
  wants: { text: [{ path: DPKG_STATUS, cap: PACKAGE_DB_CAP }, { path: APK_INSTALLED, cap: PACKAGE_DB_CAP }] },
  run(input, found) {
    found.packages = installedPackages(input.view);
  },
};
