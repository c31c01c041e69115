#!/usr/bin/env node
// A scheduler plugin in a few lines: which nodes can run which images, best first.
// Usage: node examples/scheduler-plugin.mjs NODE-FACTS.json... -- IMAGE...
//   node facts: `containerspec host --json > node01.json` on each node (or from copies of /proc, /sys)
//   images:     oci:DIR, docker-archive:FILE, ... or image facts from `containerspec inspect IMAGE --json`
import { check, compileImage, loadArchspec, loadImage, prepareHost, readHostFacts, scorePair } from 'containerspec';

const args = process.argv.slice(2);
const sep = args.indexOf('--');
const nodeFiles = sep < 0 ? [] : args.slice(0, sep);
const imageRefs = sep < 0 ? args : args.slice(sep + 1);

const spec = loadArchspec();
const nodes = await Promise.all(nodeFiles.map((f) => readHostFacts(f))); // validated against its version's schema (schemas/facts-*.schema.json)
const images = await Promise.all(imageRefs.map((r) => loadImage(r))); // an image reference (inspected) or a facts file

// Compile each image's requirements once and prepare each node once: scoring a pair is then cheap.
const compiled = images.map((f) => compileImage(f, spec));
const prepared = nodes.map((f) => prepareHost(f, spec));

for (const [i, ci] of compiled.entries()) {
  // scorePair: 0..100 compatible, -1 incompatible, <= -2 cannot tell (-2 - score)
  const ranked = prepared
    .map((ph, n) => ({ node: nodes[n].name, score: scorePair(ci, ph, spec) }))
    .filter((r) => r.score >= 0)
    .sort((a, b) => b.score - a.score);
  console.log(`${images[i].name}: ${ranked.length ? ranked.map((r) => `${r.node} (${r.score})`).join(', ') : 'no node can run it'}`);
  if (!ranked.length && nodes.length) {
    // Say why on the first node, as can-i-run would.
    const report = await check(images[i], nodes[0]);
    for (const c of report.checks.filter((c) => c.status === 'fail')) console.log(`  ${nodes[0].name}: ${c.id}: ${c.message}`);
  }
}
