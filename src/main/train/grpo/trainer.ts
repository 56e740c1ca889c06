/**
 * The GRPO trainer: per step, a batch of prompts; G samples each; rewards from the registry;
 * advantages; μ updates of the clipped objective with a KL to the reference; metrics, rollouts,
 * warnings and checkpoints. Sampling, scoring, advantage, loss and logging are separate functions;
 * this loop only composes them.
 */
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';
import type { CompletionRef, Policy, Prepared, RgbImage, Sample } from '../../models/policy';
import {
  scoreCompletion,
  type RewardContext,
  type RewardResult,
  type Solution,
} from '../../rewards/registry';
import type { RolloutInput } from '../../store/rollouts';
import { latestCheckpoint, loadCheckpoint, saveCheckpoint } from '../checkpoint';
import { AdamW, learningRate } from '../optimizer';
import { applyGradients, gradients } from '../sft';
import { yieldToEventLoop, type BatchSource } from '../sftRun';
import { groupAdvantages, type ScaleRewards } from './advantages';
import { grpoLoss, tokenStatistics, type LossType } from './loss';
import { rolloutMetrics, TrainingWatch, type TrainingWarning } from './metrics';

export interface GrpoPrompt {
  /** Identifies the prompt across steps and runs (image + question). */
  key: string;
  imageId: number | null;
  image: RgbImage;
  prompt: string;
  solution: Solution;
  context: RewardContext;
  /** The category a detection question asks for (the thinking metrics check it is named). */
  asked?: string;
}

/** The same step always gets the same prompts. */
export type PromptSource = BatchSource<GrpoPrompt>;

export interface GrpoOptions {
  steps: number;
  promptsPerStep: number;
  numGenerations: number;
  temperature: number;
  topP: number;
  maxCompletionLength: number;
  beta: number;
  epsilon: number;
  epsilonHigh: number;
  numIterations: number;
  lossType: LossType;
  scaleRewards: ScaleRewards;
  maskTruncated: boolean;
  learningRate: number;
  warmupSteps: number;
  schedule: 'linear' | 'cosine' | 'constant';
  weightDecay: number;
  maxGradNorm: number;
  seed: number;
  checkpointEvery: number;
  rewards: Record<string, number>;
}

export function sampleGroups(policy: Policy, prepared: Prepared, o: GrpoOptions, step: number): Sample[] {
  return policy.sample(prepared, {
    n: o.numGenerations,
    temperature: o.temperature,
    topP: o.topP,
    maxNewTokens: o.maxCompletionLength,
    seed: o.seed * 100_003 + step,
  });
}

export function scoreGroups(
  prompts: GrpoPrompt[],
  samples: Sample[],
  weights: Record<string, number>,
): RewardResult[] {
  return samples.map((s) => {
    const p = prompts[s.promptIndex]!;
    return scoreCompletion(s.text, p.solution, p.context, weights);
  });
}

/** Completion tokens each row trains on; a truncated row trains on none when maskTruncated. */
function completionMask(samples: Sample[], maxLength: number, maskTruncated: boolean): tf.Tensor2D {
  const data = new Float32Array(samples.length * maxLength);
  samples.forEach((s, i) => {
    if (maskTruncated && s.truncated) return;
    for (let t = 0; t < s.tokenIds.length; t++) data[i * maxLength + t] = 1;
  });
  return tf.tensor2d(data, [samples.length, maxLength]);
}

function padded(rows: number[][], width: number): tf.Tensor2D {
  const data = new Float32Array(rows.length * width);
  rows.forEach((r, i) => data.set(r.slice(0, width), i * width));
  return tf.tensor2d(data, [rows.length, width]);
}

export interface UpdateResult {
  loss: number;
  gradNorm: number;
}

