// Record a run, replay it, then break the host with a what-if and see the replay refused.
//
//   node examples/replay.mjs REGISTRY/NAME@sha256:DIGEST [--ca-file CA.pem] [--store FILE]
//
// The image must hold /bin/busybox (the musl-static fixture does; push it with skopeo to a lab
// registry). Uses a temporary directory for the run-spec repository, Charliecloud storage and the
// store unless --store is given. Needs ch-image, ch-run, git and $USER.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { affected, commitRunSpec, replay } from '../dist/index.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { 'ca-file': { type: 'string' }, store: { type: 'string' } } });
const image = positionals[0];
if (!image || !/@sha256:[0-9a-f]{64}$/.test(image)) {
  console.error('usage: node examples/replay.mjs REGISTRY/NAME@sha256:DIGEST [--ca-file CA.pem] [--store FILE]');
  process.exit(2);
}
const work = mkdtempSync(join(tmpdir(), 'cs-example-'));
const store = values.store ?? join(work, 'provenance.db');
const storage = join(work, 'storage');
process.env.XDG_DATA_HOME ??= join(work, 'data'); // containerspec's pull records

// 1. record: a run-spec committed to git and stored with its image (pulled by digest)
const file = join(work, 'repo', 'hello.runspec');
await import('node:fs/promises').then((fs) => fs.mkdir(join(work, 'repo'), { recursive: true }));
writeFileSync(file, `FROM ${image}\nENV GREETING=hello\nRUN ["/bin/busybox", "sh", "-c", "echo $GREETING from the container"]\n`);
const rec = await commitRunSpec(file, { store, storage, pull: true, caBundle: values['ca-file'] });
console.log(`recorded ${rec.runspecPath} at ${rec.commit.slice(0, 12)} (Consumer row ${rec.consumerId})`);

// 2. replay on this host: gated, run with ch-run, recorded
const ok = await replay(rec.commit, { store, storage });
console.log(`replay: ${ok.outcome}, exit ${ok.exitCode}, score ${ok.report?.score}, Producer row ${ok.producerId}`);

// 3. break the host: what if it were an arm64 node with an old kernel?
const broken = await replay(rec.commit, { store, storage, set: { arch: 'arm64', kernel: '3.10.0' } });
console.log(`what-if replay: ${broken.outcome} (exit ${broken.exitCode}): ${broken.refusal}`);

// 4. which results would a bug in musl touch?
const a = await affected({ libraries: ['musl'] }, { store });
console.log(`runs whose image holds musl: ${a.runs.map((r) => `#${r.id} ${r.commit.slice(0, 12)}`).join(', ')}`);
