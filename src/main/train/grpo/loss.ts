/**
 * The GRPO loss over per-token log-probs, as ALGORITHMS.md (and TRL) define it. For token t of
 * completion i: ρ = exp(logπθ − logπθ_old) (1 in value when μ = 1, but its gradient flows), the
 * clipped policy term min(ρA, clip(ρ, 1−ε, 1+ε_high)·A), the k3 KL to the reference
 * D = exp(logπref − logπθ) − (logπref − logπθ) − 1, and ℓ = −(policy term − β·D). Normalised by
 * `lossType`: grpo = mean over sequences of Σ_t ℓ / |o_i|; bnpo = Σ ℓ / Σ |o_i|;
 * dr_grpo = Σ ℓ / (B · maxCompletionLength); dapo = Σ ℓ / active tokens of the global batch.
 */
import * as tf from '@tensorflow/tfjs';

export type LossType = 'grpo' | 'bnpo' | 'dr_grpo' | 'dapo';

export interface GrpoLossInputs {
  /** log πθ [B, T] — differentiable. */
  logProbs: tf.Tensor2D;
  /** log πθ_old [B, T]; omit when μ = 1 (π_old is πθ detached). */
  oldLogProbs?: tf.Tensor2D;
  /** log πref [B, T]; needed when beta > 0. */
  refLogProbs?: tf.Tensor2D;
  /** 1 for tokens that count [B, T]. */
  mask: tf.Tensor2D;
  /** One advantage per completion [B]. */
  advantages: tf.Tensor1D;
}

export interface GrpoLossOptions {
  lossType: LossType;
  beta: number;
  epsilon: number;
  epsilonHigh: number;
  maxCompletionLength: number;
  /** dapo: active tokens in the whole batch of the step (all micro-batches); this batch's by default. */
  activeTokensInBatch?: number;
}

/** The value of x with no gradient through it (tfjs has no stopGradient). */
const detach = tf.customGrad(((x: tf.Tensor) => ({
  value: x.clone(),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as unknown as Parameters<typeof tf.customGrad>[0]);

/** The GRPO loss, a scalar differentiable w.r.t. `logProbs`. */
export function grpoLoss(inputs: GrpoLossInputs, options: GrpoLossOptions): tf.Scalar {
  const { logProbs, mask } = inputs;
  const old = inputs.oldLogProbs ?? (detach(logProbs) as tf.Tensor2D);
  const ratio = tf.exp(tf.sub(logProbs, old));
  const clipped = tf.clipByValue(ratio, 1 - options.epsilon, 1 + options.epsilonHigh);
  const advantages = tf.expandDims(inputs.advantages, 1);
  let perToken = tf.neg(tf.minimum(tf.mul(ratio, advantages), tf.mul(clipped, advantages)));
  if (options.beta > 0) {
    if (!inputs.refLogProbs) throw new Error('beta > 0 needs the reference log-probs');
    const diff = tf.sub(inputs.refLogProbs, logProbs);
    perToken = tf.add(perToken, tf.mul(tf.sub(tf.sub(tf.exp(diff), diff), 1), options.beta));
  }
  const masked = tf.mul(perToken, mask);
  switch (options.lossType) {
    case 'grpo':
      return tf.mean(tf.div(tf.sum(masked, 1), tf.maximum(tf.sum(mask, 1), 1)));
    case 'bnpo':
      return tf.div(tf.sum(masked), tf.maximum(tf.sum(mask), 1));
    case 'dr_grpo':
      return tf.div(tf.sum(masked), logProbs.shape[0] * options.maxCompletionLength);
    case 'dapo':
      return options.activeTokensInBatch === undefined
        ? tf.div(tf.sum(masked), tf.maximum(tf.sum(mask), 1))
        : tf.div(tf.sum(masked), Math.max(1, options.activeTokensInBatch));
  }
}

export interface TokenStatistics {
  /** Mean k3 KL over active tokens. */
  kl: number;
  /** Shares of active tokens clipped below (A < 0, ρ < 1−ε), above (A > 0, ρ > 1+ε_high), either. */
  clipLow: number;
  clipHigh: number;
  clipRegion: number;
}

/** The same quantities as plain numbers, for logging (comparisons cannot run inside the tape). */
export function tokenStatistics(
  rows: { logProbs: number[]; oldLogProbs?: number[]; refLogProbs?: number[]; advantage: number }[],
  options: Pick<GrpoLossOptions, 'epsilon' | 'epsilonHigh'>,
): TokenStatistics {
  let tokens = 0;
  let kl = 0;
  let low = 0;
  let high = 0;
  for (const row of rows) {
    row.logProbs.forEach((lp, t) => {
      tokens++;
      const ratio = Math.exp(lp - (row.oldLogProbs?.[t] ?? lp));
      if (row.advantage < 0 && ratio < 1 - options.epsilon) low++;
      if (row.advantage > 0 && ratio > 1 + options.epsilonHigh) high++;
      const ref = row.refLogProbs?.[t];
      if (ref !== undefined) kl += Math.exp(ref - lp) - (ref - lp) - 1;
    });
  }
  const n = Math.max(tokens, 1);
  return { kl: kl / n, clipLow: low / n, clipHigh: high / n, clipRegion: (low + high) / n };
}
