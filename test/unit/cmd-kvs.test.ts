// flux kvs against a stand-in broker: for the captured scenarios the stand-in answers with flux-core 0.88's
// responses and what the command sends and prints must be what flux-core's flux-kvs sent and printed, byte for
// byte; the other subcommands and options are checked against flux-core's request and output formats.
import { describe, it, expect, afterEach, beforeEach, vi } from 'vitest';
import { loadVectors, type VectorMessage } from '../helpers/vectors.js';
import { type Reply, fakeBroker, simpleBroker, closeFakeBrokers, flux } from '../helpers/fake-broker.js';
import {
  type Message, FLAG_NORESPONSE, FLAG_STREAMING, NODEID_ANY, stringPayload,
} from '../../src/core/wire/message.js';
import { ENODATA, ENOENT, EISDIR, ENOTSUP, EEXIST } from '../../src/core/errors.js';

const json = (v: unknown): Reply => ({ payload: stringPayload(JSON.stringify(v)) });
const raw = (text: string): Reply => ({ payload: stringPayload(text) });
const err = (errnum: number): Reply => ({ errnum });
const b64 = (s: string) => Buffer.from(s).toString('base64');
const valObj = (s: string) => ({ data: b64(s), type: 'val', ver: 1 });
const text = (m: Message) => (m.payload ? m.payload.toString('utf8').replace(/\0$/, '') : undefined);
const body = (m: Message) => JSON.parse(text(m)!) as Record<string, unknown>;

const tty = process.stdout.isTTY;
const columnsEnv = process.env.COLUMNS;

beforeEach(() => {
  // flux-core's captures ran with stdout a pipe and no $COLUMNS: 80 columns
  Object.defineProperty(process.stdout, 'isTTY', { value: false, configurable: true });
  delete process.env.COLUMNS;
  delete process.env.FLUX_KVS_NAMESPACE;
});

afterEach(async () => {
  await closeFakeBrokers();
  vi.restoreAllMocks();
  delete process.env.FLUX_URI;
  Object.defineProperty(process.stdout, 'isTTY', { value: tty, configurable: true });
  if (columnsEnv === undefined) delete process.env.COLUMNS;
  else process.env.COLUMNS = columnsEnv;
});

const hex = (m: VectorMessage) => (m.payload_hex === null ? undefined : Buffer.from(m.payload_hex, 'hex'));
const replyOf = (m: VectorMessage): Reply => ({ payload: hex(m), errnum: m.aux1 });
const clientFlags = (flags: number) => flags & (FLAG_NORESPONSE | FLAG_STREAMING);
interface Step { command: string; stdout: string; stderr: string; exit: number; conns: number[] }
const stepsOf = (name: string) => (loadVectors(name).header as { steps: Step[] }).steps;
/** the words of a captured command line after `flux` (single quotes as the shell reads them) */
const words = (cmd: string) => [...cmd.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!).slice(1);

/** Each request must be flux-core's: topic, nodeid, streaming/noresponse flags and payload bytes. */
function expectSameRequests(got: Message[], want: VectorMessage[]): void {
  expect(got.map((m) => m.topic)).toEqual(want.map((m) => m.topic));
  got.forEach((m, i) => {
    const w = want[i]!;
    expect(m.aux1, `nodeid of ${w.topic}`).toBe(w.aux1);
    expect(clientFlags(m.flags), `flags of ${w.topic}`).toBe(clientFlags(w.flags_code));
    expect(m.payload?.toString('hex'), `payload of ${w.topic}`).toBe(w.payload_hex ?? undefined);
  });
}

/**
 * Replay one captured scenario: the stand-in answers the i-th request with the responses flux-core's broker
 * gave to the i-th request of the same connection.
 */
async function replay(name: string): Promise<void> {
  const v = loadVectors(name);
  for (const step of stepsOf(name)) {
    const conn = step.conns[0]!;
    const msgs = v.messages.filter((m) => m.conn === conn);
    const requests = msgs.filter((m) => m.dir === 'c2s');
    let n = 0;
    const fake = await simpleBroker((req) => {
      const want = requests[n++]!;
      // the responses recorded between this request and the next one
      const at = msgs.indexOf(want);
      const next = msgs.findIndex((m, i) => i > at && m.dir === 'c2s');
      return msgs.slice(at + 1, next < 0 ? undefined : next).filter((m) => m.dir === 's2c' && m.aux2 === want.aux2).map(replyOf);
    });
    const r = await flux(fake.uri, words(step.command));
    expect(r).toEqual({ code: step.exit, out: step.stdout, err: step.stderr });
    expectSameRequests(fake.got, requests);
  }
}

/**
 * Replay a scenario where we send fewer requests than flux-core, and not in its order: each request is answered
 * with what flux-core's broker answered to the same request bytes, and must be one that flux-core sent.
 */
