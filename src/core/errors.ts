// Linux errno values: these numbers travel on the wire (response aux1), so they are fixed, not os-dependent.
export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const EIO = 5;
export const E2BIG = 7;
export const EBADF = 9;
export const ECHILD = 10;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENOTDIR = 20;
export const EISDIR = 21;
export const EINVAL = 22;
export const EFBIG = 27;
export const ENOSPC = 28;
export const EROFS = 30;
export const EPIPE = 32;
export const ERANGE = 34;
export const ENOSYS = 38;
export const ENODATA = 61;
export const ETIME = 62;
export const EPROTO = 71;
export const EOVERFLOW = 75;
export const EMSGSIZE = 90;
export const ENOTSUP = 95;
export const ECONNRESET = 104;
export const ETIMEDOUT = 110;
export const ECONNREFUSED = 111;
export const EHOSTUNREACH = 113;
export const EALREADY = 114;
export const EUCLEAN = 117;
export const ECANCELED = 125;

const messages: Record<number, string> = {
  [EPERM]: 'Operation not permitted',
  [ENOENT]: 'No such file or directory',
  [ESRCH]: 'No such process',
  [EINTR]: 'Interrupted system call',
  [EIO]: 'Input/output error',
  [E2BIG]: 'Argument list too long',
  [EBADF]: 'Bad file descriptor',
  [ECHILD]: 'No child processes',
  [EAGAIN]: 'Resource temporarily unavailable',
  [ENOMEM]: 'Cannot allocate memory',
  [EACCES]: 'Permission denied',
  [EBUSY]: 'Device or resource busy',
  [EEXIST]: 'File exists',
  [ENOTDIR]: 'Not a directory',
  [EISDIR]: 'Is a directory',
  [EINVAL]: 'Invalid argument',
  [EFBIG]: 'File too large',
  [ENOSPC]: 'No space left on device',
  [EROFS]: 'Read-only file system',
  [EPIPE]: 'Broken pipe',
  [ERANGE]: 'Numerical result out of range',
  [ENOSYS]: 'Function not implemented',
  [ENODATA]: 'No data available',
  [ETIME]: 'Timer expired',
  [EPROTO]: 'Protocol error',
  [EOVERFLOW]: 'Value too large for defined data type',
  [EMSGSIZE]: 'Message too long',
  [ENOTSUP]: 'Operation not supported',
  [ECONNRESET]: 'Connection reset by peer',
  [ETIMEDOUT]: 'Connection timed out',
  [ECONNREFUSED]: 'Connection refused',
  [EHOSTUNREACH]: 'No route to host',
  [EALREADY]: 'Operation already in progress',
  [EUCLEAN]: 'Structure needs cleaning',
  [ECANCELED]: 'Operation canceled',
};

export function strerror(errno: number): string {
  return messages[errno] ?? `Unknown error ${errno}`;
}

/** An error that carries an errno; the one error type that crosses the wire (as a response errnum + text). */
/** marks a FluxError whichever copy of this module made it */
const FLUX_ERROR = Symbol.for('flux-ts.FluxError');

export class FluxError extends Error {
  readonly errno: number;
  /** true when `message` came from the peer or the caller rather than from strerror() */
  readonly explicit: boolean;
  constructor(errno: number, message?: string) {
    super(message && message.length > 0 ? message : strerror(errno));
    this.name = 'FluxError';
    this.errno = errno;
    this.explicit = message !== undefined && message.length > 0;
    Object.defineProperty(this, FLUX_ERROR, { value: true });
  }

  /**
   * Each bundled command carries its own copy of this class (and a program may load two versions of the
   * library): `instanceof FluxError` holds for an error made by any of them.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[FLUX_ERROR] === true;
  }
}

/** Map any thrown value to an errno exactly once, at the wire boundary. Anything unrecognised becomes EIO. */
export function errnoOf(err: unknown): number {
  if (err instanceof FluxError) return err.errno;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    const n = errnoByCode[code];
    if (n !== undefined) return n;
  }
  return EIO;
}

/** What went wrong, in words: strerror's for a system error Node describes by its code (`connect ENOENT /path`) */
export function reasonOf(err: unknown): string {
  if (err instanceof FluxError) return err.message;
  const errno = errnoOf(err);
  return errno !== EIO ? strerror(errno) : String((err as Error)?.message ?? err);
}

const errnoByCode: Record<string, number> = {
  EPERM, ENOENT, EACCES, EEXIST, ENOTDIR, EISDIR, EINVAL, ENOSPC, EROFS, EAGAIN, ENOMEM, ECONNRESET,
  ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, EPROTO, ENOSYS, E2BIG, EBADF, ESRCH, EPIPE,
};
