// Request payload validation: every JSON schema is compiled once, at service registration.
import { Ajv, type ValidateFunction } from 'ajv';
import { FluxError, EPROTO } from './errors.js';

let ajv: Ajv | undefined;

export type Schema = Record<string, unknown>;
export type Validator = (value: unknown) => void;

export function compile(schema: Schema): Validator {
  ajv ??= new Ajv({ allErrors: false, strict: true });
  const fn: ValidateFunction = ajv.compile(schema);
  return (value: unknown) => {
    if (!fn(value)) {
      const e = fn.errors?.[0];
      const where = e?.instancePath ? `${e.instancePath} ` : '';
      throw new FluxError(EPROTO, `malformed payload: ${where}${e?.message ?? 'invalid'}`);
    }
  };
}
