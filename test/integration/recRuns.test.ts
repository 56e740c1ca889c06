/**
 * Referring expressions on the user's own data through the CLI: a workspace whose boxes carry
 * expressions trains SFT and GRPO with task rec on the shipped tiny-vlm, evaluates Acc@0.5 (with
 * `--model` and with `--run`, which takes the task from the run), and compares two evaluations;
 * the host shows the same (run list, traces, Compare view), scale-out exports it, and
 * classification asks every image with an image-level label.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDatasetAnnotations, updateAnnotation } from '../../src/main/store/annotations';
import { listCategories } from '../../src/main/store/categories';
import { setImageLabel } from '../../src/main/store/labels';
import { openStore, workspaceDbPath } from '../../src/main/store/db';
import { listAnswers } from '../../src/main/store/evaluations';
import { readPlan } from '../../src/main/scaleOut/plan';
import { countRollouts, listRollouts } from '../../src/main/store/rollouts';
import { getRun, listMetrics } from '../../src/main/store/runs';
import { listSplitImageIds, findSplit } from '../../src/main/store/splits';
import type { RunSummary } from '../../src/shared/contract';
import { hostWithClient } from '../support/host';
import { shapesWorkspaceWithSplit, vrft } from '../support/workspace';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-rec-'));
const data = path.join(dir, 'ws');
const model = path.resolve('resources/models/tiny-vlm-base');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function withDb<T>(fn: (db: ReturnType<typeof openStore>) => T): T {
  const db = openStore(workspaceDbPath(data));
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

function config(name: string, fields: Record<string, unknown>): string {
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ task: 'rec', dataset: 'shapes', model, ...fields }));
  return file;
}

beforeAll(() => {
  shapesWorkspaceWithSplit(data, 6);
}, 120_000);

/** How many boxes of the evaluation split have an expression. */
let expressions = 0;

/** Expressions on the evaluation split's first boxes (two per category at most) and two training boxes. */
function addExpressions(): void {
  withDb((db) => {
    const names = new Map(listCategories(db, 1).map((c) => [c.id, c.name]));
    const evalImages = new Set(listSplitImageIds(db, findSplit(db, 1, '1-shot-eval')!.id));
    const perCategory = new Map<string, number>();
    let training = 0;
    for (const a of listDatasetAnnotations(db, 1)) {
      const name = names.get(a.categoryId)!;
      const inEval = evalImages.has(a.imageId);
      if (inEval ? (perCategory.get(name) ?? 0) >= 2 : training >= 2) continue;
      if (inEval) perCategory.set(name, (perCategory.get(name) ?? 0) + 1);
      else training++;
      const side = a.x1 + a.x2 < 64 ? 'left' : 'right';
      updateAnnotation(db, a.id, { expression: `the ${name} on the ${side}` });
      expressions += inEval ? 1 : 0;
    }
  });
}

