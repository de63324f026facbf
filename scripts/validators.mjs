// dist/validators.cjs and dist/validators/: for each schema (its JSON text), ajv's standalone code of its
// validator in a file of its own, and an index from the schema's text to a function that loads that file on first
// call. src/core/validate.ts takes a validator from there by the schema's JSON text, with the options it would
// compile it with itself, so a process that finds all of its schemas there never loads ajv. A file each, not one
// file of them all: a broker meets the requests of a few schemas (an idle rank 0 a handful), and one file cost every
// broker that validated anything the heap of all of them (its source, and what V8 keeps of every function in it):
// ~0.4 MiB more than the index and five validators (measured).
import { createRequire } from 'node:module';
import { AJV_OPTIONS } from '../dist/core/validate.js';

const require = createRequire(import.meta.url);
const { Ajv } = require('ajv');
const standaloneCode = require('ajv/dist/standalone').default;

/**
 * The index's source and each validator's file (its name relative to the index's directory, and its text), for
 * the schemas whose JSON texts are `keys`
 */
export function validatorFiles(keys) {
  const files = [];
  const members = [...new Set(keys)].sort().map((key, i) => {
    const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true } });
    // the standalone code is a CommonJS module of its own, exporting the validator
    const name = `validators/${i}.cjs`;
    files.push({ name, text: `// made by the build (scripts/validators.mjs)\n${standaloneCode(ajv, ajv.compile(JSON.parse(key)))}\n` });
    return `${JSON.stringify(key)}: () => require('./${name}')`;
  });
  const index = `'use strict';\n// made by the build (scripts/validators.mjs): a schema's JSON text -> its validator\nmodule.exports = {\n${members.join(',\n')}\n};\n`;
  return { index, files };
}
