// Broker attributes (flux_attr_get / flux_attr_set): name=value settings each broker holds.
import type { Flux } from './handle.js';
import type { CallOpts } from './kvs.js';

export interface AttrOpts extends CallOpts {
  /** the broker asked (default: the one the handle is connected to) */
  nodeid?: number;
}

/** The value of attribute `name` (ENOENT when there is none). */
export async function getAttr(h: Flux, name: string, opts: AttrOpts = {}): Promise<string> {
  return String((await h.call('attr.get', { name }, opts)).value);
}

/** Set attribute `name`; `force` also changes one that is read-only after startup, where the broker allows it. */
export async function setAttr(h: Flux, name: string, value: string, opts: AttrOpts & { force?: boolean } = {}): Promise<void> {
  await h.rpc('attr.set', opts.force ? { name, value, force: true } : { name, value }, opts);
}

/** The names of every attribute. */
export async function listAttrs(h: Flux, opts: AttrOpts = {}): Promise<string[]> {
  return ((await h.call('attr.list', undefined, opts)).names as string[] | undefined) ?? [];
}

/** The attributes of one broker, bound to a handle: `h.attrs.get('rank')`. */
export class Attrs {
  constructor(private readonly h: Flux) {}

  get(name: string, opts: AttrOpts = {}): Promise<string> {
    return getAttr(this.h, name, opts);
  }

  set(name: string, value: string, opts: AttrOpts & { force?: boolean } = {}): Promise<void> {
    return setAttr(this.h, name, value, opts);
  }

  list(opts: AttrOpts = {}): Promise<string[]> {
    return listAttrs(this.h, opts);
  }
}
