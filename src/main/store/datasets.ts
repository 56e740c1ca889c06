import type { Database } from 'better-sqlite3';
import type { Dataset } from '../../shared/contract';
import { UserError } from '../../shared/errors';
import { isUniqueViolation, prepare } from './db';

export type { Dataset };

// Counts are computed, not stored, so they cannot drift from the rows they count.
const selectDataset = `
  SELECT d.id, d.name, d.description, d.created_at AS createdAt, d.updated_at AS updatedAt,
    (SELECT count(*) FROM image i WHERE i.dataset_id = d.id) AS imageCount,
    (SELECT count(*) FROM annotation a JOIN image i ON i.id = a.image_id
      WHERE i.dataset_id = d.id) AS annotationCount
  FROM dataset d`;

export function createDataset(db: Database, input: { name: string; description?: string }): Dataset {
  const name = datasetName(input.name);
  const now = Date.now();
  const id = withNameConflict(name, () =>
    prepare(db, 'INSERT INTO dataset (name, description, created_at, updated_at) VALUES (?, ?, ?, ?)').run(
      name,
      input.description ?? '',
      now,
      now,
    ),
  ).lastInsertRowid;
  return mustGet(db, Number(id));
}

export function listDatasets(db: Database): Dataset[] {
  return prepare<Dataset>(db, `${selectDataset} ORDER BY d.name COLLATE NOCASE, d.id`).all();
}

export function getDataset(db: Database, id: number): Dataset | undefined {
  return prepare<Dataset>(db, `${selectDataset} WHERE d.id = ?`).get(id);
}

export function renameDataset(db: Database, id: number, name: string): Dataset {
  const trimmed = datasetName(name);
  const { changes } = withNameConflict(trimmed, () =>
    prepare(db, 'UPDATE dataset SET name = ?, updated_at = ? WHERE id = ?').run(trimmed, Date.now(), id),
  );
  if (changes === 0) throw notFound(id);
  return mustGet(db, id);
}

export function updateDatasetDescription(db: Database, id: number, description: string): Dataset {
  const { changes } = prepare(db, 'UPDATE dataset SET description = ?, updated_at = ? WHERE id = ?').run(
    description,
    Date.now(),
    id,
  );
  if (changes === 0) throw notFound(id);
  return mustGet(db, id);
}

/**
 * Deletes the dataset and, by cascade, everything recorded about it (images, annotations, splits,
 * runs and their results). Models survive. False when there was no such dataset.
 */
export function deleteDataset(db: Database, id: number): boolean {
  return prepare(db, 'DELETE FROM dataset WHERE id = ?').run(id).changes > 0;
}

function datasetName(raw: string): string {
  const name = raw.trim();
  if (name === '') throw new UserError('invalid_input', 'A dataset needs a name: type one in.');
  return name;
}

function withNameConflict<T>(name: string, write: () => T): T {
  try {
    return write();
  } catch (err) {
    if (isUniqueViolation(err)) {
      throw new UserError('conflict', `A dataset named "${name}" already exists: pick another name.`);
    }
    throw err;
  }
}

function notFound(id: number): UserError {
  return new UserError('not_found', `Dataset ${id} does not exist (it may have been deleted).`);
}

function mustGet(db: Database, id: number): Dataset {
  const dataset = getDataset(db, id);
  if (dataset === undefined) throw new Error(`dataset ${id} vanished right after being written`);
  return dataset;
}

export function findDatasetByName(db: Database, name: string): Dataset | undefined {
  return prepare<Dataset>(db, `${selectDataset} WHERE d.name = ?`).get(name.trim());
}
