/**
 * Trace replay over a workspace: the store's queries against what was inserted, migration 3's
 * flags and trigram index kept in step by the triggers, and `vrft traces` (table and --json).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addAnnotation } from '../../src/main/store/annotations';
import { addCategory } from '../../src/main/store/categories';
import { createDataset } from '../../src/main/store/datasets';
import { openStore, workspaceDbPath, type Db } from '../../src/main/store/db';
import { addImage } from '../../src/main/store/images';
import { insertRollouts, type RolloutInput } from '../../src/main/store/rollouts';
import { addRunWarning, createRun, insertMetrics, rollBackRunAfter } from '../../src/main/store/runs';
import {
  nearestPromptStep,
  rolloutGroup,
  searchRollouts,
  stepPrompts,
  traceSteps,
  traceWarnings,
} from '../../src/main/store/traces';
import { traceGroup } from '../../src/main/host/traceHandlers';
import { fakeStep } from '../support/rollouts';
import { vrft } from '../support/workspace';

let dir: string;
let db: Db;
let run: number;
let other: number;
let all: RolloutInput[];
const shape = { steps: 12, promptsPerStep: 3, numGenerations: 4 };

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-traces-'));
  db = openStore(workspaceDbPath(dir));
  const dataset = createDataset(db, { name: 'shapes' });
  const circle = addCategory(db, { datasetId: dataset.id, name: 'circle' });
  const star = addCategory(db, { datasetId: dataset.id, name: 'star' });
  const image = addImage(db, {
    datasetId: dataset.id,
    path: '/nowhere.png',
    sha256: 'a',
    width: 64,
    height: 48,
  });
  addAnnotation(db, { imageId: image, categoryId: circle.id, box: { x1: 1, y1: 2, x2: 20, y2: 30 } });
  addAnnotation(db, { imageId: image, categoryId: star.id, box: { x1: 30, y1: 5, x2: 50, y2: 25 } });
  run = createRun(db, { kind: 'grpo', config: { steps: 12, task: 'detection' }, datasetId: dataset.id });
  other = createRun(db, { kind: 'grpo', config: { steps: 12, rewards: { iou: 2, format: 1 } } });
  all = [];
  for (let s = 1; s <= shape.steps; s++) {
    const rows = fakeStep({ ...shape, imageIds: [image], seed: 5 }, s);
    all.push(...rows);
    insertRollouts(db, run, rows);
    if (s % 3 === 0) insertRollouts(db, other, fakeStep({ ...shape, imageIds: [image], seed: 6 }, s));
  }
  addRunWarning(db, run, { kind: 'zero_std', step: 4, message: 'no reward spread' });
  insertMetrics(db, run, [{ step: 7, key: 'warnings/completion_length', value: 1 }]);
});
afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const isFormatFailure = (r: RolloutInput) => r.rewards.format === 0;
const hasDuplicate = (r: RolloutInput) => JSON.stringify(r.parsed).includes('exact duplicate');

describe('trace queries', () => {
  it('summarises every step as the rollouts say', () => {
    const steps = traceSteps(db, run);
    expect(steps.map((s) => s.step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    for (const s of steps) {
      const rows = all.filter((r) => r.step === s.step);
      expect(s.rollouts).toBe(rows.length);
      expect(s.prompts).toBe(3);
      expect(s.meanReward).toBeCloseTo(rows.reduce((a, r) => a + r.reward, 0) / rows.length, 9);
      expect(s.formatFailures).toBe(rows.filter(isFormatFailure).length);
      expect(s.truncated).toBe(rows.filter((r) => r.truncated).length);
      const keys = [...new Set(rows.map((r) => r.promptKey))];
      const flat = keys
        .map((k) => rows.filter((r) => r.promptKey === k))
        .filter((g) => g.every((r) => r.reward === g[0]!.reward));
      expect(s.zeroStdGroups).toBe(flat.length);
    }
  });

  it('keeps warnings from the store and from warnings/<kind> metrics', () => {
    expect(traceWarnings(db, run)).toEqual([
      { kind: 'zero_std', step: 4, message: 'no reward spread' },
      { kind: 'completion_length', step: 7, message: 'completion length' },
    ]);
  });

  it("lists a step's prompts and opens a group in sample order", () => {
    const prompts = stepPrompts(db, run, 5);
    expect(prompts).toHaveLength(3);
    const key = prompts[0]!.promptKey;
    const expected = all.filter((r) => r.step === 5 && r.promptKey === key);
    expect(prompts[0]!.bestAdvantage).toBeCloseTo(Math.max(...expected.map((r) => r.advantage)), 9);
    expect(prompts[0]!.worstAdvantage).toBeCloseTo(Math.min(...expected.map((r) => r.advantage)), 9);
    const group = rolloutGroup(db, run, 5, key);
    expect(group.map((r) => r.sampleIndex)).toEqual([0, 1, 2, 3]);
    expect(group.map((r) => [r.reward, r.advantage, r.rewards])).toEqual(
      expected.map((r) => [r.reward, r.advantage, r.rewards]),
    );
  });

  it('gives the group its ground truth of the asked category and the run’s weights', () => {
    const key = stepPrompts(db, run, 1).find((p) => p.promptKey.endsWith(': star'))!.promptKey;
    const group = traceGroup(db, run, 1, key);
    expect(group.asked).toBe('star');
    expect(group.image).toEqual({ width: 64, height: 48 });
    expect(group.truth).toEqual([{ x1: 30, y1: 5, x2: 50, y2: 25, label: 'star' }]);
    expect(group.weights).toEqual({ iou: 1, confidence: 1, format: 1 });
    expect(() => traceGroup(db, run, 99, key)).toThrow(/no rollouts/);
  });

  it('searches the run: sorts, filters and pages', () => {
    const page = (q: Parameters<typeof searchRollouts>[2]) => searchRollouts(db, run, q);
    const best = page({ sort: 'advantage-desc', offset: 0, limit: 5 });
    expect(best.total).toBe(all.length);
    expect(best.items[0]!.advantage).toBeCloseTo(Math.max(...all.map((r) => r.advantage)), 9);
    const worst = page({ sort: 'advantage-asc', offset: 0, limit: 5 });
    expect(worst.items[0]!.advantage).toBeCloseTo(Math.min(...all.map((r) => r.advantage)), 9);
    const second = page({ sort: 'step', offset: 5, limit: 5 });
    expect(second.items.map((r) => r.step)).toEqual([1, 1, 1, 1, 1]);

    expect(page({ sort: 'step', truncated: true, offset: 0, limit: 200 }).total).toBe(
      all.filter((r) => r.truncated).length,
    );
    expect(page({ sort: 'step', formatFailures: true, offset: 0, limit: 200 }).total).toBe(
      all.filter(isFormatFailure).length,
    );
    const dupes = page({ sort: 'step', duplicateBoxes: true, offset: 0, limit: 200 });
    expect(dupes.total).toBe(all.filter(hasDuplicate).length);
    expect(dupes.total).toBeGreaterThan(0);
    const flat = page({ sort: 'step', zeroStd: true, offset: 0, limit: 200 });
    expect(flat.total).toBe(traceSteps(db, run).reduce((a, s) => a + s.zeroStdGroups, 0) * 4);
    const text = page({ sort: 'step', text: 'A STAR at', offset: 0, limit: 200 });
    expect(text.total).toBe(all.filter((r) => r.completion.toLowerCase().includes('a star at')).length);
    expect(text.total).toBeGreaterThan(0);
  });

  it('finds the same prompt in another run at its nearest step', () => {
    const key = stepPrompts(db, other, 3)[0]!.promptKey;
    // The other run asks it at steps 3 and 9 (its prompts cycle every six).
    expect(nearestPromptStep(db, other, key, 4)).toBe(3);
    expect(nearestPromptStep(db, other, key, 6)).toBe(3);
    expect(nearestPromptStep(db, other, key, 7)).toBe(9);
    expect(nearestPromptStep(db, other, key, 100)).toBe(9);
    expect(nearestPromptStep(db, other, 'never asked', 4)).toBeNull();
  });

  it('drops the flags and the text index of rolled-back steps', () => {
    const scratch = createRun(db, { kind: 'grpo', config: {} });
    insertRollouts(db, scratch, fakeStep({ ...shape, imageIds: [null], seed: 7 }, 1));
    insertRollouts(db, scratch, fakeStep({ ...shape, imageIds: [null], seed: 7 }, 2));
    rollBackRunAfter(db, scratch, 1);
    const q = { sort: 'step' as const, offset: 0, limit: 200 };
    expect(searchRollouts(db, scratch, { ...q, text: 'think' }).items.every((r) => r.step === 1)).toBe(true);
    const flags = db
      .prepare('SELECT count(*) AS n FROM rollout_flag WHERE run_id = ? AND step = 2')
      .get(scratch);
    expect(flags).toEqual({ n: 0 });
  });
});

describe('vrft traces', () => {
  it('prints the steps with their warnings, a step’s prompts, and a group', () => {
    const steps = vrft('traces', String(run), '--data', dir);
    expect(steps.code, steps.stderr).toBe(0);
    expect(steps.stdout).toMatch(/step\s+prompts\s+rollouts\s+reward/);
    expect(steps.stdout).toMatch(/^\s+4\s.*zero_std$/m);
    const key = stepPrompts(db, run, 5)[0]!.promptKey;
    const prompts = vrft('traces', String(run), '--step', '5', '--data', dir);
    expect(prompts.stdout).toContain(key);
    const group = vrft('traces', String(run), '--step', '5', '--prompt', key, '--data', dir);
    expect(group.code, group.stderr).toBe(0);
    expect(group.stdout).toMatch(/sample\s+iou\s+confidence\s+format\s+total\s+advantage/);
    expect(group.stdout).toContain(`#0: ${all.find((r) => r.step === 5 && r.promptKey === key)!.completion}`);
  });

  it('--json prints one document with the same numbers', () => {
    const key = stepPrompts(db, run, 5)[0]!.promptKey;
    const out = vrft('traces', String(run), '--step', '5', '--prompt', key, '--json', '--data', dir);
    const group = JSON.parse(out.stdout);
    expect(group.rollouts.map((r: { advantage: number }) => r.advantage)).toEqual(
      rolloutGroup(db, run, 5, key).map((r) => r.advantage),
    );
    const summary = JSON.parse(vrft('traces', String(run), '--json', '--data', dir).stdout);
    expect(summary.steps).toHaveLength(12);
    expect(summary.warnings).toHaveLength(2);
  });

  it('says what is wrong with a run that is not GRPO or a prompt without a step', () => {
    const sft = createRun(db, { kind: 'sft', config: {} });
    expect(vrft('traces', String(sft), '--data', dir)).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/only GRPO runs keep rollouts/),
    });
    expect(vrft('traces', String(run), '--prompt', 'x', '--data', dir).stderr).toMatch(
      /--prompt needs --step/,
    );
  });
});
