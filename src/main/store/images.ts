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
