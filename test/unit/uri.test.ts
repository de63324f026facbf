import { describe, it, expect } from 'vitest';
import { dirname, join } from 'node:path';
import { FluxError, EINVAL } from '../../src/core/errors.js';
import { jobTarget, parseSshUri, resolveTarget, toLocalUri, toRemoteUri } from '../../src/core/wire/uri.js';
import { parseJobId } from '../../src/core/jobs/fluid.js';
import { sshArgv } from '../../src/transport/ssh-connector.js';
import { ROOT } from '../helpers/instance.js';

function errnoOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FluxError);
    return (err as FluxError).errno;
  }
  return undefined;
}

describe('ssh:// URIs', () => {
  it('take a user, a port, an IPv6 address and setenv options', () => {
    expect(parseSshUri('ssh://host/tmp/f/local-0')).toEqual({ host: 'host', path: '/tmp/f/local-0', setenv: [], user: undefined, port: undefined });
    expect(parseSshUri('ssh://fred@host:2222/tmp/f/local-0')).toMatchObject({ user: 'fred', host: 'host', port: 2222, path: '/tmp/f/local-0' });
    expect(parseSshUri('ssh://[::1]:22/s')).toMatchObject({ host: '[::1]', port: 22, path: '/s' });
    expect(parseSshUri('ssh://[::1]/s')).toMatchObject({ host: '[::1]', port: undefined });
    expect(parseSshUri('ssh://h/s?setenv=A=1&setenv=B=x=y').setenv).toEqual(['A=1', 'B=x=y']);
  });

  it('refuse what has no host or path, a bad port or an unknown option', () => {
    for (const bad of [
      'ssh://host', 'ssh:///tmp/x', 'ssh://@host/x', 'ssh://host:/x', 'ssh://host:0/x', 'ssh://host:70000/x',
      'ssh://host:2x/x', 'ssh://host/x?badarg=bar', 'ssh://host/x?setenv=1A=2', 'local:///x',
    ]) {
      expect(errnoOf(() => parseSshUri(bad)), bad).toBe(EINVAL);
    }
  });
});

describe('flux uri conversions and targets', () => {
  it('turns local into remote with the host name and back, collapsing repeated slashes', () => {
    expect(toRemoteUri('local:///tmp//f/local-0', 'node7')).toBe('ssh://node7/tmp/f/local-0');
    expect(toRemoteUri('ssh://fred@x:22/tmp/f', 'node7')).toBe('ssh://fred@x:22/tmp/f');
    expect(toLocalUri('ssh://fred@x:22/tmp//f/local-0?setenv=A=1')).toBe('local:///tmp/f/local-0');
    expect(toLocalUri('local:///tmp/f')).toBe('local:///tmp/f');
  });

  it('takes native URIs as they are and says why it cannot resolve anything else', () => {
    expect(resolveTarget('local:///tmp/f/local-0')).toBe('local:///tmp/f/local-0');
    expect(resolveTarget('ssh://h:22/tmp/f')).toBe('ssh://h:22/tmp/f');
    expect(errnoOf(() => resolveTarget('bloop:1234'))).toBe(EINVAL);
    expect(errnoOf(() => resolveTarget('local://relative'))).toBe(EINVAL);
    expect(() => resolveTarget('bogus')).toThrow('Unable to resolve bogus to a URI: not a URI nor a job id');
  });

  it('knows a job id target, alone or as jobid:ID, from a URI', () => {
    expect(jobTarget('ƒ2WZkB4CTH')).toBe(parseJobId('ƒ2WZkB4CTH'));
    expect(jobTarget('jobid:ƒ2WZkB4CTH')).toBe(parseJobId('ƒ2WZkB4CTH'));
    expect(jobTarget('1234')).toBe(1234);
    for (const other of ['local:///tmp/f', 'ssh://h/tmp/f', 'bloop:1234', 'bogus']) expect(jobTarget(other), other).toBeUndefined();
    expect(() => jobTarget('jobid:bogus')).toThrow();
  });
});

describe('the ssh command line', () => {
  const t = parseSshUri('ssh://fred@h:2222/tmp/flux-x/local-0');

  it("runs `env PATH=… flux relay PATH` without FLUX_SSH_RCMD, PATH trying the rundir's bin first", () => {
    const argv = sshArgv(t, {});
    expect(argv.slice(0, 4)).toEqual(['ssh', '-p', '2222', 'fred@h']);
    expect(argv.slice(4, 5)).toEqual(['env']);
    const path = argv[5]!;
    expect(path.startsWith('PATH=/tmp/flux-x/bin:')).toBe(true);
    expect(path.split(':')).toContain(join(ROOT, 'bin'));
    expect(path.split(':')).toContain(dirname(process.execPath));
    expect(path.endsWith(':/bin:/usr/bin') || path.endsWith(':/usr/bin:/bin')).toBe(true);
    expect(argv.slice(6)).toEqual(['flux', 'relay', '/tmp/flux-x/local-0']);
  });

  it('takes FLUX_SSH and FLUX_SSH_RCMD as they are, forwards LD_LIBRARY_PATH and setenv, quotes for the far shell', () => {
    const q = parseSshUri("ssh://h/tmp/it's here/local-0?setenv=A=1");
    expect(sshArgv(q, { FLUX_SSH: '/opt/rsh', FLUX_SSH_RCMD: 'nice /opt/flux', LD_LIBRARY_PATH: '/l b' })).toEqual([
      '/opt/rsh', 'h', 'env', "'LD_LIBRARY_PATH=/l b'", 'A=1', 'nice /opt/flux', 'relay', "'/tmp/it'\\''s here/local-0'",
    ]);
    expect(sshArgv(parseSshUri('ssh://h/s'), { FLUX_SSH_RCMD: '/opt/flux' })).toEqual(['ssh', 'h', '/opt/flux', 'relay', '/s']);
    expect(sshArgv(parseSshUri('ssh://u@[::1]:22/s'), { FLUX_SSH_RCMD: 'flux' }).slice(0, 4)).toEqual(['ssh', '-p', '22', 'u@::1']);
  });

  it('refuses empty FLUX_SSH and FLUX_SSH_RCMD', () => {
    expect(errnoOf(() => sshArgv(t, { FLUX_SSH: '' }))).toBe(EINVAL);
    expect(errnoOf(() => sshArgv(t, { FLUX_SSH_RCMD: '' }))).toBe(EINVAL);
  });
});
