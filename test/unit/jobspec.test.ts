// RFC 25 jobspec V1: validation against RFC 25's examples and each rule broken, the counts a scheduler reads,
// the jobspec flux submit builds (compared with jobspecs flux-core's `flux submit --dry-run` printed), and J.
import { describe, it, expect } from 'vitest';
import {
  validateJobspec, resourceRequest, buildJobspec, jobName, encodeJ, decodeJ, type Jobspec, type SubmitOptions,
} from '../../src/core/jobs/jobspec.js';
import { FluxError, EINVAL } from '../../src/core/errors.js';

function failure(fn: () => unknown): FluxError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FluxError);
    expect((e as FluxError).errno).toBe(EINVAL);
    return e as FluxError;
  }
  throw new Error('expected a FluxError');
}

const clone = <T>(v: T): T => structuredClone(v);

// RFC 25's example and use cases (as flux-core's valid_v1 test files hold them)
const attrs = { system: { duration: 3600, cwd: '/home/flux', environment: { HOME: '/home/flux' } } };
const example1 = {
  version: 1,
  resources: [{ type: 'node', count: 4, with: [{ type: 'slot', count: 1, label: 'default', with: [{ type: 'core', count: 2 }] }] }],
  tasks: [{ command: ['app'], slot: 'default', count: { per_slot: 1 } }],
  attributes: attrs,
};
const useCase11 = {
  version: 1,
  resources: [{ type: 'node', count: 4, with: [{ type: 'slot', count: 1, label: 'default', with: [{ type: 'core', count: 1 }] }] }],
  tasks: [{ command: ['flux', 'start'], slot: 'default', count: { per_slot: 1 } }],
  attributes: attrs,
};
// RFC 25 writes this command as a bare string, which flux-core's validators refuse: V1 commands are arrays
const useCase21 = {
  version: 1,
  resources: [{ type: 'node', count: 4, with: [{ type: 'slot', count: 1, label: 'myslot', with: [{ type: 'core', count: 1 }] }] }],
  tasks: [{ command: ['hostname'], slot: 'myslot', count: { total: 5 } }],
  attributes: attrs,
};
const useCase23 = {
  version: 1,
  resources: [{ type: 'slot', count: 10, label: 'default', with: [{ type: 'core', count: 2 }, { type: 'gpu', count: 1 }] }],
  tasks: [{ command: ['myapp'], slot: 'default', count: { per_slot: 1 } }],
  attributes: attrs,
};
const useCase24 = {
  version: 1,
  resources: [{
    type: 'node', count: 4,
    with: [{ type: 'slot', count: 4, label: 'default', with: [{ type: 'core', count: 1 }, { type: 'gpu', count: 1 }] }],
  }],
  tasks: [{ command: ['myapp'], slot: 'default', count: { per_slot: 1 } }],
  attributes: attrs,
};
const gpuCountZero = {
  version: 1,
  resources: [{
    type: 'node', count: 1,
    with: [{ type: 'slot', count: 1, label: 'default', with: [{ type: 'core', count: 1 }, { type: 'gpu', count: 0 }] }],
  }],
  tasks: [{ command: ['app'], slot: 'default', count: { per_slot: 1 } }],
  attributes: { system: { duration: 3600 } },
};

