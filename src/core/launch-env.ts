// The environment a broker process is launched with. Node 20 reads and parses the certificates NODE_EXTRA_CA_CERTS
// names as every process starts, before any of its code runs: with a system bundle of ~150 certificates that is
// ~30 ms of CPU and ~2 MiB of memory per process (measured), more than half of `node -e 0`. A broker opens no TLS
// connection, so it is launched with the variable under another name, and puts it back as its first act: what
// it starts (the initial program, `flux exec`, cron, job tasks) sees the environment its launcher was given.

/** where the launcher keeps NODE_EXTRA_CA_CERTS while a broker starts */
export const DEFERRED_CA_CERTS = 'FLUX_DEFERRED_NODE_EXTRA_CA_CERTS';

/** `env` as a broker is launched with it: NODE_EXTRA_CA_CERTS moved aside */
export function brokerLaunchEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const certs = env.NODE_EXTRA_CA_CERTS;
  if (certs === undefined) return env;
  const launch: NodeJS.ProcessEnv = { ...env, [DEFERRED_CA_CERTS]: certs };
  delete launch.NODE_EXTRA_CA_CERTS;
  return launch;
}

/** In a broker: the variable moved aside at launch is put back, in place. */
export function restoreLaunchEnv(env: NodeJS.ProcessEnv): void {
  const certs = env[DEFERRED_CA_CERTS];
  if (certs === undefined) return;
  env.NODE_EXTRA_CA_CERTS = certs;
  delete env[DEFERRED_CA_CERTS];
}
