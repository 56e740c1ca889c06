/**
 * What a trainer process does for each kind of run: SFT, GRPO, or an evaluation. Each reads its
 * config, its data and its model, trains (or evaluates) with checkpoints, writes metrics in batched
 * transactions and GRPO's rollouts one transaction per step, and reports progress to the parent.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadPolicy, type LoadPolicyOptions } from '../models';
import { checkRewardWeights, taskRewards } from '../rewards/registry';
import type { Db } from '../store/db';
import { insertRollouts } from '../store/rollouts';
import { addCheckpoint, addRunWarning, insertMetrics, setRunStatus, type MetricPoint } from '../store/runs';
import { saveEvaluation } from '../store/evaluations';
import {
  evalConfigSchema,
  grpoConfigSchema,
  parseConfig,
  sftConfigSchema,
  type GrpoConfig,
  type SftConfig,
} from './config';
import { evaluateDetection } from './evaluateDetection';
import { loadDataset, synonymsOf } from './datasetExamples';
import { evaluateClassification } from './evaluateClassification';
import { evaluateRec } from './evaluateRec';
import { atLeastOneRecItem, recItems } from './recExamples';
import { grpoPromptsOf, sftExamplesOf } from './taskData';
import { runGrpo } from './grpo/trainer';
import { listSource, runSft } from './sftRun';

export type TrainerMessage =
  | {
      type: 'started';
      runId: number;
      kind: 'sft' | 'grpo' | 'eval';
      backend: string;
      totalSteps: number;
      fromStep: number;
    }
  | {
      type: 'progress';
      runId: number;
      step: number;
      totalSteps: number;
      metrics: Record<string, number>;
      etaSeconds: number | null;
    }
  | { type: 'warning'; runId: number; kind: string; message: string }
  | {
      type: 'finished';
      runId: number;
      status: 'completed' | 'failed' | 'paused' | 'cancelled';
      error: string | null;
    };

/** What the parent may ask: stop at the next step, keeping a checkpoint; pause (resumable) or cancel. */
export interface TrainerRequest {
  type: 'stop';
  reason?: 'pause' | 'cancel';
}

export interface Job {
  /** Tells the parent (the CLI or the engine host) what is happening. */
  send(message: TrainerMessage): void;
  db: Db;
  runId: number;
  kind: 'sft' | 'grpo' | 'eval';
  root: string;
  resume: boolean;
  fromStep: number;
  backend: string;
  shouldStop(): boolean;
}

/** Metrics in batched transactions: flushed every 40 points and at each checkpoint. */
function metricWriter(job: Job) {
  let pending: MetricPoint[] = [];
  const flush = () => {
    insertMetrics(job.db, job.runId, pending);
    pending = [];
  };
  return {
    add(step: number, metrics: Record<string, number>) {
      for (const [key, value] of Object.entries(metrics)) pending.push({ step, key, value });
      if (pending.length >= 40) flush();
    },
    flush,
  };
}

function started(job: Job, totalSteps: number): number {
  setRunStatus(job.db, job.runId, 'running');
  job.send({
    type: 'started',
    runId: job.runId,
    kind: job.kind,
    backend: job.backend,
    totalSteps,
    fromStep: job.fromStep,
  });
  return Date.now();
}

function progress(
  job: Job,
  startedAt: number,
  step: number,
  steps: number,
  metrics: Record<string, number>,
): void {
  const done = step - job.fromStep;
  const eta = done > 0 ? (((Date.now() - startedAt) / 1000) * (steps - step)) / done : null;
  job.send({ type: 'progress', runId: job.runId, step, totalSteps: steps, metrics, etaSeconds: eta });
}

/** How a run loads the policy it trains. */
function trainingOptions(config: SftConfig | GrpoConfig): LoadPolicyOptions {
  return {
    lora: config.lora,
    seed: config.seed,
    freezeVisionTower: config.freezeVisionTower,
    gradientCheckpointing: config.gradientCheckpointing,
  };
}

