// Drains: the map resource.eventlog's drain and undrain events make, and the event each request makes or why it
// is refused.
import { describe, it, expect } from 'vitest';
import { applyResourceEvent, drainEvent, undrainEvent, type DrainMap } from '../../src/core/resource/drain.js';
import { EEXIST, EINVAL } from '../../src/core/errors.js';

const replay = (...events: Parameters<typeof applyResourceEvent>[1][]): DrainMap => events.reduce(applyResourceEvent, new Map() as DrainMap);

describe('the drain map', () => {
  it('drains ranks with a reason and the time, and undrain gives them back', () => {
    const m = replay(
      { timestamp: 10, name: 'drain', context: { idset: '1-2', reason: 'fan', overwrite: 0 } },
      { timestamp: 20, name: 'undrain', context: { idset: '2' } },
    );
    expect([...m]).toEqual([[1, { timestamp: 10, reason: 'fan' }]]);
  });

  it('a drain over a drained rank keeps its time unless it overwrites the timestamp too', () => {
    const first = { timestamp: 10, name: 'drain', context: { idset: '1', reason: 'a', overwrite: 0 } };
    expect(replay(first, { timestamp: 20, name: 'drain', context: { idset: '1', reason: 'b', overwrite: 1 } }).get(1)).toEqual({ timestamp: 10, reason: 'b' });
    expect(replay(first, { timestamp: 20, name: 'drain', context: { idset: '1', reason: 'b', overwrite: 2 } }).get(1)).toEqual({ timestamp: 20, reason: 'b' });
  });

  it('changes nothing for other events, a malformed idset or none, and never changes the map it was given', () => {
    const m = replay({ timestamp: 1, name: 'drain', context: { idset: '0', reason: 'x' } });
    for (const e of [{ timestamp: 2, name: 'resource-define' }, { timestamp: 2, name: 'drain', context: { idset: 'x-' } },
      { timestamp: 2, name: 'undrain', context: {} }, { timestamp: 2, name: 'undrain', context: { idset: 5 } }]) {
      expect(applyResourceEvent(m, e)).toBe(m);
    }
    applyResourceEvent(m, { timestamp: 3, name: 'undrain', context: { idset: '0' } });
    expect(m.has(0)).toBe(true);
  });
});

describe('drain and undrain requests', () => {
  const m = replay({ timestamp: 10, name: 'drain', context: { idset: '1', reason: 'old' } });

  it('refuses a rank already drained by default, takes the rest with update, all with force', () => {
    expect(() => drainEvent(m, [0, 1], 'new', 'fail', 50)).toThrow(expect.objectContaining({ errno: EEXIST, message: 'rank 1 already drained' }));
    expect(drainEvent(m, [0, 1], 'new', 'update', 50)).toEqual({ timestamp: 50, name: 'drain', context: { idset: '0', reason: 'new', overwrite: 0 } });
    expect(drainEvent(m, [1], 'new', 'update', 50)).toBeUndefined();
    expect(drainEvent(m, [0, 1], 'new', 'overwrite', 50)!.context).toEqual({ idset: '0-1', reason: 'new', overwrite: 1 });
    expect(drainEvent(m, [0], 'new', 'overwrite', 50)!.context).toMatchObject({ overwrite: 0 });
    expect(drainEvent(m, [1], 'new', 'overwrite-timestamp', 50)!.context).toMatchObject({ overwrite: 2 });
  });

  it('refuses to undrain a rank not drained unless forced, which leaves it out', () => {
    expect(() => undrainEvent(m, [0, 1], false, 60)).toThrow(expect.objectContaining({ errno: EINVAL, message: 'rank 0 not drained' }));
    expect(undrainEvent(m, [0, 1], true, 60)).toEqual({ timestamp: 60, name: 'undrain', context: { idset: '1' } });
    expect(undrainEvent(m, [0], true, 60)).toBeUndefined();
  });
});
