import type { Database } from 'better-sqlite3';
import { UserError } from '../../shared/errors';
import { isUniqueViolation, prepare } from './db';

export interface Category {
  id: number;
  datasetId: number;
  name: string;
  /** Export order: fixed when the category is created, never renumbered. */
  ord: number;
  color: string | null;
}

const columns = 'id, dataset_id AS datasetId, name, ord, color';

/** Appends a category after the dataset's last one. */
export function addCategory(
  db: Database,
  input: { datasetId: number; name: string; color?: string | null },
): Category {
  const name = input.name.trim();
  if (name === '') throw new UserError('invalid_input', 'A category needs a name: type one in.');
  try {
    return prepare<Category>(
      db,
      `INSERT INTO category (dataset_id, name, ord, color)
       VALUES (@datasetId, @name,
         (SELECT coalesce(max(ord) + 1, 0) FROM category WHERE dataset_id = @datasetId), @color)
       RETURNING ${columns}`,
    ).get({ datasetId: input.datasetId, name, color: input.color ?? null }) as Category;
  } catch (err) {
    if (isUniqueViolation(err)) {
      throw new UserError(
        'conflict',
        `This dataset already has a category named "${name}": pick another name.`,
      );
    }
    throw err;
  }
}

export function listCategories(db: Database, datasetId: number): Category[] {
  return prepare<Category>(db, `SELECT ${columns} FROM category WHERE dataset_id = ? ORDER BY ord`).all(
    datasetId,
  );
}
