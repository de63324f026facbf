// flux journal's output: the aligned list, JSON lines, the verify report and the head line.
import { describe, it, expect } from 'vitest';
import {
  formatList, headerLine, rowLine, widthsOf, jsonLine, isoTime, verifyLine, failureLine, headLine, showEntry, type Row,
} from '../../src/commands/journal.js';

const REF = `sha256-${'ab'.repeat(32)}`;
const rows: Row[] = [
  { seq: 9, ref: REF, time: 1_700_000_000.1234, topic: 'a.b' },
  { seq: 10, ref: REF, time: 1_700_000_001, topic: 'kvs.namespace-primary-setroot' },
];

describe('journal list', () => {
  it('times are ISO 8601 UTC with milliseconds', () => {
    expect(isoTime(0)).toBe('1970-01-01T00:00:00.000Z');
    expect(isoTime(1_700_000_000.1234)).toBe('2023-11-14T22:13:20.123Z');
    expect(isoTime(1_700_000_000.9996)).toBe('2023-11-14T22:13:21.000Z');
  });

  it('aligns SEQ right and TOPIC left under a header', () => {
    expect(formatList(rows)).toBe([
      'SEQ  TIME                      TOPIC                          REF',
      `  9  2023-11-14T22:13:20.123Z  a.b                            ${REF}`,
      ` 10  2023-11-14T22:13:21.000Z  kvs.namespace-primary-setroot  ${REF}`,
      '',
    ].join('\n'));
  });

  it('an empty journal is a header alone', () => {
    expect(formatList([])).toBe('SEQ  TIME                      TOPIC  REF\n');
  });

  it('columns grow past the minimum widths, never shrink below them', () => {
    const w = widthsOf([{ ...rows[0]!, seq: 1234567, topic: 't' }], { seq: 6, topic: 32 });
    expect(w).toEqual({ seq: 7, topic: 32 });
    const header = headerLine(w);
    const line = rowLine({ ...rows[0]!, seq: 1234567, topic: 't' }, w);
    expect(line.indexOf(REF)).toBe(header.indexOf('REF'));
    expect(line.indexOf('2023')).toBe(header.indexOf('TIME'));
  });

  it('--json is one object per line with the raw time', () => {
    expect(rows.map(jsonLine).join('')).toBe(
      `{"seq":9,"time":1700000000.1234,"topic":"a.b","ref":"${REF}"}\n`
      + `{"seq":10,"time":1700000001,"topic":"kvs.namespace-primary-setroot","ref":"${REF}"}\n`,
    );
  });
});

describe('journal show', () => {
  it('prints the entry as indented JSON, seq first and payload last', () => {
    const text = showEntry({ payload: { a: [1] }, prev: null, flags: 0, topic: 't', seq: 3, rolemask: 5, userid: 0, time: 1.5 });
    expect(text).toBe([
      '{', '  "seq": 3,', '  "time": 1.5,', '  "topic": "t",', '  "userid": 0,', '  "rolemask": 5,', '  "flags": 0,',
      '  "prev": null,', '  "payload": {', '    "a": [', '      1', '    ]', '  }', '}', '',
    ].join('\n'));
    expect(JSON.parse(showEntry({ seq: 1, extra: true }))).toEqual({ seq: 1, extra: true });
  });
});

describe('journal verify and head', () => {
  it('reports a sound journal on one line', () => {
    expect(verifyLine({ ok: true, checked: 1234, head: { seq: 1234, ref: REF }, checkpoints: 2 }))
      .toBe(`journal: 1234 entries verified, chain intact, head 1234 ${REF}, 2 checkpoints\n`);
    expect(verifyLine({ ok: true, checked: 1, head: { seq: 1, ref: REF }, checkpoints: 1 }))
      .toBe(`journal: 1 entry verified, chain intact, head 1 ${REF}, 1 checkpoint\n`);
    expect(verifyLine({ ok: true, checked: 0, head: { seq: 0, ref: null }, checkpoints: 0 }))
      .toBe('journal: 0 entries verified, chain intact, head 0 -, 0 checkpoints\n');
  });

  it('names the first bad seq and why', () => {
    expect(failureLine({
      ok: false, checked: 41, head: { seq: 50, ref: REF }, checkpoints: 0, firstBad: { seq: 42, reason: 'blob does not hash to its ref' },
    })).toBe('flux-journal: verify failed at seq 42: blob does not hash to its ref\n');
    expect(failureLine({ ok: false, checked: 3, head: { seq: 3, ref: REF }, checkpoints: 0 }))
      .toBe('flux-journal: verify failed after 3 entries\n');
  });

  it('prints the head as key=value pairs', () => {
    expect(headLine({ seq: 7, ref: REF, rank: 3 })).toBe(`seq=7 ref=${REF} rank=3\n`);
    expect(headLine({ seq: 0, ref: null, rank: 0 })).toBe('seq=0 ref=- rank=0\n');
  });
});
