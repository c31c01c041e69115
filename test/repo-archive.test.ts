// The stored form of a run-spec repository (src/runspec/repo-archive.ts): archived and restored
// byte for byte (files, empty files, modes, symlinks, nested directories, a real git repository),
// and a stored tar that would write outside its directory, or is cut short, is refused.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../src/errors/index.js';
import { treeListing } from '../src/image/rootfs.js';
import { archiveRepo, restoreRepo } from '../src/runspec/repo-archive.js';

const base = mkdtempSync(join(tmpdir(), 'cs-repo-archive-'));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A tar made by tar-stream (an independent writer) of the given entries. */
async function tarOf(entries: { name: string; type?: 'file' | 'symlink' | 'directory'; body?: string; linkname?: string }[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((ok) => pack.on('end', () => ok()));
  for (const e of entries) {
    if (e.type === 'symlink') pack.entry({ name: e.name, type: 'symlink', linkname: e.linkname! });
    else if (e.type === 'directory') pack.entry({ name: e.name, type: 'directory' });
    else pack.entry({ name: e.name, type: 'file' }, e.body ?? '');
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

describe('a run-spec repository in the store', () => {
  it('a real git repository is restored as it was: files, empty files, modes, symlinks, directories', async () => {
    const repo = join(base, 'repo');
    mkdirSync(repo);
    expect(spawnSync('git', ['init', '-q', '-b', 'main', repo]).status).toBe(0);
    writeFileSync(join(repo, 'job.runspec'), 'FROM x@sha256:' + '0'.repeat(64) + '\n');
    mkdirSync(join(repo, 'inputs/deep/er'), { recursive: true });
    writeFileSync(join(repo, 'inputs/deep/er/data.csv'), 'a,b\n1,2\n');
    writeFileSync(join(repo, 'inputs/empty'), '');
    writeFileSync(join(repo, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
    symlinkSync('inputs/deep/er/data.csv', join(repo, 'latest.csv'));
    spawnSync('git', ['-C', repo, 'add', '-A']);
    expect(spawnSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.org', 'commit', '-qm', 'one']).status).toBe(0);
    const a = await archiveRepo(repo);
    const out = join(base, 'restored');
    await restoreRepo(a.tar, a.sha256, out, 'test');
    const strip = (l: string[]) => l.filter((x) => !/^\.git\/(logs|index)/.test(x)).map((x) => x.split('\0').filter((_, i) => i !== 3).join('\0')); // owner aside
    expect(strip(await treeListing(out))).toEqual(strip(await treeListing(repo)));
    expect(spawnSync('git', ['-C', out, 'log', '--format=%s'], { encoding: 'utf8' }).stdout.trim()).toBe('one');
    expect(spawnSync('git', ['-C', out, 'status', '--porcelain'], { encoding: 'utf8' }).stdout).toBe('');
  });

  it('an entry or a link that leads outside the directory is refused, and nothing is written there', async () => {
    for (const [entries, why] of [
      [[{ name: 'ok' }, { name: '../evil', body: 'x' }], /has an entry outside it: "\.\.\/evil"/],
      [[{ name: 'up', type: 'symlink', linkname: '../../etc' }], /has a link outside it: up/],
    ] as const) {
      const t = await tarOf([...entries]);
      const dir = join(base, `bad-${Math.random().toString(16).slice(2)}`, 'in');
      const e = await restoreRepo(t, sha(t), dir, 'commit abc').catch((x: unknown) => x);
      expect(e).toBeInstanceOf(FormatError);
      expect((e as Error).message).toMatch(why);
      expect(existsSync(join(dir, '..', 'evil'))).toBe(false);
    }
  });

  it('a tar cut short (its digest as stored) is refused as unreadable; a tar that does not hash to the stored digest is damaged', async () => {
    const t = await tarOf([{ name: 'a', body: 'x'.repeat(2000) }]);
    const cut = t.subarray(0, 1024);
    await expect(restoreRepo(cut, sha(cut), join(base, 'cut'), 'commit abc')).rejects.toThrow(/commit abc: the stored repository is not a readable tar/);
    await expect(restoreRepo(t, sha(cut), join(base, 'dmg'), 'commit abc')).rejects.toThrow(/the stored repository is damaged/);
  });
});