async function replayByPayload(name: string): Promise<void> {
  const v = loadVectors(name);
  for (const step of stepsOf(name)) {
    const conn = step.conns[0]!;
    const msgs = v.messages.filter((m) => m.conn === conn);
    const requests = msgs.filter((m) => m.dir === 'c2s');
    const fake = await simpleBroker((req) => {
      const want = requests.find((m) => m.topic === req.topic && m.payload_hex === (req.payload?.toString('hex') ?? null));
      if (want === undefined) throw new Error(`flux-core never sent ${req.topic} ${text(req)}`);
      const at = msgs.indexOf(want);
      const next = msgs.findIndex((m, i) => i > at && m.dir === 'c2s');
      return msgs.slice(at + 1, next < 0 ? undefined : next).filter((m) => m.dir === 's2c' && m.aux2 === want.aux2).map(replyOf);
    });
    const r = await flux(fake.uri, words(step.command));
    expect(r).toEqual({ code: step.exit, out: step.stdout, err: step.stderr });
    expect(fake.got.length).toBeGreaterThan(0);
  }
}

describe('flux kvs, replaying flux-core 0.88 captures', () => {
  for (const name of ['kvs-put', 'kvs-get', 'kvs-get-missing', 'kvs-getroot', 'kvs-put-big', 'kvs-get-at', 'kvs-namespace']) {
    it(`sends and prints what flux-core did: ${name}`, async () => {
      await replay(name);
    });
  }

  // flux-core looks up each value a directory holds; the directory already has them, so dir asks for less
  it('prints what flux-core did, asking only what it asked: kvs-dir', async () => {
    await replayByPayload('kvs-dir');
  });

  it('watches, cancels after --count values and ends at ENODATA: kvs-watch', async () => {
    const v = loadVectors('kvs-watch');
    const step = stepsOf('kvs-watch')[0]!;
    const values = v.messages.filter((m) => m.dir === 's2c' && m.aux1 === 0);
    const end = v.messages.find((m) => m.dir === 's2c' && m.aux1 === ENODATA)!;
    let watch: Message | undefined;
    const fake = await fakeBroker((req, respond) => {
      if (req.topic === 'kvs-watch.lookup') {
        watch = req;
        for (const m of values) respond(replyOf(m));
      } else if (req.topic === 'kvs-watch.cancel') {
        respond(replyOf(end), watch);
      }
    });
    const r = await flux(fake.uri, words(step.command));
    expect(r).toEqual({ code: 0, out: step.stdout, err: '' });
    expectSameRequests(fake.got, v.messages.filter((m) => m.dir === 'c2s'));
    // the cancel names the watch by its matchtag, and expects no answer of its own
    expect(fake.got[1]!.aux2).toBe(0);
    expect(body(fake.got[1]!)).toEqual({ matchtag: fake.got[0]!.aux2 });
  });
});

describe('flux kvs put', () => {
  const ok = json({ rootref: 'sha1-baa0daaa5f41e1d12049b2d5489e33acb776e67a', rootseq: 4 });

  it('sends one commit with every pair; -n and -S set NO_MERGE and SYNC; -A appends', async () => {
    const fake = await simpleBroker(() => [ok]);
    expect(await flux(fake.uri, ['kvs', 'put', '-n', '-S', '-A', 'x=1', 'y='])).toEqual({ code: 0, out: '', err: '' });
    expect(text(fake.got[0]!)).toBe('{"namespace":"primary","flags":5,"ops":[{"key":"x","flags":32,"dirent":{"ver":1,"type":"val","data":"MQ=="}},'
      + '{"key":"y","flags":32,"dirent":{"ver":1,"type":"val","data":""}}]}');
  });

  it('stores a tree object as given with -t, in its own member order', async () => {
    const fake = await simpleBroker(() => [ok]);
    const t = '{"type":"dirref","data":["sha1-6593f027a8fcfe0851d6f98f3f883d2c7fa12d40"],"ver":1}';
    expect((await flux(fake.uri, ['kvs', 'put', '-t', `snap=${t}`])).code).toBe(0);
    expect(text(fake.got[0]!)).toBe(`{"namespace":"primary","flags":0,"ops":[{"key":"snap","flags":0,"dirent":${t}}]}`);
    for (const bad of ['{"ver":1,"type":"val"}', '{"ver":1,"type":"val","data":"x","extra":1}', 'nope', '{"ver":2,"type":"val","data":""}']) {
      expect(await flux(fake.uri, ['kvs', 'put', '-t', `k=${bad}`])).toEqual({ code: 1, out: '', err: 'flux-kvs: k: Protocol error\n' });
    }
    expect(fake.got.length).toBe(1);
  });

  it('prints the new root with -O, -b or -s, in that order of precedence', async () => {
    const fake = await simpleBroker(() => [ok]);
    expect((await flux(fake.uri, ['kvs', 'put', '-O', 'a=1'])).out)
      .toBe('{"data":["sha1-baa0daaa5f41e1d12049b2d5489e33acb776e67a"],"type":"dirref","ver":1}\n');
    expect((await flux(fake.uri, ['kvs', 'put', '-b', '-s', 'a=1'])).out).toBe('sha1-baa0daaa5f41e1d12049b2d5489e33acb776e67a\n');
    expect((await flux(fake.uri, ['kvs', 'put', '-s', 'a=1'])).out).toBe('4\n');
  });

  it('uses -N, else FLUX_KVS_NAMESPACE, else primary', async () => {
    const fake = await simpleBroker(() => [ok]);
    await flux(fake.uri, ['kvs', 'put', '-N', 'ns1', 'a=1']);
    process.env.FLUX_KVS_NAMESPACE = 'ns2';
    await flux(fake.uri, ['kvs', 'put', 'a=1']);
    expect(fake.got.map((m) => body(m).namespace)).toEqual(['ns1', 'ns2']);
  });

  it('fails as flux-core does', async () => {
    const fake = await simpleBroker(() => [err(ENOTSUP)]);
    expect(await flux(fake.uri, ['kvs', 'put', 'a=1'])).toEqual({ code: 1, out: '', err: 'flux-kvs: flux_kvs_commit: Operation not supported\n' });
    expect((await flux(fake.uri, ['kvs', 'put', '-O', 'a=1'])).err).toBe('flux-kvs: flux_kvs_commit_get_treeobj: Operation not supported\n');
    expect(await flux(fake.uri, ['kvs', 'put', 'a'])).toEqual({ code: 1, out: '', err: 'flux-kvs: put: you must specify a value as key=value\n' });
    // flux-core says "flux-kvs: : Invalid argument" here: the empty key is named instead
    expect(await flux(fake.uri, ['kvs', 'put', '=1'])).toEqual({ code: 1, out: '', err: 'flux-kvs: put: =1: the key is empty: specify it as key=value\n' });
    expect(fake.got.length).toBe(2);
    expect((await flux(fake.uri, ['kvs', 'put'])).err).toBe("flux-kvs: missing required argument 'key=value'\n");
  });
});

