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
  /** A referring expression or question naming this one box ('' for none): a REC item. */
  expression: string;
  /** COCO's iscrowd: a crowd region, which AP ignores detections on instead of counting them. */
  crowd: boolean;
  source: AnnotationSource;
  createdAt: number;
  updatedAt: number;
}

/** What a box is, apart from where: enough to write it again (undo, copy, import). */
export interface AnnotationInput {
  categoryId: number;
  box: PixelBox;
  expression?: string;
  crowd?: boolean;
  source?: AnnotationSource;
}

const columns = `a.id, a.image_id AS imageId, a.category_id AS categoryId, a.x1, a.y1, a.x2, a.y2,
  a.expression, a.crowd, a.source, a.created_at AS createdAt, a.updated_at AS updatedAt`;

type AnnotationRow = Omit<Annotation, 'crowd'> & { crowd: number };
const fromRow = (row: AnnotationRow): Annotation => ({ ...row, crowd: row.crowd === 1 });

/** An expression as stored: whitespace runs made one space, trimmed. */
export const normaliseExpression = (text: string | undefined) => (text ?? '').replace(/\s+/g, ' ').trim();

export function addAnnotation(db: Database, input: AnnotationInput & { imageId: number }): number {
  const { box } = input;
  const now = Date.now();
  const { lastInsertRowid } = prepare(
    db,
    `INSERT INTO annotation
       (image_id, category_id, x1, y1, x2, y2, expression, crowd, source, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    input.imageId,
    input.categoryId,
    box.x1,
    box.y1,
    box.x2,
    box.y2,
    normaliseExpression(input.expression),
    input.crowd ? 1 : 0,
    input.source ?? 'human',
    now,
    now,
  );
  return Number(lastInsertRowid);
}

export function listAnnotations(db: Database, imageId: number): Annotation[] {
  return prepare<AnnotationRow>(db, `SELECT ${columns} FROM annotation a WHERE image_id = ? ORDER BY id`)
    .all(imageId)
    .map(fromRow);
}

/** Every box of a dataset in one query (training and evaluation read them all). */
export function listDatasetAnnotations(db: Database, datasetId: number): Annotation[] {
  return prepare<AnnotationRow>(
    db,
    `SELECT ${columns} FROM annotation a JOIN image i ON i.id = a.image_id WHERE i.dataset_id = ? ORDER BY a.id`,
  )
    .all(datasetId)
    .map(fromRow);
}

export function getAnnotation(db: Database, id: number): Annotation | undefined {
  const row = prepare<AnnotationRow>(db, `SELECT ${columns} FROM annotation a WHERE id = ?`).get(id);
  return row && fromRow(row);
}

/** Moves, resizes, recategorises or re-words one box; undefined when there is no such box. */
export function updateAnnotation(
  db: Database,
  id: number,
  change: { box?: PixelBox; categoryId?: number; expression?: string; crowd?: boolean },
): Annotation | undefined {
  const current = getAnnotation(db, id);
  if (!current) return undefined;
  const box = change.box ?? current;
  const expression =
    change.expression === undefined ? current.expression : normaliseExpression(change.expression);
  prepare(
    db,
    `UPDATE annotation SET x1 = ?, y1 = ?, x2 = ?, y2 = ?, category_id = ?, expression = ?, crowd = ?,
       updated_at = ? WHERE id = ?`,
  ).run(
    box.x1,
    box.y1,
    box.x2,
    box.y2,
    change.categoryId ?? current.categoryId,
    expression,
    (change.crowd ?? current.crowd) ? 1 : 0,
    Date.now(),
    id,
  );
  return getAnnotation(db, id);
}

export function deleteAnnotation(db: Database, id: number): boolean {
  return prepare(db, 'DELETE FROM annotation WHERE id = ?').run(id).changes > 0;
}

/** Sets an image's boxes to exactly `boxes` in one transaction (undo, redo, copy from another image). */
export function replaceAnnotations(
  db: Database,
  imageId: number,
  boxes: readonly AnnotationInput[],
): Annotation[] {
  return transaction(db, () => {
    prepare(db, 'DELETE FROM annotation WHERE image_id = ?').run(imageId);
    for (const b of boxes) addAnnotation(db, { imageId, ...b });
    return listAnnotations(db, imageId);
  });
}
