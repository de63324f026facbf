// The output formats of flux ping, lsattr, dmesg, module list, logger and env, checked against what
// flux-core 0.88 printed for the captured scenarios (test/fixtures/vectors).
import { describe, it, expect } from 'vitest';
import { loadVectors, type VectorMessage } from '../helpers/vectors.js';
import { NODEID_ANY, NODEID_UPSTREAM } from '../../src/core/wire/message.js';
import {
  parseTarget, resolveTarget, needsHostlist, header, formatReply, parsePad, parseInterval,
} from '../../src/commands/ping.js';
import { formatAttr, sortNames } from '../../src/commands/lsattr.js';
import { DmesgFormatter, colorWanted } from '../../src/commands/dmesg.js';
import { formatModuleList, formatStats, modulePath, parseFlags } from '../../src/commands/module.js';
import type { ModuleInfo } from '../../src/api/module.js';
import { logLine } from '../../src/commands/logger.js';
import { formatExports } from '../../src/commands/env.js';
import { fluxEnvironment } from '../../src/core/jobs/flux-env.js';
import { parseEntry } from '../../src/core/format/logline.js';
import { uptimeLine } from '../../src/commands/uptime.js';
import { formatDuration } from '../../src/core/time/fsd.js';

const json = (m: VectorMessage) => JSON.parse(m.payload_text!) as Record<string, unknown>;
const headerOf = (name: string) => loadVectors(name).header as { stdout: string; command: string };
const utc = () => 0;

describe('ping', () => {
  it('parses TARGET the way flux-core does', () => {
    expect(parseTarget('broker')).toEqual({ where: 'any', service: 'broker', maybeHost: 'broker' });
    expect(parseTarget('3')).toEqual({ where: '3', service: 'broker' });
    expect(parseTarget('3!kvs')).toEqual({ where: '3', service: 'kvs' });
    expect(parseTarget('any!kvs')).toEqual({ where: 'any', service: 'kvs' });
    expect(parseTarget('upstream')).toEqual({ where: 'upstream', service: 'broker' });
    expect(parseTarget('kvs', '2')).toEqual({ where: '2', service: 'kvs' });
    expect(() => parseTarget('2!kvs', '1')).toThrow(/--rank/);
    expect(() => parseTarget('!kvs')).toThrow(/RANK!SERVICE/);
    expect(() => parseTarget('2!')).toThrow(/RANK!SERVICE/);
  });

  it('looks up hosts only when a name could be one', () => {
    expect(needsHostlist(parseTarget('3'))).toBe(false);
    expect(needsHostlist(parseTarget('any!kvs'))).toBe(false);
    expect(needsHostlist(parseTarget('kvs'))).toBe(true);
    expect(needsHostlist(parseTarget('node2!kvs'))).toBe(true);
  });

  it('resolves ranks, hosts and services to a nodeid and a header', () => {
    const hosts = ['n0', 'n1', 'n2', 'n1'];
    const any = resolveTarget(parseTarget('broker'), hosts);
    expect(any).toEqual({ nodeid: NODEID_ANY, label: 'any', service: 'broker' });
    expect(header(any)).toBe('flux-ping any!broker\n');
    expect(header(resolveTarget(parseTarget('3'), hosts))).toBe('flux-ping 3!broker\n');
    const host = resolveTarget(parseTarget('n1'), hosts);
    expect(host).toEqual({ nodeid: 1, label: 'n1', service: 'broker', hostRank: 1 });
    expect(header(host)).toBe('flux-ping n1!broker (rank 1)\n');
    expect(resolveTarget(parseTarget('n2!kvs'), hosts).nodeid).toBe(2);
    expect(resolveTarget(parseTarget('upstream!kvs')).nodeid).toBe(NODEID_UPSTREAM);
    expect(() => resolveTarget(parseTarget('nx!kvs'), hosts)).toThrow(/not a rank or a host/);
  });

  for (const name of ['ping-rank0', 'ping-rank3', 'ping-kvs']) {
    it(`prints what flux-core printed for ${name}`, () => {
      const v = loadVectors(name);
      const h = v.header as { stdout: string; command: string };
      const target = h.command.split(' ').pop()!;
      const hosts = String(json(v.messages.find((m) => m.dir === 's2c' && m.topic === 'attr.get')!).value).split(',');
      const dest = resolveTarget(parseTarget(target), hosts);
      const want = h.stdout.split('\n').slice(0, -1);
      expect(header(dest)).toBe(`${want[0]}\n`);
      const replies = v.messages.filter((m) => m.dir === 's2c' && m.topic!.endsWith('.ping'));
      expect(replies.length).toBe(want.length - 1);
      replies.forEach((m, i) => {
        const b = json(m);
        // the round-trip time was measured, not carried: take it from the line to check everything else
        const ms = Number(/time=(\S+) ms/.exec(want[i + 1]!)![1]);
        const line = formatReply(dest.service, {
          rank: b.rank as number, pad: (b.pad as string).length, seq: b.seq as number, ms, route: b.route as string,
        }, false);
        expect(line).toBe(`${want[i + 1]}\n`);
      });
    });
  }

  it('shows the credential with -u', () => {
    const line = formatReply('kvs', { rank: 2, pad: 8, seq: 4, ms: 1.23456, route: 'a!b', userid: 1000, rolemask: 5 }, true);
    expect(line).toBe('2!kvs.ping pad=8 userid=1000 rolemask=0x5 seq=4 time=1.235 ms (a!b)\n');
  });

  it('parses pad sizes and intervals', () => {
    expect(parsePad('0')).toBe(0);
    expect(parsePad('100')).toBe(100);
    expect(parsePad('1k')).toBe(1024);
    expect(parsePad('1.5K')).toBe(1536);
    expect(parsePad('2M')).toBe(2 * 1024 * 1024);
    expect(() => parsePad('-1')).toThrow();
    expect(() => parsePad('1x')).toThrow();
    expect(parseInterval('1')).toBe(1000);
    expect(parseInterval('0')).toBe(0);
    expect(parseInterval('0.5s')).toBe(500);
    expect(parseInterval('20ms')).toBe(20);
    expect(parseInterval('2m')).toBe(120_000);
    expect(() => parseInterval('soon')).toThrow();
  });
});

