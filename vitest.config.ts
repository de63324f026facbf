import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30000,
    hookTimeout: 30000,
    // e2e tests start real broker processes: keep the 2-core machine from being oversubscribed
    maxWorkers: 2,
    // the json report is what .ci/run counts; the default reporter is what a person reads
    reporters: ['default', 'json'],
    outputFile: { json: '.test-results/results.json' },
  },
});