describe('task rec through the CLI', () => {
  it('refuses a dataset without expressions, saying how to add them', () => {
    const r = vrft('train', '--method', 'sft', '--config', config('none', { steps: 1 }), '--data', data);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/No box of "shapes" has a referring expression: type one .*annotator/);
    // Refused before a run exists: the next run is run 1.
    withDb((db) => expect(getRun(db, 1)).toBeUndefined());
  }, 300_000);

  it('trains SFT and GRPO on the expressions, storing rollouts scored by rec_iou', () => {
    addExpressions();
    expect(expressions).toBeGreaterThan(0);
    const sft = vrft(
      'train',
      '--method',
      'sft',
      '--config',
      config('sft', {
        steps: 2,
        batchSize: 2,
        learningRate: 1e-5,
        trainThink: true,
        thinkTemplate: 'Locate {expression}: {objects}',
        evalSplit: '1-shot-eval',
      }),
      '--data',
      data,
    );
    expect(sft.code, sft.stderr).toBe(0);
    const grpo = vrft(
      'train',
      '--method',
      'grpo',
      '--config',
      config('grpo', {
        steps: 1,
        promptsPerStep: 1,
        numGenerations: 2,
        maxCompletionLength: 48,
        learningRate: 1e-5,
      }),
      '--data',
      data,
    );
    expect(grpo.code, grpo.stderr).toBe(0);
    withDb((db) => {
      const sftRun = getRun(db, 1)!;
      expect(sftRun).toMatchObject({ kind: 'sft', status: 'completed' });
      expect(listMetrics(db, 1, 'loss').map((m) => m.step)).toEqual([1, 2]);
      expect(getRun(db, 2)).toMatchObject({ kind: 'grpo', status: 'completed' });
      expect(countRollouts(db, 2)).toBe(2);
      const rollouts = listRollouts(db, 2, 1);
      expect(Object.keys(rollouts[0]!.rewards).sort()).toEqual(['format', 'rec_iou']);
      expect(rollouts[0]!.prompt).toMatch(/^Locate the \w+ on the (left|right)\.$/);
      expect(rollouts[0]!.promptKey).toMatch(/^image \d+: the \w+ on the (left|right)#\d+$/);
    });
  }, 300_000);

  it('evaluates Acc@0.5 of a model folder and of a run, and compares the two', () => {
    const base = vrft(
      'eval',
      '--model',
      model,
      '--dataset',
      'shapes',
      '--split',
      '1-shot-eval',
      '--task',
      'rec',
      '--max-new-tokens',
      '80',
      '--data',
      data,
      '--json',
    );
    expect(base.code, base.stderr).toBe(0);
    const evaluation = JSON.parse(base.stdout) as {
      id: number;
      metrics: Record<string, number>;
      perCategory: Record<string, Record<string, number>>;
    };
    expect(Object.keys(evaluation.metrics).sort()).toEqual(['acc50', 'answers', 'formatOk', 'meanIoU']);
    expect(evaluation.metrics.answers).toBe(expressions);
    const perCategory = Object.values(evaluation.perCategory);
    expect(perCategory.length).toBeGreaterThan(0);
    for (const c of perCategory) expect(Object.keys(c).sort()).toEqual(['acc50', 'items']);
    expect(perCategory.reduce((n, c) => n + c.items!, 0)).toBe(expressions);

    // The SFT run's model, the task read from its config.
    const tuned = vrft('eval', '--run', '1', '--max-new-tokens', '80', '--data', data);
    expect(tuned.code, tuned.stderr).toBe(0);
    expect(tuned.stdout).toMatch(
      /Acc@0\.5 \d+\.\d%\s+mean IoU \d\.\d{3}\s+valid format .*\(\d+ expressions\)/,
    );
    const tunedRun = Number(/evaluation run (\d+)/.exec(tuned.stdout)![1]);
    withDb((db) => {
      expect(getRun(db, tunedRun)!.config.task).toBe('rec');
      const predictions = listAnswers(db, evaluation.id);
      expect(predictions.length).toBe(expressions);
      for (const p of predictions) {
        // The score is the IoU with the expression's box; the completion is kept.
        expect(p.score).toBeGreaterThanOrEqual(0);
        expect(p.score).toBeLessThanOrEqual(1);
        expect(p.completion.length).toBeGreaterThan(0);
      }
    });

    const table = vrft(
      'compare',
      String(tunedRun - 1),
      String(tunedRun),
      '--resamples',
      '50',
      '--data',
      data,
    );
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^Acc@0\.5 \(IoU > 0\.5\) in %, per category of the expressions/);
    expect(table.stdout).toMatch(/all expressions/);
    expect(table.stdout).toMatch(/over the \d+ evaluation expressions|no interval/);
  }, 300_000);

  it("shows through the contract: the runs' task, Acc@0.5 figures, an evaluation started there, the REC comparison", async () => {
    const { host, client } = await hostWithClient(data, dir);
    try {
      const listed = async (id: number): Promise<RunSummary> =>
        (await client.call('runs.list', {})).find((r) => r.id === id)!;
      expect((await listed(1)).task).toBe('rec');
      const base = await listed(3);
      expect(base.evaluation).toMatchObject({ figureName: 'Acc@0.5', splitName: '1-shot-eval' });
      const evalSplit = (await client.call('splits.list', { datasetId: 1 })).find(
        (x) => x.name === '1-shot-eval',
      )!;
      const { runId } = await client.call('runs.evaluate', { id: 2, splitId: evalSplit.id });
      await expect
        .poll(async () => (await listed(runId)).status, { timeout: 240_000, interval: 500 })
        .toBe('completed');
      const evaluated = await listed(runId);
      expect(evaluated.task).toBe('rec');
      expect(evaluated.evaluation).toMatchObject({ figureName: 'Acc@0.5' });

      // The trace viewer's group: the expression asked and its one box as the truth.
      const [prompt] = await client.call('traces.prompts', { runId: 2, step: 1 });
      const group = await client.call('traces.group', { runId: 2, step: 1, promptKey: prompt!.promptKey });
      expect(group.asked).toMatch(/^the \w+ on the (left|right)$/);
      expect(group.truth).toHaveLength(1);
      expect(group.weights).toEqual({ rec_iou: 1, format: 1 });

      const table = await client.call('compare.table', { runIds: [3, runId], resamples: 0 });
      expect(table.metric).toBe('rec');
      expect(Object.keys(table.categories).length).toBeGreaterThan(0);
      const answers = await client.call('compare.answers', { runIds: [3, runId] });
      const withExpressions = answers.items.filter((item) => item.truth.length > 0);
      expect(withExpressions.reduce((n, item) => n + item.truth.length, 0)).toBe(expressions);
      for (const item of withExpressions)
        for (const answer of item.answers) {
          // Each expression's own completion, named by the expression.
          expect(answer.completions.map((c) => c.category)).toEqual(
            expect.arrayContaining([expect.stringMatching(/^the \w+ on the (left|right)$/)]),
          );
          expect(answer.figure).toBeGreaterThanOrEqual(0);
          expect(answer.figure).toBeLessThanOrEqual(1);
        }
    } finally {
      client.close();
      await host.close();
    }
  }, 300_000);

  it('exports a GRPO rec run for TRL with the same REC prompts and one-box solutions', () => {
    const qwen2 = path.resolve('test/fixtures/qwen/qwen2-vl/checkpoint');
    const r = vrft(
      'scale-out',
      'export',
      '--config',
      config('scale-out', { model: qwen2, steps: 2 }),
      '--out',
      path.join(dir, 'trl'),
      '--data',
      data,
      '--json',
    );
    expect(r.code, r.stderr).toBe(0);
    const plan = readPlan(data, (JSON.parse(r.stdout) as { runId: number }).runId);
    expect(plan.rewards).toEqual({ rec_iou: 1, format: 1 });
    expect(plan.samples.length).toBeGreaterThanOrEqual(expressions);
    for (const sample of plan.samples) {
      expect(sample.solution.boxes).toHaveLength(1);
      expect(sample.prompt).toMatch(/the \w+ on the (left|right)/);
    }
  }, 120_000);

  it('classifies by image labels: an image with boxes of several categories is asked once it has a label', () => {
    const classified = () => {
      const r = vrft(
        'eval',
        '--model',
        model,
        '--dataset',
        'shapes',
        '--task',
        'classification',
        '--max-new-tokens',
        '40',
        '--data',
        data,
        '--json',
      );
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { metrics: { answers: number } }).metrics.answers;
    };
    const mixed = withDb((db) => {
      const byImage = new Map<number, Set<number>>();
      for (const a of listDatasetAnnotations(db, 1))
        byImage.set(a.imageId, (byImage.get(a.imageId) ?? new Set()).add(a.categoryId));
      return [...byImage].filter(([, categories]) => categories.size > 1);
    });
    expect(mixed.length).toBeGreaterThan(0);
    const before = classified();
    withDb((db) => {
      for (const [imageId, categories] of mixed) setImageLabel(db, imageId, [...categories][0]!);
    });
    expect(classified()).toBe(before + mixed.length);
  }, 300_000);
});
