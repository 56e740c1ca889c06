/**
 * The Compare view's per-image figure treats a crowd box as COCO does: not finding it is no miss,
 * and a box on it is no false positive.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { addAnnotation } from '../../src/main/store/annotations';
import { addCategory } from '../../src/main/store/categories';
import { createDataset } from '../../src/main/store/datasets';
import { openStore, workspaceDbPath } from '../../src/main/store/db';
import { saveEvaluation } from '../../src/main/store/evaluations';
import { addImage } from '../../src/main/store/images';
import { createRun } from '../../src/main/store/runs';
import { createSplit } from '../../src/main/store/splits';
import { hostWithClient } from '../support/host';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-compare-crowd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('scores an image without counting its crowd box as a miss or a box on it as wrong', async () => {
  const data = path.join(dir, 'data');
  const db = openStore(workspaceDbPath(data));
  const datasetId = createDataset(db, { name: 'people' }).id;
  const person = addCategory(db, { datasetId, name: 'person' }).id;
  const imageId = addImage(db, {
    datasetId,
    path: path.join(dir, '0.png'),
    sha256: '0',
    width: 40,
    height: 20,
  });
  const one = { x1: 0, y1: 0, x2: 10, y2: 10 };
  const crowd = { x1: 20, y1: 0, x2: 40, y2: 20 };
  addAnnotation(db, { imageId, categoryId: person, box: one });
  addAnnotation(db, { imageId, categoryId: person, box: crowd, crowd: true });
  const splitId = createSplit(db, { datasetId, name: 'eval', kind: 'eval', imageIds: [imageId] });
  const evaluate = (boxes: (typeof one)[]) => {
    const runId = createRun(db, { kind: 'eval', datasetId, splitId, config: {} });
    const metrics = { AP: 1, AP50: 1 };
    saveEvaluation(
      db,
      { runId, splitId, metrics, perCategory: { person: { ap: 1, ap50: 1 } } },
      boxes.map((box) => ({ imageId, categoryId: person, box, score: 0.9, completion: 'people' })),
    );
    return runId;
  };
  const justThePerson = evaluate([one]);
  const alsoTheCrowd = evaluate([one, crowd]);
  const onlyTheCrowd = evaluate([crowd]);
  db.close();
  const { host, client } = await hostWithClient(data, dir);
  try {
    const page = await client.call('compare.answers', {
      runIds: [justThePerson, alsoTheCrowd, onlyTheCrowd],
    });
    expect(page.items[0]!.answers.map((a) => a.figure)).toEqual([1, 1, 0]);
  } finally {
    client.close();
    await host.close();
  }
});
