// The replica-read check on small hand-made histories: what it accepts and what it names for each broken promise.
import { describe, it, expect } from 'vitest';
import { checkReplicaReads, firstVersionWith, type ReplicaRead, type AckedWrite } from '../../src/verify/replica-reads.js';
import { keyTimelines, type SetrootOp } from '../../src/verify/attribution.js';

const put = (key: string, value: string): SetrootOp => ({ key, flags: 0, value });
const append = (key: string, value: string): SetrootOp => ({ key, flags: 32, value });
const unlink = (key: string): SetrootOp => ({ key, flags: 0, value: null });

// a: x at 1, y at 3, gone at 5, z+w at 6; b: p at 2, p+q at 4 (appended)
const batches = new Map<number, SetrootOp[]>([
  [1, [put('a', 'x')]],
  [2, [put('b', 'p')]],
  [3, [put('a', 'y')]],
  [4, [append('b', 'q')]],
  [5, [unlink('a')]],
  [6, [put('a', 'z'), append('a', 'w')]],
]);
const lines = keyTimelines(batches);

let id = 0;
const read = (session: number, key: string, value: string | null | undefined, call: number, rank = 1): ReplicaRead =>
  ({ id: id++, session, rank, key, value, call, ret: call + 1 });

describe('replica reads', () => {
  it('places a value at the first version at or after a bound that has it', () => {
    const t = { versions: [1, 3, 5], values: ['x', 'y', null] };
    expect(firstVersionWith(t, 'x', 0)).toBe(1);
    expect(firstVersionWith(t, null, 0)).toBe(0);
    expect(firstVersionWith(t, 'x', 2)).toBe(2);
    expect(firstVersionWith(t, 'y', 2)).toBe(3);
    expect(firstVersionWith(t, null, 4)).toBe(5);
    expect(firstVersionWith(t, 'x', 3)).toBeUndefined();
    expect(firstVersionWith(undefined, null, 7)).toBe(7);
    expect(firstVersionWith(undefined, 'x', 0)).toBeUndefined();
  });

  it('accepts reads that lag, move forward and see their own writes', () => {
    const writes: AckedWrite[] = [{ session: 9, version: 4, ret: 50 }];
    const reads = [
      // session 1 starts before anything was acknowledged: old states are fine, as long as they never go back
      read(1, 'a', null, 0), read(1, 'a', 'x', 10), read(1, 'b', 'p', 20), read(1, 'a', 'y', 30),
      // session 2 begins after version 4 was acknowledged: its first read is at 4 or later
      read(2, 'b', 'pq', 60), read(2, 'a', null, 70), read(2, 'a', 'zw', 80),
      // session 9 wrote version 4: a later read of its own is at least there (a is y there)
      read(9, 'a', 'y', 55),
      // a read with no answer tells nothing
      read(3, 'a', undefined, 5),
    ];
    expect(checkReplicaReads(reads, writes, lines)).toEqual([]);
  });

  it('finds a value no version ever held', () => {
    const [p] = checkReplicaReads([read(1, 'a', 'xy', 0)], [], lines);
    expect(p).toMatch(/read #\d+ of a on rank 1 \(connection 1\) returned "xy", a value the key never had/);
  });

  it('finds a read that went back behind one the same connection made', () => {
    const problems = checkReplicaReads([read(1, 'b', 'pq', 0), read(1, 'a', 'x', 10)], [], lines);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/had already read version 4, and the key is not that at or after it/);
  });

  it('finds a first read older than a write acknowledged anywhere before it began', () => {
    const problems = checkReplicaReads([read(2, 'b', 'p', 60)], [{ session: 7, version: 4, ret: 50 }], lines);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/the first read of its connection, older than version 4/);
    // acknowledged after the read began: no promise
    expect(checkReplicaReads([read(2, 'b', 'p', 40)], [{ session: 7, version: 4, ret: 50 }], lines)).toEqual([]);
  });

  it('promises a later read only what its connection saw or wrote, not what others wrote since', () => {
    const writes = [{ session: 7, version: 4, ret: 50 }];
    expect(checkReplicaReads([read(2, 'a', 'x', 10), read(2, 'b', 'p', 60)], writes, lines)).toEqual([]);
    // the first read got no answer: whether it caught up is unknown, so the next is not held to it
    expect(checkReplicaReads([read(2, 'a', undefined, 55), read(2, 'b', 'p', 60)], writes, lines)).toEqual([]);
  });

  it("finds a read that misses its connection's own acknowledged write", () => {
    const problems = checkReplicaReads([read(2, 'a', 'x', 10), read(2, 'a', 'x', 60)], [{ session: 2, version: 3, ret: 50 }], lines);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/own write acknowledged with version 3 before the read began is not in it/);
  });

  it('keeps the highest write acknowledged so far, whatever order the writes came back in', () => {
    const writes = [{ session: 7, version: 5, ret: 10 }, { session: 8, version: 2, ret: 20 }];
    const problems = checkReplicaReads([read(2, 'a', 'y', 30)], writes, lines);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/older than version 5/);
  });
});

