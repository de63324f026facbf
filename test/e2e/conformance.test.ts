// What flux-core's users and scripts expect of the commands, on a real instance: help and versions, uptime,
// flux-core's payload types in overlay.health, logger from stdin, dmesg -H, ping's errors, usage and routes,
// and the environment flux-core's tools look for inside an instance.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, startInstance, FLUX, ROOT, type Instance } from '../helpers/instance.js';
import { COMMANDS } from '../../src/command-table.js';
import { Flux } from '../../src/api/handle.js';
import { payloadString } from '../../src/core/wire/message.js';
import { JReal, parseJson } from '../../src/core/kvs/format-json.js';
import { VERSION } from '../../src/core/version.js';

describe('flux without an instance', () => {
  it('flux --help lists every command, on stderr as flux-core does', async () => {
    const r = await run(['--help']);
    expect(r).toMatchObject({ code: 0, stdout: '' });
    for (const [name, info] of Object.entries(COMMANDS)) {
      expect(r.stderr).toContain(`\n   ${name.padEnd(18)} ${info.summary}\n`);
    }
    expect((await run([])).code).toBe(1);
  });

  it('flux -V and flux version print flux-core\'s lines', async () => {
    const want = `commands:    \t\t${VERSION}\nlibflux-core:\t\t${VERSION}\nbuild-options:\t\t+zmq==4.3.5\n`;
    expect(await run(['-V'], { env: { FLUX_URI: '' } })).toMatchObject({ code: 0, stdout: want, stderr: '' });
    expect(await run(['version'], { env: { FLUX_URI: '' } })).toMatchObject({ code: 0, stdout: want, stderr: '' });
  });
});

