/**
 * A run-spec repository as the store keeps it (column `container_run_commands`): a tar of the
 * directory holding `.git`, work tree included, in a stable order, with what could hold a remote's
 * URL or a credential left out (`[remote]`, `[credential]`, `[url]`, `[http]` sections of
 * `.git/config`, the reflogs, `FETCH_HEAD`), and restored only when it hashes to the digest
 * stored beside it.
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';
import tar from 'tar-stream';
import { FormatError } from '../errors/index.js';
import { TarParser, type TarHeader } from '../layers/tar.js';

/** A repository larger than this is refused (the store is not a file server). */
export const REPO_ARCHIVE_MAX = 256 << 20;

/** `.git` paths never archived: they can hold a remote's URL (reflogs record "clone: from URL"). */
const SKIP = [/^\.git\/logs(\/|$)/, /^\.git\/FETCH_HEAD$/, /^\.git\/ORIG_HEAD$/, /^\.git\/index\.lock$/];

/** `.git/config` without the sections that name remotes or hold credentials. */
export function sanitizeGitConfig(text: string): string {
  const out: string[] = [];
  let skip = false;
  for (const line of text.split('\n')) {
    const sec = /^\s*\[\s*([A-Za-z0-9.-]+)/.exec(line);
    if (sec) skip = /^(remote|credential|url|http|https)$/i.test(sec[1]!.split('.')[0]!);
    if (!skip && !/^\s*(url|pushurl)\s*=/i.test(line)) out.push(line);
  }
  return out.join('\n');
}

interface Entry {
  name: string;
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  content?: Buffer;
  linkname?: string;
}

/**
 * The entries under `rel`, in name order. Synchronous: a repository is many small files, and a
 * thread-pool round trip for each readdir, lstat and read cost several times the calls themselves.
 */
function walk(root: string, rel: string, into: Entry[], budget: { left: number }): void {
  const names = readdirSync(join(root, rel)).sort();
  for (const n of names) {
    const r = rel ? `${rel}/${n}` : n;
    if (SKIP.some((re) => re.test(r))) continue;
    const p = join(root, r);
    const st = lstatSync(p);
    if (st.isDirectory()) {
      into.push({ name: `${r}/`, type: 'directory', mode: st.mode & 0o7777 });
      walk(root, r, into, budget);
    } else if (st.isSymbolicLink()) into.push({ name: r, type: 'symlink', mode: 0o777, linkname: readlinkSync(p) });
    else if (st.isFile()) {
      budget.left -= st.size;
      if (budget.left < 0) throw new FormatError(`the repository ${root} is larger than ${REPO_ARCHIVE_MAX >> 20} MiB; keep data out of the run-spec repository`, root);
      let content = readFileSync(p);
      if (r === '.git/config') content = Buffer.from(sanitizeGitConfig(content.toString('utf8')));
      into.push({ name: r, type: 'file', mode: st.mode & 0o7777, content });
    }
  }
}

/** The repository at `root` (the directory holding `.git`) as a tar, and its sha256. */
export async function archiveRepo(root: string): Promise<{ tar: Buffer; sha256: string }> {
  const entries: Entry[] = [];
  walk(root, '', entries, { left: REPO_ARCHIVE_MAX });
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((ok, fail) => {
    pack.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    pack.on('end', ok);
    pack.on('error', fail);
  });
  const mtime = new Date(0); // stable bytes for the same content
  for (const e of entries) {
    const h = { name: e.name, mode: e.mode, mtime, uid: 0, gid: 0, uname: '', gname: '' };
    if (e.type === 'file') pack.entry({ ...h, type: 'file', size: e.content!.length }, e.content!);
    else if (e.type === 'symlink') pack.entry({ ...h, type: 'symlink', linkname: e.linkname! });
    else pack.entry({ ...h, type: 'directory' });
  }
  pack.finalize();
  await done;
  const buf = Buffer.concat(chunks);
  return { tar: buf, sha256: createHash('sha256').update(buf).digest('hex') };
}

/** Unpack a stored repository into `dir` (new or empty), after checking it hashes to `sha256`. */
export async function restoreRepo(archive: Buffer, sha256: string | null, dir: string, what: string): Promise<void> {
  const got = createHash('sha256').update(archive).digest('hex');
  if (!sha256 || got !== sha256) {
    throw new FormatError(`${what}: the stored repository is damaged: its tar hashes to sha256:${got.slice(0, 12)}..., the store recorded ${sha256 ? `sha256:${sha256.slice(0, 12)}...` : 'no digest'}`, what);
  }
  const root = resolve(dir);
  const inside = (name: string): string => {
    const clean = posix.normalize(name.replace(/^\.\/+/, ''));
    const p = resolve(root, clean);
    if (clean.startsWith('..') || posix.isAbsolute(clean) || (p !== root && !p.startsWith(root + sep))) throw new FormatError(`${what}: the stored repository has an entry outside it: ${JSON.stringify(name)}`, what);
    return p;
  };
  // The whole archive is in memory: parsed in one pass by the layer walker's tar parser, written synchronously
  // (a repository is many small files: a stream and a thread-pool round trip per file cost more than the writes).
  const made = new Set<string>();
  const dirOf = (p: string) => {
    if (!made.has(p)) {
      mkdirSync(p, { recursive: true, mode: 0o755 });
      made.add(p);
    }
  };
  dirOf(root);
  let cur: { h: TarHeader; path: string; chunks: Buffer[] } | null = null;
  const write = (h: TarHeader, p: string, data: Buffer) => {
    if (h.type === 'directory') dirOf(p);
    else if (h.type === 'symlink') {
      dirOf(dirname(p));
      const target = resolve(dirname(p), h.linkname ?? '');
      if (relative(root, target).startsWith('..')) throw new FormatError(`${what}: the stored repository has a link outside it: ${h.name}`, what);
      symlinkSync(h.linkname ?? '', p);
    } else if (h.type === 'file') {
      dirOf(dirname(p));
      writeFileSync(p, data, { mode: (h.mode ?? 0o644) & 0o777 });
    }
  };
  const parser = new TarParser({
    entry(h) {
      const path = inside(h.name);
      if (h.type === 'file' && (h.size ?? 0) > 0) {
        cur = { h, path, chunks: [] };
        return true;
      }
      write(h, path, Buffer.alloc(0));
      return false;
    },
    data(chunk) {
      cur!.chunks.push(Buffer.from(chunk)); // a view of the archive: copied, as the parser asks
      return true;
    },
    end() {
      const c = cur!;
      cur = null;
      write(c.h, c.path, Buffer.concat(c.chunks));
    },
  });
  try {
    parser.push(archive);
    parser.end();
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(`${what}: the stored repository is not a readable tar (${(e as Error).message})`, what);
  }
}
