// flux setattr, lsattr, ping, logger, dmesg, module, env and help against real instances.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { run, startInstance, ROOT, type Instance } from '../helpers/instance.js';

const PING_LINE = /^(\d+)!(\S+)\.ping pad=(\d+) seq=(\d+) time=\d+\.\d{3} ms \(((?:[0-9a-f]{8}!)+[0-9a-f]{8})\)$/;

describe('commands in a size-2 instance', () => {
  let inst: Instance;

  beforeAll(async () => {
    inst = await startInstance(2);
  });

  afterAll(async () => {
    expect(await inst.stop()).toBe(0);
  });

  it('lsattr lists sorted names; -v pads each to 40 columns and shows "-" for unset ones', async () => {
    const names = await inst.flux(['lsattr']);
    expect(names.code).toBe(0);
    const list = names.stdout.split('\n').slice(0, -1);
    expect(list).toEqual([...list].sort());
    expect(list).toEqual(expect.arrayContaining(['rank', 'size', 'hostlist', 'local-uri', 'parent-uri']));
    const v = await inst.flux(['lsattr', '-v']);
    expect(v.code).toBe(0);
    const lines = v.stdout.split('\n').slice(0, -1);
    expect(lines.map((l) => l.substring(0, 40).trimEnd())).toEqual(list);
    expect(lines).toContain(`${'size'.padEnd(40)}2`);
    expect(lines).toContain(`${'rank'.padEnd(40)}0`);
    expect(lines).toContain(`${'local-uri'.padEnd(40)}${inst.uri}`);
    // the top-level instance has no parent
    expect(lines).toContain(`${'parent-uri'.padEnd(40)}-`);
  });

  it('setattr changes a runtime attribute; getattr reads it back', async () => {
    expect(await inst.flux(['setattr', 'log-stderr-level', '5'])).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect((await inst.flux(['getattr', 'log-stderr-level'])).stdout).toBe('5\n');
    await inst.flux(['setattr', 'log-stderr-level', '3']);
  });

  it('setattr of an immutable attribute fails', async () => {
    const r = await inst.flux(['setattr', 'size', '5']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^flux-setattr: size: .+\n$/);
    expect((await inst.flux(['getattr', 'size'])).stdout).toBe('2\n');
  });

  it('getattr of an unknown attribute exits 1 with ENOENT', async () => {
    expect(await inst.flux(['getattr', 'nosuch'])).toMatchObject({
      code: 1, stdout: '', stderr: 'flux-getattr: nosuch: No such file or directory\n',
    });
  });

  it('ping -c 2 reaches rank 0 and rank 1', async () => {
    for (const [target, header, rank, hops] of [['0', '0!broker', '0', 2], ['1', '1!broker', '1', 3], ['broker', 'any!broker', '0', 2]] as const) {
      const r = await inst.flux(['ping', '-c', '2', '-i', '0.1', target]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const lines = r.stdout.split('\n').slice(0, -1);
      expect(lines[0]).toBe(`flux-ping ${header}`);
      expect(lines.length).toBe(3);
      lines.slice(1).forEach((l, seq) => {
        const m = PING_LINE.exec(l);
        expect(m, l).not.toBeNull();
        expect(m!.slice(1, 5)).toEqual([rank, 'broker', '0', String(seq)]);
        // the client, then every broker on the way
        expect(m![5]!.split('!').length).toBeGreaterThanOrEqual(hops);
      });
    }
  });

  it('ping of a service without a ping handler fails', async () => {
    const r = await inst.flux(['ping', '-c', '1', 'nosuchservice']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('flux-ping any!nosuchservice\n');
    expect(r.stderr).toBe('flux-ping: nosuchservice.ping: Function not implemented\n');
  });

  it('logger adds a line that dmesg then shows; dmesg -C empties the ring', async () => {
    const marker = `e2e-marker-${process.pid}`;
    expect(await inst.flux(['logger', '--severity=warning', '--appname=e2e', marker, 'two words'])).toMatchObject({
      code: 0, stdout: '',
    });
    const d = await inst.flux(['dmesg']);
    expect(d.code).toBe(0);
    const line = d.stdout.split('\n').find((l) => l.includes(marker));
    expect(line).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}(Z|[+-]\\d\\d:\\d\\d) e2e\\.warning\\[0\\]: ${marker} two words$`));
    expect(await inst.flux(['dmesg', '-C'])).toMatchObject({ code: 0, stdout: '' });
    expect((await inst.flux(['dmesg'])).stdout).not.toContain(marker);
  });

  it('module list shows the loaded modules under flux-core\'s header', async () => {
    const r = await inst.flux(['module', 'list']);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n').slice(0, -1);
    expect(lines[0]).toBe('Module                    Idle  S Sendq Recvq Service');
    const rows = lines.slice(1).map((l) => /^(\S+) +(\d+|idle)  ([IRFX])     0     0 (\S*)$/.exec(l));
    expect(rows.every((m) => m !== null), r.stdout).toBe(true);
    expect(rows.map((m) => m![1])).toEqual(expect.arrayContaining(['attr', 'log', 'broker', 'module']));
    const long = await inst.flux(['module', 'list', '-l']);
    expect(long.stdout.split('\n')[0]).toBe('Module                    Idle  S Sendq Recvq Service  Path');
    expect((await inst.flux(['module', 'remove', 'nosuchmodule'])).code).toBe(1);
    expect((await inst.flux(['module', 'remove', '-f', 'nosuchmodule'])).code).toBe(0);
  });

  it('env prints the exports, and runs a command in that environment', async () => {
    const r = await inst.flux(['env']);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n').slice(0, -1);
    for (const l of lines) expect(l).toMatch(/^export [A-Z_]+=".*"$/);
    expect(lines).toContain(`export FLUX_URI="${inst.uri}"`);
    expect(lines.find((l) => l.startsWith('export PATH='))).toMatch(new RegExp(`^export PATH="${join(ROOT, 'bin')}:`));
    const sh = await inst.flux(['env', 'sh', '-c', 'command -v flux; echo "$FLUX_URI"; exit 4']);
    expect(sh.code).toBe(4);
    expect(sh.stdout).toBe(`${join(ROOT, 'bin', 'flux')}\n${inst.uri}\n`);
  });
});

describe('commands without an instance', () => {
  it('help prints the flux usage, or a command\'s own help', async () => {
    const all = await run(['help']);
    expect(all.code).toBe(0);
    expect(all.stderr).toMatch(/^Usage: flux \[OPTIONS\] COMMAND ARGS\n/);
    expect(all.stderr).toMatch(/^ {3}ping {15}Send echo requests to a service$/m);
    const one = await run(['help', 'dmesg']);
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/^Usage: flux dmesg \[options\]/);
    expect((await run(['help', 'nosuchcommand'])).code).toBe(1);
  });

  it('a bad option is a usage error', async () => {
    expect(await run(['lsattr', '--nosuchoption'])).toMatchObject({
      code: 1, stdout: '', stderr: "flux-lsattr: unknown option '--nosuchoption'\n",
    });
  });
});

describe('ping in a deeper tree', () => {
  it('reaches the deepest rank of a size-8 instance with fanout 2', async () => {
    const r = await run(['start', '--size', '8', '-S', 'tbon.fanout=2', 'flux', 'ping', '--count', '3', '7']);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n').slice(0, -1);
    expect(lines[0]).toBe('flux-ping 7!broker');
    expect(lines.length).toBe(4);
    lines.slice(1).forEach((l, seq) => {
      const m = PING_LINE.exec(l);
      expect(m, l).not.toBeNull();
      expect(m!.slice(1, 5)).toEqual(['7', 'broker', '0', String(seq)]);
      // client, then ranks 0, 1, 3 and 7
      expect(m![5]!.split('!').length).toBeGreaterThanOrEqual(5);
    });
  });
});
