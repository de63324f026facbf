// A broker's launch environment: NODE_EXTRA_CA_CERTS moved aside and glibc's mmap threshold held for the start,
// the threshold undone in the broker (bin/flux puts the certificates back: test/e2e/command-env.test.ts), nothing
// else touched.
import { describe, it, expect } from 'vitest';
import { brokerLaunchEnv, restoreLaunchEnv, DEFERRED_CA_CERTS, LAUNCH_MMAP_THRESHOLD } from '../../src/core/launch-env.js';

describe('launch environment', () => {
  it('moves NODE_EXTRA_CA_CERTS aside and holds the mmap threshold, without changing the caller\'s environment; the broker lets the threshold go', () => {
    const env = { PATH: '/bin', NODE_EXTRA_CA_CERTS: '/etc/ca.pem' };
    const launch = brokerLaunchEnv(env);
    expect(launch).toEqual({ PATH: '/bin', [DEFERRED_CA_CERTS]: '/etc/ca.pem', MALLOC_MMAP_THRESHOLD_: '131072', [LAUNCH_MMAP_THRESHOLD]: '1' });
    expect(env).toEqual({ PATH: '/bin', NODE_EXTRA_CA_CERTS: '/etc/ca.pem' });
    restoreLaunchEnv(launch);
    expect(launch).toEqual({ PATH: '/bin', [DEFERRED_CA_CERTS]: '/etc/ca.pem' });
  });

  it('leaves a threshold the launcher set as it is, in the broker and for what it starts', () => {
    const env = { PATH: '/bin', MALLOC_MMAP_THRESHOLD_: '65536' };
    const launch = brokerLaunchEnv(env);
    expect(launch).toEqual(env);
    restoreLaunchEnv(launch);
    expect(launch).toEqual({ PATH: '/bin', MALLOC_MMAP_THRESHOLD_: '65536' });
  });

  it('moves an empty NODE_EXTRA_CA_CERTS aside as it is', () => {
    expect(brokerLaunchEnv({ NODE_EXTRA_CA_CERTS: '' })[DEFERRED_CA_CERTS]).toBe('');
  });
});
