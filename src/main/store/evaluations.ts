/** Evaluation results: the summary metrics and one row per predicted box. */
import type { Database } from 'better-sqlite3';
import { parseJson, prepare, transaction } from './db';
import type { PixelBox } from './annotations';

export interface EvaluationInput {
  runId: number;
  splitId?: number | null;
  metrics: Record<string, number>;
  perCategory: Record<string, Record<string, number>>;
}

export interface Evaluation extends Required<EvaluationInput> {
  id: number;
  splitId: number | null;
  createdAt: number;
}

type EvaluationRow = Omit<Evaluation, 'metrics' | 'perCategory'> & Record<'metrics' | 'perCategory', string>;

export interface PredictionInput {
  imageId: number;
  categoryId?: number | null;
  /** Null when the completion yielded no box; the completion is still kept. */
  box: PixelBox | null;
  score?: number | null;
  completion: string;
}

export function addEvaluation(db: Database, input: EvaluationInput): number {
  const { lastInsertRowid } = prepare(
    db,
    `INSERT INTO evaluation (run_id, split_id, metrics, per_category, created_at)
     VALUES (?, ?, ?, ?, ?)`,
  ).run(
    input.runId,
    input.splitId ?? null,
    JSON.stringify(input.metrics),
    JSON.stringify(input.perCategory),
    Date.now(),
  );
  return Number(lastInsertRowid);
}

export function getEvaluation(db: Database, id: number): Evaluation | undefined {
  const row = prepare<EvaluationRow>(
    db,
    `SELECT id, run_id AS runId, split_id AS splitId, metrics, per_category AS perCategory,
       created_at AS createdAt
     FROM evaluation WHERE id = ?`,
  ).get(id);
  return (
    row && {
      ...row,
      metrics: parseJson<Evaluation['metrics']>(row.metrics),
      perCategory: parseJson<Evaluation['perCategory']>(row.perCategory),
    }
  );
}

/** All of an evaluation's predictions in one transaction, so a report never sees part of them. */
export function insertPredictions(
  db: Database,
  evaluationId: number,
  rows: readonly PredictionInput[],
): void {
  const insert = prepare(
    db,
    `INSERT INTO prediction (evaluation_id, image_id, category_id, x1, y1, x2, y2, score, completion)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  transaction(db, () => {
    for (const p of rows) {
      insert.run(
        evaluationId,
        p.imageId,
        p.categoryId ?? null,
        p.box?.x1 ?? null,
        p.box?.y1 ?? null,
        p.box?.x2 ?? null,
        p.box?.y2 ?? null,
        p.score ?? null,
        p.completion,
      );
    }
  });
}

export interface StoredPrediction {
  imageId: number;
  categoryId: number | null;
  box: PixelBox | null;
  score: number | null;
}

/** An evaluation's predictions in the order they were stored (the order the evaluation scored them). */
export function listPredictions(db: Database, evaluationId: number): StoredPrediction[] {
  type Row = Omit<StoredPrediction, 'box'> & Record<keyof PixelBox, number | null>;
  return prepare<Row>(
    db,
    `SELECT image_id AS imageId, category_id AS categoryId, x1, y1, x2, y2, score
     FROM prediction WHERE evaluation_id = ? ORDER BY id`,
  )
    .all(evaluationId)
    .map(({ imageId, categoryId, x1, y1, x2, y2, score }) => ({
      imageId,
      categoryId,
      box: x1 === null ? null : { x1, y1: y1!, x2: x2!, y2: y2! },
      score,
    }));
}

export function countPredictions(db: Database, evaluationId: number): number {
  return prepare<{ n: number }>(db, 'SELECT count(*) AS n FROM prediction WHERE evaluation_id = ?').get(
    evaluationId,
  )!.n;
}

/** A run's newest evaluation: its own, or that of its newest evaluation child run. */
export function latestEvaluationOfRun(db: Database, runId: number): Evaluation | undefined {
  const row = prepare<{ id: number }>(
    db,
    `SELECT e.id FROM evaluation e JOIN run r ON r.id = e.run_id
     WHERE r.id = ? OR (r.parent_run_id = ? AND r.kind = 'eval') ORDER BY e.id DESC LIMIT 1`,
  ).get(runId, runId);
  return row && getEvaluation(db, row.id);
}

/** The evaluation and all its predictions in one transaction: a report never sees half of it. */
export function saveEvaluation(
  db: Database,
  input: EvaluationInput,
  predictions: readonly PredictionInput[],
): number {
  return transaction(db, () => {
    const id = addEvaluation(db, input);
    insertPredictions(db, id, predictions);
    return id;
  });
}

export interface StoredAnswer extends StoredPrediction {
  completion: string;
}

/** An evaluation's predictions with the completion each came from, in the order they were stored. */
export function listAnswers(db: Database, evaluationId: number): StoredAnswer[] {
  type Row = Omit<StoredAnswer, 'box'> & Record<keyof PixelBox, number | null>;
  return prepare<Row>(
    db,
    `SELECT image_id AS imageId, category_id AS categoryId, x1, y1, x2, y2, score, completion
     FROM prediction WHERE evaluation_id = ? ORDER BY id`,
  )
    .all(evaluationId)
    .map(({ x1, y1, x2, y2, ...rest }) => ({
      ...rest,
      box: x1 === null ? null : { x1, y1: y1!, x2: x2!, y2: y2! },
    }));
}
