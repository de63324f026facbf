// The credentials of the process at the other end of a UNIX socket, from the kernel (SO_PEERCRED): the local
// connector's only proof of who a client is.
import { createRequire } from 'node:module';
import type * as net from 'node:net';
import type * as Koffi from 'koffi';
import { FluxError, EBADF, EIO } from '../core/errors.js';

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

type GetSockOpt = (fd: number, level: number, name: number, val: PeerCred, len: number[]) => number;

interface Libc {
  koffi: typeof Koffi;
  getsockopt: GetSockOpt;
  ucredSize: number;
}

let libc: Libc | undefined;

// koffi and libc are loaded on the first call, not at import: loading the FFI addon costs tens of
// milliseconds, which a process that never accepts a connection should not pay.
function loadLibc(): Libc {
  if (libc) return libc;
  const koffi = createRequire(import.meta.url)('koffi') as typeof Koffi;
  const lib = koffi.load('libc.so.6');
  // anonymous: koffi's type names are process-wide, and a second copy of this module must not collide
  const ucred = koffi.struct({ pid: 'int32_t', uid: 'uint32_t', gid: 'uint32_t' });
  const getsockopt = lib.func('getsockopt', 'int', [
    'int', 'int', 'int', koffi.out(koffi.pointer(ucred)), koffi.inout(koffi.pointer('uint32_t')),
  ]) as unknown as GetSockOpt;
  libc = { koffi, getsockopt, ucredSize: koffi.sizeof(ucred) };
  return libc;
}

export function peerCred(sock: net.Socket): PeerCred {
  // net.Socket exposes no public accessor for its descriptor; the libuv handle carries it.
  const fd = (sock as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new FluxError(EBADF, 'socket has no file descriptor');
  const { koffi, getsockopt, ucredSize } = loadLibc();
  const cred: PeerCred = { pid: 0, uid: 0, gid: 0 };
  const len = [ucredSize];
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, len) !== 0) {
    const errno = koffi.errno();
    throw new FluxError(errno || EIO, `getsockopt(SO_PEERCRED): errno ${errno}`);
  }
  if (len[0] !== ucredSize) throw new FluxError(EIO, `getsockopt(SO_PEERCRED) returned ${len[0]} bytes`);
  return { pid: cred.pid, uid: cred.uid, gid: cred.gid };
}