describe('lsattr', () => {
  it('prints -v exactly as flux-core did', () => {
    const v = loadVectors('lsattr');
    const list = v.messages.find((m) => m.dir === 's2c' && m.topic === 'attr.list')!;
    const names = sortNames(json(list).names as string[]);
    // pair each attr.get request with its response (the client had one in flight at a time)
    const asked = v.messages.filter((m) => m.dir === 'c2s' && m.topic === 'attr.get').map((m) => json(m).name as string);
    const answers = v.messages.filter((m) => m.dir === 's2c' && m.topic === 'attr.get');
    expect(names).toEqual(asked);
    const values = new Map(asked.map((n, i) => {
      const a = answers[i]!;
      return [n, a.aux1 === 0 ? String(json(a).value) : undefined];
    }));
    expect(values.get('parent-uri')).toBeUndefined();
    expect(names.map((n) => formatAttr(n, values.get(n))).join('')).toBe(headerOf('lsattr').stdout);
  });

  it('sorts in strcmp order and pads long names without cutting them', () => {
    expect(sortNames(['b', 'a.x', 'a-y', 'A'])).toEqual(['A', 'a-y', 'a.x', 'b']);
    const long = 'x'.repeat(45);
    expect(formatAttr(long, 'v')).toBe(`${long}v\n`);
  });
});

