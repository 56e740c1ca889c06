import type { Database } from 'better-sqlite3';
import { parseJson, prepare } from './db';

export type ModelKind = 'tiny-vlm' | 'qwen2-vl' | 'qwen2.5-vl';

export interface Model {
  id: number;
  name: string;
  kind: ModelKind;
  path: string;
  config: Record<string, unknown>;
  weightsSha256: string | null;
  createdAt: number;
}

export interface ModelInput {
  name: string;
  kind: ModelKind;
  path: string;
  config?: Record<string, unknown>;
  weightsSha256?: string | null;
}

export function addModel(db: Database, input: ModelInput): number {
  const { lastInsertRowid } = prepare(
    db,
    `INSERT INTO model (name, kind, path, config, weights_sha256, created_at)
     VALUES (?, ?, ?, ?, ?, ?)`,
  ).run(
    input.name,
    input.kind,
    input.path,
    JSON.stringify(input.config ?? {}),
    input.weightsSha256 ?? null,
    Date.now(),
  );
  return Number(lastInsertRowid);
}

export function getModel(db: Database, id: number): Model | undefined {
  const row = prepare<Omit<Model, 'config'> & { config: string }>(
    db,
    `SELECT id, name, kind, path, config, weights_sha256 AS weightsSha256, created_at AS createdAt
     FROM model WHERE id = ?`,
  ).get(id);
  return row && { ...row, config: parseJson<Record<string, unknown>>(row.config) };
}

/** The model row for a folder, added the first time a run uses it. */
export function modelForPath(db: Database, input: ModelInput): number {
  const found = prepare<{ id: number }>(db, 'SELECT id FROM model WHERE path = ? ORDER BY id LIMIT 1').get(
    input.path,
  );
  return found?.id ?? addModel(db, input);
}

/** Every model folder the workspace has used, oldest first. */
export function listModels(db: Database): Model[] {
  return prepare<Omit<Model, 'config'> & { config: string }>(
    db,
    `SELECT id, name, kind, path, config, weights_sha256 AS weightsSha256, created_at AS createdAt
     FROM model ORDER BY id`,
  )
    .all()
    .map((row) => ({ ...row, config: parseJson<Record<string, unknown>>(row.config) }));
}
