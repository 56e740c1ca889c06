/**
 * Trace replay over a GRPO run's rollouts: per-step summaries, one step's prompts, one prompt's
 * group, a paginated search across the run, and the same prompt in another run. Migration 3
 * indexes what these read (rollout by run and prompt, by run and advantage; a trigram index of
 * completions), so a group opens in milliseconds however many rollouts the workspace holds.
 */
import type { Database } from 'better-sqlite3';
import { parseJson, prepare } from './db';
import type { Rollout } from './rollouts';

/** A group's reward spread below this teaches nothing (the trainer's own threshold). */
const zeroSpread = 1e-8;

/**
 * Whether a rollout carries a flag (migration 3 keeps rollout_flag: 'truncated'; 'format' when the
 * parser read nothing, the format reward is 0, or, in a run without a format reward, the layout
 * is broken; 'duplicate' when the parser dropped an exact duplicate or kept two boxes at the same
 * place): one primary-key lookup.
 */
const flagged = (flag: 'truncated' | 'format' | 'duplicate') =>
  `EXISTS (SELECT 1 FROM rollout_flag f WHERE f.run_id = r.run_id AND f.flag = '${flag}'
    AND f.advantage = r.advantage AND f.rollout_id = r.id)`;

export interface TraceWarning {
  kind: string;
  step: number;
  message: string;
}

export interface StepSummary {
  step: number;
  prompts: number;
  rollouts: number;
  meanReward: number;
  /** Mean over the step's groups of each group's reward std (Bessel-corrected, as the advantages). */
  rewardStd: number;
  zeroStdGroups: number;
  formatFailures: number;
  truncated: number;
  meanTokens: number;
}

/** Every step of a run that logged rollouts, in step order. */
export function traceSteps(db: Database, runId: number): StepSummary[] {
  return prepare<StepSummary>(
    db,
    `SELECT step, count(spread) AS prompts, sum(n) AS rollouts, sum(total) / sum(n) AS meanReward,
       avg(sd) AS rewardStd, count(CASE WHEN spread <= ${zeroSpread} THEN 1 END) AS zeroStdGroups,
       sum(failures) AS formatFailures, sum(cut) AS truncated, sum(tok) * 1.0 / sum(n) AS meanTokens
     FROM (
       SELECT r.step, count(*) AS n, sum(r.reward) AS total, max(r.reward) - min(r.reward) AS spread,
         CASE WHEN count(*) > 1 THEN sqrt(max(0, (sum(r.reward * r.reward) - sum(r.reward) * sum(r.reward) / count(*))
           / (count(*) - 1))) ELSE 0 END AS sd,
         0 AS failures, sum(r.truncated) AS cut, sum(r.tokens) AS tok
       FROM rollout r WHERE r.run_id = @runId GROUP BY r.step, r.prompt_key
       UNION ALL
       SELECT step, 0, 0, NULL, NULL, count(*), 0, 0 FROM rollout_flag
       WHERE run_id = @runId AND flag = 'format' GROUP BY step
     ) GROUP BY step HAVING sum(n) > 0 ORDER BY step`,
  ).all({ runId });
}

/**
 * The warnings a run raised, by step: the kept warnings, and the `warnings/<kind>` metric flags of
 * runs older than the kept warnings (their message is then the kind alone).
 */
export function traceWarnings(db: Database, runId: number): TraceWarning[] {
  const kept = prepare<TraceWarning>(
    db,
    'SELECT kind, step, message FROM run_warning WHERE run_id = ? ORDER BY step, kind',
  ).all(runId);
  const seen = new Set(kept.map((w) => `${w.kind}@${w.step}`));
  const flagged = prepare<{ key: string; step: number }>(
    db,
    `SELECT key, step FROM metric WHERE run_id = ? AND key >= 'warnings/' AND key < 'warnings0' AND value = 1`,
  ).all(runId);
  const extra = flagged
    .map((f) => ({ kind: f.key.slice('warnings/'.length), step: f.step }))
    .filter((w) => !seen.has(`${w.kind}@${w.step}`))
    .map((w) => ({ ...w, message: w.kind.replaceAll('_', ' ') }));
  return [...kept, ...extra].sort((a, b) => a.step - b.step || a.kind.localeCompare(b.kind));
}

