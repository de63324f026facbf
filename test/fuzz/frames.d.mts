import type { Arbitrary } from 'fast-check';

/** every client-to-broker message of the captures, as the bytes the client wrote */
export function loadSeeds(dir?: string): Buffer[];

/** a frame: a mutated capture, a well-framed random message, an untouched capture, or garbage */
export function frameArb(seeds: Buffer[]): Arbitrary<Buffer>;
