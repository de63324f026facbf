// Brokers on separate hosts: four network namespaces, each with its own address and hostname, on one bridge
// (test/netns/hosts.sh), one broker in each, booted from one config over TCP. Taking a host's link down makes
// its broker lost within the torpid bound and fails what was on its way to it with EHOSTUNREACH; bringing the
// link back and restarting the broker brings it back, its journal caught up. Needs root and iproute2.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flux } from '../../src/api/handle.js';
import { EHOSTUNREACH, type FluxError } from '../../src/core/errors.js';
import { FLUX, ROOT, run, until, type RunResult } from '../helpers/instance.js';

const SIZE = 4;
const HOSTS = join(ROOT, 'test', 'netns', 'hosts.sh');
const NET = `fx${process.pid}`;
let base: string;
let conf: string;
const brokers: Array<{ proc: ChildProcess; exited: Promise<void> } | undefined> = [];
const uri = (rank: number) => `local://${join(base, `run-${rank}`)}/local-${rank}`;
const at = (rank: number, args: string[]) => run(args, { env: { FLUX_URI: uri(rank) } });

function hosts(...args: string[]): void {
  const r = spawnSync(HOSTS, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`hosts.sh ${args.join(' ')}: ${r.stderr || r.error?.message}`);
}

function startBroker(rank: number): void {
  const env = { ...process.env };
  delete env.FLUX_FAKE_HOSTNAME;
  const proc = spawn(HOSTS, [
    'exec', NET, String(rank), `node${rank}`, process.execPath, FLUX, 'broker', `--config-path=${conf}`,
    '-Stbon.fanout=2', '-Stbon.torpid_max=3s', `-Srundir=${join(base, `run-${rank}`)}`,
  ], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  proc.stderr!.resume();
  brokers[rank] = { proc, exited: new Promise((r) => proc.on('close', () => r())) };
}

async function waitStatus(expected: string, ms = 30_000): Promise<void> {
  let last = '';
  await until(`overlay status ${expected}`, async () => {
    last = (await at(0, ['overlay', 'status', '--summary'])).stdout;
    return last === expected ? true : undefined;
  }, ms).catch((err: Error) => {
    throw new Error(`${err.message}; last: ${last}`);
  });
}

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'flux-netns-'));
  conf = join(base, 'system');
  mkdirSync(conf);
  const cert = join(base, 'curve.cert');
  expect((await run(['keygen', cert])).code).toBe(0);
  const entries = Array.from({ length: SIZE }, (_, i) => `  { host = "node${i}", connect = "tcp://10.77.0.${i + 1}:%p" },`);
  writeFileSync(join(conf, 'bootstrap.toml'), [
    '[bootstrap]', `curve_cert = "${cert}"`, 'default_port = 8050', 'default_bind = "tcp://eth0:%p"',
    'hosts = [', ...entries, ']', '',
  ].join('\n'));
  hosts('up', NET, String(SIZE));
  for (let r = 0; r < SIZE; r++) startBroker(r);
  await until('rank 0 up', async () => ((await at(0, ['getattr', 'size'])).code === 0 ? true : undefined), 30_000);
  await waitStatus('0 node0: full\n');
}, 60_000);

afterAll(() => {
  hosts('down', NET, String(SIZE));
  rmSync(base, { recursive: true, force: true });
});

describe('an instance across four network namespaces', () => {
  it('forms over TCP, each broker on its own host and address', async () => {
    expect((await at(0, ['overlay', 'status'])).stdout).toBe('0 node0: full\n├─ 1 node1: full\n│  └─ 3 node3: full\n└─ 2 node2: full\n');
    expect((await at(0, ['getattr', 'hostlist'])).stdout).toBe('node[0-3]\n');
    expect((await at(1, ['getattr', 'tbon.endpoint'])).stdout).toBe('tcp://10.77.0.2:8050\n');
    expect((await at(3, ['getattr', 'tbon.parent-endpoint'])).stdout).toBe('tcp://10.77.0.2:8050\n');
  });

  it('answers pings and KVS reads on every rank', async () => {
    for (let r = 1; r < SIZE; r++) {
      const ping = await at(0, ['ping', '-c', '1', String(r)]);
      expect(ping.code, ping.stderr).toBe(0);
      expect(ping.stdout).toMatch(new RegExp(`^${r}!broker\\.ping pad=0 seq=0 time=`, 'm'));
    }
    expect((await at(3, ['kvs', 'put', 'net.key=across']).then((r: RunResult) => r.code))).toBe(0);
    for (let r = 0; r < SIZE; r++) expect((await at(r, ['kvs', 'get', 'net.key'])).stdout).toBe('across\n');
  });

  it('loses a broker whose link goes down, fails requests on their way to it, and takes it back after', async () => {
    hosts('link', NET, '3', 'down');
    // on its way to rank 3 when the link went: it waits in rank 1 until rank 3 is found lost
    const h = await Flux.open(uri(0));
    const ping = h.rpc('broker.ping', { seq: 0, pad: '' }, { nodeid: 3 }).then(() => undefined, (err: FluxError) => err);
    // torpid_max is 3s here (30s by default): lost well within this
    await waitStatus('0 node0: degraded\n', 15_000);
    expect((await at(0, ['overlay', 'status'])).stdout).toBe('0 node0: degraded\n├─ 1 node1: degraded\n│  └─ 3 node3: lost\n└─ 2 node2: full\n');
    const failed = await ping;
    h.close();
    expect(failed?.errno).toBe(EHOSTUNREACH);
    expect(failed?.message).toBe('overlay disconnect');
    expect((await at(0, ['kvs', 'put', 'net.missed=during-outage'])).code).toBe(0);

    hosts('link', NET, '3', 'up');
    // the cut-off broker leaves (its parent went silent, or told it to go once it was heard again)
    await brokers[3]!.exited;
    startBroker(3);
    await waitStatus('0 node0: full\n');
    expect((await at(3, ['kvs', 'get', 'net.missed'])).stdout).toBe('during-outage\n');
    const head = (rank: number) => at(rank, ['journal', 'head']).then((r: RunResult) => r.stdout.replace(/ rank=\d+\n$/, ''));
    expect(await head(3)).toMatch(/^seq=\d+ ref=sha256-/);
    expect(await head(3)).toBe(await head(0));
  }, 60_000);
});
