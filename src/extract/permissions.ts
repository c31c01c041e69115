import type { PermissionFacts } from '../model/facts.js';
import type { ImageView } from '../layers/view.js';
import type { Extractor } from './types.js';

const MAX_LIST = 50;

/**
 * Permission facts: setuid/setgid files, entries not owned by root, device nodes, POSIX ACL
 * xattrs. Flattening to one unprivileged user (as Charliecloud does) cannot reproduce device
 * nodes or ACLs, so those make an image not flattenable; setuid/setgid bits and other owners
 * merely lose their effect and are listed as notes.
 */
export function extractPermissions(view: ImageView): PermissionFacts {
  const setuid: string[] = [];
  const setgid: string[] = [];
  const devices: string[] = [];
  const acls: string[] = [];
  let nonRoot = 0;
  const examples: string[] = [];
  for (const [path, e] of view.all()) {
    const m = e.meta;
    if (m.type === 'file' || m.type === 'hardlink') {
      if (m.mode & 0o4000) setuid.push(`/${path}`);
      if (m.mode & 0o2000) setgid.push(`/${path}`);
    }
    if (m.type === 'char' || m.type === 'block') devices.push(`/${path}`);
    if (m.xattrs?.some((x) => x.startsWith('system.posix_acl_'))) acls.push(`/${path}`);
    if (m.uid !== 0 || m.gid !== 0) {
      nonRoot++;
      if (examples.length < 20) examples.push(`/${path} (${m.uid}:${m.gid})`);
    }
  }
  const notes: string[] = [];
  if (setuid.length) notes.push(`${setuid.length} setuid file(s) lose their privilege under an unprivileged runtime`);
  if (setgid.length) notes.push(`${setgid.length} setgid file(s) lose their group privilege`);
  if (nonRoot) notes.push(`${nonRoot} entr${nonRoot === 1 ? 'y is' : 'ies are'} owned by users other than root; flattening gives them all to the invoking user`);
  if (devices.length) notes.push(`${devices.length} device node(s) cannot be created without privilege`);
  if (acls.length) notes.push(`${acls.length} path(s) carry POSIX ACLs, which flattening drops`);
  return {
    setuid: setuid.slice(0, MAX_LIST),
    setgid: setgid.slice(0, MAX_LIST),
    nonRootOwned: { count: nonRoot, examples },
    devices: devices.slice(0, MAX_LIST),
    acls: acls.slice(0, MAX_LIST),
    flattenable: devices.length === 0 && acls.length === 0,
    notes,
  };
}

/** Can the image be flattened for an unprivileged runtime? */
export const permissionsExtractor: Extractor = {
  name: 'permissions',
  kinds: ['image'],
  wants: {},
  run(input, found) {
    found.permissions = extractPermissions(input.view);
    found.permissions.notes.push(...input.view.notes);
  },
};
