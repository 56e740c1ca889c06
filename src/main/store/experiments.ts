/**
 * Experiments: base vs SFT vs RFT on one few-shot split with one budget. The row ties the base
 * model's evaluation run and the two training runs together (each training run is evaluated by an
 * eval child run), and says what the experiment is doing now.
 */
import type { Database } from 'better-sqlite3';
import { parseJson, prepare } from './db';

export type ExperimentStatus = 'running' | 'completed' | 'failed' | 'cancelled';
export type ExperimentRole = 'base' | 'sft' | 'rft';

export interface Experiment {
  id: number;
  name: string;
  datasetId: number | null;
  trainSplitId: number | null;
  evalSplitId: number | null;
  config: Record<string, unknown>;
  runs: Record<ExperimentRole, number | null>;
  status: ExperimentStatus;
  phase: string;
  error: string | null;
  createdAt: number;
  finishedAt: number | null;
}

export interface ExperimentInput {
  name: string;
  datasetId: number;
  trainSplitId: number;
  evalSplitId: number;
  config: Record<string, unknown>;
}

export function createExperiment(db: Database, input: ExperimentInput): number {
  const { lastInsertRowid } = prepare(
    db,
    `INSERT INTO experiment (name, dataset_id, train_split_id, eval_split_id, config, created_at)
     VALUES (?, ?, ?, ?, ?, ?)`,
  ).run(
    input.name,
    input.datasetId,
    input.trainSplitId,
    input.evalSplitId,
    JSON.stringify(input.config),
    Date.now(),
  );
  return Number(lastInsertRowid);
}

const roleColumn = { base: 'base_run_id', sft: 'sft_run_id', rft: 'rft_run_id' } as const;

export function setExperimentRun(db: Database, id: number, role: ExperimentRole, runId: number): void {
  prepare(db, `UPDATE experiment SET ${roleColumn[role]} = ? WHERE id = ?`).run(runId, id);
}

export function setExperimentState(
  db: Database,
  id: number,
  state: { status: ExperimentStatus; phase: string; error?: string | null },
): void {
  prepare(
    db,
    `UPDATE experiment SET status = ?, phase = ?, error = ?,
       finished_at = CASE WHEN ? = 'running' THEN NULL ELSE ? END
     WHERE id = ?`,
  ).run(state.status, state.phase, state.error ?? null, state.status, Date.now(), id);
}

interface ExperimentRow {
  id: number;
  name: string;
  datasetId: number | null;
  trainSplitId: number | null;
  evalSplitId: number | null;
  config: string;
  base: number | null;
  sft: number | null;
  rft: number | null;
  status: ExperimentStatus;
  phase: string;
  error: string | null;
  createdAt: number;
  finishedAt: number | null;
}

const select = `SELECT id, name, dataset_id AS datasetId, train_split_id AS trainSplitId,
  eval_split_id AS evalSplitId, config, base_run_id AS base, sft_run_id AS sft, rft_run_id AS rft,
  status, phase, error, created_at AS createdAt, finished_at AS finishedAt FROM experiment`;

const toExperiment = ({ base, sft, rft, config, ...row }: ExperimentRow): Experiment => ({
  ...row,
  config: parseJson<Record<string, unknown>>(config),
  runs: { base, sft, rft },
});

export function getExperiment(db: Database, id: number): Experiment | undefined {
  const row = prepare<ExperimentRow>(db, `${select} WHERE id = ?`).get(id);
  return row && toExperiment(row);
}

/** Newest first. */
export function listExperiments(db: Database): Experiment[] {
  return prepare<ExperimentRow>(db, `${select} ORDER BY id DESC`).all().map(toExperiment);
}

/**
 * An experiment left "running" by a process that is gone (the host or `vrft experiment` was closed
 * mid-way; `config.pid` is the process that drove it) is interrupted: its finished runs stay, and it
 * says how far it got.
 */
export function markInterruptedExperiments(db: Database, isAlive: (pid: number) => boolean): void {
  for (const e of listExperiments(db)) {
    if (e.status !== 'running') continue;
    const pid = e.config.pid;
    if (typeof pid === 'number' && isAlive(pid)) continue;
    setExperimentState(db, e.id, {
      status: 'failed',
      phase: e.phase,
      error: `interrupted: vrft was closed while it was ${e.phase || 'starting'}; its finished runs are kept`,
    });
  }
}
