import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseLine, formatLine, PmiLineDecoder, PMI_MAX_LINE } from '../../src/transport/pmi-wire.js';
import { pmiConnect, pmiFromEnv } from '../../src/transport/pmi-client.js';
import { PmiServer } from '../../src/transport/pmi-server.js';
import { ECONNRESET, EEXIST, EINVAL, EIO, ENOENT, EPROTO } from '../../src/core/errors.js';
import { exchangeGroup } from '../helpers/pmi-job.js';
import { socketPairIn } from '../helpers/socket-pair.js';
// plain JS shared with the child probes, so parent and children agree on what each rank publishes
import { card } from '../fixtures/pmi-card.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const probe = path.join(root, 'test/fixtures/pmi-probe.mjs');

function fields(line: string): Record<string, string> {
  return Object.fromEntries(parseLine(line).fields);
}

function errnoOf(p: Promise<unknown>): Promise<number | string> {
  return p.then(
    () => 'resolved',
    (err: { errno?: number; message: string }) => err.errno ?? err.message,
  );
}

describe('PMI wire parser', () => {
  it('accepts keys in any order, runs of spaces and unknown keys', () => {
    expect(fields('cmd=get kvsname=kvs_1 key=k')).toEqual({ cmd: 'get', kvsname: 'kvs_1', key: 'k' });
    expect(fields('key=k   kvsname=kvs_1 cmd=get  extra=1 ')).toEqual({
      cmd: 'get', kvsname: 'kvs_1', key: 'k', extra: '1',
    });
    expect(fields('  cmd=maxes kvsname_max=256 keylen_max=64 vallen_max=1024')).toMatchObject({ vallen_max: '1024' });
    expect(parseLine('rc=0 cmd=put_result').cmd).toBe('put_result');
  });

  it('takes value= to the end of the line, spaces and = included', () => {
    expect(fields('cmd=put kvsname=- key=k value=a b=c  d=  ')).toMatchObject({ value: 'a b=c  d=  ', key: 'k' });
    expect(fields('cmd=put key=k kvsname=- value=')).toMatchObject({ value: '' });
    expect(fields('cmd=get_result rc=0 msg=success value=x=1 rc=5')).toMatchObject({ rc: '0', value: 'x=1 rc=5' });
    expect(fields('cmd=abort exitcode=3 error_msg=it broke: x=1 y=2')).toMatchObject({
      exitcode: '3', error_msg: 'it broke: x=1 y=2',
    });
  });

  it('drops the found=TRUE/FALSE that hydra 4.1/4.2 append to get answers, and only there', () => {
    expect(fields('cmd=get_result rc=0 msg=success value={"a":[1]} found=TRUE')).toMatchObject({
      value: '{"a":[1]}', found: 'TRUE',
    });
    expect(fields('cmd=get_result rc=-1 msg=key_x_not_found value=unknown found=FALSE')).toMatchObject({
      value: 'unknown', found: 'FALSE',
    });
    expect(fields('cmd=get_result rc=0 value= found=TRUE').value).toBe('');
    expect(fields('cmd=get_result rc=0 value=found=TRUE').value).toBe('found=TRUE');
    expect(fields('cmd=put kvsname=- key=k value=v found=TRUE').value).toBe('v found=TRUE');
  });

  it('reads free text such as msg=command not implemented', () => {
    expect(fields('cmd=publish_result rc=-1 msg=command not implemented')).toEqual({
      cmd: 'publish_result', rc: '-1', msg: 'command not implemented',
    });
  });

  it('rejects garbage with EPROTO', () => {
    for (const bad of ['', '   ', 'hello world', '=x cmd=init', 'cmd=', 'cmd', 'rc=0', 'cmd=a cmd=b', 'cmd=put\0 key=k']) {
      expect(() => parseLine(bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ errno: EPROTO }));
    }
  });

  it('formats lines that parse back to the same fields', () => {
    const line = formatLine('put', { kvsname: 'kvs_1', key: 'k', value: ' spaced = value ' });
    expect(line).toBe('cmd=put kvsname=kvs_1 key=k value= spaced = value \n');
    expect(fields(line.slice(0, -1))).toEqual({ cmd: 'put', kvsname: 'kvs_1', key: 'k', value: ' spaced = value ' });
    expect(formatLine('barrier_out', { rc: -1 })).toBe('cmd=barrier_out rc=-1\n');
    expect(formatLine('x', { msg: 'command not implemented' })).toBe('cmd=x msg=command not implemented\n');
  });

  it('refuses to format what would not parse back', () => {
    const bad: Array<[string, Record<string, string | number>]> = [
      ['put', { value: 'v', key: 'k' }],
      ['put', { key: 'k', value: 'two\nlines' }],
      ['put', { key: 'a  b', value: 'v' }],
      ['x', { msg: 'trailing ' }],
      ['put', { 'k=': 'v' }],
      ['put', { key: 'x=y' }],
      ['put', { key: ' lead' }],
      ['put', { cmd: 'again' }],
      ['two words', {}],
    ];
    for (const [cmd, f] of bad) {
      expect(() => formatLine(cmd, f), JSON.stringify(f)).toThrow(expect.objectContaining({ errno: EINVAL }));
    }
  });

  it('decodes a byte stream: split lines, split UTF-8, several lines per chunk, mcmd blocks', () => {
    const d = new PmiLineDecoder();
    const bytes = Buffer.from('cmd=put kvsname=- key=k value=héllo wörld\ncmd=barrier_in\n');
    const cut = bytes.indexOf(Buffer.from('é')) + 1; // in the middle of the two-byte é
    expect(d.push(bytes.subarray(0, cut))).toEqual([]);
    expect(d.pending).toBe(true);
    const msgs = d.push(bytes.subarray(cut));
    expect(msgs.map((m) => (m.kind === 'cmd' ? m.fields.get('value') ?? m.cmd : m.mcmd))).toEqual([
      'héllo wörld',
      'barrier_in',
    ]);
    expect(d.pending).toBe(false);
    const spawn = 'mcmd=spawn\nnprocs=2\nexecname=/bin/true\nargcnt=0\nendcmd\ncmd=get_maxes\n';
    expect(d.push(spawn.slice(0, 20))).toEqual([]);
    expect(d.push(spawn.slice(20))).toEqual([
      { kind: 'mcmd', mcmd: 'spawn', lines: ['nprocs=2', 'execname=/bin/true', 'argcnt=0'] },
      expect.objectContaining({ kind: 'cmd', cmd: 'get_maxes' }),
    ]);
  });

  it('refuses endless lines', () => {
    expect(() => new PmiLineDecoder().push('x'.repeat(PMI_MAX_LINE + 1))).toThrow(
      expect.objectContaining({ errno: EPROTO }),
    );
    expect(() => new PmiLineDecoder().push(`cmd=put value=${'x'.repeat(PMI_MAX_LINE)}\n`)).toThrow(
      expect.objectContaining({ errno: EPROTO }),
    );
  });
});

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pmi-test-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});
const socketPair = () => socketPairIn(tmp);

