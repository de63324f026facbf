// ssh:// end to end: a private sshd on 127.0.0.1, `flux relay` run by it on the far side (this machine), real
// instances. Needs root and openssh-server, as CI has; without them every test fails saying why.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSshd, type Sshd } from '../fixtures/sshd.mjs';
import { FLUX, run, startInstance, until, type Instance, type RunResult } from '../helpers/instance.js';

let sshd: Sshd | undefined;
let sshdError: unknown;
let inst: Instance;
let scratch: string;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'flux-ssh-test-'));
  // a missing sshd fails each test (counted), not the whole file
  sshd = await startSshd().catch((err: unknown) => {
    sshdError = err;
    return undefined;
  });
  inst = await startInstance(1);
}, 60_000);

afterAll(async () => {
  expect(await inst.stop()).toBe(0);
  await sshd?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

function need(): Sshd {
  if (!sshd) throw new Error(`sshd did not start: ${String(sshdError)}`);
  return sshd;
}

/** the environment that makes `ssh://localhost/…` reach the test sshd and run this checkout's flux there */
function sshEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { FLUX_SSH: need().ssh, FLUX_SSH_RCMD: FLUX, ...extra };
}

function remote(i: Instance): string {
  return `ssh://localhost${i.rundir}/local-0`;
}

/** pids of the processes whose arguments include all of `words` */
function processesWith(...words: string[]): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (words.every((w) => args.includes(w))) pids.push(Number(d));
  }
  return pids;
}

function oneLineError(r: RunResult, cmd: string): string {
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr.endsWith('\n')).toBe(true);
  expect(r.stderr.split('\n')).toHaveLength(2);
  expect(r.stderr.startsWith(`flux-${cmd}: `)).toBe(true);
  return r.stderr;
}

