// Services that are part of the broker itself: the overlay handshake, module management, broker control.
import { ROLE_ALL } from '../core/wire/message.js';
import type { ModuleDef } from '../services/module.js';
import type { Broker } from './broker.js';
import type { Builtin } from './builtin-modules.js';

export interface BrokerControl {
  broker: Broker;
  hostname: (rank: number) => string;
  shutdown: (code: number, why: string) => void;
  /** the built-ins `flux module load NAME` loads by name (filled once the journal is up) */
  loadable: Map<string, Builtin>;
}

/** broker.*: the default handlers (ping, stats) plus shutdown, which flux shutdown sends rank 0 and a parent its children */
export function brokerModule(ctl: BrokerControl): ModuleDef {
  const b = ctl.broker;
  return {
    name: 'broker',
    handlers: [
      {
        topic: 'broker.shutdown',
        handler: (msg) => {
          b.respond(msg);
          // rank 0 is asked by flux shutdown, the others by their parent
          ctl.shutdown(0, b.rank === 0 ? 'requested' : 'parent shutting down');
        },
      },
    ],
  };
}

/** state-machine.get: where the broker is in its life (join, init, run, cleanup, shutdown, finalize), for uptime */
export function stateMachineModule(ctl: BrokerControl): ModuleDef {
  return {
    name: 'state-machine',
    handlers: [
      {
        topic: 'state-machine.get',
        allow: ROLE_ALL,
        handler: (msg) => ctl.broker.respond(msg, { state: ctl.broker.state }),
      },
    ],
  };
}
