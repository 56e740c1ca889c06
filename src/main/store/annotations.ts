import type { Database } from 'better-sqlite3';
import { prepare, transaction } from './db';

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

export function getAnnotation(db: Database, id: number): Annotation | undefined {
  return prepare<Annotation>(db, `SELECT ${columns} FROM annotation WHERE id = ?`).get(id);
}

/** Moves, resizes or recategorises one box; undefined when there is no such box. */
export function updateAnnotation(
  db: Database,
  id: number,
  change: { box?: PixelBox; categoryId?: number },
): Annotation | undefined {
  const current = getAnnotation(db, id);
  if (!current) return undefined;
  const box = change.box ?? current;
  prepare(
    db,
    `UPDATE annotation SET x1 = ?, y1 = ?, x2 = ?, y2 = ?, category_id = ?, updated_at = ? WHERE id = ?`,
  ).run(box.x1, box.y1, box.x2, box.y2, change.categoryId ?? current.categoryId, Date.now(), id);
  return getAnnotation(db, id);
}

export function deleteAnnotation(db: Database, id: number): boolean {
  return prepare(db, 'DELETE FROM annotation WHERE id = ?').run(id).changes > 0;
}

/** Sets an image's boxes to exactly `boxes` in one transaction (undo, redo, copy from another image). */
export function replaceAnnotations(
  db: Database,
  imageId: number,
  boxes: readonly { categoryId: number; box: PixelBox; source?: AnnotationSource }[],
): Annotation[] {
  return transaction(db, () => {
    prepare(db, 'DELETE FROM annotation WHERE image_id = ?').run(imageId);
    for (const b of boxes) addAnnotation(db, { imageId, ...b });
    return listAnnotations(db, imageId);
  });
}