/** A hand-driven peer: writes raw lines and reads the answers line by line. */
function rawPeer(sock: net.Socket) {
  const queue: string[] = [];
  const waiters: Array<{ resolve: (l: string) => void; reject: (e: Error) => void }> = [];
  let buf = '';
  let isClosed = false;
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i !== -1; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiters.shift();
      if (w) w.resolve(line);
      else queue.push(line);
    }
  });
  sock.on('error', () => undefined);
  const closed = new Promise<void>((resolve) =>
    sock.on('close', () => {
      isClosed = true;
      for (const w of waiters.splice(0)) w.reject(new Error('closed'));
      resolve();
    }),
  );
  const next = (): Promise<string> => {
    const line = queue.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (isClosed) return Promise.reject(new Error('closed'));
    return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
  };
  return {
    send: (line: string) => sock.write(`${line}\n`),
    next,
    ask: (line: string) => {
      sock.write(`${line}\n`);
      return next();
    },
    /** lines received so far and not read */
    queued: () => queue.length,
    closed,
  };
}

async function serverWithPeers(size: number, opts: Partial<ConstructorParameters<typeof PmiServer>[0]> = {}) {
  const logs: string[] = [];
  const server = new PmiServer({ size, log: (l) => logs.push(l), ...opts });
  const peers = [];
  for (let rank = 0; rank < size; rank++) {
    const [s, c] = await socketPair();
    server.attach(rank, s);
    peers.push(rawPeer(c));
  }
  return { server, peers, logs };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 30));

