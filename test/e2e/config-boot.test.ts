// A system instance booted from a shared config file, with no launcher: four brokers on one machine, each
// believing it is another host (FLUX_FAKE_HOSTNAME), joined over TCP and authenticated by one certificate
// made with `flux keygen`. Brokers start in any order, are lost when killed, and rejoin when restarted.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { FLUX, run, until, type RunResult } from '../helpers/instance.js';

const SIZE = 4;
let base: string;
let conf: string;
const brokers: Array<ChildProcess | undefined> = [];
const uri = (rank: number) => `local://${join(base, `run-${rank}`)}/local-${rank}`;
const at = (rank: number, args: string[]) => run(args, { env: { FLUX_URI: uri(rank) } });

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function writeConfig(dir: string, cert: string, ports: number[]): void {
  mkdirSync(dir, { recursive: true });
  const hosts = ports.map((p, i) => `  { host = "fake${i}", bind = "tcp://127.0.0.1:${p}", connect = "tcp://127.0.0.1:${p}" },`);
  writeFileSync(join(dir, 'bootstrap.toml'), `[bootstrap]\ncurve_cert = "${cert}"\nhosts = [\n${hosts.join('\n')}\n]\n`);
}

function startBroker(rank: number, configDir = conf, host = `fake${rank}`): ChildProcess {
  const child = spawn(process.execPath, [
    FLUX, 'broker', `--config-path=${configDir}`, '-Stbon.fanout=2', '-Stbon.torpid_max=3s', `-Srundir=${join(base, `run-${rank}`)}`,
  ], { env: { ...process.env, FLUX_FAKE_HOSTNAME: host }, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.resume();
  return child;
}

const statusOf = async (rank: number, args: string[] = []) => (await at(rank, ['overlay', 'status', ...args])).stdout;

async function waitStatus(expected: string): Promise<void> {
  let last = '';
  await until(`overlay status ${expected}`, async () => {
    last = await statusOf(0, ['--summary']);
    return last === expected ? true : undefined;
  }, 30_000).catch((err: Error) => {
    throw new Error(`${err.message}; last: ${last}`);
  });
}

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'flux-cfg-'));
  conf = join(base, 'system');
  const cert = join(base, 'curve.cert');
  const kg = await run(['keygen', cert]);
  expect(kg.code, kg.stderr).toBe(0);
  writeConfig(conf, cert, await freePorts(SIZE));
  // rank 3 comes late: its parent must take it whenever it shows up
  for (let r = 0; r < SIZE - 1; r++) brokers[r] = startBroker(r);
  await until('rank 0 up', async () => ((await at(0, ['getattr', 'size'])).code === 0 ? true : undefined), 30_000);
  await waitStatus('0 fake0: partial\n');
  brokers[3] = startBroker(3);
  await waitStatus('0 fake0: full\n');
}, 60_000);

afterAll(() => {
  for (const b of brokers) b?.kill('SIGKILL');
  rmSync(base, { recursive: true, force: true });
});

describe('flux keygen', () => {
  it('writes a certificate only its owner can read, with both keys, and will not overwrite one', async () => {
    const cert = join(base, 'curve.cert');
    expect(statSync(cert).mode & 0o777).toBe(0o600);
    const text = readFileSync(cert, 'utf8');
    expect(text).toMatch(/^metadata\n/m);
    expect(text).toMatch(/^curve\n {4}public-key = "[0-9A-Za-z.\-:+=^!/*?&<>()[\]{}@%$#]{40}"\n {4}secret-key = "[^"]{40}"\n/m);
    const again = await run(['keygen', cert]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^flux-keygen: .*curve\.cert.*\n$/);
  });
});