describe('flux kvs get', () => {
  const values: Record<string, Reply> = {
    a: json({ val: valObj('1') }),
    empty: json({ val: valObj('') }),
    nul: json({ val: { data: b64('ab\0cd'), type: 'val', ver: 1 } }),
    dir: err(EISDIR),
  };
  const answer = (req: Message) => [values[body(req).key as string] ?? err(ENOENT)];

  it('prints values in key order with a newline unless empty; -l labels; -r is raw; -t is the tree object', async () => {
    const fake = await simpleBroker(answer);
    expect((await flux(fake.uri, ['kvs', 'get', 'a', 'empty', 'a'])).out).toBe('1\n1\n');
    expect((await flux(fake.uri, ['kvs', 'get', '-l', 'a', 'empty', 'nul'])).out).toBe('a=1\nempty=nul=ab\n');
    // the raw bytes reach stdout before the "key=" flux-core's stdio still holds
    expect((await flux(fake.uri, ['kvs', 'get', '-r', 'nul'])).out).toBe('ab\0cd');
    expect((await flux(fake.uri, ['kvs', 'get', '-r', '-l', 'a', 'a'])).out).toBe('1a=1a=');
    expect((await flux(fake.uri, ['kvs', 'get', '-t', '-l', 'a'])).out).toBe('a={"data":"MQ==","type":"val","ver":1}\n');
    expect(body(fake.got.at(-1)!)).toEqual({ key: 'a', namespace: 'primary', flags: 16 });
  });

  it('stops at the first failing key with flux-kvs: KEY: strerror', async () => {
    const fake = await simpleBroker(answer);
    expect(await flux(fake.uri, ['kvs', 'get', 'a', 'dir', 'a'])).toEqual({ code: 1, out: '1\n', err: 'flux-kvs: dir: Is a directory\n' });
    expect(fake.got.length).toBe(2);
  });

  it('waits for creation with -W (one answer from kvs-watch), watches with -w and its flags', async () => {
    const fake = await fakeBroker((req, respond) => {
      if (req.topic === 'kvs-watch.cancel') respond(err(ENODATA), fake.got.find((m) => m.aux2 === body(req).matchtag));
      else respond(json({ val: valObj('v') }));
    });
    expect((await flux(fake.uri, ['kvs', 'get', '-W', 'k'])).out).toBe('v\n');
    expect(fake.got[0]!.topic).toBe('kvs-watch.lookup');
    expect(clientFlags(fake.got[0]!.flags)).toBe(0);
    expect(body(fake.got[0]!).flags).toBe(8);
    expect((await flux(fake.uri, ['kvs', 'get', '-w', '-u', '-A', '-f', '-W', '-c', '1', 'k'])).out).toBe('v\n');
    expect(body(fake.got[1]!).flags).toBe(4 | 8 | 64 | 128 | 256);
    expect(clientFlags(fake.got[1]!.flags)).toBe(FLAG_STREAMING);
    // without --watch, -u -A -f mean nothing
    await flux(fake.uri, ['kvs', 'get', '-u', '-A', '-f', 'k']);
    expect(body(fake.got.at(-1)!)).toEqual({ key: 'k', namespace: 'primary', flags: 0 });
  });

  it('streams with -S until ENODATA', async () => {
    const fake = await fakeBroker((req, respond) => {
      for (const s of ['ab', 'cd']) respond(json({ val: valObj(s) }));
      respond(err(ENODATA));
    });
    expect((await flux(fake.uri, ['kvs', 'get', '-S', '-r', 'k'])).out).toBe('abcd');
    expect(fake.got[0]!.topic).toBe('kvs-watch.lookup');
    expect(body(fake.got[0]!).flags).toBe(512);
    expect(clientFlags(fake.got[0]!.flags)).toBe(FLAG_STREAMING);
  });

  it('looks up at a snapshot with -a, which cannot be watched', async () => {
    const fake = await simpleBroker(answer);
    const at = '{"data":["sha1-6593f027a8fcfe0851d6f98f3f883d2c7fa12d40"],"type":"dirref","ver":1}';
    expect(await flux(fake.uri, ['kvs', 'get', '-a', at, '-w', 'a'])).toEqual({ code: 1, out: '', err: 'flux-kvs: a: Invalid argument\n' });
    expect(await flux(fake.uri, ['kvs', 'get', '-a', '{bad', 'a'])).toEqual({ code: 1, out: '', err: 'flux-kvs: a: Invalid argument\n' });
    expect(fake.got.length).toBe(0);
  });
});

