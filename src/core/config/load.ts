// The broker's configuration, as flux-core reads it: every *.toml file of a directory (in name order), their
// top-level tables merged; a table or key given by two files is an error naming both. Errors name the file.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type * as SmolToml from 'smol-toml';
import { FluxError, EINVAL, errnoOf } from '../errors.js';

export type Config = Record<string, unknown>;

/** every *.toml of `dir` (or the one file `dir` names), parsed and merged */
export function loadConfig(dir: string): Config {
  let files: string[];
  try {
    files = statSync(dir).isDirectory()
      ? readdirSync(dir).filter((f) => f.endsWith('.toml')).sort().map((f) => join(dir, f))
      : [dir];
  } catch (err) {
    throw new FluxError(errnoOf(err), `${dir}: ${(err as Error).message}`);
  }
  const merged: Config = {};
  const from = new Map<string, string>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new FluxError(errnoOf(err), `${file}: ${(err as Error).message}`);
    }
    const doc = parseToml(text, file);
    for (const [key, value] of Object.entries(doc)) {
      if (Object.hasOwn(merged, key)) throw new FluxError(EINVAL, `${file}: ${key} is also set in ${from.get(key)}`);
      merged[key] = value;
      from.set(key, file);
    }
  }
  return merged;
}

/** one TOML document; errors name `source` */
export function parseToml(text: string, source: string): Config {
  // loaded here only: most brokers are started without a config
  const { parse } = createRequire(import.meta.url)('smol-toml') as typeof SmolToml;
  try {
    return parse(text) as Config;
  } catch (err) {
    // smol-toml's message spans lines (it quotes the source): its first line says what and where
    throw new FluxError(EINVAL, `${source}: ${String((err as Error).message).split('\n')[0]}`);
  }
}
