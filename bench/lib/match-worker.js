// Worker for the two-thread match figure: builds the same seeded data set as the main thread,
// keeps its share of the hosts, and scores every image against them when told to.
import { parentPort, workerData } from 'node:worker_threads';
import { compileImage, prepareHost } from '../../dist/check/compile.js';
import { matchPrepared } from '../../dist/check/match.js';
import { makeDataSet } from './match-data.js';

const { hosts, images, seed, part, parts, split = 'hosts' } = workerData;
const data = makeDataSet({ hosts, images, seed });
// split = 'hosts': every worker scores all images on its share of hosts (the figure);
// split = 'images': every worker scores its share of images on all hosts (context).
const list = split === 'images' ? data.images : data.hosts;
const lo = Math.floor((part * list.length) / parts);
const hi = Math.floor(((part + 1) * list.length) / parts);
const myHosts = split === 'images' ? data.hosts : data.hosts.slice(lo, hi);
const myImages = split === 'images' ? data.images.slice(lo, hi) : data.images;
let compiled = null;
let prepared = null;

parentPort.on('message', (msg) => {
  if (msg === 'prepare') {
    // fresh compiled images every round: their per-profile rule caches start empty, as in one `match` call
    const t0 = performance.now();
    compiled = myImages.map((f) => compileImage(f, data.spec));
    prepared = myHosts.map((f) => prepareHost(f, data.spec));
    parentPort.postMessage({ type: 'ready', prepareMs: performance.now() - t0 });
  } else if (msg === 'go') {
    const t0 = performance.now();
    const rows = matchPrepared(compiled, prepared, data.spec);
    const ms = performance.now() - t0;
    let sum = 0;
    for (const r of rows) for (let i = 0; i < r.length; i++) sum += r[i];
    parentPort.postMessage({ type: 'done', ms, pairs: myImages.length * myHosts.length, checksum: sum });
  } else if (msg === 'exit') {
    parentPort.postMessage({ type: 'rss', maxRSS: process.resourceUsage().maxRSS * 1024 });
    process.exit(0);
  }
});
parentPort.postMessage({ type: 'loaded', range: [lo, hi] });
