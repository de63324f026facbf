// heartbeat.pulse every heartbeat.period from rank 0: a liveness signal that subscribers can pace work by.
// `flux module load heartbeat period=FSD` sets the period, as flux-core's module takes it.
import { makeEvent, jsonPayload } from '../core/wire/message.js';
import { durationArg, moduleArgs } from '../core/config/module-args.js';
import { ATTR_RUNTIME } from './attrs.js';
import type { ModuleDef, ModuleHost } from './module.js';

/** the shortest period: a pulse is multicast to the whole instance */
const MIN_PERIOD = 0.01;

export function heartbeatModule(host: ModuleHost, args: string[] = []): ModuleDef {
  const { period: given } = moduleArgs(args, { period: durationArg(MIN_PERIOD) });
  let timer: NodeJS.Timeout | undefined;
  let pulses = 0;
  if (!host.attrs.has('heartbeat.period')) host.attrs.define('heartbeat.period', '2', ATTR_RUNTIME);
  if (given !== undefined) host.attrs.put('heartbeat.period', String(given));
  return {
    name: 'heartbeat',
    handlers: [],
    start: () => {
      if (host.rank !== 0) return;
      const period = Math.max(MIN_PERIOD, Number(host.attrs.get('heartbeat.period')) || 2);
      timer = setInterval(() => {
        pulses++;
        // a liveness signal, not a state change: multicast unsequenced, never journaled
        host.multicast(makeEvent('heartbeat.pulse', jsonPayload({ pulse: pulses }), 0));
      }, period * 1000);
      timer.unref();
    },
    stop: () => clearInterval(timer),
    stats: () => ({ pulses, period: Number(host.attrs.get('heartbeat.period')) }),
  };
}
