// flux kvs on real instances: every subcommand and option, with flux-core 0.88's output formats, errors and
// exit codes, on rank 0 and through rank 1.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { background, startInstance, type Instance } from '../helpers/instance.js';

const ok = (stdout = '') => ({ code: 0, stdout, stderr: '' });
const failed = (stderr: string) => ({ code: 1, stdout: '', stderr });

describe('flux kvs on an instance of size 2', () => {
  let inst: Instance;
  let flux: Instance['flux'];
  const onRank1 = () => ({ env: { FLUX_URI: `local://${inst.rundir}/local-1` } });
  beforeAll(async () => {
    inst = await startInstance(2);
    flux = inst.flux;
  });
  afterAll(async () => {
    await inst?.stop();
  });

  it('puts several pairs in one commit and gets them back, in key order', async () => {
    const before = Number((await flux(['kvs', 'version'])).stdout);
    expect(await flux(['kvs', 'put', 'a=1', 'b.c=hello', 'empty='])).toMatchObject(ok());
    expect(Number((await flux(['kvs', 'version'])).stdout)).toBe(before + 1);
    expect(await flux(['kvs', 'get', 'a', 'b.c', 'empty', 'a'])).toMatchObject(ok('1\nhello\n1\n'));
    expect(await flux(['kvs', 'get', '-l', 'a', 'b.c'])).toMatchObject(ok('a=1\nb.c=hello\n'));
    expect(await flux(['kvs', 'get', '-t', 'a'])).toMatchObject(ok('{"data":"MQ==","type":"val","ver":1}\n'));
    expect(await flux(['kvs', 'get', 'a'], onRank1())).toMatchObject(ok('1\n'));
  });

  it('stores raw bytes from stdin with -r, a tree object with -t, appends with -A', async () => {
    expect(await flux(['kvs', 'put', '-r', 'raw=-'], { input: 'x\0y\n' })).toMatchObject(ok());
    expect((await flux(['kvs', 'get', '-r', 'raw'])).stdout).toBe('x\0y\n');
    expect(await flux(['kvs', 'put', '-t', 'tree={"data":"aGk=","type":"val","ver":1}'])).toMatchObject(ok());
    expect(await flux(['kvs', 'get', 'tree'])).toMatchObject(ok('hi\n'));
    expect(await flux(['kvs', 'put', '-t', 'tree2=-'], { input: '{"data":"aGk=","type":"val","ver":1}' })).toMatchObject(ok());
    expect(await flux(['kvs', 'put', 'log=one,'])).toMatchObject(ok());
    expect(await flux(['kvs', 'put', '-A', 'log=two,', 'log=three'])).toMatchObject(ok());
    expect(await flux(['kvs', 'get', 'log'])).toMatchObject(ok('one,two,three\n'));
    expect(await flux(['kvs', 'put', '-n', '-S', 'safe=1'])).toMatchObject(ok());
    expect(await flux(['kvs', 'get', 'safe'])).toMatchObject(ok('1\n'));
  });

  it('keeps a big value whole (the service makes it a valref)', async () => {
    const big = `vvvvvvvvvv${'0123456789'.repeat(29)}`;
    expect(await flux(['kvs', 'put', `big=${big}`])).toMatchObject(ok());
    expect(await flux(['kvs', 'get', 'big'])).toMatchObject(ok(`${big}\n`));
    expect(await flux(['kvs', 'get', 'big'], onRank1())).toMatchObject(ok(`${big}\n`));
    expect((await flux(['kvs', 'get', '-t', 'big'])).stdout).toMatch(/^\{"data":\["sha(1|256)-[0-9a-f]+"\],"type":"valref","ver":1\}\n$/);
  });

  it('prints the new root after a commit as getroot prints it, and reads the old root with --at', async () => {
    const put = await flux(['kvs', 'put', '-O', 'snap=old']);
    expect(put).toMatchObject({ code: 0, stderr: '' });
    expect(put.stdout).toMatch(/^\{"data":\["sha(1|256)-[0-9a-f]+"\],"type":"dirref","ver":1\}\n$/);
    expect((await flux(['kvs', 'getroot'])).stdout).toBe(put.stdout);
    const ref = (await flux(['kvs', 'getroot', '-b'])).stdout;
    expect(put.stdout).toContain(ref.trim());
    const seq = (await flux(['kvs', 'getroot', '-s'])).stdout;
    expect(seq).toBe((await flux(['kvs', 'version'])).stdout);
    expect(await flux(['kvs', 'getroot', '-o'])).toMatchObject(ok(`${process.getuid!()}\n`));
    expect(await flux(['kvs', 'put', '-s', 'snap=new'])).toMatchObject(ok(`${Number(seq) + 1}\n`));
    expect(await flux(['kvs', 'get', '--at', put.stdout.trim(), 'snap'])).toMatchObject(ok('old\n'));
    expect(await flux(['kvs', 'get', 'snap'])).toMatchObject(ok('new\n'));
    expect((await flux(['kvs', 'put', '-b', 'snap=newer'])).stdout).toMatch(/^sha(1|256)-[0-9a-f]+\n$/);
    expect(await flux(['kvs', 'dir', '-a', put.stdout.trim(), 'b'])).toMatchObject(ok('b.c = hello\n'));
  });

  it('fails as flux-core does: missing key, directory, bad options', async () => {
    expect(await flux(['kvs', 'get', 'nosuchkey'])).toMatchObject(failed('flux-kvs: nosuchkey: No such file or directory\n'));
    expect(await flux(['kvs', 'get', 'b'])).toMatchObject(failed('flux-kvs: b: Is a directory\n'));
    expect(await flux(['kvs', 'put', 'novalue'])).toMatchObject(failed('flux-kvs: put: you must specify a value as key=value\n'));
    expect(await flux(['kvs', 'put', '=v'])).toMatchObject(failed('flux-kvs: put: =v: the key is empty: specify it as key=value\n'));
    expect(await flux(['kvs', 'put', '-t', 'k=notjson'])).toMatchObject(failed('flux-kvs: k: Protocol error\n'));
    expect(await flux(['kvs', 'get', '-a', '{"data":["x"]}', '-w', 'a'])).toMatchObject(failed('flux-kvs: a: Invalid argument\n'));
    expect(await flux(['kvs', 'put', '-N', 'nonamespace', 'a=1'])).toMatchObject(failed('flux-kvs: flux_kvs_commit: Operation not supported\n'));
    expect(await flux(['kvs', 'get', '-N', 'nonamespace', 'a'])).toMatchObject(failed('flux-kvs: a: Operation not supported\n'));
    expect((await flux(['kvs', 'frob'])).code).toBe(1);
  });

  it('lists a directory with values, recursively, names only, cut to the width', async () => {
    expect(await flux(['kvs', 'put', 'd.x=1', 'd.y.z=a longer value than fits', 'd.nl=first\nsecond'])).toMatchObject(ok());
    expect(await flux(['kvs', 'mkdir', 'd.empty'])).toMatchObject(ok());
    expect(await flux(['kvs', 'link', 'd.x', 'd.l'])).toMatchObject(ok());
    expect(await flux(['kvs', 'dir', 'd'])).toMatchObject(ok('d.empty.\nd.l -> d.x\nd.nl = first...\nd.x = 1\nd.y.\n'));
    expect(await flux(['kvs', 'dir', '-R', '-w', '20', 'd'])).toMatchObject(ok('d.empty.\nd.l -> d.x\nd.nl = first...\nd.x = 1\nd.y.z = a longer ...\n'));
    expect(await flux(['kvs', 'dir', '-R', '-d', 'd'])).toMatchObject(ok('d.empty.\nd.l -> d.x\nd.nl\nd.x\nd.y.z\n'));
    expect(await flux(['kvs', 'dir', '-w', '0', 'd.y'])).toMatchObject(ok('d.y.z = a longer value than fits\n'));
    expect(await flux(['kvs', 'dir', 'a'])).toMatchObject(failed('flux-kvs: a: Not a directory\n'));
    expect(await flux(['kvs', 'dir', 'd', 'b'])).toMatchObject(failed('flux-kvs: dir: specify zero or one directory\n'));
  });

  it('ls: columns, -1, -F, -d, -R, several keys, errors', async () => {
    expect(await flux(['kvs', 'ls', '-w', '80', 'd'])).toMatchObject(ok('empty    l        nl       x        y\n'));
    expect(await flux(['kvs', 'ls', '-w', '20', 'd'])).toMatchObject(ok('empty    l\nnl       x\ny\n'));
    expect(await flux(['kvs', 'ls', '-1', '-F', 'd'])).toMatchObject(ok('empty.\nl@\nnl\nx\ny.\n'));
    expect(await flux(['kvs', 'ls', '-d', '-F', 'd', 'd.l', 'd.x'])).toMatchObject(ok('d.      d.l@    d.x\n'));
    expect(await flux(['kvs', 'ls', '-R', 'd'])).toMatchObject(ok('d:\nempty    l        nl       x        y\n\nd.empty:\n\nd.y:\nz\n'));
    expect(await flux(['kvs', 'ls', 'd.x', 'd.y', 'd.empty'])).toMatchObject(ok('d.x\n\nd.empty:\n\nd.y:\nz\n'));
    expect(await flux(['kvs', 'ls', 'nope', 'd.x.', 'd.y'])).toMatchObject({
      code: 1, stdout: 'z\n', stderr: 'nope: No such file or directory\nd.x: Not a directory\n',
    });
  });

  it('unlinks values, directories with -R, missing keys with -f', async () => {
    expect(await flux(['kvs', 'put', 'u.a=1', 'u.b.c=2', 'u.v=3'])).toMatchObject(ok());
    expect(await flux(['kvs', 'unlink', 'u.b'])).toMatchObject(failed("flux-kvs: cannot unlink 'u.b': Directory not empty\n"));
    expect(await flux(['kvs', 'unlink', 'u.nope'])).toMatchObject(failed("flux-kvs: cannot unlink 'u.nope': No such file or directory\n"));
    const seq = Number((await flux(['kvs', 'version'])).stdout);
    expect(await flux(['kvs', 'unlink', '-s', '-R', '-f', 'u.b', 'u.nope', 'u.a'])).toMatchObject(ok(`${seq + 1}\n`));
    expect(await flux(['kvs', 'ls', 'u'])).toMatchObject(ok('v\n'));
    expect(await flux(['kvs', 'unlink', '-f', 'u.nope'])).toMatchObject(ok());
    expect(await flux(['kvs', 'get', 'u.a'])).toMatchObject(failed('flux-kvs: u.a: No such file or directory\n'));
  });

  it('links within and across namespaces; readlink -o -k', async () => {
    expect(await flux(['kvs', 'namespace', 'create', 'lns'])).toMatchObject(ok());
    expect(await flux(['kvs', 'put', '-N', 'lns', 'there=far'])).toMatchObject(ok());
    expect(await flux(['kvs', 'link', '-T', 'lns', 'there', 'ln.far'])).toMatchObject(ok());
    expect(await flux(['kvs', 'link', 'a', 'ln.near'])).toMatchObject(ok());
    expect(await flux(['kvs', 'get', 'ln.far', 'ln.near'])).toMatchObject(ok('far\n1\n'));
    expect(await flux(['kvs', 'readlink', 'ln.far', 'ln.near'])).toMatchObject(ok('lns::there\na\n'));
    expect(await flux(['kvs', 'readlink', '-o', 'ln.far', 'ln.near'])).toMatchObject(ok('lns\na\n'));
    expect(await flux(['kvs', 'readlink', '-k', 'ln.far'])).toMatchObject(ok('there\n'));
    expect(await flux(['kvs', 'readlink', 'a'])).toMatchObject(failed('flux-kvs: a: Invalid argument\n'));
    expect(await flux(['kvs', 'dir', 'ln'])).toMatchObject(ok('ln.far -> lns::there\nln.near -> a\n'));
    expect(await flux(['kvs', 'link', 'a'])).toMatchObject(failed('flux-kvs: link: specify target and link_name\n'));
  });

  it('copies and moves, within and between namespaces; a copied directory is the same reference', async () => {
    expect(await flux(['kvs', 'copy', 'b', 'b2'])).toMatchObject(ok());
    expect(await flux(['kvs', 'get', 'b2.c'])).toMatchObject(ok('hello\n'));
    const t = (await flux(['kvs', 'get', '-t', 'b'])).stdout;
    expect((await flux(['kvs', 'get', '-t', 'b2'])).stdout).toBe(t);
    expect(await flux(['kvs', 'move', '-D', 'lns', 'b2', 'moved'])).toMatchObject(ok());
    expect(await flux(['kvs', 'get', '-N', 'lns', 'moved.c'])).toMatchObject(ok('hello\n'));
    expect(await flux(['kvs', 'get', 'b2'])).toMatchObject(failed('flux-kvs: b2: No such file or directory\n'));
    expect(await flux(['kvs', 'move', '-S', 'lns', 'moved', 'back'])).toMatchObject(ok());
    expect(await flux(['kvs', 'get', 'back.c'])).toMatchObject(ok('hello\n'));
    expect(await flux(['kvs', 'copy', 'nope', 'x'])).toMatchObject(failed('flux-kvs: flux_kvs_copy: No such file or directory\n'));
    expect(await flux(['kvs', 'move', 'a'])).toMatchObject(failed('flux-kvs: move: specify srckey dstkey\n'));
  });

  it('mkdir and link print the new root with -O, -b and -s; get -S streams the whole value', async () => {
    const seq = Number((await flux(['kvs', 'version'])).stdout);
    expect(await flux(['kvs', 'mkdir', '-s', 'md.one'])).toMatchObject(ok(`${seq + 1}\n`));
    const b = await flux(['kvs', 'mkdir', '-b', 'md.two']);
    expect(b).toMatchObject({ code: 0, stdout: (await flux(['kvs', 'getroot', '-b'])).stdout });
    const o = await flux(['kvs', 'link', '-O', 'md.one', 'md.ln']);
    expect(o).toMatchObject({ code: 0, stdout: (await flux(['kvs', 'getroot'])).stdout });
    expect(await flux(['kvs', 'link', '-s', 'md.two', 'md.ln2'])).toMatchObject(ok(`${seq + 4}\n`));
    expect((await flux(['kvs', 'unlink', '-b', 'md.ln2'])).stdout).toMatch(/^sha(1|256)-[0-9a-f]+\n$/);
    expect(await flux(['kvs', 'dir', 'md'])).toMatchObject(ok('md.ln -> md.one\nmd.one.\nmd.two.\n'));
    expect(await flux(['kvs', 'put', 'md.v=streamed'])).toMatchObject(ok());
    expect(await flux(['kvs', 'get', '-S', 'md.v'])).toMatchObject(ok('streamed\n'));
    expect(await flux(['kvs', 'get', '-S', 'md.nope'])).toMatchObject(failed('flux-kvs: md.nope: No such file or directory\n'));
  });

  it('waits for a version; syncs', async () => {
    const seq = Number((await flux(['kvs', 'version'])).stdout);
    expect(await flux(['kvs', 'wait', String(seq)])).toMatchObject(ok());
    const waiter = background(inst.uri, ['kvs', 'wait', String(seq + 1)]);
    expect(await flux(['kvs', 'put', 'w=1'])).toMatchObject(ok());
    expect(await waiter.done).toMatchObject(ok());
    expect(await flux(['kvs', 'sync'])).toMatchObject(ok());
    expect(await flux(['kvs', 'wait'])).toMatchObject({ code: 1 });
  });

  it('watches values: -w -c, -W, -u, -A, -f', async () => {
    expect(await flux(['kvs', 'put', 'wv=1'])).toMatchObject(ok());
    const w = background(inst.uri, ['kvs', 'get', '--watch', '--count=2', 'wv']);
    await w.saw('1\n');
    expect(await flux(['kvs', 'put', 'wv=2'])).toMatchObject(ok());
    expect(await w.done).toMatchObject(ok('1\n2\n'));

    const created = background(inst.uri, ['kvs', 'get', '-W', 'later']);
    await new Promise((r) => setTimeout(r, 300));
    expect(await flux(['kvs', 'put', 'later=here'])).toMatchObject(ok());
    expect(await created.done).toMatchObject(ok('here\n'));

    const uniq = background(inst.uri, ['kvs', 'get', '-w', '-u', '-c', '2', 'wv']);
    await uniq.saw('2\n');
    expect(await flux(['kvs', 'put', 'wv=2'])).toMatchObject(ok());
    expect(await flux(['kvs', 'put', 'wv=3'])).toMatchObject(ok());
    expect(await uniq.done).toMatchObject(ok('2\n3\n'));

    expect(await flux(['kvs', 'put', 'wa=a'])).toMatchObject(ok());
    const appends = background(inst.uri, ['kvs', 'get', '-w', '-A', '-c', '3', 'wa']);
    await appends.saw('a\n');
    expect(await flux(['kvs', 'put', '-A', 'wa=b'])).toMatchObject(ok());
    expect(await flux(['kvs', 'put', '-A', 'wa=c'])).toMatchObject(ok());
    expect(await appends.done).toMatchObject(ok('a\nb\nc\n'));
    // a key already holding several pieces: one answer per piece, as flux-core's kvs-watch gives them, then the new ones
    const pieces = background(inst.uri, ['kvs', 'get', '-w', '-A', '-c', '4', 'wa']);
    await pieces.saw('a\nb\nc\n');
    expect(await flux(['kvs', 'put', '-A', 'wa=d'])).toMatchObject(ok());
    expect(await pieces.done).toMatchObject(ok('a\nb\nc\nd\n'));
    expect(await flux(['kvs', 'get', '-w', '-A', '-c', '2', 'wa'])).toMatchObject(ok('a\nb\n'));

    expect(await flux(['kvs', 'put', 'wf.k=1', 'wf2.k=2'])).toMatchObject(ok());
    const other = (await flux(['kvs', 'get', '-t', 'wf2'])).stdout.trim();
    const full = background(inst.uri, ['kvs', 'get', '-w', '-f', '-c', '2', 'wf.k']);
    await full.saw('1\n');
    // the parent directory is replaced and wf.k is not among the keys the commit names: only --full notices
    expect(await flux(['kvs', 'put', '-t', `wf=${other}`])).toMatchObject(ok());
    expect(await full.done).toMatchObject(ok('1\n2\n'));

    expect(await flux(['kvs', 'get', '-S', 'log'])).toMatchObject({ code: 0, stderr: '' });
    expect(await flux(['kvs', 'get', '-w', 'nosuch'])).toMatchObject(failed('flux-kvs: nosuch: No such file or directory\n'));
  });

  it('creates, lists and removes namespaces', async () => {
    expect(await flux(['kvs', 'namespace', 'create', 'ns1', 'ns2'])).toMatchObject(ok());
    expect(await flux(['kvs', 'namespace', 'create', '-o', '4242', 'guestns'])).toMatchObject(ok());
    const rootref = (await flux(['kvs', 'getroot', '-b'])).stdout.trim();
    expect(await flux(['kvs', 'namespace', 'create', '-r', rootref, 'copyns'])).toMatchObject(ok());
    expect(await flux(['kvs', 'get', '-N', 'copyns', 'a'])).toMatchObject(ok('1\n'));
    const list = await flux(['kvs', 'namespace', 'list']);
    expect(list).toMatchObject({ code: 0, stderr: '' });
    const lines = list.stdout.split('\n');
    expect(lines[0]).toBe('NAMESPACE                                 OWNER      FLAGS');
    const uid = String(process.getuid!());
    expect(lines).toContain(`${'primary'.padEnd(36)} ${uid.padStart(10)} 0x00000000`);
    expect(lines).toContain(`${'ns1'.padEnd(36)} ${uid.padStart(10)} 0x00000000`);
    expect(lines).toContain(`${'guestns'.padEnd(36)} ${'4242'.padStart(10)} 0x00000000`);
    expect((await flux(['kvs', 'namespace', 'create', 'ns1'])).code).toBe(1);
    expect(await flux(['kvs', 'put', '-N', 'ns1', 'k=v'])).toMatchObject(ok());
    expect(await flux(['kvs', 'get', 'k'], { env: { FLUX_KVS_NAMESPACE: 'ns1' } })).toMatchObject(ok('v\n'));
    expect(await flux(['kvs', 'namespace', 'remove', 'ns1', 'ns2'])).toMatchObject(ok());
    expect((await flux(['kvs', 'namespace', 'list'])).stdout).not.toMatch(/^ns1 /m);
    expect(await flux(['kvs', 'get', '-N', 'ns1', 'k'])).toMatchObject(failed('flux-kvs: k: Operation not supported\n'));
  });

  it('eventlogs: append, get (text, -u, -H, -c), watch, wait-event', async () => {
    expect(await flux(['kvs', 'eventlog', 'append', '-t', '1700000000.5', 'ev', 'start', '{"x":1,', '"s":"a"}'])).toMatchObject(ok());
    expect(await flux(['kvs', 'eventlog', 'append', '-t', '1700000001.25', 'ev', 'middle'])).toMatchObject(ok());
    expect(await flux(['kvs', 'eventlog', 'get', 'ev'])).toMatchObject(ok('1700000000.500000 start x=1 s="a"\n1700000001.250000 middle\n'));
    expect(await flux(['kvs', 'eventlog', 'get', '-u', '-c', '1', 'ev'])).toMatchObject(ok('{"timestamp":1700000000.5,"name":"start","context":{"x":1,"s":"a"}}\n'));
    expect(await flux(['kvs', 'eventlog', 'get', '-H', 'ev'], { env: { TZ: 'UTC' } })).toMatchObject(ok('[Nov14 22:13] start x=1 s="a"\n[  +0.750000] middle\n'));
    expect(await flux(['kvs', 'get', 'ev'])).toMatchObject(ok('{"timestamp":1700000000.5,"name":"start","context":{"x":1,"s":"a"}}\n{"timestamp":1700000001.25,"name":"middle"}\n\n'));
    expect(await flux(['kvs', 'eventlog', 'append', 'ev', 'bad', 'notjson'])).toMatchObject(failed('flux-kvs: eventlog_entry_create: Invalid argument\n'));
    expect(await flux(['kvs', 'put', 'notev=x'])).toMatchObject(ok());
    expect(await flux(['kvs', 'eventlog', 'get', 'notev'])).toMatchObject(failed('flux-kvs: eventlog_decode: Invalid argument\n'));
    expect(await flux(['kvs', 'eventlog', 'get', 'noev'])).toMatchObject(failed('flux-kvs: flux_kvs_lookup_get: No such file or directory\n'));

    const watch = background(inst.uri, ['kvs', 'eventlog', 'get', '-w', '-c', '3', '-u', 'ev']);
    await watch.saw('middle');
    expect(await flux(['kvs', 'eventlog', 'append', '-t', '1700000002', 'ev', 'end', '{"rc":0}'])).toMatchObject(ok());
    expect((await watch.done).stdout.split('\n')[2]).toBe('{"timestamp":1700000002.0,"name":"end","context":{"rc":0}}');

    expect(await flux(['kvs', 'eventlog', 'wait-event', 'ev', 'middle'])).toMatchObject(ok('1700000001.250000 middle\n'));
    expect(await flux(['kvs', 'eventlog', 'wait-event', '-v', '-u', 'ev', 'middle'])).toMatchObject(ok(
      '{"timestamp":1700000000.5,"name":"start","context":{"x":1,"s":"a"}}\n{"timestamp":1700000001.25,"name":"middle"}\n',
    ));
    expect(await flux(['kvs', 'eventlog', 'wait-event', '-q', 'ev', 'end'])).toMatchObject(ok());
    expect(await flux(['kvs', 'eventlog', 'wait-event', '-t', '0.3', 'ev', 'never'])).toMatchObject(failed("flux-kvs: wait-event timeout on event 'never'\n"));
    expect(await flux(['kvs', 'eventlog', 'wait-event', 'noev', 'x'])).toMatchObject(failed('flux-kvs: eventlog path noev not found\n'));
    const waiting = background(inst.uri, ['kvs', 'eventlog', 'wait-event', '-W', 'ev2', 'go']);
    await new Promise((r) => setTimeout(r, 300));
    expect(await flux(['kvs', 'eventlog', 'append', '-t', '5', 'ev2', 'go'])).toMatchObject(ok());
    expect(await waiting.done).toMatchObject(ok('5.000000 go\n'));
  });
});
