// The PMI-1 library offered to programs flux launches (FLUX_PMI_LIBRARY_PATH): lib/libpmi.so under the package
// root, built at install time by scripts/build-libpmi.mjs and missing where the machine had no C compiler.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// this module sits two levels below the package root both as source (src/core) and built (dist/core)
const LIBPMI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'lib', 'libpmi.so');

/** Absolute path of lib/libpmi.so, or undefined when it was not built. */
export function pmiLibraryPath(): string | undefined {
  return existsSync(LIBPMI) ? LIBPMI : undefined;
}
