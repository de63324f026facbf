// A directory in the temp dir for the suite that calls this (a file, or a describe block): made by a beforeAll
// and removed by an afterAll, so that a run whose filter skips the suite, which runs neither hook, makes none.
import { afterAll, beforeAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ScratchDir {
  /** the directory; only once the suite's hooks have begun */
  readonly path: string;
}

export function scratchDir(prefix: string): ScratchDir {
  let made: string | undefined;
  beforeAll(() => {
    made = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(() => {
    if (made !== undefined) rmSync(made, { recursive: true, force: true });
  });
  return {
    get path(): string {
      if (made === undefined) throw new Error(`the ${prefix} directory is made when the suite starts`);
      return made;
    },
  };
}
