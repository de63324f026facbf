// flux-core's output format language: Python fields and specs, flux's conversions and the 'h' / '+' suffixes,
// headings, the "?:" / "+:" / "?+:" column prefixes and "sort:", with flux jobs' default format as the example.
// Expected texts of conversions were printed by CPython 3.11 running flux-core's rules on the same values.
import { describe, it, expect } from 'vitest';
import { OutputFormat, type Field, type FieldTable } from '../../src/core/format/output.js';
import { FluxError, EINVAL } from '../../src/core/errors.js';

interface Job {
  id: string;
  queue: string;
  user: string;
  name: string;
  st: string;
  ntasks: number;
  nnodes: number | '';
  time: number;
  info: string;
  t_submit?: number;
  annotations?: Record<string, unknown>;
}

const field = (heading: string, get: (j: Job) => unknown, float = false): Field<Job> => ({ heading, get, float });
const fields: Record<string, Field<Job>> = {
  'id.f58': field('JOBID', (j) => j.id),
  queue: field('QUEUE', (j) => j.queue),
  username: field('USER', (j) => j.user),
  name: field('NAME', (j) => j.name),
  status_abbrev: field('ST', (j) => j.st),
  ntasks: field('NTASKS', (j) => j.ntasks),
  nnodes: field('NNODES', (j) => j.nnodes),
  contextual_time: field('TIME', (j) => j.time, true),
  contextual_info: field('INFO', (j) => j.info),
  t_submit: field('T_SUBMIT', (j) => j.t_submit ?? 0, true),
};

// flux jobs' default format (flux-core's builtin "default")
const DEFAULT = '{id.f58:>12} ?:{queue:<8.8} +:{username:<8.8} {name:<10.10+} {status_abbrev:>2.2} {ntasks:>6} {nnodes:>6h} '
  + '{contextual_time!F:>8h} {contextual_info}';

const running: Job = { id: 'ƒuZZybuNNy', queue: '', user: 'alice', name: 'verylongjobname', st: 'R', ntasks: 4, nnodes: 2, time: 12.5, info: 'host[0-1]' };
const pending: Job = { id: 'ƒ2', queue: '', user: 'bob', name: 'sleep', st: 'S', ntasks: 1, nnodes: '', time: 0, info: 'priority-wait' };

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FluxError);
    expect((e as FluxError).errno).toBe(EINVAL);
    return (e as FluxError).message;
  }
  throw new Error('expected a FluxError');
}

/** one field of one value */
function one(spec: string, value: unknown, options: { float?: boolean; conversion?: string } = {}): string {
  const table: FieldTable<null> = { v: { heading: 'V', get: () => value, float: options.float } };
  const conversion = options.conversion ? `!${options.conversion}` : '';
  return new OutputFormat<null>(`{v${conversion}${spec ? `:${spec}` : ''}}`, table).line(null);
}

describe('flux jobs default format', () => {
  it('prints as flux-core prints it', () => {
    expect(new OutputFormat(DEFAULT, fields).render([running, pending])).toEqual([
      '       JOBID USER     NAME       ST NTASKS NNODES     TIME INFO',
      '  ƒuZZybuNNy alice    verylongj+  R      4      2    12.5s host[0-1]',
      '          ƒ2 bob      sleep       S      1      -        - priority-wait',
    ]);
  });

  it('shows the queue column when a job has a queue, and widens the user column to the longest name', () => {
    const lines = new OutputFormat(DEFAULT, fields).render([{ ...running, queue: 'batch', user: 'averylonguser' }, pending]);
    expect(lines[0]).toBe('       JOBID QUEUE    USER          NAME       ST NTASKS NNODES     TIME INFO');
    expect(lines[1]).toBe('  ƒuZZybuNNy batch    averylonguser verylongj+  R      4      2    12.5s host[0-1]');
  });

  it('leaves the header out on request, and the header\'s width out of "+:" widths', () => {
    expect(new OutputFormat('+:{username:<2.2}|', fields).render([pending], { noHeader: true })).toEqual(['bob|']);
    expect(new OutputFormat('+:{username:<2.2}|', fields).render([{ ...pending, user: 'b' }], { noHeader: true })).toEqual(['b |']);
    expect(new OutputFormat('+:{username:<2.2}|', fields).render([{ ...pending, user: 'b' }])).toEqual(['USER|', 'b   |']);
  });

  it('lists the fields a listing must fetch', () => {
    expect(new OutputFormat(`sort:-t_submit ${DEFAULT}`, fields).fields).toEqual([
      'id.f58', 'queue', 'username', 'name', 'status_abbrev', 'ntasks', 'nnodes', 'contextual_time', 'contextual_info', 't_submit',
    ]);
  });
});

