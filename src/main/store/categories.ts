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
  /** Other names an answer may give for it (classification): "aeroplane" for "airplane". */
  synonyms: string[];
}

const columns = 'id, dataset_id AS datasetId, name, ord, color, synonyms';
type CategoryRow = Omit<Category, 'synonyms'> & { synonyms: string };
const fromRow = (row: CategoryRow): Category => ({ ...row, synonyms: JSON.parse(row.synonyms) as string[] });

/** Synonyms as stored: trimmed, without blanks, repeats or the category's own name. */
export function normaliseSynonyms(name: string, synonyms: readonly string[]): string[] {
  const seen = new Set([name.trim().toLowerCase()]);
  const out: string[] = [];
  for (const raw of synonyms) {
    const s = raw.replace(/\s+/g, ' ').trim();
    if (s === '' || seen.has(s.toLowerCase())) continue;
    seen.add(s.toLowerCase());
    out.push(s);
  }
  return out;
}

/** Appends a category after the dataset's last one. */
export function addCategory(
  db: Database,
  input: { datasetId: number; name: string; color?: string | null; synonyms?: readonly string[] },
): Category {
  const name = input.name.trim();
  if (name === '') throw new UserError('invalid_input', 'A category needs a name: type one in.');
  try {
    return fromRow(
      prepare<CategoryRow>(
        db,
        `INSERT INTO category (dataset_id, name, ord, color, synonyms)
         VALUES (@datasetId, @name,
           (SELECT coalesce(max(ord) + 1, 0) FROM category WHERE dataset_id = @datasetId), @color, @synonyms)
         RETURNING ${columns}`,
      ).get({
        datasetId: input.datasetId,
        name,
        color: input.color ?? null,
        synonyms: JSON.stringify(normaliseSynonyms(name, input.synonyms ?? [])),
      })!,
    );
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
  return prepare<CategoryRow>(db, `SELECT ${columns} FROM category WHERE dataset_id = ? ORDER BY ord`)
    .all(datasetId)
    .map(fromRow);
}

export function getCategory(db: Database, id: number): Category | undefined {
  const row = prepare<CategoryRow>(db, `SELECT ${columns} FROM category WHERE id = ?`).get(id);
  return row && fromRow(row);
}

export function updateCategory(
  db: Database,
  id: number,
  change: { name?: string; color?: string | null; synonyms?: readonly string[] },
): Category | undefined {
  const current = getCategory(db, id);
  if (!current) return undefined;
  const name = (change.name ?? current.name).trim();
  if (name === '') throw new UserError('invalid_input', 'A category needs a name: type one in.');
  try {
    prepare(db, 'UPDATE category SET name = ?, color = ?, synonyms = ? WHERE id = ?').run(
      name,
      change.color === undefined ? current.color : change.color,
      JSON.stringify(normaliseSynonyms(name, change.synonyms ?? current.synonyms)),
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
    prepare(db, 'UPDATE image_label SET category_id = ?, updated_at = ? WHERE category_id = ?').run(
      intoId,
      Date.now(),
      fromId,
    );
    // The merged category's name (and its synonyms) become synonyms of the one kept.
    prepare(db, 'UPDATE category SET synonyms = ? WHERE id = ?').run(
      JSON.stringify(normaliseSynonyms(into.name, [...into.synonyms, from.name, ...from.synonyms])),
      intoId,
    );
    prepare(db, 'DELETE FROM category WHERE id = ?').run(fromId);
    return getCategory(db, intoId)!;
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
