// Which PMI a broker bootstraps with, tried in order: the PMI-1 wire protocol on PMI_FD (flux start, MPICH's
// hydra, a flux job, Slurm's --mpi=pmi2 which answers PMI-1 too), the process manager's libpmi.so (Slurm's
// --mpi=none; PMI_LIBRARY names another), its libpmi2.so (PMI2_LIBRARY), and else none: a singleton. The
// libraries are tried only where a launcher is seen, so a plain `flux start` never loads them; and a launcher
// seen with no PMI working is said loudly, since a silent singleton would hide a broken launch.
// FLUX_PMI_CLIENT_METHODS (as flux-core names it) restricts the methods and their order.
import { FluxError, EINVAL } from '../core/errors.js';
import type { PmiClient, PmiClientOptions } from './pmi-client.js';
import { pmiFromEnv } from './pmi-client.js';

export type PmiMethod = 'simple' | 'libpmi' | 'libpmi2' | 'single';

export interface PmiChoice {
  client: PmiClient | null;
  method: PmiMethod;
}

/** a variable a launcher sets, when there is one */
export function launcherHint(env: NodeJS.ProcessEnv): string | undefined {
  return Object.keys(env).find((k) => /^(SLURM_|PMI_|PMIX_|OMPI_)/.test(k));
}

const METHODS: PmiMethod[] = ['simple', 'libpmi', 'libpmi2', 'single'];

/** FLUX_PMI_CLIENT_METHODS (flux-core's variable): the methods to try, in order, instead of all of them */
function methodsOf(env: NodeJS.ProcessEnv): PmiMethod[] {
  const text = env.FLUX_PMI_CLIENT_METHODS;
  if (text === undefined) return METHODS;
  const asked = text.split(/[\s,]+/).filter((m) => m.length > 0);
  for (const m of asked) {
    if (!(METHODS as string[]).includes(m)) throw new FluxError(EINVAL, `FLUX_PMI_CLIENT_METHODS: unknown method ${m} (${METHODS.join(', ')})`);
  }
  return asked as PmiMethod[];
}

export async function selectPmi(env: NodeJS.ProcessEnv, opts: PmiClientOptions = {}, warn = (line: string) => process.stderr.write(line)): Promise<PmiChoice> {
  const methods = methodsOf(env);
  if (methods.includes('simple')) {
    const simple = await pmiFromEnv(env, opts);
    if (simple) return { client: simple, method: 'simple' };
  }
  const hint = launcherHint(env);
  const forced = env.FLUX_PMI_CLIENT_METHODS !== undefined;
  if (hint === undefined && env.PMI_LIBRARY === undefined && !forced) return { client: null, method: 'single' };
  const { libpmiClient, libpmi2Client } = await import('./pmi-dl.js');
  const tried: string[] = [];
  // without the -dev packages only the versioned names exist
  const candidates: Array<[PmiMethod, string, (path: string) => PmiClient]> = [
    ...(env.PMI_LIBRARY !== undefined ? [env.PMI_LIBRARY] : ['libpmi.so', 'libpmi.so.0'])
      .map((path): [PmiMethod, string, (path: string) => PmiClient] => ['libpmi', path, libpmiClient]),
    ...(env.PMI2_LIBRARY !== undefined ? [env.PMI2_LIBRARY] : ['libpmi2.so', 'libpmi2.so.0'])
      .map((path): [PmiMethod, string, (path: string) => PmiClient] => ['libpmi2', path, libpmi2Client]),
  ];
  for (const [method, path, make] of candidates.filter(([m]) => methods.includes(m))) {
    try {
      const client = make(path);
      if (opts.debug) warn(`flux-broker: PMI: ${method} (${path}): rank ${client.rank} of ${client.size}\n`);
      return { client, method };
    } catch (err) {
      tried.push(`${method} ${path}: ${(err as Error).message}`);
      if (opts.debug) warn(`flux-broker: PMI: ${method} (${path}) not usable: ${(err as Error).message}\n`);
    }
  }
  if (!methods.includes('single')) throw new FluxError(EINVAL, `no PMI method of ${methods.join(', ')} worked (${tried.join('; ')})`);
  warn(`flux-broker: WARNING: ${hint ?? 'PMI_LIBRARY'} is set, so a launcher seems to be present, but no PMI worked `
    + `(no PMI_FD; ${tried.join('; ')}): starting as a singleton (size 1). Set FLUX_PMI_DEBUG=1 to trace PMI.\n`);
  return { client: null, method: 'single' };
}
