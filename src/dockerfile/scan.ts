/**
 * Which files a path argument names: a file is itself; a directory is walked for `Dockerfile`,
 * `Containerfile`, `*.Dockerfile` / `*.dockerfile` and `Dockerfile.*` (not `.dockerignore`), skipping
 * `node_modules`, `.git` and symbolic links to directories (no loops), in a stable (sorted) order.
 */
import { lstat, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError } from '../errors/index.js';

/** Directories never walked. */
const SKIP = new Set(['node_modules', '.git']);

/** Is this file name a Dockerfile's? */
export function isDockerfileName(name: string): boolean {
  if (name === 'Dockerfile' || name === 'Containerfile') return true;
  if (/\.dockerignore$/i.test(name)) return false;
  return /^.+\.(?:Dockerfile|dockerfile|Containerfile)$/.test(name) || /^(?:Dockerfile|Containerfile)\..+$/.test(name);
}

/** Every Dockerfile below `dir`, sorted. */
async function walk(dir: string, out: string[]): Promise<void> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (!SKIP.has(e.name)) await walk(p, out);
    } else if (isDockerfileName(e.name)) {
      if (e.isFile() || (e.isSymbolicLink() && (await stat(p).catch(() => null))?.isFile())) out.push(p);
    }
  }
}

/**
 * The Dockerfiles the paths name, each once, in the order given (a directory's in sorted order).
 * A path that does not exist is a NotFoundError; a directory with no Dockerfile in it is one too
 * (a CI step that finds nothing to check should say so, not pass).
 */
export async function findDockerfiles(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const st = await lstat(p).catch(() => null);
    const target = st?.isSymbolicLink() ? await stat(p).catch(() => null) : st;
    if (!target) throw new NotFoundError(`${p}: no such file or directory`, p);
    if (target.isDirectory()) {
      const found: string[] = [];
      await walk(p, found);
      if (found.length === 0) throw new NotFoundError(`${p}: no Dockerfile, Containerfile, *.Dockerfile or Dockerfile.* below it`, p);
      out.push(...found);
    } else out.push(p);
  }
  return [...new Set(out)];
}
