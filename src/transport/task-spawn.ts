// Starting a job's tasks with posix_spawn(3). Node's child_process forks the whole broker, and fork copies the page
// tables of every page the broker has touched: with a broker of ~100 MiB that is ~3.5 ms of the broker's one
// thread per task (measured), the largest cost of a short job. glibc's posix_spawn uses a vfork-style clone that
// copies nothing (0.8 ms here, whatever the broker's size). koffi, which the local connector already loads for
// SO_PEERCRED, calls it.
//
// A task gets stdin, stdout and stderr (each a pipe, or a file descriptor the caller opened), fd 3 one end of a
// socketpair (PMI_FD), its own session and process group, default signal dispositions and an empty signal mask,
// as child_process would give it. Its exit is reaped on SIGCHLD with waitpid(pid, WNOHANG): libuv reaps only the
// children it started, by pid, so the two never take each other's.
import { createRequire } from 'node:module';
import net from 'node:net';
import type * as Koffi from 'koffi';
import { accessSync, statSync, constants as fsConstants } from 'node:fs';
import { join } from 'node:path';
import { FluxError, EACCES, EIO, ENOENT } from '../core/errors.js';

export interface TaskStdio {
  /** a file descriptor for stdin (the caller closes its own copy), or a pipe the caller writes */
  stdin?: number;
  stdout?: number;
  stderr?: number;
}

export interface SpawnedTask {
  pid: number;
  /** the pipes this side holds, where the caller gave no descriptor */
  stdin?: net.Socket;
  stdout?: net.Socket;
  stderr?: net.Socket;
  /** this side of the task's fd 3 */
  channel: net.Socket;
  /** the task's wait status once it has been reaped */
  exited: Promise<number>;
}

const O_CLOEXEC = 0o2000000;
const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = O_CLOEXEC;
const WNOHANG = 1;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
/** at least the size of glibc's posix_spawn_file_actions_t, posix_spawnattr_t and sigset_t on 64-bit Linux */
const OPAQUE = 512;

type Fn = (...args: unknown[]) => number;
/** a koffi function that can also run on koffi's worker threads */
type AsyncFn = Fn & { async: (...args: unknown[]) => void };

interface Libc {
  pipe2: Fn;
  socketpair: Fn;
  close: Fn;
  faInit: Fn;
  faDestroy: Fn;
  faDup2: Fn;
  faChdir: Fn;
  attrInit: Fn;
  attrDestroy: Fn;
  attrSetflags: Fn;
  attrSetsigdefault: Fn;
  attrSetsigmask: Fn;
  sigfillset: Fn;
  sigemptyset: Fn;
  spawn: AsyncFn;
  waitpid: Fn;
  errno: () => number;
}

let libc: Libc | undefined;
const children = new Map<number, (status: number) => void>();

function load(): Libc {
  if (libc) return libc;
  const koffi = createRequire(import.meta.url)('koffi') as typeof Koffi;
  const lib = koffi.load('libc.so.6');
  const fn = (name: string, args: string[]) => lib.func(name, 'int', args) as unknown as Fn;
  libc = {
    pipe2: fn('pipe2', ['int *', 'int']),
    socketpair: fn('socketpair', ['int', 'int', 'int', 'int *']),
    close: fn('close', ['int']),
    faInit: fn('posix_spawn_file_actions_init', ['void *']),
    faDestroy: fn('posix_spawn_file_actions_destroy', ['void *']),
    faDup2: fn('posix_spawn_file_actions_adddup2', ['void *', 'int', 'int']),
    faChdir: fn('posix_spawn_file_actions_addchdir_np', ['void *', 'str']),
    attrInit: fn('posix_spawnattr_init', ['void *']),
    attrDestroy: fn('posix_spawnattr_destroy', ['void *']),
    attrSetflags: fn('posix_spawnattr_setflags', ['void *', 'short']),
    attrSetsigdefault: fn('posix_spawnattr_setsigdefault', ['void *', 'void *']),
    attrSetsigmask: fn('posix_spawnattr_setsigmask', ['void *', 'void *']),
    sigfillset: fn('sigfillset', ['void *']),
    sigemptyset: fn('sigemptyset', ['void *']),
    spawn: fn('posix_spawn', ['int *', 'str', 'void *', 'void *', 'char **', 'char **']) as AsyncFn,
    waitpid: fn('waitpid', ['int', 'int *', 'int']),
    errno: () => koffi.errno(),
  };
  process.on('SIGCHLD', reap);
  return libc;
}

/** every exited task of ours, reaped; signals coalesce, so each one looks at all of them */
function reap(): void {
  const status = new Int32Array(1);
  for (const [pid, done] of children) {
    if (libc!.waitpid(pid, status, WNOHANG) === pid) {
      children.delete(pid);
      done(status[0]!);
    }
  }
}