describe('fields and text', () => {
  it('formats Python fields between literal text and escaped braces', () => {
    expect(new OutputFormat('{{{ntasks}}} a}}b{{ {name!r} {ntasks:03d}', fields).line(running)).toBe("{4} a}b{ 'verylongjobname' 004");
    expect(new OutputFormat('no fields', fields).line(running)).toBe('no fields');
    expect(new OutputFormat('', fields).line(running)).toBe('');
  });

  it('refuses an unknown field with flux-core\'s message', () => {
    expect(failure(() => new OutputFormat('{id.f58} {nope}', fields))).toBe('Unknown format field: nope');
    expect(failure(() => new OutputFormat('{}', fields))).toBe('Empty attribute in format string');
  });

  it('refuses what Python\'s parser refuses', () => {
    expect(failure(() => new OutputFormat('{name', fields))).toBe("expected '}' before end of string");
    expect(failure(() => new OutputFormat('name}', fields))).toBe("Single '}' encountered in format string");
    expect(failure(() => new OutputFormat('{', fields))).toBe("Single '{' encountered in format string");
    expect(failure(() => new OutputFormat('{name!}', fields))).toBe("unmatched '{' in format spec");
    expect(failure(() => new OutputFormat('{name!rr}', fields))).toBe("expected ':' after conversion specifier");
    expect(failure(() => new OutputFormat('{name:{w}}', fields))).toBe('nested replacement fields are not supported');
    expect(failure(() => new OutputFormat('{name!q}', fields).line(running))).toBe('Unknown conversion specifier q');
    expect(failure(() => new OutputFormat('{name:d}', fields).line(running))).toBe("Unknown format code 'd' for object of type 'str'");
  });

  it('takes field names from a lookup, for open-ended ones like annotations', () => {
    const lookup = (name: string): Field<Job> | undefined =>
      fields[name] ?? (name.startsWith('annotations.')
        ? { heading: name.slice(12).toUpperCase(), get: (j) => name.slice(12).split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], j.annotations) }
        : undefined);
    const fmt = new OutputFormat('{id.f58:>12} {annotations.sched.reason_pending:h}', lookup);
    expect(fmt.header()).toBe('       JOBID SCHED.REASON_PENDING');
    expect(fmt.line({ ...pending, annotations: { sched: { reason_pending: 'insufficient resources' } } })).toBe('          ƒ2 insufficient resources');
    expect(fmt.line(pending)).toBe('          ƒ2 -');
  });

  it('prints a missing value (null, undefined) as flux-core\'s empty string', () => {
    expect(one('>3', null)).toBe('   ');
    expect(one('h', undefined)).toBe('-');
  });
});

describe('flux-core\'s spec suffixes', () => {
  it('h prints an empty value as "-"', () => {
    for (const empty of ['', '0s', '0.0', '0:00:00', '1970-01-01T00:00:00']) expect(one('>3h', empty)).toBe('  -');
    expect(one('>3h', 0, { float: true })).toBe('  -');
    // an int 0 is not empty: Python's str(0) is "0"
    expect(one('>3h', 0)).toBe('  0');
    expect(one('h', 'x')).toBe('x');
    expect(one('>6h', 2)).toBe('     2');
  });

  it('+ marks a truncated value with "+" in its last column', () => {
    expect(one('<10.10+', 'verylongjobname')).toBe('verylongj+');
    expect(one('<10.10+', 'exactly10!')).toBe('exactly10!');
    expect(one('<10.10+', 'short')).toBe('short     ');
    expect(one('.3+', 'ƒ😃😄x')).toBe('ƒ😃+');
    expect(one('>4.4h+', '')).toBe('   -');
    expect(one('.2h+', 'abc')).toBe('a+');
  });

  it('W sizes a column in terminal columns, wide characters counting twice', () => {
    expect(one('<6W', '😃😄')).toBe('😃😄  ');
    expect(one('>6W', 'ab')).toBe('    ab');
  });
});

