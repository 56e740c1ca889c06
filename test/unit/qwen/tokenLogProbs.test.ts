/**
 * tokenLogProbs makes a wide vocabulary's logits a few rows at a time: its values and its
 * gradients (to the hidden states, and to the head when it trains) equal the whole-matrix
 * log-softmax's, across chunk boundaries and at a temperature.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { tokenLogProbs } from '../../../src/main/models/qwen2-vl/logProbs';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function largestGap(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

describe('tokenLogProbs', () => {
  // 7 rows per chunk: 20 rows cross two chunk boundaries.
  const vocab = 5000;
  const rows = 20;
  const chunkBytes = 4 * vocab * 7;
  const targets = Array.from({ length: rows }, (_, i) => (i * 7919) % vocab);
  const direct = (h: tf.Tensor2D, w: tf.Tensor2D, temperature: number) =>
    tf.sum(
      tf.mul(
        tf.logSoftmax(tf.div(tf.matMul(h, w, false, true), temperature)),
        tf.oneHot(tf.tensor1d(targets, 'int32'), vocab),
      ),
      1,
    );

  for (const trains of [false, true])
    it(`equals the whole log-softmax, value and gradients (head ${trains ? 'trains' : 'frozen'})`, () => {
      const hidden = tf.randomNormal([rows, 8], 0, 1, 'float32', 1) as tf.Tensor2D;
      const head = tf.variable(tf.randomNormal([vocab, 8], 0, 1, 'float32', 2), trains);
      const weights = tf.randomUniform([rows], 0, 1, 'float32', 3);
      const temperature = 0.7;
      const ours = tokenLogProbs(hidden, head, targets, temperature, chunkBytes);
      const want = direct(hidden, head as tf.Tensor as tf.Tensor2D, temperature);
      expect(largestGap(ours, want)).toBeLessThan(1e-4);
      const loss = (f: (h: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor) => (h: tf.Tensor, w: tf.Tensor) =>
        tf.sum(tf.mul(f(h as tf.Tensor2D, w as tf.Tensor2D), weights));
      const xs = trains ? [hidden, head] : [hidden];
      const ourGrads = tf.grads(loss((h) => tokenLogProbs(h, head, targets, temperature, chunkBytes)))(xs);
      const wantGrads = tf.grads(loss((h, w) => direct(h, (w ?? head) as tf.Tensor2D, temperature)))(xs);
      expect(ourGrads).toHaveLength(xs.length);
      ourGrads.forEach((g, i) => expect(largestGap(g, wantGrads[i]!), `gradient ${i}`).toBeLessThan(1e-5));
      tf.dispose([hidden, head, weights, ours, want, ...ourGrads, ...wantGrads]);
    });
});
