// The client end of the local connector: one UNIX-socket connection to a broker, in flux-core's framing,
// so it can talk to our broker and to flux-core's alike.
import * as net from 'node:net';
import { FluxError, EINVAL, ECONNRESET, errnoOf, strerror } from '../core/errors.js';
import { LocalDecoder } from '../core/framing.js';
import { TickWriter } from './tick-writer.js';
import type { Message } from '../core/message.js';

const URI_SCHEME = 'local://';
/** sun_path is 108 bytes; libuv keeps one for the NUL and silently truncates longer paths */
const MAX_SOCKET_PATH = 107;

/** `local:///abs/path` -> `/abs/path`. */
export function parseLocalUri(uri: string): string {
  if (!uri.startsWith(URI_SCHEME)) {
    throw new FluxError(EINVAL, `${JSON.stringify(uri)} is not a local:// URI (expected local:///absolute/path)`);
  }
  const path = uri.substring(URI_SCHEME.length);
  if (!path.startsWith('/')) {
    throw new FluxError(EINVAL, `${JSON.stringify(uri)}: the socket path must be absolute (local:///absolute/path)`);
  }
  return path;
}

/**
 * Refuses socket paths the kernel cannot hold: libuv would truncate them and bind or connect to a
 * different file without a word.
 */
export function checkSocketPath(path: string): void {
  if (path.includes('\0')) throw new FluxError(EINVAL, `socket path ${JSON.stringify(path)} contains a NUL`);
  const n = Buffer.byteLength(path);
  if (n > MAX_SOCKET_PATH) {
    throw new FluxError(EINVAL, `socket path ${path} is ${n} bytes, longer than the ${MAX_SOCKET_PATH} a UNIX socket allows`);
  }
}

export class LocalClient {
  /** Every message from the broker, events and responses alike; routes on them are kept as received. */
  onMessage: (msg: Message) => void = () => {};
  /**
   * Called once when the connection is gone: with no error after close() or a clean EOF from the broker,
   * else with a FluxError (ECONNRESET, EPROTO for bad bytes from the broker, ...).
   */
  onClose: (err?: Error) => void = () => {};

  private readonly decoder = new LocalDecoder();
  /** set by close(): nothing more is sent or delivered */
  private closing = false;
  private readonly writer: TickWriter;
  private failure: FluxError | undefined;

  private constructor(private readonly sock: net.Socket) {
    this.writer = new TickWriter(sock);
    sock.on('data', (chunk: Buffer) => this.ingest(chunk));
    sock.on('error', (err) => {
      this.failure ??= new FluxError(errnoOf(err), `broker connection: ${err.message}`);
    });
    sock.on('close', () => this.onClose(this.failure));
  }

  /** Connects and reads the broker's one-byte verdict: nonzero is an errno (EPERM for a refused guest). */
  static connect(path: string): Promise<LocalClient> {
    return new Promise((resolve, reject) => {
      checkSocketPath(path);
      const sock = net.createConnection(path);
      const cleanup = (): void => {
        sock.off('data', onHandshake);
        sock.off('error', onError);
        sock.off('close', onEarlyClose);
      };
      const onError = (err: Error): void => {
        cleanup();
        sock.destroy();
        reject(new FluxError(errnoOf(err), `cannot connect to ${path}: ${err.message}`));
      };
      const onEarlyClose = (): void => {
        cleanup();
        reject(new FluxError(ECONNRESET, `${path}: connection closed before the handshake`));
      };
      const onHandshake = (chunk: Buffer): void => {
        cleanup();
        const verdict = chunk[0]!;
        if (verdict !== 0) {
          sock.destroy();
          reject(new FluxError(verdict, `${path}: connection refused by the broker: ${strerror(verdict)}`));
          return;
        }
        // Hold back whatever followed the handshake byte until the caller has had a turn to set onMessage.
        sock.pause();
        const client = new LocalClient(sock);
        resolve(client);
        setImmediate(() => {
          if (chunk.length > 1) client.ingest(chunk.subarray(1));
          sock.resume();
        });
      };
      sock.on('data', onHandshake);
      sock.on('error', onError);
      sock.on('close', onEarlyClose);
    });
  }

  /** Queues one message; the socket keeps order and buffers under backpressure. */
  send(msg: Message): void {
    if (this.closing || !this.sock.writable) throw new FluxError(ECONNRESET, 'the broker connection is closed');
    this.writer.write(msg);
  }

  /** Flushes what was sent, then ends the connection; the broker closes its side in turn. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.sock.end();
  }

  private ingest(chunk: Buffer): void {
    if (this.closing) return;
    try {
      this.decoder.push(chunk, (m) => {
        if (!this.closing) this.onMessage(m);
      });
    } catch (err) {
      // the stream cannot be resynchronised after bad bytes: give up on the connection
      this.failure ??= err instanceof FluxError ? err : new FluxError(errnoOf(err), String(err));
      this.sock.destroy();
    }
  }
}