describe('flux-core\'s conversions', () => {
  it('!F prints a duration in Flux Standard Duration', () => {
    const cases: [number, string][] = [[0, '0s'], [0.0005, '0s'], [1.5, '1.500s'], [9.9999, '10.000s'], [12.5, '12.5s'], [59.99, '59.99s'],
      [90, '1.5m'], [3600, '1h'], [5400, '1.5h'], [259200, '3d'], [12345678, '142.9d'], [Infinity, 'inf']];
    for (const [seconds, text] of cases) expect(one('', seconds, { conversion: 'F' })).toBe(text);
    expect(one('>8h', 0, { conversion: 'F', float: true })).toBe('       -');
    expect(one('', '', { conversion: 'F' })).toBe('');
  });

  it('!H prints hours:minutes:seconds, rounding half to even and up to a second', () => {
    const cases: [number, string][] = [[0, '0:00:00'], [0.4, '0:00:01'], [2.5, '0:00:02'], [3661, '1:01:01'], [90000, '1 day, 1:00:00'],
      [200000, '2 days, 7:33:20'], [-5, '-1 day, 23:59:55']];
    for (const [seconds, text] of cases) expect(one('', seconds, { conversion: 'H' })).toBe(text);
    expect(one('h', 0, { conversion: 'H' })).toBe('-');
  });

  it('!P prints a fraction as a percentage of at most 5 characters', () => {
    const cases: [number, string][] = [[0.5, '50%'], [0.015, '1.5%'], [0.0005, '0.05%'], [1, '100%'], [0.12345, '12.3%'], [0, '0%']];
    for (const [fraction, text] of cases) expect(one('', fraction, { conversion: 'P' })).toBe(text);
    expect(one('>5', '', { conversion: 'P' })).toBe('     ');
  });

  it('!D prints a timestamp as local ISO 8601, the epoch as nothing', () => {
    const t = new Date(2020, 0, 7, 13, 31, 0).getTime() / 1000;
    expect(one('', t, { conversion: 'D' })).toBe('2020-01-07T13:31:00');
    expect(one('<20', t + 0.25, { conversion: 'D', float: true })).toBe('2020-01-07T13:31:00 ');
    expect(one('', 0, { conversion: 'D' })).toBe('');
    expect(one('h', 0, { conversion: 'D', float: true })).toBe('-');
  });

  it('!d takes a strftime format, and a Python spec after "::"', () => {
    const t = new Date(2020, 0, 7, 13, 31, 5).getTime() / 1000;
    expect(one('%H:%M:%S', t, { conversion: 'd' })).toBe('13:31:05');
    expect(one('%b%d %R::>12', t, { conversion: 'd' })).toBe(' Jan07 13:31');
    expect(one('', t, { conversion: 'd' })).toBe('2020-01-07T13:31:05');
    expect(one('%a %A %B %j %y %e %I %p %%', t, { conversion: 'd' })).toBe('Tue Tuesday January 007 20  7 01 PM %');
    expect(one('%H:%M::>6h', 0, { conversion: 'd' })).toBe('     -');
    expect(one('%H:%M', '', { conversion: 'd' })).toBe('');
    // flux-core measures truncation against Python's str(datetime), so even an untruncated time gets a "+"
    expect(one('%H:%M::<8.4+', t, { conversion: 'd' })).toBe('13:3   +');
    expect(one('%H:%M::<8+', t, { conversion: 'd' })).toBe('13:31  +');
    expect(failure(() => one('', 'soon', { conversion: 'd' }))).toBe("!d conversion needs a number, not 'soon'");
  });

  it('!s, !r and !a are Python\'s', () => {
    expect(one('>6', 'ab', { conversion: 'r' })).toBe("  'ab'");
    expect(one('', 'ƒ', { conversion: 'a' })).toBe("'\\u0192'");
    expect(one('>4', 2, { conversion: 's' })).toBe('   2');
    expect(one('', 2, { conversion: 's', float: true })).toBe('2.0');
  });
});

