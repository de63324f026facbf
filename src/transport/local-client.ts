// The client end of the local connector: one connection to a broker in flux-core's framing, so it can talk
// to our broker and to flux-core's alike. The bytes go over a UNIX socket, or through a command that relays
// one (flux relay, run by ssh on the broker's host).
import * as net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { FluxError, EINVAL, ECONNRESET, EPERM, EPROTO, errnoOf, reasonOf, strerror } from '../core/errors.js';
import { LocalDecoder } from '../core/wire/framing.js';
import { TickWriter } from './tick-writer.js';
import type { Message } from '../core/wire/message.js';

/** the one reason a broker refuses a connection with EPERM: the handshake byte cannot say more */
const REFUSED_HINT = ' (connecting requires the owner or user role: guest access is not allowed)';

/** sun_path is 108 bytes; libuv keeps one for the NUL and silently truncates longer paths */
const MAX_SOCKET_PATH = 107;

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

/** Bytes to and from a broker: one socket both ways, or a relaying command's stdout and stdin. */
export interface ByteStream {
  input: Readable;
  output: Writable;
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

  private constructor(private readonly stream: ByteStream) {
    const { input, output } = stream;
    this.writer = new TickWriter(output);
    input.on('data', (chunk: Buffer) => this.ingest(chunk));
    const onError = (err: Error): void => {
      this.failure ??= new FluxError(errnoOf(err), `broker connection: ${err.message}`);
    };
    input.on('error', onError);
    output.on('error', onError);
    input.on('close', () => {
      // a relay whose output has ended reads no more either
      output.destroy();
      this.onClose(this.failure);
    });
  }

  /** Connects to a broker's socket and reads its one-byte verdict: nonzero is an errno (EPERM for a refused guest). */
  static connect(path: string): Promise<LocalClient> {
    try {
      checkSocketPath(path);
    } catch (err) {
      return Promise.reject(err);
    }
    const sock = net.createConnection(path);
    return LocalClient.open({ input: sock, output: sock }, path);
  }

  /**
   * The handshake over any byte stream to a broker: `what` names the far end in errors. The stream is destroyed
   * when the handshake fails.
   */
  static open(stream: ByteStream, what: string): Promise<LocalClient> {
    const { input, output } = stream;
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        input.off('data', onHandshake);
        input.off('error', onError);
        output.off('error', onError);
        input.off('close', onEarlyClose);
      };
      const fail = (err: FluxError): void => {
        cleanup();
        input.destroy();
        output.destroy();
        reject(err);
      };
      const onError = (err: Error): void => fail(new FluxError(errnoOf(err), `cannot connect to ${what}: ${reasonOf(err)}`));
      const onEarlyClose = (): void => fail(new FluxError(ECONNRESET, `${what}: connection closed before the handshake`));
      const onHandshake = (chunk: Buffer): void => {
        const verdict = chunk[0]!;
        if (verdict !== 0) {
          // a broker that refuses sends its errno byte alone and closes: anything after it is some other talker
          fail(chunk.length > 1
            ? new FluxError(EPROTO, `${what}: unexpected bytes in place of the broker's handshake`)
            : new FluxError(verdict, `${what}: connection refused by the broker: ${strerror(verdict)}${verdict === EPERM ? REFUSED_HINT : ''}`));
          return;
        }
        cleanup();
        // Hold back whatever followed the handshake byte until the caller has had a turn to set onMessage.
        input.pause();
        const client = new LocalClient(stream);
        resolve(client);
        setImmediate(() => {
          if (chunk.length > 1) client.ingest(chunk.subarray(1));
          input.resume();
        });
      };
      input.on('data', onHandshake);
      input.on('error', onError);
      output.on('error', onError);
      input.on('close', onEarlyClose);
    });
  }

  /** Queues one message; the stream keeps order and buffers under backpressure. */
  send(msg: Message): void {
    if (this.closing || !this.stream.output.writable) throw new FluxError(ECONNRESET, 'the broker connection is closed');
    this.writer.write(msg);
  }

  /**
   * Flushes what was sent, then ends the connection. By default the broker's end is awaited, so that whatever it
   * still sends is read and its reads of ours never meet a reset. `quiet` says the broker has nothing more to send
   * (no request awaits an answer, nothing subscribed): a socket is then let go once its last bytes are in the
   * kernel, as a C client's close() does, and the broker reads them all before it sees the end. That spares a
   * short command the round trip through both event loops. A relay's streams always close as the relay does.
   */
  close(quiet = false): void {
    if (this.closing) return;
    this.closing = true;
    const { input, output } = this.stream;
    if (!quiet || (input as unknown) !== output) {
      output.end();
      return;
    }
    // after the writer's flush of this tick: what the kernel took whole needs no shutdown, only the close
    process.nextTick(() => {
      if (output.writableLength === 0) output.destroy();
      else output.end(() => output.destroy());
    });
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
      this.stream.input.destroy();
    }
  }
}
