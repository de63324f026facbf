// bin/flux ends a command as soon as its event loop is empty, without Node's teardown of the environment and the
// heap, except where a native addon was loaded: the addons' cleanup (a zeromq context's linger, an sqlite
// database's close) runs only in Node's own exit.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, startInstance, type Instance } from '../helpers/instance.js';

const MARK = 'exited-early';
let dir: string;
let inst: Instance;
/** the environment that has a command say on stderr whether it ended through process.exit */
let traced: NodeJS.ProcessEnv;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flux-early-exit-'));
  const preload = join(dir, 'trace.cjs');
  // process.exit ends in process.reallyExit; Node's own exit at an empty loop does not call it
  writeFileSync(preload, `const real = process.reallyExit;
process.reallyExit = function (code) { process.stderr.write('${MARK}\\n'); return real.call(process, code); };
`);
  traced = { NODE_OPTIONS: `--require ${preload}` };
  inst = await startInstance(1);
});

afterAll(async () => {
  await inst?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a command ends at once', () => {
  it('when its loop is empty: its output and exit status are whole', async () => {
    const ok = await inst.flux(['getattr', 'rank'], { env: traced });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe('0\n');
    expect(ok.stderr).toBe(`${MARK}\n`);
    const put = await inst.flux(['kvs', 'put', 'early.exit=1'], { env: traced });
    expect(put.code).toBe(0);
    expect(put.stderr).toBe(`${MARK}\n`);
    expect((await inst.flux(['kvs', 'get', 'early.exit'])).stdout).toBe('1\n');
    const bad = await inst.flux(['getattr', 'no-such-attribute'], { env: traced });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(new RegExp(`^flux-getattr: .*\\n${MARK}\\n$`));
  });

  it('but not where a native addon was loaded', async () => {
    const r = await run(['version'], { env: traced });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^commands:/);
    expect(r.stderr).not.toContain(MARK);
  });
});
