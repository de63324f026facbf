// RFC 25 jobspec V1 (the subset of RFC 14 flux-core runs): validation, what a scheduler needs from a jobspec,
// the jobspec `flux submit` / `flux run` build from their options, and the J wrapper ("sign none" form) an
// instance owner's job is submitted in. Error texts follow flux-core's where it has one for the mistake.
import type { ResourceRequest } from '../resource/sched-alloc.js';
import type { Dependency } from './dependency.js';
import { FluxError, EINVAL, EPROTO } from '../errors.js';
import { compile } from '../validate.js';
import { type FileEntry, checkArchivePath, fileArchiveSchema } from './file-archive.js';
import { parseIdset } from '../resource/idset.js';

export interface ResourceVertex {
  type: 'node' | 'slot' | 'core' | 'gpu';
  count: number;
  unit?: string;
  label?: string;
  exclusive?: boolean;
  with?: ResourceVertex[];
}

export type TaskCount = { per_slot: 1 } | { total: number };

export interface Task {
  command: string[];
  slot: string;
  count: TaskCount;
}

export interface SystemAttributes {
  /** seconds, 0 = unlimited */
  duration: number;
  cwd?: string;
  environment?: Record<string, string>;
  queue?: string;
  job?: { name?: string; [key: string]: unknown };
  shell?: { options?: Record<string, unknown>; [key: string]: unknown };
  dependencies?: Dependency[];
  constraints?: Record<string, unknown>;
  files?: Record<string, FileEntry>;
  [key: string]: unknown;
}

export interface Jobspec {
  resources: [ResourceVertex];
  tasks: [Task];
  attributes: { system: SystemAttributes; user?: Record<string, unknown> };
  version: 1;
}

const invalid = (message: string) => new FluxError(EINVAL, message);

// ---------------------------------------------------------------------------------------------------------------
// Validation: ajv checks the shape (types, ranges, known keys); code checks the resource graph, which RFC 25
// restricts to slot>core, node>slot>core, slot>(core,gpu) and node>slot>(core,gpu).

const vertexSchema = {
  type: 'object',
  properties: {
    type: { enum: ['node', 'slot', 'core', 'gpu'] },
    // flux-core accepts a gpu count of 0; node, slot and core counts are checked with the graph
    count: { type: 'integer', minimum: 0 },
    unit: { type: 'string' },
    label: { type: 'string' },
    exclusive: { type: 'boolean' },
    with: { type: 'array', minItems: 1, items: { $ref: '#/definitions/vertex' } },
  },
  required: ['type', 'count'],
  additionalProperties: false,
};

const taskSchema = {
  type: 'object',
  properties: {
    command: { type: 'array', minItems: 1, items: { type: 'string' } },
    slot: { type: 'string' },
    count: {
      type: 'object',
      properties: { per_slot: { const: 1 }, total: { type: 'integer', minimum: 1 } },
      minProperties: 1,
      maxProperties: 1,
      additionalProperties: false,
    },
  },
  required: ['command', 'slot', 'count'],
  additionalProperties: false,
};

const systemSchema = {
  type: 'object',
  properties: {
    duration: { type: 'number', minimum: 0 },
    cwd: { type: 'string' },
    environment: { type: 'object', additionalProperties: { type: 'string' } },
    queue: { type: 'string' },
    job: { type: 'object', properties: { name: { type: 'string' } } },
    shell: { type: 'object', properties: { options: { type: 'object' } } },
    dependencies: {
      type: 'array',
      items: {
        type: 'object',
        properties: { scheme: { type: 'string' }, value: { type: 'string' } },
        required: ['scheme', 'value'],
      },
    },
    constraints: { type: 'object' },
    files: fileArchiveSchema,
  },
  required: ['duration'],
};

const checkShape = compile({
  type: 'object',
  definitions: { vertex: vertexSchema },
  properties: {
    resources: { type: 'array', minItems: 1, maxItems: 1, items: { $ref: '#/definitions/vertex' } },
    tasks: { type: 'array', minItems: 1, maxItems: 1, items: taskSchema },
    attributes: {
      type: 'object',
      properties: { system: systemSchema, user: { type: 'object' } },
      required: ['system'],
      additionalProperties: false,
    },
    version: { const: 1 },
  },
  required: ['resources', 'tasks', 'attributes', 'version'],
  additionalProperties: false,
});

