// The pure parts of flux kvs: jansson's JSON and C's number formats, dir lines, ls columns, namespace rows,
// tree object checks and RFC 18 eventlogs, as flux-core 0.88 reads, writes and prints them.
import { describe, it, expect } from 'vitest';
import { loadVectors } from '../helpers/vectors.js';
import {
  JReal, byteCompare, cString, dumpJson, formatFixed, formatG, janssonReal, parseJson,
} from '../../src/core/kvs/format-json.js';
import {
  NAMESPACE_HEADER, columns, dirEntries, isTreeObj, kvLine, linkText, namespaceRow, strtol, symlinkOf, valData,
  windowWidth,
} from '../../src/core/kvs/format.js';
import {
  EventlogFormatter, colorFor, decodeEntry, decodeEventlog, encodeEntry,
} from '../../src/core/kvs/format-eventlog.js';

const stdoutOf = (name: string) => (loadVectors(name).header as { stdout: string }).stdout;

describe('JSON as jansson reads and writes it', () => {
  it('keeps member order, integer-like keys included, and the last of repeated members in the first place', () => {
    const v = parseJson('{"b":1,"2":2,"1":{"z":true,"a":null},"b":3}');
    expect(dumpJson(v)).toBe('{"b":3,"2":2,"1":{"z":true,"a":null}}');
    expect(dumpJson(v, { sort: true })).toBe('{"1":{"a":null,"z":true},"2":2,"b":3}');
  });

  it('keeps integers and reals apart and prints reals with 17 significant digits', () => {
    expect(dumpJson(parseJson('[1,1.0,1e2,-0.0,0.1,1795641476.6093791,9007199254740993,-9223372036854775808]')))
      .toBe('[1,1.0,100.0,-0.0,0.10000000000000001,1795641476.6093791,9007199254740993,-9223372036854775808]');
    expect(dumpJson([1e20, 1.5e-7, new JReal(3), 7].map((x) => (typeof x === 'number' && !Number.isInteger(x) ? new JReal(x) : x))))
      .toBe('[100000000000000000000,1.4999999999999999e-7,3.0,7]');
    expect(janssonReal(1e300)).toBe('1.0000000000000001e300');
  });

  it('escapes as jansson: named escapes, other controls as upper-case \\u00XX, nothing else', () => {
    expect(dumpJson('a"b\\c\n\t\u0001\u001f/é€😀\u007f')).toBe('"a\\"b\\\\c\\n\\t\\u0001\\u001F/é€😀\u007f"');
    expect(parseJson('["\\ud83d\\ude00\\/"]')).toEqual(['😀/']);
  });

  it('writes plain objects as jansson does, whether or not JSON.stringify can write them', () => {
    expect(dumpJson({ key: 'a/b\n"q"', flags: 0, t: true, z: null, l: [1, 'é\u007f'] })).toBe('{"key":"a/b\\n\\"q\\"","flags":0,"t":true,"z":null,"l":[1,"é\u007f"]}');
    expect(dumpJson({ c: 'x\u0001', z: -0, big: 2 ** 60, e: '😀', r: 1.5, n: 10n })).toBe('{"c":"x\\u0001","z":0,"big":1152921504606846976,"e":"😀","r":1.5,"n":10}');
    expect(dumpJson({ '\u001f': 1 })).toBe('{"\\u001F":1}');
  });

  it('refuses what jansson refuses', () => {
    for (const bad of ['1', '"s"', '{"a":1,}', '[01]', '{"a" 1}', '["\\u0000"]', '["\\ud800"]', '["\t"]', '[1] x', '[99999999999999999999]', '[1e400]', '']) {
      expect(() => parseJson(bad), bad).toThrow(/invalid JSON/);
    }
    expect(parseJson('["\\u0000"]', { allowNul: true })).toEqual(['\0']);
    expect(parseJson(' 5 ', { any: true })).toBe(5n);
    expect(() => parseJson(Buffer.from([0x5b, 0x22, 0xff, 0x22, 0x5d]))).toThrow(/invalid JSON/);
  });

  it('formats %f and %g as glibc does, ties to even', () => {
    expect(formatFixed(1795641476.6093791, 6)).toBe('1795641476.609379');
    expect(formatFixed(0.0078125, 6)).toBe('0.007812');
    expect(formatFixed(0.0234375, 6)).toBe('0.023438');
    expect(formatFixed(-0.0000001, 6)).toBe('-0.000000');
    expect(formatFixed(2.5, 0)).toBe('2');
    expect(formatG(0, 17)).toBe('0');
    expect(formatG(100, 17)).toBe('100');
    expect(formatG(0.0001, 17)).toBe('0.0001');
    expect(formatG(0.00001, 6)).toBe('1e-05');
    expect(formatG(123456, 3)).toBe('1.23e+05');
    expect(formatG(999.9999, 4)).toBe('1000');
    expect(formatG(9999.9999, 4)).toBe('1e+04');
  });

  it('compares keys byte by byte, and reads C strings up to the NUL', () => {
    expect(['😀', '\uffff', 'b', 'a'].sort(byteCompare)).toEqual(['a', 'b', '\uffff', '😀']);
    expect(cString(Buffer.from('ab\0cd')).toString()).toBe('ab');
  });
});

