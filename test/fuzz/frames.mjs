// Frames for fuzzing a broker's local socket: flux-core's own captured client messages (test/fixtures/vectors)
// mutated, well-framed messages with random headers, topics and payloads, and plain garbage. Plain JS, so that
// the bench and the tests share it.
import fc from 'fast-check';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const VECTORS = fileURLToPath(new URL('../fixtures/vectors', import.meta.url));
const MAGIC = Buffer.from([0x12, 0x00, 0xee, 0xff]);

/** every client-to-broker message of the captures, as the bytes the client wrote */
export function loadSeeds(dir = VECTORS) {
  const seeds = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.jsonl')).sort()) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const v = JSON.parse(line);
      if (v.dir === 'c2s' && typeof v.raw_hex === 'string' && v.raw_hex.length > 0) seeds.push(Buffer.from(v.raw_hex, 'hex'));
    }
  }
  return seeds;
}

/** topics of real services, so that well-framed messages reach handlers and their validation */
const TOPICS = [
  'attr.get', 'attr.list', 'attr.set', 'kvs.lookup', 'kvs.commit', 'kvs.getroot', 'kvs.wait-version', 'kvs.namespace-create',
  'kvs-watch.lookup', 'kvs-watch.cancel', 'kvs-history.key', 'event.publish', 'event.subscribe', 'event.unsubscribe',
  'journal.fetch', 'journal.list', 'journal.show', 'journal.follow', 'journal.head', 'journal.cancel', 'job-ingest.submit',
  'job-list.list', 'job-manager.raise', 'job-manager.kill', 'job-manager.wait', 'user.lookup', 'user.addrole',
  'content.load', 'content.store', 'broker.ping', 'kvs.ping', 'log.append', 'overlay.health', 'state-machine.get',
  'resource.R', 'rexec.exec', 'module.list', 'cron.create', 'kvs.disconnect',
];

const u32 = fc.integer({ min: 0, max: 0xffffffff });

/** RFC 3 frame sizes: one byte below 255, else 0xff and four bytes */
function sized(b) {
  if (b.length < 255) return Buffer.concat([Buffer.from([b.length]), b]);
  const h = Buffer.alloc(5);
  h[0] = 0xff;
  h.writeUInt32BE(b.length, 1);
  return Buffer.concat([h, b]);
}

const jsonish = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(`${JSON.stringify(v)}\0`)),
  fc.dictionary(fc.constantFrom('topic', 'key', 'namespace', 'from', 'count', 'seq', 'name', 'userid', 'J', 'ops', 'flags', 'matchtag', 'id'),
    fc.oneof(fc.integer(), fc.string({ maxLength: 12 }), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 })))
    .map((o) => Buffer.from(`${JSON.stringify(o)}\0`)),
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
);

/** a message framed as a local client frames it, with anything in its fields */
const wellFramed = fc.record({
  type: fc.oneof(fc.constantFrom(1, 2, 4, 8), fc.integer({ min: 0, max: 255 })),
  flags: fc.integer({ min: 0, max: 255 }),
  userid: fc.oneof(fc.constant(0xffffffff), u32),
  rolemask: fc.oneof(fc.constant(0), u32),
  aux1: fc.oneof(fc.constant(0xffffffff), fc.integer({ min: 0, max: 4 }), u32),
  aux2: fc.oneof(fc.integer({ min: 1, max: 50 }), u32),
  routes: fc.array(fc.string({ maxLength: 36 }), { maxLength: 3 }),
  topic: fc.oneof(fc.constantFrom(...TOPICS), fc.string({ maxLength: 40 })),
  payload: fc.option(jsonish, { nil: undefined }),
}).map((m) => {
  const frames = [];
  if (m.flags & 0x08) {
    for (const r of m.routes) frames.push(Buffer.from(r));
    frames.push(Buffer.alloc(0));
  }
  if (m.flags & 0x01) frames.push(Buffer.from(m.topic));
  if (m.flags & 0x02) frames.push(m.payload ?? Buffer.alloc(0));
  const proto = Buffer.alloc(20);
  proto[0] = 0x8e;
  proto[1] = 1;
  proto[2] = m.type;
  proto[3] = m.flags;
  proto.writeUInt32BE(m.userid, 4);
  proto.writeUInt32BE(m.rolemask, 8);
  proto.writeUInt32BE(m.aux1, 12);
  proto.writeUInt32BE(m.aux2, 16);
  frames.push(proto);
  const body = Buffer.concat(frames.map(sized));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([MAGIC, len, body]);
});

/** one change to a captured message */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip'), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate'), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert'), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('length'), value: fc.oneof(u32, fc.integer({ min: 0, max: 400 })) }),
  fc.record({ kind: fc.constant('set'), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
);

function mutate(seed, changes) {
  let b = Buffer.from(seed);
  for (const c of changes) {
    if (b.length === 0) break;
    const at = c.at === undefined ? 0 : c.at % b.length;
    if (c.kind === 'flip') b[at] ^= 1 << c.bit;
    else if (c.kind === 'set') b[at] = c.byte;
    else if (c.kind === 'truncate') b = b.subarray(0, at);
    else if (c.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(c.bytes), b.subarray(at)]);
    else if (c.kind === 'length' && b.length >= 8) b.writeUInt32BE(c.value, 4);
  }
  return b;
}

/** a frame: a mutated capture, a well-framed random message, an untouched capture, or garbage */
export function frameArb(seeds) {
  return fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([s, m]) => mutate(s, m)) },
    { weight: 4, arbitrary: wellFramed },
    { weight: 1, arbitrary: fc.constantFrom(...seeds) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((a) => Buffer.from(a)) },
  );
}
