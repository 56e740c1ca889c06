import { defineConfig } from 'vitest/config';
import SummaryReporter from '../summary-reporter.ts';

export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/e2e/**/*.e2e.ts'],
    environment: 'node',
    reporters: ['default', new SummaryReporter('e2e')],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
