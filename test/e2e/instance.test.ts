// Real instances: broker processes bootstrapped by flux start (or hydra), talked to over their real sockets.
import { describe, it, expect, afterAll } from 'vitest';
import { spawn, execFileSync } from 'node:child_process';
import net from 'node:net';
import { Dealer } from 'zeromq';
import { run, startInstance, FLUX, type Instance } from '../helpers/instance.js';
import { Flux } from '../../src/api/handle.js';
import { FluxError, EHOSTUNREACH, ENOSYS, EPROTO } from '../../src/core/errors.js';
import { generateKeypair } from '../../src/transport/keys.js';

async function pingRank(h: Flux, rank: number): Promise<Record<string, unknown>> {
  return h.call('broker.ping', { seq: 0, pad: '' }, { nodeid: rank });
}

describe('flux start', () => {
  it('runs the initial program in a size-1 instance and passes its output through', async () => {
    const r = await run(['start', '--size', '1', 'flux', 'getattr', 'size']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('1\n');
    expect(r.code).toBe(0);
  });

  it('exits with the initial program\'s status', async () => {
    const r = await run(['start', '--size', '2', 'sh', '-c', 'exit 7']);
    expect(r.code).toBe(7);
  });

  it('accepts flux-core\'s --test-size and -o,-S options', async () => {
    const r = await run(['start', '--test-size=3', '-o,-Stbon.fanout=1', 'flux', 'getattr', 'tbon.maxlevel']);
    expect(r.stdout).toBe('2\n');
    expect(r.code).toBe(0);
  });

  it('starts an interactive shell when no command is given; exit ends the instance', async () => {
    const r = await run(['start', '--size', '2'], {
      env: { SHELL: '/bin/sh' },
      input: 'flux getattr size\necho "uri=$FLUX_URI"\nexit 3\n',
    });
    expect(r.stdout).toMatch(/^2\nuri=local:\/\/\/.*\/local-0\n$/);
    expect(r.code).toBe(3);
  });

  it('reports a missing initial program like a shell would', async () => {
    const r = await run(['start', '--size', '1', 'no-such-command-xyz']);
    expect(r.code).toBe(127);
    expect(r.stderr).toContain('no-such-command-xyz');
  });
});

describe.each([
  [4, []],
  [8, ['-S', 'tbon.fanout=2']],
  [8, []],
])('an instance of size %i %j', (size, extra) => {
  let inst: Instance;
  let h: Flux;

  it('starts, and every rank answers broker.ping with its rank', async () => {
    inst = await startInstance(size, extra);
    h = await Flux.open(inst.uri);
    for (let r = 0; r < size; r++) {
      const resp = await pingRank(h, r);
      expect(resp.rank).toBe(r);
      // the route names each hop: client, then every broker down to the responder
      const fanout = extra.length > 0 ? 2 : 32;
      let depth = 0;
      for (let x = r; x > 0; x = Math.floor((x - 1) / fanout)) depth++;
      expect(String(resp.route).split('!')).toHaveLength(depth + 2);
    }
  });

  it('has the attributes flux-core users expect', async () => {
    const get = async (name: string) => String((await h.call('attr.get', { name })).value);
    expect(await get('size')).toBe(String(size));
    expect(await get('rank')).toBe('0');
    expect(await get('tbon.descendants')).toBe(String(size - 1));
    const hostlist = Array(size).fill(execFileSync('hostname').toString().trim()).join(',');
    expect(await get('hostlist')).toBe(hostlist);
    // the last rank reads the hostlist rank 0 publishes over PMI
    expect((await h.call('attr.get', { name: 'hostlist' }, { nodeid: size - 1 })).value).toBe(hostlist);
    expect(await get('local-uri')).toBe(inst.uri);
    await expect(h.call('attr.set', { name: 'size', value: '3' })).rejects.toMatchObject({ errno: 22 });
  });

  it('answers rank-addressed requests past the last rank with EHOSTUNREACH', async () => {
    await expect(pingRank(h, size)).rejects.toMatchObject({ errno: EHOSTUNREACH });
  });

  it('ends what a departed client left open on other ranks: <service>.disconnect follows its requests', async () => {
    const last = size - 1;
    const followers = async () => Number((await h.call('journal.stats-get', {}, { nodeid: last })).followers);
    const before = await followers();
    const client = await Flux.open(inst.uri);
    void client.stream('journal.follow', {}, { nodeid: last }, () => undefined).catch(() => undefined);
    let t0 = Date.now();
    while (await followers() === before && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    expect(await followers()).toBe(before + 1);
    client.close();
    t0 = Date.now();
    while (await followers() !== before && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    expect(await followers()).toBe(before);
  });

  it('shuts down cleanly when the initial program exits', async () => {
    h.close();
    expect(await inst.stop()).toBe(0);
  });
});

describe('failures and bad input', () => {
  let inst: Instance;
  afterAll(async () => {
    await inst?.stop();
  });

  it('fails requests to a killed leaf with EHOSTUNREACH within seconds while other ranks answer', async () => {
    inst = await startInstance(4);
    const leaf = await Flux.open(`local://${inst.rundir}/local-3`);
    const pid = Number((await leaf.call('attr.get', { name: 'broker.pid' })).value);
    leaf.close();
    const h = await Flux.open(inst.uri);
    expect((await pingRank(h, 3)).rank).toBe(3);
    process.kill(pid, 'SIGKILL');
    const t0 = Date.now();
    let err: unknown;
    for (;;) {
      try {
        await pingRank(h, 3);
      } catch (e) {
        err = e;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
      if (Date.now() - t0 > 5000) break;
    }
    expect(err).toBeInstanceOf(FluxError);
    expect((err as FluxError).errno).toBe(EHOSTUNREACH);
    expect((await pingRank(h, 2)).rank).toBe(2);
    h.close();
  });

  it('takes a stopped leaf for lost after tbon.torpid_max of silence', async () => {
    const quiet = await startInstance(3, ['-S', 'tbon.torpid_max=2s']);
    const leaf = await Flux.open(`local://${quiet.rundir}/local-2`);
    const pid = Number((await leaf.call('attr.get', { name: 'broker.pid' })).value);
    leaf.close();
    const h = await Flux.open(quiet.uri);
    process.kill(pid, 'SIGSTOP');
    try {
      const t0 = Date.now();
      let err: unknown;
      while (Date.now() - t0 < 8000) {
        const r = await Promise.race([pingRank(h, 2).catch((e: unknown) => e), new Promise((r) => setTimeout(r, 500, 'pending'))]);
        if (r instanceof FluxError) {
          err = r;
          break;
        }
      }
      expect(err).toBeInstanceOf(FluxError);
      expect((err as FluxError).errno).toBe(EHOSTUNREACH);
      expect((await pingRank(h, 1)).rank).toBe(1);
    } finally {
      process.kill(pid, 'SIGCONT');
      h.close();
      await quiet.stop();
    }
  });

  it('answers unknown topics with ENOSYS and malformed payloads with EPROTO, and survives garbage', async () => {
    const h = await Flux.open(inst.uri);
    await expect(h.rpc('nosuchservice.hello')).rejects.toMatchObject({
      errno: ENOSYS, message: 'No service matching nosuchservice.hello is registered',
    });
    await expect(h.rpc('attr.get', Buffer.from('[1,2]\0'))).rejects.toMatchObject({ errno: EPROTO });
    await expect(h.rpc('attr.get', Buffer.from('{"name":'))).rejects.toMatchObject({ errno: EPROTO });
    await expect(h.rpc('attr.get', { name: 5 })).rejects.toMatchObject({ errno: EPROTO });

    // garbage on the local socket: that connection is dropped, everyone else is served
    const path = inst.uri.replace('local://', '');
    await new Promise<void>((resolve) => {
      const s = net.connect(path);
      s.on('data', () => s.write(Buffer.from('9f3c51d2a70e48b6c1f55a29e08d73b4', 'hex')));
      s.on('close', () => resolve());
      s.on('error', () => resolve());
    });

    // garbage on the overlay: a peer without an authorized CURVE key gets nothing through
    const endpoint = String((await h.call('attr.get', { name: 'tbon.endpoint' })).value);
    const kp = generateKeypair();
    const other = generateKeypair();
    const d = new Dealer({ curveServerKey: other.publicKey, curvePublicKey: kp.publicKey, curveSecretKey: kp.secretKey, linger: 0 });
    d.connect(endpoint);
    await d.send([Buffer.from('garbage'), Buffer.alloc(3)]);
    await new Promise((r) => setTimeout(r, 200));
    d.close();

    expect((await pingRank(h, 0)).rank).toBe(0);
    expect((await pingRank(h, 2)).rank).toBe(2);
    h.close();
  });
});

describe('bootstrap under a real PMI-1 process manager', () => {
  it('mpiexec.hydra -n 4 flux start flux getattr size prints 4', async () => {
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const p = spawn('mpiexec.hydra', ['-launcher', 'fork', '-n', '4', FLUX, 'start', 'flux', 'getattr', 'size'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.on('error', reject);
      p.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(out.stderr).toBe('');
    expect(out.stdout).toBe('4\n');
    expect(out.code).toBe(0);
  });

  it('warns loudly when a launcher is present but PMI is not', async () => {
    // Slurm's own libraries would answer as a singleton: name ones that do not exist
    const r = await run(['broker', 'flux', 'getattr', 'size'], {
      env: { SLURM_JOB_ID: '1', PMI_LIBRARY: '/nonexistent/libpmi.so', PMI2_LIBRARY: '/nonexistent/libpmi2.so' },
    });
    expect(r.stderr).toMatch(/WARNING: SLURM_JOB_ID is set/);
    expect(r.stdout).toBe('1\n');
  });
});
