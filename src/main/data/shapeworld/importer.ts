/**
 * A ShapeWorld folder (as `writeShapeWorld` leaves it) into a workspace: one dataset, the 12
 * categories in their fixed order, every image (absolute path, sha256 of the PNG bytes) and every
 * box (pixels, xyxy, source human) — all in one transaction, so a failure leaves no half dataset.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../../shared/errors';
import { checkCocoGt, CocoFormatError } from '../../eval/cocoFiles';
import { cocoToBox } from '../../rewards/frames';
import { addAnnotation } from '../../store/annotations';
import { addCategory } from '../../store/categories';
import { createDataset, getDataset, type Dataset } from '../../store/datasets';
import { transaction, type Db } from '../../store/db';
import { addImage } from '../../store/images';
import { annotationsFile } from './writer';

interface ShapeWorldFile {
  images: { id: number; file_name: string; width: number; height: number }[];
  annotations: { image_id: number; category_id: number; bbox: number[] }[];
  categories: { id: number; name: string }[];
  vrft: { generator: string; task: string; seed: number; split: string };
}

export function importShapeWorld(db: Db, input: { datasetName: string; dir: string }): Dataset {
  const dir = path.resolve(input.dir);
  const data = readShapeWorld(path.join(dir, annotationsFile));
  // Hashing reads every file: done before the transaction so the write lock is held briefly.
  const images = data.images.map((image) => {
    const file = path.join(dir, image.file_name);
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch {
      throw new UserError('invalid_input', `${file} is missing: write the ShapeWorld dataset again.`);
    }
    return { ...image, path: file, sha256: createHash('sha256').update(bytes).digest('hex') };
  });
  const { task, seed, split } = data.vrft;
  return transaction(db, () => {
    const dataset = createDataset(db, {
      name: input.datasetName,
      description: `ShapeWorld ${task}, ${images.length} images, split ${split}, seed ${seed}`,
    });
    const categoryIds = new Map(
      data.categories.map((c) => [c.id, addCategory(db, { datasetId: dataset.id, name: c.name }).id]),
    );
    const imageIds = new Map(
      images.map((image) => [
        image.id,
        addImage(db, {
          datasetId: dataset.id,
          path: image.path,
          sha256: image.sha256,
          width: image.width,
          height: image.height,
          // Generated boxes are exact: nothing for a person to check.
          verified: true,
        }),
      ]),
    );
    for (const a of data.annotations) {
      const imageId = imageIds.get(a.image_id);
      const categoryId = categoryIds.get(a.category_id);
      if (imageId === undefined || categoryId === undefined) {
        throw new UserError(
          'invalid_input',
          `${annotationsFile}: an annotation points at a missing image or category`,
        );
      }
      addAnnotation(db, { imageId, categoryId, box: cocoToBox(a.bbox), source: 'human' });
    }
    const imported = getDataset(db, dataset.id);
    if (imported === undefined) throw new Error('the dataset vanished inside its own transaction');
    return imported;
  });
}

function readShapeWorld(file: string): ShapeWorldFile {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(
      'invalid_input',
      code === 'ENOENT'
        ? `${file} does not exist: write the ShapeWorld dataset first.`
        : `${file} is not valid JSON.`,
    );
  }
  try {
    checkCocoGt(data);
  } catch (error) {
    if (error instanceof CocoFormatError) throw new UserError('invalid_input', `${file}: ${error.message}`);
    throw error;
  }
  const vrft = (data as { vrft?: { generator?: unknown } }).vrft;
  if (vrft?.generator !== 'shapeworld') {
    throw new UserError(
      'invalid_input',
      `${file} was not written by ShapeWorld (no "vrft.generator": "shapeworld").`,
    );
  }
  return data as ShapeWorldFile;
}