describe('flux kvs dir', () => {
  const tree: Record<string, unknown> = {
    '.': { data: { a: valObj('x'), d: { data: ['sha1-d356da329c76e53dc0e73f6882ceae9231cdbe96'], type: 'dirref', ver: 1 }, e: { data: {}, type: 'dir', ver: 1 }, l: { data: { namespace: 'ns', target: 'd.x' }, type: 'symlink', ver: 1 } }, type: 'dir', ver: 1 },
    d: { data: { long: valObj(`${'y'.repeat(20)}\nmore`), nl: valObj('v\n') }, type: 'dir', ver: 1 },
    e: { data: {}, type: 'dir', ver: 1 },
    a: valObj('x'),
    'd.long': valObj(`${'y'.repeat(20)}\nmore`),
    'd.nl': valObj('v\n'),
    l: { data: { namespace: 'ns', target: 'd.x' }, type: 'symlink', ver: 1 },
  };
  const answer = (req: Message) => {
    const t = tree[body(req).key as string];
    return [t === undefined ? err(ENOENT) : json({ val: t })];
  };

  it('lists values, subdirectories and links; -R descends; -d leaves values out; -w cuts lines', async () => {
    const fake = await simpleBroker(answer);
    expect((await flux(fake.uri, ['kvs', 'dir'])).out).toBe('a = x\nd.\ne.\nl -> ns::d.x\n');
    expect((await flux(fake.uri, ['kvs', 'dir', '-R', '-w', '15'])).out)
      .toBe('a = x\nd.long = yyy...\nd.nl = v\ne.\nl -> ns::d.x\n');
    expect((await flux(fake.uri, ['kvs', 'dir', '-R', '-d'])).out).toBe('a\nd.long\nd.nl\ne.\nl -> ns::d.x\n');
    expect((await flux(fake.uri, ['kvs', 'dir', '-w', '0', 'd'])).out).toBe(`d.long = ${'y'.repeat(20)}\nmore\nd.nl = v\n\n`);
    process.env.COLUMNS = '16';
    expect((await flux(fake.uri, ['kvs', 'dir', 'd'])).out).toBe('d.long = yyyy...\nd.nl = v\n');
  });

  it('reads every key under the snapshot with --at', async () => {
    const fake = await simpleBroker(answer);
    const at = '{"data":["sha1-6593f027a8fcfe0851d6f98f3f883d2c7fa12d40"],"type":"dirref","ver":1}';
    expect((await flux(fake.uri, ['kvs', 'dir', '--at', at])).code).toBe(0);
    // the value and the link are in the directory itself: only the directory is looked up
    expect(fake.got.map(text)).toEqual([`{"key":".","flags":1,"rootdir":${at}}`]);
  });

  it('fails for a value, a missing key, or more than one key', async () => {
    const fake = await simpleBroker((req) => (body(req).key === 'a' ? [{ errnum: 20 }] : answer(req)));
    expect(await flux(fake.uri, ['kvs', 'dir', 'a'])).toEqual({ code: 1, out: '', err: 'flux-kvs: a: Not a directory\n' });
    expect(await flux(fake.uri, ['kvs', 'dir', 'nope'])).toEqual({ code: 1, out: '', err: 'flux-kvs: nope: No such file or directory\n' });
    expect(await flux(fake.uri, ['kvs', 'dir', 'a', 'b'])).toEqual({ code: 1, out: '', err: 'flux-kvs: dir: specify zero or one directory\n' });
  });
});

