// Bad input from a peer that holds a key. A size-3 instance is bootstrapped by this test's own PMI-1 server: ranks
// 0 and 1 are real brokers, rank 2 is test/fixtures/overlay-intruder.mjs, which publishes a key and a uuid like a
// broker, so rank 0 lets it through CURVE and takes its hello. It then sends garbage frames, a message of a type
// children never send, an oversized message, a response to nothing it was asked, and hellos that claim another
// broker's rank or a rank that is not rank 0's child. Each time rank 0 must log it, tell the peer to disconnect and
// serve nothing more it sends, while rank 1 and the local clients go on being served.
import { describe, it, expect, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { PmiServer } from '../../src/transport/pmi-server.js';
import { Flux } from '../../src/api/handle.js';
import { MSGTYPE_CONTROL, MSGTYPE_RESPONSE } from '../../src/core/wire/message.js';
import { CONTROL_DISCONNECT } from '../../src/broker/broker.js';
import { ROOT, FLUX, run } from '../helpers/instance.js';

const INTRUDER = join(ROOT, 'test', 'fixtures', 'overlay-intruder.mjs');
const MAX = 1 << 20;

interface Line {
  type?: number;
  topic?: string;
  aux1?: number;
  text?: string;
  ready?: string;
  done?: string;
}

let rundir: string;
let pmi: PmiServer;
const procs: ChildProcess[] = [];
let intruder: ChildProcess;
let uuid: string;
let uri0: string;
const lines: Line[] = [];
let seen = 0;

const uri = (rank: number) => `local://${rundir}/local-${rank}`;

/** the first line the intruder prints from now on that matches, or undefined after `ms` */
async function next(pred: (l: Line) => boolean, ms = 5000): Promise<Line | undefined> {
  const end = Date.now() + ms;
  for (;;) {
    while (seen < lines.length) {
      const l = lines[seen++]!;
      if (pred(l)) return l;
    }
    if (Date.now() > end) return undefined;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function tell(cmd: Record<string, unknown>): Promise<void> {
  seen = lines.length;
  intruder.stdin!.write(`${JSON.stringify(cmd)}\n`);
  expect(await next((l) => l.done === cmd.do)).toBeDefined();
}

const disconnected = (l: Line) => l.type === MSGTYPE_CONTROL && l.aux1 === CONTROL_DISCONNECT;
const answer = (topic: string) => (l: Line) => l.type === MSGTYPE_RESPONSE && l.topic === topic;

/** whether the intruder's requests are served: an attr.get answered in time */
async function served(): Promise<boolean> {
  await tell({ do: 'request', topic: 'attr.get', body: { name: 'size' } });
  return (await next(answer('attr.get'), 1500)) !== undefined;
}

async function dmesg(): Promise<string> {
  const r = await run(['dmesg'], { env: { FLUX_URI: uri0 } });
  return r.stdout;
}

/** rank 0, rank 1 and the tree between them go on serving */
async function othersServed(): Promise<void> {
  const h = await Flux.open(uri0);
  try {
    expect((await h.call('attr.get', { name: 'rank' }, { nodeid: 1 })).value).toBe('1');
    const health = await h.call('overlay.health', {});
    expect((health.children as Array<{ rank: number; status: string }>).find((c) => c.rank === 1)?.status).toBe('full');
  } finally {
    h.close();
  }
  const h1 = await Flux.open(uri(1));
  try {
    expect((await h1.call('attr.get', { name: 'size' })).value).toBe('3');
  } finally {
    h1.close();
  }
}

async function join2(): Promise<void> {
  await tell({ do: 'hello', rank: 2 });
  const hello = await next(answer('overlay.hello'));
  expect(hello?.aux1).toBe(0);
  expect(await served()).toBe(true);
}

/** the instance, started by the first test that needs it: a failure to start fails that test, it skips none */
let started: Promise<void> | undefined;
const launched = () => (started ??= launch());

async function launch(): Promise<void> {
  rundir = mkdtempSync(join(tmpdir(), 'flux-intruder-'));
  pmi = new PmiServer({ size: 3, log: () => {} });
  for (const rank of [0, 1]) {
    const cmd = rank === 0 ? ['sh', '-c', 'echo "$FLUX_URI"; exec cat >/dev/null'] : [];
    const p = spawn(process.execPath, [FLUX, 'broker', `-Srundir=${rundir}`, `-Stbon.max-message-size=${MAX}`, '--', ...cmd], {
      stdio: [rank === 0 ? 'pipe' : 'ignore', 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, PMI_FD: '3', PMI_RANK: String(rank), PMI_SIZE: '3' },
    });
    pmi.attach(rank, p.stdio[3] as Duplex);
    procs.push(p);
  }
  intruder = spawn(process.execPath, [INTRUDER], {
    stdio: ['pipe', 'pipe', 'inherit', 'pipe'],
    env: { ...process.env, PMI_FD: '3', PMI_RANK: '2', PMI_SIZE: '3' },
  });
  pmi.attach(2, intruder.stdio[3] as Duplex);
  let buf = '';
  intruder.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      lines.push(JSON.parse(buf.slice(0, nl)) as Line);
      buf = buf.slice(nl + 1);
    }
  });
  const ready = await next((l) => l.ready !== undefined, 20_000);
  if (!ready) throw new Error('the intruder did not bootstrap');
  uuid = ready.ready!;
  await join2();
  uri0 = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('rank 0 did not start its initial program')), 20_000);
    procs[0]!.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(out.split('\n')[0]!);
      }
    });
  });
}