// jobspecs flux-core's `flux submit --dry-run` printed (job-list's test inputs: environment dropped, cwd /tmp/job)
const core1 = [{ type: 'core', count: 1 }];
const hostnameTask = [{ command: ['hostname'], slot: 'task', count: { per_slot: 1 } }];
const dryRun = {
  // flux submit -N4 hostname
  N4: {
    resources: [{ type: 'node', count: 4, exclusive: true, with: [{ type: 'slot', count: 1, with: core1, label: 'task' }] }],
    tasks: hostnameTask,
    attributes: { system: { duration: 0, cwd: '/tmp/job' } },
    version: 1,
  },
  // flux submit -N4 -n16 hostname
  N4n16: {
    resources: [{ type: 'node', count: 4, with: [{ type: 'slot', count: 4, with: core1, label: 'task' }] }],
    tasks: hostnameTask,
    attributes: { system: { duration: 0, cwd: '/tmp/job' } },
    version: 1,
  },
  // flux submit -n1 -c4 hostname
  c4: {
    resources: [{ type: 'slot', count: 1, with: [{ type: 'core', count: 4 }], label: 'task' }],
    tasks: hostnameTask,
    attributes: { system: { duration: 0, cwd: '/tmp/job' } },
    version: 1,
  },
  // flux submit -N4 --tasks-per-node=4 hostname
  N4perNode4: {
    resources: [{ type: 'node', count: 4, exclusive: true, with: [{ type: 'slot', count: 1, with: core1, label: 'task' }] }],
    tasks: hostnameTask,
    attributes: { system: { duration: 0, shell: { options: { 'per-resource': { type: 'node', count: 4 } } }, cwd: '/tmp/job' } },
    version: 1,
  },
  // flux submit --cores=4 --tasks-per-core=4 hostname
  cores4perCore4: {
    resources: [{ type: 'slot', count: 4, with: core1, label: 'task' }],
    tasks: hostnameTask,
    attributes: { system: { duration: 0, shell: { options: { 'per-resource': { type: 'core', count: 4 } } }, cwd: '/tmp/job' } },
    version: 1,
  },
};

