// flux relay's work: one connection to a broker's socket, its bytes copied to and from a pair of streams (the
// relay's stdin and stdout, which ssh carries to an ssh:// connector). Bytes, not messages: the broker's
// handshake and peer check are those of the relay's own connection, so the far client is whom ssh logged in.
import * as net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { FluxError, ECONNRESET, EPIPE, errnoOf, reasonOf } from '../core/errors.js';
import { checkSocketPath } from './local-client.js';

/** Resolves when the broker's side has closed, after the input ended or by itself. */
export async function relay(path: string, input: Readable, output: Writable): Promise<void> {
  checkSocketPath(path);
  const sock = net.createConnection(path);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(new FluxError(errnoOf(err), `cannot connect to ${path}: ${reasonOf(err)}`));
    sock.once('error', onError);
    sock.once('connect', () => {
      sock.off('error', onError);
      resolve();
    });
  });
  let failure: Error | undefined;
  sock.on('error', (err: NodeJS.ErrnoException) => {
    // the far client going away mid-stream resets the connection: routine
    const errno = errnoOf(err);
    if (errno !== ECONNRESET && errno !== EPIPE) failure ??= new FluxError(errno, `${path}: ${reasonOf(err)}`);
  });
  input.on('error', () => sock.destroy());
  output.on('error', () => sock.destroy());
  sock.pipe(output);
  input.pipe(sock);
  await new Promise((resolve) => sock.once('close', resolve));
  input.unpipe(sock);
  if (failure) throw failure;
}
