// The commands against a stand-in broker that answers with flux-core's captured responses: what they send
// must match what flux-core's clients sent, and what they print what flux-core's printed.
import { describe, it, expect, afterEach, vi } from 'vitest';
import { join } from 'node:path';
import { loadVectors, type VectorMessage } from '../helpers/vectors.js';
import { type Reply, simpleBroker, closeFakeBrokers, flux } from '../helpers/fake-broker.js';
import {
  type Message, FLAG_NORESPONSE, FLAG_STREAMING, NODEID_ANY, payloadJson, jsonPayload,
} from '../../src/core/wire/message.js';
import { ENODATA, ENOENT, EINVAL } from '../../src/core/errors.js';

afterEach(async () => {
  await closeFakeBrokers();
  delete process.env.FLUX_URI;
});

const hex = (m: VectorMessage) => (m.payload_hex === null ? undefined : Buffer.from(m.payload_hex, 'hex'));
const reply = (m: VectorMessage): Reply => ({ payload: hex(m), errnum: m.aux1 });
const text = (m: Message) => (m.payload ? m.payload.toString('utf8').replace(/\0$/, '') : undefined);
const stdoutOf = (v: ReturnType<typeof loadVectors>) => (v.header as { stdout: string }).stdout;
/** the flag bits the client chose (the codec sets TOPIC, PAYLOAD and ROUTE from the frames) */
const clientFlags = (flags: number) => flags & (FLAG_NORESPONSE | FLAG_STREAMING);

describe('flux lsattr -v', () => {
  it('sends what flux-core sent and prints what it printed', async () => {
    const v = loadVectors('lsattr');
    const list = v.messages.find((m) => m.dir === 's2c' && m.topic === 'attr.list')!;
    const asked = v.messages.filter((m) => m.dir === 'c2s' && m.topic === 'attr.get');
    const answers = v.messages.filter((m) => m.dir === 's2c' && m.topic === 'attr.get');
    const byName = new Map(asked.map((m, i) => [JSON.parse(m.payload_text!).name as string, answers[i]!]));
    const fake = await simpleBroker((req) => {
      if (req.topic === 'attr.list') return [reply(list)];
      return [reply(byName.get(payloadJson(req).name as string)!)];
    });
    const r = await flux(fake.uri, ['lsattr', '-v']);
    expect(r).toEqual({ code: 0, out: stdoutOf(v), err: '' });
    expect(fake.got[0]!.topic).toBe('attr.list');
    expect(fake.got[0]!.payload).toBeUndefined();
    // the gets go out together rather than one per round trip, so only their set is compared
    expect(fake.got.slice(1).map(text).sort()).toEqual(asked.map((m) => m.payload_text).sort());
    for (const m of fake.got) {
      expect(m.aux1).toBe(NODEID_ANY);
      expect(clientFlags(m.flags)).toBe(0);
    }
  });

  it('lists the names alone without -v', async () => {
    const fake = await simpleBroker(() => [{ payload: jsonPayload({ names: ['size', 'rank', 'broker.pid'] }) }]);
    expect(await flux(fake.uri, ['lsattr'])).toEqual({ code: 0, out: 'broker.pid\nrank\nsize\n', err: '' });
  });
});

