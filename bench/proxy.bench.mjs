// Issue 12 figures: `flux getattr size` as a whole command run through `flux proxy ssh://localhost/…` (ssh to a
// private sshd on this machine, flux relay on the far side) against the same command run locally, and what one
// RPC costs once the proxy is up. Needs root and openssh-server (the tests' sshd).
import { spawn } from 'node:child_process';
import { Flux } from '../dist/api/handle.js';
import { startSshd } from '../test/fixtures/sshd.mjs';
import { emit, median, percentile, startInstance, timeProcess, FLUX } from './lib.mjs';

const RUNS = Number(process.env.BENCH_PROXY_RUNS ?? 10);
const RPCS = Number(process.env.BENCH_PROXY_RPCS ?? 500);

async function times(args, env) {
  await timeProcess(process.execPath, args, env);
  const t = [];
  for (let i = 0; i < RUNS; i++) t.push(await timeProcess(process.execPath, args, env));
  return t;
}

/** median ms of `n` sequential broker.ping RPCs on a handle */
async function rpcMs(uri) {
  const h = await Flux.open(uri);
  const t = [];
  for (let i = 0; i < RPCS; i++) {
    const t0 = process.hrtime.bigint();
    await h.rpc('broker.ping', { seq: i });
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  h.close();
  return { median: median(t), p90: percentile(t, 0.9) };
}

const sshd = await startSshd();
const inst = await startInstance(1);
try {
  const ssh = { FLUX_SSH: sshd.ssh, FLUX_SSH_RCMD: FLUX };
  const remote = `ssh://localhost${inst.rundir}/local-0`;
  const getattr = [FLUX, 'getattr', 'size'];
  const local = median(await times(getattr, { FLUX_URI: inst.uri }));
  emit('getattr-size-local', local / 1000, 's', { runs: RUNS });
  for (const [name, args, env] of [
    ['getattr-size-proxy-ssh', [FLUX, 'proxy', remote, process.execPath, ...getattr], ssh],
    ['getattr-size-ssh-uri', getattr, { ...ssh, FLUX_URI: remote }],
    ['getattr-size-proxy-local', [FLUX, 'proxy', inst.uri, process.execPath, ...getattr], {}],
  ]) {
    const t = median(await times(args, env));
    emit(name, t / 1000, 's', { runs: RUNS, ratio_to_local: Number((t / local).toFixed(2)) });
  }

  // one proxy kept up: RPCs from a client of its socket, against the same client on the instance's own socket
  const proxy = spawn(process.execPath, [FLUX, 'proxy', remote, 'sh', '-c', 'echo "$FLUX_URI"; exec cat >/dev/null'], {
    env: { ...process.env, ...ssh }, stdio: ['pipe', 'pipe', 'inherit'],
  });
  const proxyUri = await new Promise((resolve, reject) => {
    let out = '';
    proxy.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    proxy.on('exit', (c) => reject(new Error(`flux proxy exited ${c}`)));
  });
  const direct = await rpcMs(inst.uri);
  const viaProxy = await rpcMs(proxyUri);
  proxy.stdin.end();
  await new Promise((r) => proxy.on('close', r));
  emit('ping-rpc-local', direct.median, 'ms', { p90: Number(direct.p90.toFixed(3)), rpcs: RPCS });
  emit('ping-rpc-proxy-ssh', viaProxy.median, 'ms', {
    p90: Number(viaProxy.p90.toFixed(3)), rpcs: RPCS, ratio_to_local: Number((viaProxy.median / direct.median).toFixed(2)),
  });
} finally {
  await inst.stop();
  await sshd.stop();
}
