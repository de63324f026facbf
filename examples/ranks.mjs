// Ask every broker of the instance for its rank with a raw RPC, and run a command on each: the same handle
// reaches every rank. Errors carry an errno, as in C. Run inside an instance:  node examples/ranks.mjs
import { connect, FluxError, ENOSYS } from 'flux-ts';

const h = await connect();
try {
  const size = Number(await h.attrs.get('size'));
  for (let rank = 0; rank < size; rank++) {
    const reply = await h.rpc('attr.get', { name: 'rank' }, { nodeid: rank });
    const { value } = JSON.parse(reply.payload.toString('utf8').replace(/\0$/, ''));
    let output = '';
    for await (const r of h.exec.run(['sh', '-c', 'echo "pid $$"'], { rank })) {
      if (r.type === 'output' && r.data) output += r.data.toString();
    }
    console.log(`rank ${value}: ran ${output.trim().startsWith('pid ') ? 'a shell' : 'nothing'}`);
  }
  try {
    await h.rpc('nosuch.service', {});
  } catch (err) {
    if (!(err instanceof FluxError) || err.errno !== ENOSYS) throw err;
    console.log(`nosuch.service: errno ${err.errno} (${err.message})`);
  }
} finally {
  h.close();
}