describe('flux ping', () => {
  for (const name of ['ping-rank0', 'ping-rank3', 'ping-kvs']) {
    it(`replays ${name}`, async () => {
      const v = loadVectors(name);
      const cmd = (v.header as { command: string }).command.split(' ').slice(1);
      const hostlist = v.messages.find((m) => m.dir === 's2c' && m.topic === 'attr.get')!;
      const pongs = v.messages.filter((m) => m.dir === 's2c' && m.topic!.endsWith('.ping'));
      const pings = v.messages.filter((m) => m.dir === 'c2s' && m.topic!.endsWith('.ping'));
      const fake = await simpleBroker((req) => {
        if (req.topic === 'attr.get') return [reply(hostlist)];
        const { route, userid, rolemask, rank } = JSON.parse(pongs[0]!.payload_text!);
        return [{ payload: jsonPayload({ ...payloadJson(req), route, userid, rolemask, rank }) }];
      });
      // a short interval: the capture's 1 s pause only slows the test
      const r = await flux(fake.uri, [...cmd, '--interval=0.02']);
      const masked = (s: string) => s.replace(/time=\d+\.\d{3} ms/g, 'time=T ms');
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(masked(r.out)).toBe(masked(stdoutOf(v)));
      const sent = fake.got.filter((m) => m.topic!.endsWith('.ping'));
      expect(sent.length).toBe(pings.length);
      const clock = (s: string) => s.replace(/"time\.tv_sec":\d+,"time\.tv_nsec":\d+/, '"time.tv_sec":S,"time.tv_nsec":N');
      sent.forEach((m, i) => {
        expect(m.topic).toBe(pings[i]!.topic);
        expect(m.aux1).toBe(pings[i]!.aux1);
        expect(clientFlags(m.flags)).toBe(clientFlags(pings[i]!.flags_code));
        expect(clock(text(m)!)).toBe(clock(pings[i]!.payload_text!));
      });
      // a bare word needs the hostlist to tell a host from a service; a rank does not
      const asked = fake.got.filter((m) => m.topic === 'attr.get').map(text);
      expect(asked).toEqual(/^\d+$/.test(cmd.at(-1)!) ? [] : ['{"name":"hostlist"}']);
    });
  }

  it('pings a host by name and says which rank it is', async () => {
    const fake = await simpleBroker((req) => {
      if (req.topic === 'attr.get') return [{ payload: jsonPayload({ value: 'n[0-3]', flags: 1 }) }];
      return [{ payload: jsonPayload({ ...payloadJson(req), route: 'a!b', userid: 0, rolemask: 1, rank: req.aux1 }) }];
    });
    const r = await flux(fake.uri, ['ping', '-c', '1', '-u', '-p', '3', 'n2']);
    expect(r.out).toMatch(/^flux-ping n2!broker \(rank 2\)\n2!broker\.ping pad=3 userid=0 rolemask=0x1 seq=0 time=\d+\.\d{3} ms \(a!b\)\n$/);
    expect(fake.got.at(-1)!.aux1).toBe(2);
    expect(payloadJson(fake.got.at(-1)!).pad).toBe('ppp');
  });

  it('fails with the errno\'s text, as flux-core\'s log_err_exit prints it', async () => {
    const fake = await simpleBroker((req) => (req.topic === 'attr.get'
      ? [{ payload: jsonPayload({ value: 'vm', flags: 1 }) }]
      : [{ errnum: 38, payload: Buffer.from('No service matching nosvc.ping is registered\0') }]));
    const r = await flux(fake.uri, ['ping', '-c', '1', 'nosvc']);
    expect(r.code).toBe(1);
    expect(r.out).toBe('flux-ping any!nosvc\n');
    expect(r.err).toBe('flux-ping: nosvc.ping: Function not implemented\n');
  });

  it('holds the replies until every request is out with --batch', async () => {
    const fake = await simpleBroker((req) => [{ payload: jsonPayload({ ...payloadJson(req), route: 'r', rank: 1 }) }]);
    const r = await flux(fake.uri, ['ping', '--count=3', '--interval=0', '--batch', '1']);
    expect(r.code).toBe(0);
    expect(r.out.split('\n').filter((l) => l.startsWith('1!broker.ping')).map((l) => /seq=(\d)/.exec(l)![1]).sort())
      .toEqual(['0', '1', '2']);
  });
});

