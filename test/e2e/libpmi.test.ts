// lib/libpmi.so, the PMI-1 library flux offers the programs it launches: built by the install script with this
// machine's compiler, opened with dlopen by a C program, and run against our job PMI server (two shells), with no
// server at all (singleton), under mpiexec.hydra, and against a server answering as hydra 4.1/4.2 do.
// No skipping: CI installs a C compiler and mpich, so their absence is a failure to report.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pmiLibraryPath } from '../../src/core/pmi-library.js';
import { PmiLineDecoder } from '../../src/transport/pmi-wire.js';
import { compileC, once, runJob } from '../helpers/pmi-job.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const JOBID = 'ƒ2mYsLkPz8';
let tmp: string;

/** Build lib/libpmi.so as `npm install` does; returns what the build printed. */
const buildLibrary = once(() => {
  const run = spawnSync(process.execPath, [path.join(root, 'scripts/build-libpmi.mjs')], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`the libpmi build failed:\n${run.stderr}`);
  if (run.stderr.includes('no C compiler')) throw new Error('cc is not installed (Debian: apt-get install gcc)');
  return run.stderr;
});

const library = (): string => {
  buildLibrary();
  const lib = pmiLibraryPath();
  if (lib === undefined) throw new Error('lib/libpmi.so is missing after the build');
  return lib;
};

const program = once(() => {
  const out = path.join(tmp, 'pmi_dlopen');
  const source = path.join(root, 'test/fixtures/pmi_dlopen.c');
  compileC('cc', ['-std=c99', '-Wall', '-Wextra', '-o', out, source, '-ldl'], 'gcc');
  return out;
});

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'libpmi-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function withoutPmi(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { PMI_FD: _fd, PMI_RANK: _rank, PMI_SIZE: _size, ...rest } = env;
  return rest;
}

