// RFC 19 FLUIDs: the id layout, the generator, and every text encoding against RFC 19's and flux-core's vectors.
import { describe, it, expect } from 'vitest';
import {
  FluidGenerator, fluidCompose, fluidTimestamp, fluidGenerator, fluidSequence, encodeFluid, decodeFluid, parseJobId,
} from '../../src/core/jobs/fluid.js';
import { FluxError, EINVAL, EOVERFLOW } from '../../src/core/errors.js';

function errnoOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FluxError);
    return (e as FluxError).errno;
  }
  return undefined;
}

describe('id layout', () => {
  it('puts the timestamp above 14 generator bits and 10 sequence bits', () => {
    expect(fluidCompose(0, 0, 1)).toBe(1);
    expect(fluidCompose(0, 1, 0)).toBe(1024);
    expect(fluidCompose(1, 0, 0)).toBe(2 ** 24);
    const id = fluidCompose(123456, 16383, 1023);
    expect([fluidTimestamp(id), fluidGenerator(id), fluidSequence(id)]).toEqual([123456, 16383, 1023]);
  });

  it('splits the RFC 19 example id', () => {
    const id = 6731191091817518;
    expect(fluidCompose(fluidTimestamp(id), fluidGenerator(id), fluidSequence(id))).toBe(id);
    expect(fluidTimestamp(id)).toBe(Math.floor(id / 2 ** 24));
  });

  it('rejects fields out of range and ids a number cannot hold exactly', () => {
    expect(errnoOf(() => fluidCompose(0, 16384, 0))).toBe(EINVAL);
    expect(errnoOf(() => fluidCompose(0, 0, 1024))).toBe(EINVAL);
    expect(errnoOf(() => fluidCompose(-1, 0, 0))).toBe(EINVAL);
    expect(errnoOf(() => fluidCompose(2 ** 40, 0, 0))).toBe(EINVAL);
    expect(errnoOf(() => fluidCompose(1.5, 0, 0))).toBe(EINVAL);
    expect(fluidCompose(2 ** 29 - 1, 16383, 1023)).toBe(Number.MAX_SAFE_INTEGER);
    expect(errnoOf(() => fluidCompose(2 ** 29, 0, 0))).toBe(EOVERFLOW);
    expect(errnoOf(() => fluidTimestamp(2 ** 53))).toBe(EOVERFLOW);
    expect(errnoOf(() => fluidSequence(-1))).toBe(EINVAL);
  });
});

describe('FluidGenerator', () => {
  const clock = (start = 1000) => {
    let t = start;
    const now = () => t;
    return { now, set: (v: number) => (t = v) };
  };

  it('counts the sequence within a millisecond and resets it when the clock moves', () => {
    const c = clock();
    const g = new FluidGenerator(3, 500, c.now);
    const a = g.next();
    const b = g.next();
    expect([fluidTimestamp(a), fluidGenerator(a), fluidSequence(a)]).toEqual([500, 3, 0]);
    expect([fluidTimestamp(b), fluidSequence(b)]).toEqual([500, 1]);
    c.set(1007);
    const d = g.next();
    expect([fluidTimestamp(d), fluidSequence(d)]).toEqual([507, 0]);
    expect(g.timestamp()).toBe(507);
  });

  it('moves to the next millisecond when 1024 ids were issued in one', () => {
    const g = new FluidGenerator(0, 0, clock().now);
    const ids = Array.from({ length: 1025 }, () => g.next());
    expect(fluidSequence(ids[1023]!)).toBe(1023);
    expect([fluidTimestamp(ids[1024]!), fluidSequence(ids[1024]!)]).toEqual([1, 0]);
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true);
  });

  it('keeps ids increasing when the clock goes back, and when it catches up again', () => {
    const c = clock(10_000);
    const g = new FluidGenerator(1, 0, c.now);
    c.set(10_050);
    const before = g.next();
    c.set(9_000);
    const during = [g.next(), g.next()];
    expect(during[0]).toBeGreaterThan(before);
    expect(during[1]).toBeGreaterThan(during[0]!);
    expect(fluidTimestamp(during[1]!)).toBe(50);
    expect(g.timestamp()).toBe(50);
    c.set(10_051);
    expect(fluidTimestamp(g.next())).toBe(51);
  });

  it('a generator restarted from the last id issued continues above it', () => {
    const c = clock();
    let g = new FluidGenerator(0, 0, c.now);
    let last = -1;
    for (let i = 0; i < 200; i++) {
      const id = g.next();
      expect(id).toBeGreaterThan(last);
      last = id;
      g = new FluidGenerator(0, fluidTimestamp(id) + 1, c.now);
    }
  });

  it('refuses ids past the 2^53 range and bad arguments', () => {
    const g = new FluidGenerator(16383, 2 ** 29 - 1, clock().now);
    for (let i = 0; i < 1024; i++) g.next();
    expect(errnoOf(() => g.next())).toBe(EOVERFLOW);
    expect(errnoOf(() => new FluidGenerator(16384, 0))).toBe(EINVAL);
    expect(errnoOf(() => new FluidGenerator(0, -1))).toBe(EINVAL);
  });
});

