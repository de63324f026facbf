// hwloc topology XML: the summary of this machine's real lstopo output (hwloc 2 and the 1.x format), of a
// hand-written two-package node with GPUs, malformed documents, and several nodes joined into one document
// that lstopo itself reads back.
import { describe, it, expect } from 'vitest';
import { readFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseHwlocXml, aggregateHwlocXml, toRankTopology } from '../../src/core/resource/hwloc-xml.js';
import { EINVAL, EPROTO } from '../../src/core/errors.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/hwloc/${name}`, import.meta.url), 'utf8');
const VM = fixture('vm-2core.xml');
const VM_V1 = fixture('vm-2core-v1.xml');
const TWO = fixture('two-package-gpus.xml');

function lstopoAvailable(): boolean {
  try {
    execFileSync('lstopo-no-graphics', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('parseHwlocXml', () => {
  it('summarizes this machine as lstopo printed it (hwloc 2, with I/O)', () => {
    const s = parseHwlocXml(VM);
    expect(s.hostname).toBe('vm');
    expect(s.counts).toMatchObject({ Machine: 1, Package: 1, NUMANode: 1, L3Cache: 1, L2Cache: 2, Core: 2, PU: 2, GPU: 0 });
    expect(s.counts.PCIDev).toBe(2);
    expect(s.cores).toEqual([0, 1]);
    expect(s.pus).toEqual([0, 1]);
    expect(s.gpus).toEqual([]);
  });

  it('reads the hwloc 1.x format with 2.x names (Socket is a Package, a Cache its level)', () => {
    const s = parseHwlocXml(VM_V1);
    expect(s.counts).toMatchObject({ Machine: 1, Package: 1, NUMANode: 1, L3Cache: 1, L2Cache: 2, L1Cache: 2, L1iCache: 2, Core: 2, PU: 2 });
    expect(s.counts.Socket).toBeUndefined();
    expect(s.hostname).toBe('vm');
    expect(s.cores).toEqual([0, 1]);
  });

  it('numbers cores by logical index, keeps PU OS indexes, and counts CUDA and OpenCL devices as GPUs', () => {
    const s = parseHwlocXml(TWO);
    expect(s.hostname).toBe('node&7');
    expect(s.counts).toMatchObject({ Machine: 1, Package: 2, NUMANode: 2, L3Cache: 2, Core: 4, PU: 8, OSDev: 4, GPU: 2 });
    expect(s.cores).toEqual([0, 1, 2, 3]);
    expect(s.pus).toEqual([0, 4, 1, 5, 2, 6, 3, 7]);
    expect(s.gpus).toEqual([0, 1]);
  });

  it('refuses what is not a well-formed topology', () => {
    const bad = [
      '',
      '<html></html>',
      '<topology><object type="Machine"></topology>',
      '<topology><object type="Machine"/>',
      '<topology><object type="Machine" <oops/></topology>',
      '<topology></topology><object type="PU"/>',
    ];
    for (const x of bad) expect(() => parseHwlocXml(x), x).toThrow(expect.objectContaining({ errno: EINVAL }));
  });

  it('takes an empty topology as no resources', () => {
    expect(parseHwlocXml('<topology version="2.0"/>')).toEqual({ counts: { GPU: 0 }, cores: [], pus: [], gpus: [] });
  });
});

describe('aggregateHwlocXml', () => {
  it('puts each node\'s Machine under one System root, in order, with the union of their sets', () => {
    const doc = aggregateHwlocXml([VM, TWO, VM]);
    const s = parseHwlocXml(doc);
    expect(s.counts).toMatchObject({ System: 1, Machine: 3, Package: 4, Core: 8, PU: 12, GPU: 2 });
    expect(doc.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE topology SYSTEM "hwloc2.dtd">\n<topology version="2.0">\n')).toBe(true);
    expect(doc).toContain('<object type="System" os_index="0" cpuset="0x000000ff" complete_cpuset="0x000000ff" allowed_cpuset="0x000000ff" nodeset="0x00000003"');
    const hosts = [...doc.matchAll(/name="HostName" value="([^"]*)"/g)].map((m) => m[1]);
    expect(hosts).toEqual(['vm', 'node&amp;7', 'vm']);
    expect(doc.endsWith('  </object>\n</topology>\n')).toBe(true);
  });

  it('keeps the 1.x format of 1.x documents', () => {
    const doc = aggregateHwlocXml([VM_V1, VM_V1]);
    expect(doc).toContain('<!DOCTYPE topology SYSTEM "hwloc.dtd">\n<topology>\n');
    expect(parseHwlocXml(doc).counts).toMatchObject({ System: 1, Machine: 2, Core: 4 });
  });

  it('joins nothing into an empty root', () => {
    expect(parseHwlocXml(aggregateHwlocXml([])).counts).toEqual({ System: 1, GPU: 0 });
  });

  it.runIf(lstopoAvailable())('writes a document lstopo reads', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hwloc-test-'));
    try {
      for (const docs of [[VM, VM, VM, VM], [VM_V1, VM_V1], [TWO, VM]]) {
        const file = join(dir, 'all.xml');
        writeFileSync(file, aggregateHwlocXml(docs));
        const out = execFileSync('lstopo-no-graphics', ['-i', file, '--if', 'xml', '--of', 'console'], { encoding: 'utf8' });
        expect(out).toMatch(/^Machine/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('toRankTopology', () => {
  it('accepts a topo-get answer and refuses a malformed one', () => {
    const t = { rank: 2, hostname: 'vm', summary: parseHwlocXml(VM) };
    expect(toRankTopology(t)).toBe(t);
    expect(() => toRankTopology({ rank: -1, hostname: 'vm', summary: t.summary })).toThrow(expect.objectContaining({ errno: EPROTO }));
    expect(() => toRankTopology({ rank: 1, hostname: 'vm', summary: { counts: {} } })).toThrow(expect.objectContaining({ errno: EPROTO }));
  });
});
