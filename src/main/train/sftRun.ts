/**
 * The SFT training loop: deterministic batches from (seed, step), AdamW with warm-up and decay,
 * gradient clipping, metrics per step, checkpoints every N steps, and exact resume from the last
 * checkpoint (weights, optimiser moments, step; the data order is a function of the step).
 */
import { performance } from 'node:perf_hooks';
import { seeded } from '../../shared/random';
import type { Policy } from '../models/policy';
import { latestCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint';
import { AdamW, learningRate } from './optimizer';
import { dataParallelGradients, type GradientWorker } from './dataParallel';
import { applyGradients, sftStep, type SftExample, type ThinkTraining } from './sft';

export interface SftOptions {
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  schedule: 'linear' | 'cosine' | 'constant';
  weightDecay: number;
  maxGradNorm: number;
  seed: number;
  trainThink: ThinkTraining;
  checkpointEvery: number;
  /** Weight of the patch classifier's loss (examples with patch labels; pretraining only). */
  patchLossWeight?: number;
  /** Weight of the patch box head's loss (examples with patch boxes too; pretraining only). */
  patchBoxWeight?: number;
}

/** Where batches come from: the same (step, size) always gives the same batch. */
export interface BatchSource<T> {
  batch(step: number, size: number): T[];
}

export type ExampleSource = BatchSource<SftExample>;

/** Batches from a fixed list: each epoch a seeded shuffle, batches taken in order across epochs. */
export function listSource<T>(examples: T[], seed: number): BatchSource<T> {
  if (examples.length === 0) throw new Error('no training examples');
  const orders = new Map<number, number[]>();
  const order = (epoch: number) => {
    let o = orders.get(epoch);
    if (!o) {
      const rng = seeded(seed * 1_000_003 + epoch);
      o = examples.map((_, i) => i);
      for (let i = o.length - 1; i > 0; i--) {
        const j = rng.int(0, i);
        [o[i], o[j]] = [o[j]!, o[i]!];
      }
      orders.set(epoch, o);
    }
    return o;
  };
  return {
    batch(step, size) {
      return Array.from({ length: size }, (_, i) => {
        const k = step * size + i;
        return examples[order(Math.floor(k / examples.length))[k % examples.length]!]!;
      });
    },
  };
}

export interface StepMetrics {
  loss: number;
  grad_norm: number;
  learning_rate: number;
  step_time: number;
}

export interface SftHooks {
  checkpointRoot?: string;
  /** Continue from the newest checkpoint under checkpointRoot, if there is one. */
  resume?: boolean;
  onStep?(step: number, metrics: StepMetrics): void;
  onCheckpoint?(step: number, dir: string): void;
  shouldStop?(): boolean;
  /** Computes half of every batch's gradients on a second core (data-parallel; see dataParallel.ts). */
  gradientWorker?: GradientWorker;
}

export class NonFiniteLossError extends Error {}

/** One turn of the event loop: a synchronous training loop would never see a stop request. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export async function runSft(
  policy: Policy,
  source: ExampleSource,
  options: SftOptions,
  hooks: SftHooks = {},
): Promise<{ step: number }> {
  const named = policy.trainableWeights();
  const optimizer = new AdamW(named, { weightDecay: options.weightDecay });
  let step = 0;
  const root = hooks.checkpointRoot;
  if (hooks.resume && root) {
    const last = latestCheckpoint(root);
    if (last) step = loadCheckpoint(last, policy, optimizer).step;
  }
  const checkpoint = () => {
    if (!root) return;
    const dir = saveCheckpoint(root, policy, optimizer, { step, seed: options.seed });
    hooks.onCheckpoint?.(step, dir);
  };
  const schedule = {
    lr: options.lr,
    warmupSteps: options.warmupSteps,
    totalSteps: options.steps,
    kind: options.schedule,
  };
  while (step < options.steps) {
    // Let IPC messages and signals in (a pause or cancel sets shouldStop) between steps.
    await yieldToEventLoop();
    if (hooks.shouldStop?.()) break;
    const started = performance.now();
    const batch = source.batch(step, options.batchSize);
    const lr = learningRate(step + 1, schedule);
    const stepOptions = {
      lr,
      maxGradNorm: options.maxGradNorm,
      trainThink: options.trainThink,
      patchLossWeight: options.patchLossWeight,
      patchBoxWeight: options.patchBoxWeight,
    };
    const result = hooks.gradientWorker
      ? applyGradients(
          optimizer,
          await dataParallelGradients(policy, named, batch, stepOptions, hooks.gradientWorker),
          stepOptions,
        )
      : sftStep(policy, named, optimizer, batch, stepOptions);
    if (!Number.isFinite(result.loss)) {
      throw new NonFiniteLossError(
        `the loss became ${result.loss} at step ${step + 1}; the last good checkpoint is kept`,
      );
    }
    step++;
    hooks.onStep?.(step, {
      loss: result.loss,
      grad_norm: result.gradNorm,
      learning_rate: lr,
      step_time: (performance.now() - started) / 1000,
    });
    if (step % options.checkpointEvery === 0 || step === options.steps) checkpoint();
  }
  // Stopped early (cancel, pause): keep where it got to.
  if (step < options.steps && step % options.checkpointEvery !== 0) checkpoint();
  return { step };
}
