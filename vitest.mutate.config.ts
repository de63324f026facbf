import { defineConfig } from 'vitest/config';

/**
 * For the larger groups, the tests written for those files: each mutant is run against every test that reaches
 * it, and the slow properties of the whole system reach these files too without testing them more closely.
 */
const FOCUS: Record<string, string[]> = {
  kvs: ['test/unit/kvs-*.test.ts', 'test/unit/cmd-kvs.test.ts', 'test/properties/kvs.property.test.ts'],
  projections: ['test/unit/*projection*.test.ts', 'test/unit/entry-view.test.ts', 'test/unit/proctable.test.ts', 'test/unit/cron.test.ts', 'test/unit/job-exec.test.ts',
    'test/unit/replay-format.test.ts', 'test/properties/jobs.property.test.ts', 'test/properties/cron.property.test.ts',
    'test/properties/proctable.property.test.ts'],
};
const focus = FOCUS[process.env.MUTATE_GROUP ?? ''];

// The tests a mutation run may use: those that run the code in this process (a broker started as a child runs
// dist/, which mutants never reach, so e2e tests would only cost time).
export default defineConfig({
  test: {
    include: focus ?? ['test/unit/**/*.test.ts', 'test/properties/**/*.test.ts', 'test/linearizability/*.test.ts', 'src/**/*.test.ts'],
    // these start brokers, overlay peers or store openers as child processes, which run the built code
    exclude: ['test/linearizability/real-instance.test.ts', 'test/properties/replay.property.test.ts', 'test/unit/overlay.test.ts', 'test/unit/pmi.test.ts', 'test/unit/content-store.test.ts'],
    testTimeout: 30000,
    hookTimeout: 30000,
  },
});
