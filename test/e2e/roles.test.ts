// Who may call what, over the real socket. Every handler of every service declares the roles it admits; this
// table is the rule, and the test holds the instance to it both ways: every handler registered on any rank is in
// the table with the same rule, and every request from a guest (the owner's connection presenting another user's
// credentials, as flux-core's tests do) to an owner-only handler is refused with EPERM before the handler runs,
// while the owner and, for the handlers open to them, guests get past that check. Opening an owner-only handler
// to guests, or forgetting to list a new handler, fails here. The rules handlers enforce themselves (a guest acts
// on its own jobs only, within limits) are tested below the table, as the owner and as a guest.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startInstance, type Instance } from '../helpers/instance.js';
import { LocalClient } from '../../src/transport/local-client.js';
import { parseLocalUri } from '../../src/core/wire/uri.js';
import {
  makeRequest, jsonPayload, ROLE_USER, ROLE_OWNER, ROLE_ALL, FLAG_STREAMING, type Message,
} from '../../src/core/wire/message.js';
import { EPERM } from '../../src/core/errors.js';
import { encodeJ } from '../../src/core/jobs/jobspec.js';

type Rule = 'owner' | 'user' | 'all';

/** every handler: 'owner' (the instance owner only), 'user' (guests too), 'all' (any role) */
const RULES: Record<string, Rule> = {
  'attr.get': 'all', 'attr.list': 'all', 'attr.rm': 'owner', 'attr.set': 'owner',
  'broker.shutdown': 'owner',
  'config.get': 'all', 'config.load': 'owner', 'config.reload': 'owner',
  'content-backing.load': 'owner', 'content-backing.store': 'owner', 'content.checkpoint-get': 'owner',
  'content.checkpoint-put': 'owner', 'content.dropcache': 'owner', 'content.flush': 'owner', 'content.load': 'owner',
  'content.store': 'owner', 'content.stats-get': 'all',
  'cron.create': 'owner', 'cron.delete': 'owner', 'cron.list': 'owner', 'cron.start': 'owner', 'cron.stop': 'owner',
  'cron.sync': 'owner',
  'event.publish': 'all',
  'job-exec.stdin': 'user',
  'job-info.eventlog-watch': 'user', 'job-info.eventlog-watch-cancel': 'user', 'job-info.lookup': 'user',
  'job-ingest.submit': 'user',
  'job-list.job-stats': 'user', 'job-list.list': 'user', 'job-list.list-id': 'user',
  'job-manager.drain': 'user', 'job-manager.history.get': 'user', 'job-manager.idle': 'user', 'job-manager.kill': 'user',
  'job-manager.memo': 'user', 'job-manager.purge': 'owner', 'job-manager.purge-id': 'owner', 'job-manager.queue-enable': 'owner', 'job-manager.queue-start': 'owner', 'job-manager.queue-status': 'user',
  'job-manager.raise': 'user', 'job-manager.submit': 'owner',
  'job-manager.update': 'user', 'job-manager.urgency': 'user',
  'job-manager.wait': 'user',
  'job-shell.kill': 'owner', 'job-shell.pmi-exchange': 'owner', 'job-shell.start': 'owner', 'job-shell.stdin': 'owner',
  'journal.cancel': 'owner', 'journal.checkpoint': 'owner', 'journal.checkpoints': 'owner', 'journal.compact': 'owner', 'journal.fetch': 'user',
  'journal.follow': 'user', 'journal.head': 'all', 'journal.list': 'user', 'journal.show': 'user',
  'journal.snapshot': 'owner', 'journal.state-at': 'owner', 'journal.verify': 'owner',
  'kvs-history.at-seq': 'user', 'kvs-history.at-time': 'user', 'kvs-history.key': 'user',
  'kvs-watch.cancel': 'user', 'kvs-watch.lookup': 'user',
  'kvs.commit': 'user', 'kvs.getroot': 'user', 'kvs.lookup': 'user', 'kvs.lookup-plus': 'user',
  'kvs.namespace-create': 'owner', 'kvs.namespace-list': 'owner', 'kvs.namespace-remove': 'owner',
  'kvs.relaycommit': 'owner', 'kvs.version-root': 'user', 'kvs.wait-version': 'user',
  'log.append': 'owner', 'log.cancel': 'owner', 'log.clear': 'owner', 'log.dmesg': 'owner', 'log.stats-get': 'owner',
  'module.handlers': 'owner', 'module.list': 'all', 'module.load': 'owner', 'module.reload': 'owner', 'module.remove': 'owner',
  'overlay.disconnect-subtree': 'owner', 'overlay.goodbye': 'owner', 'overlay.health': 'all', 'overlay.hello': 'owner',
  'overlay.lost': 'owner',
  'overlay.topology': 'all',
  'resource.R': 'all', 'resource.drain': 'owner', 'resource.status': 'all', 'resource.undrain': 'owner', 'resource.get-xml': 'all', 'resource.topo-get': 'all',
  'rexec.exec': 'owner', 'rexec.kill': 'owner', 'rexec.list': 'owner', 'rexec.ps': 'owner', 'rexec.record': 'owner',
  'rexec.wait': 'owner', 'rexec.write': 'owner',
  'sched.resource-status': 'user',
  'state-machine.get': 'all',
  'user.addrole': 'owner', 'user.delrole': 'owner', 'user.list': 'owner', 'user.lookup': 'owner',
};
/**
 * every module also answers <name>.ping, .stats-get and .disconnect, to any role (log keeps its stats to the owner),
 * and <name>.debug, to the owner
 */