describe('commands in a size-2 instance', () => {
  let inst: Instance;

  beforeAll(async () => {
    inst = await startInstance(2);
  });

  afterAll(async () => {
    expect(await inst.stop()).toBe(0);
  });

  it('flux version adds the broker and the URI inside an instance', async () => {
    const r = await inst.flux(['version']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').slice(2, 4)).toEqual([`broker:  \t\t${VERSION}`, `FLUX_URI:\t\t${inst.uri}`]);
  });

  it('flux uptime prints flux-core\'s line', async () => {
    const r = await inst.flux(['uptime']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^ \d\d:\d\d:\d\d run \d+(\.\d+)?(ms|s|m),  owner \S+,  depth 0,  size 2\n$/);
  });

  it('overlay.health carries durations as reals, as flux-core\'s client reads them', async () => {
    const h = await Flux.open(inst.uri);
    try {
      const body = parseJson(Buffer.from(payloadString(await h.rpc('overlay.health', undefined, { nodeid: 0 }))!));
      expect(body instanceof Map).toBe(true);
      const top = body as Map<string, unknown>;
      expect(top.get('rank')).toBe(0n);
      expect(top.get('status')).toBe('full');
      expect(top.get('duration')).toBeInstanceOf(JReal);
      const children = top.get('children') as Map<string, unknown>[];
      expect(children.map((c) => [c.get('rank'), c.get('status')])).toEqual([[1n, 'full']]);
      expect(children[0]!.get('duration')).toBeInstanceOf(JReal);
    } finally {
      h.close();
    }
  });

  it('flux logger reads the message from stdin when no words are given', async () => {
    const marker = `from-stdin-${process.pid}`;
    expect(await inst.flux(['logger', '-s', 'err'], { input: `${marker} two words\n` })).toMatchObject({ code: 0, stderr: '' });
    expect((await inst.flux(['dmesg'])).stdout).toMatch(new RegExp(` logger\\.err\\[0\\]: ${marker} two words\\n`));
  });

  it('flux dmesg -H prints flux-core\'s human stamps and colours; --delta needs -H', async () => {
    await inst.flux(['logger', 'human-one']);
    await inst.flux(['logger', 'human-two']);
    const h = await inst.flux(['dmesg', '-H']);
    expect(h.code).toBe(0);
    const lines = h.stdout.split('\n').slice(0, -1);
    expect(lines[0]).toMatch(/^\[[A-Z][a-z]{2}\d\d \d\d:\d\d\] \S+\.\w+\[\d+\]: /);
    for (const l of lines) expect(l).toMatch(/^(\[[A-Z][a-z]{2}\d\d \d\d:\d\d\]|\[ *\+\d+\.\d{6}\]) \S+\.\w+\[\d+\]: /);
    const d = await inst.flux(['dmesg', '-H', '-d']);
    expect(d.stdout.split('\n')[0]).toMatch(/^\[[A-Z][a-z]{2}\d\d \d\d:\d\d\] /);
    const colored = await inst.flux(['dmesg', '-H', '-L']);
    expect(colored.stdout).toMatch(/^\x1b\[1m\x1b\[32m\[[A-Z][a-z]{2}\d\d \d\d:\d\d\]\x1b\[0m \x1b\[33m\S+\.\w+\[\d+\]\x1b\[0m: /);
    expect(await inst.flux(['dmesg', '--delta'])).toEqual({
      code: 1, signal: null, stdout: '', stderr: 'flux-dmesg: --delta can only be used with --human\n',
    });
  });

  it('flux ping prints flux-core\'s error text, and its usage on stderr', async () => {
    expect(await inst.flux(['ping', '-c', '1', 'nosuchtarget'])).toEqual({
      code: 1, signal: null, stdout: 'flux-ping any!nosuchtarget\n', stderr: 'flux-ping: nosuchtarget.ping: Function not implemented\n',
    });
    expect((await inst.flux(['ping', '-c', '1', '1!nosuchtarget'])).stderr).toBe('flux-ping: 1!nosuchtarget.ping: Function not implemented\n');
    const help = await inst.flux(['ping', '--help']);
    expect(help).toMatchObject({ code: 0, stdout: '' });
    expect(help.stderr).toBe([
      'Usage: flux-ping [OPTIONS] TARGET',
      '  -h, --help             Display this message.',
      '  -r, --rank=RANK        Find target on a specific broker rank',
      '  -p, --pad=N            Include in the payload a string of length N bytes',
      '  -i, --interval=N       Specify the delay, in seconds, between successive',
      '                         requests',
      '  -c, --count=N          Specify the number of requests to send',
      '  -b, --batch            Begin processing responses after all requests are sent',
      '  -u, --userid           Include userid and rolemask in ping output',
      '',
    ].join('\n'));
    expect(await inst.flux(['ping', '--bogus', '0'])).toMatchObject({
      code: 1, stdout: '', stderr: "flux-ping: unrecognized option '--bogus'\nTry `flux-ping --help' for more information.\n",
    });
    expect(await inst.flux(['ping'])).toMatchObject({ code: 1, stdout: '', stderr: help.stderr });
  });

  it('ping routes list every hop: the client, each broker on the way, and the module that answers', async () => {
    const uuid = async (rank: number) => (await inst.flux(['exec', '-r', String(rank), process.execPath, FLUX, 'getattr', 'broker.uuid'])).stdout.slice(0, 8);
    const [u0, u1] = [await uuid(0), await uuid(1)];
    const route = async (target: string) => {
      const r = await inst.flux(['ping', '-c', '1', target]);
      expect(r.stderr).toBe('');
      return /\(([^)]*)\)\n$/.exec(r.stdout)![1]!.split('!');
    };
    const toBroker = await route('1');
    expect(toBroker.slice(1)).toEqual([u0, u1]);
    const toKvs = await route('1!kvs');
    expect(toKvs.length).toBe(4);
    expect(toKvs.slice(1, 3)).toEqual([u0, u1]);
    expect([u0, u1, toKvs[0]]).not.toContain(toKvs[3]);
    expect((await route('kvs')).slice(1, 2)).toEqual([u0]);
  });
});

describe('the environment inside an instance', () => {
  it('exports flux-core\'s search paths and keeps Lua\'s and Python\'s, so flux-core\'s clients find their libraries', async () => {
    // a stand-in for flux-core's Python bindings, installed where the user's PYTHONPATH points
    const site = mkdtempSync(join(tmpdir(), 'flux-pysite-'));
    try {
      mkdirSync(join(site, 'flux'));
      writeFileSync(join(site, 'flux', '__init__.py'), 'FOUND = "flux-core bindings"\n');
      const script = 'echo "$FLUX_EXEC_PATH|$FLUX_MODULE_PATH|$LUA_PATH|$LUA_CPATH"; python3 -c "import flux; print(flux.FOUND)"; flux env';
      const r = await run(['start', 'sh', '-c', script], {
        env: { PYTHONPATH: site, LUA_PATH: '/opt/lua/?.lua', LUA_CPATH: undefined, FLUX_EXEC_PATH: undefined },
      });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const [paths, found, ...exports] = r.stdout.split('\n');
      expect(paths).toBe(`${join(ROOT, 'dist', 'commands')}|${join(ROOT, 'dist', 'services')}|/opt/lua/?.lua;;|;;`);
      expect(found).toBe('flux-core bindings');
      expect(exports).toEqual(expect.arrayContaining([
        `export PYTHONPATH="${site}"`, 'export LUA_PATH="/opt/lua/?.lua;;"', 'export LUA_CPATH=";;"',
        `export FLUX_EXEC_PATH="${join(ROOT, 'dist', 'commands')}"`,
      ]));
    } finally {
      rmSync(site, { recursive: true, force: true });
    }
  });
});
