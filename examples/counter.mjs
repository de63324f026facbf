// A plug-in comms module: named counters kept in the instance's journal. Loaded at run time with
//   flux module load --all examples/counter.mjs [step=N]
// it serves
//   counter.add  {name, by?}  -> {name, value, seq}   rank 0 journals a counter.added entry; other ranks ask rank 0
//   counter.get  {name}       -> {name, value}        from this broker's own copy of the counters
//   counter.list {}           -> {counters: {NAME: VALUE}}
// The counters are a projection of the journal: built from its history when the module loads (on any rank, after
// a restart from a statedir, after a reload) and kept up to date as entries arrive.

const ROLE_USER = 2;
const NAME = { type: 'string', minLength: 1, maxLength: 128 };

/** the counters, from the counter.added entries: a pure function of the entries, as every projection is */
const projection = {
  name: 'counter',
  initial: () => ({}),
  apply: (counters, entry) => {
    if (entry.topic !== 'counter.added') return counters;
    const { name, by } = entry.payload;
    return { ...counters, [name]: (counters[name] ?? 0) + by };
  },
};

export default function counter(host, args) {
  let step = 1;
  for (const arg of args) {
    const m = /^step=(-?\d+)$/.exec(arg);
    if (!m) throw new Error(`unknown argument "${arg}": counter takes step=N`);
    step = Number(m[1]);
  }
  const counters = () => host.journal.state('counter');
  let changes = 0;

  async function add(msg, body) {
    const by = body.by ?? step;
    // only rank 0 writes the journal: elsewhere the counter module there is asked, and its answer passed on
    if (host.rank !== 0) {
      const r = await host.rpc('counter.add', { name: body.name, by }, { nodeid: 0 });
      host.respond(msg, r.payload);
      return;
    }
    const cred = { userid: msg.userid, rolemask: msg.rolemask };
    const done = await host.journal.append('counter.added', { name: body.name, by }, cred);
    host.respond(msg, { name: body.name, value: counters()[body.name], seq: done.entry.seq });
  }

  return {
    name: 'counter',
    projection,
    handlers: [
      {
        topic: 'counter.add',
        schema: { type: 'object', properties: { name: NAME, by: { type: 'integer' } }, required: ['name'], additionalProperties: false },
        handler: add,
      },
      {
        topic: 'counter.get',
        allow: ROLE_USER,
        schema: { type: 'object', properties: { name: NAME }, required: ['name'] },
        handler: (msg, body) => host.respond(msg, { name: body.name, value: counters()[body.name] ?? 0 }),
      },
      {
        topic: 'counter.list',
        allow: ROLE_USER,
        handler: (msg) => host.respond(msg, { counters: counters() }),
      },
    ],
    // every journal entry is also an event on every rank: here, the changes this broker has seen since it loaded
    events: [{ topic: 'counter.added', handler: () => changes++ }],
    start: () => host.log(6, 'counter', `counting by ${step} on rank ${host.rank}`),
    stats: () => ({ step, counters: Object.keys(counters()).length, changes }),
  };
}
