// The second Unix user of multi-user tests: .ci/run creates it. Running a process as it needs root, as CI has.
import { readFileSync } from 'node:fs';
import { run, type RunResult } from './instance.js';

export const GUEST_NAME = 'fluxguest';

export interface UnixUser {
  name: string;
  uid: number;
  gid: number;
}

/** the test user from /etc/passwd; throws (the test fails, it is not skipped) when it does not exist */
export function guestUser(): UnixUser {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === GUEST_NAME) return { name: GUEST_NAME, uid: Number(f[2]), gid: Number(f[3]) };
  }
  throw new Error(`the test user ${GUEST_NAME} does not exist: create it as .ci/run does (useradd --system ${GUEST_NAME})`);
}

/** `flux ARGS` run as `user` against `uri` */
export function fluxAs(user: UnixUser, uri: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return run(args, { user, env: { FLUX_URI: uri, ...env } });
}
