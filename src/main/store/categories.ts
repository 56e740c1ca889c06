import type { Database } from 'better-sqlite3';
import { UserError } from '../../shared/errors';
import { isUniqueViolation, prepare, transaction } from './db';

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

export function getCategory(db: Database, id: number): Category | undefined {
  return prepare<Category>(db, `SELECT ${columns} FROM category WHERE id = ?`).get(id);
}

export function updateCategory(
  db: Database,
  id: number,
  change: { name?: string; color?: string | null },
): Category | undefined {
  const current = getCategory(db, id);
  if (!current) return undefined;
  const name = (change.name ?? current.name).trim();
  if (name === '') throw new UserError('invalid_input', 'A category needs a name: type one in.');
  try {
    prepare(db, 'UPDATE category SET name = ?, color = ? WHERE id = ?').run(
      name,
      change.color === undefined ? current.color : change.color,
      id,
    );
  } catch (err) {
    if (isUniqueViolation(err)) {
      throw new UserError(
        'conflict',
        `This dataset already has a category named "${name}": merge into it instead of renaming.`,
      );
    }
    throw err;
  }
  return getCategory(db, id);
}

/**
 * Moves every box of `fromId` to `intoId` and deletes `fromId`; the other categories keep their
 * order numbers (exports never reshuffle). A box that would then exactly duplicate one already
 * there is dropped.
 */
export function mergeCategories(db: Database, fromId: number, intoId: number): Category {
  const from = getCategory(db, fromId);
  const into = getCategory(db, intoId);
  if (!from || !into) throw new UserError('not_found', 'That category no longer exists: reload the list.');
  if (from.datasetId !== into.datasetId || fromId === intoId) {
    throw new UserError('invalid_input', 'Pick two different categories of the same dataset to merge.');
  }
  return transaction(db, () => {
    prepare(
      db,
      `DELETE FROM annotation WHERE category_id = @fromId AND EXISTS (
         SELECT 1 FROM annotation b WHERE b.category_id = @intoId AND b.image_id = annotation.image_id
           AND b.x1 = annotation.x1 AND b.y1 = annotation.y1 AND b.x2 = annotation.x2 AND b.y2 = annotation.y2)`,
    ).run({ fromId, intoId });
    prepare(db, 'UPDATE annotation SET category_id = ?, updated_at = ? WHERE category_id = ?').run(
      intoId,
      Date.now(),
      fromId,
    );
    prepare(db, 'DELETE FROM category WHERE id = ?').run(fromId);
    return into;
  });
}

/** Sets the dataset's category order to `ids` (every category exactly once). */
export function reorderCategories(db: Database, datasetId: number, ids: readonly number[]): Category[] {
  const current = listCategories(db, datasetId);
  const known = new Set(current.map((c) => c.id));
  if (ids.length !== current.length || new Set(ids).size !== ids.length || ids.some((i) => !known.has(i))) {
    throw new UserError(
      'invalid_input',
      'The new order must list every category of the dataset once: reload and retry.',
    );
  }
  return transaction(db, () => {
    // Two passes: UNIQUE (dataset_id, ord) holds after every statement.
    const set = prepare(db, 'UPDATE category SET ord = ? WHERE id = ?');
    ids.forEach((id, i) => set.run(-1 - i, id));
    ids.forEach((id, i) => set.run(i, id));
    return listCategories(db, datasetId);
  });
}

/** Deletes a category and its boxes. */
export function deleteCategory(db: Database, id: number): boolean {
  return prepare(db, 'DELETE FROM category WHERE id = ?').run(id).changes > 0;
}
