/**
 * What the reward server does with what TRL sends: scores completions with the run's rewards, and
 * records them as the run's rollouts — one generation round at a time, once every process has
 * posted its share, with the advantages TRL computes (rewards grouped G at a time in process order,
 * scaled by the run's mode) — and keeps TRL's logs as the run's metrics, with vrft's own
 * reward-hacking metrics and warnings beside them.
 */
import { UserError } from '../../shared/errors';
import type { Sample } from '../models/policy';
import { scoreCompletion, type RewardResult } from '../rewards/registry';
import type { Db } from '../store/db';
import { insertRollouts, type RolloutInput } from '../store/rollouts';
import { addCheckpoint, addRunWarning, getRun, insertMetrics, setRunStatus } from '../store/runs';
import { groupAdvantages } from '../train/grpo/advantages';
import { rolloutMetrics, TrainingWatch } from '../train/grpo/metrics';
import type { PlannedSample, ScaleOutPlan } from './plan';

export interface ScoreItem {
  sample_id: string;
  completion: string;
  tokens?: number;
  truncated?: boolean;
}

export interface ScoreRequest {
  /** TRL's global step when the batch was generated (the rollouts train step + 1). */
  step: number;
  /** accelerate's process index and count: a round is complete when every process has posted. */
  process?: number;
  processes?: number;
  items: ScoreItem[];
}

export interface ScoreReply {
  components: Record<string, number[]>;
  total: number[];
}

interface Scored {
  item: ScoreItem;
  sample: PlannedSample;
  result: RewardResult;
}

/** The metrics only vrft computes (TRL logs rewards, lengths, entropy and zero-std itself). */
const ownMetrics = ['format/ok_rate', 'boxes/pred_per_gt', 'boxes/duplicate_rate', 'thinking/names_asked'];

/** TRL's end-of-training summary, not a curve. */
const summaryKey = (key: string) => key === 'epoch' || key === 'total_flos' || key.startsWith('train_');

function problem(message: string): never {
  throw new UserError('invalid_input', message);
}

/** A request body as TRL's client sends it, checked field by field. */
export function checkScoreRequest(body: unknown): ScoreRequest {
  const b = body as Partial<ScoreRequest> | null;
  if (typeof b !== 'object' || b === null) problem('the body must be a JSON object');
  if (!Number.isInteger(b.step) || b.step! < 0) problem('"step" must be a whole number ≥ 0');
  const processes = b.processes ?? 1;
  const process = b.process ?? 0;
  if (!Number.isInteger(processes) || processes < 1) problem('"processes" must be a whole number ≥ 1');
  if (!Number.isInteger(process) || process < 0 || process >= processes)
    problem('"process" must be a whole number below "processes"');
  if (!Array.isArray(b.items)) problem('"items" must be a list of {sample_id, completion}');
  b.items.forEach((item, i) => {
    if (typeof item?.sample_id !== 'string') problem(`items[${i}].sample_id must be a string`);
    if (typeof item.completion !== 'string') problem(`items[${i}].completion must be a string`);
    if (item.tokens !== undefined && !(Number.isInteger(item.tokens) && item.tokens >= 0))
      problem(`items[${i}].tokens must be a whole number`);
  });
  return { step: b.step!, process, processes, items: b.items };
}

export class RunRecorder {
  private readonly samples: Map<string, PlannedSample>;
  private readonly names: string[];
  /** Rounds being gathered, by TRL step: each process's scored items. */
  private readonly rounds = new Map<number, { processes: number; parts: Map<number, Scored[]> }>();
  /** vrft's own metrics of each recorded round, by the step it trains, for the warnings. */
  private readonly recorded = new Map<number, Record<string, number>>();
  private readonly watch = new TrainingWatch();
  private started = false;
  /** Rollouts recorded so far this session. */
  rollouts = 0;

  constructor(
    private readonly db: Db,
    readonly plan: ScaleOutPlan,
    private readonly onRound?: (step: number, count: number, metrics: Record<string, number>) => void,
  ) {
    if (!getRun(db, plan.runId))
      throw new UserError('not_found', `There is no run ${plan.runId} in this workspace.`);
    this.samples = new Map(plan.samples.map((s) => [s.sampleId, s]));
    this.names = Object.keys(plan.rewards);
  }

  private markRunning(): void {
    if (this.started) return;
    this.started = true;
    if (getRun(this.db, this.plan.runId)?.status !== 'running')
      setRunStatus(this.db, this.plan.runId, 'running');
  }