describe('ssh:// connector', () => {
  it('runs any command against the far instance: getattr, kvs put/get, ping', async () => {
    const env = sshEnv({ FLUX_URI: remote(inst) });
    expect(await run(['getattr', 'size'], { env })).toMatchObject({ code: 0, stdout: '1\n', stderr: '' });
    expect(await run(['kvs', 'put', 'remote.a=17'], { env })).toMatchObject({ code: 0, stderr: '' });
    expect(await run(['kvs', 'get', 'remote.a'], { env })).toMatchObject({ code: 0, stdout: '17\n' });
    expect((await inst.flux(['kvs', 'get', 'remote.a'])).stdout).toBe('17\n');
    const ping = await run(['ping', '-c', '2', '0'], { env });
    expect(ping).toMatchObject({ code: 0, stderr: '' });
    expect(ping.stdout.split('\n').filter((l) => /^0!broker\.ping pad=0 seq=\d time=/.test(l))).toHaveLength(2);
    // the relay and ssh ended with the commands
    expect(processesWith('relay', `${inst.rundir}/local-0`)).toEqual([]);
  }, 60_000);

  it('puts the port of the URI on the ssh command line, and the far side runs what FLUX_SSH_RCMD says', async () => {
    const s = need();
    const env = sshEnv({ FLUX_SSH: s.sshNoPort, FLUX_URI: `ssh://localhost:${s.port}${inst.rundir}/local-0` });
    expect(await run(['getattr', 'rank'], { env })).toMatchObject({ code: 0, stdout: '0\n' });
    // a command with arguments, as the far side's shell reads it
    const marker = join(scratch, 'rcmd-ran');
    const rcmd = `env FLUX_TEST_MARK=1 sh -c 'touch ${marker}; exec "$0" "$@"' ${FLUX}`;
    expect(await run(['getattr', 'size'], { env: { ...env, FLUX_SSH_RCMD: rcmd } })).toMatchObject({ code: 0, stdout: '1\n' });
    expect(existsSync(marker)).toBe(true);
  }, 60_000);

  it('fails in one line, quickly, when ssh cannot reach the host', async () => {
    const s = need();
    const t0 = Date.now();
    const refused = await run(['getattr', 'size'], { env: sshEnv({ FLUX_SSH: s.sshNoPort, FLUX_URI: `ssh://localhost:1${inst.rundir}/local-0` }) });
    expect(oneLineError(refused, 'getattr')).toBe(`flux-getattr: ssh://localhost:1${inst.rundir}/local-0: ssh: connect to host localhost port 1: Connection refused\n`);
    const unknown = await run(['getattr', 'size'], { env: sshEnv({ FLUX_SSH: s.sshNoPort, FLUX_URI: `ssh://nosuchhost.invalid${inst.rundir}/local-0` }) });
    expect(oneLineError(unknown, 'getattr')).toMatch(/^flux-getattr: ssh:\/\/nosuchhost\.invalid\/\S+: ssh: Could not resolve hostname nosuchhost\.invalid/);
    expect(Date.now() - t0).toBeLessThan(15_000);
  }, 60_000);

  it('says what failed on the far side, or that ssh itself is missing', async () => {
    const nope = `ssh://localhost${inst.rundir}/nope`;
    expect(oneLineError(await run(['getattr', 'size'], { env: sshEnv({ FLUX_URI: nope }) }), 'getattr')).toBe(
      `flux-getattr: ${nope}: flux-relay: ${hostname()}: cannot connect to ${inst.rundir}/nope: No such file or directory\n`,
    );
    const noRcmd = await run(['getattr', 'size'], { env: sshEnv({ FLUX_URI: remote(inst), FLUX_SSH_RCMD: '/nocmd' }) });
    expect(oneLineError(noRcmd, 'getattr')).toMatch(/^flux-getattr: ssh:\/\/localhost\/\S+: .*\/nocmd: (No such file or directory|not found)\n$/);
    const noSsh = await run(['getattr', 'size'], { env: sshEnv({ FLUX_URI: remote(inst), FLUX_SSH: '/nonexist' }) });
    expect(oneLineError(noSsh, 'getattr')).toBe('flux-getattr: ssh connector: /nonexist: No such file or directory (FLUX_SSH names the ssh program to run)\n');
    const noPath = await run(['getattr', 'size'], { env: sshEnv({ FLUX_URI: 'ssh://localhost' }) });
    expect(oneLineError(noPath, 'getattr')).toContain('the socket path is missing');
  }, 60_000);

  it('does not hang on a far shell that writes to stdout first: it says so', async () => {
    const chatty = join(scratch, 'chatty-flux');
    writeFileSync(chatty, `#!/bin/sh\necho "Welcome to the cluster"\nexec ${FLUX} "$@"\n`);
    chmodSync(chatty, 0o755);
    const r = await run(['getattr', 'size'], { env: sshEnv({ FLUX_URI: remote(inst), FLUX_SSH_RCMD: chatty }), timeoutMs: 20_000 });
    expect(oneLineError(r, 'getattr')).toContain('do shell init files on localhost write to stdout?');
  }, 60_000);

  it("leaves the peer check to the far broker: a relay run as another user is refused as that user", async () => {
    const owned = await startInstance(1);
    try {
      // let nobody reach the socket, so that the broker, not the file system, decides
      chmodSync(owned.rundir, 0o755);
      chmodSync(`${owned.rundir}/local-0`, 0o777);
      const asNobody = `setpriv --reuid=65534 --regid=65534 --clear-groups ${FLUX}`;
      const r = await run(['getattr', 'size'], { env: sshEnv({ FLUX_URI: remote(owned), FLUX_SSH_RCMD: asNobody }) });
      expect(oneLineError(r, 'getattr')).toBe(`flux-getattr: ${remote(owned)}: connection refused by the broker: Operation not permitted (connecting requires the owner or user role: guest access is not allowed)\n`);
    } finally {
      expect(await owned.stop()).toBe(0);
    }
  }, 60_000);
});

describe('flux proxy over ssh://', () => {
  it('runs a command whose flux commands reach the far instance', async () => {
    expect((await inst.flux(['kvs', 'put', 'proxied.a=hello'])).code).toBe(0);
    const r = await run(['proxy', remote(inst), 'sh', '-c', 'flux kvs get proxied.a && flux getattr size && printenv FLUX_PROXY_REMOTE'], {
      env: sshEnv({ PATH: `${join(FLUX, '..')}:${process.env.PATH ?? ''}` }),
    });
    expect(r).toMatchObject({ code: 0, stdout: 'hello\n1\nlocalhost\n', stderr: '' });
    expect(processesWith('relay', `${inst.rundir}/local-0`)).toEqual([]);
  }, 60_000);

  it('sends SIGHUP to the command when the far instance goes away, and exits at once with its status', async () => {
    const doomed = await startInstance(1);
    const proxy = spawn(process.execPath, [FLUX, 'proxy', remote(doomed), 'sh', '-c', 'echo "$FLUX_URI"; exec sleep 30'], {
      env: { ...process.env, ...sshEnv() }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    proxy.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proxy.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => proxy.on('close', (code) => resolve(code)));
    const uri = await until('the proxied command to start', async () => (out.includes('\n') ? out.trim() : undefined));
    expect(uri).toMatch(/^local:\/\/\/.*\/flux-proxy-\w+\/local$/);
    expect(await doomed.stop()).toBe(0);
    const t0 = Date.now();
    expect(await exited).toBe(129);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(err).toMatch(/^flux-proxy: Lost connection to Flux.*\nflux-proxy: Sending SIGHUP to child processes\n$/);
    expect(existsSync(uri.slice('local://'.length))).toBe(false);
  }, 60_000);
});