describe('an instance booted from a config file', () => {
  it('forms a tree of the configured hosts, with the fanout asked for', async () => {
    expect(await statusOf(0)).toBe('0 fake0: full\n├─ 1 fake1: full\n│  └─ 3 fake3: full\n└─ 2 fake2: full\n');
    expect((await at(2, ['getattr', 'broker.boot-method'])).stdout).toBe('config\n');
    expect((await at(0, ['getattr', 'hostlist'])).stdout).toBe('fake[0-3]\n');
    expect((await at(3, ['overlay', 'parentof', '3'])).stdout).toBe('1\n');
    expect((await at(0, ['overlay', 'lookup', 'fake[1,3]'])).stdout).toBe('1,3\n');
    expect((await at(0, ['overlay', 'lookup', '2-3'])).stdout).toBe('fake[2-3]\n');
  });

  it('routes pings and KVS reads to and from every rank', async () => {
    const ping = await at(3, ['ping', '-c', '1', '0']);
    expect(ping.code, ping.stderr).toBe(0);
    expect(ping.stdout).toMatch(/^0!broker\.ping pad=0 seq=0 time=/m);
    const put = await at(2, ['kvs', 'put', 'cfg.key=over-tcp']);
    expect(put.code, put.stderr).toBe(0);
    for (let r = 0; r < SIZE; r++) expect((await at(r, ['kvs', 'get', 'cfg.key'])).stdout).toBe('over-tcp\n');
  });

  it('marks a killed broker lost, and takes it back with the journal caught up when it restarts', async () => {
    brokers[3]!.kill('SIGKILL');
    await waitStatus('0 fake0: degraded\n');
    expect(await statusOf(0)).toBe('0 fake0: degraded\n├─ 1 fake1: degraded\n│  └─ 3 fake3: lost\n└─ 2 fake2: full\n');
    expect((await at(0, ['overlay', 'errors'])).stdout).toMatch(/^fake3: /);
    // rank 1 told rank 0 that rank 3 is down: the scheduler leaves it alone until it is back
    expect((await at(0, ['resource', 'list'])).stdout).toMatch(/\n      down      1 /);
    const put = await at(0, ['kvs', 'put', 'cfg.missed=while-down']);
    expect(put.code, put.stderr).toBe(0);
    brokers[3] = startBroker(3);
    await waitStatus('0 fake0: full\n');
    await until('rank 3 up again', async () => (/\n      down      0 /.test((await at(0, ['resource', 'list'])).stdout) ? true : undefined));
    expect((await at(3, ['kvs', 'get', 'cfg.missed'])).stdout).toBe('while-down\n');
    const head = (rank: number) => at(rank, ['journal', 'head']).then((r: RunResult) => r.stdout.replace(/ rank=\d+\n$/, ''));
    expect(await head(3)).toMatch(/^seq=\d+ ref=sha256-/);
    expect(await head(3)).toBe(await head(0));
  }, 60_000);

  it('refuses a broker holding another instance\'s certificate, and logs it', async () => {
    const other = join(base, 'other');
    mkdirSync(other);
    const cert = join(other, 'curve.cert');
    expect((await run(['keygen', cert])).code).toBe(0);
    const ports = readFileSync(join(conf, 'bootstrap.toml'), 'utf8').match(/127\.0\.0\.1:\d+/g)!.filter((_, i) => i % 2 === 0);
    writeConfig(join(other, 'conf'), cert, ports.map((p) => Number(p.split(':')[1])));
    brokers[3]!.kill('SIGKILL');
    await waitStatus('0 fake0: degraded\n');
    const impostor = startBroker(3, join(other, 'conf'));
    try {
      await until('the refusal in rank 1\'s log', async () => {
        const log = (await at(1, ['dmesg'])).stdout;
        return /overlay peer .*refused: CURVE handshake failed/.test(log) ? true : undefined;
      });
      expect(await statusOf(0, ['--summary'])).toBe('0 fake0: degraded\n');
    } finally {
      impostor.kill('SIGKILL');
    }
    brokers[3] = startBroker(3);
    await waitStatus('0 fake0: full\n');
  }, 60_000);
});