describe('PMI server', () => {
  it('holds every barrier until its gate has settled, and then lets its clients out, whatever the outcome', async () => {
    for (const outcome of ['resolve', 'reject'] as const) {
      let settle!: () => void;
      const gate = new Promise<void>((resolve, reject) => {
        settle = outcome === 'resolve' ? resolve : () => reject(new Error('discovery failed'));
      });
      const { server, peers } = await serverWithPeers(2, { barrierGate: gate });
      const [p0, p1] = [peers[0]!, peers[1]!];
      expect(await p0.ask('cmd=put kvsname=- key=k value=v')).toBe('cmd=put_result rc=0');
      p0.send('cmd=barrier_in');
      p1.send('cmd=barrier_in');
      await tick();
      expect([p0.queued(), p1.queued()]).toEqual([0, 0]);
      settle();
      expect([await p0.next(), await p1.next()]).toEqual(Array(2).fill('cmd=barrier_out rc=0'));
      expect(await p1.ask('cmd=get kvsname=- key=k')).toBe('cmd=get_result rc=0 value=v');
      // a settled gate holds nothing back
      p0.send('cmd=barrier_in');
      p1.send('cmd=barrier_in');
      expect([await p0.next(), await p1.next()]).toEqual(Array(2).fill('cmd=barrier_out rc=0'));
      server.close();
    }
  });

  it('answers exactly as flux-core simple server does', async () => {
    const { server, peers } = await serverWithPeers(3);
    const p = peers[0]!;
    expect(await p.ask('cmd=init pmi_version=1 pmi_subversion=1')).toBe(
      'cmd=response_to_init rc=0 pmi_version=1 pmi_subversion=1',
    );
    expect(await p.ask('cmd=get_maxes')).toBe('cmd=maxes rc=0 kvsname_max=64 keylen_max=64 vallen_max=1024');
    expect(await p.ask('cmd=get_universe_size')).toBe('cmd=universe_size rc=0 size=3');
    expect(await p.ask('cmd=get_appnum')).toBe('cmd=appnum rc=0 appnum=0');
    expect(await p.ask('cmd=get_my_kvsname')).toBe('cmd=my_kvsname rc=0 kvsname=-');
    expect(await p.ask('cmd=get kvsname=- key=PMI_process_mapping')).toBe(
      'cmd=get_result rc=0 value=(vector,(0,1,3))',
    );
    expect(await p.ask('cmd=put kvsname=- key=k value= a b=c {"x":[1]} ')).toBe('cmd=put_result rc=0');
    expect(await p.ask('  key=k  cmd=get   kvsname=- extra=ignored')).toBe('cmd=get_result rc=0 value= a b=c {"x":[1]} ');
    expect(await p.ask('cmd=get kvsname=- key=nope')).toBe('cmd=get_result rc=4');
    expect(await p.ask(`cmd=put kvsname=- key=${'k'.repeat(64)} value=v`)).toBe('cmd=put_result rc=5');
    expect(await p.ask(`cmd=put kvsname=- key=k value=${'v'.repeat(1024)}`)).toBe('cmd=put_result rc=7');
    expect(await p.ask(`cmd=put kvsname=${'n'.repeat(64)} key=k value=v`)).toBe('cmd=put_result rc=8');
    expect(await p.ask(`cmd=put kvsname=- key=${'k'.repeat(63)} value=${'v'.repeat(1023)}`)).toBe('cmd=put_result rc=0');
    for (const op of ['publish', 'unpublish', 'lookup']) {
      expect(await p.ask(`cmd=${op}_name service=s port=p`)).toBe(`cmd=${op}_result rc=-1 msg=command not implemented`);
    }
    expect(await p.ask('mcmd=spawn\nnprocs=1\nexecname=/bin/true\nendcmd')).toBe('cmd=spawn_result rc=-1');
    expect(await p.ask('cmd=finalize')).toBe('cmd=finalize_ack rc=0');
    await p.closed;
    server.close();
  });

  it('refuses PMI-2 and versions below 1.1', async () => {
    const { server, peers, logs } = await serverWithPeers(1);
    const p = peers[0]!;
    expect(await p.ask('cmd=init pmi_version=2 pmi_subversion=0')).toBe('cmd=response_to_init rc=-1');
    expect(logs.join('\n')).toContain('libpmi2.so');
    expect(await p.ask('cmd=init pmi_version=1 pmi_subversion=0')).toBe('cmd=response_to_init rc=-1');
    expect(await p.ask('cmd=init pmi_subversion=1 pmi_version=1')).toBe(
      'cmd=response_to_init rc=0 pmi_version=1 pmi_subversion=1',
    );
    server.close();
  });

  it('releases a barrier to all clients only when all have entered, and again for the next one', async () => {
    const { server, peers } = await serverWithPeers(3);
    for (let round = 0; round < 2; round++) {
      peers[0]!.send('cmd=barrier_in');
      peers[2]!.send('cmd=barrier_in');
      await tick();
      expect(peers.map((p) => p.queued())).toEqual([0, 0, 0]);
      peers[1]!.send('cmd=barrier_in');
      expect(await Promise.all(peers.map((p) => p.next()))).toEqual(Array(3).fill('cmd=barrier_out rc=0'));
    }
    server.close();
  });

  it('hangs up on a client sending a malformed line, keeps serving the others, fails their barrier', async () => {
    const { server, peers, logs } = await serverWithPeers(3);
    const [bad, good, dup] = peers as [ReturnType<typeof rawPeer>, ReturnType<typeof rawPeer>, ReturnType<typeof rawPeer>];
    good.send('cmd=barrier_in');
    bad.send('this is not pmi');
    await bad.closed;
    expect(logs.join('\n')).toMatch(/pmi-server\[0\]: PMI protocol error: expected key=value: "this is not pmi"/);
    // the waiter is told the barrier can never complete instead of hanging
    expect(await good.next()).toBe('cmd=barrier_out rc=-1');
    expect(await good.ask('cmd=get_universe_size')).toBe('cmd=universe_size rc=0 size=3');
    expect(await good.ask('cmd=barrier_in')).toBe('cmd=barrier_out rc=-1');
    dup.send('cmd=frobnicate');
    await dup.closed;
    expect(logs.join('\n')).toContain('unknown cmd=frobnicate');
    server.close();
    await good.closed;
  });

  it('hangs up on a duplicate barrier_in, a put without key and an endless line', async () => {
    for (const bad of ['cmd=barrier_in\ncmd=barrier_in', 'cmd=put kvsname=- value=v', 'x'.repeat(PMI_MAX_LINE + 10)]) {
      const { server, peers, logs } = await serverWithPeers(2);
      peers[0]!.send(bad);
      await peers[0]!.closed;
      expect(logs.join('\n')).toContain('PMI protocol error');
      expect(await peers[1]!.ask('cmd=get_appnum')).toBe('cmd=appnum rc=0 appnum=0');
      server.close();
    }
  });

  it('reports abort requests', async () => {
    const aborts: Array<[number, number, string]> = [];
    const { server, peers } = await serverWithPeers(3, { onAbort: (...a) => aborts.push(a), appnum: 7, kvsname: 'job' });
    peers[1]!.send('cmd=abort exitcode=3 error_msg=rank 1: x=1 failed');
    peers[2]!.send('cmd=abort exit_code=4');
    peers[0]!.send('cmd=abort');
    expect(await peers[0]!.ask('cmd=get_my_kvsname')).toBe('cmd=my_kvsname rc=0 kvsname=job');
    await tick();
    expect(aborts.sort()).toEqual([
      [0, 1, 'aborted'],
      [1, 3, 'rank 1: x=1 failed'],
      [2, 4, 'aborted'],
    ]);
    server.close();
  });

  it('validates attach and its options', async () => {
    const server = new PmiServer({ size: 2, log: () => undefined });
    const [s] = await socketPair();
    expect(() => server.attach(2, s)).toThrow(expect.objectContaining({ errno: EINVAL }));
    server.attach(1, s);
    expect(() => server.attach(1, s)).toThrow(expect.objectContaining({ errno: EEXIST }));
    server.close();
    expect(() => server.attach(0, s)).toThrow(expect.objectContaining({ errno: EINVAL }));
    expect(() => new PmiServer({ size: 0 })).toThrow(expect.objectContaining({ errno: EINVAL }));
    expect(() => new PmiServer({ size: 1, kvsname: 'a b' })).toThrow(expect.objectContaining({ errno: EINVAL }));
  });
});

