// The errno a promise rejects with: a test asserts it, and a rejection that is not a FluxError fails the test.
import { FluxError } from '../../src/core/errors.js';

export async function rejectionErrno(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (err) {
    if (err instanceof FluxError) return err.errno;
    throw err;
  }
  throw new Error('expected a FluxError');
}

/** the FluxError `fn` throws; a throw that is not a FluxError, or none, fails the test */
export function thrownError(fn: () => unknown): FluxError {
  try {
    fn();
  } catch (err) {
    if (err instanceof FluxError) return err;
    throw err;
  }
  throw new Error('did not throw');
}
