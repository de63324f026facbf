// The validators the build generates (dist/validators.cjs, from the schemas its instance's brokers compiled) judge
// every value as ajv does when it compiles the same schema at run time: the same verdict and the same first
// error, which is what a refused request's message is made of. And the schemas of the hottest requests are there.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { AJV_OPTIONS } from '../../src/core/validate.js';
import { entrySchema } from '../../src/core/journal/entry.js';
import { COMMIT_SCHEMA, LOOKUP_SCHEMA } from '../../src/services/kvs/schemas.js';
import { ROOT } from '../helpers/instance.js';

const built = createRequire(import.meta.url)(join(ROOT, 'dist', 'validators.cjs')) as Record<string, () => ValidateFunction>;
const keys = Object.keys(built);

/** values shaped like what a schema looks at: its property names, with any JSON under them */
function valuesFor(schema: { properties?: Record<string, unknown> }): fc.Arbitrary<unknown> {
  const names = Object.keys(schema.properties ?? {});
  const shaped = names.length === 0
    ? fc.dictionary(fc.string(), fc.jsonValue())
    : fc.record(Object.fromEntries(names.map((n) => [n, fc.oneof(fc.jsonValue(), fc.integer(), fc.string(), fc.constant(null))])), { requiredKeys: [] });
  return fc.oneof({ weight: 4, arbitrary: shaped }, { weight: 1, arbitrary: fc.jsonValue() });
}

describe('generated validators', () => {
  it('hold the schemas of the hottest requests and of every journal entry read back', () => {
    for (const s of [entrySchema, COMMIT_SCHEMA, LOOKUP_SCHEMA]) expect(keys).toContain(JSON.stringify(s));
  });

  it('agree with ajv on every value, verdict and first error', () => {
    expect(keys.length).toBeGreaterThan(20);
    for (const key of keys) {
      const schema = JSON.parse(key) as { properties?: Record<string, unknown> };
      const mine = built[key]!();
      const theirs = new Ajv(AJV_OPTIONS).compile(schema);
      fc.assert(fc.property(valuesFor(schema), (v) => {
        const ok = mine(v);
        expect(ok).toBe(theirs(v));
        if (!ok) expect(mine.errors?.[0]).toEqual(theirs.errors?.[0]);
      }), { numRuns: 60 });
    }
  });
});
