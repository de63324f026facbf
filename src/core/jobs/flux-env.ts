// The environment flux sets up for what runs in an instance, as flux-core's `flux` does for its commands: this
// installation's commands and modules first on the flux search paths and `flux` first on PATH; Lua's and
// Python's search paths kept as the caller had them (Lua's default path added with ";;"), with flux-core's
// FLUX_*_PREPEND variables put in front, so flux-core's own Lua and Python clients find their libraries where
// they are installed; the PMI library for programs the instance launches; the instance URI when there is one.
import { join } from 'node:path';
import { pmiLibraryPath } from '../pmi-library.js';

/** `first` (split at `sep`) in front of `path`, without repeats or empty entries */
function prepend(first: string | undefined, path: string | undefined, sep: string): string {
  const head = (first ?? '').split(sep).filter((d) => d !== '');
  return [...head, ...(path ?? '').split(sep).filter((d) => d !== '' && !head.includes(d))].join(sep);
}

/** `root` is the installation (the directory holding bin/ and dist/) */
export function fluxEnvironment(env: NodeJS.ProcessEnv, root: string): Record<string, string> {
  const vars: Record<string, string> = {
    FLUX_EXEC_PATH: prepend(env.FLUX_EXEC_PATH_PREPEND, prepend(join(root, 'dist', 'commands'), env.FLUX_EXEC_PATH, ':'), ':'),
    FLUX_MODULE_PATH: prepend(env.FLUX_MODULE_PATH_PREPEND, prepend(join(root, 'dist', 'services'), env.FLUX_MODULE_PATH, ':'), ':'),
    PATH: prepend(join(root, 'bin'), env.PATH, ':'),
    LUA_PATH: `${prepend(env.FLUX_LUA_PATH_PREPEND, env.LUA_PATH, ';')};;`,
    LUA_CPATH: `${prepend(env.FLUX_LUA_CPATH_PREPEND, env.LUA_CPATH, ';')};;`,
  };
  const python = prepend(env.FLUX_PYTHONPATH_PREPEND, env.PYTHONPATH, ':');
  if (python !== '') vars.PYTHONPATH = python;
  const pmi = env.FLUX_PMI_LIBRARY_PATH ?? pmiLibraryPath();
  if (pmi !== undefined) vars.FLUX_PMI_LIBRARY_PATH = pmi;
  if (env.FLUX_URI !== undefined && env.FLUX_URI !== '') vars.FLUX_URI = env.FLUX_URI;
  return vars;
}
