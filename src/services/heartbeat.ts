// heartbeat.pulse every heartbeat.period from rank 0: a liveness signal that subscribers can pace work by.
import { ATTR_RUNTIME } from './attrs.js';
import type { ModuleDef, ModuleHost } from './module.js';

export function heartbeatModule(host: ModuleHost): ModuleDef {
  let timer: NodeJS.Timeout | undefined;
  let pulses = 0;
  if (!host.attrs.has('heartbeat.period')) host.attrs.define('heartbeat.period', '2', ATTR_RUNTIME);
  return {
    name: 'heartbeat',
    handlers: [],
    start: () => {
      if (host.rank !== 0) return;
      const period = Math.max(0.01, Number(host.attrs.get('heartbeat.period')) || 2);
      timer = setInterval(() => {
        pulses++;
        host.rpc('event.publish', { topic: 'heartbeat.pulse', flags: 0 }, { nodeid: 0 }).catch((err: unknown) => {
          host.log(3, 'heartbeat', `publish failed: ${(err as Error).message}`);
        });
      }, period * 1000);
      timer.unref();
    },
    stop: () => clearInterval(timer),
    stats: () => ({ pulses }),
  };
}
