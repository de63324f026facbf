// Where a broker's hardware topology comes from: lstopo run on this host, or the XML file FLUX_HWLOC_XMLFILE
// names (flux-core honours it too). `flux start --size N` discovers once and hands its brokers the file: they
// share one host, and N lstopo runs forked from N brokers cost more CPU than the rest of their start.
import { execFile } from 'node:child_process';
// fs's callbacks, not node:fs/promises: no broker needs that module otherwise, and loading it costs each one ~2 ms
// of CPU and ~0.4 MiB (measured)
import { readFile } from 'node:fs';

/** what flux-core loads: the topology restricted to this process's binding, important I/O devices (GPUs) kept */
export const LSTOPO = ['lstopo-no-graphics', '--of', 'xml', '--restrict', 'binding'];
export const HWLOC_XMLFILE_ENV = 'FLUX_HWLOC_XMLFILE';
/** the name of the file in its rundir that `flux start` hands its brokers */
export const SHARED_TOPOLOGY_FILE = 'hwloc.xml';

export interface DiscoveryOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

/** the output of the discovery command; rejects with the reason it gave none */
export function runDiscovery(command: string[], opts: DiscoveryOptions): Promise<{ xml: string; stderr: string }> {
  const [cmd, ...args] = command;
  return new Promise((resolve, reject) => {
    execFile(cmd!, args, { encoding: 'utf8', maxBuffer: 1 << 28, timeout: opts.timeoutMs, signal: opts.signal }, (err, stdout, stderr) => {
      if (err) {
        const e = err as NodeJS.ErrnoException & { killed?: boolean };
        if (e.code === 'ENOENT') reject(new Error(`${cmd} not found (it comes with hwloc, e.g. Debian's hwloc-nox)`));
        else if (e.killed) reject(new Error(`${cmd} did not finish within ${opts.timeoutMs / 1000}s`));
        else reject(new Error(`${cmd} failed: ${stderr.trim().split('\n')[0] || e.message}`));
        return;
      }
      resolve({ xml: stdout, stderr });
    });
  });
}

/** the topology XML in `path`; rejects with the reason it cannot be read */
export function readTopologyFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    readFile(path, 'utf8', (err, xml) => {
      if (err) reject(new Error(`${HWLOC_XMLFILE_ENV} ${path}: ${err.code ?? err.message}`));
      else resolve(xml);
    });
  });
}
