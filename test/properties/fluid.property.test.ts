// FLUIDs: every text encoding of any id a number can hold decodes back to that id, through RFC 19's detection
// order and with whitespace around it; composing and splitting an id are inverse; a generator's ids strictly
// increase whatever its clock does.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  FluidGenerator, fluidCompose, fluidTimestamp, fluidGenerator, fluidSequence, encodeFluid, decodeFluid, parseJobId,
  type FluidEncoding,
} from '../../src/core/jobs/fluid.js';

const encodings: FluidEncoding[] = ['dec', 'hex', 'dothex', 'kvs', 'f58', 'f58plain', 'words', 'emoji'];
const id = fc.oneof(
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  fc.integer({ min: 0, max: 2 ** 32 + 10 }),
  fc.constantFrom(0, 1, 57, 58, 575, 576, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER),
);
const space = fc.constantFrom('', ' ', '\t', '\n ');

describe('FLUID properties', () => {
  it('every encoding round-trips through decoding', () => {
    fc.assert(
      fc.property(id, fc.constantFrom(...encodings), space, space, (n, type, pre, post) => {
        const text = pre + encodeFluid(n, type) + post;
        expect(type === 'kvs' ? parseJobId(text) : decodeFluid(text)).toBe(n);
      }),
    );
  });

  it('encodings of different ids differ', () => {
    fc.assert(
      fc.property(id, id, fc.constantFrom(...encodings), (a, b, type) => {
        fc.pre(a !== b);
        expect(encodeFluid(a, type)).not.toBe(encodeFluid(b, type));
      }),
    );
  });

  it('composing and splitting are inverse', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 29 - 1 }), fc.integer({ min: 0, max: 16383 }), fc.integer({ min: 0, max: 1023 }),
        (ts, gen, seq) => {
          const n = fluidCompose(ts, gen, seq);
          expect([fluidTimestamp(n), fluidGenerator(n), fluidSequence(n)]).toEqual([ts, gen, seq]);
        }),
    );
  });

  it('a generator\'s ids strictly increase under any clock, restarts included', () => {
    const step = fc.oneof(
      fc.record({ tick: fc.integer({ min: -50, max: 50 }), burst: fc.integer({ min: 1, max: 1100 }) }),
      fc.constant('restart' as const),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 16383 }), fc.array(step, { maxLength: 20 }), (gen, steps) => {
        let t = 1_000_000;
        const now = () => t;
        let g = new FluidGenerator(gen, 0, now);
        let last = -1;
        for (const s of steps) {
          if (s === 'restart') {
            g = new FluidGenerator(gen, last < 0 ? 0 : fluidTimestamp(last) + 1, now);
            continue;
          }
          t += s.tick;
          for (let i = 0; i < s.burst; i++) {
            const n = g.next();
            if (n <= last || fluidGenerator(n) !== gen) return false;
            last = n;
          }
        }
        return true;
      }),
      { numRuns: 40 },
    );
  });
});
