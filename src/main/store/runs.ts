/** Runs and what they leave behind while training: metrics per step and checkpoints. */
import type { Database } from 'better-sqlite3';
import { parseJson, prepare, transaction } from './db';

export type RunKind = 'sft' | 'grpo' | 'eval';
export type RunStatus = 'queued' | 'running' | 'paused' | 'completed' | 'failed' | 'cancelled';

export interface Run {
  id: number;
  /** The user's name for it; '' until named. */
  name: string;
  kind: RunKind;
  datasetId: number | null;
  splitId: number | null;
  modelId: number | null;
  parentRunId: number | null;
  config: Record<string, unknown>;
  seed: number | null;
  status: RunStatus;
  error: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

export interface RunInput {
  kind: RunKind;
  name?: string;
  datasetId?: number | null;
  splitId?: number | null;
  modelId?: number | null;
  parentRunId?: number | null;
  config: Record<string, unknown>;
  seed?: number | null;
}

export interface MetricPoint {
  step: number;
  key: string;
  /** NaN round-trips (stored as NULL): a diverged loss is a result, not an error. */
  value: number;
}

export interface Checkpoint {
  id: number;
  runId: number;
  step: number;
  path: string;
  createdAt: number;
}

export function createRun(db: Database, input: RunInput): number {
  const { lastInsertRowid } = prepare(
    db,
    `INSERT INTO run (kind, name, dataset_id, split_id, model_id, parent_run_id, config, seed, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    input.kind,
    input.name?.trim() ?? '',
    input.datasetId ?? null,
    input.splitId ?? null,
    input.modelId ?? null,
    input.parentRunId ?? null,
    JSON.stringify(input.config),
    input.seed ?? null,
    Date.now(),
  );
  return Number(lastInsertRowid);
}

const columns = `id, name, kind, dataset_id AS datasetId, split_id AS splitId, model_id AS modelId,
  parent_run_id AS parentRunId, config, seed, status, error, created_at AS createdAt,
  started_at AS startedAt, finished_at AS finishedAt`;

type RunRow = Omit<Run, 'config'> & { config: string };

const toRun = (row: RunRow): Run => ({ ...row, config: parseJson<Record<string, unknown>>(row.config) });

export function getRun(db: Database, id: number): Run | undefined {
  const row = prepare<RunRow>(db, `SELECT ${columns} FROM run WHERE id = ?`).get(id);
  return row && toRun(row);
}

/**
 * Writes one logging step's worth of metrics in one transaction: all rows or none. A point logged
 * again for the same step (a resumed run) replaces the old value.
 */
export function insertMetrics(db: Database, runId: number, rows: readonly MetricPoint[]): void {
  const upsert = prepare(
    db,
    `INSERT INTO metric (run_id, step, key, value, logged_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (run_id, key, step) DO UPDATE SET value = excluded.value, logged_at = excluded.logged_at`,
  );
  const now = Date.now();
  transaction(db, () => {
    for (const r of rows) upsert.run(runId, r.step, r.key, Number.isNaN(r.value) ? null : r.value, now);
  });
}

export function listMetrics(db: Database, runId: number, key?: string): MetricPoint[] {
  const rows =
    key === undefined
      ? prepare<{ step: number; key: string; value: number | null }>(
          db,
          'SELECT step, key, value FROM metric WHERE run_id = ? ORDER BY step, key',
        ).all(runId)
      : prepare<{ step: number; key: string; value: number | null }>(
          db,
          'SELECT step, key, value FROM metric WHERE run_id = ? AND key = ? ORDER BY step',
        ).all(runId, key);
  return rows.map((r) => ({ step: r.step, key: r.key, value: r.value ?? NaN }));
}

export function addCheckpoint(db: Database, input: { runId: number; step: number; path: string }): number {
  const { lastInsertRowid } = prepare(
    db,
    'INSERT INTO checkpoint (run_id, step, path, created_at) VALUES (?, ?, ?, ?)',
  ).run(input.runId, input.step, input.path, Date.now());
  return Number(lastInsertRowid);
}

export function listCheckpoints(db: Database, runId: number): Checkpoint[] {
  return prepare<Checkpoint>(
    db,
    `SELECT id, run_id AS runId, step, path, created_at AS createdAt
     FROM checkpoint WHERE run_id = ? ORDER BY step`,
  ).all(runId);
}

/** Moves a run to a new status, stamping when it started or finished. */
export function setRunStatus(db: Database, id: number, status: RunStatus, error: string | null = null): void {
  const now = Date.now();
  prepare(
    db,
    `UPDATE run SET status = ?, error = ?,
       started_at = CASE WHEN ? = 'running' AND started_at IS NULL THEN ? ELSE started_at END,
       finished_at = CASE WHEN ? IN ('completed', 'failed', 'cancelled') THEN ? ELSE NULL END
     WHERE id = ?`,
  ).run(status, error, status, now, status, now, id);
}

/**
 * Resuming from the checkpoint at `step`: what was logged after it belongs to steps that will run
 * again, so it goes — one transaction, so a reader never sees half of it.
 */
export function rollBackRunAfter(db: Database, runId: number, step: number): void {
  transaction(db, () => {
    prepare(db, 'DELETE FROM metric WHERE run_id = ? AND step > ?').run(runId, step);
    prepare(db, 'DELETE FROM checkpoint WHERE run_id = ? AND step > ?').run(runId, step);
    prepare(db, 'DELETE FROM rollout WHERE run_id = ? AND step > ?').run(runId, step);
    prepare(db, 'DELETE FROM run_warning WHERE run_id = ? AND step > ?').run(runId, step);
  });
}

export function renameRun(db: Database, id: number, name: string): boolean {
  return prepare(db, 'UPDATE run SET name = ? WHERE id = ?').run(name.trim(), id).changes > 0;
}

export interface RunWarning {
  kind: string;
  step: number;
  message: string;
}

/** Keeps a warning the trainer raised (said again at the same step, e.g. after a resume: kept once). */
export function addRunWarning(db: Database, runId: number, warning: RunWarning): void {
  prepare(
    db,
    `INSERT INTO run_warning (run_id, kind, step, message, created_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (run_id, kind, step) DO UPDATE SET message = excluded.message`,
  ).run(runId, warning.kind, warning.step, warning.message, Date.now());
}

/** Takes back a warning of one kind, at whatever step (a trainer heard again after a silence). */
export function dropRunWarning(db: Database, runId: number, kind: string): void {
  prepare(db, 'DELETE FROM run_warning WHERE run_id = ? AND kind = ?').run(runId, kind);
}

export function listRunWarnings(db: Database, runId: number): RunWarning[] {
  return prepare<RunWarning>(
    db,
    'SELECT kind, step, message FROM run_warning WHERE run_id = ? ORDER BY step, kind',
  ).all(runId);
}

export interface RunListing extends Run {
  lastStep: number | null;
}

/** Every run, newest first, with the last step it logged. */
export function listRuns(db: Database): RunListing[] {
  return prepare<RunRow & { lastStep: number | null }>(
    db,
    `SELECT ${columns}, (SELECT max(step) FROM metric m WHERE m.run_id = run.id) AS lastStep FROM run ORDER BY id DESC`,
  )
    .all()
    .map((row) => ({ ...toRun(row), lastStep: row.lastStep }));
}

/** The values a run logged at one step, by key (NaN as NaN). */
export function metricsAtStep(db: Database, runId: number, step: number): Record<string, number> {
  const rows = prepare<{ key: string; value: number | null }>(
    db,
    'SELECT key, value FROM metric WHERE run_id = ? AND step = ?',
  ).all(runId, step);
  return Object.fromEntries(rows.map((r) => [r.key, r.value ?? NaN]));
}

export interface MetricSeries {
  steps: number[];
  /** When each step was logged (ms), null where the row predates logged times. */
  times: (number | null)[];
  /** Each key's value at each step; null where not logged there, or NaN. */
  values: Record<string, (number | null)[]>;
}

/** A run's metrics aligned on the steps it logged, in one pass over (run_id, step) order. */
export function metricSeries(db: Database, runId: number, keys?: readonly string[]): MetricSeries {
  // One row per key with its points as JSON arrays, grouped along the primary key (run, key,
  // step): a chart of 10 runs × 10,000 steps reads 400,000 points, and SQLite builds the arrays
  // far faster than it hands out row objects.
  const rows = prepare<{ key: string; steps: string; vals: string; times: string }>(
    db,
    `SELECT key, json_group_array(step) AS steps, json_group_array(value) AS vals,
       json_group_array(logged_at) AS times
     FROM metric WHERE run_id = ? GROUP BY key`,
  ).all(runId);
  const parsed = rows.map((r) => {
    const p = {
      key: r.key,
      steps: JSON.parse(r.steps) as number[],
      vals: JSON.parse(r.vals) as (number | null)[],
      times: JSON.parse(r.times) as (number | null)[],
    };
    // The scan follows the primary key, so steps ascend; should a plan ever differ, sort them.
    if (p.steps.some((step, i) => i > 0 && step < p.steps[i - 1]!)) {
      const order = p.steps.map((_, i) => i).sort((a, b) => p.steps[a]! - p.steps[b]!);
      return {
        key: p.key,
        steps: order.map((i) => p.steps[i]!),
        vals: order.map((i) => p.vals[i]!),
        times: order.map((i) => p.times[i]!),
      };
    }
    return p;
  });
  const wanted = keys && new Set(keys);
  // Every key logged at every step (the usual case): the arrays are the columns as they are.
  const first = parsed[0]?.steps ?? [];
  if (parsed.every((p) => p.steps.length === first.length && p.steps.every((step, i) => step === first[i])))
    return {
      steps: first,
      times: parsed[0]?.times ?? [],
      values: Object.fromEntries(
        parsed.filter((p) => !wanted || wanted.has(p.key)).map((p) => [p.key, p.vals]),
      ),
    };
  const union = [...new Set(parsed.flatMap((p) => p.steps))].sort((a, b) => a - b);
  const index = new Map(union.map((step, i) => [step, i]));
  const times = new Array<number | null>(union.length).fill(null);
  const values: Record<string, (number | null)[]> = {};
  for (const p of parsed) {
    p.steps.forEach((step, i) => (times[index.get(step)!] ??= p.times[i] ?? null));
    if (wanted && !wanted.has(p.key)) continue;
    const column = new Array<number | null>(union.length).fill(null);
    p.steps.forEach((step, i) => (column[index.get(step)!] = p.vals[i] ?? null));
    values[p.key] = column;
  }
  return { steps: union, times, values };
}
