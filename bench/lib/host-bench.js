// Figure 2: `containerspec host --json` as a whole process against `node -e 0`, and the
// in-process cost of hostFacts().
import { join } from 'node:path';
import { hostFacts } from '../../dist/host/facts.js';
import { fmtMs, log, median, runTimed } from './util.js';

export async function benchHost(root, { runs = 10 } = {}) {
  log('\n== 2. Host ==');
  const cli = join(root, 'bin', 'containerspec.js');
  const bare = [];
  const host = [];
  // one untimed run of each: file cache and binfmt of node itself
  await runTimed(process.execPath, ['-e', '0']);
  await runTimed(process.execPath, [cli, 'host', '--json'], { cwd: root });
  for (let i = 0; i < runs; i++) {
    bare.push((await runTimed(process.execPath, ['-e', '0'])).wall * 1000);
    host.push((await runTimed(process.execPath, [cli, 'host', '--json'], { cwd: root })).wall * 1000);
  }
  const b = median(bare);
  const h = median(host);
  log(`  node -e 0: median ${fmtMs(b)}; containerspec host --json: median ${fmtMs(h)} (of ${runs} each, interleaved)`);
  log(`  -> host CLI - node startup = ${fmtMs(h - b)}  (target <= 150 ms)`);

  await hostFacts(); // warm-up: module loading, archspec parse, JIT
  const inproc = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await hostFacts();
    inproc.push(performance.now() - t0);
  }
  const p = median(inproc);
  log(`  in-process hostFacts(): ${inproc.map((x) => x.toFixed(1)).join(', ')} ms`);
  log(`  -> hostFacts() median ${fmtMs(p)}  (target <= 50 ms)`);
  return [
    { figure: 'host CLI - node -e 0', measured: fmtMs(h), reference: fmtMs(b), ratio: null, extra: fmtMs(h - b), target: '<= +150 ms', met: h - b <= 150 },
    { figure: 'hostFacts() in-process', measured: fmtMs(p), reference: '-', ratio: null, target: '<= 50 ms', met: p <= 50 },
  ];
}
