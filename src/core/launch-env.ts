// The environment a broker process is launched with, and what the broker takes out of it again as its first act,
// so that what it starts (the initial program, `flux exec`, cron, job tasks) sees the environment its launcher
// was given:
// - NODE_EXTRA_CA_CERTS, moved aside. Node 20 reads and parses the certificates it names as every process
//   starts, before any of its code runs: with a system bundle of ~150 certificates that is ~30 ms of CPU and
//   ~2 MiB of memory per process (measured), more than half of `node -e 0`. A broker opens no TLS connection.
//   bin/flux puts it back as its first act, in a broker as in any command (its shell line moves it aside the
//   same way for a command run as a program).
// - MALLOC_MMAP_THRESHOLD_, set unless the launcher set it. glibc maps a block of its own for any allocation
//   above this threshold, and gives it back when freed; by default the threshold rises to the largest block
//   freed so far, after which the buffers of a large commit (its request, its entry: ~1 MiB each for 10,000
//   keys) stay in the heap once freed, and in the broker's RSS. Fixed at glibc's own starting value, they go back
//   (rank 0 after one commit of 10,000 keys: ~2.5 MiB less, measured).

/** where the launcher keeps NODE_EXTRA_CA_CERTS while a broker starts */
export const DEFERRED_CA_CERTS = 'FLUX_DEFERRED_NODE_EXTRA_CA_CERTS';
const MMAP_THRESHOLD = 'MALLOC_MMAP_THRESHOLD_';
/** glibc's default starting threshold (128 KiB), held there */
const MMAP_THRESHOLD_BYTES = '131072';
/** set beside a threshold the launch added, so that the broker takes it out again */
export const LAUNCH_MMAP_THRESHOLD = 'FLUX_LAUNCH_MALLOC_MMAP_THRESHOLD';

/** `env` as a broker is launched with it (a copy: `env` is not changed) */
export function brokerLaunchEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const launch: NodeJS.ProcessEnv = { ...env };
  const certs = env.NODE_EXTRA_CA_CERTS;
  if (certs !== undefined) {
    launch[DEFERRED_CA_CERTS] = certs;
    delete launch.NODE_EXTRA_CA_CERTS;
  }
  if (env[MMAP_THRESHOLD] === undefined) {
    launch[MMAP_THRESHOLD] = MMAP_THRESHOLD_BYTES;
    launch[LAUNCH_MMAP_THRESHOLD] = '1';
  }
  return launch;
}

/** In a broker: the environment its launcher was given, in place (bin/flux has put NODE_EXTRA_CA_CERTS back). */
export function restoreLaunchEnv(env: NodeJS.ProcessEnv): void {
  if (env[LAUNCH_MMAP_THRESHOLD] !== undefined) {
    delete env[MMAP_THRESHOLD];
    delete env[LAUNCH_MMAP_THRESHOLD];
  }
}