const TOP_LEVEL_KEYS = ['resources', 'tasks', 'attributes', 'version'];

/** "/resources/0/with/1" -> "resources[0].with[1]" */
function pathOf(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((path, seg) => (/^\d+$/.test(seg) ? `${path}[${seg}]` : path === '' ? seg : `${path}.${seg}`), '');
}

// validate.ts reports a schema mismatch as EPROTO "malformed payload: <pointer> <ajv message>"; a jobspec
// mistake is the user's, so it becomes EINVAL naming the jobspec path
function shapeError(err: unknown): unknown {
  if (!(err instanceof FluxError) || err.errno !== EPROTO) return err;
  const m = /^malformed payload: (?:(\/.*?) )?(must[\s\S]*)$/.exec(err.message);
  if (!m) return invalid(`jobspec: ${err.message}`);
  return invalid(`${m[1] ? pathOf(m[1]) : 'jobspec'}: ${m[2]}`);
}

function checkTopLevel(v: unknown): void {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid('jobspec must be a JSON object');
  for (const key of TOP_LEVEL_KEYS) if (!Object.hasOwn(v, key)) throw invalid(`Missing key (${key})`);
  for (const key of Object.keys(v)) if (!TOP_LEVEL_KEYS.includes(key)) throw invalid(`Extraneous key (${key})`);
}

function checkCounts(v: ResourceVertex, where: string): void {
  if (v.type !== 'gpu' && v.count < 1) throw invalid(`${where}: node, slot, or core count must be > 0`);
  v.with?.forEach((inner, i) => checkCounts(inner, `${where}.with[${i}]`));
}

/** RFC 25's graph rules, and the task naming its slot (RFC 14) */
function checkGraph(js: Jobspec): void {
  const top = js.resources[0];
  checkCounts(top, 'resources[0]');
  let slot = top;
  let where = 'resources[0]';
  if (top.type === 'node') {
    if (top.with?.length !== 1 || top.with[0]!.type !== 'slot') throw invalid(`${where}: a node must contain exactly one slot`);
    slot = top.with[0]!;
    where += '.with[0]';
  } else if (top.type !== 'slot') {
    throw invalid(`${where}: the top-level resource must be a node or a slot, not a ${top.type}`);
  }
  if (slot.label === undefined) throw invalid(`${where}: slots must have labels`);
  const inner = slot.with ?? [];
  const stray = inner.findIndex((v) => v.type !== 'core' && v.type !== 'gpu');
  if (stray >= 0) throw invalid(`${where}.with[${stray}]: slot with type must be core or gpu`);
  const cores = inner.filter((v) => v.type === 'core').length;
  if (cores !== 1 || inner.length - cores > 1) {
    throw invalid(`${where}: a slot must contain one core vertex and at most one gpu vertex`);
  }
  const nested = inner.findIndex((v) => v.with !== undefined);
  if (nested >= 0) throw invalid(`${where}.with[${nested}]: a ${inner[nested]!.type} cannot contain other resources`);
  if (js.tasks[0].slot !== slot.label) throw invalid(`tasks[0].slot: no slot is labeled "${js.tasks[0].slot}"`);
}

export function validateJobspec(v: unknown): Jobspec {
  checkTopLevel(v);
  try {
    checkShape(v);
  } catch (err) {
    throw shapeError(err);
  }
  checkGraph(v as Jobspec);
  for (const path of Object.keys((v as Jobspec).attributes.system.files ?? {})) checkArchivePath(path);
  return v as Jobspec;
}

// ---------------------------------------------------------------------------------------------------------------
// What a scheduler needs

export type { ResourceRequest };

function slotOf(js: Jobspec): ResourceVertex {
  const top = js.resources[0];
  return top.type === 'node' ? top.with![0]! : top;
}

/** the counts of a validated jobspec; ntasks as flux-core's job-list derives it */
export function resourceRequest(js: Jobspec): ResourceRequest {
  const top = js.resources[0];
  const slot = slotOf(js);
  const nnodes = top.type === 'node' ? top.count : 0;
  const nslots = slot.count * (nnodes || 1);
  const countOf = (type: string) => slot.with?.find((v) => v.type === type)?.count ?? 0;
  const coresPerSlot = countOf('core');
  const tasksPer = tasksPerResource(js);
  return {
    nnodes,
    nslots,
    coresPerSlot,
    gpusPerSlot: countOf('gpu'),
    exclusive: top.type === 'node' && top.exclusive === true,
    duration: js.attributes.system.duration,
    ntasks: taskCount(js, nnodes, nslots * coresPerSlot, tasksPer),
    ...(tasksPer ? { tasksPer } : {}),
  };
}

