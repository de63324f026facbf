// A command run as a program: bin/flux's shell line starts Node without NODE_EXTRA_CA_CERTS (Node would parse the
// certificates it names as it starts, and no command opens a TLS connection), and bin/flux puts the variable back,
// as it was, for what the command runs.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLUX } from '../helpers/instance.js';

/** what `flux env` runs prints: the variable, the one that held it aside, and whether the command's Node was started with it */
// $PPID is the command's own process; its /proc environ is the one Node was started with
const SHOW = 'printenv NODE_EXTRA_CA_CERTS || echo unset; printenv FLUX_DEFERRED_NODE_EXTRA_CA_CERTS || echo none; '
  + 'tr "\\0" "\\n" < /proc/$PPID/environ | grep -c "^NODE_EXTRA_CA_CERTS=" || true';

function shown(certs: string | undefined, viaNode = false): Promise<string> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  if (certs !== undefined) env.NODE_EXTRA_CA_CERTS = certs;
  const [cmd, args] = viaNode ? [process.execPath, [FLUX, 'env', 'sh', '-c', SHOW]] : [FLUX, ['env', 'sh', '-c', SHOW]];
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env, timeout: 10_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}

describe('a command run as a program', () => {
  // made when the tests run, not when they are collected: a run that selects none of them leaves nothing behind
  let dir: string;
  let certs: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'flux-command-env-'));
    certs = join(dir, 'extra-ca.pem');
    writeFileSync(certs, '');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('starts Node without NODE_EXTRA_CA_CERTS, and what it runs sees the variable as given', async () => {
    expect(await shown(certs)).toBe(`${certs}\nnone\n0\n`);
    expect(await shown('')).toBe('\nnone\n0\n');
    expect(await shown(undefined)).toBe('unset\nnone\n0\n');
  });

  it('started by node itself, has Node read the variable, as any Node program does', async () => {
    expect(await shown(certs, true)).toBe(`${certs}\nnone\n1\n`);
  });
});
