// Hardware discovery on real instances: every broker runs lstopo on this machine, so an instance of size N
// has N machines with this machine's cores each, as flux-core's test instances do. flux hwloc info|topology,
// the instance's R through the api, and no journal entry for any of it.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, startInstance, type Instance } from '../helpers/instance.js';
import { scratchDir } from '../helpers/scratch-dir.js';
import { Flux } from '../../src/api/handle.js';
import { instanceR, rankTopology, topology } from '../../src/api/resource.js';
import { LSTOPO } from '../../src/core/resource/discovery.js';
import { parseHwlocXml } from '../../src/core/resource/hwloc-xml.js';
import { compressHostlist } from '../../src/core/resource/hostlist.js';
import { countNodes, encodeR } from '../../src/core/resource/rset.js';

/** this machine as the brokers see it */
const machine = parseHwlocXml(execFileSync(LSTOPO[0]!, LSTOPO.slice(1), { encoding: 'utf8' }));
const cores = machine.counts.Core ?? 0;
const pus = machine.counts.PU ?? 0;
const coreIds = cores === 1 ? '0' : `0-${cores - 1}`;
const host = machine.hostname ?? hostname();

describe('resources of a size-4 instance (fanout 2)', () => {
  let inst: Instance;
  let h: Flux;

  beforeAll(async () => {
    inst = await startInstance(4, ['-S', 'tbon.fanout=2']);
    h = await Flux.open(inst.uri);
  });

  afterAll(async () => {
    h?.close();
    expect(await inst.stop()).toBe(0);
  });

  it('flux hwloc info counts four machines of this one', async () => {
    expect(await inst.flux(['hwloc', 'info'])).toMatchObject({ code: 0, stderr: '', stdout: `4 Machines, ${4 * cores} Cores, ${4 * pus} PUs\n` });
  });

  it('flux hwloc info -r and -l count one', async () => {
    const one = `1 Machine, ${cores} Cores, ${pus} PUs\n`;
    expect(await inst.flux(['hwloc', 'info', '-r', '1'])).toMatchObject({ code: 0, stderr: '', stdout: one });
    expect(await inst.flux(['hwloc', 'info', '-l'])).toMatchObject({ code: 0, stderr: '', stdout: one });
    expect((await inst.flux(['hwloc', 'info', '-r', '2-3'])).stdout).toBe(`2 Machines, ${2 * cores} Cores, ${2 * pus} PUs\n`);
    expect(await inst.flux(['hwloc', 'info', '-r', '7'])).toMatchObject({ code: 1, stdout: '', stderr: "flux-hwloc: Invalid rank argument: '7'\n" });
  });

  it('flux hwloc topology prints one document with the four machines', async () => {
    const r = await inst.flux(['hwloc', 'topology']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.match(/<object type="Machine"/g)?.length).toBe(4);
    expect(r.stdout.match(/<object type="System"/g)?.length).toBe(1);
    expect(parseHwlocXml(r.stdout).counts).toMatchObject({ Machine: 4, Core: 4 * cores, PU: 4 * pus });
  });

  it('the api gives the instance\'s R: ranks 0-3 with this machine\'s cores, and each rank\'s XML', async () => {
    const version = (await inst.flux(['kvs', 'version'])).stdout;
    const set = await instanceR(h);
    expect(encodeR(set)).toEqual({
      version: 1,
      execution: {
        R_lite: [{ rank: '0-3', children: machine.gpus.length > 0 ? { core: coreIds, gpu: `0-${machine.gpus.length - 1}` } : { core: coreIds } }],
        starttime: 0,
        expiration: 0,
        nodelist: [compressHostlist([host, host, host, host])],
      },
    });
    const xml = await topology(h);
    expect(xml.map((x) => [x.rank, parseHwlocXml(x.xml).counts.Core])).toEqual([[0, cores], [1, cores], [2, cores], [3, cores]]);
    expect(await rankTopology(h, { nodeid: 3 })).toMatchObject({ rank: 3, summary: { cores: machine.cores } });
    // discovery is not journaled
    expect((await inst.flux(['kvs', 'version'])).stdout).toBe(version);
  });
});