describe('flux logger', () => {
  it('asks for the rank, then sends one log.append with matchtag 0, raw, as flux-core did', async () => {
    const v = loadVectors('logger');
    const rank = v.messages.find((m) => m.dir === 's2c' && m.topic === 'attr.get')!;
    const want = v.messages.find((m) => m.topic === 'log.append')!;
    const fake = await simpleBroker(() => [reply(rank)]);
    const r = await flux(fake.uri, ['logger', '--severity=err', 'hello-vector']);
    expect(r).toEqual({ code: 0, out: '', err: '' });
    // the message is on its way when the command returns; the socket may still be delivering it
    await vi.waitFor(() => expect(fake.got.length).toBe(2));
    expect(text(fake.got[0]!)).toBe('{"name":"rank"}');
    const sent = fake.got[1]!;
    expect(sent.topic).toBe(want.topic);
    expect(sent.aux2).toBe(0);
    expect(sent.aux1).toBe(want.aux1);
    const line = sent.payload!.toString('utf8');
    expect(line.endsWith('\0')).toBe(false);
    expect(line).toMatch(/^<24>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z 0 logger \d+ - - hello-vector$/);
    expect(line.split(' ')[4]).toBe(String(process.pid));
  });

  it('joins words, takes an app name and severity numbers', async () => {
    const fake = await simpleBroker(() => [{ payload: jsonPayload({ value: '3', flags: 1 }) }]);
    expect((await flux(fake.uri, ['logger', '-s', '7', '-n', 'myapp', 'two', 'words'])).code).toBe(0);
    await vi.waitFor(() => expect(fake.got.length).toBe(2));
    expect(fake.got[1]!.payload!.toString()).toMatch(/^<56>1 \S+ 3 myapp \d+ - - two words$/);
  });
});

