// flux ps: the process table of the whole instance (every process rexec ran, from the journal), now or as it
// was at a past journal seq.
import { readFileSync } from 'node:fs';
import { Flux } from '../api/handle.js';
import { FluxError, EINVAL } from '../core/errors.js';
import { parseIdset } from '../core/resource/idset.js';
import type { ProcRecord } from '../projections/proctable.js';
import { statusText } from './exec.js';
import { getAttr } from '../api/attrs.js';
import { ps } from '../api/exec.js';
import { program, parse } from './common.js';
import { type Past, type PastOpts, pastOf, pastOptions, stateAt } from './replay-at.js';

/** a process as rexec.ps answers it */
export interface PsRow {
  rank: number;
  pid: number;
  userid: number;
  state: 'running' | 'exited' | 'lost';
  cmd: string[];
  label?: string;
  cwd: string;
  started: number;
  ended?: number;
  status?: number;
}

export const psTime = (t: number) => `${new Date(Math.floor(t) * 1000).toISOString().slice(0, 19)}Z`;

export function headerLine(): string {
  return `${'OWNER'.padEnd(8)} ${'RANK'.padStart(5)} ${'PID'.padStart(8)}  ${'STATE'.padEnd(7)}  ${'STATUS'.padEnd(10)}  `
    + `${'STARTED'.padEnd(20)}  COMMAND\n`;
}

export function rowLine(r: PsRow, owner: string): string {
  const status = r.state === 'exited' && r.status !== undefined ? statusText(r.status) : '-';
  return `${owner.slice(0, 8).padEnd(8)} ${String(r.rank).padStart(5)} ${String(r.pid).padStart(8)}  ${r.state.padEnd(7)}  `
    + `${status.padEnd(10)}  ${psTime(r.started)}  ${r.cmd.join(' ')}\n`;
}

export function jsonLine(r: PsRow, owner: string): string {
  const o: Record<string, unknown> = { rank: r.rank, pid: r.pid, owner, userid: r.userid, state: r.state };
  if (r.status !== undefined) o.status = r.status;
  o.cmd = r.cmd;
  if (r.label !== undefined) o.label = r.label;
  o.cwd = r.cwd;
  o.started = r.started;
  if (r.ended !== undefined) o.ended = r.ended;
  return `${JSON.stringify(o)}\n`;
}

/** uid -> user name from /etc/passwd; the number when the name is not known */
export function ownerNames(passwd: string): (uid: number) => string {
  const names = new Map<number, string>();
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && /^\d+$/.test(f[2]!) && !names.has(Number(f[2]))) names.set(Number(f[2]), f[0]!);
  }
  return (uid) => names.get(uid) ?? String(uid);
}

/** a uid given as a number or a user name; EINVAL naming it when it is neither */
export function userOf(text: string, passwd: string): number {
  if (/^\d+$/.test(text)) return Number(text);
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === text && f.length >= 3) return Number(f[2]);
  }
  throw new FluxError(EINVAL, `Invalid user ${text}`);
}

export function readPasswd(): string {
  try {
    return readFileSync('/etc/passwd', 'utf8');
  } catch (err) {
    // names are a convenience: numeric owners are still right
    process.stderr.write(`flux-ps: /etc/passwd: ${(err as Error).message}\n`);
    return '';
  }
}

export function toRow(r: ProcRecord | PsRow): PsRow {
  const row: PsRow = {
    rank: r.rank, pid: r.pid, userid: r.userid, state: r.state, cmd: r.cmd, cwd: r.cwd, started: r.started,
  };
  if (r.label !== undefined) row.label = r.label;
  if (r.ended !== undefined) row.ended = r.ended;
  if (r.status !== undefined) row.status = r.status;
  return row;
}

/** the table at a past point of the journal, through the projection the brokers run */
async function tableAt(h: Flux, past: Past): Promise<PsRow[]> {
  const { proctableProjection, records } = await import('../projections/proctable.js');
  const { state } = await stateAt(h, past, proctableProjection);
  return records(state).map(toRow);
}

interface PsOpts extends PastOpts {
  rank?: string;
  all?: boolean;
  json?: boolean;
}

export async function run(args: string[]): Promise<number> {
  const p = program('ps', 'List the processes rexec runs on the ranks of the instance')
    .option('-r, --rank <idset>', 'only these ranks')
    .option('-a, --all', 'also list processes that have exited')
    .option('--json', 'one JSON object per process');
  pastOptions(p, 'the table');
  const code = parse(p, args);
  if (code !== undefined) return code;
  const o = p.opts<PsOpts>();
  const past = pastOf(o);
  const h = await Flux.open();
  try {
    let rows: PsRow[];
    let ranks: Set<number> | undefined;
    if (o.rank !== undefined) {
      const size = Number(await getAttr(h, 'size'));
      ranks = new Set(parseIdset(o.rank, size));
    }
    if (past !== undefined) {
      rows = (await tableAt(h, past)).filter((r) => (o.all || r.state === 'running') && (!ranks || ranks.has(r.rank)));
    } else {
      // rank 0's head first: whatever was acknowledged before this command is in the answer, on any rank
      rows = (await ps(h, { all: o.all, ranks: o.rank }) as unknown as PsRow[]).map(toRow);
    }
    const owner = rows.length > 0 ? ownerNames(readPasswd()) : String;
    if (o.json) process.stdout.write(rows.map((r) => jsonLine(r, owner(r.userid))).join(''));
    else process.stdout.write(headerLine() + rows.map((r) => rowLine(r, owner(r.userid))).join(''));
    return 0;
  } finally {
    h.close();
  }
}
