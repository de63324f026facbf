// Publish events, then subscribe from the first of them: the journal keeps every event, so a late subscriber
// sees the history and then the live ones, with no gap. Run inside an instance:  node examples/events-history.mjs
import { connect } from 'flux-ts';

const h = await connect();
try {
  const first = await h.events.publish('example.greeting', { text: 'hello' });
  await h.events.publish('example.greeting', { text: 'again' });
  let n = 0;
  for await (const ev of h.events.subscribe('example.', { from: first })) {
    console.log(`${ev.seq - first}: ${ev.topic} ${JSON.stringify(ev.data)}`);
    if (++n === 2) await h.events.publish('example.farewell', { text: 'live' });
    if (n === 3) break;
  }
} finally {
  h.close();
}