describe('flux dmesg', () => {
  it('streams the ring and prints it as flux-core did', async () => {
    const v = loadVectors('dmesg');
    const req = v.messages.find((m) => m.dir === 'c2s')!;
    const responses = v.messages.filter((m) => m.dir === 's2c');
    const fake = await simpleBroker(() => responses.map(reply));
    const tz = process.env.TZ;
    process.env.TZ = 'UTC';
    try {
      const r = await flux(fake.uri, ['dmesg']);
      expect(r.code).toBe(0);
      // the capture kept stdout lines 0-9 and 49-51 of 52; the responses kept are lines 0-8, 50 and 51
      const lines = stdoutOf(v).split('\n').slice(0, -1);
      expect(r.out).toBe([...lines.slice(0, 9), ...lines.slice(-2)].map((l) => `${l}\n`).join(''));
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
    expect(fake.got.length).toBe(1);
    expect(text(fake.got[0]!)).toBe(req.payload_text);
    expect(clientFlags(fake.got[0]!.flags)).toBe(clientFlags(req.flags_code));
  });

  it('clears with -C, prints then clears with -c, asks for new entries only with -f -n', async () => {
    const fake = await simpleBroker((req) => (req.topic === 'log.clear' ? [{}] : [
      { payload: Buffer.from('<48>1 2024-05-01T12:00:00.000000Z 0 a 1 - - x\0') }, { errnum: ENODATA },
    ]));
    expect((await flux(fake.uri, ['dmesg', '-C'])).out).toBe('');
    expect(fake.got.map((m) => m.topic)).toEqual(['log.clear']);
    const r = await flux(fake.uri, ['dmesg', '-c']);
    expect(r.out).toMatch(/ a\.info\[0\]: x\n$/);
    expect(fake.got.map((m) => m.topic)).toEqual(['log.clear', 'log.dmesg', 'log.clear']);
    await flux(fake.uri, ['dmesg', '-n', '-f']);
    expect(text(fake.got.at(-1)!)).toBe('{"follow":true,"nobacklog":true}');
  });
});

describe('flux module', () => {
  it('prints module list as flux-core did', async () => {
    const v = loadVectors('module-list');
    const req = v.messages.find((m) => m.dir === 'c2s')!;
    const fake = await simpleBroker(() => [reply(v.messages.find((m) => m.dir === 's2c')!)]);
    expect(await flux(fake.uri, ['module', 'list'])).toEqual({ code: 0, out: stdoutOf(v), err: '' });
    expect(fake.got.length).toBe(1);
    expect(fake.got[0]!.topic).toBe(req.topic);
    expect(fake.got[0]!.payload).toBeUndefined();
  });

  it('loads with a path, arguments and a name; removes; -f forgives a missing module', async () => {
    const fake = await simpleBroker((req) => {
      const name = req.topic === 'module.remove' ? payloadJson(req).name : undefined;
      if (name === 'nosuch') return [{ errnum: ENOENT, payload: Buffer.from('module nosuch is not loaded\0') }];
      if (name === 'attr') return [{ errnum: EINVAL }];
      return [{}];
    });
    expect((await flux(fake.uri, ['module', 'load', '--name', 'm2', './x/m.js', 'a=1', '-v'])).code).toBe(0);
    expect(payloadJson(fake.got[0]!)).toEqual({ path: join(process.cwd(), 'x/m.js'), args: ['a=1', '-v'], name: 'm2' });
    expect((await flux(fake.uri, ['module', 'load', 'kvs'])).code).toBe(0);
    expect(payloadJson(fake.got[1]!)).toEqual({ path: 'kvs', args: [] });
    expect((await flux(fake.uri, ['module', 'unload', 'kvs'])).code).toBe(0);
    expect(payloadJson(fake.got[2]!)).toEqual({ name: 'kvs' });
    expect(await flux(fake.uri, ['module', 'remove', 'nosuch']))
      .toEqual({ code: 1, out: '', err: 'flux-module: remove nosuch: module nosuch is not loaded\n' });
    expect((await flux(fake.uri, ['module', 'remove', '-f', 'nosuch'])).code).toBe(0);
    expect((await flux(fake.uri, ['module', 'remove', '-f', 'attr'])).code).toBe(1);
  });
});

describe('flux setattr', () => {
  it('sends attr.set, with force only when asked', async () => {
    const fake = await simpleBroker((req) => (payloadJson(req).name === 'rank'
      ? [{ errnum: EINVAL, payload: Buffer.from('attribute may not be updated\0') }]
      : [{}]));
    expect(await flux(fake.uri, ['setattr', 'log-stderr-level', '5'])).toEqual({ code: 0, out: '', err: '' });
    expect(text(fake.got[0]!)).toBe('{"name":"log-stderr-level","value":"5"}');
    await flux(fake.uri, ['setattr', '-f', 'x', 'y']);
    expect(text(fake.got[1]!)).toBe('{"name":"x","value":"y","force":true}');
    expect(await flux(fake.uri, ['setattr', 'rank', '3']))
      .toEqual({ code: 1, out: '', err: 'flux-setattr: rank: attribute may not be updated\n' });
  });
});

describe('usage errors', () => {
  it('go through commander as flux-<cmd>: <reason>, exit 1', async () => {
    const uri = 'local:///nonexistent/local-0';
    expect(await flux(uri, ['setattr', 'onlyname'])).toEqual({ code: 1, out: '', err: "flux-setattr: missing required argument 'value'\n" });
    expect(await flux(uri, ['lsattr', '--bogus'])).toEqual({ code: 1, out: '', err: "flux-lsattr: unknown option '--bogus'\n" });
    expect((await flux(uri, ['module', 'frob'])).err).toBe("flux-module: unknown command 'frob'\n");
    expect((await flux(uri, ['ping', '--count=x', '0'])).err).toBe('flux-ping: invalid count "x"\n');
    expect((await flux(uri, ['logger', '-s', 'loud', 'x'])).err).toBe('flux-logger: invalid severity "loud"\n');
    expect((await flux(uri, ['dmesg', '--color=pink'])).code).toBe(1);
  });

  it('help prints a command\'s own help, or the flux usage', async () => {
    const ping = await flux('', ['help', 'ping']);
    expect(ping.code).toBe(0);
    expect(ping.err).toMatch(/^Usage: flux-ping \[OPTIONS\] TARGET\n/);
    expect(ping.err).toContain('  -c, --count=N          Specify the number of requests to send\n');
    const all = await flux('', ['help']);
    expect(all.code).toBe(0);
    expect(all.err).toMatch(/^Usage: flux \[OPTIONS\] COMMAND ARGS\n/);
    expect(all.err).toContain("See 'flux help COMMAND' for more information about a specific command.");
    expect(await flux('', ['help', 'frobnicate'])).toEqual({
      code: 1, out: '', err: "flux-help: 'frobnicate' is not a flux command.  See 'flux --help'\n",
    });
  });
});
