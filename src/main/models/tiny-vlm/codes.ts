/**
 * tiny-vlm's fixed (untrained) codes: where each patch sits, and what value each number token
 * stands for. Both are added to learned embeddings, so training starts from a sense of place and
 * of numeric nearness.
 */
import * as tf from '@tensorflow/tfjs';
import type { TinyVlmConfig } from './config';

/**
 * A fixed 2-D sin-cos code of each patch's centre, in the answers' own 0–1000 units (x in the first
 * half of the channels, y in the second), as MAE's encoder uses: without it a from-scratch patch
 * encoder spends thousands of steps learning where its patches are.
 */
export function patchPositionCode(c: TinyVlmConfig): tf.Tensor2D {
  const d = c.dModel;
  const side = c.imageSize / c.patchSize;
  const half = d / 2;
  const data = new Float32Array(side * side * d);
  for (let py = 0; py < side; py++) {
    for (let px = 0; px < side; px++) {
      const at = (py * side + px) * d;
      const centre = [((px + 0.5) * 1000) / side, ((py + 0.5) * 1000) / side];
      centre.forEach((v, axis) => {
        for (let i = 0; i < half / 2; i++) {
          const angle = v / 1000 ** ((2 * i) / half);
          data[at + axis * half + 2 * i] = 0.5 * Math.sin(angle);
          data[at + axis * half + 2 * i + 1] = 0.5 * Math.cos(angle);
        }
      });
    }
  }
  return tf.keep(tf.tensor2d(data, [side * side, d]));
}

/** A fixed sinusoidal code of each number token's value (0 rows for other tokens), scaled small. */
export function numberEncoding(c: TinyVlmConfig): tf.Tensor2D {
  const d = c.dModel;
  const data = new Float32Array(c.vocabSize * d);
  c.numberValues.forEach((value, id) => {
    if (value < 0) return;
    for (let i = 0; i < d / 2; i++) {
      const angle = value / 1000 ** ((2 * i) / d);
      data[id * d + 2 * i] = 0.25 * Math.sin(angle);
      data[id * d + 2 * i + 1] = 0.25 * Math.cos(angle);
    }
  });
  return tf.keep(tf.tensor2d(data, [c.vocabSize, d]));
}
