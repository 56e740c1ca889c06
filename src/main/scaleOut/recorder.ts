/**
 * What the reward server does with what TRL sends. On the server's thread: check the request and
 * score it with the run's rewards (the reply). On the record worker's thread (recordWorker.ts), the
 * RunRecorder: the same scores again, recorded as the run's rollouts one generation round at a time
 * — once every process has posted its share — with the advantages TRL computes (rewards grouped G
 * at a time in process order, scaled by the run's mode); TRL's logs as the run's metrics, with
 * vrft's own reward-hacking metrics and warnings beside them; checkpoints and the run's status.
 */
import { UserError } from '../../shared/errors';
import type { Sample } from '../models/policy';
import { scoreCompletion, type RewardResult } from '../rewards/registry';
import type { RolloutInput } from '../store/rollouts';
import type { MetricPoint, RunStatus, RunWarning } from '../store/runs';
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
  process: number;
  processes: number;
  items: ScoreItem[];
}

export interface ScoreReply {
  components: Record<string, number[]>;
  total: number[];
}

export interface LogEntry {
  step: number;
  logs: Record<string, unknown>;
}

export interface TrainingEvent {
  event: 'train_begin' | 'checkpoint' | 'train_end';
  step: number;
  path?: string;
}

/** One write to the workspace, in one transaction. */
export interface StoreOp {
  rollouts?: RolloutInput[];
  metrics?: MetricPoint[];
  warnings?: RunWarning[];
  checkpoint?: { step: number; path: string };
  status?: RunStatus;
}

export interface RoundReport {
  step: number;
  count: number;
  reward: number;
}

function problem(message: string): never {
  throw new UserError('invalid_input', message);
}

const wholeStep = (step: unknown): number =>
  Number.isInteger(step) && (step as number) >= 0
    ? (step as number)
    : problem('"step" must be a whole number ≥ 0');

/** A /v1/score body as TRL's client sends it, checked field by field. */
export function checkScoreRequest(body: unknown): ScoreRequest {
  const b = body as Partial<ScoreRequest> | null;
  if (typeof b !== 'object' || b === null) problem('the body must be a JSON object');
  const step = wholeStep(b.step);
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
  return { step, process, processes, items: b.items };
}

export function checkLogEntry(body: unknown): LogEntry {
  const b = (body ?? {}) as Partial<LogEntry>;
  const logs = typeof b.logs === 'object' && b.logs !== null ? b.logs : problem('"logs" must be an object');
  return { step: wholeStep(b.step), logs };
}

export function checkEvent(body: unknown): TrainingEvent {
  const b = (body ?? {}) as Partial<TrainingEvent>;
  if (b.event !== 'train_begin' && b.event !== 'checkpoint' && b.event !== 'train_end')
    problem('"event" must be train_begin, checkpoint or train_end');
  if (b.event === 'checkpoint' && typeof b.path !== 'string') problem('a checkpoint event needs "path"');
  return {
    event: b.event,
    step: Number.isInteger(b.step) ? b.step! : 0,
    ...(b.path !== undefined && { path: b.path }),
  };
}

interface Scored {
  item: ScoreItem;
  sample: PlannedSample;
  result: RewardResult;
}

/** Scores a batch with the run's rewards; a sample id the run does not have is the client's mistake. */
export class BatchScorer {
  private readonly samples: Map<string, PlannedSample>;

  constructor(readonly plan: ScaleOutPlan) {
    this.samples = new Map(plan.samples.map((s) => [s.sampleId, s]));
  }

  scored(items: readonly ScoreItem[]): Scored[] {
    return items.map((item, i) => {
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
  }

  reply(items: readonly ScoreItem[]): ScoreReply {
    const scored = this.scored(items);
    return {
      components: Object.fromEntries(
        Object.keys(this.plan.rewards).map((n) => [n, scored.map((s) => s.result.components[n]!)]),
      ),
      total: scored.map((s) => s.result.total),
    };
  }
}

/** The metrics only vrft computes (TRL logs rewards, lengths, entropy and zero-std itself). */
const ownMetrics = ['format/ok_rate', 'boxes/pred_per_gt', 'boxes/duplicate_rate', 'thinking/names_asked'];

/** TRL's end-of-training summary, not a curve. */
const summaryKey = (key: string) => key === 'epoch' || key === 'total_flos' || key.startsWith('train_');

export class RunRecorder {
  private readonly scorer: BatchScorer;
  /** Rounds being gathered, by TRL step: each process's scored items. */
  private readonly rounds = new Map<number, { processes: number; parts: Map<number, Scored[]> }>();
  /** vrft's own metrics of each recorded round, by the step it trains, for the warnings. */
  private readonly recorded = new Map<number, Record<string, number>>();
  private readonly watch = new TrainingWatch();

  constructor(
    readonly plan: ScaleOutPlan,
    private started: boolean,
    private readonly write: (op: StoreOp) => void,
    private readonly onRound?: (report: RoundReport) => void,
  ) {
    this.scorer = new BatchScorer(plan);
  }

  private markRunning(): void {
    if (this.started) return;
    this.started = true;
    this.write({ status: 'running' });
  }

  score(request: ScoreRequest): void {
    const scored = this.scorer.scored(request.items);
    this.markRunning();
    const round = this.rounds.get(request.step) ?? { processes: request.processes, parts: new Map() };
    round.parts.set(request.process, scored);
    this.rounds.set(request.step, round);
    if (round.parts.size >= round.processes) this.recordRound(request.step);
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
    const warnings: RunWarning[] =
      whole < all.length
        ? [
            {
              kind: 'groups',
              step,
              message: `step ${step}: ${all.length} completions arrived, not whole groups of ${G}; the last ${all.length - whole} have advantage 0`,
            },
          ]
        : [];
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
    this.write({
      rollouts: rows,
      metrics: Object.entries(metrics).map(([key, value]) => ({ step, key, value })),
      warnings,
    });
    this.recorded.set(step, metrics);
    this.onRound?.({ step, count: rows.length, reward: full.reward! });
  }

  /** One of TRL's log entries: its numbers become the run's metrics at that step; warnings follow. */
  log({ step, logs }: LogEntry): void {
    const numbers = Object.entries(logs).filter(
      (e): e is [string, number] => typeof e[1] === 'number' && !summaryKey(e[0]),
    );
    if (!numbers.length) return;
    this.markRunning();
    const warnings = this.watch.observe(step, { ...this.recorded.get(step), ...Object.fromEntries(numbers) });
    this.recorded.delete(step);
    this.write({
      metrics: [
        ...numbers.map(([key, value]) => ({ step, key, value })),
        ...warnings.map((w) => ({ step, key: `warnings/${w.kind}`, value: 1 })),
      ],
      warnings: warnings.map((w) => ({ ...w, step })),
    });
  }

  event(e: TrainingEvent): void {
    if (e.event === 'train_begin') this.markRunning();
    else if (e.event === 'checkpoint') this.write({ checkpoint: { step: e.step, path: e.path! } });
    else {
      // A round some process never finished posting is recorded as it stands.
      for (const at of [...this.rounds.keys()]) this.recordRound(at);
      this.write({ status: 'completed' });
    }
  }
}
