// Launching an instance from this node: the brokers are child processes of the caller, which is their PMI-1
// server (flux start --size N); or one rank of a job that a real process manager launched.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, chmodSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir, freemem, constants } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Duplex } from 'node:stream';
import { PmiServer } from '../transport/pmi-server.js';
import { FluxError, EINVAL } from '../core/errors.js';
import { brokerLaunchEnv } from '../core/launch-env.js';
import { HWLOC_XMLFILE_ENV, LSTOPO, SHARED_TOPOLOGY_FILE, runDiscovery } from '../core/resource/discovery.js';

/** the flux launcher script: run with this node, it dispatches to the command bundles of dist/cli */
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'flux');
const osSignals = constants.signals as Record<string, number>;

export interface LocalInstanceOptions {
  size: number;
  brokerArgs: string[];
  command: string[];
  /** use this rundir and keep it afterwards */
  rundir?: string;
  /** after rank 0 exits, how long the others may take before they are killed */
  exitTimeoutMs: number;
  /** any broker exiting non-zero ends the instance (flux-core's --test-exit-mode=any) */
  exitOnAny: boolean;
  verbose: number;
}

/** Under a process manager this process is one rank: the broker inherits the PMI descriptor. */
export function runUnderLauncher(brokerArgs: string[], command: string[]): Promise<number> {
  const fd = Number(process.env.PMI_FD);
  const stdio: StdioOptions = ['inherit', 'inherit', 'inherit'];
  for (let i = 3; i <= fd; i++) stdio.push(i === fd ? fd : 'ignore');
  const child = spawn(process.execPath, [CLI, 'broker', ...brokerArgs, '--', ...command], { stdio, env: brokerLaunchEnv(process.env) });
  ignoreInterrupts();
  // flux-core's flux start becomes its broker (exec); this process stands in for it until the broker has ended. A
  // signal to end is the broker's to act on: it shuts down and cleans up, and this process ends after it, so that
  // whoever ends a process group once its leader is gone (the job shell) does not cut the broker's shutdown short.
  for (const sig of ['SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  return new Promise((resolve) => child.on('exit', (code, sig) => resolve(code ?? 128 + signo(sig))));
}

/** about what one broker process takes: the measure of how many this machine can hold */
const BROKER_BYTES = 80 * 1024 * 1024;

/** how many brokers the memory now free could hold */
export function localCapacity(): number {
  return Math.floor(freemem() / BROKER_BYTES);
}

export async function runLocal(opts: LocalInstanceOptions): Promise<number> {
  const { size, brokerArgs, command, exitTimeoutMs, exitOnAny, verbose } = opts;
  const capacity = localCapacity();
  if (size > capacity) {
    throw new FluxError(EINVAL, `--size ${size}: this machine can hold about ${capacity} brokers `
      + `(each takes some ${BROKER_BYTES >> 20} MiB of memory; ${(freemem() / 2 ** 30).toFixed(1)} GiB is free)`);
  }
  const testRundir = opts.rundir;
  let rundir: string;
  if (testRundir !== undefined) {
    mkdirSync(testRundir, { recursive: true, mode: 0o700 });
    chmodSync(testRundir, 0o700);
    rundir = testRundir;
  } else {
    rundir = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), 'flux-'));
  }
  const topology = sharedTopology(size, rundir);
  const brokers: ChildProcess[] = [];
  const exited = new Array<boolean>(size).fill(false);
  /** the status of the broker whose failure ended the start-up: it is what flux start exits with */
  let failure: number | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  /** ranks this launcher has signalled: their end by a signal is no news */
  const signalled = new Set<number>();
  /** ranks gone before they started (their PMI connection closed unfinalized) */
  const lost = new Set<number>();
  /** the signal from outside that ended each rank that had not started */
  const endedBy = new Map<number, NodeJS.Signals>();
  const kill = (r: number, sig: NodeJS.Signals) => {
    signalled.add(r);
    brokers[r]!.kill(sig);
  };
  // a lost rank has ended, or is ending, on its own: what it dies of is its own to tell, and one that lingers is
  // killed once the exit timeout has passed
  const killAll = (sig: NodeJS.Signals) => {
    for (let r = 0; r < brokers.length; r++) if (!exited[r] && !lost.has(r)) kill(r, sig);
  };
  // a broker that cannot start says why and goes away: the others would only wait for it
  const startFailed = (status: number) => {
    failure ??= status;
    killAll('SIGKILL');
  };
  /** a broker ended by a signal from outside (the OOM killer, a crash, kill -9) has said nothing itself */
  const sayKilled = (rank: number, sig: NodeJS.Signals, started: boolean) => {
    const after = started ? '' : ' before it started: ending the instance';
    process.stderr.write(`flux-start: rank ${rank} (pid ${brokers[rank]!.pid}) was killed by ${sig}${after}\n`);
  };
  // One killed before it started ends the instance, and the line naming it is all that tells why. Told once both
  // are known, the lost connection and the exit, which come in either order.
  const tellKilled = (rank: number) => {
    const sig = endedBy.get(rank);
    if (sig !== undefined && lost.has(rank)) sayKilled(rank, sig, false);
  };
  const pmi = new PmiServer({
    size,
    debug: verbose >= 2,
    // the brokers start while the discovery runs, and read its file once past their first barrier
    barrierGate: topology.settled,
    onAbort: (rank, code, msg) => {
      process.stderr.write(`flux-start: rank ${rank} aborted (${code}): ${msg}\n`);
      startFailed(code === 0 ? 1 : code);
    },
    onLost: (rank) => {
      lost.add(rank);
      tellKilled(rank);
      startFailed(1);
      finishAll();
    },
  });
  ignoreInterrupts();
  const forward = (sig: NodeJS.Signals) => {
    killAll(sig);
    finishAll();
  };
  process.on('SIGTERM', forward);
  process.on('SIGHUP', forward);
  /** once the instance is ending, brokers still there after the exit timeout are killed */
  const finishAll = () => {
    if (killTimer) return;
    killTimer = setTimeout(() => {
      for (let r = 0; r < brokers.length; r++) {
        if (!exited[r]) {
          process.stderr.write(`flux-start: rank ${r} did not exit: killing it\n`);
          kill(r, 'SIGKILL');
        }
      }
    }, exitTimeoutMs);
  };

  const result = new Promise<number>((resolve) => {
    let leaderCode: number | undefined;
    const gone = (rank: number, status: number) => {
      if (exited[rank]) return;
      exited[rank] = true;
      if (verbose >= 1) process.stderr.write(`flux-start: rank ${rank} exited with ${status}\n`);
      if (rank === 0) leaderCode = status;
      if (rank === 0 || (exitOnAny && status !== 0)) {
        if (rank !== 0 && leaderCode === undefined) leaderCode = status;
        finishAll();
      }
      if (exited.every(Boolean)) {
        clearTimeout(killTimer);
        resolve(failure ?? leaderCode ?? status);
      }
    };
    const spawnFailed = (rank: number, err: Error) => {
      if (failure === undefined) process.stderr.write(`flux-start: rank ${rank}: ${err.message}\n`);
      startFailed(1);
    };
    for (let rank = 0; rank < size && failure === undefined; rank++) {
      const args = [CLI, 'broker', ...brokerArgs, `-Srundir=${rundir}`, '--', ...(rank === 0 ? command : [])];
      if (verbose >= 1) process.stderr.write(`flux-start: rank ${rank}: ${process.execPath} ${args.join(' ')}\n`);
      let child: ChildProcess;
      try {
        child = spawn(process.execPath, args, {
          stdio: [rank === 0 ? 'inherit' : 'ignore', 'inherit', 'inherit', 'pipe'],
          env: { ...brokerLaunchEnv(process.env), ...topology.env, PMI_FD: '3', PMI_RANK: String(rank), PMI_SIZE: String(size) },
        });
      } catch (err) {
        spawnFailed(rank, err as Error);
        break;
      }
      brokers.push(child);
      // most spawn failures (EAGAIN: too many processes) come this way, after the loop has gone on
      child.on('error', (err) => {
        spawnFailed(rank, err);
        gone(rank, 1);
      });
      child.on('exit', (code, sig) => {
        if (sig !== null && !signalled.has(rank)) {
          if (pmi.finalized(rank)) {
            sayKilled(rank, sig, true);
          } else {
            endedBy.set(rank, sig);
            tellKilled(rank);
          }
        }
        gone(rank, code ?? 128 + signo(sig));
      });
      const channel = child.stdio[3] as Duplex | null;
      if (child.pid !== undefined && channel) pmi.attach(rank, channel);
    }
    // ranks never spawned (a spawn failed) will not exit: count them gone
    for (let rank = brokers.length; rank < size; rank++) gone(rank, failure ?? 1);
  });
  const code = await result;
  process.off('SIGTERM', forward);
  process.off('SIGHUP', forward);
  pmi.close();
  // an instance that ended before the discovery did (a broker that could not start) must not get the file after
  await topology.settled;
  if (testRundir === undefined) rmSync(rundir, { recursive: true, force: true });
  else rmSync(join(rundir, SHARED_TOPOLOGY_FILE), { force: true });
  return code;
}

