/**
 * The JSON the CLI prints (`inspect --json`, `host --json`) validates against
 * schemas/facts-2.1.schema.json, and the schema is strict enough to reject wrong documents.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import AjvModule from 'ajv';
import { beforeAll, describe, expect, it } from 'vitest';
import { accessesOf, buildFixtures, loadExpected, loadIndex, REPO, SAMPLE, type ExpectedImage } from './helpers/fixture-set.js';
import { buildCli, runCli, show } from './helpers/cli.js';

// ajv is CommonJS: under ESM its class is the default export's `default`.
type Validate = ((d: unknown) => boolean) & { errors?: { instancePath: string; message?: string; params: unknown }[] | null };
type AjvCtor = new (o: object) => { compile(s: object): Validate };
const Ajv = ((AjvModule as unknown as { default?: AjvCtor }).default ?? AjvModule) as unknown as AjvCtor;

// Fixtures are required (a no-op when fixtures/build/STAMP is current).
await buildFixtures(15 * 60_000);

const schema = JSON.parse(readFileSync(join(REPO, 'schemas', 'facts-2.1.schema.json'), 'utf8')) as Record<string, unknown>;
const ajv = new Ajv({ allErrors: true, strict: true });
const validate = ajv.compile(schema);

/** Validation errors as readable lines (empty when valid). */
function schemaErrors(doc: unknown): string[] {
  if (validate(doc)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

beforeAll(async () => {
  await buildCli();
}, 5 * 60_000);

const refs: { label: string; args: string[] }[] = [{ label: 'sample (oci:fixtures/sample)', args: ['inspect', `oci:${SAMPLE}`] }];
for (const entry of loadIndex().filter((e) => e.kind === 'good' || e.kind === 'suspicious')) {
  const exp = loadExpected<ExpectedImage>(entry);
  for (const a of accessesOf(entry, exp)) {
    refs.push({ label: `${entry.name} via ${a.label}`, args: ['inspect', a.ref, ...(a.platform ? ['--platform', a.platform] : [])] });
  }
}

describe('inspect --json validates against schemas/facts-2.1.schema.json', () => {
  for (const r of refs) {
    it(r.label, async () => {
      const res = await runCli([...r.args, '--json']);
      expect(res.code, show(res)).toBe(0);
      const doc = JSON.parse(res.stdout) as { kind: string };
      expect(doc.kind).toBe('image');
      expect(schemaErrors(doc)).toEqual([]);
    });
  }
});

describe('host --json validates against schemas/facts-2.1.schema.json', () => {
  it('this machine', async () => {
    const res = await runCli(['host', '--json']);
    expect(res.code, show(res)).toBe(0);
    const doc = JSON.parse(res.stdout) as { kind: string };
    expect(doc.kind).toBe('host');
    expect(schemaErrors(doc)).toEqual([]);
  });
});

describe('the schema rejects wrong documents', () => {
  let good: Record<string, any>;
  beforeAll(async () => {
    const res = await runCli(['inspect', `oci:${SAMPLE}`, '--json']);
    expect(res.code, show(res)).toBe(0);
    good = JSON.parse(res.stdout);
  });
  const mutated = (f: (d: Record<string, any>) => void) => {
    const d = structuredClone(good);
    f(d);
    return d;
  };

  it('the unmodified document is valid (so the rejections below are about the change)', () => {
    expect(schemaErrors(good)).toEqual([]);
  });

  it('libc.family "glibcx"', () => {
    const errs = schemaErrors(mutated((d) => (d.libc.family = 'glibcx')));
    expect(errs.length).toBeGreaterThan(0);
    expect(errs.join('\n')).toContain('/libc/family');
  });

  it('a missing requires', () => {
    const errs = schemaErrors(mutated((d) => delete d.requires));
    expect(errs.join('\n')).toMatch(/must have required property 'requires'/);
  });

  it('a digest that is not sha256:<64 hex>', () => {
    const errs = schemaErrors(mutated((d) => (d.digest = 'sha256:xyz')));
    expect(errs.join('\n')).toContain('/digest');
  });

  it('an MPI entry with an unknown implementation', () => {
    const errs = schemaErrors(
      mutated((d) => d.mpi.push({ implementation: 'lam', version: '7.1', abi: null, soname: 'libmpi.so.0', path: 'usr/lib/libmpi.so.0', evidence: [] })),
    );
    expect(errs.join('\n')).toContain('/mpi/0/implementation');
  });

  it('a wrong schemaVersion', () => {
    const errs = schemaErrors(mutated((d) => (d.schemaVersion = '0.9')));
    expect(errs.join('\n')).toContain('/schemaVersion');
  });

  it('a property the model does not have (image facts carry no host gpu part)', () => {
    const errs = schemaErrors(mutated((d) => (d.gpu = { driver: null })));
    expect(errs.join('\n')).toMatch(/must NOT have additional properties/);
  });

  it('host facts without their gpu part', async () => {
    const res = await runCli(['host', '--json']);
    const host = JSON.parse(res.stdout) as Record<string, unknown>;
    expect(schemaErrors(host)).toEqual([]);
    delete host.gpu;
    expect(schemaErrors(host).join('\n')).toMatch(/must have required property 'gpu'/);
  });
});
