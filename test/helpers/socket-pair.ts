// In-process connections for tests: a UNIX socket pair made through a listening socket in `dir` (Node 20 has no
// socketpair()).
import net from 'node:net';
import { join } from 'node:path';

let made = 0;

export async function socketPairIn(dir: string): Promise<[net.Socket, net.Socket]> {
  const where = join(dir, `s${made++}`);
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(where, resolve));
  const accepted = new Promise<net.Socket>((resolve) => srv.once('connection', resolve));
  const client = net.connect(where);
  const server = await accepted;
  srv.close();
  return [server, client];
}