describe('header', () => {
  it('keeps only each field\'s alignment and width, so headings are never truncated', () => {
    const fmt = new OutputFormat('{name:*^3.2+} {ntasks:>06,d} {t_submit!d:%H:%M::>10} {contextual_time!F:h} [{status_abbrev}]', fields);
    expect(fmt.header()).toBe('NAME NTASKS   T_SUBMIT TIME [ST]');
  });

  it('drops the column prefixes', () => {
    expect(new OutputFormat('?:{queue:<8} ?+:{name:<4}|', fields).header()).toBe('QUEUE    NAME|');
  });
});

describe('filter', () => {
  const rows = [running, { ...pending, name: 'x' }];

  it('drops a "?:" column empty in every row, with the text before it', () => {
    const fmt = new OutputFormat('{ntasks} ?:{queue:<8}|{nnodes:h}', fields);
    expect(fmt.filter(rows).toString()).toBe('{ntasks}|{nnodes:h}');
    expect(fmt.filter([{ ...running, queue: 'q' }]).toString()).toBe('{ntasks} {queue:<8}|{nnodes:h}');
    // a "0s" duration counts as empty too
    expect(new OutputFormat('?:{contextual_time!F}', fields).filter([pending]).toString()).toBe('');
  });

  it('widens a "+:" column to its widest value or its heading, precision included', () => {
    expect(new OutputFormat('+:{name:<4.4}', fields).filter(rows).toString()).toBe('{name:<15.15}');
    expect(new OutputFormat('+:{name}', fields).filter([{ ...running, name: 'ab' }]).toString()).toBe('{name:4}');
    expect(new OutputFormat('+:{name:>20}', fields).filter(rows).toString()).toBe('{name:>20}');
    expect(new OutputFormat('+:{queue:<2}', fields).filter(rows).toString()).toBe('{queue:<5}');
  });

  it('"?+:" drops an empty column and widens the others', () => {
    expect(new OutputFormat('?+:{queue:<2} ?+:{username:<1.1}', fields).filter(rows).toString()).toBe(' {username:<5.5}');
  });

  it('keeps a strftime format through widening', () => {
    const t = new Date(2020, 0, 7, 13, 31, 5).getTime() / 1000;
    const fmt = new OutputFormat('+:{t_submit!d:%H:%M::<2}', fields).filter([{ ...running, t_submit: t }]);
    expect(fmt.toString()).toBe('{t_submit!d:%H:%M::<19}');
  });
});

describe('sort', () => {
  const a = { ...running, name: 'a', ntasks: 2, t_submit: 3 };
  const b = { ...running, name: 'b', ntasks: 1, t_submit: 1 };
  const c = { ...running, name: 'c', ntasks: 2, t_submit: 2 };

  it('orders rows by the "sort:" keys, "-" for descending, ties kept in input order', () => {
    expect(new OutputFormat('sort:-t_submit {name}', fields).render([a, b, c], { noHeader: true })).toEqual(['a', 'c', 'b']);
    expect(new OutputFormat('sort:ntasks {name}', fields).render([c, a, b], { noHeader: true })).toEqual(['b', 'c', 'a']);
    expect(new OutputFormat('sort:-ntasks,name {name}', fields).render([c, b, a], { noHeader: true })).toEqual(['a', 'c', 'b']);
  });

  it('keeps its prefix out of the output and in the format text', () => {
    const fmt = new OutputFormat('sort:-t_submit,name {name}', fields);
    expect(fmt.sortKeys).toEqual([{ key: 't_submit', reverse: true }, { key: 'name', reverse: false }]);
    expect(fmt.header()).toBe('NAME');
    expect(fmt.toString()).toBe('sort:-t_submit,name {name}');
  });

  it('refuses a key that is not a field', () => {
    expect(failure(() => new OutputFormat('sort:bogus {name}', fields))).toBe('Invalid sort key: bogus');
  });
});

describe('render', () => {
  it('drops lines that format to nothing but spaces', () => {
    expect(new OutputFormat('{queue:<4}', fields).render([running, { ...running, queue: 'q' }], { noHeader: true })).toEqual(['q   ']);
  });
});
