/** GRPO rollouts: every sampled completion, its reward components and its advantage. */
import type { Database } from 'better-sqlite3';
import { parseJson, prepare, transaction } from './db';

export interface RolloutInput {
  step: number;
  /** Identifies the prompt a group of samples shares (e.g. image id + question). */
  promptKey: string;
  imageId?: number | null;
  /** Index of this sample within its group of `numGenerations`. */
  sampleIndex: number;
  prompt: string;
  completion: string;
  tokens: number;
  truncated: boolean;
  /** Reward components by name, e.g. { iou: 0.7, format: 1 }. */
  rewards: Record<string, number>;
  reward: number;
  advantage: number;
  /** The answer as the parser read it; null when the completion did not parse. */
  parsed?: unknown;
  meanLogprob?: number | null;
}

export interface Rollout extends Required<RolloutInput> {
  id: number;
  runId: number;
  imageId: number | null;
  meanLogprob: number | null;
}

interface RolloutRow extends Omit<Rollout, 'truncated' | 'rewards' | 'parsed'> {
  truncated: number;
  rewards: string;
  parsed: string | null;
}

/**
 * Writes one step's rollouts in one transaction: a bad row (say a NaN reward) leaves none of the
 * batch behind, so a step is either fully logged or not at all.
 */
export function insertRollouts(db: Database, runId: number, rows: readonly RolloutInput[]): void {
  const insert = prepare(
    db,
    `INSERT INTO rollout (run_id, step, prompt_key, image_id, sample_index, prompt, completion,
       tokens, truncated, rewards, reward, advantage, parsed, mean_logprob)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  transaction(db, () => {
    for (const r of rows) {
      insert.run(
        runId,
        r.step,
        r.promptKey,
        r.imageId ?? null,
        r.sampleIndex,
        r.prompt,
        r.completion,
        r.tokens,
        r.truncated ? 1 : 0,
        JSON.stringify(r.rewards),
        r.reward,
        r.advantage,
        r.parsed === undefined || r.parsed === null ? null : JSON.stringify(r.parsed),
        r.meanLogprob ?? null,
      );
    }
  });
}

export function countRollouts(db: Database, runId: number): number {
  return prepare<{ n: number }>(db, 'SELECT count(*) AS n FROM rollout WHERE run_id = ?').get(runId)!.n;
}

/** One step's rollouts, grouped by prompt then sample, the order the rollout viewer shows. */
export function listRollouts(db: Database, runId: number, step: number): Rollout[] {
  return prepare<RolloutRow>(
    db,
    `SELECT id, run_id AS runId, step, prompt_key AS promptKey, image_id AS imageId,
       sample_index AS sampleIndex, prompt, completion, tokens, truncated, rewards, reward,
       advantage, parsed, mean_logprob AS meanLogprob
     FROM rollout WHERE run_id = ? AND step = ? ORDER BY prompt_key, sample_index`,
  )
    .all(runId, step)
    .map((r) => ({
      ...r,
      truncated: r.truncated === 1,
      rewards: parseJson<Record<string, number>>(r.rewards),
      parsed: r.parsed === null ? null : parseJson<unknown>(r.parsed),
    }));
}
