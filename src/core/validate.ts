// Request payload validation with ajv. A schema is compiled once, on its first use: most handlers of a broker
// never see a request in a short-lived instance, and loading + compiling every schema at boot cost each
// broker process ~90 ms of CPU (measured), which multiplied by the ranks sharing a node's cores.
import { createRequire } from 'node:module';
import type { Ajv as AjvType, ValidateFunction } from 'ajv';
import { FluxError, EPROTO } from './errors.js';

export type Schema = Record<string, unknown>;
export type Validator = (value: unknown) => void;

let ajv: AjvType | undefined;

function instance(): AjvType {
  if (!ajv) {
    const { Ajv } = createRequire(import.meta.url)('ajv') as typeof import('ajv');
    // strict mode still refuses a schema with an unknown keyword; checking our own schemas against the JSON
    // Schema meta-schema as well compiled that meta-schema in every broker, ~2.5 MiB of resident memory (measured)
    // for schemas that are constants of this code. Requests are validated the same either way.
    ajv = new Ajv({ allErrors: false, strict: true, meta: false, validateSchema: false });
  }
  return ajv;
}

export function compile(schema: Schema): Validator {
  let fn: ValidateFunction | undefined;
  return (value: unknown) => {
    fn ??= instance().compile(schema);
    if (!fn(value)) {
      const e = fn.errors?.[0];
      const where = e?.instancePath ? `${e.instancePath} ` : '';
      throw new FluxError(EPROTO, `malformed payload: ${where}${e?.message ?? 'invalid'}`);
    }
  };
}