describe('flux kvs ls', () => {
  const dirref = { data: ['sha1-d356da329c76e53dc0e73f6882ceae9231cdbe96'], type: 'dirref', ver: 1 };
  const link = (target: string) => ({ data: { target }, type: 'symlink', ver: 1 });
  const dirs: Record<string, Record<string, unknown>> = {
    '.': { alpha: valObj('1'), beta: dirref, gamma: link('beta'), delta: link('alpha'), zeta: dirref },
    beta: { one: valObj('1'), two: dirref },
    'beta.two': {},
    zeta: { z: valObj('1') },
  };
  const entryOf = (key: string): unknown => {
    if (dirs[key]) return dirref;
    const dot = key.lastIndexOf('.');
    const parent = dot < 0 ? '.' : key.slice(0, dot);
    return dirs[parent]?.[key.slice(dot + 1)];
  };
  const answer = (req: Message) => {
    const { key, flags } = body(req) as { key: string; flags: number };
    const t = entryOf(key) as { type?: string; data?: { target: string } } | undefined;
    // the service follows a link to a directory
    const dirKey = t?.type === 'symlink' ? t.data!.target : key;
    if (flags === 1) return [dirs[dirKey] ? json({ val: { data: dirs[dirKey], type: 'dir', ver: 1 } }) : err(ENOENT)];
    if (t === undefined) return [err(ENOENT)];
    if (flags === 16) return [json({ val: t })];
    // a plain get follows links
    const target = t.type === 'symlink' ? entryOf(t.data!.target) as { type: string } | undefined : t;
    if (target === undefined) return [err(ENOENT)];
    return [target.type === 'dirref' ? err(EISDIR) : json({ val: target })];
  };

  it('lays names out in columns as wide as the longest name + 4', async () => {
    const fake = await simpleBroker(answer);
    expect((await flux(fake.uri, ['kvs', 'ls'])).out).toBe('alpha    beta     delta    gamma    zeta\n');
    expect((await flux(fake.uri, ['kvs', 'ls', '-w', '20'])).out).toBe('alpha    beta\ndelta    gamma\nzeta\n');
    expect((await flux(fake.uri, ['kvs', 'ls', '-1', '-F'])).out).toBe('alpha\nbeta.\ndelta@\ngamma@\nzeta.\n');
    expect((await flux(fake.uri, ['kvs', 'ls', '-d', '.'])).out).toBe('.\n');
  });

  it('lists non-directories first, then each directory under a label; -R descends', async () => {
    const fake = await simpleBroker(answer);
    // a link to a directory lists the directory, a link to a value names the link
    expect((await flux(fake.uri, ['kvs', 'ls', 'gamma', 'delta', 'alpha'])).out).toBe('alpha    delta\n\ngamma:\none    two\n');
    expect((await flux(fake.uri, ['kvs', 'ls', 'beta', 'zeta'])).out).toBe('beta:\none    two\n\nzeta:\nz\n');
    expect((await flux(fake.uri, ['kvs', 'ls', '-R', 'beta'])).out).toBe('beta:\none    two\n\nbeta.two:\n');
  });

  it('reports keys it cannot list without the flux-kvs prefix, lists the rest and exits 1', async () => {
    const fake = await simpleBroker(answer);
    expect(await flux(fake.uri, ['kvs', 'ls', 'nope', 'alpha.', 'zeta'])).toEqual({
      code: 1, out: 'z\n', err: 'nope: No such file or directory\nalpha: Not a directory\n',
    });
  });
});