/** the shell's per-resource option (flux submit --tasks-per-node/--tasks-per-core), which overrides tasks.count */
function tasksPerResource(js: Jobspec): ResourceRequest['tasksPer'] {
  const per = js.attributes.system.shell?.options?.['per-resource'] as { type?: unknown; count?: unknown } | undefined;
  const type = per?.type === 'core' || per?.type === 'node' ? per.type : undefined;
  if (type === undefined) return undefined;
  return { type, count: typeof per!.count === 'number' ? per!.count : 1 };
}

function taskCount(js: Jobspec, nnodes: number, ncores: number, per: ResourceRequest['tasksPer']): number {
  // the nodes of a request without a node count, and the cores of whole nodes, are known only once allocated
  // (src/core/jobs/taskmap.ts): until then the listing says 0
  if (per?.type === 'node') return nnodes * per.count;
  if (per?.type === 'core') return nnodes > 0 ? 0 : ncores * per.count;
  const c = js.tasks[0].count;
  return 'total' in c ? c.total : slotOf(js).count * (nnodes || 1);
}

/** the name flux-core lists a job under: attributes.system.job.name, else the command's basename */
export function jobName(js: Jobspec): string {
  const name = js.attributes.system.job?.name;
  if (typeof name === 'string') return name;
  const arg0 = js.tasks[0].command[0]!;
  const base = arg0.slice(arg0.lastIndexOf('/') + 1);
  // a directory given with a trailing slash keeps its whole path, as flux-core does
  return base === '' ? arg0 : base;
}

// ---------------------------------------------------------------------------------------------------------------
// The jobspec flux submit / flux run build

/** a --setopt / --setattr argument: "KEY[=VAL]", or a key with a value the caller resolved (^KEY=FILE) */
export type KeyValue = string | { key: string; value: unknown };

export interface SubmitOptions {
  command: string[];
  /** -n; 0 or unset = 1, or the node count with -N */
  ntasks?: number;
  /** -c; 0 or unset = 1 */
  coresPerTask?: number;
  /** -g */
  gpusPerTask?: number;
  /** -N */
  nodes?: number;
  /** -x */
  exclusive?: boolean;
  /** --cores (a per-resource option) */
  cores?: number;
  /** --tasks-per-node (a per-resource option) */
  tasksPerNode?: number;
  /** --tasks-per-core (a per-resource option) */
  tasksPerCore?: number;
  /** --gpus-per-node (a per-resource option) */
  gpusPerNode?: number;
  /** -t, in seconds: the caller has applied "minutes unless the value has an FSD unit" */
  timeLimit?: number;
  jobName?: string;
  cwd?: string;
  /** the job's final environment (the caller has applied --env rules) */
  environment?: Record<string, string>;
  /** soft limits to propagate (the caller has applied --rlimit rules) */
  rlimit?: Record<string, number>;
  input?: string;
  output?: string;
  error?: string;
  labelIo?: boolean;
  unbuffered?: boolean;
  queue?: string;
  setopt?: KeyValue[];
  setattr?: KeyValue[];
  /** --dependency, in RFC 26's object form */
  dependencies?: Dependency[];
}

type Tree = Record<string, unknown>;

