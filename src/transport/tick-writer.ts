// Writing messages to a byte stream: those written in one tick leave in one writev rather than one syscall
// each (a burst of responses or requests is common, and the syscalls were a measurable cost).
import type { Writable } from 'node:stream';
import { encodeLocalPieces } from '../core/wire/framing.js';
import type { Message } from '../core/wire/message.js';

export class TickWriter {
  private corked = false;
  // made once, not a closure per tick
  private readonly uncork = (): void => {
    this.corked = false;
    this.out.uncork();
  };

  constructor(private readonly out: Writable) {}

  write(msg: Message): void {
    if (!this.corked) {
      this.corked = true;
      this.out.cork();
      process.nextTick(this.uncork);
    }
    for (const piece of encodeLocalPieces(msg)) this.out.write(piece);
  }
}
