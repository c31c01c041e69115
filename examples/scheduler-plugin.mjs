#!/usr/bin/env node
// A scheduler plugin in a few lines: which nodes can run which images, best first.
// Usage: node scheduler-plugin.mjs NODE-FACTS.json... -- IMAGE...
//   node facts: `containerspec host --json > node01.json` on each node (or from copies of /proc, /sys)
//   images:     oci:DIR, docker://HOST/NAME:TAG, docker-archive:FILE, ... or image facts from
//               `containerspec inspect IMAGE --json`. A multi-platform index is judged per node on
//               the platform that node runs (each platform read once), as `containerspec match` does.
// Runs anywhere `containerspec` is installed (`npm install /path/to/containerspec`, or `npm link`).
import { cell, check, compileImage, loadArchspec, loadImageVariants, matchPrepared, prepareHost, readHostFacts } from 'containerspec';

const args = process.argv.slice(2);
const sep = args.indexOf('--');
if (sep < 0 || sep === 0 || sep === args.length - 1) {
  console.error('usage: scheduler-plugin.mjs NODE-FACTS.json... -- IMAGE...');
  process.exit(2);
}
const nodeFiles = args.slice(0, sep);
const imageRefs = args.slice(sep + 1);

const spec = loadArchspec();
const nodes = await Promise.all(nodeFiles.map((f) => readHostFacts(f))); // validated against its version's schema (schemas/facts-*.schema.json)
// An image reference is inspected (for an index: each platform the nodes run), a facts file read.
const images = [];
for (const r of imageRefs) images.push(await loadImageVariants(r, nodes));

// Compile each image (each platform variant) once and prepare each node once: scoring is then cheap.
const compiled = images.map((f) => (Array.isArray(f) ? f.map((v) => compileImage(v, spec)) : compileImage(f, spec)));
const prepared = nodes.map((f) => prepareHost(f, spec));
const scores = matchPrepared(compiled, prepared, spec); // one row per image; a variant list scores each node on its best platform

for (const [i, row] of scores.entries()) {
  const name = imageRefs[i];
  // cell(): the verdict and 0..100 score of a raw score (compatible, incompatible, or cannot tell)
  const ranked = [...row].map((raw, n) => ({ node: nodes[n].name, ...cell(raw) })).filter((c) => c.verdict === 'compatible').sort((a, b) => b.score - a.score);
  console.log(`${name}: ${ranked.length ? ranked.map((r) => `${r.node} (${r.score})`).join(', ') : 'no node can run it'}`);
  if (!ranked.length && nodes.length) {
    // Say why on the first node, as can-i-run would: on the platform variant closest to it.
    const variants = Array.isArray(images[i]) ? images[i] : [images[i]];
    const facts = variants.find((v) => v.platform.architecture === nodes[0].platform.architecture) ?? variants[0];
    const report = await check(facts, nodes[0]);
    for (const c of report.checks.filter((c) => c.status === 'fail')) console.log(`  ${nodes[0].name}: ${c.id}: ${c.message}`);
  }
}
