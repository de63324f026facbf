// The jobs waiting for resources, in the order sched-simple serves them: highest priority first, then the oldest
// (lowest id). Kept sorted as jobs come and go, so that a scheduling pass reads the head instead of sorting every
// waiting job each time a job ends; and which of them are not yet known to be feasible, so that a pass that cannot
// allocate anything looks only at those.
export class JobQueue {
  private readonly order: Array<{ id: number; priority: number }> = [];
  private readonly priorities = new Map<number, number>();
  private readonly unchecked = new Set<number>();

  get size(): number {
    return this.order.length;
  }

  has(id: number): boolean {
    return this.priorities.has(id);
  }

  /** the place `key` has or would have */
  private find(id: number, priority: number): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = this.order[mid]!;
      if (m.priority > priority || (m.priority === priority && m.id < id)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** a job waits with this priority (again, if it was waiting with another) */
  set(id: number, priority: number): void {
    const had = this.priorities.get(id);
    if (had === priority) return;
    if (had !== undefined) this.order.splice(this.find(id, had), 1);
    this.order.splice(this.find(id, priority), 0, { id, priority });
    this.priorities.set(id, priority);
    this.unchecked.add(id);
  }

  delete(id: number): void {
    const had = this.priorities.get(id);
    if (had === undefined) return;
    this.order.splice(this.find(id, had), 1);
    this.priorities.delete(id);
    this.unchecked.delete(id);
  }

  /** the waiting jobs in the order they are served (a copy: the queue may change while it is read) */
  ids(): number[] {
    return this.order.map((e) => e.id);
  }

  /** the waiting jobs whose feasibility has not been checked */
  uncheckedIds(): number[] {
    return [...this.unchecked];
  }

  checked(id: number): void {
    this.unchecked.delete(id);
  }
}
