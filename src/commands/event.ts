import { Flux } from '../api/handle.js';
import { subscribeFrom, eventOfMessage, publish as publishEvent } from '../api/events.js';
import { FluxError, EINVAL } from '../core/errors.js';
import { FLAG_PRIVATE, stringPayload } from '../core/wire/message.js';
import { program, parse } from './common.js';

/**
 * The payload PAYLOAD words make: with raw, their text as is (no NUL, as flux-core sends raw payloads); else a
 * JSON object, re-encoded compactly + NUL so the journal keeps it as JSON rather than as opaque bytes.
 */
export function eventPayload(words: string[], raw: boolean): Buffer | undefined {
  const text = words.join(' ');
  if (words.length === 0 || (raw && text === '')) return undefined;
  if (raw) return Buffer.from(text, 'utf8');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new FluxError(EINVAL, `payload is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FluxError(EINVAL, 'payload must be a JSON object');
  return stringPayload(JSON.stringify(v));
}

/** `topic<TAB>payload` as flux-core prints it: the payload's bytes without their trailing NUL */
export function eventLine(topic: string, payload: Buffer | undefined): Buffer {
  const end = payload && payload.length > 0 && payload[payload.length - 1] === 0 ? payload.length - 1 : payload?.length ?? 0;
  return Buffer.concat([Buffer.from(`${topic}\t`), payload?.subarray(0, end) ?? Buffer.alloc(0), Buffer.from('\n')]);
}

export function parseSeq(s: string, what: string): number {
  if (!/^\d+$/.test(s)) throw new FluxError(EINVAL, `${what}: expected a non-negative integer, not "${s}"`);
  return Number(s);
}

interface PubOpts {
  raw?: boolean;
  synchronous?: boolean;
  loopback?: boolean;
  private?: boolean;
}

type Action =
  | { op: 'pub'; topic: string; payload: string[]; o: PubOpts }
  | { op: 'sub'; topics: string[]; count?: number; from?: number };

/** event.publish, then (loopback) the event's own arrival; the subscription must already be in place */
async function publish(h: Flux, topic: string, payload: Buffer | undefined, flags: number, loopback: boolean): Promise<number> {
  const seen = new Set<number>();
  let arrived: ((seq: number) => void) | undefined;
  const off = loopback
    ? h.onEvent((m) => {
      const ev = eventOfMessage(m);
      if (ev.topic !== topic) return;
      seen.add(ev.seq);
      arrived?.(ev.seq);
    })
    : undefined;
  try {
    const seq = await publishEvent(h, topic, payload, flags);
    // rank 0 delivers the event before it answers, so it may be here already
    if (loopback && !seen.has(seq)) {
      await new Promise<void>((resolve) => {
        arrived = (s) => s === seq && resolve();
      });
    }
    return seq;
  } finally {
    off?.();
  }
}

export async function run(args: string[]): Promise<number> {
  let action: Action | undefined;
  const p = program('event', 'Send and receive Flux events').enablePositionalOptions();
  p.command('pub')
    .description('Publish an event')
    .option('-r, --raw', 'send the payload as raw bytes, not as JSON')
    .option('-s, --synchronous', 'wait until the event is sequenced and print its seq')
    .option('-l, --loopback', 'wait until the event comes back to this subscriber and print its seq')
    .option('-p, --private', 'only the instance owner and the publisher receive the event')
    .argument('<topic>', 'event topic')
    .argument('[payload...]', 'the payload (words are joined with spaces); a JSON object unless --raw')
    .action((topic: string, payload: string[], o: PubOpts) => {
      action = { op: 'pub', topic, payload, o };
    });
  p.command('sub')
    .description('Print events whose topic starts with a TOPIC (all events when none is given)')
    .option('-c, --count <n>', 'exit after n events (0: never)')
    .option('--from <seq>', 'first replay the events from this journal seq on')
    .argument('[topic...]', 'topic prefixes')
    .action((topics: string[], o: { count?: string; from?: string }) => {
      action = {
        op: 'sub', topics,
        count: o.count === undefined ? undefined : parseSeq(o.count, '--count'),
        from: o.from === undefined ? undefined : parseSeq(o.from, '--from'),
      };
    });
  const code = parse(p, args);
  if (code !== undefined) return code;
  const a = action as Action;
  if (a.op === 'pub') {
    const payload = eventPayload(a.payload, a.o.raw === true);
    const flags = a.o.private ? FLAG_PRIVATE : 0;
    const h = await Flux.open();
    try {
      if (a.o.loopback) await h.subscribe(a.topic);
      // always asked and answered (flux-core 0.88 sends a bare event): a publish is a journal write here, and a
      // refusal (a read-only instance, a reserved topic) must reach the publisher
      const seq = await publish(h, a.topic, payload, flags, a.o.loopback === true);
      if (a.o.loopback) await h.unsubscribe(a.topic);
      if (a.o.synchronous || a.o.loopback) process.stdout.write(`seq=${seq}\n`);
      return 0;
    } finally {
      h.close();
    }
  }
  const h = await Flux.open();
  try {
    let n = 0;
    await subscribeFrom(h, a.topics, a.from, (ev) => {
      process.stdout.write(eventLine(ev.topic, ev.payload));
      return !a.count || ++n < a.count;
    });
    return 0;
  } finally {
    h.close();
  }
}
