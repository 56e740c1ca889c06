/**
 * Image-level labels (classification): one category per image, as Visual-RFT's classification
 * data gives it. A box-only dataset classifies too (an image whose boxes are all one category is
 * labelled by it); an image's own label, when it has one, wins.
 */
import type { Database } from 'better-sqlite3';
import { UserError } from '../../shared/errors';
import type { AnnotationSource } from './annotations';
import { prepare } from './db';

export interface ImageLabel {
  imageId: number;
  categoryId: number;
  source: AnnotationSource;
}

const columns = 'l.image_id AS imageId, l.category_id AS categoryId, l.source';

/** Sets (or, with null, clears) an image's label; the category must be of the image's dataset. */
export function setImageLabel(
  db: Database,
  imageId: number,
  categoryId: number | null,
  source: AnnotationSource = 'human',
): void {
  if (categoryId === null) {
    prepare(db, 'DELETE FROM image_label WHERE image_id = ?').run(imageId);
    return;
  }
  const same = prepare<{ ok: number }>(
    db,
    `SELECT (SELECT dataset_id FROM image WHERE id = ?) = (SELECT dataset_id FROM category WHERE id = ?) AS ok`,
  ).get(imageId, categoryId)!;
  if (same.ok !== 1) {
    throw new UserError(
      'invalid_input',
      'That label is not a category of this image’s dataset: reload and retry.',
    );
  }
  prepare(
    db,
    `INSERT INTO image_label (image_id, category_id, source, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (image_id) DO UPDATE SET category_id = excluded.category_id, source = excluded.source,
       updated_at = excluded.updated_at`,
  ).run(imageId, categoryId, source, Date.now());
}

export function getImageLabel(db: Database, imageId: number): ImageLabel | undefined {
  return prepare<ImageLabel>(db, `SELECT ${columns} FROM image_label l WHERE l.image_id = ?`).get(imageId);
}

/** Every label of a dataset in one query. */
export function listDatasetLabels(db: Database, datasetId: number): ImageLabel[] {
  return prepare<ImageLabel>(
    db,
    `SELECT ${columns} FROM image_label l JOIN image i ON i.id = l.image_id WHERE i.dataset_id = ?
     ORDER BY l.image_id`,
  ).all(datasetId);
}