describe('dir lines', () => {
  it('cut to the width with "...", at a newline, at an unprintable byte', () => {
    expect(kvLine('k', Buffer.from('0123456789'), 0).toString()).toBe('k = 0123456789\n');
    expect(kvLine('k', Buffer.from('0123456789'), 11).toString()).toBe('k = 0123...\n');
    expect(kvLine('k', Buffer.from('0123456789'), 17).toString()).toBe('k = 0123456789\n');
    expect(kvLine('k', Buffer.from('0123456789'), 16).toString()).toBe('k = 012345678...\n');
    // three columns or fewer mean no limit
    expect(kvLine('k', Buffer.from('0123456789'), 3).toString()).toBe('k = 0123456789\n');
    expect(kvLine('k', Buffer.from('ab\ncd'), 80).toString()).toBe('k = ab...\n');
    expect(kvLine('k', Buffer.from('ab\n'), 80).toString()).toBe('k = ab\n');
    expect(kvLine('k', Buffer.from('ab\tcd'), 80).toString()).toBe('k = ab...\n');
    expect(kvLine('k', Buffer.from('é'), 80).toString()).toBe('k = ...\n');
    expect(kvLine('k', Buffer.from('ab\0cd'), 0).toString()).toBe('k = ab\n');
  });

  it('reproduce flux kvs dir -R . of the capture, at 80 columns', () => {
    const lines = stdoutOf('kvs-dir').split('\n').slice(0, -1);
    expect(lines.every((l) => Buffer.byteLength(l) <= 80)).toBe(true);
    expect(kvLine('resource.eventlog', Buffer.from('{"timestamp":1795641476.9433568,"name":"resource-define","context":{"method":"dynamic-discovery"}}\n'), 80).toString())
      .toBe(`${lines[4]}\n`);
  });

  it('width: -w, else the terminal, else $COLUMNS as strtol reads it, else 80', () => {
    expect(windowWidth(0, 120, '40')).toBe(0);
    expect(windowWidth(-1, 120, '40')).toBe(120);
    expect(windowWidth(undefined, undefined, '40')).toBe(40);
    expect(windowWidth(undefined, undefined, 'wide')).toBe(0);
    expect(windowWidth(undefined, undefined, '-5')).toBe(80);
    expect(windowWidth(undefined, undefined, undefined)).toBe(80);
    expect(strtol(' 42abc')).toBe(42);
  });
});

