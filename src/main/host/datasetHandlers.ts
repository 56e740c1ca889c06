/**
 * The dataset services behind the contract: images, boxes, categories, splits, import and export.
 * Every edit is one statement (or one transaction) on the workspace, so it is saved when the call
 * returns: the annotator has no save button.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Database } from 'better-sqlite3';
import { UserError } from '../../shared/errors';
import { createFewShotSplits, drawFewShot, type FewShotDraw } from '../data/splits';
import { exportDataset, importDataset } from '../data/formats';
import { oddFile } from '../data/formats/files';
import { thumbnailPath } from '../data/formats/thumbnails';
import {
  addAnnotation,
  deleteAnnotation,
  getAnnotation,
  listAnnotations,
  replaceAnnotations,
  updateAnnotation,
} from '../store/annotations';
import {
  addCategory,
  deleteCategory,
  getCategory,
  listCategories,
  mergeCategories,
  reorderCategories,
  updateCategory,
} from '../store/categories';
import { getDataset } from '../store/datasets';
import {
  getImage,
  imageWithPosition,
  neighbourImage,
  pageImages,
  setImageFlags,
  type Image,
} from '../store/images';
import { setImageLabel } from '../store/labels';
import { deleteSplit, listSplits } from '../store/splits';
import type { Handlers } from './dispatch';
import type { Broadcast } from './jobs';

type DatasetHandlerNames =
  | `images.${string}`
  | `annotations.${string}`
  | `categories.${string}`
  | `splits.${string}`
  | 'datasets.import'
  | 'datasets.cancelImport'
  | 'datasets.export';
type DatasetHandlers = Pick<Handlers, Extract<keyof Handlers, DatasetHandlerNames>>;

const mimeTypes: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
};

function mustImage(db: Database, id: number): Image {
  const image = getImage(db, id);
  if (!image) throw new UserError('not_found', `Image ${id} does not exist: reload the dataset.`);
  return image;
}

function listing(db: Database, image: Image) {
  return imageWithPosition(db, image.id)!.image;
}

/** A box must lie inside its image and belong to a category of the image's dataset. */
function checkBox(
  db: Database,
  image: Image,
  categoryId: number,
  box: { x1: number; y1: number; x2: number; y2: number },
) {
  const category = getCategory(db, categoryId);
  if (!category || category.datasetId !== image.datasetId) {
    throw new UserError('invalid_input', `Category ${categoryId} is not a category of this dataset.`);
  }
  const clamped = {
    x1: Math.max(0, Math.min(image.width, box.x1)),
    y1: Math.max(0, Math.min(image.height, box.y1)),
    x2: Math.max(0, Math.min(image.width, box.x2)),
    y2: Math.max(0, Math.min(image.height, box.y2)),
  };
  if (clamped.x2 <= clamped.x1 || clamped.y2 <= clamped.y1) {
    throw new UserError('invalid_input', 'The box lies outside the image: draw it over the image.');
  }
  if (image.negative) {
    throw new UserError(
      'conflict',
      'This image is marked "no objects": clear that flag before drawing boxes.',
    );
  }
  return clamped;
}

/** A draw as the contract carries it: counts, not image ids. */
function drawSummary(d: FewShotDraw) {
  return {
    categories: d.categories,
    trainImages: d.train.length,
    evalImages: d.evaluation.length,
    unannotated: d.unannotated,
    warnings: d.warnings,
  };
}