describe('validateJobspec', () => {
  it('accepts RFC 25\'s examples and returns the jobspec', () => {
    for (const js of [example1, useCase11, useCase21, useCase23, useCase24, gpuCountZero]) {
      expect(validateJobspec(clone(js))).toEqual(js);
    }
  });

  it('accepts what flux-core\'s flux submit produces', () => {
    for (const js of Object.values(dryRun)) expect(() => validateJobspec(clone(js))).not.toThrow();
  });

  it('accepts optional system attributes and free-form user attributes', () => {
    const js = clone(example1) as Record<string, any>;
    js.attributes.system.queue = 'batch';
    js.attributes.system.job = { name: 'x' };
    js.attributes.system.shell = { options: { verbose: 1 } };
    js.attributes.system.dependencies = [{ scheme: 'afterok', value: 'ƒ2' }];
    js.attributes.system.constraints = { properties: ['ssd'] };
    js.attributes.system.bank = 'b';
    js.attributes.user = { anything: [1, { deep: true }] };
    expect(() => validateJobspec(js)).not.toThrow();
  });

  it('names the top-level key that is missing or unknown, as flux-core does', () => {
    expect(failure(() => validateJobspec('{}')).message).toBe('jobspec must be a JSON object');
    expect(failure(() => validateJobspec([])).message).toBe('jobspec must be a JSON object');
    const { tasks: _t, ...noTasks } = example1;
    expect(failure(() => validateJobspec(noTasks)).message).toBe('Missing key (tasks)');
    expect(failure(() => validateJobspec({ ...example1, extra: 1 })).message).toBe('Extraneous key (extra)');
  });

  // each case breaks one rule of the example; the message names where
  const broken: [string, (js: Record<string, any>) => void, string][] = [
    ['version 2', (js) => (js.version = 2), 'version: must be equal to constant'],
    ['no resources', (js) => (js.resources = []), 'resources: must NOT have fewer than 1 items'],
    ['two top-level resources', (js) => js.resources.push(clone(js.resources[0])), 'resources: must NOT have more than 1 items'],
    ['an unknown resource type', (js) => (js.resources[0].type = 'smurf'), 'resources[0].type: must be equal to one of the allowed values'],
    ['a fractional count', (js) => (js.resources[0].count = 1.5), 'resources[0].count: must be integer'],
    ['a zero core count', (js) => (js.resources[0].with[0].with[0].count = 0), 'resources[0].with[0].with[0]: node, slot, or core count must be > 0'],
    ['a zero node count', (js) => (js.resources[0].count = 0), 'resources[0]: node, slot, or core count must be > 0'],
    ['a negative gpu count', (js) => js.resources[0].with[0].with.push({ type: 'gpu', count: -1 }), 'resources[0].with[0].with[1].count: must be >= 0'],
    ['an unknown vertex key', (js) => (js.resources[0].id = 'x'), 'resources[0]: must NOT have additional properties'],
    ['exclusive not a boolean', (js) => (js.resources[0].exclusive = 1), 'resources[0].exclusive: must be boolean'],
    ['a core at the top', (js) => (js.resources[0] = { type: 'core', count: 1 }), 'resources[0]: the top-level resource must be a node or a slot, not a core'],
    ['a node holding cores', (js) => (js.resources[0].with = [{ type: 'core', count: 1 }]), 'resources[0]: a node must contain exactly one slot'],
    ['a node with two slots', (js) => js.resources[0].with.push(clone(js.resources[0].with[0])), 'resources[0]: a node must contain exactly one slot'],
    ['a node with nothing in it', (js) => delete js.resources[0].with, 'resources[0]: a node must contain exactly one slot'],
    ['a slot without a label', (js) => delete js.resources[0].with[0].label, 'resources[0].with[0]: slots must have labels'],
    ['a slot holding a node', (js) => (js.resources[0].with[0].with = [{ type: 'node', count: 1 }]), 'resources[0].with[0].with[0]: slot with type must be core or gpu'],
    ['a slot with two cores', (js) => js.resources[0].with[0].with.push({ type: 'core', count: 1 }), 'resources[0].with[0]: a slot must contain one core vertex and at most one gpu vertex'],
    ['a slot with only gpus', (js) => (js.resources[0].with[0].with = [{ type: 'gpu', count: 1 }]), 'resources[0].with[0]: a slot must contain one core vertex and at most one gpu vertex'],
    ['a slot with two gpus', (js) => js.resources[0].with[0].with.push({ type: 'gpu', count: 1 }, { type: 'gpu', count: 1 }), 'resources[0].with[0]: a slot must contain one core vertex and at most one gpu vertex'],
    ['a core holding something', (js) => (js.resources[0].with[0].with[0].with = [{ type: 'gpu', count: 1 }]), 'resources[0].with[0].with[0]: a core cannot contain other resources'],
    ['no tasks', (js) => (js.tasks = []), 'tasks: must NOT have fewer than 1 items'],
    ['two tasks', (js) => js.tasks.push(clone(js.tasks[0])), 'tasks: must NOT have more than 1 items'],
    ['an empty command', (js) => (js.tasks[0].command = []), 'tasks[0].command: must NOT have fewer than 1 items'],
    ['a command string', (js) => (js.tasks[0].command = 'hostname'), 'tasks[0].command: must be array'],
    ['a command of numbers', (js) => (js.tasks[0].command = ['sleep', 1]), 'tasks[0].command[1]: must be string'],
    ['a task on an unknown slot', (js) => (js.tasks[0].slot = 'foo'), 'tasks[0].slot: no slot is labeled "foo"'],
    ['an empty task count', (js) => (js.tasks[0].count = {}), 'tasks[0].count: must NOT have fewer than 1 properties'],
    ['two tasks per slot', (js) => (js.tasks[0].count = { per_slot: 2 }), 'tasks[0].count.per_slot: must be equal to constant'],
    ['a zero task total', (js) => (js.tasks[0].count = { total: 0 }), 'tasks[0].count.total: must be >= 1'],
    ['total and per_slot', (js) => (js.tasks[0].count = { total: 2, per_slot: 1 }), 'tasks[0].count: must NOT have more than 1 properties'],
    ['per_resource counts', (js) => (js.tasks[0].count = { per_resource: { type: 'node', count: 1 } }), 'tasks[0].count: must NOT have additional properties'],
    ['a task key V1 lacks', (js) => (js.tasks[0].attributes = {}), 'tasks[0]: must NOT have additional properties'],
    ['no system attributes', (js) => (js.attributes = { user: { a: 1 } }), "attributes: must have required property 'system'"],
    ['no duration', (js) => delete js.attributes.system.duration, "attributes.system: must have required property 'duration'"],
    ['a negative duration', (js) => (js.attributes.system.duration = -1), 'attributes.system.duration: must be >= 0'],
    ['a duration string', (js) => (js.attributes.system.duration = '1h'), 'attributes.system.duration: must be number'],
    ['an environment value not a string', (js) => (js.attributes.system.environment.N = 1), 'attributes.system.environment.N: must be string'],
    ['a job name not a string', (js) => (js.attributes.system.job = { name: 7 }), 'attributes.system.job.name: must be string'],
    ['shell options not an object', (js) => (js.attributes.system.shell = { options: [] }), 'attributes.system.shell.options: must be object'],
    ['a dependency without a value', (js) => (js.attributes.system.dependencies = [{ scheme: 'afterok' }]), "attributes.system.dependencies[0]: must have required property 'value'"],
    ['an attributes section flux does not know', (js) => (js.attributes.extra = {}), 'attributes: must NOT have additional properties'],
    ['user attributes not an object', (js) => (js.attributes.user = 'x'), 'attributes.user: must be object'],
    ['a file without data', (js) => (js.attributes.system.files = { s: { mode: 0o100600, encoding: 'utf-8' } }), "attributes.system.files.s: must have required property 'data'"],
    ['a file in an unknown encoding', (js) => (js.attributes.system.files = { s: { mode: 0o100600, encoding: 'lz4', data: '' } }), 'attributes.system.files.s.encoding: must be equal to one of the allowed values'],
    ['a file outside the job\'s directory', (js) => (js.attributes.system.files = { '../s': { mode: 0o100600, encoding: 'utf-8', data: '' } }), "../s: a job's file must have a relative path inside its directory"],
  ];
  for (const [name, breakIt, message] of broken) {
    it(`rejects ${name}`, () => {
      const js = clone(example1) as Record<string, any>;
      breakIt(js);
      expect(failure(() => validateJobspec(js)).message).toBe(message);
    });
  }
});

