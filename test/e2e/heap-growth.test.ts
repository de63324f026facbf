// broker.heap-growing-percent: a broker holds V8's old generation near what it keeps live (src/broker/heap-growth.ts).
// Real brokers: a plug-in in each makes garbage in the old generation, and says how far the old space grew.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Flux } from '../../src/api/handle.js';
import { ROOT, startInstance } from '../helpers/instance.js';

const CHURN = join(ROOT, 'test', 'fixtures', 'modules', 'heap-churn.mjs');

/**
 * the largest the old space of a size-1 instance's broker grew to under the plug-in's churn, MiB; `setattr`, the
 * attribute's value set on the running broker first
 */
async function peakOldSpace(attrs: string[], setattr?: string): Promise<number> {
  const inst = await startInstance(1, attrs);
  try {
    if (setattr !== undefined) {
      expect(await inst.flux(['setattr', 'broker.heap-growing-percent', setattr])).toMatchObject({ code: 0, stderr: '' });
    }
    expect(await inst.flux(['module', 'load', CHURN])).toMatchObject({ code: 0, stderr: '' });
    const h = await Flux.open(inst.uri);
    try {
      const r = await h.call('heapchurn.run', {});
      expect(r.live).toBe(300_000);
      return r.peak_mib as number;
    } finally {
      h.close();
    }
  } finally {
    expect(await inst.stop()).toBe(0);
  }
}

describe('broker.heap-growing-percent', () => {
  it('reads back as set, 50 by default', async () => {
    const inst = await startInstance(2, ['-S', 'broker.heap-growing-percent=20']);
    try {
      for (const rank of [0, 1]) {
        const env = { FLUX_URI: `local://${inst.rundir}/local-${rank}` };
        expect(await inst.flux(['getattr', 'broker.heap-growing-percent'], { env })).toMatchObject({ code: 0, stdout: '20\n' });
      }
    } finally {
      expect(await inst.stop()).toBe(0);
    }
    const plain = await startInstance(1);
    try {
      expect(await plain.flux(['getattr', 'broker.heap-growing-percent'])).toMatchObject({ code: 0, stdout: '50\n' });
    } finally {
      expect(await plain.stop()).toBe(0);
    }
  });

  it('holds the old generation near what is live; 0 leaves it to V8, which lets it grow far past', async () => {
    const held = await peakOldSpace([]);
    const left = await peakOldSpace(['-S', 'broker.heap-growing-percent=0']);
    // measured: ~115 against ~290 MiB
    expect(held).toBeLessThan(left * 0.75);
    // and set on a running broker, each way
    expect(await peakOldSpace([], '0')).toBeGreaterThan(held / 0.75);
    expect(await peakOldSpace(['-S', 'broker.heap-growing-percent=0'], '50')).toBeLessThan(left * 0.75);
  }, 90_000);

  it('a running broker refuses a bad value, naming it, and keeps the one it has', async () => {
    const inst = await startInstance(1);
    try {
      expect(await inst.flux(['setattr', 'broker.heap-growing-percent', '-3'])).toMatchObject({
        code: 1, stderr: 'flux-setattr: broker.heap-growing-percent: invalid value "-3": expected an integer from 0 to 1000\n',
      });
      expect(await inst.flux(['getattr', 'broker.heap-growing-percent'])).toMatchObject({ code: 0, stdout: '50\n' });
      expect(await inst.flux(['setattr', 'broker.heap-growing-percent', '20'])).toMatchObject({ code: 0, stderr: '' });
      expect(await inst.flux(['getattr', 'broker.heap-growing-percent'])).toMatchObject({ code: 0, stdout: '20\n' });
    } finally {
      expect(await inst.stop()).toBe(0);
    }
  });
});
