// Entries sent down the tree together: packed and unpacked byte for byte, and a batch that lies about its
// lengths refused as a protocol error rather than read past its end.
import { describe, it, expect } from 'vitest';
import { EPROTO } from '../../src/core/errors.js';
import { packEntries, unpackEntries } from '../../src/core/journal/entry-batch.js';

describe('batches of entries', () => {
  it('unpack to the entries packed, in order, empty ones and large ones alike', () => {
    const blobs = [Buffer.from('{"seq":1}'), Buffer.alloc(0), Buffer.alloc(70_000, 7), Buffer.from('é')];
    const out = unpackEntries(packEntries(blobs));
    expect(out.map((b) => b.toString('hex'))).toEqual(blobs.map((b) => b.toString('hex')));
  });

  it('refuse a length past the end, a length cut short, and nothing at all', () => {
    const packed = packEntries([Buffer.from('abc'), Buffer.from('defg')]);
    expect(() => unpackEntries(packed.subarray(0, packed.length - 1))).toThrow(expect.objectContaining({ errno: EPROTO }));
    expect(() => unpackEntries(Buffer.concat([packed, Buffer.from([0, 0])]))).toThrow(expect.objectContaining({ errno: EPROTO }));
    expect(() => unpackEntries(Buffer.alloc(0))).toThrow(expect.objectContaining({ errno: EPROTO }));
  });
});
