// flux start as flux-core's users run it: a one-word initial program through the shell (a sharness test script),
// every -S checked before anything starts, start-up errors that end the whole instance at once with one line
// and nothing left behind, sizes the machine cannot hold refused, a launcher killed cleaning up after itself, and
// no Node module loaded at start that a broker does not need.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, until, startInstance, FLUX, ROOT, type RunResult } from '../helpers/instance.js';
import { Flux } from '../../src/api/handle.js';
import { EPROTO } from '../../src/core/errors.js';

/** a temp dir of this test's own, used as TMPDIR for what it starts: what is left in it is what leaked */
let scratch: string;
let tmp: string;

beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'flux-start-test-'));
  tmp = join(scratch, 'tmp');
  mkdirSync(tmp);
});

afterEach(() => {
  rmSync(scratch, { recursive: true, force: true });
});

const start = (args: string[], opts: { input?: string } = {}) =>
  run(['start', ...args], { env: { TMPDIR: tmp }, timeoutMs: 15_000, ...opts });

/** broker processes whose command line names this test's temp dir */
const brokersLeft = () => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n')
  .filter((l) => l.includes(' broker ') && l.includes(scratch));

/** nothing of the instance remains: no broker, and an empty TMPDIR (its rundir removed) */
function nothingLeft(): void {
  expect(brokersLeft()).toEqual([]);
  expect(readdirSync(tmp)).toEqual([]);
}

/** a failed start: exit 1 and exactly the one line given, nothing on stdout */
function failedWith(r: RunResult, line: string): void {
  expect(r).toMatchObject({ code: 1, stdout: '', stderr: `${line}\n` });
}

