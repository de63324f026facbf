// RFC 34 task maps: blocks from the tasks each node runs, and the forms flux job taskmap prints.
import { describe, it, expect } from 'vitest';
import {
  blocksOf, mappings, multilineTaskmap, nodeOfTask, parseTaskmap, pmiMapping, rawTaskmap, tasksByNode,
} from '../../src/core/jobs/rfc34.js';

describe('RFC 34 task maps', () => {
  it('groups consecutive nodes of one count into a block', () => {
    expect(blocksOf([2, 2, 1])).toEqual([[0, 2, 2, 1], [2, 1, 1, 1]]);
    expect(mappings([2, 2])).toEqual({ taskmap: '{"version":1,"map":[[0,2,2,1]]}', processMapping: '(vector,(0,2,2))' });
  });

  it('numbers tasks block by block, a repeated block going round its nodes again', () => {
    const cyclic = parseTaskmap('{"version":1,"map":[[0,2,1,2]]}');
    expect([...tasksByNode(cyclic)]).toEqual([[0, [0, 2]], [1, [1, 3]]]);
    expect(rawTaskmap(cyclic)).toBe('0,2;1,3');
    expect(multilineTaskmap(cyclic)).toEqual(['0', '1', '0', '1']);
    expect(nodeOfTask(cyclic, 3)).toBe(1);
    expect(nodeOfTask(cyclic, 4)).toBeUndefined();
    const plain = parseTaskmap({ version: 1, map: [[0, 2, 2, 1], [2, 1, 1, 1]] });
    expect(rawTaskmap(plain)).toBe('0-1;2-3;4');
    expect(pmiMapping(plain)).toBe('(vector,(0,2,2),(2,1,1))');
  });

  it('refuses what is not a version 1 task map', () => {
    for (const bad of ['bogus', '{"version":2,"map":[]}', '{"version":1,"map":[[0,1,1]]}', '{"version":1,"map":[[0,-1,1,1]]}', '[]']) {
      expect(() => parseTaskmap(bad), bad).toThrow('invalid taskmap');
    }
  });
});
