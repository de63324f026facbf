// How far V8 lets a busy broker's old generation grow past what it holds live before collecting it again. Left to
// itself V8 picks that factor, up to 4, from how fast a program allocates against how fast it collects: under the
// verify workload a leaf's old space reached 74–134 MiB within eight minutes, and kept it; held to 1.5 (50%), it
// stayed at 60–67, for a few percent of commit throughput (docs/performance.md, Memory).
//
// V8 reads the factor at each full collection, so it is set once the broker runs rather than on its command line:
// V8 stamps a code cache with the flags it was made under and refuses one made under others, and the build's
// caches are made without it. For the same reason a cache a process loads or writes after the flag is set does
// not match them: the build's own instance runs with 0, which leaves V8's policy alone (scripts/bundle-cli.mjs).
import { setFlagsFromString } from 'node:v8';

/** the default of the broker.heap-growing-percent attribute */
export const DEFAULT_HEAP_GROWING_PERCENT = 50;

/**
 * hold the old generation to (1 + percent/100) times what the last full collection left live; 0: V8 decides (0 is
 * V8's default, and a flag at its default leaves the code caches' stamp as it was: measured)
 */
export function holdHeapGrowth(percent: number): void {
  setFlagsFromString(`--heap-growing-percent=${percent}`);
}