describe('PMI server serving its share of a job', () => {
  /** a job id in F58: its 'ƒ' is two bytes in UTF-8 */
  const JOBID = 'ƒ2mYsLkPz8';
  type Peer = ReturnType<typeof rawPeer>;

  async function attachPeers(server: PmiServer, ranks: number[], peers: Map<number, Peer>) {
    for (const rank of ranks) {
      const [s, c] = await socketPair();
      server.attach(rank, s);
      peers.set(rank, rawPeer(c));
    }
  }

  it('two shells of a 4-task job: universe size, job ranks, F58 kvsname, every key after the barrier', async () => {
    const group = exchangeGroup(2);
    const offered: Array<Array<Record<string, string>>> = [[], []];
    const aborts: Array<[number, number, string]> = [];
    const layout = [[0, 1], [2, 3]];
    const shells = layout.map(
      (_, i) =>
        new PmiServer({
          size: 4,
          localSize: 2,
          kvsname: JOBID,
          appnum: 42,
          initialKvs: { PMI_process_mapping: '(vector,(0,2,2))', 'flux.instance-level': '1' },
          exchange: (puts) => {
            offered[i]!.push(puts);
            return group[i]!(puts);
          },
          onAbort: (...a) => aborts.push(a),
        }),
    );
    const peers = new Map<number, Peer>();
    for (const [i, ranks] of layout.entries()) await attachPeers(shells[i]!, ranks, peers);
    const peer = (rank: number) => peers.get(rank)!;
    const value = (rank: number) => `v${rank} ƒ = x `;

    for (const [rank, p] of peers) {
      expect(await p.ask('cmd=init pmi_version=1 pmi_subversion=1')).toBe(
        'cmd=response_to_init rc=0 pmi_version=1 pmi_subversion=1',
      );
      expect(await p.ask('cmd=get_universe_size')).toBe('cmd=universe_size rc=0 size=4');
      expect(await p.ask('cmd=get_my_kvsname')).toBe(`cmd=my_kvsname rc=0 kvsname=${JOBID}`);
      expect(await p.ask('cmd=get_appnum')).toBe('cmd=appnum rc=0 appnum=42');
      expect(await p.ask(`cmd=get kvsname=${JOBID} key=PMI_process_mapping`)).toBe(
        'cmd=get_result rc=0 value=(vector,(0,2,2))',
      );
      expect(await p.ask(`cmd=put kvsname=${JOBID} key=k${rank} value=${value(rank)}`)).toBe('cmd=put_result rc=0');
    }
    // before the barrier a shell knows only what its own clients put
    expect(await peer(0).ask(`cmd=get kvsname=${JOBID} key=k1`)).toBe(`cmd=get_result rc=0 value=${value(1)}`);
    expect(await peer(0).ask(`cmd=get kvsname=${JOBID} key=k2`)).toBe('cmd=get_result rc=4');

    // the first shell's clients are all in, but the barrier also waits for the other shell's
    peer(0).send('cmd=barrier_in');
    peer(1).send('cmd=barrier_in');
    await tick();
    expect([...peers.values()].map((p) => p.queued())).toEqual([0, 0, 0, 0]);
    expect(offered).toEqual([[{ k0: value(0), k1: value(1) }], []]);
    peer(3).send('cmd=barrier_in');
    peer(2).send('cmd=barrier_in');
    for (const p of peers.values()) expect(await p.next()).toBe('cmd=barrier_out rc=0');
    expect(offered[1]).toEqual([{ k2: value(2), k3: value(3) }]);
    for (const p of peers.values()) {
      for (const r of [0, 1, 2, 3]) {
        expect(await p.ask(`cmd=get kvsname=${JOBID} key=k${r}`)).toBe(`cmd=get_result rc=0 value=${value(r)}`);
      }
    }

    // a second barrier hands over only what was put since the first
    expect(await peer(3).ask(`cmd=put kvsname=${JOBID} key=late value=1`)).toBe('cmd=put_result rc=0');
    for (const p of peers.values()) p.send('cmd=barrier_in');
    for (const p of peers.values()) expect(await p.next()).toBe('cmd=barrier_out rc=0');
    expect(offered).toEqual([[expect.anything(), {}], [expect.anything(), { late: '1' }]]);
    expect(await peer(0).ask(`cmd=get kvsname=${JOBID} key=late`)).toBe('cmd=get_result rc=0 value=1');

    // ranks are the job's: what abort reports, and what attach checks
    peer(3).send('cmd=abort exitcode=5 error_msg=rank 3 gives up');
    expect(await peer(3).ask('cmd=get_appnum')).toBe('cmd=appnum rc=0 appnum=42');
    expect(aborts).toEqual([[3, 5, 'rank 3 gives up']]);
    const [s] = await socketPair();
    expect(() => shells[1]!.attach(2, s)).toThrow(expect.objectContaining({ errno: EEXIST }));
    expect(() => shells[1]!.attach(4, s)).toThrow(expect.objectContaining({ errno: EINVAL }));
    expect(() => shells[1]!.attach(1, s)).toThrow(/already serves its 2 local clients/);
    for (const server of shells) server.close();
  });

  it('a failed exchange fails the barrier of every local client; its keys go with the next one', async () => {
    const logs: string[] = [];
    const offered: Array<Record<string, string>> = [];
    const answers: Array<(puts: Record<string, string>) => Record<string, string>> = [
      () => {
        throw new Error('broker 1 is unreachable');
      },
      () => ({ 'two words': 'x' }),
      (puts) => ({ ...puts, remote: 'r' }),
    ];
    const server = new PmiServer({
      size: 4,
      localSize: 2,
      log: (l) => logs.push(l),
      exchange: async (puts) => {
        offered.push(puts);
        return answers.shift()!(puts);
      },
    });
    const peers = new Map<number, Peer>();
    await attachPeers(server, [1, 3], peers);
    const [p1, p3] = [peers.get(1)!, peers.get(3)!];
    expect(await p1.ask('cmd=put kvsname=- key=a value=1')).toBe('cmd=put_result rc=0');
    const barrier = async () => {
      p1.send('cmd=barrier_in');
      p3.send('cmd=barrier_in');
      return [await p1.next(), await p3.next()];
    };
    expect(await barrier()).toEqual(Array(2).fill('cmd=barrier_out rc=-1'));
    expect(logs).toEqual(['pmi-server: barrier exchange failed: broker 1 is unreachable']);
    expect(await barrier()).toEqual(Array(2).fill('cmd=barrier_out rc=-1'));
    expect(logs[1]).toMatch(/exchange failed: returned key "two words": key is empty or has spaces/);
    expect(await p3.ask('cmd=get kvsname=- key=two words')).toBe('cmd=get_result rc=4');
    expect(await p3.ask('cmd=put kvsname=- key=b value=2')).toBe('cmd=put_result rc=0');
    expect(await barrier()).toEqual(Array(2).fill('cmd=barrier_out rc=0'));
    expect(offered).toEqual([{ a: '1' }, { a: '1' }, { a: '1', b: '2' }]);
    expect(await p1.ask('cmd=get kvsname=- key=remote')).toBe('cmd=get_result rc=0 value=r');
    server.close();
  });

  it('a client that goes away without finalize breaks the barrier before any exchange', async () => {
    let exchanges = 0;
    const server = new PmiServer({
      size: 4,
      localSize: 2,
      log: () => undefined,
      exchange: async (puts) => {
        exchanges++;
        return puts;
      },
    });
    const [s0, c0] = await socketPair();
    const [s2, c2] = await socketPair();
    server.attach(0, s0);
    server.attach(2, s2);
    const p0 = rawPeer(c0);
    p0.send('cmd=barrier_in');
    await tick();
    c2.destroy();
    expect(await p0.next()).toBe('cmd=barrier_out rc=-1');
    expect(await p0.ask('cmd=barrier_in')).toBe('cmd=barrier_out rc=-1');
    expect(exchanges).toBe(0);
    server.close();
  });

  it('counts the kvsname limit in bytes and checks local size and initial keys', async () => {
    const nameOf = (bytes: number) => `ƒ${'x'.repeat(bytes - 2)}`;
    expect(() => new PmiServer({ size: 1, kvsname: nameOf(63) })).not.toThrow();
    expect(() => new PmiServer({ size: 1, kvsname: nameOf(64) })).toThrow(expect.objectContaining({ errno: EINVAL }));
    const bad: Array<Partial<ConstructorParameters<typeof PmiServer>[0]>> = [
      { localSize: 0 },
      { localSize: 5 },
      { localSize: 1.5 },
      { appnum: 2 ** 31 },
      { initialKvs: { 'a b': 'v' } },
      { initialKvs: { k: 'two\nlines' } },
      { initialKvs: { k: 'é'.repeat(512) } },
    ];
    for (const opts of bad) {
      expect(() => new PmiServer({ size: 4, ...opts }), JSON.stringify(opts)).toThrow(
        expect.objectContaining({ errno: EINVAL }),
      );
    }
    // a share of a job gets no made-up mapping: only its shell knows where the other tasks run
    const server = new PmiServer({ size: 4, localSize: 1, initialKvs: { 'flux.taskmap': '[[0,4,1,1]]' } });
    const [s, c] = await socketPair();
    server.attach(0, s);
    const p = rawPeer(c);
    expect(await p.ask('cmd=get kvsname=- key=PMI_process_mapping')).toBe('cmd=get_result rc=4');
    expect(await p.ask('cmd=get kvsname=- key=flux.taskmap')).toBe('cmd=get_result rc=0 value=[[0,4,1,1]]');
    expect(await p.ask(`cmd=put kvsname=${nameOf(64)} key=k value=v`)).toBe('cmd=put_result rc=8');
    expect(await p.ask(`cmd=put kvsname=${nameOf(63)} key=k value=v`)).toBe('cmd=put_result rc=0');
    expect(await p.ask('cmd=put kvsname=- key= value=v')).toBe('cmd=put_result rc=4');
    server.close();
  });
});

