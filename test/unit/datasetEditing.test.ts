import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/shared/errors';
import { openStore, type Db } from '../../src/main/store/db';
import { createDataset } from '../../src/main/store/datasets';
import {
  addCategory,
  listCategories,
  mergeCategories,
  reorderCategories,
  updateCategory,
} from '../../src/main/store/categories';
import {
  addImage,
  imageWithPosition,
  neighbourImage,
  pageImages,
  setImageFlags,
} from '../../src/main/store/images';
import {
  addAnnotation,
  deleteAnnotation,
  listAnnotations,
  replaceAnnotations,
  updateAnnotation,
} from '../../src/main/store/annotations';
import { createSplit, deleteSplit, listSplits } from '../../src/main/store/splits';
import { createDatasetHandlers } from '../../src/main/host/datasetHandlers';
import { createDispatch, type Handlers } from '../../src/main/host/dispatch';

let db: Db;
let datasetId: number;
let images: number[];

function expectUserError(fn: () => unknown, code: UserError['code'], message: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).code).toBe(code);
    expect((e as UserError).message).toMatch(message);
    return;
  }
  throw new Error('expected a UserError');
}

beforeEach(() => {
  db = openStore(':memory:');
  datasetId = createDataset(db, { name: 'd' }).id;
  images = Array.from({ length: 5 }, (_, i) =>
    addImage(db, { datasetId, path: `/x/${i}.png`, sha256: `h${i}`, width: 100, height: 80 }),
  );
});
afterEach(() => db.close());

describe('categories', () => {
  it('renames, recolours, and refuses a name already taken', () => {
    const [a, b] = ['cat', 'dog'].map((name) => addCategory(db, { datasetId, name }));
    expect(updateCategory(db, a!.id, { name: ' kitten ', color: '#ff0000' })).toMatchObject({
      name: 'kitten',
      color: '#ff0000',
      ord: 0,
    });
    expectUserError(() => updateCategory(db, b!.id, { name: 'kitten' }), 'conflict', /merge/);
  });

  it('reorders to exactly the given order, and refuses a partial or repeated list', () => {
    const ids = ['a', 'b', 'c'].map((name) => addCategory(db, { datasetId, name }).id);
    expect(reorderCategories(db, datasetId, [ids[2]!, ids[0]!, ids[1]!]).map((c) => c.name)).toEqual([
      'c',
      'a',
      'b',
    ]);
    expect(listCategories(db, datasetId).map((c) => c.ord)).toEqual([0, 1, 2]);
    expectUserError(
      () => reorderCategories(db, datasetId, [ids[0]!, ids[1]!]),
      'invalid_input',
      /every category/,
    );
    expectUserError(
      () => reorderCategories(db, datasetId, [ids[0]!, ids[0]!, ids[1]!]),
      'invalid_input',
      /once/,
    );
  });

  it('merges: boxes move over, exact duplicates are dropped, the others keep their order numbers', () => {
    const [cat, kitty, dog] = ['cat', 'kitty', 'dog'].map((name) => addCategory(db, { datasetId, name }));
    const box = { x1: 1, y1: 2, x2: 30, y2: 40 };
    addAnnotation(db, { imageId: images[0]!, categoryId: cat!.id, box });
    addAnnotation(db, { imageId: images[0]!, categoryId: kitty!.id, box });
    addAnnotation(db, { imageId: images[1]!, categoryId: kitty!.id, box });
    mergeCategories(db, kitty!.id, cat!.id);
    expect(listCategories(db, datasetId).map((c) => [c.name, c.ord])).toEqual([
      ['cat', 0],
      ['dog', 2],
    ]);
    expect(listAnnotations(db, images[0]!).map((a) => a.categoryId)).toEqual([cat!.id]);
    expect(listAnnotations(db, images[1]!).map((a) => a.categoryId)).toEqual([cat!.id]);
    expectUserError(() => mergeCategories(db, dog!.id, dog!.id), 'invalid_input', /two different/);
  });
});

