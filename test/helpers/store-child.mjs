// A separate process writing to a provenance store, for the concurrency and crash tests in
// test/store.test.ts. Imports the built store (dist/), as another containerspec process would.
//
//   node store-child.mjs append SPEC START_AT_MS LABEL [COLUMN]
//                                                        wait until START_AT_MS, open (and init) the
//                                                        store, append one Consumer row (with a new
//                                                        column COLUMN = LABEL, if given), print its id
//   node store-child.mjs hold SPEC BYTES                 in one transaction, append a Consumer row with a
//                                                        BYTES-long BLOB, print READY, and wait forever
//   node store-child.mjs loop SPEC BYTES                 append Consumer rows with BYTES-long BLOBs until
//                                                        killed, printing "ROW <id>" after each commit
//
// Every row's container_run_commands_sha256 is the sha256 of its BLOB, so a half-written row shows.
import { createHash, randomBytes } from 'node:crypto';

const { openStore } = await import(new URL('../../dist/store/open.js', import.meta.url).href);
const [mode, spec, arg, label, column] = process.argv.slice(2);

function row(bytes, tag) {
  const blob = randomBytes(bytes);
  return {
    commit_hash: createHash('sha1').update(blob).digest('hex'),
    image_reference: 'registry.lab/app@sha256:' + '0'.repeat(64),
    image_digest: 'sha256:' + '0'.repeat(64),
    runspec_path: tag,
    container_run_commands: blob,
    container_run_commands_sha256: createHash('sha256').update(blob).digest('hex'),
    host_facts: { pid: process.pid, tag },
  };
}

if (mode === 'append') {
  const wait = Number(arg) - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const store = await openStore(spec);
  const id = await store.append('Consumer', { ...row(64 * 1024, label), ...(column ? { [column]: label } : {}) });
  await store.close();
  process.stdout.write(`${id}\n`);
} else if (mode === 'hold') {
  const store = await openStore(spec);
  await store.transaction(async (tx) => {
    await tx.append('Consumer', row(Number(arg), 'held'));
    process.stdout.write('READY\n');
    await new Promise(() => setInterval(() => {}, 1000));
  });
} else if (mode === 'loop') {
  const store = await openStore(spec);
  for (let i = 0; ; i++) {
    const id = await store.append('Consumer', row(Number(arg), `loop-${i}`));
    process.stdout.write(`ROW ${id}\n`);
  }
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
