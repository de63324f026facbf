// First-fit allocation: slots on one rank each, lowest ranks and ids first, nnodes spreading, whole ranks for
// exclusive requests, and the line between 'busy' and 'unsatisfiable'.
import { describe, it, expect } from 'vitest';
import { allocate, allocationWindow, type ResourceRequest } from '../../src/core/resource/sched-alloc.js';
import { type ResourceSet, buildResourceSet, difference, encodeR } from '../../src/core/resource/rset.js';
import { EINVAL } from '../../src/core/errors.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
/** `ranks` ranks of `cores` cores (and `gpus` GPUs) each */
const instance = (ranks: number, cores: number, gpus = 0) =>
  buildResourceSet(range(ranks).map((rank) => ({ rank, hostname: `n${rank}`, cores: range(cores), gpus: range(gpus) })));
const req = (r: Partial<ResourceRequest>): ResourceRequest => ({
  nnodes: 0, nslots: 1, coresPerSlot: 1, gpusPerSlot: 0, exclusive: false, duration: 0, ntasks: 1, ...r,
});
const lite = (a: ResourceSet | string) => (typeof a === 'string' ? a : encodeR(a).execution.R_lite);

describe('allocate', () => {
  const all = instance(4, 4);

  it('takes the lowest cores of the lowest ranks', () => {
    expect(lite(allocate(all, all, req({ nslots: 2 })) as ResourceSet)).toEqual([{ rank: '0', children: { core: '0-1' } }]);
    expect(lite(allocate(all, all, req({ nslots: 3, coresPerSlot: 2 })) as ResourceSet)).toEqual([
      { rank: '0', children: { core: '0-3' } }, { rank: '1', children: { core: '0-1' } },
    ]);
  });

  it('keeps a slot\'s cores on one rank, skipping ranks too full for one', () => {
    const free = difference(all, buildResourceSet([{ rank: 0, cores: [0, 1, 2] }, { rank: 1, cores: [1] }]));
    expect(lite(allocate(free, all, req({ nslots: 2, coresPerSlot: 2 })) as ResourceSet)).toEqual([
      { rank: '1', children: { core: '0,2' } }, { rank: '2', children: { core: '0-1' } },
    ]);
  });

  it('spreads slots over exactly nnodes ranks, the first ones holding the extra slots', () => {
    expect(lite(allocate(all, all, req({ nnodes: 2, nslots: 4 })) as ResourceSet)).toEqual([{ rank: '0-1', children: { core: '0-1' } }]);
    expect(lite(allocate(all, all, req({ nnodes: 3, nslots: 4 })) as ResourceSet)).toEqual([
      { rank: '0', children: { core: '0-1' } }, { rank: '1-2', children: { core: '0' } },
    ]);
  });

  it('gives the larger share to a rank that can hold it when a lower one cannot', () => {
    const free = difference(all, buildResourceSet([{ rank: 0, cores: [0, 1, 2] }]));
    expect(lite(allocate(free, all, req({ nnodes: 2, nslots: 3 })) as ResourceSet)).toEqual([
      { rank: '0', children: { core: '3' } }, { rank: '1', children: { core: '0-1' } },
    ]);
  });

  it('takes whole idle ranks for exclusive requests', () => {
    const free = difference(all, buildResourceSet([{ rank: 0, cores: [3] }]));
    expect(lite(allocate(free, all, req({ nnodes: 2, nslots: 2, exclusive: true })) as ResourceSet)).toEqual([
      { rank: '1-2', children: { core: '0-3' } },
    ]);
    expect(lite(allocate(free, all, req({ nslots: 5, exclusive: true })) as ResourceSet)).toEqual([
      { rank: '1-2', children: { core: '0-3' } },
    ]);
  });

  it('allocates GPUs with the cores of a slot', () => {
    const gpu = instance(2, 4, 2);
    expect(lite(allocate(gpu, gpu, req({ nslots: 3, coresPerSlot: 1, gpusPerSlot: 1 })) as ResourceSet)).toEqual([
      { rank: '0', children: { core: '0-1', gpu: '0-1' } }, { rank: '1', children: { core: '0', gpu: '0' } },
    ]);
    expect(allocate(gpu, gpu, req({ nslots: 5, gpusPerSlot: 1 }))).toBe('unsatisfiable');
  });

  it('says busy when the instance could hold the request, unsatisfiable when it never could', () => {
    const free = difference(all, buildResourceSet([{ rank: 0, cores: [0] }, { rank: 1, cores: [0] }, { rank: 2, cores: [0] }, { rank: 3, cores: [0] }]));
    expect(allocate(free, all, req({ nslots: 1, coresPerSlot: 4 }))).toBe('busy');
    expect(allocate(free, all, req({ nnodes: 1, nslots: 1, exclusive: true }))).toBe('busy');
    expect(allocate(all, all, req({ nslots: 1, coresPerSlot: 5 }))).toBe('unsatisfiable');
    expect(allocate(all, all, req({ nnodes: 5, nslots: 5 }))).toBe('unsatisfiable');
    expect(allocate(all, all, req({ nslots: 17 }))).toBe('unsatisfiable');
    expect(allocate(all, all, req({ nnodes: 2, nslots: 10 }))).toBe('unsatisfiable');
    expect(allocate(all, all, req({ nslots: 1, gpusPerSlot: 1 }))).toBe('unsatisfiable');
  });

  it('refuses a malformed request', () => {
    for (const r of [req({ nslots: 0 }), req({ coresPerSlot: 0 }), req({ nnodes: -1 }), req({ nnodes: 3, nslots: 2 }), req({ nslots: 1.5 })]) {
      expect(() => allocate(all, all, r), JSON.stringify(r)).toThrow(expect.objectContaining({ errno: EINVAL }));
    }
  });
});

describe('allocationWindow', () => {
  it('ends after the duration, or with the instance when unlimited', () => {
    const all = { ...instance(1, 1), expiration: 5000 };
    expect(allocationWindow(req({ duration: 60 }), 1000, all)).toEqual({ starttime: 1000, expiration: 1060 });
    expect(allocationWindow(req({ duration: 0 }), 1000, all)).toEqual({ starttime: 1000, expiration: 5000 });
    expect(allocationWindow(req({ duration: 0 }), 1000, instance(1, 1))).toEqual({ starttime: 1000, expiration: 0 });
  });
});
