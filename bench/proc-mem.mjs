// Resident memory of processes, from Linux /proc: RSS as `ps` shows it, and the part of it no other process
// shares (private pages: the heap, stacks, written data). A node process's RSS is mostly the node binary's own
// pages, shared by every node process on the machine; the private part is what one more broker really costs.
import { readFileSync, realpathSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { brokerPids, brokerRank } from './proc-cpu.mjs';

const MIB = 1024;
/** the node binary as /proc/PID/smaps names it */
const NODE_EXE = realpathSync(process.execPath);

function kib(text, field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** {rss, private} of a process, MiB */
export function memOf(pid) {
  const roll = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return { rss: kib(roll, 'Rss') / MIB, private: (kib(roll, 'Private_Clean') + kib(roll, 'Private_Dirty')) / MIB };
}

/**
 * MiB of the node binary's executable code resident in a process. V8's optimizing compiler is ~3.3 MiB of it,
 * touched the first time the process optimizes a function (a broker does once some function has run hot, idle
 * or not: measured), so this says whether a figure was read before or after that.
 */
export function nodeTextOf(pid) {
  let inText = false;
  let total = 0;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) inText = head[1] === 'r-xp' && head[2] === NODE_EXE;
    else if (inText && line.startsWith('Rss:')) total += Number(/(\d+)/.exec(line)[1]);
  }
  return total / MIB;
}

/** an instance's brokers by rank (PMI_RANK in their environment), each with its memory */
export function brokerMem(rundir) {
  return brokerPids(rundir).map((pid) => {
    return { rank: brokerRank(pid), pid, ...memOf(pid), nodeText: nodeTextOf(pid) };
  }).sort((a, b) => a.rank - b.rank);
}

/**
 * The RSS a node process has after running `code` and waiting `settleMs`: `node` itself, or with one package
 * loaded, or one module of this project. `code` is an ES module's text, or with `inputType` 'commonjs' a script's,
 * as bin/flux and the brokers run (Node's ES module loader costs a process ~2 MiB more than a script); `env` the
 * process's environment.
 */
export function rssAfter(code, { settleMs = 500, inputType = 'module', env = process.env } = {}) {
  const fs = inputType === 'module' ? "async () => { const { readFileSync } = await import('node:fs');" : "() => { const { readFileSync } = require('node:fs');";
  const probe = `${code};\nsetTimeout(${fs} const r = readFileSync('/proc/self/smaps_rollup', 'utf8');`
    + ` process.stdout.write(String(/^Rss:\\s+(\\d+)/m.exec(r)[1])); }, ${settleMs});`;
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [`--input-type=${inputType}`, '-e', probe], { stdio: ['ignore', 'pipe', 'inherit'], env });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('close', (code) => (code === 0 ? resolve(Number(out) / MIB) : reject(new Error(`probe exited ${code}`))));
  });
}
