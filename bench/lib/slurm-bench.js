// Slurm figures: `containerspec host --slurm-features` as a whole process against `node -e 0`,
// and compiling the Slurm constraints of the match data set's 1,000 images in-process.
import { join } from 'node:path';
import { slurmConstraint } from '../../dist/sched/slurm.js';
import { makeDataSet } from './match-data.js';
import { fmtMs, log, median, runTimed } from './util.js';

export async function benchSlurm(root, { runs = 10 } = {}) {
  log('\n== Slurm ==');
  const cli = join(root, 'bin', 'containerspec.js');
  await runTimed(process.execPath, ['-e', '0']);
  await runTimed(process.execPath, [cli, 'host', '--slurm-features'], { cwd: root });
  const bare = [];
  const feats = [];
  for (let i = 0; i < runs; i++) {
    bare.push((await runTimed(process.execPath, ['-e', '0'])).wall * 1000);
    feats.push((await runTimed(process.execPath, [cli, 'host', '--slurm-features'], { cwd: root })).wall * 1000);
  }
  const b = median(bare);
  const f = median(feats);
  log(`  node -e 0: median ${fmtMs(b)}; containerspec host --slurm-features: median ${fmtMs(f)} (of ${runs} each, interleaved)`);
  log(`  -> host --slurm-features - node startup = ${fmtMs(f - b)}  (target <= 150 ms)`);

  // Constraints of 1,000 images from their facts (compileImage included), best of 5 rounds; the
  // first round also loads the CUDA table and archspec (reported apart).
  const { images } = makeDataSet({ hosts: 1, images: 1000 });
  const rounds = [];
  let longest = 0;
  for (let r = 0; r < 6; r++) {
    const fresh = structuredClone(images);
    const t0 = performance.now();
    for (const i of fresh) longest = Math.max(longest, (slurmConstraint(i).constraint ?? '').length);
    rounds.push(performance.now() - t0);
  }
  const best = Math.min(...rounds.slice(1));
  log(`  constraints of 1,000 images: first round ${fmtMs(rounds[0])} (loads the tables), then ${rounds.slice(1).map((x) => x.toFixed(0)).join(', ')} ms; longest ${longest} characters`);
  log(`  -> best ${fmtMs(best)}  (target <= 100 ms)`);
  return [
    { figure: 'host --slurm-features - node -e 0', measured: fmtMs(f), reference: fmtMs(b), ratio: null, extra: fmtMs(f - b), target: '<= +150 ms', met: f - b <= 150 },
    { figure: 'Slurm constraints, 1,000 images', measured: fmtMs(best), reference: '-', ratio: null, target: '<= 100 ms', met: best <= 100 },
  ];
}
