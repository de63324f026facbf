// What flux resource list|info|R and flux hwloc info print, against flux-core's output.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  formatList, formatInfo, formatR, formatHwlocInfo, parseStates, stateSet, unionOfStates, formatStatus, formatDrain,
  parseStatusStates, type SystemView,
} from '../../src/commands/resource-format.js';
import { buildResourceSet, emptySet, ranksOf } from '../../src/core/resource/rset.js';
import { parseHwlocXml } from '../../src/core/resource/hwloc-xml.js';
import { EINVAL } from '../../src/core/errors.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const all = buildResourceSet(range(16).map((i) => ({ rank: i, hostname: `fluke${25 + i}`, cores: range(4) })));
const down = buildResourceSet([{ rank: 0, hostname: 'fluke25', cores: range(4) }]);
const allocated = buildResourceSet([{ rank: 3, hostname: 'fluke28', cores: [0, 1] }, { rank: 4, hostname: 'fluke29', cores: range(4) }]);

describe('flux resource list', () => {
  it('prints flux-core\'s default columns, a line for each state even when it is empty', () => {
    const idle = { all, allocated: emptySet(), down };
    expect(formatList(idle, parseStates('free,allocated,down'), true)).toBe(
      '     STATE NNODES   NCORES    NGPUS NODELIST\n'
      + '      free     15       60        0 fluke[26-40]\n'
      + ' allocated      0        0        0 \n'
      + '      down      1        4        0 fluke25\n',
    );
  });

  it('derives up and free from the scheduler\'s sets; a partly allocated node is both free and allocated', () => {
    const s = { all, allocated, down };
    expect(formatList(s, parseStates('free,allocated,up,all'), false)).toBe(
      '      free     14       54        0 fluke[26-28,30-40]\n'
      + ' allocated      2        6        0 fluke[28-29]\n'
      + '        up     15       60        0 fluke[26-40]\n'
      + '       all     16       64        0 fluke[25-40]\n',
    );
    expect(ranksOf(stateSet(s, 'free'))).not.toContain(4);
  });

  it('shows GPUs and repeated host names as flux-core does', () => {
    const gpus = buildResourceSet(range(2).map((rank) => ({ rank, hostname: 'vm', cores: range(48), gpus: range(8) })));
    expect(formatList({ all: gpus, allocated: emptySet(), down: emptySet() }, ['free'], true)).toBe(
      '     STATE NNODES   NCORES    NGPUS NODELIST\n      free      2       96       16 vm,vm\n',
    );
  });

  it('takes the states it knows, once each', () => {
    expect(parseStates('down,free,down')).toEqual(['down', 'free']);
    expect(() => parseStates('free,busy')).toThrow(expect.objectContaining({ errno: EINVAL, message: 'Invalid resource state busy specified' }));
  });
});

describe('flux resource info and R', () => {
  const s = { all, allocated, down };

  it('sums the states asked for into one line, always in the plural', () => {
    expect(formatInfo(unionOfStates(s, ['all']))).toBe('16 Nodes, 64 Cores, 0 GPUs\n');
    expect(formatInfo(unionOfStates(s, ['free', 'allocated']))).toBe('15 Nodes, 60 Cores, 0 GPUs\n');
    expect(formatInfo(unionOfStates(s, ['down']))).toBe('1 Nodes, 4 Cores, 0 GPUs\n');
  });

  it('prints R as flux-core\'s encoder does, with the time window of an empty set', () => {
    expect(formatR(unionOfStates(s, ['all']))).toBe(
      '{"version": 1, "execution": {"R_lite": [{"rank": "0-15", "children": {"core": "0-3"}}], '
      + '"starttime": 0.0, "expiration": 0.0, "nodelist": ["fluke[25-40]"]}}\n',
    );
    const gpu = buildResourceSet([{ rank: 0, hostname: 'a"b', cores: [0], gpus: [0, 1] }], { starttime: 1700000000.25, expiration: 1700003600 });
    expect(formatR(gpu)).toBe(
      '{"version": 1, "execution": {"R_lite": [{"rank": "0", "children": {"core": "0", "gpu": "0-1"}}], '
      + '"starttime": 1700000000.25, "expiration": 1700003600.0, "nodelist": ["a\\"b"]}}\n',
    );
    expect(formatR(emptySet())).toBe('{"version": 1, "execution": {"R_lite": [], "starttime": 0.0, "expiration": 0.0, "nodelist": [""]}}\n');
  });
});

