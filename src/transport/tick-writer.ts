// Writing messages to a local socket: those written in one tick leave in one writev rather than one syscall
// each (a burst of responses or requests is common, and the syscalls were a measurable cost).
import type net from 'node:net';
import { encodeLocal } from '../core/framing.js';
import type { Message } from '../core/message.js';

export class TickWriter {
  private corked = false;

  constructor(private readonly sock: net.Socket) {}

  write(msg: Message): void {
    if (!this.corked) {
      this.corked = true;
      this.sock.cork();
      process.nextTick(() => {
        this.corked = false;
        this.sock.uncork();
      });
    }
    this.sock.write(encodeLocal(msg));
  }
}