describe('images and boxes', () => {
  it('pages images with box counts and filters, and finds neighbours in import order', () => {
    const c = addCategory(db, { datasetId, name: 'c' }).id;
    addAnnotation(db, { imageId: images[1]!, categoryId: c, box: { x1: 0, y1: 0, x2: 5, y2: 5 } });
    addAnnotation(db, { imageId: images[1]!, categoryId: c, box: { x1: 5, y1: 5, x2: 9, y2: 9 } });
    setImageFlags(db, images[3]!, { negative: true, verified: true });
    const page = pageImages(db, { datasetId, offset: 1, limit: 2 });
    expect(page.total).toBe(5);
    expect(page.items.map((i) => [i.id, i.boxCount])).toEqual([
      [images[1], 2],
      [images[2], 0],
    ]);
    expect(
      pageImages(db, { datasetId, offset: 0, limit: 10, filter: 'unlabelled' }).items.map((i) => i.id),
    ).toEqual([images[0], images[2], images[4]]);
    expect(pageImages(db, { datasetId, offset: 0, limit: 10, filter: 'labelled' }).total).toBe(2);
    expect(pageImages(db, { datasetId, offset: 0, limit: 10, filter: 'negative' }).items[0]!.verified).toBe(
      true,
    );
    expect(neighbourImage(db, images[0]!, 1)).toBe(images[1]);
    expect(neighbourImage(db, images[0]!, -1)).toBeUndefined();
    expect(neighbourImage(db, images[4]!, 1)).toBeUndefined();
    expect(imageWithPosition(db, images[1]!)).toMatchObject({
      index: 2,
      total: 5,
      image: { id: images[1], boxCount: 2 },
    });
    expect(imageWithPosition(db, 9999)).toBeUndefined();
  });

  it('refuses to mark an image with boxes as "no objects"', () => {
    const c = addCategory(db, { datasetId, name: 'c' }).id;
    addAnnotation(db, { imageId: images[0]!, categoryId: c, box: { x1: 0, y1: 0, x2: 5, y2: 5 } });
    expectUserError(() => setImageFlags(db, images[0]!, { negative: true }), 'conflict', /delete them/);
  });

  it('updates, deletes and replaces boxes', () => {
    const [a, b] = ['a', 'b'].map((name) => addCategory(db, { datasetId, name }).id);
    const id = addAnnotation(db, {
      imageId: images[0]!,
      categoryId: a!,
      box: { x1: 0, y1: 0, x2: 5, y2: 5 },
    });
    expect(updateAnnotation(db, id, { box: { x1: 1, y1: 2, x2: 3, y2: 4 } })).toMatchObject({
      x1: 1,
      x2: 3,
      categoryId: a,
    });
    expect(updateAnnotation(db, id, { categoryId: b })).toMatchObject({ x1: 1, categoryId: b });
    expect(updateAnnotation(db, 9999, { categoryId: b })).toBeUndefined();
    const replaced = replaceAnnotations(db, images[0]!, [
      { categoryId: a!, box: { x1: 10, y1: 10, x2: 20, y2: 20 } },
      { categoryId: b!, box: { x1: 30, y1: 30, x2: 40, y2: 40 } },
    ]);
    expect(replaced.map((r) => [r.categoryId, r.x1])).toEqual([
      [a, 10],
      [b, 30],
    ]);
    expect(deleteAnnotation(db, replaced[0]!.id)).toBe(true);
    expect(listAnnotations(db, images[0]!)).toHaveLength(1);
  });
});

describe('splits', () => {
  it('lists splits with image counts and per-category counts, and deletes them', () => {
    const [a, b] = ['a', 'b'].map((name) => addCategory(db, { datasetId, name }).id);
    addAnnotation(db, { imageId: images[0]!, categoryId: a!, box: { x1: 0, y1: 0, x2: 5, y2: 5 } });
    addAnnotation(db, { imageId: images[0]!, categoryId: a!, box: { x1: 6, y1: 6, x2: 9, y2: 9 } });
    addAnnotation(db, { imageId: images[1]!, categoryId: b!, box: { x1: 0, y1: 0, x2: 5, y2: 5 } });
    const id = createSplit(db, {
      datasetId,
      name: 's',
      kind: 'train',
      k: 1,
      seed: 3,
      imageIds: [images[0]!, images[1]!, images[2]!],
    });
    expect(listSplits(db, datasetId)).toMatchObject([
      { name: 's', imageCount: 3, k: 1, seed: 3, perCategory: { a: 1, b: 1 } },
    ]);
    expect(deleteSplit(db, id)).toBe(true);
    expect(listSplits(db, datasetId)).toEqual([]);
  });
});