function check(rc: number, what: string): void {
  if (rc !== 0) {
    const errno = libc!.errno();
    throw new FluxError(errno || EIO, `${what}: errno ${errno}`);
  }
}

/**
 * Where `file` is, looked for on the TASK's PATH as execvp would (posix_spawnp would search the broker's): ENOENT
 * when nowhere, EACCES when found but not executable.
 */
export function resolveCommand(file: string, path: string | undefined): string {
  if (file.includes('/')) return file;
  let denied = false;
  for (const dir of (path ?? '/bin:/usr/bin').split(':')) {
    const candidate = join(dir === '' ? '.' : dir, file);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EACCES') denied = true;
    }
  }
  throw new FluxError(denied ? EACCES : ENOENT, `${file}: ${denied ? 'Permission denied' : 'No such file or directory'}`);
}

/**
 * posix_spawn `file` (found on env.PATH) with `args`; rejects with a FluxError with the errno when it cannot be
 * started. The call runs on one of koffi's threads: posix_spawn returns only once the task has exec'd (~1 ms),
 * which the broker's own thread spends better on other work.
 */
export async function spawnTask(file: string, args: string[], env: NodeJS.ProcessEnv, cwd: string | undefined, stdio: TaskStdio): Promise<SpawnedTask> {
  const c = load();
  const mine: number[] = [];
  const theirs: number[] = [];
  const pipe = (): [number, number] => {
    const fds = new Int32Array(2);
    check(c.pipe2(fds, O_CLOEXEC), 'pipe2');
    return [fds[0]!, fds[1]!];
  };
  const fa = Buffer.alloc(OPAQUE);
  const attr = Buffer.alloc(OPAQUE);
  let initialized = false;
  try {
    const ends: Array<number | undefined> = [];
    // stdin: the task reads one end, this side writes the other
    if (stdio.stdin === undefined) {
      const [r, w] = pipe();
      theirs.push(r);
      mine.push(w);
      ends.push(r);
    } else ends.push(stdio.stdin);
    for (const given of [stdio.stdout, stdio.stderr]) {
      if (given === undefined) {
        const [r, w] = pipe();
        theirs.push(w);
        mine.push(r);
        ends.push(w);
      } else ends.push(given);
    }
    const sv = new Int32Array(2);
    check(c.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 'socketpair');
    mine.push(sv[0]!);
    theirs.push(sv[1]!);
    ends.push(sv[1]);

    check(c.faInit(fa), 'posix_spawn_file_actions_init');
    check(c.attrInit(attr), 'posix_spawnattr_init');
    initialized = true;
    // dup2 onto the task's 0..3 clears close-on-exec there; everything else of ours closes at exec
    ends.forEach((fd, target) => check(c.faDup2(fa, fd, target), 'posix_spawn_file_actions_adddup2'));
    if (cwd !== undefined) check(c.faChdir(fa, cwd), 'posix_spawn_file_actions_addchdir_np');
    const all = Buffer.alloc(OPAQUE);
    const none = Buffer.alloc(OPAQUE);
    c.sigfillset(all);
    c.sigemptyset(none);
    check(c.attrSetflags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSID), 'posix_spawnattr_setflags');
    check(c.attrSetsigdefault(attr, all), 'posix_spawnattr_setsigdefault');
    check(c.attrSetsigmask(attr, none), 'posix_spawnattr_setsigmask');
    const envp = Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
    const pid = new Int32Array(1);
    const path = resolveCommand(file, env.PATH);
    const rc = await new Promise<number>((resolve, reject) => {
      c.spawn.async(pid, path, fa, attr, [file, ...args, null], [...envp, null], (err: unknown, res: number) => (err ? reject(err) : resolve(res)));
    });
    if (rc !== 0) throw new FluxError(rc, `posix_spawn ${file}: errno ${rc}`);
    const exited = new Promise<number>((resolve) => children.set(pid[0]!, resolve));
    // it may have gone before the handler above was there to hear it
    reap();
    const sock = (fd: number, readable: boolean, writable: boolean) => new net.Socket({ fd, readable, writable });
    let i = 0;
    const task: SpawnedTask = { pid: pid[0]!, exited, channel: undefined as unknown as net.Socket };
    if (stdio.stdin === undefined) task.stdin = sock(mine[i++]!, false, true);
    if (stdio.stdout === undefined) task.stdout = sock(mine[i++]!, true, false);
    if (stdio.stderr === undefined) task.stderr = sock(mine[i++]!, true, false);
    task.channel = sock(mine[i]!, true, true);
    return task;
  } catch (err) {
    for (const fd of mine) c.close(fd);
    throw err;
  } finally {
    for (const fd of theirs) c.close(fd);
    if (initialized) {
      c.faDestroy(fa);
      c.attrDestroy(attr);
    }
  }
}
