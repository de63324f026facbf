// Jobs across the brokers of a size-4 instance (fanout 2): tasks spread over ranks, the job's PMI-1 exchange
// spanning brokers (an MPICH program, a nested flux instance, a C program that dlopens our libpmi.so), the
// instance's resources as flux resource and flux hwloc print them, and commands run on a leaf broker; and, on
// nodes of two cores each (a topology file), how -N and the per-resource options place tasks.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Flux } from '../../src/api/handle.js';
import { background, startInstance, until, ROOT, type Instance } from '../helpers/instance.js';
import { compileC } from '../helpers/pmi-job.js';

let inst: Instance;
let dir: string;
/** tasks find `flux` on the PATH they were submitted with, as a user's would */
const withFlux = { PATH: `${join(ROOT, 'bin')}:${process.env.PATH ?? ''}` };
const lines = (s: string) => s.split('\n').filter((l) => l.length > 0);
const fixture = (name: string) => join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', name);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flux-jobs-multi-'));
  inst = await startInstance(4, ['-S', 'tbon.fanout=2']);
});

afterAll(async () => {
  await inst?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** the cores each broker of this machine has: every rank of a test instance discovers the same machine */
async function coresPerRank(): Promise<number> {
  const info = await inst.flux(['resource', 'info']);
  const m = /^4 Nodes, (\d+) Cores, 0 GPUs$/.exec(info.stdout.trim());
  expect(m, info.stdout).not.toBeNull();
  return Number(m![1]) / 4;
}

describe('jobs on a size-4 instance', () => {
  it('lists the instance\'s resources: 4 nodes with this machine\'s cores each, free and allocated', async () => {
    const per = await coresPerRank();
    const list = await inst.flux(['resource', 'list']);
    expect(lines(list.stdout)[0]).toBe('     STATE NNODES   NCORES    NGPUS NODELIST');
    expect(list.stdout).toMatch(new RegExp(`\\n      free      4 +${4 * per}        0 \\S+\\n allocated      0        0        0 \\n`));
    const hw = await inst.flux(['hwloc', 'info']);
    expect(hw.stdout).toMatch(new RegExp(`^4 Machines, ${4 * per} Cores, \\d+ PUs\\n$`));
    const id = (await inst.flux(['submit', '-N', '1', 'sleep', '30'])).stdout.trim();
    const allocated = new RegExp(`\\n allocated      1 +${per}        0 \\S+\\n`);
    await until('allocation', async () => (allocated.test((await inst.flux(['resource', 'list'])).stdout) ? true : undefined));
    expect((await inst.flux(['cancel', id])).code).toBe(0);
  });

  it('spreads tasks over the ranks, one per core, and labels their output', async () => {
    const per = await coresPerRank();
    const n = 4 * per;
    const r = await inst.flux(['run', '-n', String(n), '-l', 'sh', '-c', 'echo $FLUX_TASK_RANK $FLUX_TASK_LOCAL_ID $(flux getattr rank)'], { env: withFlux });
    expect(r.code).toBe(0);
    const got = lines(r.stdout).map((l) => l.replace(':', '').split(' ').map(Number));
    expect(got).toHaveLength(n);
    for (const [label, task, local, rank] of got) {
      expect(label).toBe(task);
      expect(rank).toBe(Math.floor(task! / per));
      expect(local).toBe(task! % per);
    }
    const nodes = await inst.flux(['run', '-N', '2', '-n', '2', 'sh', '-c', 'echo $FLUX_JOB_NNODES $(flux getattr rank)'], { env: withFlux });
    expect(lines(nodes.stdout).sort()).toEqual(['2 0', '2 1']);
  });

  it('boots an MPICH program through the job\'s PMI-1 server across brokers: every rank prints size 4', async () => {
    const prog = join(dir, 'mpi_hello');
    compileC('mpicc', ['-o', prog, fixture('mpi_hello.c')], 'libmpich-dev');
    const r = await inst.flux(['run', '-N', '2', '-n', '4', '-l', prog], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r.stdout).sort()).toEqual([0, 1, 2, 3].map((i) => `${i}: rank ${i} of size 4`));
  });

  it('lets programs dlopen the libpmi.so it names in conf.pmi_library_path and FLUX_PMI_LIBRARY_PATH', async () => {
    const lib = (await inst.flux(['getattr', 'conf.pmi_library_path'])).stdout.trim();
    expect(lib).toBe(join(ROOT, 'lib', 'libpmi.so'));
    const prog = join(dir, 'pmi_dlopen');
    compileC('cc', ['-std=c99', '-o', prog, fixture('pmi_dlopen.c'), '-ldl'], 'gcc');
    const r = await inst.flux(['run', '-N', '2', '-n', '4', prog]);
    expect(r.code, r.stderr).toBe(0);
    const out = lines(r.stdout).sort();
    expect(out).toHaveLength(4);
    out.forEach((l, i) => expect(l).toMatch(new RegExp(`^rank ${i} size 4 universe 4 kvsname ƒ\\S+ appnum -?\\d+ clique \\S+ exchange ok$`)));
  });

  it('runs flux under flux: a nested instance of 4 brokers bootstrapped by the job\'s PMI prints its size', async () => {
    const r = await inst.flux(['run', '-n', '4', 'flux', 'start', 'flux', 'getattr', 'size'], { timeoutMs: 60_000, env: withFlux });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('4\n');
  });

  it('serves submit, jobs and cancel from a leaf broker as from rank 0', async () => {
    const leaf = inst.uri.replace(/local-0$/, 'local-3');
    const env = { FLUX_URI: leaf };
    const id = (await inst.flux(['submit', 'sleep', '30'], { env })).stdout.trim();
    await until('running', async () => ((await inst.flux(['jobs', '-n', '-o', '{id.f58} {status_abbrev}'], { env })).stdout.includes(`${id} R`) ? true : undefined));
    expect((await inst.flux(['cancel', id], { env })).code).toBe(0);
    await until('canceled', async () => ((await inst.flux(['jobs', '-a', '-n', '-o', '{id.f58} {status_abbrev}'], { env })).stdout.includes(`${id} CA`) ? true : undefined));
    const run = await inst.flux(['run', '-n', '2', 'echo', 'from a leaf'], { env });
    expect(run.stdout).toBe('from a leaf\nfrom a leaf\n');
    // the job commands work the same from a leaf: eventlog, info, urgency, kill, wait, attach, and the past
    const held = (await inst.flux(['submit', '--urgency=hold', '--flags=waitable', 'sh', '-c', 'echo held-output'], { env })).stdout.trim();
    expect((await inst.flux(['job', 'eventlog', held], { env })).stdout).toMatch(/ priority priority=0\n$/);
    const seq = Number(/seq=(\d+)/.exec((await inst.flux(['journal', 'head'], { env })).stdout)![1]);
    expect((await inst.flux(['job', 'urgency', held, '20'], { env })).code).toBe(0);
    expect((await inst.flux(['job', 'wait', held], { env })).code).toBe(0);
    expect((await inst.flux(['job', 'attach', held], { env })).stdout).toBe('held-output\n');
    expect(JSON.parse((await inst.flux(['job', 'info', held, 'R'], { env })).stdout)).toMatchObject({ version: 1 });
    const past = await inst.flux(['jobs', '-a', '-n', '-o', '{id.f58} {status} {urgency}', '--at-seq', String(seq)], { env });
    expect(lines(past.stdout)).toContain(`${held} SCHED 0`);
    const sleeper = (await inst.flux(['submit', '-N', '1', '-x', 'sleep', '30'], { env })).stdout.trim();
    await until('running', async () => ((await inst.flux(['jobs', '-n', '-o', '{id.f58} {status_abbrev} {ncores}'], { env })).stdout.includes(`${sleeper} R`) ? true : undefined));
    expect((await inst.flux(['job', 'kill', '-s', 'KILL', sleeper], { env })).code).toBe(0);
    await until('killed', async () => ((await inst.flux(['jobs', '-a', '-n', '-o', '{id.f58} {returncode}'], { env })).stdout.includes(`${sleeper} 137`) ? true : undefined));
  });
});

describe('jobs over nodes of two cores', () => {
  let two: Instance;
  beforeAll(async () => {
    two = await startInstance(3, [], { env: { FLUX_HWLOC_XMLFILE: fixture('hwloc/vm-2core.xml') } });
  });
  afterAll(async () => {
    await two?.stop();
  });

  /** `flux run ARGS -l` of a task printing its broker's rank: "task: rank", in task order */
  async function placed(args: string[]): Promise<string[]> {
    const r = await two.flux(['run', ...args, '-l', 'sh', '-c', 'flux getattr rank'], { env: withFlux, timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    return lines(r.stdout).sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
  }

  it('runs -N jobs a task a node, spread evenly, however many cores each node brings', async () => {
    expect(await placed(['-N', '3'])).toEqual(['0: 0', '1: 1', '2: 2']);
    expect(await placed(['-N', '3', '-n', '4'])).toEqual(['0: 0', '1: 0', '2: 1', '3: 2']);
    expect(await placed(['-N', '2', '-n', '3'])).toEqual(['0: 0', '1: 0', '2: 1']);
  });

  it('counts --tasks-per-core on the cores each node has and --tasks-per-node on each node, and ends', async () => {
    expect(await placed(['-N', '2', '--tasks-per-core=1'])).toEqual(['0: 0', '1: 0', '2: 1', '3: 1']);
    expect(await placed(['-N', '3', '--tasks-per-node=2'])).toEqual(['0: 0', '1: 0', '2: 1', '3: 1', '4: 2', '5: 2']);
    // without -N, a task on each node the cores asked for fill
    expect(await placed(['--cores=4', '--tasks-per-node=1'])).toEqual(['0: 0', '1: 1']);
    // where the tasks ran, as the exec eventlog's shell.start says and flux job taskmap prints it
    const id = (await two.flux(['submit', '-N', '2', '-n', '3', 'true'], { env: withFlux })).stdout.trim();
    const tm = await two.flux(['job', 'taskmap', id], { env: withFlux });
    expect(tm, tm.stderr).toMatchObject({ code: 0, stdout: '{"version":1,"map":[[0,1,2,1],[1,1,1,1]]}\n' });
    expect((await two.flux(['job', 'taskmap', '--to=raw', id], { env: withFlux })).stdout).toBe('0-1;2\n');
    expect((await two.flux(['job', 'taskmap', '--nodeid=2', id], { env: withFlux })).stdout).toBe('1\n');
    expect((await two.flux(['job', 'taskmap', '--ntasks=0', id], { env: withFlux })).stdout).toBe('2\n');
    // flux jobs counts the tasks the job ran, which for --tasks-per-core only the allocation tells
    const listed = lines((await two.flux(['jobs', '-a', '-n', '-c', '4', '-o', '{ntasks}'], { env: withFlux })).stdout);
    expect(listed).toEqual(['3', '2', '6', '4']);
  });
});

describe('jobs when a rank is down', () => {
  it('fails a job on a rank that is lost, counts the rank down, schedules around it, and keeps a job that needs it waiting', async () => {
    const four = await startInstance(4, ['-S', 'tbon.fanout=2']);
    const h = await Flux.open(four.uri);
    try {
      // the resources are gathered while every rank is up; rank 3 is rank 1's child
      expect((await four.flux(['resource', 'list'])).stdout).toMatch(/\n      down      0 /);
      // a job running on every rank when rank 3 goes: it fails, and flux run returns with the tasks' end
      const running = background(four.uri, ['run', '-N', '4', 'sleep', '60']);
      await until('the job running', async () => ((await four.flux(['jobs', '-n', '-o', '{status_abbrev}'])).stdout === 'R\n' ? true : undefined));
      const pid = Number((await h.call('attr.get', { name: 'broker.pid' }, { nodeid: 3 })).value);
      process.kill(pid, 'SIGKILL');
      const ended = await running.done;
      expect(ended.code).toBe(143);
      expect(ended.stderr).toMatch(/job\.exception \S+ type=exec severity=0 rank 3: overlay disconnect\n/);
      const list = await until('rank 3 down', async () => {
        const out = (await four.flux(['resource', 'list'])).stdout;
        return /\n      down      1 /.test(out) ? out : undefined;
      });
      expect(list).toMatch(/\n      free      3 /);
      const status = await h.call('sched.resource-status', {});
      expect((status.down as { execution: { R_lite: Array<{ rank: string }> } }).execution.R_lite.map((e) => e.rank)).toEqual(['3']);
      const r = await four.flux(['run', '-N', '3', '-l', 'flux', 'getattr', 'rank'], { env: withFlux });
      expect(r.code, r.stderr).toBe(0);
      expect(lines(r.stdout).sort()).toEqual(['0: 0', '1: 1', '2: 2']);
      // a job that needs four nodes waits for the fourth, as one that needs busy cores would (and, first in the
      // queue, holds back those behind it, as flux-core's first-come-first-served scheduler does)
      const needsAll = (await four.flux(['submit', '-N', '4', 'true'])).stdout.trim();
      await new Promise((res) => setTimeout(res, 500));
      expect((await four.flux(['jobs', '-a', '-n', '-o', '{id.f58} {status}'])).stdout).toContain(`${needsAll} SCHED\n`);
      expect((await four.flux(['cancel', needsAll])).code).toBe(0);
    } finally {
      h.close();
      await four.stop();
    }
  }, 60_000);
});
