/**
 * The model folders a workspace has used (migration 4 makes `path` unique): the built-in tiny-vlm,
 * Qwen2-VL / Qwen2.5-VL checkpoints, with the parsed config, a sha256 of the weights (to notice a
 * folder whose weights changed under a run; runs record models/inspect.ts weightsFingerprint, which
 * reads the files' headers, not their gigabytes) and when each was added and last used.
 */
import path from 'node:path';
import type { Database } from 'better-sqlite3';
import { UserError } from '../../shared/errors';
import { isUniqueViolation, parseJson, prepare } from './db';

export type ModelKind = 'tiny-vlm' | 'qwen2-vl' | 'qwen2.5-vl';

export interface Model {
  id: number;
  name: string;
  kind: ModelKind;
  path: string;
  config: Record<string, unknown>;
  weightsSha256: string | null;
  /** When it was added (ms). */
  createdAt: number;
  /** When a run or the app last used it (ms). */
  lastUsedAt: number;
}

export interface ModelInput {
  name: string;
  kind: ModelKind;
  path: string;
  config?: Record<string, unknown>;
  weightsSha256?: string | null;
}

const columns = `id, name, kind, path, config, weights_sha256 AS weightsSha256, created_at AS createdAt,
  coalesce(last_used_at, created_at) AS lastUsedAt`;

type Row = Omit<Model, 'config'> & { config: string };
const fromRow = (row: Row): Model => ({ ...row, config: parseJson<Record<string, unknown>>(row.config) });

export function addModel(db: Database, input: ModelInput): number {
  const now = Date.now();
  try {
    const { lastInsertRowid } = prepare(
      db,
      `INSERT INTO model (name, kind, path, config, weights_sha256, created_at, last_used_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      input.name,
      input.kind,
      input.path,
      JSON.stringify(input.config ?? {}),
      input.weightsSha256 ?? null,
      now,
      now,
    );
    return Number(lastInsertRowid);
  } catch (err) {
    if (isUniqueViolation(err))
      throw new UserError('conflict', `${input.path} is already one of this workspace's models`);
    throw err;
  }
}

export function getModel(db: Database, id: number): Model | undefined {
  const row = prepare<Row>(db, `SELECT ${columns} FROM model WHERE id = ?`).get(id);
  return row && fromRow(row);
}

export function getModelByPath(db: Database, folder: string): Model | undefined {
  const row = prepare<Row>(db, `SELECT ${columns} FROM model WHERE path = ?`).get(path.resolve(folder));
  return row && fromRow(row);
}

export interface RememberModel {
  /** The folder; stored absolute. */
  path: string;
  kind: ModelKind;
  /** The parsed config (QwenConfig, tiny-vlm's); kept from last time when left out. */
  config?: object;
  /** A sha256 of the weights (weightsFingerprint, or QwenFolder.weightsSha); kept from last time when left out. */
  weightsSha?: string | null;
  /** Defaults to the folder's name; an existing row keeps its name unless given. */
  name?: string;
  /** When it was used (ms); now by default. */
  at?: number;
}

/**
 * Records that the workspace used a model folder: adds its row the first time, afterwards updates
 * its kind, config and weights sha (those given) and last_used_at. Returns the row.
 */
export function rememberModel(db: Database, input: RememberModel): Model {
  const folder = path.resolve(input.path);
  const at = input.at ?? Date.now();
  const config = input.config === undefined ? null : JSON.stringify(input.config);
  const row = prepare<Row>(
    db,
    `INSERT INTO model (name, kind, path, config, weights_sha256, created_at, last_used_at)
     VALUES (:name, :kind, :path, coalesce(:config, '{}'), :sha, :at, :at)
     ON CONFLICT (path) DO UPDATE SET
       name = coalesce(:givenName, name),
       kind = excluded.kind,
       config = coalesce(:config, config),
       weights_sha256 = CASE WHEN :shaGiven THEN excluded.weights_sha256 ELSE weights_sha256 END,
       last_used_at = max(coalesce(last_used_at, created_at), excluded.last_used_at)
     RETURNING ${columns}`,
  ).get({
    name: input.name ?? path.basename(folder),
    givenName: input.name ?? null,
    kind: input.kind,
    path: folder,
    config,
    sha: input.weightsSha ?? null,
    shaGiven: input.weightsSha === undefined ? 0 : 1,
    at,
  })!;
  return fromRow(row);
}

/** The model row for a folder, added the first time a run uses it; marks it used. */
export function modelForPath(db: Database, input: ModelInput): number {
  return rememberModel(db, {
    path: input.path,
    kind: input.kind,
    name: input.name,
    config: input.config,
    weightsSha: input.weightsSha256,
  }).id;
}

/** Every model folder the workspace has used, oldest first. */
export function listModels(db: Database): Model[] {
  return prepare<Row>(db, `SELECT ${columns} FROM model ORDER BY id`).all().map(fromRow);
}
