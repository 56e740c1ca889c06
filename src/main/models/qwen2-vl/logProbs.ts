/**
 * Log-probabilities over Qwen's 151,936-word vocabulary without holding more of it than needed:
 * `logSoftmax` for a few rows of logits (sampling, greedy), `tokenLogProbs` for training, which
 * never makes a whole [tokens × vocab] tensor.
 */
import { tf } from '../../engine/tf';

/**
 * log-softmax over a vocabulary [m, vocab]. TensorFlow.js sums in float32 one term after another,
 * which over 150k exponentials is off by ~1e-4 in the log; summing in chunks of ~√vocab and then
 * the chunks keeps it near 1e-6, like PyTorch's pairwise sums. Differentiable.
 */
export function logSoftmax(logits: tf.Tensor2D): tf.Tensor2D {
  const [m, vocab] = logits.shape;
  let chunk = Math.floor(Math.sqrt(vocab));
  while (vocab % chunk !== 0) chunk--;
  if (chunk < 16) return tf.logSoftmax(logits);
  return tf.tidy(() => {
    const shifted = tf.sub(logits, tf.max(logits, 1, true));
    const partial = tf.sum(tf.exp(tf.reshape(shifted, [m, vocab / chunk, chunk])), 2);
    return tf.sub(shifted, tf.log(tf.sum(partial, 1, true)));
  });
}

/** Rows of logits computed at a time by `tokenLogProbs`: about 16 MiB of them. */
const logitBytes = 2 ** 24;

/**
 * log softmax(h·Wᵀ / temperature)[target] for each row h of `hidden` [m, hidden] and the head W
 * [vocab, hidden] → [m]. Qwen's vocabulary is 151,936 wide, so the logits of a GRPO batch
 * (16 completions × 256 tokens) would be 2.5 GB, and its softmax and gradient as much again: here
 * they are made a few rows at a time, in the forward pass and again in the backward pass
 * (d/dh = (onehot − softmax)·W / temperature), never whole. W gets a gradient when it trains.
 */
export function tokenLogProbs(
  hidden: tf.Tensor2D,
  head: tf.Variable,
  targets: readonly number[],
  temperature = 1,
  chunkBytes = logitBytes,
): tf.Tensor1D {
  const [vocab] = head.shape as [number, number];
  const m = hidden.shape[0];
  const step = Math.max(1, Math.floor(chunkBytes / 4 / vocab));
  const ids = Int32Array.from(targets);
  const chunks = Array.from({ length: Math.ceil(m / step) }, (_, i) => [
    i * step,
    Math.min(step, m - i * step),
  ]);
  const chunkLogits = (h: tf.Tensor2D, w: tf.Tensor2D, at: number, rows: number) => {
    const hc = tf.slice(h, [at, 0], [rows, -1]);
    const logits = tf.div(tf.matMul(hc, w, false, true), temperature) as tf.Tensor2D;
    const onehot = tf.oneHot(tf.tensor1d(ids.subarray(at, at + rows), 'int32'), vocab);
    return { hc, logits, onehot };
  };
  const forward = (h: tf.Tensor2D, w: tf.Tensor2D) =>
    tf.tidy(() =>
      tf.concat(
        chunks.map(([at, rows]) =>
          tf.tidy(() => {
            const { logits, onehot } = chunkLogits(h, w, at!, rows!);
            return tf.sub(tf.sum(tf.mul(logits, onehot), 1), tf.logSumExp(logits, 1));
          }),
        ),
      ),
    ) as tf.Tensor1D;
  const trains = head.trainable;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.at(-1) as tf.GradSaveFunc;
    const h = args[0] as tf.Tensor2D;
    const w = (trains ? args[1] : head) as tf.Tensor2D;
    save([h, w]);
    return {
      value: forward(h, w),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [hs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
        let dw: tf.Tensor | null = null;
        const dh = chunks.map(([at, rows]) =>
          tf.tidy(() => {
            const { hc, logits, onehot } = chunkLogits(hs, ws, at!, rows!);
            const scale = tf.reshape(tf.div(tf.slice(dy, [at!], [rows!]), temperature), [rows!, 1]);
            const dlogits = tf.mul(tf.sub(onehot, tf.softmax(logits)), scale) as tf.Tensor2D;
            if (trains) {
              const part = tf.matMul(dlogits, hc, true, false);
              const sum = dw ? tf.add(dw, part) : part;
              if (dw) tf.dispose(dw);
              dw = tf.keep(sum);
            }
            return tf.matMul(dlogits, ws);
          }),
        );
        const dhAll = tf.concat(dh);
        tf.dispose(dh);
        return trains ? [dhAll, dw!] : [dhAll];
      },
    };
  }) as (...inputs: tf.Tensor[]) => tf.Tensor1D;
  return trains ? op(hidden, head) : op(hidden);
}