describe('flux kvs unlink, link, readlink, mkdir, copy, move', () => {
  const ok = json({ rootref: 'sha1-baa0daaa5f41e1d12049b2d5489e33acb776e67a', rootseq: 9 });

  it('unlinks after checking the keys; -R for a non-empty directory; -f forgives a missing key', async () => {
    const dirref = { data: ['sha1-d356da329c76e53dc0e73f6882ceae9231cdbe96'], type: 'dirref', ver: 1 };
    const fake = await simpleBroker((req) => {
      if (req.topic === 'kvs.commit') return [ok];
      const { key, flags } = body(req) as { key: string; flags: number };
      if (key === 'a') return [json({ val: valObj('1') })];
      if (key === 'd') return [json({ val: flags === 1 ? { data: { x: valObj('1') }, type: 'dir', ver: 1 } : dirref })];
      return [err(ENOENT)];
    });
    expect(await flux(fake.uri, ['kvs', 'unlink', '-s', 'a', 'd'])).toEqual({ code: 1, out: '', err: "flux-kvs: cannot unlink 'd': Directory not empty\n" });
    expect(await flux(fake.uri, ['kvs', 'unlink', 'nope'])).toEqual({ code: 1, out: '', err: "flux-kvs: cannot unlink 'nope': No such file or directory\n" });
    expect(fake.got.every((m) => m.topic === 'kvs.lookup')).toBe(true);
    fake.got.length = 0;
    expect(await flux(fake.uri, ['kvs', 'unlink', '-R', '-f', '-s', 'a', 'nope', 'd'])).toEqual({ code: 0, out: '9\n', err: '' });
    expect(fake.got.map(text)).toEqual([
      '{"key":"a","namespace":"primary","flags":16}',
      '{"key":"nope","namespace":"primary","flags":16}',
      '{"key":"d","namespace":"primary","flags":16}',
      '{"namespace":"primary","flags":0,"ops":[{"key":"a","flags":0,"dirent":null},{"key":"d","flags":0,"dirent":null}]}',
    ]);
  });

  it('links, into another namespace with -T; reads links back', async () => {
    const fake = await simpleBroker((req) => {
      if (req.topic === 'kvs.commit') return [ok];
      const key = body(req).key;
      if (key === 'l1') return [json({ val: { data: { target: 'a.b' }, type: 'symlink', ver: 1 } })];
      if (key === 'l2') return [json({ val: { data: { namespace: 'ns', target: 'c' }, type: 'symlink', ver: 1 } })];
      return [err(22)];
    });
    expect(await flux(fake.uri, ['kvs', 'link', '-N', 'n1', '-T', 'ns', '-O', 'c', 'l2'])).toEqual({
      code: 0, out: '{"data":["sha1-baa0daaa5f41e1d12049b2d5489e33acb776e67a"],"type":"dirref","ver":1}\n', err: '',
    });
    expect(text(fake.got[0]!)).toBe('{"namespace":"n1","flags":0,"ops":[{"key":"l2","flags":0,"dirent":{"ver":1,"type":"symlink","data":{"namespace":"ns","target":"c"}}}]}');
    await flux(fake.uri, ['kvs', 'link', 'a.b', 'l1']);
    expect(body(fake.got[1]!).ops).toEqual([{ key: 'l1', flags: 0, dirent: { ver: 1, type: 'symlink', data: { target: 'a.b' } } }]);
    expect((await flux(fake.uri, ['kvs', 'link', 'x'])).err).toBe('flux-kvs: link: specify target and link_name\n');
    expect((await flux(fake.uri, ['kvs', 'readlink', 'l1', 'l2'])).out).toBe('a.b\nns::c\n');
    expect(body(fake.got.at(-1)!)).toEqual({ key: 'l2', namespace: 'primary', flags: 2 });
    expect((await flux(fake.uri, ['kvs', 'readlink', '-o', 'l1', 'l2'])).out).toBe('a.b\nns\n');
    expect((await flux(fake.uri, ['kvs', 'readlink', '-k', 'l1', 'l2'])).out).toBe('a.b\nc\n');
    expect(await flux(fake.uri, ['kvs', 'readlink', 'v'])).toEqual({ code: 1, out: '', err: 'flux-kvs: v: Invalid argument\n' });
  });

  it('makes directories in one commit', async () => {
    const fake = await simpleBroker(() => [ok]);
    expect(await flux(fake.uri, ['kvs', 'mkdir', '-b', 'd1', 'd2'])).toEqual({ code: 0, out: 'sha1-baa0daaa5f41e1d12049b2d5489e33acb776e67a\n', err: '' });
    expect(text(fake.got[0]!)).toBe('{"namespace":"primary","flags":0,"ops":[{"key":"d1","flags":0,"dirent":{"ver":1,"type":"dir","data":{}}},'
      + '{"key":"d2","flags":0,"dirent":{"ver":1,"type":"dir","data":{}}}]}');
  });

  it('copies the tree object (sorted, as libkvs re-reads it); move then unlinks in the source namespace', async () => {
    const fake = await simpleBroker((req) => (req.topic === 'kvs.commit' ? [ok] : [raw('{"val":{"ver":1,"type":"val","data":"MQ=="}}')]));
    expect(await flux(fake.uri, ['kvs', 'move', '-S', 'src', '-D', 'dst', 'a', 'b'])).toEqual({ code: 0, out: '', err: '' });
    expect(fake.got.map(text)).toEqual([
      '{"key":"a","namespace":"src","flags":16}',
      '{"namespace":"dst","flags":0,"ops":[{"key":"b","flags":0,"dirent":{"data":"MQ==","type":"val","ver":1}}]}',
      '{"namespace":"src","flags":0,"ops":[{"key":"a","flags":0,"dirent":null}]}',
    ]);
    fake.got.length = 0;
    expect((await flux(fake.uri, ['kvs', 'copy', 'a', 'b'])).code).toBe(0);
    expect(fake.got.length).toBe(2);
    expect((await flux(fake.uri, ['kvs', 'copy', 'a'])).err).toBe('flux-kvs: copy: specify srckey dstkey\n');
    const failing = await simpleBroker(() => [err(ENOENT)]);
    expect((await flux(failing.uri, ['kvs', 'move', 'a', 'b'])).err).toBe('flux-kvs: flux_kvs_move: No such file or directory\n');
  });
});

describe('flux kvs version, wait, getroot, sync', () => {
  const root = json({ owner: 0, rootseq: 4, rootref: 'sha1-baa0daaa5f41e1d12049b2d5489e33acb776e67a', flags: 0, namespace: 'primary' });

  it('asks kvs.getroot for the version and kvs.wait-version to wait', async () => {
    const fake = await simpleBroker((req) => (req.topic === 'kvs.getroot' ? [root] : [json({ rootseq: 7, rootref: 'x' })]));
    expect(await flux(fake.uri, ['kvs', 'version', '-N', 'ns'])).toEqual({ code: 0, out: '4\n', err: '' });
    expect(await flux(fake.uri, ['kvs', 'wait', '7'])).toEqual({ code: 0, out: '', err: '' });
    expect(fake.got.map(text)).toEqual(['{"namespace":"ns"}', '{"rootseq":7,"namespace":"primary"}']);
    expect((await flux(fake.uri, ['kvs', 'wait', '1', '2'])).err).toBe('flux-kvs: wait: specify a version\n');
    expect((await flux(fake.uri, ['kvs', 'wait'])).code).toBe(1);
  });

  it('prints the root as a dirref, or its owner, sequence or blobref', async () => {
    const fake = await simpleBroker(() => [root]);
    expect((await flux(fake.uri, ['kvs', 'getroot', '-o'])).out).toBe('0\n');
    expect((await flux(fake.uri, ['kvs', 'getroot', '-s', '-b'])).out).toBe('4\n');
    expect((await flux(fake.uri, ['kvs', 'getroot', '-b'])).out).toBe('sha1-baa0daaa5f41e1d12049b2d5489e33acb776e67a\n');
    const failing = await simpleBroker(() => [err(ENOTSUP)]);
    expect((await flux(failing.uri, ['kvs', 'getroot', '-N', 'nons'])).err).toBe('flux-kvs: flux_kvs_getroot_get_treeobj: Operation not supported\n');
    expect((await flux(failing.uri, ['kvs', 'version'])).err).toBe('flux-kvs: flux_kvs_get_version: Operation not supported\n');
  });

  it('syncs with an empty SYNC commit', async () => {
    const fake = await simpleBroker(() => [json({ rootref: 'x', rootseq: 1 })]);
    expect(await flux(fake.uri, ['kvs', 'sync'])).toEqual({ code: 0, out: '', err: '' });
    expect(text(fake.got[0]!)).toBe('{"namespace":"primary","flags":4,"ops":[]}');
  });
});

