// flux config get|load|reload: the configuration the local broker holds, as flux-core's command shows and
// replaces it. `get` prints a value as compact JSON, a string without quotes (for shell scripts).
import { readFileSync } from 'node:fs';
import { withHandle } from '../api/handle.js';
import { getConfig, loadConfigObject, reloadConfig } from '../api/config.js';
import { type Config, loadConfig, parseToml } from '../core/config/load.js';
import { FluxError, EINVAL, ENOENT } from '../core/errors.js';
import { parseFSD } from '../core/time/fsd.js';
import { defineSubcommands, program, runChosen } from './common.js';

const TYPES = ['any', 'object', 'array', 'string', 'integer', 'real', 'boolean', 'fsd', 'fsd-integer', 'fsd-real'] as const;
type Type = (typeof TYPES)[number];

function typeOf(v: unknown): Type {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'real';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'string') return 'string';
  return 'object';
}

/** the value at a period-delimited path, or undefined when some part of it is not set */
function valueAt(config: Config, path: string): unknown {
  let v: unknown = config;
  for (const key of path.split('.')) {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** `v` as flux-core prints a config value: a string bare, anything else as compact JSON */
const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/**
 * What `flux config get` prints for `path` (the whole object without one) required to be of `type`: the line,
 * or null when the path is not set (the caller decides between --default, --quiet and the error).
 */
export function configItem(config: Config, path: string | undefined, type: string): string | null {
  if (!(TYPES as readonly string[]).includes(type.toLowerCase())) throw new FluxError(EINVAL, `Unknown type: ${type}`);
  const want = type.toLowerCase() as Type;
  const v = path === undefined ? config : valueAt(config, path);
  if (v === undefined) return null;
  const have = typeOf(v);
  const wrong = new FluxError(EINVAL, `${path ?? 'value'} does not have the requested type`);
  if (want === 'any' || want === have) return show(v);
  if (!want.startsWith('fsd') || have !== 'string') throw wrong;
  let seconds: number;
  try {
    seconds = parseFSD(v as string);
  } catch {
    throw wrong;
  }
  if (want === 'fsd-integer') return String(Math.trunc(seconds));
  if (want === 'fsd-real') return seconds === Infinity ? 'inf' : seconds.toFixed(6);
  return v as string;
}

interface GetOpts {
  type: string;
  quiet?: boolean;
  default?: string;
  configPath?: string;
}

async function get(path: string | undefined, o: GetOpts): Promise<number> {
  let config: Config;
  if (o.configPath !== undefined) config = loadConfig(o.configPath);
  else {
    try {
      config = await withHandle(getConfig);
    } catch (err) {
      throw new FluxError(err instanceof FluxError ? err.errno : EINVAL, `Error fetching config object: ${(err as Error).message}`);
    }
  }
  const line = configItem(config, path, o.type);
  if (line === null) {
    if (o.default !== undefined) process.stdout.write(`${o.default}\n`);
    else if (o.quiet) return 1;
    else throw new FluxError(ENOENT, `${path} is not set`);
  } else process.stdout.write(`${line}\n`);
  return 0;
}

/** what `flux config load` reads: the TOML files of PATH, or one JSON or TOML document on stdin */
function readNewConfig(path: string | undefined): Config {
  if (path !== undefined) return loadConfig(path);
  const text = readFileSync(0, 'utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return parseToml(text, 'stdin');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new FluxError(EINVAL, 'stdin: the configuration must be an object');
  return doc as Config;
}

async function load(path: string | undefined): Promise<number> {
  const config = readNewConfig(path);
  await withHandle((h) => loadConfigObject(h, config));
  return 0;
}

async function reload(): Promise<number> {
  try {
    await withHandle(reloadConfig);
  } catch (err) {
    throw new FluxError(err instanceof FluxError ? err.errno : EINVAL, `reload: ${(err as Error).message}`);
  }
  return 0;
}

export async function run(args: string[]): Promise<number> {
  let action: (() => Promise<number>) | undefined;
  const p = program('config', 'Manage configuration');
  defineSubcommands(args, {
    get: () => p.command('get [PATH]').description('Query broker configuration values')
      .option('-t, --type <TYPE>', `Set expected type (${TYPES.join(', ')})`, 'any')
      .option('-q, --quiet', 'Suppress printing of "[key] is not set" errors.')
      .option('-d, --default <VAL>', 'Use this value if config key is unset')
      .option('-c, --config-path <PATH>', 'Read configuration from PATH instead of the local broker')
      .action((path: string | undefined, o: GetOpts) => { action = () => get(path, o); }),
    load: () => p.command('load [PATH]').description('Replace the broker configuration with the TOML files of PATH, or JSON or TOML on stdin')
      .action((path: string | undefined) => { action = () => load(path); }),
    reload: () => p.command('reload').description('Reload broker configuration from files')
      .action(() => { action = reload; }),
  });
  return runChosen(p, args, () => action);
}