/** how long the one discovery for all brokers may take before each broker is left to discover for itself */
const SHARED_DISCOVERY_TIMEOUT_MS = 10_000;

/**
 * The brokers of one host share one discovery: run once here and written to the rundir, it is what each reads
 * (FLUX_HWLOC_XMLFILE) in place of running lstopo. It runs while the brokers start (lstopo took ~30 ms of every
 * start before the first broker was spawned, measured), and `settled` holds their first PMI barrier until the file
 * is written or the discovery has failed: a broker that then finds no file discovers for itself, and says why in
 * its log if that fails too. A topology the caller names already, or a single broker, is handed nothing.
 */
function sharedTopology(size: number, rundir: string): { env: NodeJS.ProcessEnv; settled?: Promise<void> } {
  if (size < 2 || process.env[HWLOC_XMLFILE_ENV]) return { env: {} };
  const path = join(rundir, SHARED_TOPOLOGY_FILE);
  // a discovery that fails, or a file that cannot be written, leaves each broker to discover, and to tell its own
  // failure
  const settled = runDiscovery(LSTOPO, { timeoutMs: SHARED_DISCOVERY_TIMEOUT_MS })
    .then(({ xml }) => {
      // whole or not at all, for a broker that reads it without waiting on the barrier (booted from a config)
      writeFileSync(`${path}.new`, xml, { mode: 0o600 });
      renameSync(`${path}.new`, path);
    })
    .catch(() => undefined);
  return { env: { [HWLOC_XMLFILE_ENV]: path }, settled };
}

/** Ctrl-C belongs to the initial program; the instance ends when it does. */
function ignoreInterrupts(): void {
  process.on('SIGINT', () => {});
}

function signo(sig: NodeJS.Signals | null): number {
  return sig ? (osSignals[sig] ?? 0) : 0;
}
