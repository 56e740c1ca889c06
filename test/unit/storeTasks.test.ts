/**
 * Migration 5's store: a box's referring expression and crowd flag, an image's label, a
 * category's synonyms, an imported line's own facts — kept, edited, undone and cascaded.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  addAnnotation,
  getAnnotation,
  listAnnotations,
  replaceAnnotations,
  updateAnnotation,
} from '../../src/main/store/annotations';
import {
  addCategory,
  listCategories,
  mergeCategories,
  updateCategory,
} from '../../src/main/store/categories';
import { createDataset } from '../../src/main/store/datasets';
import { openStore, workspaceDbPath, type Db } from '../../src/main/store/db';
import { addImage, imageWithPosition, pageImages } from '../../src/main/store/images';
import { getImageLabel, listDatasetLabels, setImageLabel } from '../../src/main/store/labels';
import { addSourceLine, listSourceLines } from '../../src/main/store/sourceLines';

let dir: string;
let db: Db;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vrft-tasks-'));
  db = openStore(workspaceDbPath(join(dir, 'data')));
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function fixture() {
  const datasetId = createDataset(db, { name: 'd' }).id;
  const dog = addCategory(db, { datasetId, name: 'dog', synonyms: [' puppy ', 'Dog', 'puppy', ''] });
  const cat = addCategory(db, { datasetId, name: 'cat' });
  const imageId = addImage(db, { datasetId, path: '/a.png', sha256: 'a', width: 100, height: 80 });
  return { datasetId, dog, cat, imageId };
}

it('keeps a box’s expression (whitespace tidied) and crowd flag through edits and replace', () => {
  const { dog, imageId } = fixture();
  const id = addAnnotation(db, {
    imageId,
    categoryId: dog.id,
    box: { x1: 1, y1: 2, x2: 30, y2: 40 },
    expression: '  the dog\n on the  left ',
  });
  expect(getAnnotation(db, id)).toMatchObject({ expression: 'the dog on the left', crowd: false });
  expect(updateAnnotation(db, id, { crowd: true })).toMatchObject({
    expression: 'the dog on the left',
    crowd: true,
  });
  expect(updateAnnotation(db, id, { expression: 'which animal could guard a house?' })).toMatchObject({
    expression: 'which animal could guard a house?',
    crowd: true,
  });
  const [again] = replaceAnnotations(db, imageId, [
    { categoryId: dog.id, box: { x1: 1, y1: 2, x2: 30, y2: 40 }, expression: 'a dog', crowd: true },
  ]);
  expect(again).toMatchObject({ expression: 'a dog', crowd: true });
  expect(listAnnotations(db, imageId)).toHaveLength(1);
});

it('an image label is one per image, shown in the listing, counted as labelled, and cleared with null', () => {
  const { datasetId, dog, cat, imageId } = fixture();
  expect(pageImages(db, { datasetId, offset: 0, limit: 10, filter: 'unlabelled' }).total).toBe(1);
  setImageLabel(db, imageId, dog.id);
  setImageLabel(db, imageId, cat.id);
  expect(getImageLabel(db, imageId)).toEqual({ imageId, categoryId: cat.id, source: 'human' });
  expect(imageWithPosition(db, imageId)!.image.labelId).toBe(cat.id);
  expect(pageImages(db, { datasetId, offset: 0, limit: 10, filter: 'labelled' }).items[0]!.labelId).toBe(
    cat.id,
  );
  expect(pageImages(db, { datasetId, offset: 0, limit: 10, filter: 'unlabelled' }).total).toBe(0);
  setImageLabel(db, imageId, null);
  expect(listDatasetLabels(db, datasetId)).toEqual([]);
});

it('refuses a label from another dataset', () => {
  const { imageId } = fixture();
  const other = createDataset(db, { name: 'e' }).id;
  const foreign = addCategory(db, { datasetId: other, name: 'bird' });
  expect(() => setImageLabel(db, imageId, foreign.id)).toThrow(/not a category of this image/);
});

it('synonyms are tidied (no blanks, repeats or the name itself) and merging keeps the merged name as one', () => {
  const { datasetId, dog, cat, imageId } = fixture();
  expect(dog.synonyms).toEqual(['puppy']);
  expect(updateCategory(db, cat.id, { synonyms: ['kitty', 'kitten'] })!.synonyms).toEqual([
    'kitty',
    'kitten',
  ]);
  setImageLabel(db, imageId, cat.id);
  const kept = mergeCategories(db, cat.id, dog.id);
  expect(kept.synonyms).toEqual(['puppy', 'cat', 'kitty', 'kitten']);
  expect(getImageLabel(db, imageId)!.categoryId).toBe(dog.id);
  expect(listCategories(db, datasetId).map((c) => c.name)).toEqual(['dog']);
});

it('source lines keep the file’s id, category list and reward method, and go with their box', () => {
  const { datasetId, dog, imageId } = fixture();
  const box = addAnnotation(db, { imageId, categoryId: dog.id, box: { x1: 1, y1: 2, x2: 30, y2: 40 } });
  addSourceLine(db, {
    imageId,
    annotationId: null,
    format: 'vlm-r1',
    lineId: '17',
    categories: ['dog', 'cat'],
    accuRewardMethod: 'odLength',
  });
  addSourceLine(db, {
    imageId,
    annotationId: box,
    format: 'vlm-r1',
    lineId: 'ref-3',
    categories: null,
    accuRewardMethod: null,
  });
  expect(listSourceLines(db, datasetId, 'vlm-r1').map((l) => l.lineId)).toEqual(['17', 'ref-3']);
  expect(listSourceLines(db, datasetId, 'vlm-r1')[0]!.categories).toEqual(['dog', 'cat']);
  expect(listSourceLines(db, datasetId, 'lisa')).toEqual([]);
  db.prepare('DELETE FROM annotation WHERE id = ?').run(box);
  expect(listSourceLines(db, datasetId, 'vlm-r1').map((l) => l.lineId)).toEqual(['17']);
});
