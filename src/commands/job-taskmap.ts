// flux job taskmap and flux job timeleft: where a job's tasks run (its exec eventlog's shell.start, RFC 34), and
// how long it has left to run.
import type { Flux } from '../api/handle.js';
import { info, lookup, watchEventlog } from '../api/jobs.js';
import { FluxError, EINVAL } from '../core/errors.js';
import { encodeFluid, parseJobId } from '../core/jobs/fluid.js';
import { type Block, multilineTaskmap, parseTaskmap, pmiMapping, rawTaskmap, tasksByNode, nodeOfTask } from '../core/jobs/rfc34.js';
import { STATE_CLEANUP, STATE_INACTIVE, STATE_RUNNING } from '../core/jobs/state.js';
import { formatIdset } from '../core/resource/idset.js';
import { decodeR, nodelist } from '../core/resource/rset.js';
import { expandHostlist } from '../core/resource/hostlist.js';
import { formatDuration } from '../core/time/fsd.js';

export interface TaskmapOpts {
  taskids?: string;
  ntasks?: string;
  nodeid?: string;
  hostname?: string;
  to?: string;
}

/** a job's task map, once its shell.start has been posted */
async function jobTaskmap(h: Flux, id: number): Promise<Block[]> {
  let map: unknown;
  const w = watchEventlog(h, id, 'guest.exec.eventlog', (e) => {
    if (e.name !== 'shell.start') return true;
    map = e.context?.taskmap;
    return false;
  });
  await w.done;
  if (map === undefined) throw new FluxError(EINVAL, `job ${encodeFluid(id, 'f58')} ended without starting its tasks`);
  return parseTaskmap(map);
}

const index = (text: string, what: string) => {
  if (!/^\d+$/.test(text)) throw new FluxError(EINVAL, `invalid ${what}: ${text}`);
  return Number(text);
};

/** what flux job taskmap prints for a job id or a task map given as text, with at most one of the options */
export async function taskmap(h: () => Promise<Flux>, target: string, o: TaskmapOpts): Promise<string> {
  const chosen = (['taskids', 'ntasks', 'nodeid', 'hostname', 'to'] as const).filter((k) => o[k] !== undefined);
  if (chosen.length > 1) throw new FluxError(EINVAL, 'only one of --taskids, --ntasks, --nodeid, --hostname and --to may be given');
  let id: number | undefined;
  try {
    id = parseJobId(target);
  } catch {
    id = undefined;
  }
  const blocks = id === undefined ? parseTaskmap(target) : await jobTaskmap(await h(), id);
  const byNode = tasksByNode(blocks);
  if (o.taskids !== undefined || o.ntasks !== undefined) {
    const node = index((o.taskids ?? o.ntasks)!, 'node id');
    const tasks = byNode.get(node);
    if (tasks === undefined) throw new FluxError(EINVAL, `node ${node} is not in the task map`);
    return `${o.taskids !== undefined ? formatIdset(tasks) : tasks.length}\n`;
  }
  if (o.nodeid !== undefined || o.hostname !== undefined) {
    const task = index((o.nodeid ?? o.hostname)!, 'task id');
    const node = nodeOfTask(blocks, task);
    if (node === undefined) throw new FluxError(EINVAL, `task ${task} is not in the task map`);
    if (o.nodeid !== undefined) return `${node}\n`;
    if (id === undefined) throw new FluxError(EINVAL, '--hostname needs a job id, whose resources name the hosts');
    const hosts = nodelist(decodeR(JSON.parse((await lookup(await h(), id, 'R')).toString('utf8'))));
    const name = hosts === undefined ? undefined : expandHostlist(hosts)[node];
    if (name === undefined) throw new FluxError(EINVAL, `the job's resources name no host for node ${node}`);
    return `${name}\n`;
  }
  switch (o.to) {
    case undefined: return `${JSON.stringify({ version: 1, map: blocks })}\n`;
    case 'raw': return `${rawTaskmap(blocks)}\n`;
    case 'pmi': return `${pmiMapping(blocks)}\n`;
    case 'multiline': return multilineTaskmap(blocks).map((l) => `${l}\n`).join('');
    default: throw new FluxError(EINVAL, `invalid --to=${o.to}: raw, pmi or multiline`);
  }
}

/** flux-core's answer for a job without a time limit: UINT_MAX */
const NO_LIMIT = 4294967295;

/** the whole seconds the job has left to run (0 once it has ended), as a duration with `human` */
export async function timeleft(h: Flux, target: string | undefined, human: boolean): Promise<string> {
  const text = target ?? process.env.FLUX_JOB_ID;
  if (text === undefined) throw new FluxError(EINVAL, 'not running in a job: give a job id');
  const job = await info(h, parseJobId(text));
  let left: number;
  if (job.state === STATE_INACTIVE || job.state === STATE_CLEANUP) left = 0;
  else if (!(job.state & STATE_RUNNING)) throw new FluxError(EINVAL, `job ${encodeFluid(job.id, 'f58')} has not started`);
  else if (!job.expiration) left = NO_LIMIT;
  else left = Math.max(0, Math.floor(job.expiration - Date.now() / 1000));
  if (!human) return `${left}\n`;
  return `${left === NO_LIMIT ? 'infinity' : formatDuration(left)}\n`;
}
