#!/usr/bin/env node
// Summarise a V8 .cpuprofile (from `node --cpu-prof`): self time by function and by file,
// and inclusive time of the heaviest functions. Usage:
//   node --cpu-prof --cpu-prof-dir=bench/.work/prof bin/containerspec.js inspect oci:... --json > /dev/null
//   node bench/profile-summary.js bench/.work/prof/*.cpuprofile [top=25]
import { readFileSync } from 'node:fs';

const file = process.argv[2];
const top = Number(process.argv[3] ?? 25);
if (!file) {
  console.error('usage: node bench/profile-summary.js FILE.cpuprofile [top]');
  process.exit(2);
}
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// sample durations
const self = new Map();
const dt = prof.timeDeltas;
for (let i = 0; i < prof.samples.length; i++) {
  const d = (dt[i + 1] ?? dt[i] ?? 0) / 1000;
  self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + d);
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const short = (url) => url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules\/|dist\/)/, '$1');
const keyOf = (n) => `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

const selfBy = new Map();
const fileBy = new Map();
const incl = new Map();
for (const [id, ms] of self) {
  const n = byId.get(id);
  const k = keyOf(n);
  selfBy.set(k, (selfBy.get(k) ?? 0) + ms);
  const f = short(n.callFrame.url) || `(${n.callFrame.functionName})`;
  fileBy.set(f, (fileBy.get(f) ?? 0) + ms);
  // inclusive: every distinct function on the stack
  const seen = new Set();
  for (let p = id; p !== undefined; p = parent.get(p)) {
    const kk = keyOf(byId.get(p));
    if (!seen.has(kk)) {
      seen.add(kk);
      incl.set(kk, (incl.get(kk) ?? 0) + ms);
    }
  }
}
const show = (title, m) => {
  console.log(`\n${title}`);
  for (const [k, ms] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${ms.toFixed(0).padStart(8)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${k}`);
  }
};
console.log(`${file}: ${total.toFixed(0)} ms sampled on the main thread`);
show('self time by function', selfBy);
show('self time by file', fileBy);
show('inclusive time by function', incl);
