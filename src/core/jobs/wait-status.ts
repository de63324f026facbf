// Wait statuses (what waitpid() reports), as flux-core's RPCs carry them: exit code << 8, or the signal number.
import { constants as osConstants } from 'node:os';

/** the wait status of a process that exited with `code` or was ended by `signal` (Node's 'exit' arguments) */
export function waitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (signal) return (osConstants.signals[signal] ?? 0) & 0x7f;
  return ((code ?? 0) & 0xff) << 8;
}

/** a wait status as a shell's $? shows it: the exit code, or 128 + the signal */
export function exitCodeOf(status: number): number {
  const sig = status & 0x7f;
  return sig === 0 ? (status >> 8) & 0xff : 128 + sig;
}