export function createDatasetHandlers(ctx: {
  db: Database;
  dataDir: string;
  broadcast: Broadcast;
}): DatasetHandlers {
  const { db, dataDir } = ctx;
  const ok = { ok: true as const };
  let importing: AbortController | undefined;

  return {
    'images.list': (input) => pageImages(db, input),
    'images.file': async ({ id, thumbnail }) => {
      const image = mustImage(db, id);
      if (thumbnail) {
        const cached = await readFile(thumbnailPath(dataDir, image.sha256)).catch(() => null);
        if (cached) return { mime: 'image/png', base64: cached.toString('base64') };
      }
      // Replaced by a pipe since the import, the read would hold one of libuv's few file threads
      // for ever (after four, every file read of the host waits).
      const odd = oddFile(image.path);
      if (odd)
        throw new UserError(
          'invalid_input',
          `${image.path} ${odd}: put the image file back to see this image.`,
        );
      let bytes: Buffer;
      try {
        bytes = await readFile(image.path);
      } catch {
        throw new UserError(
          'not_found',
          `${image.path} is gone: put the file back (or import the folder again) to see this image.`,
        );
      }
      const mime = mimeTypes[path.extname(image.path).toLowerCase()] ?? 'application/octet-stream';
      return { mime, base64: bytes.toString('base64') };
    },
    'images.get': ({ id }) => {
      const found = imageWithPosition(db, id);
      if (!found) throw new UserError('not_found', `Image ${id} does not exist: reload the dataset.`);
      return found;
    },
    'images.setFlags': ({ id, ...flags }) => {
      const image = setImageFlags(db, id, flags);
      if (!image) throw new UserError('not_found', `Image ${id} does not exist: reload the dataset.`);
      return listing(db, image);
    },
    'images.setLabel': ({ id, categoryId }) => {
      const image = mustImage(db, id);
      setImageLabel(db, id, categoryId);
      return listing(db, image);
    },
    'images.neighbour': ({ id, direction }) => {
      mustImage(db, id);
      return { id: neighbourImage(db, id, direction) ?? null };
    },
    'annotations.list': ({ imageId }) => {
      mustImage(db, imageId);
      return listAnnotations(db, imageId);
    },
    'annotations.add': ({ imageId, categoryId, box, expression }) => {
      const image = mustImage(db, imageId);
      const id = addAnnotation(db, {
        imageId,
        categoryId,
        box: checkBox(db, image, categoryId, box),
        expression,
      });
      return getAnnotation(db, id)!;
    },
    'annotations.update': ({ id, box, categoryId, expression, crowd }) => {
      const current = getAnnotation(db, id);
      if (!current) throw new UserError('not_found', `Box ${id} no longer exists: reload the image.`);
      const image = mustImage(db, current.imageId);
      const checked = checkBox(db, image, categoryId ?? current.categoryId, box ?? current);
      return updateAnnotation(db, id, { box: checked, categoryId, expression, crowd })!;
    },
    'annotations.delete': ({ id }) => {
      deleteAnnotation(db, id);
      return ok;
    },
    'annotations.replace': ({ imageId, boxes }) => {
      const image = mustImage(db, imageId);
      const checked = boxes.map((b) => ({ ...b, box: checkBox(db, image, b.categoryId, b.box) }));
      return replaceAnnotations(db, imageId, checked);
    },
    'categories.list': ({ datasetId }) => listCategories(db, datasetId),
    'categories.add': ({ datasetId, name, color }) => {
      if (!getDataset(db, datasetId))
        throw new UserError('not_found', `Dataset ${datasetId} does not exist.`);
      return addCategory(db, { datasetId, name, color });
    },
    'categories.update': ({ id, ...change }) => {
      const category = updateCategory(db, id, change);
      if (!category) throw new UserError('not_found', `Category ${id} does not exist: reload the list.`);
      return category;
    },
    'categories.merge': ({ id, into }) => mergeCategories(db, id, into),
    'categories.reorder': ({ datasetId, ids }) => reorderCategories(db, datasetId, ids),
    'categories.delete': ({ id }) => {
      deleteCategory(db, id);
      return ok;
    },
    'splits.list': ({ datasetId }) => listSplits(db, datasetId),
    'splits.previewFewShot': (input) => {
      if (!getDataset(db, input.datasetId))
        throw new UserError('not_found', `Dataset ${input.datasetId} does not exist.`);
      return drawSummary(drawFewShot(db, input));
    },
    'splits.createFewShot': (input) => {
      const drawn = createFewShotSplits(db, input);
      return { splits: listSplits(db, input.datasetId), draw: drawSummary(drawn) };
    },
    'splits.delete': ({ id }) => {
      deleteSplit(db, id);
      return ok;
    },
    'datasets.import': async ({ path: source, name, format }) => {
      if (importing)
        throw new UserError('conflict', 'An import is already running: wait for it or cancel it.');
      importing = new AbortController();
      try {
        return await importDataset(db, {
          path: source,
          datasetName: name,
          format,
          dataDir,
          signal: importing.signal,
          onProgress: (p) => ctx.broadcast('import.progress', p),
        });
      } finally {
        importing = undefined;
      }
    },
    'datasets.cancelImport': () => {
      importing?.abort();
      return ok;
    },
    'datasets.export': (input) => exportDataset(db, input),
  };
}
