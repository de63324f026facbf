// The text of dist/validators.cjs: for each schema (its JSON text), ajv's standalone code of its validator, as
// a function that evaluates it on first call. src/core/validate.ts takes a validator from there by the schema's
// JSON text, with the options it would compile it with itself, so a process that finds all of its schemas there
// never loads ajv.
import { createRequire } from 'node:module';
import { AJV_OPTIONS } from '../dist/core/validate.js';

const require = createRequire(import.meta.url);
const { Ajv } = require('ajv');
const standaloneCode = require('ajv/dist/standalone').default;

/** the module's source, for the schemas whose JSON texts are `keys` */
export function validatorsModule(keys) {
  const members = [...new Set(keys)].sort().map((key) => {
    const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true } });
    const code = standaloneCode(ajv, ajv.compile(JSON.parse(key)));
    // the standalone code is a CommonJS module of its own: each gets its own module object
    return `${JSON.stringify(key)}: () => {\nconst module = { exports: {} };\n${code}\nreturn module.exports;\n}`;
  });
  return `'use strict';\n// made by the build (scripts/validators.mjs): a schema's JSON text -> its validator\nmodule.exports = {\n${members.join(',\n')}\n};\n`;
}
