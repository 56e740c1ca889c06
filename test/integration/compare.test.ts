/**
 * Compare through the contract: the table is `vrft compare`'s, a run without an evaluation is a
 * message saying what to do, and the side-by-side answers carry each run's boxes, completions and a
 * per-image figure, sorted by where the runs disagree and filtered by category.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '../../src/shared/client';
import type { RunningHost } from '../../src/main/host/index';
import { compareInWorkspace } from '../../src/main/commands/compare';
import { addAnnotation } from '../../src/main/store/annotations';
import { addCategory } from '../../src/main/store/categories';
import { createDataset } from '../../src/main/store/datasets';
import { openStore, workspaceDbPath } from '../../src/main/store/db';
import { getEvaluation, saveEvaluation } from '../../src/main/store/evaluations';
import { addImage } from '../../src/main/store/images';
import { createRun } from '../../src/main/store/runs';
import { createSplit } from '../../src/main/store/splits';
import { hostWithClient } from '../support/host';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-compare-'));
const data = path.join(dir, 'data');
let host: RunningHost;
let client: Client;
const box = (x: number) => ({ x1: x, y1: 0, x2: x + 10, y2: 10 });

/**
 * Two images, each with one "cat" box. Run "good" finds both; run "poor" finds the first and puts
 * a "dog" box on the second (wrong); a third run has no evaluation.
 */
beforeAll(async () => {
  const db = openStore(workspaceDbPath(data));
  const datasetId = createDataset(db, { name: 'pets' }).id;
  const cat = addCategory(db, { datasetId, name: 'cat' }).id;
  const dog = addCategory(db, { datasetId, name: 'dog' }).id;
  const images = [0, 1].map((i) =>
    addImage(db, { datasetId, path: path.join(dir, `${i}.png`), sha256: String(i), width: 40, height: 20 }),
  );
  for (const imageId of images) addAnnotation(db, { imageId, categoryId: cat, box: box(5) });
  const splitId = createSplit(db, { datasetId, name: 'eval', kind: 'eval', imageIds: images });
  const evaluate = (name: string, predictions: Parameters<typeof saveEvaluation>[2]) => {
    const runId = createRun(db, { kind: 'eval', name, datasetId, splitId, config: {} });
    const perCategory = { cat: { ap: 0.5, ap50: 1 }, dog: { ap: -1, ap50: -1 } };
    saveEvaluation(db, { runId, splitId, metrics: { AP: 0.5, AP50: 1 }, perCategory }, predictions);
    return runId;
  };
  const ask = (imageId: number, categoryId: number, b: ReturnType<typeof box> | null, text: string) => ({
    imageId,
    categoryId,
    box: b,
    score: b ? 0.9 : null,
    completion: text,
  });
  evaluate('good', [
    ask(images[0]!, cat, box(5), 'a cat'),
    ask(images[0]!, dog, null, 'no dog'),
    ask(images[1]!, cat, box(5), 'a cat again'),
    ask(images[1]!, dog, null, 'no dog'),
  ]);
  evaluate('poor', [
    ask(images[0]!, cat, box(5), 'a cat'),
    ask(images[0]!, dog, null, 'no dog'),
    ask(images[1]!, cat, null, 'no cat'),
    ask(images[1]!, dog, box(5), 'a dog'),
  ]);
  createRun(db, { kind: 'sft', name: 'unevaluated', datasetId, config: {} });
  db.close();
  ({ host, client } = await hostWithClient(data, dir));
});
afterAll(async () => {
  client?.close();
  await host?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('compare through the contract', () => {
  it('tables the runs as vrft compare does, with each Δ interval measured off the event loop', async () => {
    const shown = await client.call('compare.table', { runIds: [1, 2], resamples: 200 });
    const db = openStore(workspaceDbPath(data));
    const expected = compareInWorkspace(
      db,
      [
        { label: 'good', runId: 1, evaluation: getEvaluation(db, 1)! },
        { label: 'poor', runId: 2, evaluation: getEvaluation(db, 2)! },
      ],
      200,
    );
    db.close();
    expect(shown.categories).toEqual(expected.categories);
    expect(shown.mean).toEqual(expected.mean);
    expect(shown.intervals).toEqual(expected.intervals);
    expect(shown.columns).toEqual([
      { label: 'good', runId: 1, evaluationRunId: 1, splitName: 'eval' },
      { label: 'poor', runId: 2, evaluationRunId: 2, splitName: 'eval' },
    ]);
    const labelled = await client.call('compare.table', {
      runIds: [1, 2],
      labels: ['base', 'RFT'],
      resamples: 0,
    });
    expect(labelled.columns.map((c) => c.label)).toEqual(['base', 'RFT']);
    expect(labelled.intervals).toEqual([]);
  });

  it('says to evaluate a run that has no evaluation', async () => {
    await expect(client.call('compare.table', { runIds: [1, 3] })).rejects.toMatchObject({
      message: expect.stringMatching(/Run 3 has no evaluation yet: evaluate it from the Train view/),
    });
  });

  it('answers each image with every run, most disagreement first, filtered by category', async () => {
    const page = await client.call('compare.answers', { runIds: [1, 2] });
    expect(page.total).toBe(2);
    expect(page.categories).toEqual(['cat', 'dog']);
    const [first, second] = page.items;
    // The second image: "good" matched its cat (1), "poor" missed it and drew a dog (0 of 2).
    expect(first).toMatchObject({ imageId: 2, disagreement: 1, truth: [{ category: 'cat', box: box(5) }] });
    expect(first!.answers.map((a) => [a.runId, a.figure])).toEqual([
      [1, 1],
      [2, 0],
    ]);
    expect(first!.answers[1]!.completions).toEqual([
      { category: 'cat', text: 'no cat' },
      { category: 'dog', text: 'a dog' },
    ]);
    expect(second).toMatchObject({ imageId: 1, disagreement: 0 });
    const inOrder = await client.call('compare.answers', {
      runIds: [1, 2],
      sort: 'image',
      limit: 1,
      offset: 1,
    });
    expect(inOrder.items.map((i) => i.imageId)).toEqual([2]);
    const dogs = await client.call('compare.answers', { runIds: [1, 2], category: 'dog' });
    expect(dogs.items.map((i) => i.imageId)).toEqual([2]);
  });
});