describe('resourceRequest', () => {
  it('reads node, slot, core and gpu counts', () => {
    expect(resourceRequest(validateJobspec(clone(example1)))).toEqual({
      nnodes: 4, nslots: 4, coresPerSlot: 2, gpusPerSlot: 0, exclusive: false, duration: 3600, ntasks: 4,
    });
    expect(resourceRequest(validateJobspec(clone(useCase24)))).toEqual({
      nnodes: 4, nslots: 16, coresPerSlot: 1, gpusPerSlot: 1, exclusive: false, duration: 3600, ntasks: 16,
    });
    expect(resourceRequest(validateJobspec(clone(useCase23)))).toEqual({
      nnodes: 0, nslots: 10, coresPerSlot: 2, gpusPerSlot: 1, exclusive: false, duration: 3600, ntasks: 10,
    });
  });

  it('takes a task total over the slot count', () => {
    expect(resourceRequest(validateJobspec(clone(useCase21))).ntasks).toBe(5);
  });

  it('is exclusive when the node vertex says so', () => {
    expect(resourceRequest(validateJobspec(clone(dryRun.N4))).exclusive).toBe(true);
    expect(resourceRequest(validateJobspec(clone(dryRun.N4n16))).exclusive).toBe(false);
  });

  it('counts tasks of the per-resource shell option as flux-core\'s job-list does', () => {
    expect(resourceRequest(validateJobspec(clone(dryRun.N4perNode4))).ntasks).toBe(16);
    expect(resourceRequest(validateJobspec(clone(dryRun.cores4perCore4))).ntasks).toBe(16);
    // tasks per core of whole nodes: known only once the nodes are allocated
    const perCoreOnNodes = clone(dryRun.N4) as Record<string, any>;
    perCoreOnNodes.attributes.system.shell = { options: { 'per-resource': { type: 'core', count: 4 } } };
    expect(resourceRequest(validateJobspec(perCoreOnNodes)).ntasks).toBe(0);
  });
});

