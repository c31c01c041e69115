/**
 * Facts schema versions: 1.0 (as published) is still read, upgraded to the current model without
 * guessing, and judged as the current version judges the same host and image; published schema
 * files never change.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { check } from '../src/check/check.js';
import { readHostFacts, readImageFacts } from '../src/model/files.js';
import { inspect } from '../src/inspect.js';
import { buildCli, errorLine, REPO, runCli } from './helpers/cli.js';
import { schemaErrors } from './helpers/schemas.js';

// Written by the last release that wrote 1.0 (containerspec 0.1.0, commit 2928974): `host --json` on
// this project's development machine and `inspect oci:fixtures/sample --json`.
const HOST_1_0 = join(REPO, 'test/data/facts-1.0/host.json');
const IMAGE_1_0 = join(REPO, 'test/data/facts-1.0/sample-image.json');

/**
 * The published schema files and their sha256: a published version is never edited, only superseded.
 * Adding a version adds a line here; changing a line means a published schema was edited.
 */
const PUBLISHED: Record<string, string> = {
  'facts-1.0.schema.json': '85de16dd2ea97832267f4fa5bf8f6a1aa010756ee349f7c746e2b6903eb8033d',
  'facts-2.0.schema.json': '5aab19580d70c3ccfb49050ed54d6b6190ab46eed43a4a933c6f113d9f56e22e',
  'report.schema.json': '2beaac01dfc3653afef7949218ddbdbf2ea0d6ec412473a654067dfa79f44728',
  'match.schema.json': 'e20d9305ab58a00f8e4e132892b20048a918114d763e3e9e7e4c4a3c9e90c61d',
  'runspec-1.0.schema.json': '3cf8c0f0a92343efee9f0e040c1b6387220ba0e459528b44a7338ceb90c4978f',
  'runspec-record-1.0.schema.json': 'f8d5ec838c7d5d2abafc34a33687a173e0f284519661d1284b0656b6674b8a5d',
  'slurm-1.0.schema.json': '3debbfe778468b135586c0275a09952bbac03d3c82d5585f017414b9115bacf8',
  // issue 13: report 2.0 (penalties, warnings, bind:PATH ids), match 1.1 (per-cell reasons), the --json error object
  'report-2.0.schema.json': '0c0c4dbb1f67e848f721fcfb57366f2707a89b6d57ab611e01de556609c70499',
  'match-1.1.schema.json': '60d8ab472b81826ec1590870f93458233407eebd5161a3d2709999b2db1ea926',
  'error-1.0.schema.json': 'febd22c1dc0e85213276e8bbbc8d4e12fbfc4d2dc07a66335b079bf8143ae6ff',
  // issue 10: replay --json (one replay, or --affected's replays and summary), store runs|affected --json
  'replay-1.0.schema.json': '9e6d7e95ac8c8d15ab8ed1c05f54225971946b5b1bf30ee01c9ab9ede4b30528',
  'runs-1.0.schema.json': 'e5c003ac7611925517297d46b1e8542f2b18124b5fbc26c68c819352b584df1a',
  // issue 13 item 9: facts 2.1 (kernel.config complete or selected), report 2.1 (a not-applicable status)
  'facts-2.1.schema.json': 'e14d6b7a9bc4ec4aeca98c022d4210e822cf180a051cae664b6f40419f553a32',
  'report-2.1.schema.json': 'a12722aed3ed89ba48a76b36881bc04b6bec6ac42f335a46f2a3db40b7391627',
  // issue 11: dockerfile labels / outdated / pin --json
  'dockerfile-1.0.schema.json': 'b3bd12762d3dec749f927060789be6a90ebc390e93fa2ee58a0acbc195ac6341',
};

/** Schemas of what containerspec reads, written from other projects' formats (not versions of ours). */
const INPUT_SCHEMAS = ['docker-save-manifest.schema.json', 'nfd-image-compatibility-v1alpha1.schema.json'];

beforeAll(async () => {
  await buildCli();
});

describe('published schemas', () => {
  it('every output schema in schemas/ is pinned here (a new version adds a line)', () => {
    const own = readdirSync(join(REPO, 'schemas')).filter((f) => f.endsWith('.schema.json') && !INPUT_SCHEMAS.includes(f));
    expect(own.filter((f) => !(f in PUBLISHED))).toEqual([]);
  });
  for (const [file, sum] of Object.entries(PUBLISHED)) {
    it(`${file} is unchanged since it was published`, () => {
      const actual = createHash('sha256').update(readFileSync(join(REPO, 'schemas', file))).digest('hex');
      expect(actual).toBe(sum);
    });
  }
});

