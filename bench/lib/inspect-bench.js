// Figure 1: inspect of a ~1 GB image, one layer and four layers, against GNU gzip -dc of the
// same layer files (wall time, same run), plus peak RSS and Node's own zlib floor.
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { ensureImages } from './image.js';
import { fmtMB, fmtS, GNU_TIME, log, min, runTimed } from './util.js';

/** The chunk size src/layers/decompress.ts gives createGunzip: the zlib floor uses the same. */
const ZLIB_CHUNK = 1024 * 1024; // as src/layers/decompress.ts

async function nodeGunzip(file) {
  const t0 = performance.now();
  let n = 0;
  await pipeline(
    createReadStream(file, { highWaterMark: 256 * 1024 }),
    createGunzip({ chunkSize: ZLIB_CHUNK }),
    new Writable({
      write(c, _e, cb) {
        n += c.length;
        cb();
      },
    }),
  );
  return { wall: (performance.now() - t0) / 1000, bytes: n };
}

/** Read the files once so every timed run starts with them in the page cache. */
async function warm(files) {
  for (const f of files) {
    await pipeline(createReadStream(f, { highWaterMark: 1 << 20 }), new Writable({ write: (_c, _e, cb) => cb() }));
  }
}

/**
 * Run figure 1. `root` is the project directory. Returns rows for the summary table.
 */
export async function benchInspect(root, { rounds = 3 } = {}) {
  log('\n== 1. Inspect ==');
  const images = await ensureImages(join(root, 'bench', '.work'));
  const cli = join(root, 'bin', 'containerspec.js');
  const one = images.one;
  const four = images.four;
  const tarMB = (l) => l.reduce((s, x) => s + x.tarBytes, 0);
  const gzMB = (l) => l.reduce((s, x) => s + x.size, 0);
  log(`  1 layer : ${fmtMB(gzMB(one.layers))} gzip, ${fmtMB(tarMB(one.layers))} tar  (${one.dir})`);
  log(`  4 layers: ${four.layers.map((l) => fmtMB(l.size)).join(' + ')} gzip, ${fmtMB(tarMB(four.layers))} tar  (${four.dir})`);
  log(`  peak RSS via ${GNU_TIME ? `${GNU_TIME} -f %M` : 'polling /proc/<pid>/status VmHWM every 20 ms'}`);
  await warm([...one.layers, ...four.layers].map((l) => l.file));

  const runs = { gz1: [], gz4: [], in1: [], in4: [], in4p4: [], rss1: [], rss4: [] };
  for (let r = 1; r <= rounds; r++) {
    const g1 = await runTimed('gzip', ['-dc', ...one.layers.map((l) => l.file)]);
    runs.gz1.push(g1.wall);
    const i1 = await runTimed(process.execPath, [cli, 'inspect', `oci:${one.dir}`, '--json', '--no-cache'], { rss: true, cwd: root });
    runs.in1.push(i1.wall);
    runs.rss1.push(i1.peakRss);
    const g4 = await runTimed('gzip', ['-dc', ...four.layers.map((l) => l.file)]);
    runs.gz4.push(g4.wall);
    const i4 = await runTimed(process.execPath, [cli, 'inspect', `oci:${four.dir}`, '--json', '--no-cache'], { rss: true, cwd: root });
    runs.in4.push(i4.wall);
    runs.rss4.push(i4.peakRss);
    // context: every layer in flight at once (the default is one stream per core)
    const p4 = await runTimed(process.execPath, [cli, 'inspect', `oci:${four.dir}`, '--json', '--parallel', '4', '--no-cache'], { rss: true, cwd: root });
    runs.in4p4.push(p4.wall);
    runs.rss4.push(p4.peakRss);
    log(
      `  round ${r}/${rounds}: gzip 1L ${fmtS(g1.wall)}, inspect 1L ${fmtS(i1.wall)} (${fmtMB(i1.peakRss ?? 0)}); ` +
        `gzip 4L ${fmtS(g4.wall)}, inspect 4L ${fmtS(i4.wall)} (${fmtMB(i4.peakRss ?? 0)}), ` +
        `--parallel 4 ${fmtS(p4.wall)} (${fmtMB(p4.peakRss ?? 0)})`,
    );
  }
  const zl = [];
  for (let r = 0; r < rounds; r++) zl.push((await nodeGunzip(one.layers[0].file)).wall);
  const gz1 = min(runs.gz1);
  const gz4 = min(runs.gz4);
  const in1 = min(runs.in1);
  const in4 = min(runs.in4);
  const z = min(zl);
  const in4p4 = min(runs.in4p4);
  const rss = Math.max(...runs.rss1, ...runs.rss4);
  log(`  node zlib createGunzip (chunkSize ${ZLIB_CHUNK / 1024} KiB) of the single layer, in-process: best ${fmtS(z)}`);
  log(`  -> single-layer inspect ${fmtS(in1)} / gzip -dc ${fmtS(gz1)} = ${(in1 / gz1).toFixed(2)}  (target <= 0.60)`);
  log(`  -> four-layer inspect   ${fmtS(in4)} / gzip -dc ${fmtS(gz4)} = ${(in4 / gz4).toFixed(2)}  (target <= 0.40)`);
  log(`  -> peak RSS of inspect (max over all runs): ${fmtMB(rss)}  (target <= 200 MB)`);
  log(`  -> context: four-layer inspect --parallel 4 ${fmtS(in4p4)} / gzip -dc ${fmtS(gz4)} = ${(in4p4 / gz4).toFixed(2)}`);
  log(`  -> context: node zlib inflate ${fmtS(z)} / gzip -dc ${fmtS(gz1)} = ${(z / gz1).toFixed(2)} (single-core floor for one layer)`);
  return [
    { figure: 'inspect 1 layer / gzip -dc', measured: fmtS(in1), reference: fmtS(gz1), ratio: in1 / gz1, target: '<= 0.60', met: in1 / gz1 <= 0.6 },
    { figure: 'inspect 4 layers / gzip -dc', measured: fmtS(in4), reference: fmtS(gz4), ratio: in4 / gz4, target: '<= 0.40', met: in4 / gz4 <= 0.4 },
    { figure: 'inspect peak RSS', measured: fmtMB(rss), reference: '-', ratio: null, target: '<= 200 MB', met: rss <= 200 * 1048576 },
    { figure: '(context) inspect 4 layers --parallel 4', measured: fmtS(in4p4), reference: fmtS(gz4), ratio: in4p4 / gz4, target: '-', met: null },
    { figure: '(context) node zlib / gzip -dc', measured: fmtS(z), reference: fmtS(gz1), ratio: z / gz1, target: '(floor ~0.4)', met: null },
  ];
}

