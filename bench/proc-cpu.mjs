// CPU time beside wall time: on a shared, loaded machine a process waits for a core far longer than it runs, so
// the CPU a command and the brokers spend on it says more about its cost than its wall time does. Linux /proc.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

const TICK = 100; // USER_HZ: /proc's clock ticks per second on Linux

/** the pids of an instance's brokers, by the rundir on their command line */
export function brokerPids(rundir) {
  const pids = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let cmd;
    try {
      cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (cmd.includes('broker') && cmd.some((a) => a.includes(rundir))) pids.push(Number(d));
  }
  return pids;
}

/** a broker's rank: PMI_RANK in its environment (rank 0 of a size-1 instance may have none) */
export function brokerRank(pid) {
  return Number(/(?:^|\0)PMI_RANK=(\d+)/.exec(readFileSync(`/proc/${pid}/environ`, 'utf8'))?.[1] ?? 0);
}

/** a process's /proc stat fields after its name: field n of proc(5) is [n - 3] */
function statFields(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** user + system CPU seconds a process has used so far */
export function cpuSeconds(pid) {
  const f = statFields(pid);
  return (Number(f[11]) + Number(f[12])) / TICK;
}

/**
 * the minor page faults a process has taken so far: memory it touched for the first time, each a trip through
 * the kernel (and, on a virtual machine, the hypervisor) that CPU time alone does not show apart
 */
export function minorFaults(pid) {
  return Number(statFields(pid)[7]);
}

/**
 * CPU seconds a process's main thread has run, to the nanosecond (schedstat): where one broker's own work is
 * done, without its helper threads, and fine enough for a single request
 */
export function mainThreadSeconds(pid) {
  return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e9;
}

/** CPU seconds of all the given processes together */
export const totalCpu = (pids) => pids.reduce((s, p) => s + cpuSeconds(p), 0);

/** run a command to completion: its wall ms, and its own CPU ms (user + system, from its rusage) */
export function timeProcessCpu(cmd, args, env = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn('/usr/bin/time', ['-f', '%U %S', cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e6;
      const last = err.trim().split('\n').pop() ?? '';
      const m = /^([\d.]+) ([\d.]+)$/.exec(last);
      if (code !== 0 || !m) reject(new Error(`${cmd} ${args.slice(0, 3).join(' ')}... exited ${code}: ${err.slice(-500)}`));
      else resolve({ wall, cpu: (Number(m[1]) + Number(m[2])) * 1000 });
    });
  });
}
