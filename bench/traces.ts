// Traces budgets: opening a step's group < 200 ms and searching completions < 500 ms with 200,000
// rollouts in the workspace (one GRPO run of 6,250 steps × 4 prompts × 8 samples). Times the store
// queries the Traces view calls, each the best of 5 (after one warm-up, as a second open would be).
// Prints figures; asserts nothing. Usage: node bench/ts.js bench/traces.ts [rollouts]
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { openStore, transaction, workspaceDbPath } from '../src/main/store/db';
import { insertRollouts } from '../src/main/store/rollouts';
import { createRun } from '../src/main/store/runs';
import {
  nearestPromptStep,
  rolloutGroup,
  searchRollouts,
  stepPrompts,
  traceSteps,
  type TraceSearch,
} from '../src/main/store/traces';
import { traceGroup } from '../src/main/host/traceHandlers';
import { calls } from '../src/shared/contract';
import { fakeStep } from '../test/support/rollouts';

const total = Number(process.argv[2] ?? 200_000);
const shape = { promptsPerStep: 4, numGenerations: 8, imageIds: Array.from({ length: 50 }, () => null) };
const steps = Math.ceil(total / (shape.promptsPerStep * shape.numGenerations));

const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-bench-traces-'));
try {
  const db = openStore(workspaceDbPath(dir));
  const run = createRun(db, { kind: 'grpo', config: { steps } });
  const other = createRun(db, { kind: 'grpo', config: { steps: 100 } });
  const filled = performance.now();
  transaction(db, () => {
    for (let s = 1; s <= steps; s++) insertRollouts(db, run, fakeStep({ ...shape, steps, seed: 1 }, s));
    for (let s = 1; s <= 100; s++) insertRollouts(db, other, fakeStep({ ...shape, steps: 100, seed: 2 }, s));
  });
  const fillMs = performance.now() - filled;
  const rows = (db.prepare('SELECT count(*) AS n FROM rollout').get() as { n: number }).n;
  db.pragma('wal_checkpoint(TRUNCATE)');
  const mb = statSync(workspaceDbPath(dir)).size / 1e6;
  console.log(
    `${rows} rollouts in ${steps + 100} steps written in ${(fillMs / 1000).toFixed(1)} s ` +
      `(${((fillMs / rows) * 1000).toFixed(0)} µs a rollout, trigram index included); file ${mb.toFixed(0)} MB`,
  );

  const time = (label: string, fn: () => unknown, budget?: number) => {
    fn();
    const times: number[] = [];
    let out: unknown;
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      out = fn();
      times.push(performance.now() - t);
    }
    const best = Math.min(...times);
    const size = Array.isArray(out) ? `${out.length} rows` : '';
    console.log(
      `${label.padEnd(58)} ${best.toFixed(2).padStart(8)} ms ${budget ? `(budget ${budget} ms)` : ''} ${size}`,
    );
  };
  const mid = Math.floor(steps / 2);
  const key = stepPrompts(db, run, mid)[0]!.promptKey;
  time('traces.group: one step’s group of 8', () => rolloutGroup(db, run, mid, key), 200);
  time('traces.prompts: one step’s prompts', () => stepPrompts(db, run, mid), 200);
  time(
    'open a group (prompts + group)',
    () => [stepPrompts(db, run, mid), rolloutGroup(db, run, mid, key)],
    200,
  );
  time(
    'traces.group as the host answers it (+ truth, zod output check)',
    () => calls['traces.group'].output.parse(traceGroup(db, run, mid, key)).rollouts,
    200,
  );
  time('traces.nearest: the prompt in another run', () => nearestPromptStep(db, other, key, mid));
  time(`traces.steps: ${steps} step summaries`, () => traceSteps(db, run));
  const search = (q: Partial<TraceSearch>) => () =>
    searchRollouts(db, run, { sort: 'advantage-desc', offset: 0, limit: 50, ...q });
  time('search: highest advantage, page 1', search({}));
  time('search: lowest advantage, page 40', search({ sort: 'advantage-asc', offset: 2000 }));
  time('search: text "hexagon at the top" (trigram index)', search({ text: 'hexagon at the top' }), 500);
  time('search: text "Position\': [380, 2" (rare)', search({ text: "Position': [380, 2" }), 500);
  time('search: text "hex" (3 characters)', search({ text: 'hex' }), 500);
  time('search: truncated', search({ truncated: true }));
  time('search: format failures', search({ formatFailures: true }));
  time('search: duplicate boxes', search({ duplicateBoxes: true }));
  time('search: zero-std groups', search({ zeroStd: true }));
  time('search: all filters + text', search({ formatFailures: true, truncated: true, text: 'star' }), 500);
  db.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
