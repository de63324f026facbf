// RFC 34 task maps: which tasks of a job each node runs, as blocks {"version":1,"map":[[node, nnodes, ppn, repeat],…]}
// (`nnodes` nodes from `node` on, `ppn` tasks each, the block `repeat` times over, tasks numbered in that order),
// and the forms flux job taskmap converts one to. Pure.
import { FluxError, EINVAL } from '../errors.js';
import { formatIdset } from '../resource/idset.js';

export type Block = [node: number, nnodes: number, ppn: number, repeat: number];

/** the blocks for the tasks each node runs, consecutive nodes of one count in one block */
export function blocksOf(counts: readonly number[]): Block[] {
  const blocks: Block[] = [];
  counts.forEach((ppn, node) => {
    const last = blocks[blocks.length - 1];
    if (last && last[2] === ppn && last[0] + last[1] === node) last[1]++;
    else blocks.push([node, 1, ppn, 1]);
  });
  return blocks;
}

/** the RFC 34 text and the PMI_process_mapping MPICH reads, from the tasks each node runs */
export function mappings(counts: readonly number[]): { taskmap: string; processMapping: string } {
  const blocks = blocksOf(counts);
  return {
    taskmap: JSON.stringify({ version: 1, map: blocks }),
    processMapping: pmiMapping(blocks),
  };
}

export function pmiMapping(blocks: readonly Block[]): string {
  return `(vector,${blocks.map(([n, nn, ppn]) => `(${n},${nn},${ppn})`).join(',')})`;
}

const isCount = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** a task map's blocks; EINVAL for what is not one */
export function parseTaskmap(text: string | unknown): Block[] {
  let v: unknown = text;
  if (typeof text === 'string') {
    try {
      v = JSON.parse(text);
    } catch {
      throw new FluxError(EINVAL, `invalid taskmap: ${text}`);
    }
  }
  const o = v as { version?: unknown; map?: unknown };
  if (typeof o !== 'object' || o === null || o.version !== 1 || !Array.isArray(o.map)
    || !o.map.every((b) => Array.isArray(b) && b.length === 4 && b.every(isCount))) {
    throw new FluxError(EINVAL, `invalid taskmap: ${typeof text === 'string' ? text : JSON.stringify(text)}`);
  }
  return o.map as Block[];
}

/** the task ids each node runs, by node id */
export function tasksByNode(blocks: readonly Block[]): Map<number, number[]> {
  const out = new Map<number, number[]>();
  let task = 0;
  for (const [node, nnodes, ppn, repeat] of blocks) {
    for (let r = 0; r < repeat; r++) {
      for (let n = node; n < node + nnodes; n++) {
        const mine = out.get(n) ?? [];
        for (let i = 0; i < ppn; i++) mine.push(task++);
        out.set(n, mine);
      }
    }
  }
  return out;
}

/** the node that runs `task`, or undefined */
export function nodeOfTask(blocks: readonly Block[], task: number): number | undefined {
  for (const [node, tasks] of tasksByNode(blocks)) if (tasks.includes(task)) return node;
  return undefined;
}

/** RFC 34's raw form: each node's tasks as an idset, nodes in order, separated by ";" */
export function rawTaskmap(blocks: readonly Block[]): string {
  return [...tasksByNode(blocks)].sort((a, b) => a[0] - b[0]).map(([, t]) => formatIdset(t)).join(';');
}

/** the node of each task, in task order */
export function multilineTaskmap(blocks: readonly Block[]): string[] {
  const nodes: number[] = [];
  for (const [node, tasks] of tasksByNode(blocks)) for (const t of tasks) nodes[t] = node;
  return nodes.map(String);
}
