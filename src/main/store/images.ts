import type { Database } from 'better-sqlite3';
import { UserError } from '../../shared/errors';
import { isUniqueViolation, prepare } from './db';

export interface Image {
  id: number;
  datasetId: number;
  path: string;
  sha256: string;
  width: number;
  height: number;
  verified: boolean;
  negative: boolean;
  createdAt: number;
}

export interface ImageInput {
  datasetId: number;
  path: string;
  sha256: string;
  width: number;
  height: number;
  verified?: boolean;
  negative?: boolean;
}

interface ImageRow extends Omit<Image, 'verified' | 'negative'> {
  verified: number;
  negative: number;
}

const columns = `id, dataset_id AS datasetId, path, sha256, width, height, verified, negative,
  created_at AS createdAt`;

export function addImage(db: Database, input: ImageInput): number {
  try {
    const { lastInsertRowid } = prepare(
      db,
      `INSERT INTO image (dataset_id, path, sha256, width, height, verified, negative, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      input.datasetId,
      input.path,
      input.sha256,
      input.width,
      input.height,
      input.verified ? 1 : 0,
      input.negative ? 1 : 0,
      Date.now(),
    );
    return Number(lastInsertRowid);
  } catch (err) {
    // The same pixels twice would count twice in training and leak between splits.
    if (isUniqueViolation(err)) {
      throw new UserError('conflict', `${input.path} is already in this dataset (same content).`);
    }
    throw err;
  }
}

export function getImage(db: Database, id: number): Image | undefined {
  const row = prepare<ImageRow>(db, `SELECT ${columns} FROM image WHERE id = ?`).get(id);
  return row && { ...row, verified: row.verified === 1, negative: row.negative === 1 };
}

export function countImages(db: Database, datasetId: number): number {
  return prepare<{ n: number }>(db, 'SELECT count(*) AS n FROM image WHERE dataset_id = ?').get(datasetId)!.n;
}

export function listImages(db: Database, datasetId: number): Image[] {
  return prepare<ImageRow>(db, `SELECT ${columns} FROM image WHERE dataset_id = ? ORDER BY id`)
    .all(datasetId)
    .map((row) => ({ ...row, verified: row.verified === 1, negative: row.negative === 1 }));
}

export type ImageFilter = 'all' | 'unlabelled' | 'labelled' | 'verified' | 'negative';

export interface ImageListing extends Image {
  boxCount: number;
  /** The image-level label's category (classification), null when it has none. */
  labelId: number | null;
}

const filters: Record<ImageFilter, string> = {
  all: '',
  unlabelled: `AND i.negative = 0 AND NOT EXISTS (SELECT 1 FROM annotation a WHERE a.image_id = i.id)
    AND NOT EXISTS (SELECT 1 FROM image_label l WHERE l.image_id = i.id)`,
  labelled: `AND (i.negative = 1 OR EXISTS (SELECT 1 FROM annotation a WHERE a.image_id = i.id)
    OR EXISTS (SELECT 1 FROM image_label l WHERE l.image_id = i.id))`,
  verified: 'AND i.verified = 1',
  negative: 'AND i.negative = 1',
};

/** One page of a dataset's images in import order, with box counts, and the filtered total. */
export function pageImages(
  db: Database,
  input: { datasetId: number; offset: number; limit: number; filter?: ImageFilter; splitId?: number },
): { total: number; items: ImageListing[] } {
  const where = `i.dataset_id = @datasetId ${filters[input.filter ?? 'all']} ${
    input.splitId === undefined
      ? ''
      : 'AND EXISTS (SELECT 1 FROM split_image s WHERE s.split_id = @splitId AND s.image_id = i.id)'
  }`;
  // better-sqlite3 refuses named parameters a statement does not use.
  const filterParams =
    input.splitId === undefined
      ? { datasetId: input.datasetId }
      : { datasetId: input.datasetId, splitId: input.splitId };
  const { total } = prepare<{ total: number }>(
    db,
    `SELECT count(*) AS total FROM image i WHERE ${where}`,
  ).get(filterParams)!;
  const items = prepare<ImageRow & { boxCount: number; labelId: number | null }>(
    db,
    `SELECT i.id, i.dataset_id AS datasetId, i.path, i.sha256, i.width, i.height, i.verified, i.negative,
       i.created_at AS createdAt,
       (SELECT count(*) FROM annotation a WHERE a.image_id = i.id) AS boxCount,
       (SELECT l.category_id FROM image_label l WHERE l.image_id = i.id) AS labelId
     FROM image i WHERE ${where} ORDER BY i.id LIMIT @limit OFFSET @offset`,
  )
    .all({ ...filterParams, limit: input.limit, offset: input.offset })
    .map((row) => ({ ...row, verified: row.verified === 1, negative: row.negative === 1 }));
  return { total, items };
}

/** The image before or after `imageId` in import order within its dataset (wrapping: none). */
export function neighbourImage(db: Database, imageId: number, direction: 1 | -1): number | undefined {
  const sql =
    direction === 1
      ? `SELECT id FROM image WHERE dataset_id = (SELECT dataset_id FROM image WHERE id = @id) AND id > @id
         ORDER BY id LIMIT 1`
      : `SELECT id FROM image WHERE dataset_id = (SELECT dataset_id FROM image WHERE id = @id) AND id < @id
         ORDER BY id DESC LIMIT 1`;
  return prepare<{ id: number }>(db, sql).get({ id: imageId })?.id;
}

/** Sets the verified / negative flags; marking an image negative is refused while it has boxes. */
export function setImageFlags(
  db: Database,
  id: number,
  flags: { verified?: boolean; negative?: boolean },
): Image | undefined {
  const image = getImage(db, id);
  if (!image) return undefined;
  if (flags.negative) {
    const boxes = prepare<{ n: number }>(db, 'SELECT count(*) AS n FROM annotation WHERE image_id = ?').get(
      id,
    )!.n;
    if (boxes > 0) {
      throw new UserError(
        'conflict',
        `This image has ${boxes} box${boxes === 1 ? '' : 'es'}: delete them before marking it "no objects".`,
      );
    }
  }
  prepare(db, 'UPDATE image SET verified = ?, negative = ? WHERE id = ?').run(
    (flags.verified ?? image.verified) ? 1 : 0,
    (flags.negative ?? image.negative) ? 1 : 0,
    id,
  );
  return getImage(db, id);
}

/** An image's listing and its place (1-based) among its dataset's images in import order. */
export function imageWithPosition(
  db: Database,
  id: number,
): { image: ImageListing; index: number; total: number } | undefined {
  const image = getImage(db, id);
  if (!image) return undefined;
  const { index, total, boxCount, labelId } = prepare<{
    index: number;
    total: number;
    boxCount: number;
    labelId: number | null;
  }>(
    db,
    `SELECT (SELECT count(*) FROM image WHERE dataset_id = @datasetId AND id <= @id) AS "index",
       (SELECT count(*) FROM image WHERE dataset_id = @datasetId) AS total,
       (SELECT count(*) FROM annotation WHERE image_id = @id) AS boxCount,
       (SELECT category_id FROM image_label WHERE image_id = @id) AS labelId`,
  ).get({ id, datasetId: image.datasetId })!;
  return { image: { ...image, boxCount, labelId }, index, total };
}
