// A module's arguments as `flux module load NAME ARG...` gives them: NAME=VALUE words, as flux-core's modules take
// theirs. Each module names the arguments it takes and how to read each value; anything else refuses the load.
import { FluxError, EINVAL, reasonOf } from '../errors.js';
import { parseFSD } from '../time/fsd.js';

/** reads one value; throws (any error) when the text is not one */
export type ArgReader<T> = (text: string) => T;

export type ModuleArgs<R extends Record<string, ArgReader<unknown>>> = { [K in keyof R]?: ReturnType<R[K]> };

export function moduleArgs<R extends Record<string, ArgReader<unknown>>>(words: string[], readers: R): ModuleArgs<R> {
  const out: Record<string, unknown> = {};
  for (const word of words) {
    const eq = word.indexOf('=');
    const name = eq < 0 ? word : word.slice(0, eq);
    if (!Object.hasOwn(readers, name)) {
      const known = Object.keys(readers);
      const takes = known.length === 0 ? 'it takes none' : `it takes ${known.map((k) => `${k}=`).join(', ')}`;
      throw new FluxError(EINVAL, `unknown argument "${name}" (${takes})`);
    }
    if (eq < 0) throw new FluxError(EINVAL, `argument ${name} needs a value: ${name}=VALUE`);
    try {
      out[name] = readers[name]!(word.slice(eq + 1));
    } catch (err) {
      throw new FluxError(EINVAL, `${word}: ${reasonOf(err)}`);
    }
  }
  return out as ModuleArgs<R>;
}

/** a Flux Standard Duration (seconds), finite and at least `min` */
export function durationArg(min: number): ArgReader<number> {
  return (text) => {
    const s = parseFSD(text);
    if (!(s >= min) || !Number.isFinite(s)) throw new FluxError(EINVAL, `expected a duration of at least ${min}s`);
    return s;
  };
}

/** any text but the empty string */
export const textArg: ArgReader<string> = (text) => {
  if (text === '') throw new FluxError(EINVAL, 'expected a value');
  return text;
};
