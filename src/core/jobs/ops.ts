// The KVS ops the job services write a job with: puts of its J, jobspec and R, appends to its eventlogs.
import { OP_APPEND, type Op } from '../kvs/tree.js';
import { val } from '../kvs/treeobj.js';

export function appendOp(key: string, text: string): Op {
  return { key, flags: OP_APPEND, dirent: val(Buffer.from(text, 'utf8')) };
}

export function putOp(key: string, text: string): Op {
  return { key, flags: 0, dirent: val(Buffer.from(text, 'utf8')) };
}