describe('flux hwloc info', () => {
  const vm = parseHwlocXml(readFileSync(new URL('../fixtures/hwloc/vm-2core.xml', import.meta.url), 'utf8'));

  it('counts machines, cores and PUs in flux-core v0.11\'s words', () => {
    expect(formatHwlocInfo([vm, vm, vm, vm])).toBe('4 Machines, 8 Cores, 8 PUs\n');
    expect(formatHwlocInfo([vm])).toBe('1 Machine, 2 Cores, 2 PUs\n');
    expect(formatHwlocInfo([])).toBe('0 Machine, 0 Cores, 0 PUs\n');
  });
});

describe('flux resource status and drain', () => {
  // fluke25-32 (ranks 0-7): 6-7 offline; 2 and 3 drained for one reason at one time, 5 for another; 3 holds a job
  const t = new Date(2026, 11, 7, 9, 5).getTime() / 1000;
  const view: SystemView = {
    ranks: range(8).map((rank) => ({ rank, hostname: `fluke${25 + rank}` })),
    offline: new Set([6, 7]),
    drained: new Map([[2, { timestamp: t, reason: 'bad fan' }], [3, { timestamp: t, reason: 'bad fan' }], [5, { timestamp: t + 60, reason: 'disk' }], [7, { timestamp: t, reason: 'bad fan' }]]),
    allocated: new Set([3, 4]),
  };

  it('shows each state a line, online and offline apart (offline starred), empty ones left out unless asked for', () => {
    expect(formatStatus(view, undefined, true)).toBe([
      '     STATE NNODES NODELIST',
      '     avail      3 fluke[25-26,29]',
      '    avail*      1 fluke31',
      '  draining      1 fluke28',
      '   drained      2 fluke[27,30]',
      '  drained*      1 fluke32',
      '',
    ].join('\n'));
    expect(formatStatus(view, parseStatusStates('exclude,offline,online'), false)).toBe('   exclude      0 \n   offline      2 fluke[31-32]\n    online      6 fluke[25-30]\n');
    expect(formatStatus(view, parseStatusStates('exclude,allocated'), false, undefined, true)).toBe(' allocated      2 fluke[28-29]\n');
    expect(() => parseStatusStates('avail,bogus')).toThrow('Invalid resource state bogus specified');
  });

  it('splits a state\'s line by what the format shows: reasons apart only when it shows them', () => {
    expect(formatStatus(view, ['drained'], false, '{state} {nnodes} {reason} {ranks}')).toBe('drained 1 bad fan 2\ndrained 1 disk 5\ndrained* 1 bad fan 7\n');
    expect(formatStatus(view, ['drain'], false, '{statex} {status} {up.ascii} {ranks}')).toBe('drained online y 2,5\ndraining online y 3\ndrained offline n 7\n');
  });

  it('lists the drained ranks by time and reason, in flux-core\'s default drain format', () => {
    expect(formatDrain(view, true)).toBe([
      'TIMESTAMP    STATE    REASON                         NODELIST',
      'Dec07 09:05  drained  bad fan                        fluke27',
      'Dec07 09:05  draining bad fan                        fluke28',
      'Dec07 09:06  drained  disk                           fluke30',
      'Dec07 09:05  drained* bad fan                        fluke32',
      '',
    ].join('\n'));
  });
});