/** μ optimiser steps on one batch of rollouts, π_old frozen at the sampling policy. */
export function grpoUpdate(
  policy: Policy,
  named: Map<string, tf.Variable>,
  optimizer: AdamW,
  prepared: Prepared,
  samples: Sample[],
  advantages: number[],
  referenceLogProbs: number[][] | undefined,
  o: GrpoOptions,
  lr: number,
): UpdateResult {
  const completions: CompletionRef[] = samples.map((s) => ({
    promptIndex: s.promptIndex,
    tokenIds: s.tokenIds,
  }));
  const width = Math.max(1, ...samples.map((s) => s.tokenIds.length));
  const mask = completionMask(samples, width, o.maskTruncated);
  const adv = tf.tensor1d(advantages);
  const old =
    o.numIterations > 1
      ? padded(
          samples.map((s) => s.logProbs),
          width,
        )
      : undefined;
  const ref = referenceLogProbs ? padded(referenceLogProbs, width) : undefined;
  const activeTokens = mask.sum().dataSync()[0]!;
  let last: UpdateResult = { loss: Number.NaN, gradNorm: Number.NaN };
  try {
    for (let k = 0; k < o.numIterations; k++) {
      const computed = gradients(policy, named, () => {
        const { logProbs } = policy.logProbs(prepared, completions, o.temperature);
        return grpoLoss(
          { logProbs, oldLogProbs: old, refLogProbs: ref, mask, advantages: adv },
          {
            lossType: o.lossType,
            beta: o.beta,
            epsilon: o.epsilon,
            epsilonHigh: o.epsilonHigh,
            maxCompletionLength: o.maxCompletionLength,
            activeTokensInBatch: activeTokens,
          },
        );
      });
      last = applyGradients(optimizer, computed, { lr, maxGradNorm: o.maxGradNorm });
      if (!Number.isFinite(computed.loss)) return last;
    }
  } finally {
    tf.dispose([mask, adv, ...(old ? [old] : []), ...(ref ? [ref] : [])]);
  }
  return last;
}

/** Reference log-probs per completion, without gradients. */
export function referenceLogProbs(
  reference: Policy | 'adapters-off',
  policy: Policy,
  prepared: Prepared,
  samples: Sample[],
  temperature: number,
  referencePrepared?: Prepared,
): number[][] {
  const completions = samples.map((s) => ({ promptIndex: s.promptIndex, tokenIds: s.tokenIds }));
  const compute = (p: Policy, prep: Prepared) => {
    const { logProbs, mask } = p.logProbs(prep, completions, temperature);
    const rows = logProbs.arraySync();
    tf.dispose([logProbs, mask]);
    return rows.map((row, i) => row.slice(0, samples[i]!.tokenIds.length));
  };
  return reference === 'adapters-off'
    ? policy.withAdapters(false, () => compute(policy, prepared))
    : compute(reference, referencePrepared!);
}

export interface GrpoStepReport {
  metrics: Record<string, number>;
  rollouts: RolloutInput[];
  warnings: TrainingWarning[];
  /** Seconds: sampling; rewards and advantages; reference log-probs; loss + backward + AdamW. */
  timings: { sampling: number; scoring: number; reference: number; update: number };
}

export interface GrpoHooks {
  checkpointRoot?: string;
  resume?: boolean;
  /** Logging: metrics, the step's rollouts and any warnings (the caller stores them). */
  onStep?(step: number, report: GrpoStepReport): void;
  onCheckpoint?(step: number, dir: string): void;
  shouldStop?(): boolean;
}

export class NonFiniteGrpoLoss extends Error {}

