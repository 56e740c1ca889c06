import type { Database } from 'better-sqlite3';
import { prepare } from './db';

/** Original-image pixels, xyxy: the one frame boxes are stored in. */
export interface PixelBox {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export type AnnotationSource = 'human' | 'model';

export interface Annotation extends PixelBox {
  id: number;
  imageId: number;
  categoryId: number;
  source: AnnotationSource;
  createdAt: number;
  updatedAt: number;
}

const columns = `id, image_id AS imageId, category_id AS categoryId, x1, y1, x2, y2, source,
  created_at AS createdAt, updated_at AS updatedAt`;

export function addAnnotation(
  db: Database,
  input: { imageId: number; categoryId: number; box: PixelBox; source?: AnnotationSource },
): number {
  const { box } = input;
  const now = Date.now();
  const { lastInsertRowid } = prepare(
    db,
    `INSERT INTO annotation (image_id, category_id, x1, y1, x2, y2, source, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(input.imageId, input.categoryId, box.x1, box.y1, box.x2, box.y2, input.source ?? 'human', now, now);
  return Number(lastInsertRowid);
}

export function listAnnotations(db: Database, imageId: number): Annotation[] {
  return prepare<Annotation>(db, `SELECT ${columns} FROM annotation WHERE image_id = ? ORDER BY id`).all(
    imageId,
  );
}

/** Every box of a dataset in one query (training and evaluation read them all). */
export function listDatasetAnnotations(db: Database, datasetId: number): Annotation[] {
  return prepare<Annotation>(
    db,
    `SELECT a.id, a.image_id AS imageId, a.category_id AS categoryId, a.x1, a.y1, a.x2, a.y2, a.source,
       a.created_at AS createdAt, a.updated_at AS updatedAt
     FROM annotation a JOIN image i ON i.id = a.image_id WHERE i.dataset_id = ? ORDER BY a.id`,
  ).all(datasetId);
}