describe('PMI client', () => {
  async function clientAndServer(size = 1, rank = 0) {
    const logs: string[] = [];
    const server = new PmiServer({ size, log: (l) => logs.push(l) });
    const [s, c] = await socketPair();
    server.attach(rank, s);
    const pmi = await pmiConnect(c, rank, size);
    return { server, pmi, sock: c, logs };
  }

  it('boots, puts and gets values with spaces and =, reports a missing key as ENOENT', async () => {
    const { server, pmi, sock } = await clientAndServer();
    expect([pmi.rank, pmi.size, pmi.kvsname]).toEqual([0, 1, '-']);
    const value = ` ${card(0)} with = and  spaces `;
    await pmi.put('card', value);
    await pmi.barrier();
    expect(await pmi.get('card')).toBe(value);
    expect(await pmi.get('PMI_process_mapping')).toBe('(vector,(0,1,1))');
    const missing = pmi.get('missing');
    await expect(missing).rejects.toMatchObject({ errno: ENOENT });
    await expect(missing).rejects.toThrow(/missing.*rc=4/);
    const closed = new Promise((resolve) => sock.on('close', resolve));
    await pmi.finalize();
    await closed;
    expect(await errnoOf(pmi.get('card'))).toBe(EINVAL);
    server.close();
  });

  it('checks keys and values against get_maxes before sending', async () => {
    const { server, pmi } = await clientAndServer();
    const refused = [
      pmi.put('k'.repeat(64), 'v'),
      pmi.put('k', 'v'.repeat(1024)),
      pmi.put('k', 'é'.repeat(512)), // 1024 bytes in UTF-8
      pmi.put('k', 'two\nlines'),
      pmi.put('a b', 'v'),
      pmi.put('a=b', 'v'),
      pmi.put('', 'v'),
      pmi.get('x'.repeat(64)),
    ];
    for (const p of refused) expect(await errnoOf(p)).toBe(EINVAL);
    await pmi.put('k'.repeat(63), 'v'.repeat(1023));
    expect(await pmi.get('k'.repeat(63))).toBe('v'.repeat(1023));
    server.close();
  });

  it('keeps one request in flight and queues the rest', async () => {
    const [s, c] = await socketPair();
    const peer = rawPeer(s);
    const booting = pmiConnect(c, 0, 1);
    expect(await peer.next()).toBe('cmd=init pmi_version=1 pmi_subversion=1');
    peer.send('cmd=response_to_init rc=0 pmi_version=1 pmi_subversion=1');
    expect(await peer.next()).toBe('cmd=get_maxes');
    peer.send('cmd=maxes rc=0 kvsname_max=64 keylen_max=64 vallen_max=1024');
    expect(await peer.next()).toBe('cmd=get_my_kvsname');
    peer.send('cmd=my_kvsname rc=0 kvsname=-');
    const pmi = await booting;
    const gets = ['a', 'b', 'c'].map((k) => pmi.get(k));
    for (const k of ['a', 'b', 'c']) {
      expect(await peer.next()).toBe(`cmd=get kvsname=- key=${k}`);
      await tick();
      expect(peer.queued()).toBe(0);
      peer.send(`cmd=get_result rc=0 value=${k.toUpperCase()}`);
    }
    expect(await Promise.all(gets)).toEqual(['A', 'B', 'C']);
    c.destroy();
  });

  /** Boot a client against a scripted server: `answers` maps each request's cmd to the line to send back. */
  async function scripted(answers: Record<string, string>, opts: { debug?: boolean } = {}) {
    const [s, c] = await socketPair();
    const peer = rawPeer(s);
    const seen: string[] = [];
    void (async () => {
      for (;;) {
        const line = await peer.next().catch(() => undefined);
        if (line === undefined) return;
        seen.push(line);
        const answer = answers[parseLine(line).cmd];
        if (answer) peer.send(answer);
      }
    })();
    return { pmi: await pmiConnect(c, 1, 4, opts), seen, serverSock: s, sock: c };
  }

  // what Debian's mpich 4.0.2 hydra sends (captured): rc last or absent, msg=success, rc=-1 for a missing key
  const hydra402 = {
    init: 'cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0',
    get_maxes: 'cmd=maxes kvsname_max=256 keylen_max=64 vallen_max=1024',
    get_my_kvsname: 'cmd=my_kvsname kvsname=kvs_4407_0_1378994573_vm',
    put: 'cmd=put_result rc=0 msg=success',
    barrier_in: 'cmd=barrier_out',
    finalize: 'cmd=finalize_ack',
  };

  it('understands hydra 4.0 answers', async () => {
    const { pmi, seen } = await scripted({
      ...hydra402,
      get: 'cmd=get_result rc=-1 msg=key_nope_not_found value=unknown',
    });
    expect(pmi.kvsname).toBe('kvs_4407_0_1378994573_vm');
    await pmi.put('1', card(1));
    await pmi.barrier();
    const missing = pmi.get('nope');
    await expect(missing).rejects.toMatchObject({ errno: ENOENT });
    await expect(missing).rejects.toThrow('key_nope_not_found');
    await pmi.finalize();
    expect(seen).toContain(`cmd=put kvsname=kvs_4407_0_1378994573_vm key=1 value=${card(1)}`);
  });

  it('ignores the found=TRUE hydra 4.1/4.2 append to get answers', async () => {
    const { pmi } = await scripted({ ...hydra402, get: `cmd=get_result rc=0 msg=success value=${card(2)} found=TRUE` });
    expect(await pmi.get('2')).toBe(card(2));
  });

  it('turns rc != 0 into FluxErrors that carry msg=', async () => {
    const { pmi } = await scripted({
      ...hydra402,
      put: 'cmd=put_result rc=7 msg=value too long',
      barrier_in: 'cmd=barrier_out rc=-1',
    });
    const put = pmi.put('k', 'v');
    await expect(put).rejects.toMatchObject({ errno: EINVAL });
    await expect(put).rejects.toThrow('PMI put k failed: value too long (rc=7)');
    await expect(pmi.barrier()).rejects.toMatchObject({ errno: EIO });
  });

  it('fails the handshake when init is refused', async () => {
    const [s, c] = await socketPair();
    const peer = rawPeer(s);
    const booting = errnoOf(pmiConnect(c, 0, 1));
    await peer.next();
    peer.send('cmd=response_to_init rc=-1');
    expect(await booting).toBe(EPROTO);
    await peer.closed;
  });

  it('treats a wrong answer as a protocol error and closes', async () => {
    const { pmi, sock } = await scripted({ ...hydra402, get: 'cmd=put_result rc=0' });
    const closed = new Promise((resolve) => sock.on('close', resolve));
    expect(await errnoOf(pmi.get('k'))).toBe(EPROTO);
    await closed;
    expect(await errnoOf(pmi.barrier())).toBe(EPROTO);
  });

  it('fails pending and later requests when the server hangs up', async () => {
    const { pmi, serverSock } = await scripted(hydra402);
    const pending = errnoOf(pmi.get('never-answered'));
    const queued = errnoOf(pmi.get('queued'));
    await tick();
    serverSock.destroy();
    expect(await pending).toBe(ECONNRESET);
    expect(await queued).toBe(ECONNRESET);
    expect(await errnoOf(pmi.put('k', 'v'))).toBe(ECONNRESET);
  });

  it('sends abort at once, even behind a barrier that never ends, then closes', async () => {
    const { pmi, seen, sock } = await scripted({ ...hydra402, barrier_in: '' });
    const barrier = errnoOf(pmi.barrier());
    await tick();
    const closed = new Promise((resolve) => sock.on('close', resolve));
    await pmi.abort(5, 'boom:\nsecond line');
    await closed;
    await tick();
    expect(seen.slice(-2)).toEqual(['cmd=barrier_in', 'cmd=abort exitcode=5 error_msg=boom: second line']);
    expect(typeof (await barrier)).toBe('number');
  });

  it('traces every line to stderr when debug is set', async () => {
    const writes: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      writes.push(String(chunk));
      return true;
    });
    try {
      const { pmi } = await scripted(hydra402, { debug: true });
      await pmi.barrier();
    } finally {
      spy.mockRestore();
    }
    expect(writes).toEqual([
      'pmi[1]: C: cmd=init pmi_version=1 pmi_subversion=1\n',
      'pmi[1]: S: cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0\n',
      'pmi[1]: C: cmd=get_maxes\n',
      'pmi[1]: S: cmd=maxes kvsname_max=256 keylen_max=64 vallen_max=1024\n',
      'pmi[1]: C: cmd=get_my_kvsname\n',
      'pmi[1]: S: cmd=my_kvsname kvsname=kvs_4407_0_1378994573_vm\n',
      'pmi[1]: C: cmd=barrier_in\n',
      'pmi[1]: S: cmd=barrier_out\n',
    ]);
  });

  it('reads PMI_FD, PMI_RANK and PMI_SIZE strictly', async () => {
    expect(await pmiFromEnv({})).toBeNull();
    const cases: Array<[NodeJS.ProcessEnv, RegExp]> = [
      [{ PMI_FD: '999', PMI_SIZE: '2' }, /PMI_RANK is not/],
      [{ PMI_FD: '999', PMI_RANK: '0' }, /PMI_SIZE is not/],
      [{ PMI_FD: 'three', PMI_RANK: '0', PMI_SIZE: '1' }, /PMI_FD="three"/],
      [{ PMI_FD: '', PMI_RANK: '0', PMI_SIZE: '1' }, /PMI_FD=""/],
      [{ PMI_FD: '999', PMI_RANK: '-1', PMI_SIZE: '1' }, /PMI_RANK="-1"/],
      [{ PMI_FD: '999', PMI_RANK: '0', PMI_SIZE: '0' }, /PMI_SIZE="0"/],
      [{ PMI_FD: '999', PMI_RANK: '2', PMI_SIZE: '2' }, /PMI_RANK=2 is not below PMI_SIZE=2/],
      // nothing is open on fd 999 in the test worker
      [{ PMI_FD: '999', PMI_RANK: '0', PMI_SIZE: '2' }, /PMI_FD=999 cannot be used/],
    ];
    for (const [env, message] of cases) {
      const p = pmiFromEnv(env);
      await expect(p, JSON.stringify(env)).rejects.toMatchObject({ errno: EINVAL });
      await expect(p, JSON.stringify(env)).rejects.toThrow(message);
    }
  });
});