describe('resources of a size-1 instance', () => {
  let inst: Instance;

  beforeAll(async () => {
    inst = await startInstance(1);
  });

  afterAll(async () => {
    expect(await inst.stop()).toBe(0);
  });

  it('flux hwloc info, topology and R see this machine once', async () => {
    expect((await inst.flux(['hwloc', 'info'])).stdout).toBe(`1 Machine, ${cores} Cores, ${pus} PUs\n`);
    const local = await inst.flux(['hwloc', 'topology', '-l']);
    expect(parseHwlocXml(local.stdout).counts).toMatchObject({ Machine: 1, Core: cores });
    const h = await Flux.open(inst.uri);
    try {
      const set = await instanceR(h);
      expect(countNodes(set)).toBe(1);
      expect(set.nodes[0]).toMatchObject({ rank: 0, hostname: host, cores: machine.cores });
    } finally {
      h.close();
    }
  });
});

describe('one discovery for the brokers of one host', () => {
  const scratch = scratchDir('flux-test-hwloc-');
  let runs = '';
  let env: NodeJS.ProcessEnv = {};
  const times = (n: number) => `${n} Machine${n === 1 ? '' : 's'}, ${n * cores} Cores, ${n * pus} PUs\n`;

  beforeAll(() => {
    const dir = scratch.path;
    runs = join(dir, 'runs');
    const real = execFileSync('sh', ['-c', `command -v ${LSTOPO[0]}`], { encoding: 'utf8' }).trim();
    // an lstopo that counts its runs before it runs the real one
    writeFileSync(join(dir, LSTOPO[0]!), `#!/bin/sh\necho run >>'${runs}'\nexec '${real}' "$@"\n`);
    chmodSync(join(dir, LSTOPO[0]!), 0o755);
    env = { PATH: `${dir}:${process.env.PATH}` };
  });

  it('flux start --size 4 runs lstopo once and its brokers read what it printed', async () => {
    rmSync(runs, { force: true });
    // the initial program is not handed the instance's file: what it starts discovers afresh
    const r = await run(['start', '--size', '4', 'sh', '-c', 'flux hwloc info; echo "[${FLUX_HWLOC_XMLFILE:-unset}]"'], { env });
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: `${times(4)}[unset]\n` });
    expect(readFileSync(runs, 'utf8')).toBe('run\n');
  });

  it('a launcher whose discovery fails leaves each broker to discover for itself', async () => {
    rmSync(runs, { force: true });
    const dir = join(scratch.path, 'fails-once');
    mkdirSync(dir);
    const failed = join(dir, 'failed');
    const real = execFileSync('sh', ['-c', `command -v ${LSTOPO[0]}`], { encoding: 'utf8', env: { PATH: env.PATH } }).trim();
    // the first run (the launcher's) fails; the brokers' runs after it work
    writeFileSync(join(dir, LSTOPO[0]!), `#!/bin/sh\nif [ ! -e '${failed}' ]; then : >'${failed}'; echo failed >>'${runs}'; exit 1; fi\n`
      + `exec '${real}' "$@"\n`);
    chmodSync(join(dir, LSTOPO[0]!), 0o755);
    const r = await run(['start', '--size', '4', 'flux', 'hwloc', 'info'], { env: { PATH: `${dir}:${env.PATH}` } });
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: times(4) });
    // the launcher's failed run, then one in each broker (through the counting lstopo the real one names)
    expect(readFileSync(runs, 'utf8')).toBe(`failed\n${'run\n'.repeat(4)}`);
  });

  it('a size-1 instance discovers in its broker, once', async () => {
    rmSync(runs, { force: true });
    expect(await run(['start', 'flux', 'hwloc', 'info'], { env })).toMatchObject({ code: 0, stderr: '', stdout: times(1) });
    expect(readFileSync(runs, 'utf8')).toBe('run\n');
  });

  it('FLUX_HWLOC_XMLFILE given to flux start is what every broker reports, and lstopo never runs', async () => {
    rmSync(runs, { force: true });
    const file = fileURLToPath(new URL('../fixtures/hwloc/two-package-gpus.xml', import.meta.url));
    const r = await run(['start', '--size', '2', 'sh', '-c', 'flux hwloc info; echo "[$FLUX_HWLOC_XMLFILE]"'], { env: { ...env, FLUX_HWLOC_XMLFILE: file } });
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: `2 Machines, 8 Cores, 16 PUs\n[${file}]\n` });
    expect(() => readFileSync(runs)).toThrow(/ENOENT/);
  });

  it('the shared file goes with the rundir, even a kept one', async () => {
    const rundir = join(scratch.path, 'rundir');
    const r = await run(['start', '--size', '2', '--test-rundir', rundir, 'sh', '-c', `test -s ${rundir}/hwloc.xml && echo held`], { env });
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: 'held\n' });
    expect(() => readFileSync(join(rundir, 'hwloc.xml'))).toThrow(/ENOENT/);
  });
});