describe('facts 2.0 files are still read', () => {
  it('a 2.0 host document (its kernel config whole, no `complete`) is read as 2.1 with complete: true; a 2.0 image as 2.1 unchanged', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'cs-facts20-'));
    const now = JSON.parse((await runCli(['host', '--json', '--kernel-config'])).stdout) as Record<string, any>;
    const old = structuredClone(now);
    old.schemaVersion = '2.0';
    if (old.kernel.config) delete old.kernel.config.complete;
    expect(schemaErrors('facts-2.0', old), 'a genuine 2.0 document, valid against the schema as published').toBeNull();
    expect(schemaErrors('facts-2.1', old)).not.toBeNull();
    const file = join(tmp, 'host-2.0.json');
    writeFileSync(file, JSON.stringify(old));
    const h = await readHostFacts(file);
    expect(h.schemaVersion).toBe('2.1');
    expect(schemaErrors('facts-2.1', h)).toBeNull();
    if (now.kernel.config) expect(h.kernel.config).toEqual({ ...now.kernel.config, complete: true });
    const img = JSON.parse((await runCli(['inspect', `oci:${join(REPO, 'fixtures/sample')}`, '--json'])).stdout) as Record<string, any>;
    const img20 = join(tmp, 'image-2.0.json');
    writeFileSync(img20, JSON.stringify({ ...img, schemaVersion: '2.0' }));
    expect(schemaErrors('facts-2.0', { ...img, schemaVersion: '2.0' })).toBeNull();
    expect(await readImageFacts(img20)).toEqual(img);
  });
});

describe('facts 1.0 files are still read', () => {
  it('the 1.0 documents validate against the 1.0 schema as published, and not against 2.0 or 2.1', () => {
    for (const f of [HOST_1_0, IMAGE_1_0]) {
      const doc = JSON.parse(readFileSync(f, 'utf8')) as unknown;
      expect(schemaErrors('facts-1.0', doc), f).toBeNull();
      expect(schemaErrors('facts-2.0', doc), f).not.toBeNull();
      expect(schemaErrors('facts-2.1', doc), f).not.toBeNull();
    }
  });

  it('a 1.0 host file is upgraded to a valid 2.1 document that keeps every fact 1.0 recorded and guesses none', async () => {
    const old = JSON.parse(readFileSync(HOST_1_0, 'utf8')) as Record<string, any>;
    const h = await readHostFacts(HOST_1_0);
    expect(schemaErrors('facts-2.1', h)).toBeNull();
    expect(h.schemaVersion).toBe('2.1');
    expect(h.kernel.config?.complete, 'the whole configuration 1.0 kept').toBe(true);
    expect(h.kernel.release).toBe(old.kernel.release);
    expect(h.kernel.config?.options).toEqual(old.kernel.config);
    expect(h.kernel.config?.path).toBe(old.kernel.configSource);
    expect(h.kernel.config?.source).toBe('unknown'); // 1.0 did not record which kind of source
    expect(h.kernel.builtinModules).toBeNull(); // 1.0 did not record it
    expect(h.cpu).toEqual(old.cpu);
    expect(h.libc).toEqual(old.libc);
    expect(h.gpu.driver).toBe(old.gpu.driver);
    expect(h.binfmt.status).toBeNull();
    expect(h.system.hostname).toBe(old.system.hostname);
    expect(h.system.memTotalBytes).toBe(old.system.memTotalBytes);
  });

  it('a 1.0 image file is upgraded: the empty host parts are gone, the image parts kept', async () => {
    const old = JSON.parse(readFileSync(IMAGE_1_0, 'utf8')) as Record<string, any>;
    const i = await readImageFacts(IMAGE_1_0);
    expect(schemaErrors('facts-2.1', i)).toBeNull();
    expect(i.transport).toBe('oci');
    expect(i.requires).toEqual(old.requires);
    expect(i.libc).toEqual(old.libc);
    expect(i.digest).toBe(old.digest);
    expect('gpu' in i).toBe(false);
  });

  it('check of the 1.0 image on the 1.0 host gives the report of the current image on the upgraded host', async () => {
    const host = await readHostFacts(HOST_1_0);
    const fromFiles = await check(await readImageFacts(IMAGE_1_0), host);
    const fresh = await check(await inspect('oci:fixtures/sample'), host);
    expect(fromFiles.verdict).toBe(fresh.verdict);
    expect(fromFiles.score).toBe(fresh.score);
    expect(fromFiles.checks.map((c) => [c.id, c.status, c.message])).toEqual(fresh.checks.map((c) => [c.id, c.status, c.message]));
  });

  it('the CLI takes a 1.0 host file for --host and a 1.0 image file for match --images', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-facts-1.0-'));
    copyFileSync(IMAGE_1_0, join(dir, 'sample.json'));
    const r = await runCli(['check', 'oci:fixtures/sample', '--host', HOST_1_0, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).verdict).toBe('compatible');
    const m = await runCli(['match', '--hosts', HOST_1_0, '--images', join(dir, 'sample.json'), '--json']);
    expect(m.code, m.stderr).toBe(0);
    expect(JSON.parse(m.stdout).matrix[0][0].verdict).toBe('compatible');
  });

  it('an unknown schemaVersion is exit 2 naming the versions this release reads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-facts-9-'));
    const doc = JSON.parse(readFileSync(HOST_1_0, 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'h.json'), JSON.stringify({ ...doc, schemaVersion: '9.0' }));
    const r = await runCli(['check', 'oci:fixtures/sample', '--host', join(dir, 'h.json')]);
    expect(r.code).toBe(2);
    expect(errorLine(r)).toMatch(/schemaVersion "9\.0".*1\.0, 2\.0, 2\.1/);
  });
});
