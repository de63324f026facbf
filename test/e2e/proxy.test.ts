// flux proxy to a local:// instance, flux relay on its own, flux uri: real instances, real processes.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Flux } from '../../src/api/handle.js';
import { LocalClient } from '../../src/transport/local-client.js';
import { makeRequest, payloadJson, type Message } from '../../src/core/wire/message.js';
import { FLUX, run, startInstance, until, type Instance, type RunResult } from '../helpers/instance.js';

let inst: Instance;
/** this checkout's flux first on PATH, for the commands the proxy runs */
const PATH = `${dirname(FLUX)}:${process.env.PATH ?? ''}`;

beforeAll(async () => {
  inst = await startInstance(2);
}, 60_000);

afterAll(async () => {
  expect(await inst.stop()).toBe(0);
});

interface Running {
  proc: ChildProcessWithoutNullStreams;
  /** the FLUX_URI the proxied command got */
  uri: string;
  exited: Promise<RunResult>;
}

/** `flux proxy [OPTS] TARGET` running a command that prints its FLUX_URI and then runs until its stdin closes */
async function proxyUntilStdinCloses(target: string, opts: string[] = [], tail = 'exec cat >/dev/null'): Promise<Running> {
  const proc = spawn(process.execPath, [FLUX, 'proxy', ...opts, target, 'sh', '-c', `echo "$FLUX_URI"; ${tail}`], {
    env: { ...process.env, PATH }, stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<RunResult>((resolve) => proc.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  const uri = await until(`flux proxy to start (stderr: ${stderr})`, async () => (stdout.includes('\n') ? stdout.split('\n')[0] : undefined));
  return { proc, uri, exited };
}

function proxied(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return run(['proxy', inst.uri, ...args], { env: { PATH, ...env } });
}

describe('flux proxy to local://', () => {
  it('runs the command with FLUX_URI on a socket of its own, passes its exit code and removes the socket', async () => {
    expect(await proxied(['flux', 'getattr', 'size'])).toMatchObject({ code: 0, stdout: '2\n', stderr: '' });
    expect((await proxied(['sh', '-c', 'exit 7'])).code).toBe(7);
    expect((await proxied(['false'])).code).toBe(1);
    const r = await proxied(['sh', '-c', 'echo "$FLUX_URI"; stat -c %a "$(dirname "${FLUX_URI#local://}")"']);
    expect(r.code).toBe(0);
    const [uri, mode] = r.stdout.split('\n');
    expect(uri).toMatch(new RegExp(`^local://${tmpdir()}/flux-proxy-\\w+/local$`));
    expect(uri).not.toBe(inst.uri);
    expect(mode).toBe('700');
    expect(existsSync(dirname(uri!.slice('local://'.length)))).toBe(false);
  }, 60_000);

  it('with no command runs $SHELL, in the flux environment; a missing command is exit code 127', async () => {
    // the caller's PATH without this checkout's bin/: the shell finds flux through the environment the proxy gives it
    const callers = (process.env.PATH ?? '').split(':').filter((d) => d !== dirname(FLUX)).join(':');
    const r = await run(['proxy', inst.uri], { env: { SHELL: '/bin/sh', PATH: callers }, input: 'flux getattr size\ncommand -v flux\nexit 3\n' });
    expect(r).toMatchObject({ code: 3, stdout: `2\n${FLUX}\n` });
    const missing = await proxied(['no-such-command-here']);
    expect(missing).toMatchObject({ code: 127, stderr: 'flux-proxy: no-such-command-here: No such file or directory\n' });
  });

  it("routes each client's requests and events to it alone, over one connection", async () => {
    const p = await proxyUntilStdinCloses(inst.uri);
    try {
      const env = { FLUX_URI: p.uri };
      // two subscribers of different topics and a publisher, each a client of the proxy: each subscriber's
      // connection carries the events it asked for and no others
      const [ha, hb, pub] = await Promise.all([Flux.open(p.uri), Flux.open(p.uri), Flux.open(p.uri)]);
      try {
        const got = new Map<Flux, string[]>([[ha, []], [hb, []]]);
        for (const [h, prefix] of [[ha, 'app.a'], [hb, 'app.b']] as const) {
          h.onEvent((ev) => got.get(h)!.push(ev.topic!));
          await h.subscribe(prefix);
        }
        for (const topic of ['app.a.1', 'app.b.1', 'other', 'app.a.end', 'app.b.end']) {
          await pub.call('event.publish', { topic, flags: 0 }, { nodeid: 0 });
        }
        await until('both ends', async () => (got.get(ha)!.includes('app.a.end') && got.get(hb)!.includes('app.b.end') ? true : undefined));
        expect(got.get(ha)).toEqual(['app.a.1', 'app.a.end']);
        expect(got.get(hb)).toEqual(['app.b.1', 'app.b.end']);
        await ha.unsubscribe('app.a');
        await pub.call('event.publish', { topic: 'app.a.2', flags: 0 }, { nodeid: 0 });
        await pub.call('event.publish', { topic: 'app.b.2', flags: 0 }, { nodeid: 0 });
        await until('the last event', async () => (got.get(hb)!.includes('app.b.2') ? true : undefined));
        expect(got.get(ha)).toEqual(['app.a.1', 'app.a.end']);
      } finally {
        for (const h of [ha, hb, pub]) h.close();
      }
      // many clients at once, each answered its own
      const many = await Promise.all(Array.from({ length: 6 }, (_, i) => run(['kvs', 'put', `px.k${i}=${i}`], { env })));
      expect(many.every((r) => r.code === 0)).toBe(true);
      const gets = await Promise.all(Array.from({ length: 6 }, (_, i) => run(['kvs', 'get', `px.k${i}`], { env })));
      expect(gets.map((r) => r.stdout)).toEqual(['0\n', '1\n', '2\n', '3\n', '4\n', '5\n']);
      // a client behind the proxy is a sender of its own: the route shows the proxy's hop, the owner's credentials
      const ping = await run(['ping', '-c', '1', '--userid', 'broker'], { env });
      expect(ping.stdout).toMatch(/userid=0 rolemask=0x5 seq=0 time=\S+ ms \([0-9a-f]{8}![0-9a-f]{8}![0-9a-f]{8}\)/);
    } finally {
      p.proc.stdin.end();
      expect((await p.exited).code).toBe(0);
    }
  }, 60_000);

  it('tells the instance when a client vanishes: its watch ends there too', async () => {
    const p = await proxyUntilStdinCloses(inst.uri);
    const h = await Flux.open(inst.uri);
    try {
      const watchers = async (): Promise<number> => Number((await h.call('kvs-watch.stats-get')).watchers);
      const before = await watchers();
      expect((await inst.flux(['kvs', 'put', 'px.w=1'])).code).toBe(0);
      const watch = spawn(process.execPath, [FLUX, 'kvs', 'get', '--watch', 'px.w'], {
        env: { ...process.env, FLUX_URI: p.uri }, stdio: ['ignore', 'pipe', 'ignore'],
      });
      let out = '';
      watch.stdout.on('data', (d: Buffer) => (out += d.toString()));
      await until('the watch to start', async () => (out.includes('1\n') ? true : undefined));
      expect(await watchers()).toBe(before + 1);
      // no goodbye from the client itself: only the proxy can tell the instance
      watch.kill('SIGKILL');
      await until('the watcher to be dropped upstream', async () => ((await watchers()) === before ? true : undefined));
    } finally {
      h.close();
      p.proc.stdin.end();
      expect((await p.exited).code).toBe(0);
    }
  }, 60_000);

  it('passes SIGTERM to the command, and still removes its socket', async () => {
    const p = await proxyUntilStdinCloses(inst.uri, [], 'exec sleep 30');
    p.proc.kill('SIGTERM');
    expect((await p.exited).code).toBe(143);
    expect(existsSync(p.uri.slice('local://'.length))).toBe(false);
  }, 30_000);

  it('on losing the instance: SIGHUP and SIGCONT to the command, or with -n only the message', async () => {
    for (const [opts, tail, code] of [[[], 'exec sleep 30', 129], [['-n'], 'sleep 2; exit 3', 3]] as const) {
      const doomed = await startInstance(1);
      const p = await proxyUntilStdinCloses(doomed.uri, [...opts], tail);
      expect(await doomed.stop()).toBe(0);
      const t0 = Date.now();
      const r = await p.exited;
      expect(r.code).toBe(code);
      expect(Date.now() - t0).toBeLessThan(10_000);
      const lines = r.stderr.split('\n');
      expect(lines[0]).toMatch(/^flux-proxy: Lost connection to Flux/);
      expect(lines.includes('flux-proxy: Sending SIGHUP to child processes')).toBe(opts.length === 0);
      expect(existsSync(dirname(p.uri.slice('local://'.length)))).toBe(false);
    }
  }, 60_000);

  it('refuses a target it cannot reach or resolve, and falls back to /tmp with an unusable TMPDIR', async () => {
    expect(await run(['proxy', 'local:///nonexistent/local-0', 'true'])).toMatchObject({
      code: 1, stderr: 'flux-proxy: cannot connect to /nonexistent/local-0: No such file or directory\n',
    });
    expect(await run(['proxy', 'ƒ2WZkB4CTH', 'true'], { env: { FLUX_URI: inst.uri } })).toMatchObject({ code: 1, stderr: 'flux-proxy: job ƒ2WZkB4CTH not found\n' });
    expect((await run(['proxy', 'bloop:1234', 'true'])).stderr).toMatch(/^flux-proxy: Unable to resolve bloop:1234 to a URI/);
    const r = await proxied(['printenv', 'FLUX_URI'], { TMPDIR: '/nonexistent-tmpdir' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^local:\/\/\/tmp\/flux-proxy-\w+\/local\n$/);
  }, 60_000);
});

describe('flux relay', () => {
  it("copies a broker connection's bytes to and from its stdio, and exits when its input ends", async () => {
    const relay = spawn(process.execPath, [FLUX, 'relay', `${inst.rundir}/local-1`], { stdio: ['pipe', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => relay.on('close', (code) => resolve(code)));
    const client = await LocalClient.open({ input: relay.stdout, output: relay.stdin }, 'relay');
    const answer = new Promise<Message>((resolve) => {
      client.onMessage = resolve;
    });
    client.send(makeRequest('attr.get', Buffer.from('{"name":"rank"}\0'), { matchtag: 1 }));
    expect(payloadJson(await answer).value).toBe('1');
    client.close();
    expect(await exited).toBe(0);
  });

  it('exits when the broker goes away, and names its host when it cannot connect', async () => {
    const doomed = await startInstance(1);
    const relay = spawn(process.execPath, [FLUX, 'relay', `${doomed.rundir}/local-0`], { stdio: ['pipe', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => relay.on('close', (code) => resolve(code)));
    await LocalClient.open({ input: relay.stdout, output: relay.stdin }, 'relay');
    expect(await doomed.stop()).toBe(0);
    expect(await exited).toBe(0);
    expect(await run(['relay', `${doomed.rundir}/local-0`])).toMatchObject({
      code: 1, stderr: `flux-relay: ${hostname()}: cannot connect to ${doomed.rundir}/local-0: No such file or directory\n`,
    });
  }, 60_000);
});

describe('flux uri', () => {
  it('converts between local:// and ssh:// forms and explains what it cannot resolve', async () => {
    const path = inst.uri.slice('local://'.length);
    expect(await run(['uri', inst.uri])).toMatchObject({ code: 0, stdout: `${inst.uri}\n` });
    expect(await run(['uri', '--remote', inst.uri])).toMatchObject({ code: 0, stdout: `ssh://${hostname()}${path}\n` });
    expect(await run(['uri', '--local', `ssh://fred@elsewhere:2222${path}`])).toMatchObject({ code: 0, stdout: `${inst.uri}\n` });
    expect(await run(['uri', `ssh://elsewhere${path}`], { env: { FLUX_URI_RESOLVE_LOCAL: '1' } })).toMatchObject({ stdout: `${inst.uri}\n` });
    expect(await run(['uri', '--remote', '--local', inst.uri])).toMatchObject({ stdout: `ssh://${hostname()}${path}\n` });
    expect(await run(['uri', '--local', 'ƒ2WZkB4CTH'], { env: { FLUX_URI: inst.uri } })).toMatchObject({ code: 1, stderr: 'flux-uri: job ƒ2WZkB4CTH not found\n' });
    expect(await run(['uri', 'bogus'])).toMatchObject({ code: 1, stderr: 'flux-uri: Unable to resolve bogus to a URI: not a URI nor a job id\n' });
    expect((await run(['uri', 'ssh://host'])).stderr).toMatch(/^flux-uri: ssh:\/\/host: the socket path is missing/);
    expect(statSync(path).isSocket()).toBe(true);
  });
});
