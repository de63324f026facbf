// config.get / config.load / config.reload: the configuration a broker holds. As in flux-core it belongs to one
// broker: each reads its own files (--config-path) and is told to reload on its own, so nothing of it is
// journaled; it is what a broker is set up from, not a change of the instance's state. The bootstrap tables
// are read once at start, like flux-core's: a reload changes what services read from here, not the overlay.
import { type Config, loadConfig } from '../core/config/load.js';
import { ROLE_ALL } from '../core/wire/message.js';
import { parsePurgeLimits } from '../core/jobs/purge-config.js';
import type { ModuleDef } from '../services/module.js';
import type { Broker } from './broker.js';

export class BrokerConfig {
  constructor(readonly path: string | undefined, private value: Config) {}

  get current(): Config {
    return this.value;
  }

  replace(value: Config): void {
    this.value = value;
  }

  /** read the files again (a broker started without a config path holds the empty config); kept only if valid */
  reload(): void {
    const next = this.path === undefined ? {} : loadConfig(this.path);
    parsePurgeLimits(next, this.path ?? 'config');
    this.value = next;
  }
}

export function configModule(b: Broker, config: BrokerConfig): ModuleDef {
  return {
    name: 'config',
    handlers: [
      {
        topic: 'config.get',
        // services running as a guest (a job's shell among them) read the configuration too
        allow: ROLE_ALL,
        handler: (msg) => b.respond(msg, config.current),
      },
      {
        topic: 'config.load',
        schema: { type: 'object' },
        handler: (msg, body) => {
          // what the services read from it at run time is checked here, as flux-core's modules check a new config
          parsePurgeLimits(body!, 'config');
          config.replace(body!);
          b.log(6, 'broker', 'configuration loaded');
          b.respond(msg);
        },
      },
      {
        topic: 'config.reload',
        handler: (msg) => {
          config.reload();
          b.log(6, 'broker', `configuration reloaded from ${config.path ?? 'nothing (no config path)'}`);
          b.respond(msg);
        },
      },
    ],
  };
}
