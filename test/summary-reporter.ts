/**
 * Closes a vitest run with one plain line, `unit: N passed, N failed, N skipped`, that CI and
 * people read the same way; a run that executed no test fails.
 */
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  constructor(private readonly label = 'tests') {}

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const module of modules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') counts.passed += 1;
        else if (state === 'failed') counts.failed += 1;
        else counts.skipped += 1;
      }
    }
    console.log(`${this.label}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
    if (counts.passed + counts.failed === 0) {
      console.log(`${this.label}: no test ran`);
      process.exitCode = 1;
    }
  }
}
