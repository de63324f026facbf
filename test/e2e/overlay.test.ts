// `flux overlay` and the overlay, state-machine services against a real size-8, fanout-2 instance: the tree as
// flux-core draws it, its options, the payloads flux-core's own tools read, and a subtree cut off on request.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Flux } from '../../src/api/handle.js';
import { payloadString } from '../../src/core/wire/message.js';
import { startInstance, until, type Instance } from '../helpers/instance.js';

let inst: Instance;
let h: Flux;
let host: string;

beforeAll(async () => {
  inst = await startInstance(8, ['-o,-Stbon.fanout=2']);
  h = await Flux.open(inst.uri);
  host = String((await h.call('attr.get', { name: 'hostname' })).value);
}, 60_000);

afterAll(async () => {
  h?.close();
  await inst?.stop();
});

const tree = (s: string) => s.replaceAll('H', host);

describe('flux overlay status', () => {
  it('draws the whole tree, every broker full', async () => {
    const r = await inst.flux(['overlay', 'status']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(tree([
      '0 H: full', '├─ 1 H: full', '│  ├─ 3 H: full', '│  │  └─ 7 H: full', '│  └─ 4 H: full',
      '└─ 2 H: full', '   ├─ 5 H: full', '   └─ 6 H: full', '',
    ].join('\n')));
  });

  it('-v adds the time in the state, -vv the round trip; --summary, --no-pretty and -r narrow it', async () => {
    const v = (await inst.flux(['overlay', 'status', '-v'])).stdout.split('\n');
    expect(v[0]).toMatch(new RegExp(`^0 ${host}: full for \\d+(\\.\\d+)?(ms|s|m)$`));
    expect(v).toHaveLength(9);
    const vv = (await inst.flux(['overlay', 'status', '-vv', '-r', '3'])).stdout;
    expect(vv).toMatch(new RegExp(`^3 ${host}: full for \\S+ \\(\\d+\\.\\d{3} ms\\)\\n└─ 7 ${host}: full for \\S+ \\(\\d+\\.\\d{3} ms\\)\\n$`));
    expect((await inst.flux(['overlay', 'status', '--summary'])).stdout).toBe(`0 ${host}: full\n`);
    expect((await inst.flux(['overlay', 'status', '--no-pretty', '-r', '1'])).stdout).toBe(tree('1 H: full\n3 H: full\n7 H: full\n4 H: full\n'));
    expect((await inst.flux(['overlay', 'status', '-H', '7', '-r', '1'])).stdout)
      .toBe(tree('<<1 H>>: full\n├─ <<3 H>>: full\n│  └─ <<7 H>>: full\n└─ 4 H: full\n'));
    expect((await inst.flux(['overlay', 'status', '-L', 'always', '--summary'])).stdout).toBe(`0 ${host}: \x1b[32mfull\x1b[0m\n`);
  });

  it('rejects bad arguments with one line', async () => {
    const w = await inst.flux(['overlay', 'status', '-w', 'sideways']);
    expect(w.code).toBe(1);
    expect(w.stderr).toBe('flux-overlay: --wait: unknown status "sideways" (full, partial, degraded, lost, offline)\n');
    const r = await inst.flux(['overlay', 'status', '-r', '8']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('flux-overlay: rank 8 is not in this instance of size 8\n');
    const p = await inst.flux(['overlay', 'parentof', '0']);
    expect(p.stderr).toBe('flux-overlay: rank 0 has no parent\n');
    const l = await inst.flux(['overlay', 'lookup', 'nosuchhost']);
    expect(l.stderr).toBe('flux-overlay: nosuchhost: no such host in this instance\n');
  });

  it('lookup and parentof translate with the instance\'s topology', async () => {
    expect((await inst.flux(['overlay', 'parentof', '7'])).stdout).toBe('3\n');
    expect((await inst.flux(['overlay', 'parentof', '2'])).stdout).toBe('0\n');
    expect((await inst.flux(['overlay', 'lookup', host])).stdout).toBe('0-7\n');
    expect((await inst.flux(['overlay', 'lookup', '0-1'])).stdout).toBe(`${host},${host}\n`);
  });
});

describe('the overlay services', () => {
  it('overlay.health answers durations as reals, as flux-core\'s client unpacks them', async () => {
    const m = await h.rpc('overlay.health', undefined, { nodeid: 1 });
    const text = payloadString(m);
    expect(text).toMatch(/^\{"rank":1,"status":"full","duration":\d+\.\d+(e-?\d+)?,"children":\[\{"rank":3,"status":"full","duration":\d+\.\d+/);
  });

  it('overlay.topology gives the subtree with sizes; state-machine.get the broker\'s state; stats the traffic', async () => {
    const topo = await h.call('overlay.topology', { rank: 1 }, { nodeid: 1 });
    expect(topo).toEqual({
      rank: 1, size: 4, host,
      children: [
        { rank: 3, size: 2, host, children: [{ rank: 7, size: 1, host, children: [] }] },
        { rank: 4, size: 1, host, children: [] },
      ],
    });
    expect(await h.call('state-machine.get', undefined, { nodeid: 5 })).toEqual({ state: 'run' });
    const stats = await h.call('overlay.stats-get', undefined, { nodeid: 1 });
    expect(stats).toMatchObject({ 'child-count': 2, 'child-connected': 2, 'parent-count': 1 });
    expect((stats['child-rx'] as Record<string, number>).control).toBeGreaterThan(0);
    expect((stats['parent-rx'] as Record<string, number>).request).toBeGreaterThan(0);
  });

  it('disconnect cuts a subtree off: its root is lost, the rest presumed, watchers told at once', async () => {
    const seen: string[] = [];
    const watch = h.stream('overlay.health', undefined, { nodeid: 1 }, (m) => {
      const status = (JSON.parse(payloadString(m) ?? '') as { status: string }).status;
      seen.push(status);
      return status !== 'degraded';
    });
    await until('the first health answer', async () => (seen.length > 0 ? true : undefined));
    const d = await inst.flux(['overlay', 'disconnect', '3']);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stderr).toBe(`flux-overlay: asking ${host} (rank 1) to disconnect child ${host} (rank 3)\n`);
    await watch;
    expect(seen).toEqual(['full', 'degraded']);
    const s = await inst.flux(['overlay', 'status']);
    expect(s.stdout).toBe(tree([
      '0 H: degraded', '├─ 1 H: degraded', '│  ├─ 3 H: lost', '│  │  └─ 7 H: lost', '│  └─ 4 H: full',
      '└─ 2 H: full', '   ├─ 5 H: full', '   └─ 6 H: full', '',
    ].join('\n')));
    expect((await inst.flux(['overlay', 'status', '--no-ghost', '--down'])).stdout)
      .toBe(tree('0 H: degraded\n└─ 1 H: degraded\n   └─ 3 H: lost\n'));
    expect((await inst.flux(['overlay', 'errors'])).stdout).toBe(`${host}: administrative disconnect\n`);
    // the cut-off broker and the one behind it
    expect((await inst.flux(['uptime'])).stdout).toMatch(/,  size 8,  2 offline\n$/);
    expect((await inst.flux(['overlay', 'status', '-w', 'degraded', '--summary'])).stdout).toBe(`0 ${host}: degraded\n`);
    // let go, the broker says nothing more to its parent on its way out (each word an error in the parent's log)
    expect(inst.stderr()).not.toMatch(/has not said hello/);
  }, 30_000);
});
