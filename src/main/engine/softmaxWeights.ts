/**
 * The weights of drawing a token from softmax(logits / t) (../models/sampling.ts), in double:
 * w = e^z with z = x/t − max/t, their sum and Σ w·z (for the entropy). A Qwen vocabulary is
 * 151,936 logits a row and a GRPO step draws ~500 tokens: Math.exp takes ~11 ns a value, the
 * native kernels' vectorised double exp (../native.ts) ~2 ns with the pass around it, where the
 * load-time check found them faster. Both agree to ~1e-14 (each weight within 2 ulp of Math.exp).
 */
import { nativeKernels } from './native';

export interface SoftmaxWeights {
  /** The first index of the largest logit. */
  best: number;
  /** The largest logit / t. */
  max: number;
  /** Σ w. */
  sum: number;
  /** Σ w·z. */
  weighted: number;
}

const nativeOut = new Float64Array(4);

/** Writes e^(x/t − max/t) of each logit into `weights` (at least as long); returns the sums. */
export function softmaxWeights(logits: Float32Array, t: number, weights: Float64Array): SoftmaxWeights {
  const native = nativeKernels('softmaxWeights');
  if (native !== undefined) {
    native.softmaxWeights(logits, t, weights, nativeOut);
    const [best, max, sum, weighted] = nativeOut as unknown as [number, number, number, number];
    return { best, max, sum, weighted };
  }
  const n = logits.length;
  let max = -Infinity;
  let best = 0;
  for (let i = 0; i < n; i++)
    if (logits[i]! > max) {
      max = logits[i]!;
      best = i;
    }
  max /= t;
  let sum = 0;
  let weighted = 0;
  for (let i = 0; i < n; i++) {
    const z = logits[i]! / t - max;
    const w = Math.exp(z);
    weights[i] = w;
    sum += w;
    weighted += w * z;
  }
  return { best, max, sum, weighted };
}