describe('PMI client and server across real child processes', () => {
  beforeAll(() => {
    if (!fs.existsSync(path.join(root, 'dist/transport/pmi-client.js'))) {
      throw new Error('dist/transport/pmi-client.js is missing: run `npx tsc -p .` before these tests');
    }
  });

  interface Child {
    code: number | null;
    stdout: string;
    stderr: string;
  }

  /** Spawn a probe as flux start spawns a broker: its fd 3 is one end of a socketpair the server holds. */
  function spawnProbe(server: PmiServer, rank: number, size: number, mode: string, env: NodeJS.ProcessEnv = {}) {
    const child = spawn(process.execPath, [probe, mode], {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env, PMI_FD: '3', PMI_RANK: String(rank), PMI_SIZE: String(size) },
    });
    server.attach(rank, child.stdio[3] as net.Socket);
    const out: Child = { code: null, stdout: '', stderr: '' };
    child.stdout!.on('data', (d) => (out.stdout += d));
    child.stderr!.on('data', (d) => (out.stderr += d));
    return new Promise<Child>((resolve) =>
      child.on('close', (code) => {
        out.code = code;
        resolve(out);
      }),
    );
  }

  it('4 ranks exchange JSON business cards through put/barrier/get', async () => {
    const size = 4;
    const server = new PmiServer({ size });
    const children = await Promise.all(
      Array.from({ length: size }, (_, rank) =>
        spawnProbe(server, rank, size, 'exchange', rank === 2 ? { PMI_PROBE_DEBUG: '1' } : {}),
      ),
    );
    server.close();
    const expected = Array.from({ length: size }, (_, r) => card(r));
    children.forEach((child, rank) => {
      expect(child.code, child.stdout + child.stderr).toBe(0);
      expect(JSON.parse(child.stdout)).toEqual({
        rank, size, kvsname: '-', cards: expected, mapping: '(vector,(0,1,4))', missing: ENOENT,
      });
    });
    expect(children[2]!.stderr).toContain(`pmi[2]: C: cmd=put kvsname=- key=2 value=${card(2)}\n`);
    expect(children[2]!.stderr).toContain('pmi[2]: S: cmd=barrier_out rc=0\n');
    expect(children[2]!.stderr).toContain('pmi[2]: S: cmd=finalize_ack rc=0\n');
    expect(children[1]!.stderr).toBe('');
  });

  it('a child sending garbage is hung up on; the server keeps serving the others', async () => {
    const logs: string[] = [];
    const server = new PmiServer({ size: 2, log: (l) => logs.push(l) });
    const [good, bad] = await Promise.all([spawnProbe(server, 0, 2, 'solo'), spawnProbe(server, 1, 2, 'garbage')]);
    server.close();
    expect(bad.code).toBe(0);
    expect(JSON.parse(bad.stdout)).toEqual({ rank: 1, hungup: true });
    expect(logs.join('\n')).toContain('pmi-server[1]: PMI protocol error');
    expect(good.code, good.stdout + good.stderr).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ rank: 0, cards: [card(0)], missing: ENOENT });
  });

  it('abort reaches onAbort with the child rank, code and message', async () => {
    const size = 2;
    let aborted: [number, number, string] | undefined;
    const kids: Array<Promise<Child>> = [];
    const server = new PmiServer({
      size,
      onAbort: (...a) => {
        aborted = a;
        server.close(); // what flux start does next: the waiting rank sees its PMI connection drop
      },
    });
    for (let rank = 0; rank < size; rank++) kids.push(spawnProbe(server, rank, size, 'abort'));
    const [waiter, aborter] = await Promise.all(kids);
    expect(aborted).toEqual([1, 42, 'probe gives up on purpose']);
    expect(aborter!.code).toBe(0);
    expect(waiter!.code).toBe(1);
    expect(JSON.parse(waiter!.stdout)).toMatchObject({ rank: 0, errno: ECONNRESET });
  });
});
