/** Validate JSON against the project's schemas with ajv (independently of src/check/validate.ts). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { REPO } from './cli.js';

type Fn = ((d: unknown) => boolean) & { errors?: unknown };
const cache = new Map<string, Fn>();

/** Schema files by name: `report` and `match` are the versions this code writes, `report-1.0` and `match-1.0` the first ones. */
const FILES: Record<string, string> = { report: 'report-2.1', 'report-2.0': 'report-2.0', 'report-1.0': 'report', match: 'match-1.1', 'match-1.0': 'match' };

/** The ajv errors for `data` against `schemas/<name>.schema.json`, or null when it is valid. */
export function schemaErrors(name: 'facts-1.0' | 'facts-2.0' | 'facts-2.1' | 'report' | 'report-2.0' | 'report-1.0' | 'match' | 'match-1.0' | 'slurm-1.0' | 'runspec-record-1.0' | 'replay-1.0' | 'runs-1.0' | 'dockerfile-1.0', data: unknown): unknown {
  let v = cache.get(name);
  if (!v) {
    const schema = JSON.parse(readFileSync(join(REPO, 'schemas', `${FILES[name] ?? name}.schema.json`), 'utf8')) as object;
    const AjvCtor = ((Ajv as unknown as { default?: typeof Ajv }).default ?? Ajv) as unknown as new (o: object) => { compile(s: object): Fn };
    v = new AjvCtor({ allErrors: true, strict: false }).compile(schema);
    cache.set(name, v);
  }
  return v(data) ? null : v.errors;
}
