// One instance under test, as the fault injectors see it: `flux start` with a statedir, brokers whose pids are
// known, and restart from the statedir after a crash. A restart makes a new instance (new rundir) over the same
// journal; clients find it through `generation` and the current URIs.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Flux } from '../api/handle.js';

const FLUX = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'flux');
/** how much of what the brokers wrote to stderr a run keeps for its report */
const STDERR_KEPT = 64 << 10;

export interface ClusterOptions {
  size: number;
  fanout: number;
  statedir: string;
  log: (line: string) => void;
}

export class Cluster {
  generation = 0;
  rundir = '';
  pids: number[] = [];
  /** ranks killed since the last start */
  readonly dead = new Set<number>();
  private proc: ChildProcess | undefined;
  private exited: Promise<number | null> = Promise.resolve(null);
  private starting: Promise<void> | undefined;
  private stderrTail = '';

  constructor(readonly opts: ClusterOptions) {}

  uri(rank: number): string {
    return `local://${this.rundir}/local-${rank}`;
  }

  /** the last of what the brokers of every instance so far wrote to stderr (why one left, when one did) */
  get stderr(): string {
    return this.stderrTail;
  }

  get up(): boolean {
    return this.proc !== undefined && this.starting === undefined;
  }

  /** start (or start again) an instance on the statedir; resolves once every broker answers */
  start(): Promise<void> {
    this.starting ??= this.boot().finally(() => (this.starting = undefined));
    return this.starting;
  }

  /** wait until an instance is up (a restart may be under way) */
  async ready(): Promise<void> {
    while (this.starting) await this.starting;
  }

  private async boot(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.spawnOnce();
        return;
      } catch (err) {
        this.opts.log(`start failed (attempt ${attempt}): ${(err as Error).message}`);
        if (attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private async spawnOnce(): Promise<void> {
    const { size, fanout, statedir } = this.opts;
    if (this.rundir) rmSync(this.rundir, { recursive: true, force: true });
    this.rundir = mkdtempSync(join(tmpdir(), 'flux-verify-rd-'));
    const proc = spawn(process.execPath, [FLUX, 'start', '--size', String(size), '-S', `tbon.fanout=${fanout}`,
      '-S', `statedir=${statedir}`, '--test-rundir', this.rundir, '--test-exit-timeout=1s',
      'sh', '-c', 'echo "$FLUX_URI"; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => {
      const text = d.toString();
      err = (err + text).slice(-4000);
      this.stderrTail = (this.stderrTail + text).slice(-STDERR_KEPT);
    });
    const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`instance did not start: ${err}`)), 30_000);
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`instance exited (${code}) before starting: ${err}`));
      });
    });
    this.proc = proc;
    this.exited = exited;
    this.dead.clear();
    this.pids = [];
    for (let r = 0; r < size; r++) {
      const h = await Flux.open(this.uri(r));
      try {
        this.pids.push(Number((await h.call('attr.get', { name: 'broker.pid' })).value));
      } finally {
        h.close();
      }
    }
    this.generation++;
    this.opts.log(`instance ${this.generation} up (pids ${this.pids.join(' ')})`);
  }

  signal(rank: number, sig: NodeJS.Signals): void {
    try {
      process.kill(this.pids[rank]!, sig);
    } catch {
      // already gone
    }
    if (sig === 'SIGKILL') this.dead.add(rank);
  }

  /** kill -9 rank 0: flux start then ends the others; start again from the statedir */
  async crashAndRestart(): Promise<void> {
    const exited = this.exited;
    this.starting ??= (async () => {
      this.signal(0, 'SIGKILL');
      await exited;
      this.proc = undefined;
      await this.boot();
    })().finally(() => (this.starting = undefined));
    await this.starting;
  }

  /** a clean stop and start (after a rank other than 0 was killed) */
  async restart(): Promise<void> {
    this.starting ??= (async () => {
      await this.shutdown();
      await this.boot();
    })().finally(() => (this.starting = undefined));
    await this.starting;
  }

  /** end the instance; a broker that does not stop is killed */
  async shutdown(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    for (let r = 0; r < this.pids.length; r++) if (!this.dead.has(r)) this.signal(r, 'SIGCONT');
    proc.stdin!.end();
    const timer = setTimeout(() => { for (let r = 0; r < this.pids.length; r++) this.signal(r, 'SIGKILL'); }, 10_000);
    await this.exited;
    clearTimeout(timer);
    this.proc = undefined;
  }

  async dispose(): Promise<void> {
    await this.ready().catch(() => {});
    await this.shutdown();
    if (this.rundir) rmSync(this.rundir, { recursive: true, force: true });
  }
}