describe('dmesg', () => {
  it('formats the ring as flux-core did (capture made in UTC)', () => {
    const v = loadVectors('dmesg');
    const lines = headerOf('dmesg').stdout.split('\n').slice(0, -1);
    const entries = v.messages.filter((m) => m.dir === 's2c' && m.aux1 === 0);
    const fmt = new DmesgFormatter({ offsetMin: utc });
    // the stdout kept lines 0-9 and the last 3; response i printed line i of the 52
    const total = (v.header.trimmed as { stdout_total_lines: number }).stdout_total_lines;
    for (const m of entries) {
      const raw = Buffer.from(m.payload_hex!, 'hex');
      expect(raw[raw.length - 1]).toBe(0);
      const got = fmt.line(raw.toString('utf8', 0, raw.length - 1));
      const want = m.index < 10 ? lines[m.index] : lines[lines.length - (total - m.index)];
      expect(got).toBe(`${want}\n`);
    }
  });

  it('writes local time with its offset outside UTC', () => {
    const line = '<48>1 2024-05-01T12:00:00.123456Z 3 kvs 77 - - hello world';
    expect(new DmesgFormatter({ offsetMin: () => 120 }).line(line))
      .toBe('2024-05-01T14:00:00.123456+02:00 kvs.info[3]: hello world\n');
    expect(new DmesgFormatter({ offsetMin: () => -(9 * 60 + 30) }).line(line))
      .toBe('2024-05-01T02:30:00.123456-09:30 kvs.info[3]: hello world\n');
  });

  it('prints a line it cannot parse as it came', () => {
    expect(new DmesgFormatter({ offsetMin: utc }).line('not a log line')).toBe('not a log line\n');
  });

  it('stamps each new minute with -H as flux-core does, offsets from it in between, deltas with -d', () => {
    const entries = [
      '<48>1 2024-05-01T12:00:01.000000Z 0 a 1 - - one',
      '<48>1 2024-05-01T12:00:03.500000Z 0 a 1 - - two',
      '<48>1 2024-05-01T12:00:04.250000Z 0 a 1 - - three',
      '<48>1 2024-05-01T12:01:00.000000Z 0 a 1 - - four',
      '<48>1 2024-05-01T12:01:12.000001Z 0 a 1 - - five',
    ];
    const h = new DmesgFormatter({ human: true, offsetMin: utc });
    expect(entries.map((e) => h.line(e)).join('')).toBe(
      '[May01 12:00] a.info[0]: one\n[  +2.500000] a.info[0]: two\n[  +3.250000] a.info[0]: three\n'
      + '[May01 12:01] a.info[0]: four\n[ +12.000001] a.info[0]: five\n');
    const d = new DmesgFormatter({ human: true, delta: true, offsetMin: utc });
    expect(entries.map((e) => d.line(e)).join('')).toBe(
      '[May01 12:00] a.info[0]: one\n[  +2.500000] a.info[0]: two\n[  +0.750000] a.info[0]: three\n'
      + '[May01 12:01] a.info[0]: four\n[ +12.000001] a.info[0]: five\n');
    // the minute is the local one
    expect(new DmesgFormatter({ human: true, offsetMin: () => -90 }).line(entries[0]!)).toBe('[May01 10:30] a.info[0]: one\n');
  });

  it('colors as flux-core does: stamps green, the name yellow, the message by severity', () => {
    expect(colorWanted(undefined, false)).toBe(false);
    expect(colorWanted(undefined, true)).toBe(true);
    expect(colorWanted(true, false)).toBe(true);
    expect(colorWanted('always', false)).toBe(true);
    expect(colorWanted('never', true)).toBe(false);
    expect(() => colorWanted('sometimes', true)).toThrow("Invalid argument to --color: 'sometimes'");
    const iso = new DmesgFormatter({ color: true, offsetMin: utc });
    expect(iso.line('<24>1 2024-05-01T12:00:00.000001Z 0 x 1 - - boom'))
      .toBe('\x1b[32m2024-05-01T12:00:00.000001Z\x1b[0m \x1b[33mx.err[0]\x1b[0m: \x1b[31mboom\x1b[0m\n');
    expect(iso.line('<48>1 2024-05-01T12:00:00.000001Z 0 x 1 - - fine'))
      .toBe('\x1b[32m2024-05-01T12:00:00.000001Z\x1b[0m \x1b[33mx.info[0]\x1b[0m: fine\x1b[0m\n');
    const human = new DmesgFormatter({ human: true, color: true, offsetMin: utc });
    expect(human.line('<56>1 2024-05-01T12:00:00.000001Z 0 x 1 - - a')).toBe('\x1b[1m\x1b[32m[May01 12:00]\x1b[0m \x1b[33mx.debug[0]\x1b[0m: \x1b[34ma\x1b[0m\n');
    expect(human.line('<0>1 2024-05-01T12:00:01.000001Z 0 x 1 - - b')).toBe('\x1b[32m[  +1.000000]\x1b[0m \x1b[33mx.emerg[0]\x1b[0m: \x1b[7m\x1b[31mb\x1b[0m\n');
  });
});

