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
  send(frames: Buffer[], opts?: { keep?: boolean }): Promise<Outcome>;
  close(): Promise<void>;
}

/** frames written to the socket at `socketPath` by a process running as `user` */
export function localTarget(socketPath: string, user: { uid: number; gid: number }): FuzzTarget;
