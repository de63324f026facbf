export interface Outcome {
  /** the broker's handshake byte (0: admitted), -1 when none came */
  handshake: number;
  /** whether the frames were written (only after an admitting handshake) */
  wrote: boolean;
  /** bytes the broker answered with */
  received: number;
  /** those bytes, base64, when asked to keep them */
  bytes?: string;
}

export interface FuzzTarget {
  /**
   * Writes the frames on a new connection, which is closed once answers pause for `idleMs` (30) or after `capMs`
   * (300) in all; `keep` returns the answers' bytes.
   */
  send(frames: Buffer[], opts?: { keep?: boolean; idleMs?: number; capMs?: number }): Promise<Outcome>;
  close(): Promise<void>;
}

/** frames written to the socket at `socketPath` by a process running as `user` */
export function localTarget(socketPath: string, user: { uid: number; gid: number }): FuzzTarget;