describe('flux kvs namespace', () => {
  it('creates with an owner and a root reference, removes at rank 0', async () => {
    const fake = await simpleBroker((req) => (req.topic === 'kvs.namespace-create' && body(req).namespace === 'dup'
      ? [{ errnum: EEXIST, payload: stringPayload('namespace already exists') }] : [{}]));
    expect(await flux(fake.uri, ['kvs', 'namespace', 'create', '-o', '1000', '-r', 'sha1-aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d', 'a', 'b'])).toEqual({ code: 0, out: '', err: '' });
    expect(fake.got.map(text)).toEqual([
      '{"namespace":"a","rootref":"sha1-aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d","owner":1000,"flags":0}',
      '{"namespace":"b","rootref":"sha1-aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d","owner":1000,"flags":0}',
    ]);
    expect(fake.got.every((m) => m.aux1 === 0)).toBe(true);
    expect(await flux(fake.uri, ['kvs', 'namespace', 'create', '-r', 'x', 'dup'])).toEqual({ code: 1, out: '', err: 'flux-kvs: dup: namespace already exists\n' });
    expect((await flux(fake.uri, ['kvs', 'namespace', 'create', '-o', 'me', 'c'])).err).toBe('flux-kvs: --owner requires an unsigned integer argument\n');
    fake.got.length = 0;
    expect(await flux(fake.uri, ['kvs', 'namespace', 'remove', 'a', 'b'])).toEqual({ code: 0, out: '', err: '' });
    expect(fake.got.map(text)).toEqual(['{"namespace":"a"}', '{"namespace":"b"}']);
    expect(fake.got.every((m) => m.aux1 === 0)).toBe(true);
  });

  it('computes the empty root with a sha256 instance too, asking content.hash once', async () => {
    const fake = await simpleBroker((req) => (req.topic === 'attr.get' ? [json({ value: 'sha256', flags: 1 })] : [{}]));
    expect((await flux(fake.uri, ['kvs', 'namespace', 'create', 'a', 'b'])).code).toBe(0);
    expect(fake.got.map((m) => m.topic)).toEqual(['attr.get', 'kvs.namespace-create', 'kvs.namespace-create']);
    expect(body(fake.got[1]!).rootref).toMatch(/^sha256-[0-9a-f]{64}$/);
    expect(body(fake.got[1]!).owner).toBe(-1);
  });

  it('lists owners unsigned and flags in hex', async () => {
    const fake = await simpleBroker(() => [json({ namespaces: [{ namespace: 'job-1234', owner: -1, flags: 255 }] })]);
    expect((await flux(fake.uri, ['kvs', 'namespace', 'list'])).out)
      .toBe(`NAMESPACE                                 OWNER      FLAGS\n${'job-1234'.padEnd(36)} 4294967295 0x000000FF\n`);
    expect(fake.got[0]!.aux1).toBe(NODEID_ANY);
  });
});