function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// defineProperty, so a key such as "__proto__" from the command line lands as data, not as a prototype
function put(obj: Tree, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** set a dotted path, creating objects on the way, as flux-core's set_treedict does */
function setPath(root: Tree, path: string, value: unknown): void {
  const keys = path.split('.');
  if (keys.some((k) => k === '')) throw invalid(`failed to set ${path}: empty key component`);
  let obj = root;
  for (const key of keys.slice(0, -1)) {
    const next = Object.hasOwn(obj, key) ? obj[key] : undefined;
    if (next === undefined) {
      const made: Tree = {};
      put(obj, key, made);
      obj = made;
    } else if (isTree(next)) {
      obj = next;
    } else {
      throw invalid(`failed to set ${path}: ${key} is not an object`);
    }
  }
  put(obj, keys[keys.length - 1]!, value);
}

/** KEY alone means 1; VAL is JSON when it parses as JSON, else the string itself */
function keyValue(kv: KeyValue): [string, unknown] {
  if (typeof kv !== 'string') return [kv.key, kv.value];
  const eq = kv.indexOf('=');
  if (eq < 0) return [kv, 1];
  const text = kv.slice(eq + 1);
  try {
    return [kv.slice(0, eq), JSON.parse(text)];
  } catch {
    return [kv.slice(0, eq), text];
  }
}

/** --setattr: a key not starting with "system." or "user." means system.KEY; a leading "." means attributes.KEY */
function attributePath(key: string): string {
  if (key.startsWith('.')) return key.replace(/^\.+/, '');
  if (key.startsWith('system.') || key.startsWith('user.')) return key;
  return `system.${key}`;
}

const vertex = (type: ResourceVertex['type'], count: number, exclusive = false, inner?: ResourceVertex[]): ResourceVertex => ({
  type,
  count,
  ...(exclusive ? { exclusive: true } : {}),
  ...(inner ? { with: inner } : {}),
});

const taskSlot = (count: number, inner: ResourceVertex[]): ResourceVertex => ({ ...vertex('slot', count, false, inner), label: 'task' });

function slotContents(cores: number, gpus: number | undefined): ResourceVertex[] {
  return gpus ? [vertex('core', cores), vertex('gpu', gpus)] : [vertex('core', cores)];
}

function isCount(n: number | undefined, min: number): boolean {
  return n === undefined || (Number.isInteger(n) && n >= min);
}

function skeleton(resource: ResourceVertex, count: TaskCount, command: string[], system: SystemAttributes): Jobspec {
  return {
    resources: [resource],
    tasks: [{ command: [...command], slot: 'task', count }],
    attributes: { system },
    version: 1,
  };
}

/** -n/-c/-g/-N/-x: one slot per task; over -N nodes, each node gets the slots of the busiest, so an uneven -n
 * leaves slots idle (tasks.count then says the total) */
function perTask(o: SubmitOptions): Jobspec {
  let ntasks = o.ntasks || 0;
  let exclusive = o.exclusive ?? false;
  if (!ntasks && o.nodes) {
    ntasks = o.nodes;
    exclusive = true;
  }
  ntasks ||= 1;
  const cores = o.coresPerTask || 1;
  if (!isCount(ntasks, 1)) throw invalid('task count must be a integer >= 1');
  if (!isCount(cores, 1)) throw invalid('cores per task must be an integer >= 1');
  if (!isCount(o.gpusPerTask, 0)) throw invalid('gpus per task must be an integer >= 0');
  const inner = slotContents(cores, o.gpusPerTask);
  if (o.nodes === undefined) {
    if (exclusive) throw invalid('exclusive can only be set with a node count');
    return skeleton(taskSlot(ntasks, inner), { per_slot: 1 }, o.command, { duration: 0 });
  }
  if (!isCount(o.nodes, 1)) throw invalid('node count must be an integer >= 1 (if set)');
  if (o.nodes > ntasks) throw invalid('node count must not be greater than task count');
  const node = vertex('node', o.nodes, exclusive, [taskSlot(Math.ceil(ntasks / o.nodes), inner)]);
  return skeleton(node, ntasks % o.nodes === 0 ? { per_slot: 1 } : { total: ntasks }, o.command, { duration: 0 });
}

/** --cores/--tasks-per-node/--tasks-per-core/--gpus-per-node: resources first, the shell decides the tasks */
function perResource(o: SubmitOptions): Jobspec {
  if (o.tasksPerNode !== undefined && o.tasksPerCore !== undefined) {
    throw invalid('Do not specify both the number of tasks per node and per core');
  }
  if (o.tasksPerNode !== undefined && o.tasksPerNode < 1) throw invalid('--tasks-per-node must be >= 1');
  if (o.tasksPerCore !== undefined && o.tasksPerCore < 1) throw invalid('--tasks-per-core must be >= 1');
  if (o.gpusPerNode && !o.nodes) throw invalid('--gpus-per-node requires --nodes');
  if (o.ntasks !== undefined || o.coresPerTask !== undefined || o.gpusPerTask) {
    throw invalid("Per-resource options can't be used with per-task options. (See --help for details)");
  }
  // -N without --cores keeps the per-task default of whole nodes
  const exclusive = (o.exclusive ?? false) || (!!o.nodes && o.cores === undefined);
  const { cores, nodes, gpusPerNode } = o;
  if (!isCount(cores, 1)) throw invalid('ncores must be an integer >= 1');
  if (!isCount(gpusPerNode, 0)) throw invalid('gpus_per_node must be an integer >= 0');
  if (gpusPerNode !== undefined && !nodes) throw invalid('gpus_per_node must be specified with nnodes');
  if (!isCount(nodes, 1)) throw invalid('nnodes must be an integer >= 1');
  if (nodes === undefined && exclusive) throw invalid('exclusive can only be set with a node count');
  let nslots: number;
  let slotSize = 1;
  if (nodes && cores) {
    if (cores < nodes) throw invalid('number of cores cannot be less than nnodes');
    if (cores % nodes !== 0) throw invalid('number of cores must be evenly divisible by node count');
    nslots = 1;
    slotSize = cores / nodes;
  } else if (cores) {
    nslots = cores;
  } else if (nodes) {
    if (!exclusive) throw invalid('Specifying nnodes also requires ncores or exclusive');
    nslots = 1;
  } else {
    throw invalid('must specify node or core count with per_resource');
  }
  const slot = taskSlot(nslots, slotContents(slotSize, gpusPerNode));
  const system: SystemAttributes = { duration: 0 };
  const per = o.tasksPerNode !== undefined ? { type: 'node', count: o.tasksPerNode } : o.tasksPerCore !== undefined ? { type: 'core', count: o.tasksPerCore } : undefined;
  if (per) setPath(system, 'shell.options.per-resource', per);
  return skeleton(nodes ? vertex('node', nodes, exclusive, [slot]) : slot, { per_slot: 1 }, o.command, system);
}

function isIdset(text: string): boolean {
  try {
    parseIdset(text);
    return true;
  } catch {
    return false;
  }
}

const file = (path: string) => ({ type: 'file', path });

/**
 * The jobspec flux-core's `flux submit` / `flux run` build from these options, keys in the order theirs print
 * with --dry-run (resources, tasks, attributes, version). It is not validated: as with flux-core, --setattr can
 * produce a jobspec job-ingest will refuse.
 */
export function buildJobspec(o: SubmitOptions): Jobspec {
  if (o.command.length === 0) throw invalid('job command and arguments are missing');
  const perResourceMode = [o.cores, o.tasksPerNode, o.tasksPerCore, o.gpusPerNode].some((v) => v !== undefined);
  const js = perResourceMode ? perResource(o) : perTask(o);
  const system = js.attributes.system;
  system.environment = { ...o.environment };
  if (o.cwd !== undefined) system.cwd = o.cwd;
  if (o.rlimit !== undefined && Object.keys(o.rlimit).length > 0) setPath(system, 'shell.options.rlimit', { ...o.rlimit });
  if (o.timeLimit !== undefined) {
    if (o.timeLimit < 0) throw invalid('duration must not be negative');
    if (!Number.isFinite(o.timeLimit)) throw invalid('duration must be a normal, finite value');
    system.duration = o.timeLimit;
  }
  if (o.jobName !== undefined) setPath(system, 'job.name', o.jobName);
  // an idset names the tasks `flux job attach` feeds stdin to: not a file for the shell
  if (o.input !== undefined && !isIdset(o.input)) setPath(system, 'shell.options.input.stdin', file(o.input));
  if (o.output !== undefined && o.output !== 'none' && o.output !== 'kvs') {
    setPath(system, 'shell.options.output.stdout', file(o.output));
    if (o.labelIo) setPath(system, 'shell.options.output.stdout.label', true);
  }
  if (o.error !== undefined) {
    setPath(system, 'shell.options.output.stderr', file(o.error));
    if (o.labelIo) setPath(system, 'shell.options.output.stderr.label', true);
  }
  if (o.unbuffered) {
    setPath(system, 'shell.options.output.stdout.buffer.type', 'none');
    setPath(system, 'shell.options.output.stderr.buffer.type', 'none');
    setPath(system, 'shell.options.output.batch-timeout', 0.05);
  }
  for (const kv of o.setopt ?? []) {
    const [key, value] = keyValue(kv);
    setPath(system, `shell.options.${key}`, value);
  }
  if (o.queue !== undefined) system.queue = o.queue;
  if (o.dependencies !== undefined && o.dependencies.length > 0) system.dependencies = o.dependencies.map((d) => ({ ...d }));
  for (const kv of o.setattr ?? []) {
    const [key, value] = keyValue(kv);
    setPath(js.attributes as Tree, attributePath(key), value);
  }
  return js;
}

// ---------------------------------------------------------------------------------------------------------------
// J: HEADER.PAYLOAD.SIGNATURE, each part standard base64 with padding (libsodium's "original" variant). The
// header is flux-security's kv encoding: NUL-terminated key, then a type character ('i' int64, 's' string, 'd'
// double, 'b' bool, 't' timestamp) and the value, NUL-terminated.

const MECHANISMS = ['none', 'munge', 'curve'];

export interface UnwrappedJ {
  userid: number;
  mechanism: string;
  jobspec: unknown;
}

/**
 * J with mechanism "none", as flux-core's own signer writes it (header keys version, userid, mechanism;
 * flux-security writes the same keys in another order and each reads the other's).
 */
export function encodeJ(jobspec: unknown, userid: number): string {
  if (!Number.isSafeInteger(userid) || userid < 0) throw invalid(`invalid userid ${userid}`);
  const header = Buffer.from(`version\0i1\0userid\0i${userid}\0mechanism\0snone\0`);
  const payload = Buffer.from(JSON.stringify(jobspec));
  return `${header.toString('base64')}.${payload.toString('base64')}.none`;
}

function base64(text: string): Buffer | undefined {
  // Buffer decodes anything (skipping what is not base64, taking the URL-safe alphabet too); libsodium takes only
  // canonical text of the original alphabet, which is exactly the text the bytes encode back to
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/** key -> [type character, value], or undefined when the bytes are not a kv encoding */
function parseKv(bytes: Buffer): Map<string, [string, string]> | undefined {
  if (bytes.length === 0 || bytes[bytes.length - 1] !== 0) return undefined;
  const fields = bytes.subarray(0, -1).toString('utf8').split('\0');
  if (fields.length % 2 !== 0) return undefined;
  const kv = new Map<string, [string, string]>();
  for (let i = 0; i < fields.length; i += 2) {
    const key = fields[i]!;
    const value = fields[i + 1]!;
    if (key === '' || value === '' || !'sidbt'.includes(value[0]!)) return undefined;
    if (!kv.has(key)) kv.set(key, [value[0]!, value.slice(1)]);
  }
  return kv;
}

const unwrapError = (what: string) => invalid(`sign-unwrap: ${what}`);

/**
 * Header, payload and the "none" signature of J, checked as flux-security's sign-unwrap checks them: keys in
 * any order, extra keys allowed (other mechanisms add their own). Signatures of mechanisms other than "none"
 * are not verified here: the caller decides what to do with such a job.
 */
export function decodeJ(J: string): UnwrappedJ {
  const headerEnd = J.indexOf('.');
  const headerBytes = headerEnd > 0 ? base64(J.slice(0, headerEnd)) : undefined;
  const header = headerBytes && parseKv(headerBytes);
  if (!header) throw unwrapError('header decode error: Invalid argument');
  const int = (key: string) => {
    const v = header.get(key);
    return v?.[0] === 'i' && /^-?\d+$/.test(v[1]) ? Number(v[1]) : undefined;
  };
  const version = int('version');
  if (version === undefined) throw unwrapError('header version missing');
  if (version !== 1) throw unwrapError(`header version=${version} unknown`);
  const mech = header.get('mechanism');
  if (mech?.[0] !== 's') throw unwrapError('header mechanism missing');
  const mechanism = mech[1];
  if (!MECHANISMS.includes(mechanism)) throw unwrapError(`header mechanism=${mechanism} unknown`);
  const userid = int('userid');
  if (userid === undefined) throw unwrapError('header userid missing');
  if (userid < 0 || !Number.isSafeInteger(userid)) throw unwrapError(`header userid=${userid} invalid`);
  const payloadEnd = J.indexOf('.', headerEnd + 1);
  const payload = payloadEnd > 0 ? base64(J.slice(headerEnd + 1, payloadEnd)) : undefined;
  if (!payload) throw unwrapError('payload decode error: Invalid argument');
  if (mechanism === 'none' && J.slice(payloadEnd + 1) !== 'none') throw invalid('sign-none-verify: signature invalid');
  let jobspec: unknown;
  try {
    jobspec = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    throw invalid(`jobspec: invalid JSON: ${(err as Error).message}`);
  }
  return { userid, mechanism, jobspec };
}