export interface PromptSummary {
  promptKey: string;
  imageId: number | null;
  prompt: string;
  rollouts: number;
  meanReward: number;
  rewardStd: number;
  bestAdvantage: number;
  worstAdvantage: number;
  formatFailures: number;
}

/** The prompts of one step, in prompt-key order. */
export function stepPrompts(db: Database, runId: number, step: number): PromptSummary[] {
  return prepare<PromptSummary>(
    db,
    `SELECT r.prompt_key AS promptKey, min(r.image_id) AS imageId, min(r.prompt) AS prompt,
       count(*) AS rollouts, avg(r.reward) AS meanReward,
       CASE WHEN count(*) > 1 THEN sqrt(max(0, (sum(r.reward * r.reward) - sum(r.reward) * sum(r.reward) / count(*))
         / (count(*) - 1))) ELSE 0 END AS rewardStd,
       max(r.advantage) AS bestAdvantage, min(r.advantage) AS worstAdvantage,
       sum(${flagged('format')}) AS formatFailures
     FROM rollout r WHERE r.run_id = ? AND r.step = ? GROUP BY r.prompt_key ORDER BY r.prompt_key`,
  ).all(runId, step);
}

/** A rollout as the viewer reads it (the run is the one asked about). */
export type TraceRollout = Omit<Rollout, 'runId'>;

interface RolloutRow extends Omit<TraceRollout, 'truncated' | 'rewards' | 'parsed'> {
  truncated: number;
  rewards: string;
  parsed: string | null;
}

const rolloutColumns = `r.id, r.step, r.prompt_key AS promptKey, r.image_id AS imageId,
  r.sample_index AS sampleIndex, r.prompt, r.completion, r.tokens, r.truncated, r.rewards, r.reward,
  r.advantage, r.parsed, r.mean_logprob AS meanLogprob`;

function toRollout(r: RolloutRow): TraceRollout {
  return {
    ...r,
    truncated: r.truncated === 1,
    rewards: parseJson<Record<string, number>>(r.rewards),
    parsed: r.parsed === null ? null : parseJson<unknown>(r.parsed),
  };
}

/** One prompt's group at one step: its G rollouts in sample order. */
export function rolloutGroup(db: Database, runId: number, step: number, promptKey: string): TraceRollout[] {
  return prepare<RolloutRow>(
    db,
    `SELECT ${rolloutColumns} FROM rollout r
     WHERE r.run_id = ? AND r.step = ? AND r.prompt_key = ? ORDER BY r.sample_index`,
  )
    .all(runId, step, promptKey)
    .map(toRollout);
}

/** The step of `promptKey` in a run nearest to `step` (the earlier one on a tie); null if never asked. */
export function nearestPromptStep(
  db: Database,
  runId: number,
  promptKey: string,
  step: number,
): number | null {
  const before = prepare<{ step: number | null }>(
    db,
    'SELECT max(step) AS step FROM rollout WHERE run_id = ? AND prompt_key = ? AND step <= ?',
  ).get(runId, promptKey, step)!.step;
  const after = prepare<{ step: number | null }>(
    db,
    'SELECT min(step) AS step FROM rollout WHERE run_id = ? AND prompt_key = ? AND step >= ?',
  ).get(runId, promptKey, step)!.step;
  if (before === null) return after;
  if (after === null) return before;
  return step - before <= after - step ? before : after;
}

export type TraceSort = 'advantage-desc' | 'advantage-asc' | 'step';