  score(request: ScoreRequest): ScoreReply {
    const scored = request.items.map((item, i): Scored => {
      const sample = this.samples.get(item.sample_id);
      if (!sample)
        problem(
          `items[${i}].sample_id "${item.sample_id}" is not one of run ${this.plan.runId}'s prompts: ` +
            'was the project exported for another run?',
        );
      return {
        item,
        sample,
        result: scoreCompletion(item.completion, sample.solution, sample.context, this.plan.rewards),
      };
    });
    this.markRunning();
    const reply: ScoreReply = {
      components: Object.fromEntries(this.names.map((n) => [n, scored.map((s) => s.result.components[n]!)])),
      total: scored.map((s) => s.result.total),
    };
    const round = this.rounds.get(request.step) ?? { processes: request.processes ?? 1, parts: new Map() };
    round.parts.set(request.process ?? 0, scored);
    this.rounds.set(request.step, round);
    if (round.parts.size >= round.processes) this.recordRound(request.step);
    return reply;
  }

  /** Writes a round's rollouts in one transaction, advantages as TRL computes them. */
  private recordRound(generatedAt: number): void {
    const round = this.rounds.get(generatedAt)!;
    this.rounds.delete(generatedAt);
    const all = [...round.parts.entries()].sort(([a], [b]) => a - b).flatMap(([, part]) => part);
    const step = generatedAt + 1;
    const G = this.plan.numGenerations;
    const whole = all.length - (all.length % G);
    const { advantages, zeroStdGroups } = groupAdvantages(
      all.slice(0, whole).map((s) => s.result.total),
      G,
      this.plan.scaleRewards,
    );
    if (whole < all.length)
      addRunWarning(this.db, this.plan.runId, {
        kind: 'groups',
        step,
        message: `step ${step}: ${all.length} completions arrived, not whole groups of ${G}; the last ${all.length - whole} have advantage 0`,
      });
    const rows: RolloutInput[] = all.map((s, i) => ({
      step,
      promptKey: s.sample.sampleId,
      imageId: s.sample.imageId,
      sampleIndex: i % G,
      prompt: s.sample.prompt,
      completion: s.item.completion,
      tokens: s.item.tokens ?? 0,
      truncated: s.item.truncated ?? false,
      rewards: s.result.components,
      reward: s.result.total,
      advantage: advantages[i] ?? 0,
      parsed: s.result.parsed,
    }));
    // rolloutMetrics reads lengths and truncation of samples; here only the counts are known.
    const samples = all.map((s): Sample => ({
      promptIndex: 0,
      tokenIds: new Array<number>(s.item.tokens ?? 0).fill(0),
      text: s.item.completion,
      logProbs: [],
      entropies: [],
      truncated: s.item.truncated ?? false,
    }));
    const full = rolloutMetrics(
      {
        samples,
        results: all.map((s) => s.result),
        zeroStdGroups,
        truthCounts: all.map((s) => s.sample.solution.boxes?.length),
        asked: all.map((s) => s.sample.asked),
      },
      this.plan.maxCompletionLength,
    );
    const metrics = Object.fromEntries(ownMetrics.filter((k) => k in full).map((k) => [k, full[k]!]));
    insertRollouts(this.db, this.plan.runId, rows);
    insertMetrics(
      this.db,
      this.plan.runId,
      Object.entries(metrics).map(([key, value]) => ({ step, key, value })),
    );
    this.recorded.set(step, metrics);
    this.rollouts += rows.length;
    this.onRound?.(step, rows.length, { reward: full.reward!, ...metrics });
  }

  /** One of TRL's log entries: its numbers become the run's metrics at that step; warnings follow. */
  log(step: number, logs: Record<string, unknown>): void {
    if (!Number.isInteger(step) || step < 0) problem('"step" must be a whole number ≥ 0');
    const numbers = Object.entries(logs ?? {}).filter(
      (e): e is [string, number] => typeof e[1] === 'number' && !summaryKey(e[0]),
    );
    if (!numbers.length) return;
    this.markRunning();
    const metrics = Object.fromEntries(numbers);
    const warnings = this.watch.observe(step, { ...this.recorded.get(step), ...metrics });
    this.recorded.delete(step);
    insertMetrics(this.db, this.plan.runId, [
      ...numbers.map(([key, value]) => ({ step, key, value })),
      ...warnings.map((w) => ({ step, key: `warnings/${w.kind}`, value: 1 })),
    ]);
    for (const w of warnings) addRunWarning(this.db, this.plan.runId, { ...w, step });
  }

  event(body: { event?: unknown; step?: unknown; path?: unknown }): void {
    const step = Number.isInteger(body.step) ? (body.step as number) : 0;
    if (body.event === 'train_begin') this.markRunning();
    else if (body.event === 'checkpoint') {
      if (typeof body.path !== 'string') problem('a checkpoint event needs "path"');
      addCheckpoint(this.db, { runId: this.plan.runId, step, path: body.path });
    } else if (body.event === 'train_end') {
      // A round some process never finished posting is recorded as it stands.
      for (const at of [...this.rounds.keys()]) this.recordRound(at);
      setRunStatus(this.db, this.plan.runId, 'completed');
    } else problem('"event" must be train_begin, checkpoint or train_end');
  }
}
