import type { Database } from 'better-sqlite3';
import { UserError } from '../../shared/errors';
import { isUniqueViolation, prepare, transaction } from './db';

export type SplitKind = 'train' | 'eval';

export interface SplitInput {
  datasetId: number;
  name: string;
  kind: SplitKind;
  /** Images per category for a few-shot split; null for "all". */
  k?: number | null;
  seed?: number | null;
  /** How the split was drawn, kept so it can be redrawn. */
  spec?: Record<string, unknown>;
  imageIds: readonly number[];
}

/** Creates the split and its membership together: a split is never seen half-filled. */
export function createSplit(db: Database, input: SplitInput): number {
  const name = input.name.trim();
  if (name === '') throw new UserError('invalid_input', 'A split needs a name: type one in.');
  return transaction(db, () => {
    let splitId: number;
    try {
      splitId = Number(
        prepare(
          db,
          `INSERT INTO split (dataset_id, name, kind, k, seed, spec, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          input.datasetId,
          name,
          input.kind,
          input.k ?? null,
          input.seed ?? null,
          JSON.stringify(input.spec ?? {}),
          Date.now(),
        ).lastInsertRowid,
      );
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new UserError(
          'conflict',
          `This dataset already has a split named "${name}": pick another name.`,
        );
      }
      throw err;
    }
    const member = prepare(db, 'INSERT INTO split_image (split_id, image_id) VALUES (?, ?)');
    for (const imageId of input.imageIds) member.run(splitId, imageId);
    return splitId;
  });
}

export function listSplitImageIds(db: Database, splitId: number): number[] {
  return prepare<{ imageId: number }>(
    db,
    'SELECT image_id AS imageId FROM split_image WHERE split_id = ? ORDER BY image_id',
  )
    .all(splitId)
    .map((r) => r.imageId);
}

export interface Split {
  id: number;
  datasetId: number;
  name: string;
  kind: 'train' | 'eval';
  k: number | null;
  seed: number | null;
}

export function findSplit(db: Database, datasetId: number, name: string): Split | undefined {
  return prepare<Split>(
    db,
    'SELECT id, dataset_id AS datasetId, name, kind, k, seed FROM split WHERE dataset_id = ? AND name = ?',
  ).get(datasetId, name);
}

export interface SplitListing extends Split {
  imageCount: number;
  /** Images of the split with at least one box of each category, by category name. */
  perCategory: Record<string, number>;
  createdAt: number;
}

export function listSplits(db: Database, datasetId: number): SplitListing[] {
  const splits = prepare<Split & { createdAt: number; imageCount: number }>(
    db,
    `SELECT s.id, s.dataset_id AS datasetId, s.name, s.kind, s.k, s.seed, s.created_at AS createdAt,
       (SELECT count(*) FROM split_image m WHERE m.split_id = s.id) AS imageCount
     FROM split s WHERE s.dataset_id = ? ORDER BY s.id`,
  ).all(datasetId);
  const counts = prepare<{ splitId: number; name: string; n: number }>(
    db,
    `SELECT m.split_id AS splitId, c.name, count(DISTINCT m.image_id) AS n
     FROM split_image m JOIN split s ON s.id = m.split_id
       JOIN annotation a ON a.image_id = m.image_id JOIN category c ON c.id = a.category_id
     WHERE s.dataset_id = ? GROUP BY m.split_id, c.id ORDER BY c.ord`,
  ).all(datasetId);
  return splits.map((s) => ({
    ...s,
    perCategory: Object.fromEntries(counts.filter((c) => c.splitId === s.id).map((c) => [c.name, c.n])),
  }));
}

export function deleteSplit(db: Database, id: number): boolean {
  return prepare(db, 'DELETE FROM split WHERE id = ?').run(id).changes > 0;
}

/** The dataset a split belongs to, or undefined when there is no such split. */
export function splitDatasetId(db: Database, splitId: number): number | undefined {
  return prepare<{ datasetId: number }>(db, 'SELECT dataset_id AS datasetId FROM split WHERE id = ?').get(
    splitId,
  )?.datasetId;
}

export function getSplit(db: Database, id: number): Split | undefined {
  return prepare<Split>(
    db,
    'SELECT id, dataset_id AS datasetId, name, kind, k, seed FROM split WHERE id = ?',
  ).get(id);
}
