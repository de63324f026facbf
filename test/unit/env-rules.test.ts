// flux submit's --env, --env-remove and --env-file rules, applied in order to the submitter's environment.
import { describe, it, expect } from 'vitest';
import { applyEnvRules } from '../../src/core/jobs/env-rules.js';

const from = { HOME: '/home/a', PATH: '/bin', LANG: 'C', LC_ALL: 'C', FLUX_URI: 'local:///x' };
const noFiles = (p: string): string => {
  throw new Error(`unexpected read of ${p}`);
};

describe('environment rules', () => {
  it('starts from the submitter\'s environment; -PATTERN removes, PATTERN copies back, VAR=VAL sets', () => {
    expect(applyEnvRules(from, [], noFiles)).toEqual(from);
    expect(applyEnvRules(from, ['-*', 'PATH', 'L*'], noFiles)).toEqual({ PATH: '/bin', LANG: 'C', LC_ALL: 'C' });
    expect(applyEnvRules(from, ['-LC_*', '-/^FLUX_/'], noFiles)).toEqual({ HOME: '/home/a', PATH: '/bin', LANG: 'C' });
    expect(applyEnvRules(from, ['-*', 'X=$HOME/bin:${PATH}', 'Y=$$'], noFiles)).toEqual({ X: '/home/a/bin:/bin', Y: '$' });
  });

  it('reads ^FILE rules and names a variable that is missing', () => {
    const files = (p: string) => (p === 'rules' ? '# comment\n-*\nHOME\nA=1\n' : noFiles(p));
    expect(applyEnvRules(from, ['^rules'], files)).toEqual({ HOME: '/home/a', A: '1' });
    expect(() => applyEnvRules(from, ['X=$NOPE'], noFiles)).toThrow("--env: Variable 'NOPE' not found in X=$NOPE");
  });
});