describe('flux kvs eventlog', () => {
  const log = '{"timestamp":1795641476.6093791,"name":"start","context":{"version":1,"core_version":"0.88.0"}}\n'
    + '{"timestamp":1795641477.5,"name":"finish","context":{"status":0,"note":"x"}}\n'
    + '{"timestamp":1795641530.25,"name":"clean"}\n';

  it('appends one RFC 18 line with the APPEND op flag', async () => {
    const fake = await simpleBroker(() => [json({ rootref: 'x', rootseq: 1 })]);
    expect(await flux(fake.uri, ['kvs', 'eventlog', 'append', '-t', '10', 'ev', 'begin', '{"b":1,', '"a":[1.50]}'])).toEqual({ code: 0, out: '', err: '' });
    const line = '{"timestamp":10.0,"name":"begin","context":{"b":1,"a":[1.5]}}\n';
    expect(text(fake.got[0]!)).toBe(`{"namespace":"primary","flags":0,"ops":[{"key":"ev","flags":32,"dirent":{"ver":1,"type":"val","data":"${b64(line)}"}}]}`);
    expect((await flux(fake.uri, ['kvs', 'eventlog', 'append', 'ev', 'now'])).code).toBe(0);
    const now = JSON.parse(Buffer.from((body(fake.got[1]!).ops as Array<{ dirent: { data: string } }>)[0]!.dirent.data, 'base64').toString()) as { timestamp: number };
    expect(Math.abs(now.timestamp - Date.now() / 1000)).toBeLessThan(5);
    expect((await flux(fake.uri, ['kvs', 'eventlog', 'append', 'ev', 'x', '[1]'])).err).toBe('flux-kvs: eventlog_entry_create: Invalid argument\n');
  });

  it('prints entries as `%f name key=json`, -u as RFC 18, -H by minute and offset, -c at most N', async () => {
    const fake = await simpleBroker(() => [json({ val: valObj(log) })]);
    expect((await flux(fake.uri, ['kvs', 'eventlog', 'get', 'ev'])).out).toBe(
      '1795641476.609379 start version=1 core_version="0.88.0"\n1795641477.500000 finish status=0 note="x"\n1795641530.250000 clean\n',
    );
    expect((await flux(fake.uri, ['kvs', 'eventlog', 'get', '-u', '-c', '2', 'ev'])).out).toBe(log.split('\n').slice(0, 2).map((l) => `${l}\n`).join(''));
    const tz = process.env.TZ;
    process.env.TZ = 'UTC';
    try {
      expect((await flux(fake.uri, ['kvs', 'eventlog', 'get', '-H', 'ev'])).out).toBe(
        '[Nov25 21:17] start version=1 core_version="0.88.0"\n[  +0.890621] finish status=0 note="x"\n[Nov25 21:18] clean\n',
      );
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
    expect((await flux(fake.uri, ['kvs', 'eventlog', 'get', '-L', 'ev'])).out.split('\n')[1])
      .toBe('\x1b[32m1795641477.500000\x1b[0m \x1b[33mfinish\x1b[0m \x1b[34mstatus\x1b[0m=\x1b[37m0\x1b[0m \x1b[34mnote\x1b[0m=\x1b[35m"x"\x1b[0m');
    expect(await flux(fake.uri, ['kvs', 'eventlog', 'get', '-u', '-H', 'ev'])).toEqual({
      code: 1, out: '', err: 'flux-kvs: Do not specify --unformatted with --human or --color=always\nflux-kvs: failed to create eventlog formatter\n',
    });
  });

  it('fails for a missing or malformed eventlog', async () => {
    const fake = await simpleBroker((req) => (body(req).key === 'bad' ? [json({ val: valObj('no newline') })] : [err(ENOENT)]));
    expect((await flux(fake.uri, ['kvs', 'eventlog', 'get', 'nope'])).err).toBe('flux-kvs: flux_kvs_lookup_get: No such file or directory\n');
    expect((await flux(fake.uri, ['kvs', 'eventlog', 'get', 'bad'])).err).toBe('flux-kvs: eventlog_decode: Invalid argument\n');
  });

  it('watches appends with -w and cancels at -c N', async () => {
    const chunks = log.split('\n').slice(0, 3).map((l) => `${l}\n`);
    const fake = await fakeBroker((req, respond) => {
      if (req.topic === 'kvs-watch.lookup') for (const c of chunks) respond(json({ val: valObj(c) }));
      else respond(err(ENODATA), fake.got[0]);
    });
    expect((await flux(fake.uri, ['kvs', 'eventlog', 'get', '-w', '-c', '2', '-u', 'ev'])).out).toBe(chunks.slice(0, 2).join(''));
    expect(body(fake.got[0]!).flags).toBe(4 | 256);
    expect(fake.got[1]!.topic).toBe('kvs-watch.cancel');
  });

  it('waits for an event, printing it (-q: not), the ones before it (-v), giving up after -t', async () => {
    const chunks = log.split('\n').slice(0, 3).map((l) => `${l}\n`);
    let hang = false;
    const fake = await fakeBroker((req, respond) => {
      if (req.topic === 'kvs-watch.cancel') {
        respond(err(ENODATA), fake.got.find((m) => m.aux2 === body(req).matchtag));
        return;
      }
      if (body(req).key === 'nope') respond(err(ENOENT));
      else if (!hang) for (const c of chunks) respond(json({ val: valObj(c) }));
    });
    expect(await flux(fake.uri, ['kvs', 'eventlog', 'wait-event', '-u', 'ev', 'finish'])).toEqual({ code: 0, out: chunks[1], err: '' });
    expect(body(fake.got[0]!).flags).toBe(4 | 256);
    expect((await flux(fake.uri, ['kvs', 'eventlog', 'wait-event', '-v', '-u', '-W', 'ev', 'finish'])).out).toBe(chunks[0]! + chunks[1]!);
    expect((await flux(fake.uri, ['kvs', 'eventlog', 'wait-event', '-q', 'ev', 'clean'])).out).toBe('');
    expect(await flux(fake.uri, ['kvs', 'eventlog', 'wait-event', 'nope', 'x'])).toEqual({ code: 1, out: '', err: 'flux-kvs: eventlog path nope not found\n' });
    hang = true;
    expect(await flux(fake.uri, ['kvs', 'eventlog', 'wait-event', '-t', '0.1', 'ev', 'x'])).toEqual({ code: 1, out: '', err: "flux-kvs: wait-event timeout on event 'x'\n" });
  });

  it('says so when the watch ends without the event', async () => {
    const fake = await fakeBroker((req, respond) => {
      respond(json({ val: valObj('{"timestamp":1,"name":"a"}\n') }));
      respond(err(ENODATA));
    });
    expect(await flux(fake.uri, ['kvs', 'eventlog', 'wait-event', 'ev', 'b'])).toEqual({ code: 1, out: '', err: "flux-kvs: event 'b' never received\n" });
  });
});
