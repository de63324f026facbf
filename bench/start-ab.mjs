// What a broker costs to start and to keep, two builds alternated: `node bench/start-ab.mjs` runs, per round and
// build, `flux start --size START_SIZE true` (8) START_STARTS times (3) and a size-4 instance left idle for
// START_IDLE_S seconds (8). START_AB=<another build's checkout, with node_modules> adds that build, the two in turn
// round by round (START_ROUNDS, 3), so that both see the same machine. One JSON line per build: the medians of the
// start's wall time and of the CPU of its whole process tree (the shell's `times` for its children: the start
// command, every broker, the initial program), and the idle brokers' RSS, rank 0 and a leaf. With 8 brokers on 2
// cores a start is bound by CPU, which is the steadier of the two figures here.
import { spawnSync } from 'node:child_process';
import { abBuilds, emit, median, startInstance } from './lib.mjs';
import { brokerMem } from './proc-mem.mjs';

const ROUNDS = Number(process.env.START_ROUNDS ?? 3);
const STARTS = Number(process.env.START_STARTS ?? 3);
const SIZE = Number(process.env.START_SIZE ?? 8);
const IDLE_S = Number(process.env.START_IDLE_S ?? 8);
const builds = abBuilds('START_AB');

/** wall ms and the CPU ms of the whole tree of one `flux start --size SIZE true` */
function oneStart(flux) {
  // `times` prints the shell's own user and system time, then its children's: the second line is the tree's
  // bin/flux run as a program, as a user runs it (it then starts Node without NODE_EXTRA_CA_CERTS)
  const script = '"$0" start --size "$1" true || exit 1; times';
  const t0 = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', script, flux, String(SIZE)], { encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`flux start exited ${r.status}: ${r.stderr}`);
  const children = r.stdout.trim().split('\n').at(-1);
  const [user, sys] = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map(([, m, s]) => Number(m) * 60 + Number(s));
  return { wall, cpu: (user + sys) * 1000 };
}

async function idleRss(flux) {
  const inst = await startInstance(4, [], flux);
  try {
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    const mem = brokerMem(inst.rundir);
    return { rank0: mem[0].rss, leaf: median(mem.slice(1).map((b) => b.rss)) };
  } finally {
    await inst.stop();
  }
}

const results = new Map(builds.map(([name]) => [name, { wall: [], cpu: [], rank0: [], leaf: [] }]));
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, flux] of builds) {
    const res = results.get(name);
    for (let s = 0; s < STARTS; s++) {
      const { wall, cpu } = oneStart(flux);
      res.wall.push(wall);
      res.cpu.push(cpu);
    }
    const mem = await idleRss(flux);
    res.rank0.push(mem.rank0);
    res.leaf.push(mem.leaf);
  }
}
const r1 = (x) => Number(x.toFixed(1));
for (const [name, res] of results) {
  emit(`start-ab.size${SIZE}-true-cpu`, median(res.cpu), 'ms', {
    build: name, wall_ms: Math.round(median(res.wall)), cpu_runs_ms: res.cpu.map(Math.round), rss_idle_rank0_mib: r1(median(res.rank0)),
    rss_idle_leaf_mib: r1(median(res.leaf)), idle_s: IDLE_S, rounds: ROUNDS,
  });
}