describe('jobName', () => {
  it('is job.name, else the basename of the command', () => {
    const js = validateJobspec(clone(useCase11));
    expect(jobName(js)).toBe('flux');
    js.tasks[0].command = ['/usr/bin/hostname'];
    expect(jobName(js)).toBe('hostname');
    js.tasks[0].command = ['some/dir/'];
    expect(jobName(js)).toBe('some/dir/');
    js.attributes.system.job = { name: 'named' };
    expect(jobName(js)).toBe('named');
  });
});

describe('buildJobspec', () => {
  const build = (o: Partial<SubmitOptions>) => buildJobspec({ command: ['hostname'], cwd: '/tmp/job', ...o });
  // job-list's copies of flux-core's output dropped the environment; ours always carries one
  const withoutEnv = (js: Jobspec) => {
    delete js.attributes.system.environment;
    return js;
  };

  it('prints what flux-core\'s flux submit --dry-run printed, key order included', () => {
    const cases: [Partial<SubmitOptions>, object][] = [
      [{ nodes: 4 }, dryRun.N4],
      [{ nodes: 4, ntasks: 16 }, dryRun.N4n16],
      [{ ntasks: 1, coresPerTask: 4 }, dryRun.c4],
      [{ nodes: 4, tasksPerNode: 4 }, dryRun.N4perNode4],
      [{ cores: 4, tasksPerCore: 4 }, dryRun.cores4perCore4],
    ];
    for (const [options, expected] of cases) {
      expect(JSON.stringify(withoutEnv(build(options)))).toBe(JSON.stringify(expected));
    }
  });

  it('builds the jobspec of flux run -n4 hostname', () => {
    const js = buildJobspec({ command: ['hostname'], ntasks: 4, cwd: '/home/u', environment: { PATH: '/bin' } });
    expect(JSON.stringify(js)).toBe(
      '{"resources":[{"type":"slot","count":4,"with":[{"type":"core","count":1}],"label":"task"}],'
        + '"tasks":[{"command":["hostname"],"slot":"task","count":{"per_slot":1}}],'
        + '"attributes":{"system":{"duration":0,"environment":{"PATH":"/bin"},"cwd":"/home/u"}},"version":1}',
    );
    expect(() => validateJobspec(js)).not.toThrow();
  });

  it('one task on one core by default', () => {
    expect(build({}).resources).toEqual([{ type: 'slot', count: 1, with: core1, label: 'task' }]);
    // flux-core reads -n0 and -c0 as not given
    expect(build({ ntasks: 0, coresPerTask: 0 }).resources).toEqual([{ type: 'slot', count: 1, with: core1, label: 'task' }]);
  });

  it('spreads -n over -N with as many slots per node as the busiest node needs', () => {
    const js = build({ ntasks: 5, nodes: 2 });
    expect(js.resources[0]).toEqual({ type: 'node', count: 2, with: [{ type: 'slot', count: 3, with: core1, label: 'task' }] });
    expect(js.tasks[0].count).toEqual({ total: 5 });
    expect(resourceRequest(validateJobspec(js))).toMatchObject({ nnodes: 2, nslots: 6, ntasks: 5 });
  });

  it('-x marks the node vertex exclusive', () => {
    expect(build({ ntasks: 4, nodes: 2, exclusive: true }).resources[0]).toMatchObject({ type: 'node', exclusive: true });
  });

  it('-g adds a gpu vertex after the cores, -g0 none', () => {
    expect(build({ gpusPerTask: 2 }).resources[0].with).toEqual([{ type: 'core', count: 1 }, { type: 'gpu', count: 2 }]);
    expect(build({ gpusPerTask: 0 }).resources[0].with).toEqual(core1);
  });

  it('refuses the combinations flux-core refuses', () => {
    const cases: [Partial<SubmitOptions>, string][] = [
      [{ command: [] }, 'job command and arguments are missing'],
      [{ ntasks: 2, nodes: 3 }, 'node count must not be greater than task count'],
      [{ ntasks: 2, exclusive: true }, 'exclusive can only be set with a node count'],
      [{ ntasks: -1 }, 'task count must be a integer >= 1'],
      [{ coresPerTask: 1.5 }, 'cores per task must be an integer >= 1'],
      [{ gpusPerTask: -1 }, 'gpus per task must be an integer >= 0'],
      [{ ntasks: 2, nodes: -1 }, 'node count must be an integer >= 1 (if set)'],
      [{ tasksPerNode: 2, tasksPerCore: 2 }, 'Do not specify both the number of tasks per node and per core'],
      [{ nodes: 2, tasksPerNode: 0 }, '--tasks-per-node must be >= 1'],
      [{ cores: 2, tasksPerCore: 0 }, '--tasks-per-core must be >= 1'],
      [{ gpusPerNode: 1 }, '--gpus-per-node requires --nodes'],
      [{ nodes: 2, tasksPerNode: 2, ntasks: 4 }, "Per-resource options can't be used with per-task options. (See --help for details)"],
      [{ cores: 3, nodes: 2 }, 'number of cores must be evenly divisible by node count'],
      [{ cores: 1, nodes: 2 }, 'number of cores cannot be less than nnodes'],
      [{ tasksPerNode: 2 }, 'must specify node or core count with per_resource'],
      [{ cores: 2, exclusive: true }, 'exclusive can only be set with a node count'],
      [{ timeLimit: -1 }, 'duration must not be negative'],
      [{ timeLimit: Infinity }, 'duration must be a normal, finite value'],
    ];
    for (const [options, message] of cases) expect(failure(() => build(options)).message, message).toBe(message);
  });

  it('per-resource options: --cores over nodes, --gpus-per-node', () => {
    const js = build({ nodes: 2, cores: 8, gpusPerNode: 1, tasksPerNode: 1 });
    expect(js.resources[0]).toEqual({
      type: 'node', count: 2, with: [{ type: 'slot', count: 1, with: [{ type: 'core', count: 4 }, { type: 'gpu', count: 1 }], label: 'task' }],
    });
    expect(js.attributes.system.shell).toEqual({ options: { 'per-resource': { type: 'node', count: 1 } } });
  });

  it('sets time limit, name, cwd, environment, queue and rlimits where flux-core puts them', () => {
    const js = build({ timeLimit: 432000, jobName: 'foobar', queue: 'batch', environment: { A: 'b' }, rlimit: { core: 0 } });
    expect(js.attributes.system).toEqual({
      duration: 432000, environment: { A: 'b' }, cwd: '/tmp/job', shell: { options: { rlimit: { core: 0 } } },
      job: { name: 'foobar' }, queue: 'batch',
    });
    expect(Object.keys(js.attributes.system)).toEqual(['duration', 'environment', 'cwd', 'shell', 'job', 'queue']);
  });

  it('redirects input, output and error to files in shell options', () => {
    const out = build({ output: 'my/file', error: '/my/error', input: 'in.txt' }).attributes.system.shell!.options!;
    expect(out).toEqual({
      input: { stdin: { type: 'file', path: 'in.txt' } },
      output: { stdout: { type: 'file', path: 'my/file' }, stderr: { type: 'file', path: '/my/error' } },
    });
    const labelled = build({ output: 'foo', labelIo: true }).attributes.system.shell!.options!;
    expect(labelled.output).toEqual({ stdout: { type: 'file', path: 'foo', label: true } });
    expect(build({ output: 'foo.{{id}}' }).attributes.system.shell!.options!.output).toEqual({ stdout: { type: 'file', path: 'foo.{{id}}' } });
  });

  it('leaves output in the KVS for --output=none/kvs and stdin to attach for --input=IDSET', () => {
    expect(build({ output: 'none' }).attributes.system.shell).toBeUndefined();
    expect(build({ output: 'kvs', labelIo: true }).attributes.system.shell).toBeUndefined();
    expect(build({ input: '0-1' }).attributes.system.shell).toBeUndefined();
  });

  it('--unbuffered turns off output buffering', () => {
    expect(build({ unbuffered: true }).attributes.system.shell).toEqual({
      options: { output: { stdout: { buffer: { type: 'none' } }, stderr: { buffer: { type: 'none' } }, 'batch-timeout': 0.05 } },
    });
  });

  it('--setopt: dotted keys, JSON values, 1 without a value (flux-core\'s t2710 cases)', () => {
    const js = build({ setopt: ['foo=true', 'baz', 'bar.baz=42', 'name=not json', { key: 'file', value: [1] }] });
    expect(js.attributes.system.shell!.options).toEqual({ foo: true, baz: 1, bar: { baz: 42 }, name: 'not json', file: [1] });
  });

  it('--setattr: system. implied, user. and a leading dot as flux-core\'s t2710 expects', () => {
    const js = build({
      setattr: ['user.meep=false', 'user.foo="xxx"', 'user.foo2=yyy', 'foo', '.test=a', 'test2=b', 'system.bar=42', 'system.test={}'],
    }) as Jobspec & { attributes: Record<string, unknown> };
    expect(js.attributes.user).toEqual({ meep: false, foo: 'xxx', foo2: 'yyy' });
    expect(js.attributes.system).toMatchObject({ foo: 1, test2: 'b', bar: 42, test: {} });
    expect(js.attributes.test).toBe('a');
  });

  it('refuses a key path through a value that is not an object', () => {
    expect(failure(() => build({ setopt: ['a=1', 'a.b=2'] })).message).toBe('failed to set shell.options.a.b: a is not an object');
    expect(failure(() => build({ setopt: ['a..b=1'] })).message).toBe('failed to set shell.options.a..b: empty key component');
  });

  it('a key named __proto__ is data, not a prototype', () => {
    const js = build({ setopt: ['__proto__.polluted=1'] });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.stringify(js.attributes.system.shell)).toBe('{"options":{"__proto__":{"polluted":1}}}');
  });

  it('copies the command rather than sharing it', () => {
    const command = ['sleep', '1'];
    const js = buildJobspec({ command });
    command.push('x');
    expect(js.tasks[0].command).toEqual(['sleep', '1']);
  });
});

