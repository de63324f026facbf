// Broker attributes: a flat string map with per-name flags, as flux-core's attr.get/set/list expose them.
import { FluxError, EINVAL, ENOENT } from '../core/errors.js';

/** cacheable by clients: never changes for the life of the instance */
export const ATTR_IMMUTABLE = 1;
/** may be changed with attr.set while running (others only on the command line) */
export const ATTR_RUNTIME = 2;

interface Attr {
  value: string | undefined;
  flags: number;
  /** computed on every read (e.g. counters kept elsewhere) */
  get?: () => string;
  /** checks and applies a runtime change */
  set?: (value: string) => void;
}

export class Attrs {
  private readonly table = new Map<string, Attr>();

  /** register a name; `value` undefined means "known but unset" (attr.get answers ENOENT) */
  define(name: string, value: string | undefined, flags = 0, hooks: Pick<Attr, 'get' | 'set'> = {}): void {
    this.table.set(name, { value, flags, ...hooks });
  }

  has(name: string): boolean {
    return this.table.has(name);
  }

  get(name: string): string | undefined {
    const a = this.table.get(name);
    if (!a) return undefined;
    return a.get ? a.get() : a.value;
  }

  /** the value or throw ENOENT, as attr.get does */
  lookup(name: string): { value: string; flags: number } {
    const a = this.table.get(name);
    const value = a ? (a.get ? a.get() : a.value) : undefined;
    if (!a || value === undefined) throw new FluxError(ENOENT);
    return { value, flags: a.flags & ATTR_IMMUTABLE };
  }

  /** a runtime update from attr.set: only RUNTIME names unless forced */
  update(name: string, value: string, force = false): void {
    const a = this.table.get(name);
    if (!a) throw new FluxError(EINVAL, `unknown attribute`);
    if (!(a.flags & ATTR_RUNTIME) && !force) throw new FluxError(EINVAL, 'attribute may not be updated');
    if (a.flags & ATTR_IMMUTABLE) throw new FluxError(EINVAL, 'attribute may not be updated');
    a.set?.(value);
    a.value = value;
  }

  /** the broker's own write during boot, when command-line values are applied */
  put(name: string, value: string): void {
    const a = this.table.get(name);
    if (a) a.value = value;
    else this.table.set(name, { value, flags: 0 });
  }

  /** attr.rm: only attributes a user may change at run time */
  remove(name: string): void {
    const a = this.table.get(name);
    if (!a) throw new FluxError(ENOENT);
    if (!(a.flags & ATTR_RUNTIME)) throw new FluxError(EINVAL, 'attribute may not be removed');
    a.value = undefined;
  }

  names(): string[] {
    return [...this.table.keys()].sort(byteCompare);
  }

  /** the immutable attributes, which flux-core hands to modules in their welcome */
  cacheable(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [n, a] of this.table) if (a.flags & ATTR_IMMUTABLE && a.value !== undefined) out[n] = a.value;
    return out;
  }
}

/** strcmp order, which flux lsattr prints in */
export function byteCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