describe('module list', () => {
  it('prints the table flux-core printed, byte for byte', () => {
    const v = loadVectors('module-list');
    const mods = json(v.messages.find((m) => m.dir === 's2c')!).mods as ModuleInfo[];
    expect(formatModuleList(mods, false)).toBe(headerOf('module-list').stdout);
  });

  it('adds the path with -l, shows long idle times as "idle" and the state letter', () => {
    const mods: ModuleInfo[] = [
      { name: 'kvs', path: '/x/kvs.js', idle: 100, status: 1, services: ['kvs'], sendqueue: 0, recvqueue: 0 },
      { name: 'a-module-with-a-very-long-name', path: 'builtin', idle: 99, status: 2, services: ['a', 'b'] },
      { name: 'init', idle: 0, status: 0 },
      { name: 'gone', idle: 0, status: 3 },
    ];
    expect(formatModuleList(mods, true)).toBe([
      'Module                    Idle  S Sendq Recvq Service  Path',
      'kvs                       idle  R     0     0          /x/kvs.js',
      'a-module-with-a-very-long   99  F     0     0 a,b      builtin',
      'init                         0  I     0     0          ',
      'gone                         0  X     0     0          ',
      '',
    ].join('\n'));
  });

  it('sends a file as an absolute path and a name as is', () => {
    expect(modulePath('kvs', '/home/u')).toBe('kvs');
    expect(modulePath('./m/x.js', '/home/u')).toBe('/home/u/m/x.js');
    expect(modulePath('x.mjs', '/home/u')).toBe('/home/u/x.mjs');
    expect(modulePath('/abs/x.js', '/home/u')).toBe('/abs/x.js');
  });

  it('prints stats as flux-core does: integers as such, reals with six decimals, the rest as JSON', () => {
    const stats = { n: 3, r: 0.25, s: 'text', namespace: { primary: { '#versionwaiters': 2 } } };
    expect(formatStats(stats, { parse: 'namespace.primary.#versionwaiters' })).toBe('2\n');
    expect(formatStats(stats, { parse: 'r' })).toBe('0.250000\n');
    expect(formatStats(stats, { parse: 'r', type: 'int', scale: 10 })).toBe('2\n');
    expect(formatStats(stats, { parse: 'n', type: 'double' })).toBe('3.000000\n');
    expect(formatStats(stats, { parse: 's' })).toBe('"text"\n');
    expect(formatStats(stats, { parse: 'namespace' })).toBe('{\n "primary": {\n  "#versionwaiters": 2\n }\n}\n');
    expect(formatStats(stats, { parse: 'namespace.secondary' })).toBeUndefined();
    expect(formatStats(stats, { parse: 'n.deeper' })).toBeUndefined();
    expect(formatStats({ a: 1 }, {})).toBe('{\n "a": 1\n}\n');
  });

  it('reads debug flags as strtoul with base 0 does', () => {
    expect(parseFlags('12')).toBe(12);
    expect(parseFlags('0x1F')).toBe(31);
    expect(parseFlags('010')).toBe(8);
    expect(parseFlags('0')).toBe(0);
    for (const bad of ['', 'x', '-1', '0x', '09', '0x100000000']) expect(() => parseFlags(bad)).toThrow(/invalid debug flags/);
  });
});

describe('logger', () => {
  it('makes the log.append line flux-core sent', () => {
    const v = loadVectors('logger');
    const sent = v.messages.find((m) => m.topic === 'log.append')!;
    const raw = Buffer.from(sent.payload_hex!, 'hex').toString('utf8');
    const e = parseEntry(raw)!;
    expect(logLine({ severity: 3, appname: 'logger', rank: 0, timeUs: e.timeUs, pid: Number(e.procid), message: 'hello-vector' }))
      .toBe(raw);
  });
});

