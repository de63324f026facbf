// heartbeat.pulse every heartbeat.period from rank 0: a liveness signal that subscribers can pace work by.
import { makeEvent, jsonPayload } from '../core/message.js';
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
        // a liveness signal, not a state change: multicast unsequenced, never journaled
        host.multicast(makeEvent('heartbeat.pulse', jsonPayload({ pulse: pulses }), 0));
      }, period * 1000);
      timer.unref();
    },
    stop: () => clearInterval(timer),
    stats: () => ({ pulses }),
  };
}
