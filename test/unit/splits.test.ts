import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Db } from '../../src/main/store/db';
import { createDataset } from '../../src/main/store/datasets';
import { addCategory } from '../../src/main/store/categories';
import { addImage, setImageFlags } from '../../src/main/store/images';
import { addAnnotation } from '../../src/main/store/annotations';
import { listSplitImageIds } from '../../src/main/store/splits';
import { createFewShotSplits, drawFewShot } from '../../src/main/data/splits';
import { createDatasetHandlers } from '../../src/main/host/datasetHandlers';
import { createDispatch, type Handlers } from '../../src/main/host/dispatch';

let db: Db;
let datasetId: number;
let next = 0;

/** `n` new images, each with one box of `category` (none when absent). */
function images(n: number, category?: number): number[] {
  return Array.from({ length: n }, () => {
    const i = next++;
    const id = addImage(db, { datasetId, path: `/x/${i}.png`, sha256: `h${i}`, width: 100, height: 80 });
    if (category !== undefined)
      addAnnotation(db, { imageId: id, categoryId: category, box: { x1: 0, y1: 0, x2: 5, y2: 5 } });
    return id;
  });
}

beforeEach(() => {
  db = openStore(':memory:');
  datasetId = createDataset(db, { name: 'd' }).id;
  next = 0;
});
afterEach(() => db.close());

describe('few-shot splits', () => {
  it('warns when a category has fewer than k images, and that evaluation then lacks it', () => {
    const circle = addCategory(db, { datasetId, name: 'circle' }).id;
    const star = addCategory(db, { datasetId, name: 'star' }).id;
    images(40, circle);
    images(13, star);
    const drawn = drawFewShot(db, { datasetId, k: 16, seed: 0 });
    expect(drawn.categories).toEqual([
      { name: 'circle', boxes: 40, images: 40, train: 16, evaluation: 24 },
      { name: 'star', boxes: 13, images: 13, train: 13, evaluation: 0 },
    ]);
    expect(drawn.warnings).toEqual([
      expect.stringMatching(/"star" is in only 13 images, fewer than k = 16.*evaluation split none/),
    ]);
    expect(drawFewShot(db, { datasetId, k: 8, seed: 0 }).warnings).toEqual([]);
  });

  it('warns when the evaluation split lacks a category that has k images or more', () => {
    const circle = addCategory(db, { datasetId, name: 'circle' }).id;
    const star = addCategory(db, { datasetId, name: 'star' }).id;
    images(10, circle);
    images(4, star);
    const drawn = drawFewShot(db, { datasetId, k: 4, seed: 1 });
    expect(drawn.categories[1]).toMatchObject({ name: 'star', train: 4, evaluation: 0 });
    expect(drawn.warnings).toEqual([
      expect.stringMatching(/evaluation split has no image of "star": all 4 images with it went to training/),
    ]);
  });

  it('lists categories with no boxes with their zeros, without a warning', () => {
    const circle = addCategory(db, { datasetId, name: 'circle' }).id;
    addCategory(db, { datasetId, name: 'hexagon' });
    images(6, circle);
    const drawn = drawFewShot(db, { datasetId, k: 2, seed: 0 });
    expect(drawn.categories[1]).toEqual({ name: 'hexagon', boxes: 0, images: 0, train: 0, evaluation: 0 });
    expect(drawn.warnings).toEqual([]);
  });

  it('keeps unannotated images out of the evaluation split unless asked, and keeps "no objects" ones', () => {
    const circle = addCategory(db, { datasetId, name: 'circle' }).id;
    const boxed = images(8, circle);
    const bare = images(5);
    const empty = images(2);
    for (const id of empty) setImageFlags(db, id, { negative: true });

    const split = createFewShotSplits(db, { datasetId, name: '2-shot', evalName: 'e', k: 2, seed: 3 });
    const evaluation = listSplitImageIds(db, split.evalSplitId);
    expect(evaluation).toHaveLength(6 + 2);
    expect(evaluation.filter((id) => bare.includes(id))).toEqual([]);
    expect(evaluation).toEqual(expect.arrayContaining(empty));
    expect(listSplitImageIds(db, split.trainSplitId).every((id) => boxed.includes(id))).toBe(true);
    expect(split.unannotated).toBe(5);
    expect(split.warnings).toEqual([
      expect.stringMatching(/5 images with no boxes and not marked "no objects" are left out/),
    ]);

    const asked = createFewShotSplits(db, {
      datasetId,
      name: 'all',
      evalName: 'all eval',
      k: 2,
      seed: 3,
      includeUnannotated: true,
    });
    expect(listSplitImageIds(db, asked.evalSplitId)).toEqual(expect.arrayContaining(bare));
    expect(asked.warnings).toEqual([]);
  });

  it('draws the same training images as before for the same seed', () => {
    const circle = addCategory(db, { datasetId, name: 'circle' }).id;
    const star = addCategory(db, { datasetId, name: 'star' }).id;
    images(12, circle);
    images(12, star);
    const a = drawFewShot(db, { datasetId, k: 4, seed: 7 });
    const b = drawFewShot(db, { datasetId, k: 4, seed: 7 });
    expect(a.train).toEqual(b.train);
    expect(a.train).toHaveLength(8);
    expect(drawFewShot(db, { datasetId, k: 4, seed: 8 }).train).not.toEqual(a.train);
  });
});

describe('the split calls', () => {
  const dispatcher = () =>
    createDispatch(
      createDatasetHandlers({ db, dataDir: '/nonexistent', broadcast: () => {} }) as unknown as Handlers,
    );

  it('previews a draw without storing it, and returns the warnings with the created splits', async () => {
    const call = dispatcher();
    const circle = addCategory(db, { datasetId, name: 'circle' }).id;
    const star = addCategory(db, { datasetId, name: 'star' }).id;
    images(20, circle);
    images(13, star);
    images(3);
    const preview = await call('splits.previewFewShot', { datasetId, k: 16, seed: 0 });
    expect(preview).toMatchObject({
      ok: true,
      value: {
        categories: [
          { name: 'circle', images: 20, train: 16, evaluation: 4 },
          { name: 'star', images: 13, train: 13, evaluation: 0 },
        ],
        trainImages: 29,
        evalImages: 4,
        unannotated: 3,
        warnings: [
          expect.stringMatching(/"star" is in only 13/),
          expect.stringMatching(/3 images with no boxes/),
        ],
      },
    });
    expect(await call('splits.list', { datasetId })).toEqual({ ok: true, value: [] });
    const created = await call('splits.createFewShot', {
      datasetId,
      name: '16-shot',
      evalName: '16-shot eval',
      k: 16,
      seed: 0,
    });
    expect(created).toMatchObject({
      ok: true,
      value: {
        splits: [
          { name: '16-shot', imageCount: 29 },
          { name: '16-shot eval', imageCount: 4, perCategory: { circle: 4 } },
        ],
        draw: { warnings: (preview as { value: { warnings: string[] } }).value.warnings },
      },
    });
  });
});
