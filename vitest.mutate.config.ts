import { defineConfig } from 'vitest/config';

// The tests a mutation run may use: those that run the code in this process (a broker started as a child runs
// dist/, which mutants never reach, so e2e tests would only cost time).
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/properties/**/*.test.ts', 'test/linearizability/*.test.ts', 'src/**/*.test.ts'],
    // these start brokers, overlay peers or store openers as child processes, which run the built code
    exclude: ['test/linearizability/real-instance.test.ts', 'test/properties/replay.property.test.ts', 'test/unit/overlay.test.ts', 'test/unit/pmi.test.ts', 'test/unit/content-store.test.ts'],
    testTimeout: 30000,
    hookTimeout: 30000,
  },
});
