// The last N items of a sequence numbered without gaps (journal entries by seq), in a fixed circular buffer:
// O(1) to add, O(1) to find by number. With a budget, also no more than that many bytes (as `sizeOf` counts
// them): the oldest go first, but the newest item is always held.
export class Recent<T> {
  private readonly items: (T | undefined)[];
  private start = 0;
  private count = 0;
  /** the number of the oldest item held */
  private first = 0;
  private held = 0;

  constructor(
    readonly capacity: number,
    private readonly budget = Infinity,
    private readonly sizeOf: (item: T) => number = () => 0,
  ) {
    this.items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** the number of the oldest item held, or undefined when empty */
  get oldest(): number | undefined {
    return this.count > 0 ? this.first : undefined;
  }

  /** add item number `n`, which must follow the newest (anything else starts the buffer afresh) */
  push(n: number, item: T): void {
    if (this.count > 0 && n !== this.first + this.count) this.clear();
    if (this.count === 0) this.first = n;
    if (this.count === this.capacity) this.dropOldest();
    this.items[(this.start + this.count) % this.capacity] = item;
    this.count++;
    this.held += this.sizeOf(item);
    while (this.held > this.budget && this.count > 1) this.dropOldest();
  }

  /** the bytes held, as `sizeOf` counts them */
  get bytes(): number {
    return this.held;
  }

  private dropOldest(): void {
    this.held -= this.sizeOf(this.items[this.start]!);
    this.items[this.start] = undefined;
    this.start = (this.start + 1) % this.capacity;
    this.first++;
    this.count--;
  }

  get(n: number): T | undefined {
    if (this.count === 0 || n < this.first || n >= this.first + this.count) return undefined;
    return this.items[(this.start + (n - this.first)) % this.capacity];
  }

  /** items numbered from `n`, at most `max` */
  from(n: number, max: number): T[] {
    const out: T[] = [];
    for (let i = n; out.length < max; i++) {
      const it = this.get(i);
      if (it === undefined) break;
      out.push(it);
    }
    return out;
  }

  clear(): void {
    this.items.fill(undefined);
    this.start = 0;
    this.count = 0;
    this.held = 0;
  }
}
