// Request payload validation with ajv. A schema is compiled once, on its first use: most handlers of a broker
// never see a request in a short-lived instance, and loading + compiling every schema at boot cost each
// broker process ~90 ms of CPU (measured), which multiplied by the ranks sharing a node's cores.
//
// The schemas the brokers compile are also compiled at build time, a file each in dist/validators/ indexed by
// dist/validators.cjs (ajv's standalone code, scripts/validators.mjs): a process finds its validators there, loads
// only those it uses, and never loads ajv, whose code and instance were ~10 MiB of every broker's resident memory
// (measured). A schema that is not there (a plug-in module's, one made at run time) is compiled by ajv as before.
// The key is the schema's JSON text, so a validator is only ever taken for the very schema it was generated from.
import { appendFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Ajv as AjvType, Options, ValidateFunction } from 'ajv';
import { FluxError, EPROTO } from './errors.js';

export type Schema = Record<string, unknown>;
export type Validator = (value: unknown) => void;

/**
 * strict mode still refuses a schema with an unknown keyword; checking our own schemas against the JSON Schema
 * meta-schema as well compiled that meta-schema in every broker, ~2.5 MiB of resident memory (measured) for
 * schemas that are constants of this code. Requests are validated the same either way.
 */
export const AJV_OPTIONS: Options = { allErrors: false, strict: true, meta: false, validateSchema: false };

/** set by the build: where each schema compiled in this process is written, a line of JSON each */
export const RECORD_SCHEMAS = 'FLUX_BUILD_RECORD_SCHEMAS';

/** dist/validators.cjs, from dist/core/ and from dist/cli/ alike */
const PREBUILT = fileURLToPath(new URL('../validators.cjs', import.meta.url));

let ajv: AjvType | undefined;
let prebuilt: Record<string, () => ValidateFunction> | null | undefined;
const recorded = new Set<string>();

function instance(): AjvType {
  if (!ajv) {
    const { Ajv } = createRequire(import.meta.url)('ajv') as typeof import('ajv');
    ajv = new Ajv(AJV_OPTIONS);
  }
  return ajv;
}

/** the validator the build made for the schema whose JSON text is `key`, if there is one */
function prebuiltFor(key: string): ValidateFunction | undefined {
  if (prebuilt === undefined) {
    try {
      prebuilt = createRequire(import.meta.url)(PREBUILT) as Record<string, () => ValidateFunction>;
    } catch (err) {
      // a checkout that was not built, or a build that made none: ajv compiles them all
      if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
      prebuilt = null;
    }
  }
  return prebuilt && Object.hasOwn(prebuilt, key) ? prebuilt[key]!() : undefined;
}

export function compile(schema: Schema): Validator {
  const out = process.env[RECORD_SCHEMAS];
  if (out !== undefined) {
    const key = JSON.stringify(schema);
    if (!recorded.has(key)) {
      recorded.add(key);
      appendFileSync(out, `${key}\n`);
    }
  }
  let fn: ValidateFunction | undefined;
  return (value: unknown) => {
    // the key is made on first use, as the validator is: most handlers of a broker never see a request
    fn ??= prebuiltFor(JSON.stringify(schema)) ?? instance().compile(schema);
    if (!fn(value)) {
      const e = fn.errors?.[0];
      const where = e?.instancePath ? `${e.instancePath} ` : '';
      throw new FluxError(EPROTO, `malformed payload: ${where}${e?.message ?? 'invalid'}`);
    }
  };
}
