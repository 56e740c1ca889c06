/**
 * The fault suite (issue 26): every case a bad input a desktop tool meets, run through the real
 * `vrft` in a copy of a small workspace. Each must end in a clean error — a non-zero exit and a
 * message naming what and where, no stack trace — with the workspace's rows and every file in
 * its folder unchanged, inside its time limit, leaving no process behind. The totals are printed
 * at the end (cases / clean errors / crashes / hangs / data lost).
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFault, totals, type FaultCase, type FaultResult } from '../support/faults';
import { shapesWorkspace } from '../support/workspace';
import { configCases } from './faults/configCases';
import { exportCases } from './faults/exportCases';
import { importCases } from './faults/importCases';
import { modelCases } from './faults/modelCases';

const suites: Record<string, FaultCase[]> = {
  import: importCases,
  config: configCases,
  model: modelCases,
  export: exportCases,
};

let root: string;
let baseline: string;
const results: FaultResult[] = [];

beforeAll(() => {
  if (!existsSync('out/main/cli.js')) throw new Error('The CLI is not built: run `npm run build` first.');
  root = mkdtempSync(path.join(os.tmpdir(), 'vrft-faults-'));
  baseline = shapesWorkspace(path.join(root, 'baseline'), 4);
}, 120_000);

afterAll(() => {
  process.stdout.write(`\n${totals(results)}\n`);
  for (const r of results.filter((x) => x.outcome !== 'clean')) {
    process.stdout.write(`  ${r.outcome}: ${r.group} · ${r.name}: ${r.detail}\n`);
  }
  rmSync(root, { recursive: true, force: true });
});

for (const [group, cases] of Object.entries(suites)) {
  describe(group, () => {
    cases.forEach((c, i) => {
      it(
        c.name,
        async () => {
          const dir = path.join(root, `${group}-${i}`);
          mkdirSync(dir);
          const data = path.join(dir, 'data');
          cpSync(baseline, data, { recursive: true });
          const result = await runFault(c, { dir, data });
          results.push(result);
          expect(result, result.detail).toMatchObject({ outcome: 'clean' });
        },
        ((c.limit ?? 30) + 30) * 1000,
      );
    });
  });
}