describe('ls columns', () => {
  it('are the longest name + 4 wide and wrap before passing the width', () => {
    expect(columns(['a', 'bbb', 'cc'], 80)).toBe('a      bbb    cc\n');
    expect(columns(['a', 'bbb', 'cc'], 14)).toBe('a      bbb\ncc\n');
    expect(columns(['a', 'bbb', 'cc'], 1)).toBe('a\nbbb\ncc\n');
    expect(columns(['a', 'bbb', 'cc'], 0)).toBe('a      bbb    cc\n');
    expect(columns([], 80)).toBe('');
    // a classify suffix does not widen the columns
    expect(columns(['a.', 'bbb@', 'cc'], 80, 3)).toBe('a.     bbb@   cc\n');
    // the first name on a row goes there even when it alone is too wide
    expect(columns(['a-long-name'], 5)).toBe('a-long-name\n');
  });
});

describe('namespace list', () => {
  it('prints the capture\'s header and rows', () => {
    expect(NAMESPACE_HEADER + namespaceRow('primary', 0, 0) + namespaceRow('ns1', 0, 0)).toBe(stdoutOf('kvs-namespace'));
    expect(namespaceRow('x', -1, -1)).toBe(`${'x'.padEnd(36)} 4294967295 0xFFFFFFFF\n`);
    expect(namespaceRow('é', 5, 0)).toBe(`é${' '.repeat(34)}          5 0x00000000\n`);
  });
});

describe('tree objects', () => {
  const ref = 'sha1-6593f027a8fcfe0851d6f98f3f883d2c7fa12d40';
  const t = (s: string) => parseJson(s);

  it('are checked as libkvs checks them', () => {
    for (const good of [
      '{"ver":1,"type":"val","data":""}',
      `{"data":["${ref}","${ref}"],"type":"valref","ver":1}`,
      `{"ver":1,"type":"dirref","data":["${ref}"]}`,
      '{"ver":1,"type":"dir","data":{"a":{"ver":1,"type":"val","data":"MQ=="}}}',
      '{"ver":1,"type":"symlink","data":{"target":"a.b"}}',
      '{"ver":1,"type":"symlink","data":{"namespace":"n","target":"a.b"}}',
    ]) expect(isTreeObj(t(good)), good).toBe(true);
    for (const bad of [
      '{"ver":1.0,"type":"val","data":""}',
      '{"ver":1,"type":"val","data":"","x":1}',
      '{"ver":1,"type":"valref","data":[]}',
      '{"ver":1,"type":"dirref","data":["sha1-12"]}',
      '{"ver":1,"type":"dir","data":{"a":{"ver":1,"type":"val"}}}',
      '{"ver":1,"type":"symlink","data":"a.b"}',
      '{"ver":1,"type":"symlink","data":{"target":"a","namespace":1}}',
      '{"ver":1,"type":"hdir","data":{}}',
      '[1]',
    ]) expect(isTreeObj(t(bad)), bad).toBe(false);
  });

  it('give up their value, entries (sorted) and link targets', () => {
    expect(valData(t('{"ver":1,"type":"val","data":"aGVsbG8="}') as Map<string, never>).toString()).toBe('hello');
    expect(() => valData(t('{"ver":1,"type":"val","data":"a$=="}') as Map<string, never>)).toThrow();
    expect(() => valData(t(`{"ver":1,"type":"dirref","data":["${ref}"]}`) as Map<string, never>)).toThrow();
    const dir = t('{"ver":1,"type":"dir","data":{"b":{"ver":1,"type":"val","data":""},"a":{"ver":1,"type":"val","data":""}}}');
    expect(dirEntries(dir as Map<string, never>).map(([k]) => k)).toEqual(['a', 'b']);
    const link = symlinkOf(t('{"ver":1,"type":"symlink","data":{"namespace":"n","target":"a.b"}}') as Map<string, never>);
    expect(linkText(link)).toBe('n::a.b');
    expect(linkText({ target: 'x' })).toBe('x');
  });
});

