// A broker's launch environment: NODE_EXTRA_CA_CERTS moved aside for the start and put back, nothing else touched.
import { describe, it, expect } from 'vitest';
import { brokerLaunchEnv, restoreLaunchEnv, DEFERRED_CA_CERTS } from '../../src/core/launch-env.js';

describe('launch environment', () => {
  it('moves NODE_EXTRA_CA_CERTS aside without changing the caller\'s environment, and puts it back', () => {
    const env = { PATH: '/bin', NODE_EXTRA_CA_CERTS: '/etc/ca.pem' };
    const launch = brokerLaunchEnv(env);
    expect(launch).toEqual({ PATH: '/bin', [DEFERRED_CA_CERTS]: '/etc/ca.pem' });
    expect(env).toEqual({ PATH: '/bin', NODE_EXTRA_CA_CERTS: '/etc/ca.pem' });
    restoreLaunchEnv(launch);
    expect(launch).toEqual(env);
  });

  it('leaves an environment without the variable as it is, an empty value included', () => {
    const env = { PATH: '/bin' };
    expect(brokerLaunchEnv(env)).toBe(env);
    restoreLaunchEnv(env);
    expect(env).toEqual({ PATH: '/bin' });
    const empty = brokerLaunchEnv({ NODE_EXTRA_CA_CERTS: '' });
    restoreLaunchEnv(empty);
    expect(empty).toEqual({ NODE_EXTRA_CA_CERTS: '' });
  });
});
