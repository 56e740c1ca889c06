/**
 * The fault suite's totals (issue 26), over every test file that tries a fault: the case table
 * (faultSuite.test.ts: import, config, model, export, server), the kill -9 points, the full and
 * read-only disks and the damaged or shared workspaces. A test says what it counts with
 * `tallyFault`; at the end of the run this prints one line of totals and each case that was not
 * clean. A run that tried no fault (one unrelated file) prints nothing.
 */
import type { Reporter, TestCase, TestModule } from 'vitest/node';
import type { Outcome } from './support/faults';

export interface Tally {
  /** The row of the totals it counts in. */
  group: string;
  /** How many cases the test tries (a test that kills a trainer at 6 points tries 6). */
  cases: number;
  /** Where the test sorts its own outcome (the case table); otherwise passed is clean. */
  outcome?: Outcome;
  detail?: string;
  knownBug?: string;
}

/** Marks the running test as `cases` fault cases of `group`, for the totals. */
export function tallyFault(task: { meta: object }, tally: Tally): void {
  (task.meta as { fault?: Tally }).fault = tally;
}

const labels: [Outcome, string][] = [
  ['clean', 'clean'],
  ['crash', 'crashes'],
  ['hang', 'hangs'],
  ['lost', 'data lost'],
  ['leftover', 'processes left'],
  ['accepted', 'accepted'],
  ['unclear', 'unclear messages'],
];

/** A test that sorts no outcome of its own: passed is clean; failed is a hang or a wrong state. */
function outcomeOf(test: TestCase, tally: Tally): Outcome | undefined {
  if (tally.outcome) return tally.outcome;
  const result = test.result();
  if (result.state === 'passed') return 'clean';
  if (result.state !== 'failed') return undefined;
  return result.errors.some((e) => /timed out/i.test(e.message)) ? 'hang' : 'lost';
}

export default class FaultReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const groups = new Map<string, number>();
    const counts = new Map<Outcome, number>();
    const notClean: string[] = [];
    for (const module of modules) {
      for (const test of module.children.allTests()) {
        const tally = (test.meta() as { fault?: Tally }).fault;
        const outcome = tally && outcomeOf(test, tally);
        if (!tally || !outcome) continue;
        groups.set(tally.group, (groups.get(tally.group) ?? 0) + tally.cases);
        counts.set(outcome, (counts.get(outcome) ?? 0) + tally.cases);
        if (outcome === 'clean') continue;
        notClean.push(`  ${outcome}: ${test.fullName}${tally.detail ? `: ${tally.detail}` : ''}`);
        if (tally.knownBug) notClean.push(`    (a known bug, not fixed yet: ${tally.knownBug})`);
      }
    }
    if (groups.size === 0) return;
    const total = [...groups.values()].reduce((a, b) => a + b, 0);
    const byGroup = [...groups].map(([group, n]) => `${n} ${group}`).join(', ');
    const byOutcome = labels.map(([o, label]) => `${counts.get(o) ?? 0} ${label}`).join(' · ');
    console.log(`\nfault suite: ${total} cases (${byGroup}) · ${byOutcome}`);
    for (const line of notClean) console.log(line);
  }
}
