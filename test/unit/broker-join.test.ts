// A broker below rank 0 whose hello to its parent is still on its way: its children (and so the initial program)
// may already take it for online, so a client's request for upstream is held until the parent answers, and only
// refused once the broker has stopped joining without a parent.
import { describe, it, expect } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { Attrs } from '../../src/services/attrs.js';
import { type Message, decodeFrames, makeRequest, jsonPayload } from '../../src/core/wire/message.js';
import { EHOSTUNREACH } from '../../src/core/errors.js';

function leaf() {
  const up: Message[] = [];
  const answers: Message[] = [];
  const broker = new Broker('u1', 1, 2, 2, new Attrs(), process.getuid!(), {
    toParent: (frames) => void up.push(decodeFrames(frames)),
    toChild: () => {},
    toClient: (_conn, msg) => {
      answers.push(msg);
      return true;
    },
  });
  const ping = (tag: number) => broker.fromClient('client-1', makeRequest('broker.ping', jsonPayload({}), { nodeid: 0, matchtag: tag }));
  return { broker, up, answers, ping };
}

describe('a broker joining its parent', () => {
  it('holds requests for upstream until the parent has answered its hello, then sends them in order', () => {
    const { broker, up, answers, ping } = leaf();
    ping(1);
    ping(2);
    expect(up).toEqual([]);
    expect(answers).toEqual([]);
    broker.parentUuid = 'parent-uuid';
    expect(up.map((m) => [m.topic, m.aux2])).toEqual([['broker.ping', 1], ['broker.ping', 2]]);
    ping(3);
    expect(up.map((m) => m.aux2)).toEqual([1, 2, 3]);
    expect(answers).toEqual([]);
  });

  it('refuses them with EHOSTUNREACH once it runs without a parent', () => {
    const { broker, up, answers, ping } = leaf();
    broker.state = 'run';
    ping(1);
    expect(up).toEqual([]);
    expect(answers.map((m) => m.aux1)).toEqual([EHOSTUNREACH]);
  });
});
