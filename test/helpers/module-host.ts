// A ModuleHost for a unit test of one service: rank 0 of one, where every call does nothing (and an rpc is
// refused) but those the test gives its own.
import type { Attrs } from '../../src/services/attrs.js';
import type { ModuleHost } from '../../src/services/module.js';

export function fakeHost(attrs: Attrs, own: Partial<ModuleHost> = {}): ModuleHost {
  return {
    rank: 0, size: 1, uuid: 'u0', attrs,
    respond: () => {},
    respondError: () => {},
    rpc: () => Promise.reject(new Error('this host asks nobody')),
    rpcStream: () => Promise.resolve(),
    subscribe: () => () => {},
    log: () => {},
    multicast: () => {},
    sendDown: () => {},
    deliverEvent: () => {},
    interceptFromParent: () => {},
    ...own,
  };
}