const DEFAULTS: Array<[string, Rule]> = [['ping', 'all'], ['stats-get', 'all'], ['disconnect', 'all'], ['debug', 'owner']];
const ALLOW: Record<Rule, number> = { owner: 0, user: ROLE_USER, all: ROLE_ALL >>> 0 };
/** the owner is not sent these in the sweep: one stops the instance, the other takes a child out of the tree */
const NOT_AS_OWNER = new Set(['broker.shutdown', 'overlay.goodbye']);
const OWNER_ONLY = 'Request requires owner credentials';
const GUEST = 4242;

interface Answer {
  errnum: number;
  text: string;
}

let inst: Instance;
const uri = (rank: number) => (rank === 0 ? inst.uri : `local://${inst.rundir}/local-${rank}`);

/**
 * Send every request at once on one connection to a rank, with the credentials given (the owner's connection may
 * present others'), and collect the first answer to each; requests that get none in `ms` (a .disconnect, say)
 * are left out of the map.
 */
async function sendAll(rank: number, reqs: Array<{ topic: string; body: Record<string, unknown>; flags?: number }>,
  cred: { userid: number; rolemask: number } | undefined, ms = 2000): Promise<Map<number, Answer>> {
  const conn = await LocalClient.connect(parseLocalUri(uri(rank)));
  const answers = new Map<number, Answer>();
  try {
    conn.onMessage = (m: Message) => {
      if (answers.has(m.aux2)) return;
      const text = m.payload ? m.payload.toString('utf8').replace(/\0$/, '') : '';
      answers.set(m.aux2, { errnum: m.aux1, text });
    };
    reqs.forEach((r, i) => {
      const req = makeRequest(r.topic, jsonPayload(r.body), { matchtag: i + 1, flags: r.flags ?? 0 });
      if (cred) {
        req.userid = cred.userid;
        req.rolemask = cred.rolemask;
      }
      conn.send(req);
    });
    const end = Date.now() + ms;
    while (answers.size < reqs.length && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  } finally {
    conn.close();
  }
  return new Map([...answers].map(([tag, a]) => [tag - 1, a]));
}

async function handlers(rank: number): Promise<Array<{ module: string; topic: string; allow: number }>> {
  const got = await sendAll(rank, [{ topic: 'module.handlers', body: {} }], undefined);
  const a = got.get(0);
  if (!a || a.errnum !== 0) throw new Error(`module.handlers on rank ${rank}: ${JSON.stringify(a)}`);
  return (JSON.parse(a.text) as { handlers: Array<{ module: string; topic: string; allow: number }> }).handlers;
}

function ruleOf(module: string, topic: string): Rule | undefined {
  if (RULES[topic] !== undefined) return RULES[topic];
  for (const [suffix, rule] of DEFAULTS) if (topic === `${module}.${suffix}`) return rule;
  return undefined;
}

async function request(rank: number, topic: string, body: Record<string, unknown>, cred?: { userid: number; rolemask: number }): Promise<Answer> {
  const a = (await sendAll(rank, [{ topic, body }], cred, 15_000)).get(0);
  if (!a) throw new Error(`${topic}: no answer`);
  return a;
}
const guest = (userid = GUEST) => ({ userid, rolemask: ROLE_USER });

beforeAll(async () => {
  inst = await startInstance(2);
});
afterAll(async () => {
  expect(await inst?.stop()).toBe(0);
});

describe('the role of every handler', () => {
  it('every handler registered on every rank is in the table, with the rule it declares', async () => {
    const seen = new Set<string>();
    for (const rank of [0, 1]) {
      for (const h of await handlers(rank)) {
        const rule = ruleOf(h.module, h.topic);
        expect(rule, `${h.topic} (module ${h.module}, rank ${rank}) is not in the table of roles`).toBeDefined();
        expect({ topic: h.topic, allow: h.allow }).toEqual({ topic: h.topic, allow: ALLOW[rule!] });
        seen.add(h.topic);
      }
    }
    // the table names nothing that is not there
    for (const topic of Object.keys(RULES)) expect(seen, `${topic} is in the table but registered nowhere`).toContain(topic);
  });

  it('a guest is refused every owner-only handler and let through to the others, on every rank', async () => {
    for (const rank of [0, 1]) {
      const list = await handlers(rank);
      const answers = await sendAll(rank, list.map((h) => ({ topic: h.topic, body: {} })), guest());
      list.forEach((h, i) => {
        const a = answers.get(i);
        if (ruleOf(h.module, h.topic) === 'owner') {
          expect({ topic: h.topic, rank, answer: a }).toEqual({ topic: h.topic, rank, answer: { errnum: EPERM, text: OWNER_ONLY } });
        } else {
          expect(a?.text ?? '', `${h.topic} on rank ${rank} refused a guest`).not.toBe(OWNER_ONLY);
        }
      });
    }
  });

  it('the owner gets past the check everywhere (and no request of either kind stops a broker)', async () => {
    for (const rank of [0, 1]) {
      const list = (await handlers(rank)).filter((h) => !NOT_AS_OWNER.has(h.topic));
      const answers = await sendAll(rank, list.map((h) => ({ topic: h.topic, body: {} })), undefined);
      list.forEach((h, i) => expect(answers.get(i)?.text ?? '', `${h.topic} on rank ${rank} refused the owner`).not.toBe(OWNER_ONLY));
    }
    for (const rank of [0, 1]) expect((await request(rank, 'journal.head', {})).errnum).toBe(0);
  });
});

describe('the rules handlers enforce', () => {
  const jobspec = {
    resources: [{ type: 'slot', count: 1, label: 'task', with: [{ type: 'core', count: 1 }] }],
    tasks: [{ command: ['sleep', '30'], slot: 'task', count: { per_slot: 1 } }],
    attributes: { system: { duration: 0, cwd: '/tmp', environment: {} } },
    version: 1,
  };
  const submit = (userid: number, urgency: number, flags: number, cred?: { userid: number; rolemask: number }) =>
    request(0, 'job-ingest.submit', { J: encodeJ(jobspec, userid), urgency, flags }, cred);
  const WAITABLE = 4;
  const NOVALIDATE = 8;

  it('job-ingest.submit: a guest submits as itself, urgency at most 16, neither waitable nor unvalidated; the owner may', async () => {
    expect(await submit(GUEST, 17, 0, guest())).toEqual({ errnum: EPERM, text: 'only the instance owner can submit with urgency >16' });
    expect(await submit(GUEST, 0, WAITABLE, guest())).toEqual({ errnum: EPERM, text: 'only the instance owner can submit with FLUX_JOB_WAITABLE' });
    expect(await submit(GUEST, 0, NOVALIDATE, guest())).toEqual({ errnum: EPERM, text: 'only the instance owner can submit with FLUX_JOB_NOVALIDATE' });
    expect(await submit(GUEST + 1, 0, 0, guest())).toEqual({ errnum: EPERM, text: 'signer userid does not match the submitting user' });
    expect((await submit(GUEST, 16, 0, guest())).errnum).toBe(0);
    const owner = Number((await inst.flux(['getattr', 'security.owner'])).stdout);
    // held (urgency 0) so that nothing runs; the owner may also ask for a waitable job and any urgency
    expect((await submit(owner, 0, WAITABLE, { userid: owner, rolemask: ROLE_OWNER })).errnum).toBe(0);
    const top = await submit(owner, 31, 0, { userid: owner, rolemask: ROLE_OWNER });
    expect(top.errnum).toBe(0);
    await request(0, 'job-manager.raise', { id: (JSON.parse(top.text) as { id: number }).id, severity: 0, type: 'cancel' });
  });

  it('job-manager.raise, kill, urgency and job-exec.stdin: a guest on its own jobs only, urgency at most 16; the owner on any', async () => {
    const mine = JSON.parse((await submit(GUEST, 0, 0, guest())).text) as { id: number };
    const theirs = JSON.parse((await submit(GUEST + 1, 0, 0, guest(GUEST + 1))).text) as { id: number };
    // someone else's job: refused, whatever is asked
    expect(await request(0, 'job-manager.urgency', { id: theirs.id, urgency: 1 }, guest()))
      .toEqual({ errnum: EPERM, text: 'guests can only reprioritize their own jobs' });
    expect(await request(0, 'job-manager.kill', { id: theirs.id, signum: 9 }, guest()))
      .toEqual({ errnum: EPERM, text: 'guests may only send signals to their own jobs' });
    expect(await request(0, 'job-exec.stdin', { id: theirs.id, data: 'eA==' }, guest()))
      .toEqual({ errnum: EPERM, text: 'that is not your job' });
    expect(await request(0, 'job-manager.raise', { id: theirs.id, severity: 0, type: 'cancel' }, guest()))
      .toEqual({ errnum: EPERM, text: 'guests can only raise exceptions on their own jobs' });
    // its own job: let through (a held job is not running, which is what kill and stdin then say)
    expect(await request(0, 'job-manager.urgency', { id: mine.id, urgency: 17 }, guest()))
      .toEqual({ errnum: EPERM, text: 'guests can only adjust urgency <= default' });
    expect(await request(0, 'job-manager.kill', { id: mine.id, signum: 9 }, guest())).toEqual({ errnum: 22, text: 'job is not running' });
    expect((await request(0, 'job-exec.stdin', { id: mine.id, data: 'eA==' }, guest())).errnum).not.toBe(EPERM);
    expect(await request(0, 'job-manager.urgency', { id: mine.id, urgency: 16 }, guest())).toEqual({ errnum: 0, text: '{"old_urgency":0}' });
    expect((await request(0, 'job-manager.raise', { id: mine.id, severity: 0, type: 'cancel' }, guest())).errnum).toBe(0);
    // the owner on someone else's job, past the guests' limit
    expect(await request(0, 'job-manager.urgency', { id: theirs.id, urgency: 31 })).toEqual({ errnum: 0, text: '{"old_urgency":0}' });
    expect((await request(0, 'job-manager.raise', { id: theirs.id, severity: 0, type: 'cancel' })).errnum).toBe(0);
  });

  it('sched.resource-status and job-list answer a guest', async () => {
    const status = await request(0, 'sched.resource-status', {}, guest());
    expect(status.errnum).toBe(0);
    expect(JSON.parse(status.text)).toHaveProperty('all');
    expect((await request(0, 'job-list.list', { max_entries: 1 }, guest())).errnum).toBe(0);
  });

  it('the KVS: a guest reads, watches and commits only in namespaces it owns, on every rank; the owner everywhere', async () => {
    const empty = JSON.parse((await request(0, 'kvs.version-root', { namespace: 'primary', rootseq: 0 })).text).rootref as string;
    expect((await request(0, 'kvs.namespace-create', { namespace: 'guest-ns', rootref: empty, owner: GUEST, flags: 0 })).errnum).toBe(0);
    const val = { ver: 1, type: 'val', data: 'MQ==' };
    const commit = (namespace: string) => ({ namespace, flags: 0, ops: [{ key: 'k', flags: 0, dirent: val }] });
    for (const rank of [0, 1]) {
      const asks: Array<[string, (ns: string) => Record<string, unknown>]> = [
        ['kvs.commit', commit],
        ['kvs.lookup', (ns) => ({ namespace: ns, key: 'k', flags: 0 })],
        ['kvs.getroot', (ns) => ({ namespace: ns })],
        ['kvs.wait-version', (ns) => ({ namespace: ns, rootseq: 0 })],
        ['kvs.version-root', (ns) => ({ namespace: ns, rootseq: 0 })],
        ['kvs-history.key', (ns) => ({ namespace: ns, key: 'k' })],
      ];
      for (const [topic, body] of asks) {
        expect({ topic, rank, errnum: (await request(rank, topic, body('primary'), guest())).errnum }).toEqual({ topic, rank, errnum: EPERM });
        expect({ topic, rank, errnum: (await request(rank, topic, body('guest-ns'), guest())).errnum }).toEqual({ topic, rank, errnum: 0 });
        expect({ topic, rank, errnum: (await request(rank, topic, body('guest-ns'), guest(GUEST + 1))).errnum }).toEqual({ topic, rank, errnum: EPERM });
        expect({ topic, rank, errnum: (await request(rank, topic, body('primary'))).errnum }).toEqual({ topic, rank, errnum: 0 });
      }
      const watch = (ns: string, cred?: { userid: number; rolemask: number }) =>
        sendAll(rank, [{ topic: 'kvs-watch.lookup', body: { namespace: ns, key: 'k', flags: 0 }, flags: FLAG_STREAMING }], cred, 15_000)
          .then((m) => m.get(0)!.errnum);
      expect(await watch('primary', guest())).toBe(EPERM);
      expect(await watch('guest-ns', guest())).toBe(0);
      expect(await watch('guest-ns', guest(GUEST + 1))).toBe(EPERM);
      expect(await watch('primary')).toBe(0);
    }
  });
});