describe('env', () => {
  it('puts this installation first, keeps Lua\'s and Python\'s paths as they were, and keeps the instance URI', () => {
    const vars = fluxEnvironment({
      PATH: '/usr/bin:/opt/flux/bin:/bin', FLUX_URI: 'local:///tmp/f/local-0', FLUX_PMI_LIBRARY_PATH: '/x/libpmi.so',
    }, '/opt/flux');
    expect(vars).toEqual({
      PATH: '/opt/flux/bin:/usr/bin:/bin',
      FLUX_URI: 'local:///tmp/f/local-0',
      FLUX_EXEC_PATH: '/opt/flux/dist/commands',
      FLUX_MODULE_PATH: '/opt/flux/dist/services',
      FLUX_PMI_LIBRARY_PATH: '/x/libpmi.so',
      LUA_PATH: ';;',
      LUA_CPATH: ';;',
    });
    expect(fluxEnvironment({ FLUX_EXEC_PATH: '/mine' }, '/opt/flux').FLUX_EXEC_PATH).toBe('/opt/flux/dist/commands:/mine');
    expect(fluxEnvironment({}, '/opt/flux').FLUX_URI).toBeUndefined();
    const kept = fluxEnvironment({
      LUA_PATH: '/usr/share/lua/5.3/?.lua', LUA_CPATH: '/usr/lib/lua/5.3/?.so;;', PYTHONPATH: '/usr/lib/flux/python3.11',
      FLUX_PYTHONPATH_PREPEND: '/mine/py', FLUX_LUA_PATH_PREPEND: '/mine/?.lua', FLUX_EXEC_PATH_PREPEND: '/mine/cmd',
    }, '/opt/flux');
    expect(kept).toMatchObject({
      LUA_PATH: '/mine/?.lua;/usr/share/lua/5.3/?.lua;;',
      LUA_CPATH: '/usr/lib/lua/5.3/?.so;;',
      PYTHONPATH: '/mine/py:/usr/lib/flux/python3.11',
      FLUX_EXEC_PATH: '/mine/cmd:/opt/flux/dist/commands',
    });
    // applied again inside the instance, nothing grows
    expect(fluxEnvironment({ ...kept }, '/opt/flux')).toMatchObject({ LUA_PATH: kept.LUA_PATH, PYTHONPATH: kept.PYTHONPATH });
  });

  it('prints sorted export lines that a shell reads back exactly', () => {
    expect(formatExports({ PATH: '/a:/b', FLUX_URI: 'local:///x' })).toBe(
      'export FLUX_URI="local:///x"\nexport PATH="/a:/b"\n');
    expect(formatExports({ X: 'a"b$c`d\\e' })).toBe('export X="a\\"b\\$c\\`d\\\\e"\n');
  });
});

describe('uptime', () => {
  it('prints flux-core\'s line: the duration in its largest unit to 2 digits, offline brokers when there are', () => {
    const names = (uid: number) => (uid === 1000 ? 'alice' : String(uid));
    const at = new Date(2024, 4, 1, 9, 5, 7);
    const u = { state: 'run', duration: 95, owner: 1000, size: 8, level: 1, offline: 0 };
    expect(uptimeLine(u, at, names)).toBe(' 09:05:07 run 1.6m,  owner alice,  depth 1,  size 8\n');
    expect(uptimeLine({ ...u, duration: 0.05, offline: 3, owner: 7 }, at, names))
      .toBe(' 09:05:07 run 50ms,  owner 7,  depth 1,  size 8,  3 offline\n');
    expect(uptimeLine({ ...u, state: 'shutdown' }, at, names)).toBe(' 09:05:07 shutdown 1.6m,  owner alice,  depth 1,  size 8\n');
    expect([0, 12.34, 3600 * 5, 86400 * 150].map((d) => formatDuration(d, 2))).toEqual(['0s', '12s', '5h', '1.5e+02d']);
  });
});