describe('replica reads, inputs in any order', () => {
  it('sorts versions, writes and each connection\'s reads itself', () => {
    // the same history as above, every list handed over backwards
    const backwards = new Map([...batches].reverse());
    const writes: AckedWrite[] = [{ session: 8, version: 2, ret: 20 }, { session: 7, version: 5, ret: 10 }];
    const reads = [read(4, 'a', 'zw', 80), read(4, 'a', null, 70), read(2, 'a', 'y', 30)];
    const problems = checkReplicaReads(reads, writes, keyTimelines(backwards));
    // connection 2's first read began after version 5 was acknowledged; connection 4 moves forward only
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/connection 2\).*older than version 5/);
    // appends replayed in version order: b is "p" then "pq"
    expect(checkReplicaReads([read(5, 'b', 'pq', 1)], [], keyTimelines(backwards))).toEqual([]);
    expect(checkReplicaReads([read(5, 'b', 'qp', 1)], [], keyTimelines(backwards))).toHaveLength(1);
  });

  it('names which promise a read broke', () => {
    // the connection read version 4 already, and its own write of version 3 came back before: going back is named
    const own = [{ session: 6, version: 3, ret: 5 }];
    const p = checkReplicaReads([read(6, 'b', 'pq', 10), read(6, 'a', 'x', 20)], own, lines);
    expect(p[0]).toMatch(/had already read version 4/);
    // its own write is newer than anything it read: that is named
    const q = checkReplicaReads([read(6, 'a', 'x', 1), read(6, 'a', 'x', 20)], [{ session: 6, version: 3, ret: 5 }], lines);
    expect(q[0]).toMatch(/own write acknowledged with version 3/);
    // a write acknowledged exactly when the read began is not before it
    expect(checkReplicaReads([read(9, 'a', 'x', 5)], [{ session: 1, version: 5, ret: 5 }], lines)).toEqual([]);
    expect(checkReplicaReads([read(9, 'a', 'x', 10), read(9, 'a', 'x', 20)], [{ session: 9, version: 3, ret: 20 }], lines)).toEqual([]);
  });
});

describe('replica reads, edge cases', () => {
  it('appends to a key that did not exist start from nothing, and an unlink empties a key whatever its flags', () => {
    const more = new Map([...batches, [7, [append('c', 'v')]], [8, [{ key: 'c', flags: 32, value: null }]]]);
    expect(checkReplicaReads([read(1, 'c', 'v', 0), read(1, 'c', null, 10)], [], keyTimelines(more))).toEqual([]);
    expect(checkReplicaReads([read(2, 'c', 'vnull', 0)], [], keyTimelines(more))).toHaveLength(1);
  });

  it('a first read that saw nothing acknowledged still bounds the reads after it', () => {
    // the first read finds a absent (version 0); the connection's own write of version 3 comes back; x is older
    const problems = checkReplicaReads([read(6, 'a', null, 1), read(6, 'a', 'x', 20)], [{ session: 6, version: 3, ret: 5 }], lines);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/own write acknowledged with version 3/);
  });

  it('sorts the writes by when they were acknowledged before taking the highest before a read', () => {
    const writes = [{ session: 7, version: 5, ret: 50 }, { session: 8, version: 2, ret: 10 }];
    expect(checkReplicaReads([read(2, 'a', 'y', 30)], writes, lines)).toEqual([]);
    expect(checkReplicaReads([read(2, 'a', 'y', 60)], writes, lines)).toHaveLength(1);
  });

  it('names the own write when the version read before is that write', () => {
    // read version 3 (a = y), then its own write of version 3 came back: x is behind both, and the write is named
    const p = checkReplicaReads([read(6, 'a', 'y', 1), read(6, 'a', 'x', 20)], [{ session: 6, version: 3, ret: 5 }], lines);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/own write acknowledged with version 3/);
  });

  it('names the catch-up when the write acknowledged before the first read is its own', () => {
    const p = checkReplicaReads([read(6, 'b', 'p', 10)], [{ session: 6, version: 4, ret: 5 }], lines);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/the first read of its connection, older than version 4/);
  });
});
