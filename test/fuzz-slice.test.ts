/**
 * A bounded slice of the fuzzer (fuzz/run.mjs, fuzz/mutate.mjs) in the test suite: a fixed seed, a
 * few hundred cases over the small fixture images and every mutation class but the slow
 * entry-bomb one, two at a time. Each case must keep the CLI contract (exit 0/1/3 with
 * schema-valid JSON, or exit 2 with one stderr line; no crash, hang, RSS over 256 MB; a blob
 * changed without re-fixing its digests ends in exit 2). The failures' repro commands are in the
 * assertion message; `node fuzz/run.mjs` runs the long version (see fuzz/README.md).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, REPO } from './helpers/cli.js';

const SEED = 'slice-1';
const CASES = 200;
const CLASSES = [
  'byte-flip', 'truncate', 'append', 'tar-header', 'pax', 'json-shape', 'codec', 'file-content',
  'link-cycle', 'special-files', 'sparse', 'same-layer', 'facts-json', 'host-tree', 'stale-diff-id',
];

const fixtures = existsSync(join(REPO, 'fixtures/build/index.json'));
if (!fixtures) console.warn('fuzz-slice: skipped, fixtures/build is missing (build it with: node fixtures/build.mjs)');

describe.skipIf(!fixtures)('fuzz slice: the CLI contract on mutated images and hosts', () => {
  const out = mkdtempSync(join(tmpdir(), 'cs-fuzz-slice-'));
  beforeAll(async () => {
    await buildCli();
  });
  let passed = false;
  afterAll(() => {
    if (passed) rmSync(out, { recursive: true, force: true });
  });

  it(`${CASES} cases of seed ${SEED} keep the contract`, async () => {
    const { runFuzz, formatSummary } = await import('../fuzz/run.mjs');
    const res = await runFuzz({ seed: SEED, cases: CASES, jobs: 2, small: true, classes: CLASSES, quiet: true, out, keep: 2 });
    console.log(formatSummary(res));
    const lines = res.bySignature.map((s) => `${s.count} x ${s.signature}\n    repro: ${s.example.repro ? `sh ${s.example.repro}` : s.example.command}\n    regenerate: ${s.example.regenerate}`);
    const gen = res.generatorErrors.map((g) => `generator error in case ${g.index}: ${g.error}`);
    expect(res.cases, 'every case ran').toBe(CASES - res.generatorErrors.length);
    expect([...lines, ...gen], `contract violations in the fuzz slice (cases kept under ${out}):\n${[...lines, ...gen].join('\n')}`).toEqual([]);
    passed = true;
  }, 170_000);
});

describe('the fuzz driver judges hangs by the process, not by its own timer', () => {
  beforeAll(async () => {
    await buildCli();
  });

  it('a CLI that exited while the driver was busy is not a hang; one still running at the timer is', async () => {
    const { runCli } = await import('../fuzz/run.mjs');
    // The driver generates big cases synchronously: its timer can fire long after the CLI exited.
    const pending = runCli(['--version'], { timeoutMs: 300 });
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      /* the driver's event loop is blocked, as while generating a two-million-entry layer */
    }
    const late = await pending;
    expect(late.code).toBe(0);
    expect(late.timedOut).toBe(false);
    const hung = await runCli(['--version'], { timeoutMs: 1 }); // still starting when the timer fires
    expect(hung.timedOut).toBe(true);
  }, 30_000);
});