afterAll(async () => {
  if (started === undefined) return;
  // the intruder leaves like a child, so that rank 0 does not wait for it at shutdown
  if (intruder.exitCode === null) {
    intruder.stdin!.write(`${JSON.stringify({ do: 'request', topic: 'overlay.goodbye' })}\n`);
    await next(answer('overlay.goodbye'), 3000);
    intruder.stdin!.end();
  }
  const exits = procs.map((p) => new Promise((r) => (p.exitCode !== null ? r(p.exitCode) : p.on('exit', r))));
  procs[0]!.stdin!.end();
  await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 15_000))]);
  for (const p of [...procs, intruder]) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  pmi.close();
  rmSync(rundir, { recursive: true, force: true });
}, 30_000);

describe('bad input from a peer that passed CURVE', () => {
  it('joined as rank 2 with its own key and uuid, its requests are served', async () => {
    await launched();
    expect(await served()).toBe(true);
    await othersServed();
  }, 60_000);

  it('garbage frames: logged, told to disconnect, nothing more served; everyone else is', async () => {
    await launched();
    await tell({ do: 'raw', hex: ['9f3c51d2a70e48b6', '000000'] });
    expect(await next(disconnected)).toBeDefined();
    expect(await served()).toBe(false);
    expect(await dmesg()).toMatch(/child 2: undecodable message: .*: told to disconnect/);
    await othersServed();
    await join2();
  }, 60_000);

  it('a message of a type children never send (an event): the same', async () => {
    await launched();
    await tell({ do: 'event' });
    expect(await next(disconnected)).toBeDefined();
    expect(await served()).toBe(false);
    expect(await dmesg()).toMatch(/child 2: unexpected event from a child: told to disconnect/);
    await othersServed();
    await join2();
  }, 60_000);

  it('an oversized message: the same', async () => {
    await launched();
    await tell({ do: 'big', bytes: MAX + 1 });
    expect(await next(disconnected)).toBeDefined();
    expect(await served()).toBe(false);
    expect(await dmesg()).toMatch(new RegExp(`child 2: oversized message \\(\\d+ bytes, at most ${MAX}\\): told to disconnect`));
    await othersServed();
    await join2();
  }, 60_000);

  it("a hello that claims rank 1, which another broker holds: refused, disconnected, rank 1 untouched", async () => {
    await launched();
    await tell({ do: 'hello', rank: 1 });
    const refused = await next(answer('overlay.hello'));
    expect(refused).toMatchObject({ aux1: 22, text: 'rank 1 is another broker' });
    expect(await next(disconnected)).toBeDefined();
    expect(await served()).toBe(false);
    expect(await dmesg()).toMatch(/hello refused: rank 1 is another broker: told to disconnect/);
    await othersServed();
    await join2();
  }, 60_000);

  it('a hello for a rank that is not a child of rank 0: refused and disconnected', async () => {
    await launched();
    await tell({ do: 'hello', rank: 7 });
    expect(await next(answer('overlay.hello'))).toMatchObject({ aux1: 22, text: 'rank 7 is not my child' });
    expect(await next(disconnected)).toBeDefined();
    expect(await served()).toBe(false);
    await othersServed();
    await join2();
  }, 60_000);

  it('a response to no request it was sent reaches no one, and is logged', async () => {
    await launched();
    const h = await Flux.open(uri0);
    try {
      // addressed to a local client of rank 0 that is waiting for nothing
      await tell({ do: 'response', route: uuid });
      expect(await dmesg()).toMatch(/child 2: response to no request it was sent: dropped/);
      expect((await h.call('attr.get', { name: 'size' })).value).toBe('3');
    } finally {
      h.close();
    }
    expect(await served()).toBe(true);
  }, 60_000);
});
