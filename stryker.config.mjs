// Mutation testing of the spine, one group of files at a time (MUTATE_GROUP=name; every group when unset).
// scripts/mutate.mjs runs the groups one after another and prints each one's score.
import { readFileSync } from 'node:fs';

/**
 * The lines of `file` from the first that holds `from` up to the one before the next that holds `to`, as Stryker
 * takes a range: found by text, so that the range follows the code when lines move.
 */
function span(file, from, to) {
  const lines = readFileSync(new URL(file, import.meta.url), 'utf8').split('\n');
  const a = lines.findIndex((l) => l.includes(from));
  const b = lines.findIndex((l, i) => i > a && l.includes(to));
  if (a < 0 || b < 0) throw new Error(`${file}: no lines from "${from}" to "${to}"`);
  return `${file}:${a + 1}-${b}`;
}

export const GROUPS = {
  journal: ['src/core/journal/entry.ts', 'src/core/journal/store.ts', 'src/core/journal/verify.ts', 'src/core/journal/replica.ts', 'src/core/journal/sync-policy.ts'],
  kvs: ['src/core/kvs/tree.ts', 'src/core/kvs/format.ts', 'src/core/kvs/format-json.ts', 'src/core/kvs/format-eventlog.ts'],
  codec: ['src/core/wire/message.ts', 'src/core/wire/framing.ts'],
  projections: ['src/projections/*.ts'],
  checker: ['src/verify/linearizability.ts', 'src/verify/kvs-model.ts', 'src/verify/replica-reads.ts'],
  // the gate every request passes, and the rules services hold guests to themselves
  roles: [
    span('src/broker/registry.ts', '  dispatch(msg: Message): void {', '  private find('),
    'src/services/kvs/access.ts',
    span('src/services/kvs-history.ts', '  function checkAccess(', '  let atTime'),
    span('src/services/kvs-watch.ts', "kvs answers this broker with the owner's rights", '    if (w.from !== undefined)'),
    span('src/services/job-ingest.ts', '  function check(', '  function forward('),
  ],
};

const group = process.env.MUTATE_GROUP;
const mutate = group === undefined ? Object.values(GROUPS).flat() : GROUPS[group];
if (mutate === undefined) throw new Error(`no mutation group ${group} (groups: ${Object.keys(GROUPS).join(', ')})`);
const name = group ?? 'all';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts', related: true },
  coverageAnalysis: 'perTest',
  checkers: [],
  // the sandbox keeps the project's layout, so no tsconfig needs its paths rewritten; and typescript 7 has no
  // JavaScript API for the rewriter to parse one with
  tsconfigFile: 'none',
  mutate,
  concurrency: Number(process.env.MUTATE_CONCURRENCY ?? 2),
  timeoutMS: 20000,
  reporters: ['html', 'json', 'clear-text', 'progress'],
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  // one directory per group, so that groups can run side by side
  tempDirName: `.stryker-tmp/${name}`,
  ignorePatterns: ['dist', 'lib', 'reports', '.test-results', '.stryker-tmp', '.bench-state-*'],
  cleanTempDir: 'always',
  ignoreStatic: true,
  thresholds: { high: 90, low: 85, break: null },
};
