/**
 * SFT, the baseline RFT is compared with: teacher forcing on the ground-truth answer in the
 * model's own format, cross-entropy on the answer tokens (and the thinking text when asked).
 */
import * as tf from '@tensorflow/tfjs';
import type { Policy, RgbImage } from '../models/policy';
import { clipScale, globalNorm, readGradients, type AdamW, type HostGradients } from './optimizer';

export interface SftExample {
  image: RgbImage;
  prompt: string;
  think: string;
  answer: string;
  /** Each image patch's class, for a policy with a patch classifier (see PromptInput). */
  patchLabels?: number[];
  /** Each patch's shape's box, for a policy with a patch box head (see PromptInput). */
  patchBoxes?: (readonly number[] | null)[];
}

/**
 * Whether (true/false) or how much (a weight in [0, 1]) the loss trains on the thinking text: a
 * partial weight keeps the model writing its thinking while most of the signal goes to the answer.
 */
export type ThinkTraining = boolean | number;

/** Completion tokens (through the end token) and a weight per token: what the loss trains on. */
export function sftTargets(
  policy: Policy,
  example: SftExample,
  trainThink: ThinkTraining,
): { tokenIds: number[]; weights: number[] } {
  const { tokenizer } = policy;
  const thinking = tokenizer.encode(
    policy.prompts.completion(example.think, '').replace(/<answer><\/answer>$/, ''),
  );
  const answer = tokenizer.encode(`<answer>${example.answer}</answer>`);
  const tokenIds = [...thinking, ...answer, tokenizer.eos];
  const thinkWeight = typeof trainThink === 'number' ? trainThink : trainThink ? 1 : 0;
  const weights = tokenIds.map((_, i) => (i >= thinking.length ? 1 : thinkWeight));
  return { tokenIds, weights };
}

/**
 * Mean negative log-likelihood of the weighted target tokens (a scalar, differentiable), plus
 * `patchLossWeight` × the patch classifier's loss when the examples carry patch labels, plus
 * `patchBoxWeight` × the patch box head's when they also carry patch boxes.
 */
export function sftLoss(
  policy: Policy,
  batch: SftExample[],
  trainThink: ThinkTraining,
  patchLossWeight = 0,
  patchBoxWeight = 0,
): tf.Scalar {
  const prepared = policy.prepare(
    batch.map((e) => ({
      image: e.image,
      prompt: e.prompt,
      ...(patchLossWeight > 0 && { patchLabels: e.patchLabels }),
      ...(patchLossWeight > 0 && patchBoxWeight > 0 && { patchBoxes: e.patchBoxes }),
    })),
  );
  try {
    const targets = batch.map((e) => sftTargets(policy, e, trainThink));
    const { logProbs, mask, patchLoss, patchBoxLoss } = policy.logProbs(
      prepared,
      targets.map((t, promptIndex) => ({ promptIndex, tokenIds: t.tokenIds })),
    );
    const maxLength = logProbs.shape[1];
    const w = new Float32Array(batch.length * maxLength);
    targets.forEach((t, row) => t.weights.forEach((x, j) => (w[row * maxLength + j] = x)));
    const weights = tf.mul(tf.tensor2d(w, [batch.length, maxLength]), mask);
    const loss = tf.div(tf.neg(tf.sum(tf.mul(logProbs, weights))), tf.maximum(tf.sum(weights), 1));
    let total = patchLoss ? tf.add(loss, tf.mul(patchLoss, patchLossWeight)) : loss;
    if (patchBoxLoss) total = tf.add(total, tf.mul(patchBoxLoss, patchBoxWeight));
    return total as tf.Scalar;
  } finally {
    prepared.dispose();
  }
}

/** Gradients of `lossFn` w.r.t. the policy's trainable weights, by weight name, read to the host. */
export function gradients(
  policy: Policy,
  named: Map<string, tf.Variable>,
  lossFn: () => tf.Scalar,
): { loss: number; grads: HostGradients } {
  const byVariable = new Map([...named].map(([name, v]) => [v.name, name]));
  const { value, grads } = tf.variableGrads(lossFn, policy.trainableVariables());
  const out = new Map<string, tf.Tensor>();
  for (const [variableName, g] of Object.entries(grads)) out.set(byVariable.get(variableName)!, g);
  const loss = value.dataSync()[0]!;
  value.dispose();
  return { loss, grads: readGradients(out) };
}

export interface StepResult {
  loss: number;
  gradNorm: number;
}

/** One optimiser step: loss, gradients, clipping, AdamW. A non-finite loss changes nothing. */
export function sftStep(
  policy: Policy,
  named: Map<string, tf.Variable>,
  optimizer: AdamW,
  batch: SftExample[],
  options: {
    lr: number;
    maxGradNorm: number;
    trainThink: ThinkTraining;
    patchLossWeight?: number;
    patchBoxWeight?: number;
  },
): StepResult {
  const computed = gradients(policy, named, () =>
    sftLoss(policy, batch, options.trainThink, options.patchLossWeight, options.patchBoxWeight),
  );
  return applyGradients(optimizer, computed, options);
}

/** Clips the gradients and takes the AdamW step; a non-finite loss changes nothing. */
export function applyGradients(
  optimizer: AdamW,
  { loss, grads }: { loss: number; grads: HostGradients },
  options: { lr: number; maxGradNorm: number },
): StepResult {
  if (!Number.isFinite(loss)) return { loss, gradNorm: Number.NaN };
  const norm = globalNorm(grads);
  optimizer.apply(grads, options.lr, clipScale(norm, options.maxGradNorm));
  return { loss, gradNorm: norm };
}