describe('libpmi.so', () => {
  it('builds without a warning and exports the PMI-1 API and flux_pmi_library, nothing else', () => {
    expect(buildLibrary()).toBe('');
    expect(library()).toBe(path.join(root, 'lib', 'libpmi.so'));
    const nm = spawnSync('nm', ['-D', '--defined-only', library()], { encoding: 'utf8' });
    if (nm.error !== undefined) throw new Error(`nm: ${nm.error.message} (Debian: apt-get install binutils)`);
    const symbols = nm.stdout
      .trim()
      .split('\n')
      .map((line) => line.split(' ').pop())
      .sort();
    expect(symbols).toEqual(
      [
        'PMI_Abort', 'PMI_Barrier', 'PMI_Finalize', 'PMI_Get_appnum', 'PMI_Get_clique_ranks', 'PMI_Get_clique_size',
        'PMI_Get_id', 'PMI_Get_id_length_max', 'PMI_Get_kvs_domain_id', 'PMI_Get_rank', 'PMI_Get_size',
        'PMI_Get_universe_size', 'PMI_Init', 'PMI_Initialized', 'PMI_KVS_Commit', 'PMI_KVS_Get',
        'PMI_KVS_Get_key_length_max', 'PMI_KVS_Get_my_name', 'PMI_KVS_Get_name_length_max',
        'PMI_KVS_Get_value_length_max', 'PMI_KVS_Put', 'PMI_Lookup_name', 'PMI_Publish_name', 'PMI_Spawn_multiple',
        'PMI_Unpublish_name', 'flux_pmi_library',
      ].sort(),
    );
  });

  // a job shell puts the mapping of its job: two nodes with a block of ranks each, or ranks dealt round-robin
  for (const [layout, mapping, shells, cliques] of [
    ['block', '(vector,(0,2,2))', [[0, 1], [2, 3]], ['0,1', '0,1', '2,3', '2,3']],
    ['round-robin', '(vector,(0,2,1))', [[0, 2], [1, 3]], ['0,2', '1,3', '0,2', '1,3']],
  ] as const) {
    it(`4 tasks over two shells (${layout}) exchange keys through the dlopened library`, async () => {
      const { tasks, aborts } = await runJob({
        command: [program()],
        shells: shells.map((ranks) => [...ranks]),
        env: { FLUX_PMI_LIBRARY_PATH: library() },
        server: { kvsname: JOBID, appnum: 42, initialKvs: { PMI_process_mapping: mapping } },
      });
      expect(aborts).toEqual([]);
      for (const t of tasks) {
        expect({ code: t.code, stderr: t.stderr }, `rank ${t.rank}`).toEqual({ code: 0, stderr: '' });
        expect(t.stdout).toBe(
          `rank ${t.rank} size 4 universe 4 kvsname ${JOBID} appnum 42 clique ${cliques[t.rank]} exchange ok\n`,
        );
      }
    });
  }

  it('without PMI_FD a program is a singleton', async () => {
    const run = spawnSync(program(), [], {
      encoding: 'utf8',
      env: { ...withoutPmi(process.env), FLUX_PMI_LIBRARY_PATH: library() },
    });
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    expect(run.stdout).toBe('rank 0 size 1 universe 1 kvsname singleton appnum 0 clique 0 exchange ok\n');
  });

  it('PMI_Abort reaches the server with the rank, code and message', async () => {
    const { tasks, aborts } = await runJob({
      command: [program(), 'abort'],
      shells: [[0, 1], [2]],
      env: { FLUX_PMI_LIBRARY_PATH: library() },
      server: { kvsname: JOBID },
    });
    expect(aborts).toEqual([[1, 7, 'rank 1 gives up on purpose']]);
    expect(tasks[1]!.stderr).toContain('PMI_Abort: rank 1 gives up on purpose\n');
  });

  it('works under mpiexec.hydra, whose universe size is -1 and whose hosts are dealt round-robin', async () => {
    const lib = library();
    const run = spawnSync(
      'mpiexec.hydra',
      ['-launcher', 'fork', '-n', '4', program(), 'exchange-no-spaces'],
      { encoding: 'utf8', env: { ...withoutPmi(process.env), FLUX_PMI_LIBRARY_PATH: lib }, timeout: 20000 },
    );
    if (run.error !== undefined) throw new Error(`mpiexec.hydra: ${run.error.message} (Debian: apt-get install mpich)`);
    expect(run.status, run.stdout + run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n').sort();
    expect(lines).toHaveLength(4);
    lines.forEach((line, rank) =>
      expect(line).toMatch(
        new RegExp(`^rank ${rank} size 4 universe -1 kvsname kvs_\\S+ appnum 0 clique 0,1,2,3 exchange ok$`),
      ),
    );
  });

  it('reads answers as hydra 4.1/4.2 write them: rc last or absent, msg=, found=TRUE after the value', async () => {
    const lib = library();
    const kvs = new Map<string, string>();
    const answer = (cmd: string, fields: ReadonlyMap<string, string>): string => {
      const key = fields.get('key') ?? '';
      switch (cmd) {
        case 'init':
          return 'cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0';
        case 'get_maxes':
          return 'cmd=maxes kvsname_max=256 keylen_max=64 vallen_max=1024';
        case 'get_my_kvsname':
          return 'cmd=my_kvsname kvsname=kvs_77_0';
        case 'get_universe_size':
          return 'cmd=universe_size size=1';
        case 'get_appnum':
          return 'cmd=appnum appnum=0';
        case 'put':
          kvs.set(key, fields.get('value')!);
          return 'cmd=put_result rc=0 msg=success';
        case 'get':
          return kvs.has(key)
            ? `cmd=get_result rc=0 msg=success value=${kvs.get(key)} found=TRUE`
            : `cmd=get_result rc=-1 msg=key_${key}_not_found value=unknown found=FALSE`;
        case 'barrier_in':
          return 'cmd=barrier_out';
        case 'finalize':
          return 'cmd=finalize_ack';
        default:
          throw new Error(`unexpected cmd=${cmd}`);
      }
    };
    const child = spawn(program(), [], {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, FLUX_PMI_LIBRARY_PATH: lib, PMI_FD: '3', PMI_RANK: '0', PMI_SIZE: '1' },
    });
    const sock = child.stdio[3] as net.Socket;
    const decoder = new PmiLineDecoder();
    sock.on('data', (chunk: Buffer) => {
      for (const msg of decoder.push(chunk)) {
        if (msg.kind === 'cmd') sock.write(`${answer(msg.cmd, msg.fields)}\n`);
      }
    });
    sock.on('error', () => undefined);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toBe('rank 0 size 1 universe 1 kvsname kvs_77_0 appnum 0 clique 0 exchange ok\n');
    expect(kvs.get('s0')).toBe('spaced = value ƒ0 ');
  });
});