describe('J', () => {
  // flux-core's own signer's header for userid 1000 (its sign_none unit test)
  const header1000 = 'dmVyc2lvbgBpMQB1c2VyaWQAaTEwMDAAbWVjaGFuaXNtAHNub25lAA==';
  const b64 = (s: string) => Buffer.from(s).toString('base64');

  it('writes flux-core\'s header and the compact JSON payload, signature "none"', () => {
    const js = buildJobspec({ command: ['true'] });
    const J = encodeJ(js, 1000);
    const [h, p, s] = J.split('.');
    expect(h).toBe(header1000);
    expect(Buffer.from(p!, 'base64').toString()).toBe(JSON.stringify(js));
    expect(s).toBe('none');
  });

  it('round-trips', () => {
    const js = buildJobspec({ command: ['echo', 'ƒ ✓'], environment: { X: 'y' } });
    expect(decodeJ(encodeJ(js, 0))).toEqual({ userid: 0, mechanism: 'none', jobspec: js });
    expect(decodeJ(encodeJ(js, 4294967294)).userid).toBe(4294967294);
  });

  it('reads headers in flux-security\'s key order too, and with extra keys', () => {
    const J = (header: string) => `${b64(header)}.${b64('{"a":1}')}.none`;
    expect(decodeJ(J('version\0i1\0mechanism\0snone\0userid\0i42\0'))).toEqual({ userid: 42, mechanism: 'none', jobspec: { a: 1 } });
    expect(decodeJ(J('x\0s1\0userid\0i42\0mechanism\0snone\0version\0i1\0')).userid).toBe(42);
  });

  it('returns another mechanism unverified for the caller to judge', () => {
    const J = `${b64('version\0i1\0mechanism\0smunge\0userid\0i42\0munge.cred\0sxyz\0')}.${b64('{}')}.c2ln`;
    expect(decodeJ(J).mechanism).toBe('munge');
  });

  it('rejects garbage with flux-security\'s messages', () => {
    const payload = b64('{"a":1}');
    const J = (header: string) => `${b64(header)}.${payload}.none`;
    const cases: [string, string][] = [
      ['', 'sign-unwrap: header decode error: Invalid argument'],
      ['none', 'sign-unwrap: header decode error: Invalid argument'],
      [`%mVyc2lvbgBpMQB1c2VyaWQAaTEwMDAAbWVjaGFuaXNtAHNub25lAA==.${payload}.none`, 'sign-unwrap: header decode error: Invalid argument'],
      [`${header1000}.%m9vAA==.none`, 'sign-unwrap: payload decode error: Invalid argument'],
      [`${header1000}.none`, 'sign-unwrap: payload decode error: Invalid argument'],
      [`${header1000}.${payload}.wrong`, 'sign-none-verify: signature invalid'],
      [`${header1000}.${payload}`, 'sign-unwrap: payload decode error: Invalid argument'],
      [`${header1000.slice(0, -2)}.${payload}.none`, 'sign-unwrap: header decode error: Invalid argument'],
      [`${header1000}.${payload.replace(/=+$/, '')}.none`, 'sign-unwrap: payload decode error: Invalid argument'],
      [`${header1000}.${b64('{"a":"\u00ff\u00fe"}').replace(/\//g, '_').replace(/\+/g, '-')}.none`, 'sign-unwrap: payload decode error: Invalid argument'],
      [`${header1000}.Zm9vAB==.none`, 'sign-unwrap: payload decode error: Invalid argument'],
      [J('version\0i2\0userid\0i1000\0mechanism\0snone\0'), 'sign-unwrap: header version=2 unknown'],
      [J('version\0s1\0userid\0i1000\0mechanism\0snone\0'), 'sign-unwrap: header version missing'],
      [J('userid\0i1000\0mechanism\0snone\0'), 'sign-unwrap: header version missing'],
      [J('version\0i1\0userid\0i-1\0mechanism\0snone\0'), 'sign-unwrap: header userid=-1 invalid'],
      [J('version\0i1\0userid\0s42\0mechanism\0snone\0'), 'sign-unwrap: header userid missing'],
      [J('version\0i1\0mechanism\0snone\0'), 'sign-unwrap: header userid missing'],
      [J('version\0i1\0userid\0i1000\0mechanism\0inone\0'), 'sign-unwrap: header mechanism missing'],
      [J('version\0i1\0userid\0i1000\0'), 'sign-unwrap: header mechanism missing'],
      [J('version\0i1\0userid\0i1000\0mechanism\0sbogus\0'), 'sign-unwrap: header mechanism=bogus unknown'],
      [J('\0version\0i1\0userid\0i1000\0mechanism\0snone\0'), 'sign-unwrap: header decode error: Invalid argument'],
      [J('version\0i1\0userid\0i1000\0mechanism\0snone'), 'sign-unwrap: header decode error: Invalid argument'],
      [J('version\0x1\0userid\0i1000\0mechanism\0snone\0'), 'sign-unwrap: header decode error: Invalid argument'],
    ];
    for (const [J, message] of cases) expect(failure(() => decodeJ(J)).message, JSON.stringify(J)).toBe(message);
  });

  it('rejects a payload that is not JSON', () => {
    // flux-core's sign_none test payload "foo\0" is not a jobspec
    expect(failure(() => decodeJ(`${header1000}.Zm9vAA==.none`)).message).toMatch(/^jobspec: invalid JSON/);
    expect(failure(() => decodeJ(`${header1000}..none`)).message).toMatch(/^jobspec: invalid JSON/);
  });

  it('refuses a userid that is not a non-negative integer', () => {
    expect(failure(() => encodeJ({}, -1)).message).toBe('invalid userid -1');
    expect(failure(() => encodeJ({}, 1.5)).message).toBe('invalid userid 1.5');
  });
});
