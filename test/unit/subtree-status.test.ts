import { describe, it, expect } from 'vitest';
import { combineStatus, statusCode, statusName } from '../../src/core/overlay/subtree-status.js';

describe('subtree status', () => {
  it('has flux-core\'s numbers on the wire', () => {
    expect(['unknown', 'full', 'partial', 'degraded', 'lost', 'offline'].map((s) => statusCode(s as never))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(statusName(4)).toBe('lost');
    expect(statusName(99)).toBe('unknown');
  });

  it('is full only when every child is; lost or degraded below degrades; offline or partial makes partial', () => {
    expect(combineStatus([])).toBe('full');
    expect(combineStatus(['full', 'full'])).toBe('full');
    expect(combineStatus(['full', 'offline'])).toBe('partial');
    expect(combineStatus(['partial', 'full'])).toBe('partial');
    expect(combineStatus(['offline', 'lost'])).toBe('degraded');
    expect(combineStatus(['degraded', 'partial'])).toBe('degraded');
  });
});