describe('eventlogs', () => {
  const log = '{"timestamp":1795641476.6093791,"name":"start","context":{"version":1,"core_version":"0.88.0-59-g4a5e79f56"}}\n';

  it('decode line by line, and only whole lines', () => {
    const [e] = decodeEventlog(Buffer.from(log));
    expect(e!.name).toBe('start');
    expect(e!.timestamp).toBe(1795641476.6093791);
    expect(decodeEventlog(Buffer.from(`${log}{"partial`))).toHaveLength(1);
    expect(decodeEventlog(Buffer.alloc(0))).toEqual([]);
    expect(decodeEventlog(Buffer.from('{"timestamp":2,"name":"x"}\n'))[0]!.timestamp).toBe(2);
    for (const bad of ['{"timestamp":1,"name":"x"}', '\n', '{"name":"x"}\n', '{"timestamp":"1","name":"x"}\n', '{"timestamp":1,"name":"x","context":[]}\n', '[]\n']) {
      expect(() => decodeEventlog(Buffer.from(bad)), bad).toThrow();
    }
    expect(() => decodeEntry(Buffer.from('{"timestamp":1,\n"name":"x"}'))).toThrow();
  });

  it('encode as flux-core appends: timestamp (a real), name, context', () => {
    expect(encodeEntry(1.5, 'go')).toBe('{"timestamp":1.5,"name":"go"}\n');
    expect(encodeEntry(3, 'go', '{"z":1,"a":"\\u0007"}')).toBe('{"timestamp":3.0,"name":"go","context":{"z":1,"a":"\\u0007"}}\n');
    expect(() => encodeEntry(-1, 'go')).toThrow();
    expect(() => encodeEntry(1, '')).toThrow();
    expect(() => encodeEntry(1, 'go', '"s"')).toThrow();
    expect(() => encodeEntry(1, 'go', '[1]')).toThrow();
  });

  it('print as text, RFC 18, human and color', () => {
    const [e] = decodeEventlog(Buffer.from(log));
    expect(new EventlogFormatter({}).format(e!)).toBe('1795641476.609379 start version=1 core_version="0.88.0-59-g4a5e79f56"\n');
    expect(new EventlogFormatter({ unformatted: true }).format(e!)).toBe(log);
    const exc = decodeEntry(Buffer.from('{"timestamp":1.0,"name":"exception","context":{"note":"n","x":[1,2.0]}}'));
    expect(new EventlogFormatter({ color: true }).format(exc))
      .toBe('\x1b[32m1.000000\x1b[0m \x1b[1m\x1b[31mexception\x1b[0m \x1b[34mnote\x1b[0m=\x1b[35m"n"\x1b[0m \x1b[34mx\x1b[0m=\x1b[35m[1,2.0]\x1b[0m\n');
    const human = new EventlogFormatter({ human: true });
    const at = (ts: number) => decodeEntry(Buffer.from(`{"timestamp":${ts},"name":"e"}`));
    const tz = process.env.TZ;
    process.env.TZ = 'UTC';
    try {
      expect(human.format(at(86400 * 31 + 3600 + 120.5))).toBe('[Feb01 01:02] e\n');
      expect(human.format(at(86400 * 31 + 3600 + 125.25))).toBe('[  +4.750000] e\n');
      expect(human.format(at(86400 * 31 + 3600 + 180))).toBe('[Feb01 01:03] e\n');
      expect(new EventlogFormatter({ human: true, color: true }).format(at(0))).toBe('\x1b[1m\x1b[32m[Jan01 00:00]\x1b[0m \x1b[33me\x1b[0m\n');
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  it('color: always, never, auto by the terminal', () => {
    expect(colorFor('always', false)).toBe(true);
    expect(colorFor('never', true)).toBe(false);
    expect(colorFor('auto', true)).toBe(true);
    expect(colorFor('auto', false)).toBe(false);
    expect(() => colorFor('pink', true)).toThrow(/--color=pink/);
  });
});