export async function runGrpo(
  policy: Policy,
  reference: Policy | 'adapters-off' | null,
  source: PromptSource,
  o: GrpoOptions,
  hooks: GrpoHooks = {},
): Promise<{ step: number }> {
  const named = policy.trainableWeights();
  const optimizer = new AdamW(named, { weightDecay: o.weightDecay });
  const watch = new TrainingWatch();
  let step = 0;
  if (hooks.resume && hooks.checkpointRoot) {
    const last = latestCheckpoint(hooks.checkpointRoot);
    if (last) step = loadCheckpoint(last, policy, optimizer).step;
  }
  const checkpoint = () => {
    if (!hooks.checkpointRoot) return;
    const dir = saveCheckpoint(hooks.checkpointRoot, policy, optimizer, { step, seed: o.seed });
    hooks.onCheckpoint?.(step, dir);
  };
  const schedule = { lr: o.learningRate, warmupSteps: o.warmupSteps, totalSteps: o.steps, kind: o.schedule };
  while (step < o.steps) {
    await yieldToEventLoop();
    if (hooks.shouldStop?.()) break;
    const started = performance.now();
    const prompts = source.batch(step, o.promptsPerStep);
    const prepared = policy.prepare(prompts.map((p) => ({ image: p.image, prompt: p.prompt })));
    const refPrepared =
      reference && reference !== 'adapters-off'
        ? reference.prepare(prompts.map((p) => ({ image: p.image, prompt: p.prompt })))
        : undefined;
    try {
      const samples = sampleGroups(policy, prepared, o, step);
      const sampled = performance.now();
      const results = scoreGroups(prompts, samples, o.rewards);
      const { advantages, zeroStdGroups } = groupAdvantages(
        results.map((r) => r.total),
        o.numGenerations,
        o.scaleRewards,
      );
      const rewarded = performance.now();
      const ref =
        o.beta > 0 && reference
          ? referenceLogProbs(reference, policy, prepared, samples, o.temperature, refPrepared)
          : undefined;
      const scored = performance.now();
      const lr = learningRate(step + 1, schedule);
      const update = grpoUpdate(policy, named, optimizer, prepared, samples, advantages, ref, o, lr);
      if (!Number.isFinite(update.loss)) {
        throw new NonFiniteGrpoLoss(
          `the loss became ${update.loss} at step ${step + 1}; the last good checkpoint is kept`,
        );
      }
      const updated = performance.now();
      step++;
      const stats = tokenStatistics(
        samples.map((s, i) => ({ logProbs: s.logProbs, refLogProbs: ref?.[i], advantage: advantages[i]! })),
        o,
      );
      const metrics: Record<string, number> = {
        ...rolloutMetrics(
          {
            samples,
            results,
            zeroStdGroups,
            truthCounts: samples.map((s) => prompts[s.promptIndex]!.solution.boxes?.length),
            asked: samples.map((s) => prompts[s.promptIndex]!.asked),
          },
          o.maxCompletionLength,
        ),
        kl: stats.kl,
        'clip_ratio/low_mean': stats.clipLow,
        'clip_ratio/high_mean': stats.clipHigh,
        'clip_ratio/region_mean': stats.clipRegion,
        loss: update.loss,
        grad_norm: update.gradNorm,
        learning_rate: lr,
        step_time: (performance.now() - started) / 1000,
      };
      const rollouts: RolloutInput[] = samples.map((s, i) => {
        const p = prompts[s.promptIndex]!;
        return {
          step,
          promptKey: p.key,
          imageId: p.imageId,
          sampleIndex: i % o.numGenerations,
          prompt: p.prompt,
          completion: s.text,
          tokens: s.tokenIds.length,
          truncated: s.truncated,
          rewards: results[i]!.components,
          reward: results[i]!.total,
          advantage: advantages[i]!,
          parsed: results[i]!.parsed,
          meanLogprob: s.logProbs.length ? s.logProbs.reduce((a, b) => a + b, 0) / s.logProbs.length : null,
        };
      });
      hooks.onStep?.(step, {
        metrics,
        rollouts,
        warnings: watch.observe(step, metrics),
        timings: {
          sampling: (sampled - started) / 1000,
          scoring: (rewarded - sampled) / 1000,
          reference: (scored - rewarded) / 1000,
          update: (updated - scored) / 1000,
        },
      });
      if (step % o.checkpointEvery === 0 || step === o.steps) checkpoint();
    } finally {
      prepared.dispose();
      refPrepared?.dispose();
    }
  }
  if (step < o.steps && step % o.checkpointEvery !== 0) checkpoint();
  return { step };
}
