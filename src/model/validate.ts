import { readFileSync } from 'node:fs';
import { FactsError } from '../errors/index.js';

type Validator = ((data: unknown) => boolean) & { errors?: { instancePath: string; message?: string }[] | null };
const cache = new Map<string, Validator>();

/** The project's schema files, by name: versioned facts schemas, the report and match schemas. */
export type SchemaName = 'facts-1.0' | 'facts-2.0' | 'facts-2.1' | 'report' | 'match';

/** A validator for one of the project's schemas (`schemas/<name>.schema.json`): the facts schemas precompiled, the others compiled once. */
export async function validator(name: SchemaName): Promise<Validator> {
  const hit = cache.get(name);
  if (hit) return hit;
  if (name === 'facts-1.0' || name === 'facts-2.0' || name === 'facts-2.1') {
    // Read on every check (host files, attached facts): compiled ahead of time (scripts/gen-validators.mjs).
    const v =
      name === 'facts-1.0' ? ((await import('./generated/facts-1.0-validator.js')) as { factsV1: Validator }).factsV1
      : name === 'facts-2.0' ? ((await import('./generated/facts-2.0-validator.js')) as { factsV2: Validator }).factsV2
      : ((await import('./generated/facts-2.1-validator.js')) as { factsV21: Validator }).factsV21;
    cache.set(name, v);
    return v;
  }
  const mod = (await import('ajv')) as unknown as { default: new (o: object) => { compile(s: object): Validator } };
  const Ajv = mod.default;
  const schema = JSON.parse(readFileSync(new URL(`../../schemas/${name}.schema.json`, import.meta.url), 'utf8')) as object;
  const v = new Ajv({ allErrors: true, strict: false }).compile(schema);
  cache.set(name, v);
  return v;
}

/** Validate data against a schema; throws FactsError naming the first problems and where (JSON pointers). */
export async function assertValid(name: SchemaName, data: unknown, where: string): Promise<void> {
  const v = await validator(name);
  if (!v(data)) {
    const errs = (v.errors ?? []).slice(0, 3).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`.trim());
    throw new FactsError(`${where} is not valid ${name.replace(/-\d.*$/, '')} JSON (schema ${name}): ${errs.join('; ')}`);
  }
}
