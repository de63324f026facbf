// The configuration a broker holds (config.get / config.load / config.reload), addressed to the broker the
// handle is connected to, as flux-core's are: each broker holds its own.
import type { Config } from '../core/config/load.js';
import type { Flux } from './handle.js';

export const getConfig = (h: Flux): Promise<Config> => h.call('config.get');

export async function loadConfigObject(h: Flux, config: Config): Promise<void> {
  await h.call('config.load', config);
}

export async function reloadConfig(h: Flux): Promise<void> {
  await h.call('config.reload');
}
