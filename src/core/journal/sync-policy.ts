// Where rank 0 syncs a group commit: on a libuv thread, so that the event loop can read and apply the next
// commits while the disk works, or on the event loop's own thread. The thread costs two wake-ups per sync (the
// worker's, and the loop's when it is done): measured on a 2-core virtual machine, a lone committer made 1,000
// one-key commits/s through it and 1,270/s with the sync on the loop. Where commits overlap, the thread's overlap
// is worth more (16 committers: 5,900/s through it, 4,600/s on the loop). So a sync runs on the loop only while
// the broker is seen to have nothing else to do meanwhile: nothing at all arrived during each of the last few
// syncs run on the thread. A sync on the loop cannot see what arrives during it, so every PROBE_EVERY-th sync goes
// to the thread again, to look.

/** the syncs on the thread in a row that saw nothing arrive, before syncs may run on the loop */
export const QUIET_SYNCS = 4;
/** of the syncs in a row, every PROBE_EVERY-th (counting from the first on the loop) goes to the thread again */
export const PROBE_EVERY = 16;

export class SyncPolicy {
  /** syncs on the thread in a row during which nothing arrived */
  private quiet = 0;
  /** syncs on the loop since the last on the thread */
  private onLoop = 0;

  /** `arrivals`: how many messages the broker has received, ever */
  constructor(private readonly arrivals: () => number) {}

  /** whether the next sync runs on the loop; the caller then makes it, or calls `threadStarts` */
  onLoopNext(): boolean {
    if (this.quiet < QUIET_SYNCS || this.onLoop >= PROBE_EVERY - 1) return false;
    this.onLoop++;
    return true;
  }

  /** a sync on the thread starts: call what this returns as it ends */
  threadStarts(): () => void {
    this.onLoop = 0;
    const mark = this.arrivals();
    return () => {
      this.quiet = this.arrivals() === mark ? this.quiet + 1 : 0;
    };
  }
}