export async function trainSft(job: Job, raw: unknown) {
  const config = parseConfig(sftConfigSchema, raw, `run ${job.runId}`);
  const loaded = loadDataset(job.db, config.dataset, config.split);
  const policy = await loadPolicy(path.resolve(config.model), trainingOptions(config));
  const examples = sftExamplesOf(loaded, config, policy);
  const metrics = metricWriter(job);
  const startedAt = started(job, config.steps);
  const { step } = await runSft(
    policy,
    listSource(examples, config.seed),
    {
      steps: config.steps,
      batchSize: config.batchSize,
      lr: config.learningRate,
      warmupSteps: config.warmupSteps,
      schedule: config.schedule,
      weightDecay: config.weightDecay,
      maxGradNorm: config.maxGradNorm,
      seed: config.seed,
      trainThink: config.trainThink,
      checkpointEvery: config.checkpointEvery,
    },
    {
      checkpointRoot: job.root,
      resume: job.resume,
      shouldStop: job.shouldStop,
      onStep(s, m) {
        metrics.add(s, { ...m });
        progress(job, startedAt, s, config.steps, { ...m });
      },
      onCheckpoint(s, dir) {
        metrics.flush();
        addCheckpoint(job.db, { runId: job.runId, step: s, path: dir });
      },
    },
  );
  metrics.flush();
  return { step, steps: config.steps, policy };
}

export async function trainGrpo(job: Job, raw: unknown) {
  const config = parseConfig(grpoConfigSchema, raw, `run ${job.runId}`);
  const rewards = config.rewards ?? taskRewards[config.task];
  checkRewardWeights(rewards);
  const loaded = loadDataset(job.db, config.dataset, config.split);
  const modelDir = path.resolve(config.model);
  const policy = await loadPolicy(modelDir, trainingOptions(config));
  const prompts = grpoPromptsOf(loaded, config, policy);
  // The reference: the base with adapters off for LoRA, else a frozen copy; none when β = 0.
  const reference =
    config.beta === 0
      ? null
      : config.lora
        ? 'adapters-off'
        : await loadPolicy(modelDir, { seed: config.seed });
  const metrics = metricWriter(job);
  const startedAt = started(job, config.steps);
  try {
    const { step } = await runGrpo(
      policy,
      reference,
      listSource(prompts, config.seed),
      { ...config, epsilonHigh: config.epsilonHigh ?? config.epsilon, rewards },
      {
        checkpointRoot: job.root,
        resume: job.resume,
        shouldStop: job.shouldStop,
        onStep(s, report) {
          const storing = performance.now();
          insertRollouts(job.db, job.runId, report.rollouts);
          const flags = Object.fromEntries(report.warnings.map((w) => [`warnings/${w.kind}`, 1]));
          metrics.add(s, {
            ...report.metrics,
            ...flags,
            'time/sampling': report.timings.sampling,
            'time/scoring': report.timings.scoring,
            'time/reference': report.timings.reference,
            'time/update': report.timings.update,
            'time/store': (performance.now() - storing) / 1000,
          });
          for (const w of report.warnings) {
            addRunWarning(job.db, job.runId, { ...w, step: s });
            job.send({ type: 'warning', runId: job.runId, ...w });
          }
          progress(job, startedAt, s, config.steps, report.metrics);
        },
        onCheckpoint(s, dir) {
          metrics.flush();
          addCheckpoint(job.db, { runId: job.runId, step: s, path: dir });
        },
      },
    );
    metrics.flush();
    return { step, steps: config.steps, policy };
  } finally {
    if (reference && reference !== 'adapters-off') reference.dispose();
  }
}

/**
 * Evaluation of the model on the split, stored with every prediction: detection AP, classification
 * accuracy, or REC Acc@0.5.
 */
