// Run-spec figure: `containerspec runspec commit` as a whole process (parse, verify the image in
// Charliecloud storage, git commit, host facts, SystemKernel, one SQLite transaction) against
// `git commit` of the same file, interleaved in the same run. The image (the musl-static fixture)
// is pulled once by digest from a TLS registry on 127.0.0.1 with the real ch-image.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pullByDigest } from '../../dist/charliecloud/pull.js';
import { missingCommands, registryMissing, startRegistry } from './registry-server.js';
import { fmtMs, log, median, runTimed } from './util.js';

export async function benchRunspec(root, { runs = 8 } = {}) {
  log('\n== Run-spec commit ==');
  const why = registryMissing() ?? (missingCommands(['ch-image', 'git']).length ? 'ch-image or git not installed' : null) ?? (existsSync(join(root, 'fixtures/build/musl-static/oci')) ? null : 'fixtures not built (npm test builds them)');
  if (why) {
    log(`  skipped: ${why}`);
    return [{ figure: 'runspec commit - git commit', measured: 'skipped', reference: '-', ratio: null, target: '<= +300 ms', met: null }];
  }
  const tmp = mkdtempSync(join(tmpdir(), 'csbench-runspec-'));
  const reg = await startRegistry(join(root, 'bench', '.work', 'runspec-registry'));
  const saved = { ...process.env };
  try {
    const digest = await reg.push(`oci:${join(root, 'fixtures/build/musl-static/oci')}:latest`, 'lab/app:1');
    const storage = join(tmp, 'storage');
    Object.assign(process.env, { CH_IMAGE_STORAGE: storage, XDG_DATA_HOME: join(tmp, 'data'), USER: process.env.USER ?? 'root' });
    const t0 = performance.now();
    await pullByDigest(`${reg.host}/lab/app:1`, digest, { storage, caBundle: reg.caFile });
    log(`  pulled ${reg.host}/lab/app:1@${digest.slice(0, 19)}... with ch-image in ${fmtMs(performance.now() - t0)}`);
    const cli = join(root, 'bin', 'containerspec.js');
    const store = join(tmp, 'provenance.db');
    const mk = (name) => {
      const dir = join(tmp, name);
      spawnSync('git', ['init', '-q', '-b', 'main', dir]);
      spawnSync('git', ['-C', dir, 'config', 'user.email', 'bench@example.org']);
      spawnSync('git', ['-C', dir, 'config', 'user.name', 'bench']);
      const file = join(dir, 'job.runspec');
      writeFileSync(file, `FROM ${reg.host}/lab/app:1@${digest}\nENV OMP_NUM_THREADS=4\nRUN ["/bin/busybox", "echo", "hello"]\n`);
      return { dir, file };
    };
    const a = mk('plain');
    const b = mk('consumer');
    spawnSync('git', ['-C', a.dir, 'add', 'job.runspec']);
    await runTimed(process.execPath, [cli, 'runspec', 'commit', b.file, '--store', store, '--quiet']); // warm: store created, files cached
    const git = [];
    const cs = [];
    for (let i = 0; i < runs; i++) {
      appendFileSync(a.file, `# ${i}\n`);
      git.push((await runTimed('git', ['-C', a.dir, 'commit', '-q', '-m', `run ${i}`, 'job.runspec'])).wall * 1000);
      appendFileSync(b.file, `# ${i}\n`);
      cs.push((await runTimed(process.execPath, [cli, 'runspec', 'commit', b.file, '--store', store, '--quiet'])).wall * 1000);
    }
    const g = median(git);
    const c = median(cs);
    log(`  git commit: median ${fmtMs(g)}; containerspec runspec commit: median ${fmtMs(c)} (of ${runs} each, interleaved)`);
    log(`  -> runspec commit - git commit = ${fmtMs(c - g)}  (target <= 300 ms)`);
    return [{ figure: 'runspec commit - git commit', measured: fmtMs(c), reference: fmtMs(g), ratio: c / g, extra: fmtMs(c - g), target: '<= +300 ms', met: c - g <= 300 }];
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    await reg.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}
