import { defineConfig } from 'vitest/config';
import FaultReporter from './test/fault-reporter.ts';
import SummaryReporter from './test/summary-reporter.ts';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
    environment: 'node',
    reporters: ['default', new FaultReporter(), new SummaryReporter('unit')],
    testTimeout: 20_000,
    pool: 'forks',
  },
});
