// Watch a KVS key as it changes, from a past version on: the changes already made are replayed first, then the
// loop goes on live. Run inside an instance (FLUX_URI set):  node examples/kvs-watch.mjs [KEY]
import { connect } from 'flux-ts';

const key = process.argv[2] ?? 'example.counter';
const h = await connect();
try {
  const { rootseq } = await h.kvs.put(key, 0);
  await h.kvs.put(key, 1);
  for await (const { value } of h.kvs.watch(key, { fromVersion: rootseq })) {
    console.log(`${key} = ${JSON.stringify(value)}`);
    if (value === 3) break;
    // past the history, each change made here comes back through the watch
    if (value >= 1) await h.kvs.commit(h.kvs.txn().put(key, value + 1).append(`${key}-log`, `${value + 1}\n`));
  }
  console.log(`log: ${JSON.stringify((await h.kvs.getRaw(`${key}-log`)).toString())}`);
  console.log(`at version ${rootseq}: ${JSON.stringify(await h.kvs.get(key, { atVersion: rootseq }))}`);
} finally {
  h.close();
}
