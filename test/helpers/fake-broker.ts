// A stand-in broker on a real local socket, for unit tests of one command: it records every request the command
// sends and answers as the test says; and `flux ARGS` run through the real dispatcher in this process, with its
// output captured.
import { vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalServer } from '../../src/transport/local-server.js';
import { type Message, makeResponse, FLAG_NORESPONSE } from '../../src/core/wire/message.js';
import { main } from '../../src/cli.js';

export interface Reply {
  payload?: Buffer;
  errnum?: number;
}

export type Respond = (r: Reply, to?: Message) => void;

export interface Fake {
  uri: string;
  /** every request the command sent, in order (a handle says nothing on close, as flux-core's clients do) */
  got: Message[];
}

const cleanups: Array<() => Promise<void>> = [];

export async function fakeBroker(handle: (req: Message, respond: Respond) => void): Promise<Fake> {
  const dir = mkdtempSync(join(tmpdir(), 'flux-fake-'));
  const got: Message[] = [];
  const server = new LocalServer({
    path: join(dir, 'local-0'),
    ownerUid: process.getuid!(),
    allowGuest: false,
    onMessage: (conn, msg) => {
      got.push(msg);
      handle(msg, (r, to = msg) => conn.send(makeResponse(to, r.payload, r.errnum ?? 0)));
    },
    onDisconnect: () => {},
    log: () => {},
  });
  await server.listen();
  cleanups.push(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { uri: `local://${join(dir, 'local-0')}`, got };
}

/** a broker answering each request with the replies `answer` gives, none for NORESPONSE requests */
export const simpleBroker = (answer: (req: Message) => Reply[]) => fakeBroker((req, respond) => {
  if ((req.flags & FLAG_NORESPONSE) !== 0 || req.aux2 === 0) return;
  for (const r of answer(req)) respond(r);
});

/** for afterEach: stop every stand-in made since the last call */
export async function closeFakeBrokers(): Promise<void> {
  for (const c of cleanups.splice(0)) await c();
}

/** `flux ARGS` through the real dispatcher, in this process, with its output captured. */
export async function flux(uri: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  process.env.FLUX_URI = uri;
  let out = '';
  let errOut = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((out += Buffer.from(c).toString('latin1')), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((errOut += String(c)), true));
  const listening = process.stdout.listeners('error');
  try {
    await main(args);
  } finally {
    vi.restoreAllMocks();
    // main() adds its EPIPE handler on every call: a process runs it once, a test many times
    for (const l of process.stdout.listeners('error')) if (!listening.includes(l)) process.stdout.off('error', l as () => void);
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { code, out: Buffer.from(out, 'latin1').toString('utf8'), err: errOut };
}