export async function evaluateRun(job: Job, raw: unknown) {
  const config = parseConfig(evalConfigSchema, raw, `run ${job.runId}`);
  const loaded = loadDataset(job.db, config.dataset, config.split);
  const categories = config.categories ?? loaded.categoriesInUse;
  // Checked before the model loads: a dataset without expressions is the user's to fix.
  const items = config.task === 'rec' ? atLeastOneRecItem(recItems(loaded.images), config.dataset) : [];
  const policy = await loadPolicy(path.resolve(config.model), { lora: config.lora });
  if (config.checkpoint) policy.loadCheckpointWeights(config.checkpoint);
  // How far it got is kept as the metric "answered", so a list opened later shows its progress too.
  let kept = 0;
  const answered = (done: number, total: number) => {
    if (done === total || Date.now() - kept > 1000) {
      insertMetrics(job.db, job.runId, [
        { step: done, key: 'answered', value: done },
        { step: done, key: 'answers_total', value: total },
      ]);
      kept = Date.now();
    }
  };
  if (config.task === 'classification') {
    const startedAt = started(job, loaded.images.length);
    const result = evaluateClassification(policy, loaded.images, {
      maxNewTokens: config.maxNewTokens,
      synonyms: synonymsOf(loaded.categories),
      onProgress: (done) => {
        answered(done, loaded.images.length);
        progress(job, startedAt, done, loaded.images.length, {});
      },
    });
    const categoryId = new Map(loaded.categories.map((c) => [c.name, c.id]));
    saveEvaluation(
      job.db,
      {
        runId: job.runId,
        splitId: loaded.splitId,
        metrics: { accuracy: result.accuracy, formatOk: result.formatOk, answers: result.answers },
        perCategory: result.perCategory,
      },
      result.predictions.map((p) => ({
        imageId: loaded.images[p.image]!.imageId,
        categoryId: categoryId.get(p.label) ?? null,
        box: null,
        score: p.correct ? 1 : 0,
        completion: p.completion,
      })),
    );
    policy.dispose();
    return { step: loaded.images.length, steps: loaded.images.length, policy: undefined };
  }
  if (config.task === 'rec') {
    const startedAt = started(job, items.length);
    const result = evaluateRec(policy, items, {
      maxNewTokens: config.maxNewTokens,
      onProgress: (done) => {
        answered(done, items.length);
        progress(job, startedAt, done, items.length, {});
      },
    });
    const categoryId = new Map(loaded.categories.map((c) => [c.name, c.id]));
    saveEvaluation(
      job.db,
      {
        runId: job.runId,
        splitId: loaded.splitId,
        metrics: {
          acc50: result.acc50,
          meanIoU: result.meanIoU,
          formatOk: result.formatOk,
          answers: result.answers,
        },
        perCategory: result.perCategory,
      },
      result.predictions.map((p) => ({
        imageId: items[p.item]!.img.imageId,
        categoryId: categoryId.get(p.category) ?? null,
        box: p.box,
        score: p.iou,
        completion: p.completion,
      })),
    );
    policy.dispose();
    return { step: items.length, steps: items.length, policy: undefined };
  }
  const total = loaded.images.length * categories.length;
  const startedAt = started(job, total);
  const result = evaluateDetection(policy, loaded.images, categories, {
    maxNewTokens: config.maxNewTokens,
    onProgress: (done) => {
      answered(done, total);
      progress(job, startedAt, done, total, {});
    },
  });
  const categoryId = new Map(loaded.categories.map((c) => [c.name, c.id]));
  const perCategory = Object.fromEntries(
    categories.map((name) => [
      name,
      { ap: result.perCategoryAP[name]!, ap50: result.ap50PerCategory[name]! },
    ]),
  );
  const names = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10', 'AR100', 'ARs', 'ARm', 'ARl'];
  saveEvaluation(
    job.db,
    {
      runId: job.runId,
      splitId: loaded.splitId,
      metrics: {
        ...Object.fromEntries(names.map((n, i) => [n, result.stats[i]!])),
        formatOk: result.formatOk,
        answers: result.answers,
      },
      perCategory,
    },
    result.predictions.map((p) => ({
      imageId: loaded.images[p.image]!.imageId,
      categoryId: categoryId.get(p.category) ?? null,
      box: p.box,
      score: p.score,
      completion: p.completion,
    })),
  );
  policy.dispose();
  return { step: total, steps: total, policy: undefined };
}

/** The job of each run kind; each returns the step it reached, the steps it wanted and its model. */
export const jobs = { grpo: trainGrpo, sft: trainSft, eval: evaluateRun } as const;
