// A process manager's own PMI library, dlopened (koffi): how a broker bootstraps under Slurm's `srun --mpi=none`,
// which offers no PMI_FD but a libpmi.so (PMI-1 API) and a libpmi2.so (PMI-2 API) that talk to srun their own
// way. flux's own libpmi.so is refused: it would only talk back to us.
import { createRequire } from 'node:module';
import type * as Koffi from 'koffi';
import { FluxError, EINVAL, EIO, ENOENT } from '../core/errors.js';
import type { PmiClient } from './pmi-client.js';

const PMI_SUCCESS = 0;
/** the most a PMI-2 value holds (PMI2_MAX_VALLEN) */
const PMI2_MAX_VALLEN = 1024;

type Fn = (...args: unknown[]) => number;

function load(path: string): { lib: Koffi.LibraryHandle; fn: (name: string, args: string[]) => Fn } {
  const koffi = createRequire(import.meta.url)('koffi') as typeof Koffi;
  let lib: Koffi.LibraryHandle;
  try {
    lib = koffi.load(path, { global: true });
  } catch (err) {
    throw new FluxError(ENOENT, `${path}: ${(err as Error).message}`);
  }
  try {
    lib.symbol('flux_pmi_library', 'int');
    lib.unload();
    throw new FluxError(EINVAL, `${path} is flux's own PMI library`);
  } catch (err) {
    // no such symbol: a real process manager's library
    if (err instanceof FluxError) throw err;
  }
  return { lib, fn: (name, args) => lib.func(name, 'int', args) as unknown as Fn };
}

const check = (rc: number, what: string) => {
  if (rc !== PMI_SUCCESS) throw new FluxError(EIO, `${what} failed: PMI error ${rc}`);
};

/** PMI-1 through `path` (libpmi.so): initialized, with rank, size and kvsname known */
export function libpmiClient(path: string): PmiClient {
  const { lib, fn } = load(path);
  const f = {
    init: fn('PMI_Init', ['int *']),
    rank: fn('PMI_Get_rank', ['int *']),
    size: fn('PMI_Get_size', ['int *']),
    nameMax: fn('PMI_KVS_Get_name_length_max', ['int *']),
    valueMax: fn('PMI_KVS_Get_value_length_max', ['int *']),
    name: fn('PMI_KVS_Get_my_name', ['char *', 'int']),
    put: fn('PMI_KVS_Put', ['str', 'str', 'str']),
    commit: fn('PMI_KVS_Commit', ['str']),
    barrier: fn('PMI_Barrier', []),
    get: fn('PMI_KVS_Get', ['str', 'str', 'char *', 'int']),
    finalize: fn('PMI_Finalize', []),
    abort: fn('PMI_Abort', ['int', 'str']),
  };
  const out = new Int32Array(1);
  const int = (g: Fn, what: string) => {
    check(g(out), what);
    return out[0]!;
  };
  check(f.init(out), 'PMI_Init');
  const rank = int(f.rank, 'PMI_Get_rank');
  const size = int(f.size, 'PMI_Get_size');
  const nameMax = int(f.nameMax, 'PMI_KVS_Get_name_length_max');
  const valueMax = int(f.valueMax, 'PMI_KVS_Get_value_length_max');
  const nameBuf = Buffer.alloc(nameMax + 1);
  check(f.name(nameBuf, nameBuf.length), 'PMI_KVS_Get_my_name');
  const kvsname = nameBuf.toString('utf8', 0, nameBuf.indexOf(0));
  const valueBuf = Buffer.alloc(valueMax + 1);
  return {
    rank,
    size,
    kvsname,
    // a byte under the length the library reports: the simple protocol's servers count a C string's NUL in theirs
    maxValue: valueMax - 1,
    put: async (key, value) => {
      check(f.put(kvsname, key, value), `PMI_KVS_Put ${key}`);
      check(f.commit(kvsname), 'PMI_KVS_Commit');
    },
    get: async (key) => {
      valueBuf.fill(0);
      if (f.get(kvsname, key, valueBuf, valueBuf.length) !== PMI_SUCCESS) throw new FluxError(ENOENT, `PMI_KVS_Get ${key}: no such key`);
      return valueBuf.toString('utf8', 0, valueBuf.indexOf(0));
    },
    barrier: async () => check(f.barrier(), 'PMI_Barrier'),
    finalize: async () => {
      check(f.finalize(), 'PMI_Finalize');
      lib.unload();
    },
    abort: async (code, msg) => {
      f.abort(code, msg);
    },
  };
}

/** PMI-2 through `path` (libpmi2.so): a fence makes puts visible, as PMI-1's barrier does */
export function libpmi2Client(path: string): PmiClient {
  const { lib, fn } = load(path);
  const f = {
    init: fn('PMI2_Init', ['int *', 'int *', 'int *', 'int *']),
    jobid: fn('PMI2_Job_GetId', ['char *', 'int']),
    put: fn('PMI2_KVS_Put', ['str', 'str']),
    fence: fn('PMI2_KVS_Fence', []),
    get: fn('PMI2_KVS_Get', ['str', 'int', 'str', 'char *', 'int', 'int *']),
    finalize: fn('PMI2_Finalize', []),
    abort: fn('PMI2_Abort', ['int', 'str']),
  };
  const spawned = new Int32Array(1);
  const size = new Int32Array(1);
  const rank = new Int32Array(1);
  const appnum = new Int32Array(1);
  check(f.init(spawned, size, rank, appnum), 'PMI2_Init');
  const idBuf = Buffer.alloc(256);
  check(f.jobid(idBuf, idBuf.length), 'PMI2_Job_GetId');
  const kvsname = idBuf.toString('utf8', 0, idBuf.indexOf(0));
  const valueBuf = Buffer.alloc(PMI2_MAX_VALLEN + 1);
  const len = new Int32Array(1);
  return {
    rank: rank[0]!,
    size: size[0]!,
    kvsname,
    maxValue: PMI2_MAX_VALLEN - 1,
    put: async (key, value) => check(f.put(key, value), `PMI2_KVS_Put ${key}`),
    get: async (key) => {
      valueBuf.fill(0);
      // PMI2_ID_NULL (-1): the key's owner is not known
      if (f.get(kvsname, -1, key, valueBuf, valueBuf.length, len) !== PMI_SUCCESS) throw new FluxError(ENOENT, `PMI2_KVS_Get ${key}: no such key`);
      return valueBuf.toString('utf8', 0, valueBuf.indexOf(0));
    },
    barrier: async () => check(f.fence(), 'PMI2_KVS_Fence'),
    finalize: async () => {
      check(f.finalize(), 'PMI2_Finalize');
      lib.unload();
    },
    abort: async (code, msg) => {
      f.abort(code === 0 ? 0 : 1, msg);
    },
  };
}
