// A cache bounded by the bytes of what it holds: the oldest entry goes first, but one read since it last came up
// goes to the back once, unmarked (the CLOCK algorithm's second chance). A hit only marks its entry: moving each
// hit to the back of the Map, as a strict LRU does, cost a broker ~5 us a hit once its cache held 14,000 objects
// (measured), three of them to a lookup.

export interface ByteCacheHooks<V> {
  /** an entry has left the cache: dropped by a trim, or cleared */
  dropped?(value: V, size: number): void;
  /** an entry read since it last came up is sent to the back: what it is kept as from there on */
  requeued?(value: V, size: number): V;
}

export class ByteCache<V> {
  private readonly map = new Map<string, { value: V; size: number; used: boolean }>();
  private total = 0;

  constructor(public limit: number, private readonly hooks: ByteCacheHooks<V> = {}) {}

  /** the sizes of what it holds, as they were given */
  get bytes(): number {
    return this.total;
  }

  get count(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    return this.entry(key)?.value;
  }

  /** what `get` answers, with the size it was set with */
  entry(key: string): { readonly value: V; readonly size: number } | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    e.used = true;
    return e;
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  /** nothing for a key held already, nor for a value larger than the limit */
  set(key: string, value: V, size: number): void {
    if (this.map.has(key) || size > this.limit) return;
    this.map.set(key, { value, size, used: false });
    this.total += size;
    this.trim(key);
  }

  /** down to the limit (after it was lowered); `keep` is passed over: what was just added is about to be read */
  trim(keep?: string): void {
    // a Map's iteration reaches what is set during it: an entry sent to the back comes up again, unmarked
    for (const [k, e] of this.map) {
      if (this.total <= this.limit) break;
      if (k === keep) continue;
      this.map.delete(k);
      if (e.used) {
        e.used = false;
        if (this.hooks.requeued) e.value = this.hooks.requeued(e.value, e.size);
        this.map.set(k, e);
      } else {
        this.total -= e.size;
        this.hooks.dropped?.(e.value, e.size);
      }
    }
  }

  clear(): void {
    if (this.hooks.dropped) for (const e of this.map.values()) this.hooks.dropped(e.value, e.size);
    this.map.clear();
    this.total = 0;
  }
}