export interface TraceSearch {
  sort: TraceSort;
  zeroStd?: boolean;
  formatFailures?: boolean;
  truncated?: boolean;
  duplicateBoxes?: boolean;
  /** Text the completion contains (case-insensitive). */
  text?: string;
  offset: number;
  limit: number;
}

export interface TraceHit {
  id: number;
  step: number;
  promptKey: string;
  imageId: number | null;
  sampleIndex: number;
  reward: number;
  advantage: number;
  tokens: number;
  truncated: boolean;
  completion: string;
}

const orderBy: Record<TraceSort, string> = {
  'advantage-desc': 'r.advantage DESC, r.id',
  'advantage-asc': 'r.advantage ASC, r.id',
  step: 'r.step, r.prompt_key, r.sample_index',
};

/** A phrase for the trigram index: three characters or more, quotes doubled. */
function ftsPhrase(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

/**
 * Rollouts of a run matching every filter given, one page of them, and how many match in all.
 * Text goes through the trigram index (case-insensitive, three characters or more).
 */
export function searchRollouts(
  db: Database,
  runId: number,
  q: TraceSearch,
): { total: number; items: TraceHit[] } {
  const where = ['r.run_id = @runId'];
  const params: Record<string, unknown> = { runId, limit: q.limit, offset: q.offset };
  if (q.truncated) where.push(flagged('truncated'));
  if (q.formatFailures) where.push(flagged('format'));
  if (q.duplicateBoxes) where.push(flagged('duplicate'));
  if (q.zeroStd) {
    // The flat groups from the covering index, then their rollouts' ids from it again.
    where.push(`r.id IN (SELECT x.id FROM (SELECT step, prompt_key FROM rollout WHERE run_id = @runId
        GROUP BY step, prompt_key HAVING max(reward) - min(reward) <= ${zeroSpread}) g
      JOIN rollout x ON x.run_id = @runId AND x.step = g.step AND x.prompt_key = g.prompt_key)`);
  }
  const text = q.text?.trim() ?? '';
  if (text) {
    // The trigram index matches three characters or more; the contract asks for as many.
    if (text.length < 3) throw new Error('a completion search needs three characters or more');
    where.push('r.id IN (SELECT rowid FROM rollout_text WHERE rollout_text MATCH @phrase)');
    params.phrase = ftsPhrase(text);
  }
  const filter = where.join(' AND ');
  // A statement per filter combination; `prepare` caches each, and there are few.
  const total = prepare<{ n: number }>(db, `SELECT count(*) AS n FROM rollout r WHERE ${filter}`).get(
    params,
  )!.n;
  const items = prepare<Omit<TraceHit, 'truncated'> & { truncated: number }>(
    db,
    `SELECT r.id, r.step, r.prompt_key AS promptKey, r.image_id AS imageId, r.sample_index AS sampleIndex,
       r.reward, r.advantage, r.tokens, r.truncated, r.completion
     FROM rollout r WHERE ${filter} ORDER BY ${orderBy[q.sort]} LIMIT @limit OFFSET @offset`,
  )
    .all(params)
    .map((r) => ({ ...r, truncated: r.truncated === 1 }));
  return { total, items };
}

export interface GroundTruthBox {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  label: string;
}

/** An image's size and its boxes with their category names; undefined when the image is gone. */
export function imageTruth(
  db: Database,
  imageId: number,
): { width: number; height: number; boxes: GroundTruthBox[] } | undefined {
  const image = prepare<{ width: number; height: number }>(
    db,
    'SELECT width, height FROM image WHERE id = ?',
  ).get(imageId);
  if (!image) return undefined;
  const boxes = prepare<GroundTruthBox>(
    db,
    `SELECT a.x1, a.y1, a.x2, a.y2, c.name AS label FROM annotation a JOIN category c ON c.id = a.category_id
     WHERE a.image_id = ? ORDER BY a.id`,
  ).all(imageId);
  return { ...image, boxes };
}