describe('a broker told to stop before it has joined', () => {
  it('ends at once with the shutdown\'s status while its parent has not come: the join gives way to it', async () => {
    const dir = join(base, 'alone');
    writeConfig(dir, join(base, 'curve.cert'), await freePorts(2));
    // rank 1 of two, whose parent (rank 0) never starts: its hello is never answered
    const rundir = join(base, 'alone-run');
    const child = spawn(process.execPath, [FLUX, 'broker', `--config-path=${dir}`, '-Stbon.fanout=2', `-Srundir=${rundir}`], {
      env: { ...process.env, FLUX_FAKE_HOSTNAME: 'fake1' }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const uri = `local://${rundir}/local-1`;
    // it answers on its socket while it waits for its parent
    await until('rank 1 answering', async () => ((await run(['lsattr'], { env: { FLUX_URI: uri } })).stdout.includes('tbon.fanout') ? true : undefined), 30_000);
    // a hang-up ends a broker with 129: a broker that handled it, and whose exit is its shutdown's
    child.kill('SIGHUP');
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running'), 10_000).unref())]);
    child.kill('SIGKILL');
    expect(code).toBe(129);
    expect(stderr).toBe('');
    expect(existsSync(join(rundir, 'local-1'))).toBe(false);
  }, 30_000);
});

describe('a host that comes after rank 0 has gathered the resources', () => {
  it('is asked for its resources when it joins, and scheduled', async () => {
    const dir = join(base, 'late');
    writeConfig(dir, join(base, 'curve.cert'), await freePorts(2));
    const spawnRank = (rank: number) => spawn(process.execPath, [
      FLUX, 'broker', `--config-path=${dir}`, `-Srundir=${join(base, `late-run-${rank}`)}`,
    ], { env: { ...process.env, FLUX_FAKE_HOSTNAME: `fake${rank}` }, stdio: ['ignore', 'ignore', 'ignore'] });
    const late = (rank: number, args: string[]) => run(args, {
      env: { FLUX_URI: `local://${join(base, `late-run-${rank}`)}/local-${rank}`, PATH: `${dirname(FLUX)}:${process.env.PATH ?? ''}` },
      timeoutMs: 30_000,
    });
    const zero = spawnRank(0);
    let one: ChildProcess | undefined;
    try {
      // the job manager's gather at rank 0's start waits 30 s for rank 1, then goes on without it
      await until('rank 0 gathering without rank 1', async () => {
        const log = (await late(0, ['dmesg'])).stdout;
        return /no topology from rank 1 within 30s/.test(log) ? true : undefined;
      }, 60_000);
      // a rank the gather gave up on is not waited for again while it is down: the listing answers at once
      const without = await run(['resource', 'list', '-n', '-o', '{state} {nnodes}'], {
        env: { FLUX_URI: `local://${join(base, 'late-run-0')}/local-0` }, timeoutMs: 10_000,
      });
      expect(without, without.stderr).toMatchObject({ code: 0 });
      expect(without.stdout.split('\n')[0]).toBe('free 1');
      one = spawnRank(1);
      await until('rank 1 joined', async () => ((await late(0, ['overlay', 'status', '--summary'])).stdout === '0 fake0: full\n' ? true : undefined), 30_000);
      const r = await late(0, ['run', '-N', '2', '-l', 'sh', '-c', 'flux getattr rank']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.split('\n').filter((l) => l !== '').sort()).toEqual(['0: 0', '1: 1']);
      expect((await late(0, ['resource', 'list', '-n', '-o', '{state} {nnodes}'])).stdout.split('\n')[0]).toBe('free 2');
    } finally {
      zero.kill('SIGKILL');
      one?.kill('SIGKILL');
    }
  }, 120_000);
});

describe('a bad config', () => {
  const broker = (dir: string, host: string): Promise<RunResult & { ms: number }> => {
    const start = Date.now();
    return run(['broker', `--config-path=${dir}`], { env: { FLUX_FAKE_HOSTNAME: host, TMPDIR: join(base, 'tmp') } })
      .then((r) => ({ ...r, ms: Date.now() - start }));
  };

  beforeAll(() => mkdirSync(join(base, 'tmp')));

  it('naming no entry for this host: one line, at once, nothing left behind', async () => {
    const r = await broker(conf, 'elsewhere');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`flux-broker: ${conf}: bootstrap.hosts: this host (elsewhere) is not listed\n`);
    expect(r.ms).toBeLessThan(5000);
    expect(readdirSync(join(base, 'tmp'))).toEqual([]);
  });

  it('with a wrong key or bad TOML: one line naming the file and the key', async () => {
    const dir = join(base, 'bad');
    mkdirSync(dir);
    writeFileSync(join(dir, 'boot.toml'), '[bootstrap]\ndefault_port = "eighty"\nhosts = [ { host = "fake0" } ]\n');
    const r = await broker(dir, 'fake0');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`flux-broker: ${dir}: bootstrap.default_port: must be a port number\n`);
    writeFileSync(join(dir, 'boot.toml'), '[bootstrap\n');
    const t = await broker(dir, 'fake0');
    expect(t.code).toBe(1);
    expect(t.stderr.split('\n')).toHaveLength(2);
    expect(t.stderr).toMatch(/^flux-broker: .*boot\.toml/);
    expect(existsSync(join(base, 'tmp')) && readdirSync(join(base, 'tmp'))).toEqual([]);
  });
});