describe('encodings', () => {
  // RFC 19's example, in every representation it gives for that id
  const rfc = 6731191091817518;

  it('matches the RFC 19 example id', () => {
    expect(encodeFluid(rfc, 'dec')).toBe('6731191091817518');
    expect(encodeFluid(rfc, 'f58')).toBe('ƒuZZybuNNy');
    expect(encodeFluid(rfc, 'hex')).toBe('0x17e9fb8df16c2e');
    expect(encodeFluid(rfc, 'dothex')).toBe('0017.e9fb.8df1.6c2e');
    expect(encodeFluid(rfc, 'words')).toBe('reform-remote-galileo--heart-package-academy');
  });

  it('agrees with the other RFC 19 examples', () => {
    const id = decodeFluid('0xedaf97d000000');
    expect(encodeFluid(id, 'dothex')).toBe('000e.daf9.7d00.0000');
    expect(encodeFluid(id, 'f58')).toBe('ƒZemgA8Bzf');
    expect(encodeFluid(id, 'words')).toBe('random-idea-yoyo--sugar-printer-academy');
    expect(encodeFluid(decodeFluid('ƒ278oEf7zGf'), 'f58')).toBe('ƒ278oEf7zGf');
  });

  it('matches flux-core for the smallest ids', () => {
    expect(encodeFluid(0, 'f58plain')).toBe('f1');
    expect(encodeFluid(1, 'f58')).toBe('ƒ2');
    expect(encodeFluid(0, 'hex')).toBe('0x0');
    expect(encodeFluid(0, 'dothex')).toBe('0000.0000.0000.0000');
    expect(encodeFluid(0, 'kvs')).toBe('job.0000.0000.0000.0000');
    expect(encodeFluid(0, 'words')).toBe('academy-academy-academy--academy-academy-academy');
  });

  it('uses RFC 19 emoji digits, the most significant first', () => {
    expect(encodeFluid(0, 'emoji')).toBe('😃');
    expect(encodeFluid(1, 'emoji')).toBe('😄');
    expect(encodeFluid(575, 'emoji')).toBe('🎌');
    expect(encodeFluid(576, 'emoji')).toBe('😄😃');
    expect(decodeFluid('😄😃')).toBe(576);
  });

  it('f58 is the default encoding', () => {
    expect(encodeFluid(rfc)).toBe('ƒuZZybuNNy');
  });

  it('refuses an unknown encoding and ids it cannot hold', () => {
    expect(errnoOf(() => encodeFluid(1, 'base64' as never))).toBe(EINVAL);
    expect(errnoOf(() => encodeFluid(2 ** 53, 'dec'))).toBe(EOVERFLOW);
  });
});

describe('decodeFluid', () => {
  it('detects each encoding', () => {
    for (const text of ['6731191091817518', 'ƒuZZybuNNy', 'fuZZybuNNy', '0x17e9fb8df16c2e', '0017.e9fb.8df1.6c2e',
      'reform-remote-galileo--heart-package-academy', '👩💅📓😸👑🚓']) {
      expect(decodeFluid(text)).toBe(6731191091817518);
    }
  });

  it('ignores surrounding whitespace and the case of words', () => {
    expect(decodeFluid(' 42 ')).toBe(42);
    expect(decodeFluid('\tƒ2\n')).toBe(1);
    expect(decodeFluid('Reform-REMOTE-galileo--heart-package-academy')).toBe(6731191091817518);
  });

  it('reads flux-core\'s largest job id as too large for a number, not as garbage', () => {
    for (const max of ['18446744073709551615', '0xffffffffffffffff', 'ffff.ffff.ffff.ffff', 'fjpXCZedGfVQ',
      'natural-analyze-verbal--natural-analyze-verbal', '🚹💂🙌😳💱🏃']) {
      expect(errnoOf(() => decodeFluid(max))).toBe(EOVERFLOW);
    }
  });

  it('rejects what flux job id rejects, naming the text', () => {
    for (const bad of ['badstring', 'job.0000.0000', '42plusbad', 'meep', '18446744073709551616', 'bad-words',
      'a-a-a--a-a-a', '', ' ', 'ƒ', 'f0', 'ƒ1234567890123', '0x', '0X1F', '-1', '+1', '1.2', '0000.0000.0000.0000.0000',
      'academy-academy-academy--academy-academy', '😃x', '😃😃😃😃😃😃😃😃']) {
      let err: unknown;
      try {
        decodeFluid(bad);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(FluxError);
      expect((err as FluxError).errno, bad).toBe(EINVAL);
      expect((err as FluxError).message).toBe(`error parsing jobid: "${bad}"`);
    }
  });

  it('rejects word triples that name no 32-bit value', () => {
    expect(errnoOf(() => decodeFluid('academy-academy-amen--academy-academy-academy'))).toBe(EINVAL);
  });
});

describe('parseJobId', () => {
  it('takes the KVS directory form as flux-core does', () => {
    expect(parseJobId('job.0017.e9fb.8df1.6c2e')).toBe(6731191091817518);
    expect(parseJobId(' ƒuZZybuNNy')).toBe(6731191091817518);
    expect(errnoOf(() => parseJobId('job.0000.0000'))).toBe(EINVAL);
  });
});