describe('the dataset calls', () => {
  function dispatcher() {
    const handlers = createDatasetHandlers({ db, dataDir: '/nonexistent', broadcast: () => {} });
    return createDispatch(handlers as unknown as Handlers);
  }

  it('clamps boxes to the image and refuses boxes outside it, of another dataset, or on a negative image', async () => {
    const call = dispatcher();
    const category = addCategory(db, { datasetId, name: 'c' }).id;
    const other = createDataset(db, { name: 'other' }).id;
    const foreign = addCategory(db, { datasetId: other, name: 'x' }).id;
    const added = await call('annotations.add', {
      imageId: images[0],
      categoryId: category,
      box: { x1: -10, y1: 5, x2: 500, y2: 50 },
    });
    expect(added).toMatchObject({ ok: true, value: { x1: 0, y1: 5, x2: 100, y2: 50 } });
    expect(
      await call('annotations.add', {
        imageId: images[0],
        categoryId: category,
        box: { x1: 200, y1: 5, x2: 300, y2: 50 },
      }),
    ).toMatchObject({
      ok: false,
      error: { code: 'invalid_input', message: expect.stringMatching(/outside the image/) },
    });
    expect(
      await call('annotations.add', {
        imageId: images[0],
        categoryId: foreign,
        box: { x1: 1, y1: 1, x2: 9, y2: 9 },
      }),
    ).toMatchObject({
      ok: false,
      error: { code: 'invalid_input', message: expect.stringMatching(/not a category of this dataset/) },
    });
    expect(
      await call('annotations.add', {
        imageId: images[0],
        categoryId: category,
        box: { x1: 9, y1: 1, x2: 1, y2: 9 },
      }),
    ).toMatchObject({
      ok: false,
      error: { code: 'invalid_input', message: expect.stringMatching(/x2 > x1/) },
    });
    await call('images.setFlags', { id: images[1], negative: true });
    expect(
      await call('annotations.add', {
        imageId: images[1],
        categoryId: category,
        box: { x1: 1, y1: 1, x2: 9, y2: 9 },
      }),
    ).toMatchObject({
      ok: false,
      error: { code: 'conflict', message: expect.stringMatching(/no objects/) },
    });
  });

  it('says what to do when an image file is gone', async () => {
    const result = await dispatcher()('images.file', { id: images[0] });
    expect(result).toMatchObject({
      ok: false,
      error: { code: 'not_found', message: expect.stringMatching(/\/x\/0\.png is gone: put the file back/) },
    });
  });

  it('says an image file replaced by a named pipe is one, instead of waiting on it for ever', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-pipe-'));
    try {
      const pipe = path.join(dir, 'b.png');
      execFileSync('mkfifo', [pipe]);
      const id = addImage(db, { datasetId, path: pipe, sha256: 'hp', width: 10, height: 10 });
      expect(await dispatcher()('images.file', { id })).toMatchObject({
        ok: false,
        error: {
          code: 'invalid_input',
          message: `${pipe} is a named pipe, not a file: put the image file back to see this image.`,
        },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('creates Visual-RFT few-shot splits and lists them with per-category counts', async () => {
    const call = dispatcher();
    const [a, b] = ['a', 'b'].map((name) => addCategory(db, { datasetId, name }).id);
    images.forEach((imageId, i) =>
      addAnnotation(db, { imageId, categoryId: i % 2 ? a! : b!, box: { x1: 0, y1: 0, x2: 5, y2: 5 } }),
    );
    const result = await call('splits.createFewShot', {
      datasetId,
      name: '1-shot',
      k: 1,
      seed: 4,
      evalName: '1-shot eval',
    });
    expect(result).toMatchObject({
      ok: true,
      value: {
        splits: [
          { name: '1-shot', kind: 'train', k: 1, seed: 4, imageCount: 2, perCategory: { a: 1, b: 1 } },
          { name: '1-shot eval', kind: 'eval', imageCount: 3 },
        ],
      },
    });
    const again = await call('splits.createFewShot', {
      datasetId,
      name: '1-shot',
      k: 1,
      seed: 4,
      evalName: 'e2',
    });
    expect(again).toMatchObject({ ok: false, error: { code: 'conflict' } });
  });
});
