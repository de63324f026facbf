// KVS tree objects as libkvs checks them, the bytes of a val, eventlog entries read and written, and the edges
// of a dir line and of strtol: each refusal and each boundary on its own.
import { describe, it, expect } from 'vitest';
import { parseJson, type JValue } from '../../src/core/kvs/format-json.js';
import { isDirType, isTreeObj, kvLine, strtol, symlinkOf, valData, type TreeType } from '../../src/core/kvs/format.js';
import { decodeEntry, encodeEntry, wallclock } from '../../src/core/kvs/format-eventlog.js';
import { EINVAL } from '../../src/core/errors.js';

const REF = `sha256-${'0'.repeat(64)}`;
const obj = (text: string): JValue => parseJson(text);
const errnoOf = (fn: () => unknown): number | undefined => {
  try {
    fn();
  } catch (err) {
    return (err as { errno?: number }).errno;
  }
  return undefined;
};

describe('tree objects', () => {
  it('are refused when any part is not of its type\'s shape', () => {
    const t = (type: string, data: string) => obj(`{"ver":1,"type":"${type}","data":${data}}`);
    expect(isTreeObj(t('val', '"YQ=="'))).toBe(true);
    expect(isTreeObj(t('val', '5'))).toBe(false);
    expect(isTreeObj(t('valref', `["${REF}"]`))).toBe(true);
    expect(isTreeObj(t('valref', `["${REF}","sha256-zz"]`))).toBe(false);
    expect(isTreeObj(t('dirref', `["${REF}",5]`))).toBe(false);
    expect(isTreeObj(t('dir', `{"a":{"ver":1,"type":"val","data":""},"b":{"ver":1,"type":"val","data":""}}`))).toBe(true);
    expect(isTreeObj(t('dir', `{"a":{"ver":1,"type":"val","data":""},"b":{"ver":1,"type":"val"}}`))).toBe(false);
    expect(isTreeObj(t('symlink', '{"target":"a.b"}'))).toBe(true);
    expect(isTreeObj(t('symlink', '{"namespace":"ns"}'))).toBe(false);
    expect(isTreeObj(t('symlink', '"a.b"'))).toBe(false);
  });

  it('of a dir type are dirs and dirrefs only; a symlink without a namespace has none', () => {
    const t = (type: TreeType) => new Map<string, JValue>([['ver', 1n], ['type', type], ['data', '']]);
    expect((['dir', 'dirref', 'val', 'valref', 'symlink'] as TreeType[]).map((x) => isDirType(t(x)))).toEqual([true, true, false, false, false]);
    const link = obj('{"ver":1,"type":"symlink","data":{"target":"a.b"}}') as Map<string, JValue>;
    expect(Object.keys(symlinkOf(link))).toEqual(['target']);
  });

  it('give a val\'s bytes only from base64, and nothing from another type', () => {
    const val = (data: JValue, type = 'val') => new Map<string, JValue>([['ver', 1n], ['type', type], ['data', data]]);
    expect(valData(val('YQ==')).toString()).toBe('a');
    expect(valData(val('YQ')).toString()).toBe('a');
    expect(valData(val('YWJj')).toString()).toBe('abc');
    for (const bad of ['Y', 'YQ=a', 'YWJjZ=', 'Y*==']) expect(errnoOf(() => valData(val(bad))), bad).toBe(EINVAL);
    expect(errnoOf(() => valData(val(5n)))).toBe(EINVAL);
    expect(errnoOf(() => valData(val('YQ==', 'valref')))).toBe(EINVAL);
  });
});

describe('eventlog entries', () => {
  it('are read only as one object with a number timestamp, a string name and an object context', () => {
    const line = (s: string) => Buffer.from(s);
    expect(decodeEntry(line('{"timestamp":1.5,"name":"a\\u0000b"}'))).toStrictEqual({
      entry: parseJson('{"timestamp":1.5,"name":"a\\u0000b"}', { allowNul: true }), timestamp: 1.5, name: 'a\0b',
    });
    expect(decodeEntry(line('{"timestamp":2,"name":"x","context":{"k":1}}')).context).toEqual(new Map([['k', 1n]]));
    for (const bad of ['', '{"timestamp":1,"name":"x"}\n', '[1]', '{"timestamp":1}', '{"name":"x"}', '{"timestamp":"1","name":"x"}',
      '{"timestamp":1,"name":"x","context":[]}']) {
      expect(errnoOf(() => decodeEntry(line(bad))), bad).toBe(EINVAL);
    }
  });

  it('are written with the time given, or now for 0', () => {
    expect(encodeEntry(2.5, 'x', '{"a":1}')).toBe('{"timestamp":2.5,"name":"x","context":{"a":1}}\n');
    const before = wallclock();
    const t = (decodeEntry(Buffer.from(encodeEntry(0, 'now').trimEnd()))).timestamp;
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(wallclock());
    expect(Math.abs(before - Date.now() / 1000)).toBeLessThan(60);
    for (const [ts, name, ctx] of [[-1, 'x', undefined], [1, '', undefined], [1, 'x', '[1]']] as const) {
      expect(errnoOf(() => encodeEntry(ts, name, ctx))).toBe(EINVAL);
    }
  });
});

describe('dir lines and strtol at their edges', () => {
  it('keep "~", the last printable byte, and cut at an unprintable first byte', () => {
    expect(kvLine('k', Buffer.from('a~'), 80).toString()).toBe('k = a~\n');
    expect(kvLine('\u0001k', Buffer.from('x'), 80).toString()).toBe('...\n');
  });

  it('read only a leading integer', () => {
    expect([strtol('x12'), strtol('  -7z'), strtol('+3')]).toEqual([0, -7, 3]);
  });
});
