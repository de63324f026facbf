// A reader's view of one journal entry: whole when it may read it, a redacted view holding its own jobs' events
// alone when the entry is the primary namespace's commit carrying job events, nothing otherwise.
import { describe, it, expect } from 'vitest';
import type { Entry } from '../../src/core/journal/entry.js';
import { ENTRY_REDACTED, REDACTED_NOTE, isRedacted } from '../../src/core/access/visibility.js';
import { entryView, jobsNamed } from '../../src/projections/entry-view.js';
import { applyEntry, initialTable, jobOf, type JobTable } from '../../src/projections/jobs.js';
import { namespaceTopic, ENTRY_KVS } from '../../src/projections/kvs.js';
import { FLAG_PRIVATE, ROLE_OWNER, ROLE_USER } from '../../src/core/wire/message.js';

const OWNER = 100;
const owner = { userid: OWNER, rolemask: ROLE_OWNER };
const alice = { userid: 1001, rolemask: ROLE_USER };
const bob = { userid: 1002, rolemask: ROLE_USER };
const summary = (name: string) => ({ name, ntasks: 1, nnodes: 0, ncores: 1, duration: 0 });

let seq = 0;
function commit(items: unknown[], ops: unknown[] = [{ key: 'job.x.jobspec', dirent: { type: 'val', data: 'c2VjcmV0' } }]): Entry {
  return {
    seq: ++seq, prev: null, time: seq, topic: namespaceTopic('primary', 'setroot'), userid: OWNER, rolemask: ROLE_OWNER,
    flags: FLAG_PRIVATE | ENTRY_KVS, payload: { namespace: 'primary', rootseq: seq, rootref: 'sha256-00', ops, jobs: items },
  };
}
const submit = (id: number, userid: number, name: string) =>
  ({ id, event: { timestamp: 1, name: 'submit', context: { userid, urgency: 16, flags: 0 } }, submit: summary(name) });
const validate = (id: number) => ({ id, event: { timestamp: 2, name: 'validate' } });

describe("a reader's view of an entry", () => {
  it('gives the owner the entry itself, and nobody the commit of a namespace they do not own', () => {
    const e = commit([submit(1, alice.userid, 'a')]);
    expect(entryView(owner, e)).toBe(e);
    const plain = { ...commit([]), payload: { namespace: 'primary', rootseq: 1, ops: [] } };
    expect(entryView(alice, plain)).toBeUndefined();
    expect(jobsNamed(alice, plain)).toEqual([]);
    expect(jobsNamed(owner, e)).toEqual([]);
  });

  it("keeps only the reader's own job events of a commit that carries several users', marked as redacted", () => {
    const e = commit([submit(1, alice.userid, 'alices'), submit(2, bob.userid, 'bobs'), validate(1), validate(2)]);
    const v = entryView(alice, e)!;
    expect(v).toEqual({
      seq: e.seq, prev: null, time: e.time, topic: e.topic, userid: OWNER, rolemask: ROLE_OWNER,
      flags: FLAG_PRIVATE | ENTRY_REDACTED,
      payload: { redacted: REDACTED_NOTE, jobs: [submit(1, alice.userid, 'alices'), validate(1)] },
    });
    expect(isRedacted(v)).toBe(true);
    expect(JSON.stringify(v)).not.toContain('bobs');
    expect(JSON.stringify(v)).not.toContain('c2VjcmV0');
    expect(entryView(bob, e)!.payload).toEqual({ redacted: REDACTED_NOTE, jobs: [submit(2, bob.userid, 'bobs'), validate(2)] });
    expect(entryView({ userid: 1003, rolemask: ROLE_USER }, e)).toBeUndefined();
  });

  it('finds the owner of a job submitted earlier in a job table that keeps it, and shows nothing without it', () => {
    const first = commit([submit(1, alice.userid, 'a'), submit(2, bob.userid, 'b')]);
    const later = commit([validate(1), validate(2)]);
    expect(jobsNamed(alice, later)).toEqual([1, 2]);
    const owners = (t: JobTable) => (id: number) => jobOf(t, id)?.userid;
    const before = owners(applyEntry(initialTable(), first));
    expect(entryView(alice, later, before)!.payload).toEqual({ redacted: REDACTED_NOTE, jobs: [validate(1)] });
    expect(entryView(bob, later, before)!.payload).toEqual({ redacted: REDACTED_NOTE, jobs: [validate(2)] });
    // not knowing whose a job is, nobody is shown its events
    expect(entryView(alice, later)).toBeUndefined();
    expect(entryView(alice, later, owners(initialTable()))).toBeUndefined();
  });

  it("takes a job's owner from its submit event alone: an exception the instance owner raised names the raiser", () => {
    const first = commit([submit(1, alice.userid, 'a')]);
    const owners = (id: number) => jobOf(applyEntry(initialTable(), first), id)?.userid;
    const cancel = { id: 1, event: { timestamp: 3, name: 'exception', context: { type: 'cancel', severity: 0, userid: OWNER, note: '' } } };
    const later = commit([cancel]);
    expect(entryView(alice, later, owners)!.payload).toEqual({ redacted: REDACTED_NOTE, jobs: [cancel] });
    expect(entryView(bob, later, owners)).toBeUndefined();
    // a submit event without a context names nobody: the job table is asked
    const bare = { id: 1, event: { timestamp: 1, name: 'submit' } };
    expect(entryView(alice, commit([bare]), owners)!.payload).toEqual({ redacted: REDACTED_NOTE, jobs: [bare] });
    expect(entryView(alice, commit([bare]))).toBeUndefined();
  });

  it('keeps the resources of an alloc, and leaves out a summary or an R that does not hold together', () => {
    const R = { version: 1, execution: { R_lite: [{ rank: '0', children: { core: '0-1' } }] } };
    const alloc = { id: 1, event: { timestamp: 4, name: 'alloc' }, R };
    const view = entryView(alice, commit([submit(1, alice.userid, 'a'), alloc]))!;
    expect(view.payload).toStrictEqual({ redacted: REDACTED_NOTE, jobs: [submit(1, alice.userid, 'a'), alloc] });
    const oddSubmit = { ...submit(2, alice.userid, 'b'), submit: { name: 'b' } };
    const oddAlloc = { id: 2, event: { timestamp: 4, name: 'alloc' }, R: { version: 2 } };
    const odd = entryView(alice, commit([oddSubmit, oddAlloc]))!;
    // a member without a value is not there at all, as the JSON sent to the reader will have it
    expect(odd.payload).toStrictEqual({
      redacted: REDACTED_NOTE,
      jobs: [{ id: 2, event: oddSubmit.event }, { id: 2, event: oddAlloc.event }],
    });
  });

  it('leaves alone what the reader may read whole: its own events, public ones', () => {
    const ev: Entry = { seq: ++seq, prev: null, time: 1, topic: 'app.x', userid: alice.userid, rolemask: ROLE_USER, flags: FLAG_PRIVATE, payload: { jobs: [] } };
    expect(entryView(alice, ev)).toBe(ev);
    expect(entryView(bob, ev)).toBeUndefined();
    // an event named like the KVS master's entries carries no job events: it is no commit
    const fake = { ...commit([submit(9, bob.userid, 'x')]), userid: alice.userid, flags: FLAG_PRIVATE };
    expect(entryView(bob, fake)).toBeUndefined();
  });
});