describe('the initial program', () => {
  it('runs a one-word program with spaces through the shell, as flux-core\'s broker does: a sharness-style script', async () => {
    const script = join(scratch, 't0001-basic.t');
    writeFileSync(script, [
      '#!/bin/sh',
      'for arg in "$@"; do case "$arg" in --root=*) root="${arg#--root=}" ;; esac; done',
      'test -n "$root" || { echo "not ok 1 - no --root"; exit 1; }',
      'mkdir -p "$root" && cd "$root" || exit 1',
      'flux getattr size > size.out && flux kvs put answer=42 && test "$(flux kvs get answer)" = 42',
      'echo "ok 1 - size $(cat size.out) in $PWD"',
      'echo "1..1"',
      '',
    ].join('\n'));
    const root = join(scratch, 'trash-dir');
    const r = await start(['--test-size=2', `sh ${script} --root=${root}`]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`ok 1 - size 2 in ${root}\n1..1\n`);
    expect(r.code).toBe(0);
    expect(readFileSync(join(root, 'size.out'), 'utf8')).toBe('2\n');
    nothingLeft();
  });

  it('only a single word goes through the shell: several words are run as they are', async () => {
    expect((await start(['echo "$FLUX_URI" | grep -c local'])).stdout).toBe('1\n');
    expect((await start(['echo', '$FLUX_URI', '|', 'wc'])).stdout).toBe('$FLUX_URI | wc\n');
    // an executable file's path is run directly: $0 is the script itself, not a shell
    const exe = join(scratch, 'zero.sh');
    writeFileSync(exe, '#!/bin/sh\necho "$0"\n');
    chmodSync(exe, 0o755);
    expect((await start([exe])).stdout).toBe(`${exe}\n`);
  });

  it('sees NODE_EXTRA_CA_CERTS as given, though no broker was started with it (Node would parse it at start)', async () => {
    const certs = join(scratch, 'extra-ca.pem');
    writeFileSync(certs, '');
    // $PPID is the broker that started each shell; its /proc environ is the one it was started with
    const show = 'printenv NODE_EXTRA_CA_CERTS; printenv FLUX_DEFERRED_NODE_EXTRA_CA_CERTS || echo none; '
      + 'tr "\\0" "\\n" < /proc/$PPID/environ | grep -c "^NODE_EXTRA_CA_CERTS=" || true';
    const r = await run(['start', '--test-size=2', 'sh', '-c', `${show}; flux exec -r 1 sh -c '${show}'`], {
      env: { TMPDIR: tmp, NODE_EXTRA_CA_CERTS: certs }, timeoutMs: 15_000,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${certs}\nnone\n0\n${certs}\nnone\n0\n`);
    expect(r.code).toBe(0);
    nothingLeft();
  });

  it('starts its brokers with glibc\'s mmap threshold held (large freed buffers go back), which what they start does not see', async () => {
    const show = 'printenv MALLOC_MMAP_THRESHOLD_ || echo unset; printenv FLUX_LAUNCH_MALLOC_MMAP_THRESHOLD || echo unset; '
      + 'tr "\\0" "\\n" < /proc/$PPID/environ | grep "^MALLOC_MMAP_THRESHOLD_=" || true';
    const r = await run(['start', '--test-size=2', 'sh', '-c', `${show}; flux exec -r 1 sh -c '${show}'`], { env: { TMPDIR: tmp }, timeoutMs: 15_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('unset\nunset\nMALLOC_MMAP_THRESHOLD_=131072\n'.repeat(2));
    expect(r.code).toBe(0);
    nothingLeft();
  });
});

/**
 * A `--require` preload with which each broker (and, with `commands`, each other Node process: the commands of an
 * initial program) writes `what` (an expression: a list of strings) to a file of `name`'s directory as it exits,
 * named rank-N or command-PID. The directory and the NODE_OPTIONS that load it.
 */
function exitLists(name: string, what: string, commands = false): { lists: string; NODE_OPTIONS: string } {
  const lists = join(scratch, name);
  mkdirSync(lists);
  const preload = join(scratch, `${name}.cjs`);
  writeFileSync(preload, `${commands ? '' : 'if (process.env.PMI_RANK !== undefined) '}process.on('exit', () => `
    + `require('node:fs').writeFileSync(${JSON.stringify(lists)} + '/' + (process.env.PMI_RANK === undefined ? `
    + `'command-' + process.pid : 'rank-' + process.env.PMI_RANK), ${what}.join('\\n')));\n`);
  return { lists, NODE_OPTIONS: `--require ${preload}` };
}

describe('what a broker loads', () => {
  it('neither node:fs/promises nor Web Crypto: no broker needs them, and every start would pay for them', async () => {
    // each broker writes down the Node modules it loaded as it exits
    const { lists, NODE_OPTIONS } = exitLists('loaded', 'process.moduleLoadList');
    const r = await run(['start', '--test-size=2', 'true'], { env: { TMPDIR: tmp, NODE_OPTIONS }, timeoutMs: 15_000 });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    for (const rank of ['0', '1']) {
      const loaded = readFileSync(join(lists, `rank-${rank}`), 'utf8').split('\n');
      expect(loaded, `rank ${rank}`).toContain('NativeModule net');
      expect(loaded, `rank ${rank}`).not.toContain('NativeModule fs/promises');
      expect(loaded, `rank ${rank}`).not.toContain('NativeModule internal/crypto/webcrypto');
    }
    nothingLeft();
  });

  it('nor node:module, which brings the ES module loader with it: no broker, with clients whose credentials it read, and no command', async () => {
    // every Node process of the instance (brokers, and the commands of its initial program) writes its list down
    const { lists, NODE_OPTIONS } = exitLists('modules', 'process.moduleLoadList', true);
    const r = await run(['start', '--test-size=2', `${FLUX} exec -r 1 ${FLUX} kvs put modules=1 && ${FLUX} getattr rank`],
      { env: { TMPDIR: tmp, NODE_OPTIONS }, timeoutMs: 15_000 });
    expect(r).toMatchObject({ code: 0, stdout: '0\n', stderr: '' });
    const written = readdirSync(lists);
    expect(written).toEqual(expect.arrayContaining(['rank-0', 'rank-1']));
    // flux start, flux exec, flux kvs put, flux getattr
    expect(written.filter((f) => f.startsWith('command-'))).toHaveLength(4);
    for (const f of written) {
      const loaded = readFileSync(join(lists, f), 'utf8').split('\n');
      expect(loaded, f).toContain('NativeModule net');
      expect(loaded, f).not.toContain('NativeModule module');
    }
    nothingLeft();
  });

  it('ajv only for a schema the build did not compile, and then from its own file beside the broker\'s bundle', async () => {
    const { lists, NODE_OPTIONS } = exitLists('required-ajv', 'Object.keys(require.cache)');
    const inst = await startInstance(2, [], { env: { TMPDIR: tmp, NODE_OPTIONS } });
    try {
      // the example module's schemas are its own: the build compiled none of them
      expect(await inst.flux(['module', 'load', join(ROOT, 'examples', 'counter.mjs')])).toMatchObject({ code: 0, stderr: '' });
      const h = await Flux.open(inst.uri);
      try {
        expect(await h.call('counter.add', { name: 'ajv' })).toMatchObject({ name: 'ajv', value: 1 });
        await expect(h.call('counter.add', { name: 7 })).rejects.toMatchObject({ errno: EPROTO });
      } finally {
        h.close();
      }
    } finally {
      expect(await inst.stop()).toBe(0);
    }
    // ajv's package from node_modules, or its file beside the broker's bundle; not its runtime helpers (a string's
    // length in code points), which the build's validators require from the package
    const ajvFiles = (rank: string) => readFileSync(join(lists, `rank-${rank}`), 'utf8').split('\n')
      .map((f) => /[\\/](node_modules[\\/]ajv[\\/].*|dist[\\/]cli[\\/]ajv\.cjs)$/.exec(f)?.[1])
      .filter((f) => f !== undefined && !/^node_modules[\\/]ajv[\\/]dist[\\/]runtime[\\/]/.test(f));
    expect(ajvFiles('0')).toEqual([join('dist', 'cli', 'ajv.cjs')]);
    // rank 1 validated only what the build's validators serve
    expect(ajvFiles('1')).toEqual([]);
  });

  it('the native packages ride in the broker\'s bundle: of each, a broker loads only its addon (and koffi\'s platform loader), found without a search', async () => {
    const { lists, NODE_OPTIONS } = exitLists('required', 'Object.keys(require.cache)');
    // a commit made on rank 1: rank 0's store is written, and the overlay carries it both ways
    const r = await run(['start', '--test-size=2', `${FLUX} exec -r 1 ${FLUX} kvs put loaded=1 && ${FLUX} kvs get loaded`],
      { env: { TMPDIR: tmp, NODE_OPTIONS }, timeoutMs: 15_000 });
    expect(r).toMatchObject({ code: 0, stdout: '1\n', stderr: '' });
    const fromPackages = (rank: string) => readFileSync(join(lists, `rank-${rank}`), 'utf8').split('\n')
      .filter((f) => /[\\/]node_modules[\\/](better-sqlite3|bindings|zeromq|cmake-ts|koffi|@koromix)[\\/]/.test(f))
      .map((f) => f.slice(f.lastIndexOf('node_modules')));
    const zmqAddon = expect.stringMatching(/^node_modules[\\/]zeromq[\\/]build[\\/].*[\\/]addon\.node$/);
    // each broker had a local client: koffi read its credentials, and only koffi's platform package was loaded
    // from outside the bundle, its loader and its addon
    const koffiLoader = expect.stringMatching(/^node_modules[\\/]@koromix[\\/]koffi-[^\\/]+[\\/]index\.js$/);
    const koffiAddon = expect.stringMatching(/^node_modules[\\/]@koromix[\\/]koffi-[^\\/]+[\\/][^\\/]+[\\/]koffi\.node$/);
    expect(fromPackages('0')).toEqual(expect.arrayContaining([
      zmqAddon, join('node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'), koffiLoader, koffiAddon,
    ]));
    expect(fromPackages('0')).toHaveLength(4);
    expect(fromPackages('1')).toEqual(expect.arrayContaining([zmqAddon, koffiLoader, koffiAddon]));
    expect(fromPackages('1')).toHaveLength(3);
    nothingLeft();
  });
});

describe('attributes set at start', () => {
  it('refuses an unknown name, naming it, as flux-core does', async () => {
    failedWith(await start(['--size', '2', '-S', 'no.such-attr=1', 'true']), 'flux-start: no.such-attr: unknown attribute');
    nothingLeft();
  });

  it('refuses a bad value for a known name', async () => {
    for (const [kv, why] of [
      ['heartbeat.period=abc', 'invalid value "abc": expected a duration (e.g. 2, 0.5s, 1m)'],
      ['journal.retain=-5', 'invalid value "-5": expected an integer of at least 0'],
      ['log-level=banana', 'invalid value "banana": expected an integer from 0 to 7'],
      ['tbon.fanout=abc', 'invalid value "abc": expected an integer of at least 0'],
      ['content.hash=md5', 'invalid value "md5": expected sha1 or sha256'],
      ['broker.heap-growing-percent=-1', 'invalid value "-1": expected an integer from 0 to 1000'],
    ]) {
      failedWith(await start(['--size', '2', '-S', kv!, 'true']), `flux-start: ${kv!.split('=')[0]}: ${why}`);
    }
    nothingLeft();
  });

  it('size and rank cannot be set', async () => {
    for (const name of ['size', 'rank']) {
      failedWith(await start(['-S', `${name}=4`, 'true']), `flux-start: ${name}: attribute may not be set on the command line`);
    }
  });

  it('a broker checks its attributes too (flux broker under another launcher)', async () => {
    const r = await start(['--size', '3', '-o,-Sbogus=1', 'true']);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    // each broker refuses on its own: the first to go ends the others, which may have said it too
    const lines = r.stderr.split('\n').slice(0, -1);
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).toBe('flux-broker: bogus: unknown attribute');
    nothingLeft();
  });

  it('log-filename writes the log to that file; log-level refuses setattr, as flux-core\'s does', async () => {
    const file = join(scratch, 'broker.log');
    const r = await start(['--size', '2', '-S', `log-filename=${file}`, 'sh', '-c',
      'flux logger to-the-file; flux setattr log-level 3; echo "setattr=$?"; flux getattr log-level']);
    expect(r.stdout).toBe('setattr=1\n7\n');
    expect(r.stderr).toBe('flux-setattr: log-level: attribute may not be updated\n');
    expect(readFileSync(file, 'utf8')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z logger\.info\[0\]: to-the-file$/m);
  });
});

/** a directory nobody may write, root included: a read-only tmpfs as root, a mode-0555 directory otherwise */
function readOnlyDir(path: string): () => void {
  mkdirSync(path);
  if (process.getuid?.() === 0) {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', path]);
    return () => execFileSync('umount', [path]);
  }
  chmodSync(path, 0o555);
  return () => chmodSync(path, 0o755);
}

describe('start-up errors end the instance at once, with one line, leaving nothing behind', () => {
  it('an unsupported topology', async () => {
    failedWith(await start(['--size', '2', '-S', 'tbon.topo=binomial', 'true']),
      'flux-start: tbon.topo: unsupported topology "binomial": expected kary:K');
    nothingLeft();
  });

  it('a statedir that is a regular file', async () => {
    const file = join(scratch, 'plainfile');
    writeFileSync(file, 'x');
    failedWith(await start(['--size', '3', '-S', `statedir=${file}`, 'true']), `flux-broker: statedir ${file} is not a directory`);
    nothingLeft();
  });

  it('a statedir whose parent is read-only, and a read-only statedir', async () => {
    const ro = join(scratch, 'ro');
    const undo = readOnlyDir(ro);
    try {
      failedWith(await start(['--size', '2', '-S', `statedir=${join(ro, 's')}`, 'true']),
        `flux-broker: cannot create statedir ${join(ro, 's')}: ${ro} is read-only`);
      nothingLeft();
      failedWith(await start(['--size', '2', '-S', `statedir=${ro}`, 'true']), `flux-broker: statedir ${ro} is read-only`);
      nothingLeft();
    } finally {
      undo();
    }
  });

  it('a statedir in use by a running instance', async () => {
    const s = join(scratch, 'state');
    const first = spawn(process.execPath, [FLUX, 'start', '-S', `statedir=${s}`, 'sh', '-c', 'echo up; exec cat >/dev/null'], {
      env: { ...process.env, TMPDIR: tmp }, stdio: ['pipe', 'pipe', 'inherit'],
    });
    const done = new Promise((resolve) => first.on('close', resolve));
    try {
      await new Promise<void>((resolve) => first.stdout!.once('data', () => resolve()));
      failedWith(await start(['--size', '3', '-S', `statedir=${s}`, 'true']), `flux-broker: statedir ${s} is in use by another instance`);
    } finally {
      first.stdin!.end();
      await done;
    }
    nothingLeft();
  });
});

describe('the launcher', () => {
  it('refuses a size the machine cannot hold, and starts nothing', async () => {
    const r = await start(['--size', '100000', 'true']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^flux-start: --size 100000: this machine can hold about \d+ brokers \(each takes some \d+ MiB of memory; [\d.]+ GiB is free\)\n$/);
    nothingLeft();
  });

  it('killed, it ends its brokers and removes its rundir', async () => {
    const marker = join(scratch, 'running');
    const launcher = spawn(process.execPath, [FLUX, 'start', '--size', '3', 'sh', '-c', `touch ${marker}; exec sleep 300`], {
      env: { ...process.env, TMPDIR: tmp }, stdio: 'ignore',
    });
    const status = new Promise<number | null>((resolve) => launcher.on('close', (code) => resolve(code)));
    await until('the initial program', async () => (existsSync(marker) ? true : undefined));
    expect(brokersLeft().length).toBe(3);
    launcher.kill('SIGTERM');
    expect(await status).toBe(143);
    nothingLeft();
  });

  it('a broker killed from outside before it started ends the instance with one line naming it, leaving nothing behind', async () => {
    // Rank 0 is stopped before it opens its socket, from which point it can answer no hello: rank 1 cannot have
    // joined, so cannot have told the launcher it started, when it is killed. A try where rank 0 was seen too late
    // (its socket there already) is ended and made again.
    const rankOf = (pid: number): number | undefined => {
      try {
        const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').find((v) => v.startsWith('PMI_RANK='));
        return env === undefined ? undefined : Number(env.slice('PMI_RANK='.length));
      } catch {
        return undefined; // not yet exec'd, or already gone
      }
    };
    for (let attempt = 1; ; attempt++) {
      const launcher = spawn(process.execPath, [FLUX, 'start', '--size', '2', 'sleep', '300'], {
        env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      launcher.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const status = new Promise<number | null>((resolve) => launcher.on('close', (code) => resolve(code)));
      const ranks = new Map<number, number>();
      await until('both brokers', async () => {
        let kids: string[] = [];
        try {
          kids = readFileSync(`/proc/${launcher.pid}/task/${launcher.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
        } catch {
          // the launcher not yet started
        }
        for (const pid of kids.map(Number)) {
          const rank = rankOf(pid);
          if (rank === undefined || ranks.has(rank)) continue;
          ranks.set(rank, pid);
          if (rank === 0) process.kill(pid, 'SIGSTOP');
        }
        return ranks.size === 2 || undefined;
      }, 10_000);
      await until('rank 0 to stop', async () => readFileSync(`/proc/${ranks.get(0)}/stat`, 'utf8').split(') ')[1]!.startsWith('T') || undefined);
      const [rundir] = readdirSync(tmp);
      if (rundir !== undefined && existsSync(join(tmp, rundir, 'local-0')) && attempt < 3) {
        launcher.kill('SIGTERM');
        process.kill(ranks.get(0)!, 'SIGCONT');
        await status;
        continue;
      }
      process.kill(ranks.get(1)!, 'SIGKILL');
      expect(await status).toBe(1);
      expect(stderr).toBe(`flux-start: rank 1 (pid ${ranks.get(1)}) was killed by SIGKILL before it started: ending the instance\n`);
      nothingLeft();
      return;
    }
  });

  it('names a running broker killed from outside, once; brokers it ends itself go unnamed', async () => {
    const inst = await startInstance(3, [], { env: { TMPDIR: tmp } });
    let killed = 0;
    try {
      const h = await Flux.open(`local://${inst.rundir}/local-1`);
      killed = Number((await h.call('attr.get', { name: 'broker.pid' })).value);
      // only a broker that runs has told the launcher it started (test/e2e/exec.test.ts, unreachable ranks)
      await until('rank 1 to run', async () => (await h.call('state-machine.get')).state === 'run' || undefined, 10_000);
      h.close();
      process.kill(killed, 'SIGKILL');
      await until('the line naming rank 1', async () => inst.stderr().includes('flux-start:') || undefined, 10_000);
    } finally {
      expect(await inst.stop()).toBe(0);
    }
    // beside rank 0's log of the lost rank, the launcher's one line
    expect(inst.stderr().split('\n').filter((l) => l.startsWith('flux-start:'))).toEqual([`flux-start: rank 1 (pid ${killed}) was killed by SIGKILL`]);
    // its rundir is kept (--test-rundir) outside this test's scratch dir: no broker naming it may be left
    expect(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(inst.rundir))).toEqual([]);
    rmSync(inst.rundir, { recursive: true, force: true });
  });

  it('killed with SIGKILL, it cannot clean up: its brokers notice and end themselves, rundir and all', async () => {
    const marker = join(scratch, 'running');
    const launcher = spawn(process.execPath, [FLUX, 'start', '--size', '3', 'sh', '-c', `touch ${marker}; exec sleep 300`], {
      env: { ...process.env, TMPDIR: tmp }, stdio: 'ignore',
    });
    const status = new Promise<NodeJS.Signals | null>((resolve) => launcher.on('close', (_code, sig) => resolve(sig)));
    await until('the initial program', async () => (existsSync(marker) ? true : undefined));
    launcher.kill('SIGKILL');
    expect(await status).toBe('SIGKILL');
    await until('the brokers to end', async () => (brokersLeft().length === 0 && readdirSync(tmp).length === 0 ? true : undefined));
    nothingLeft();
  });
});
