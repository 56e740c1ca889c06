/**
 * Gradient checkpointing of the Qwen decoder: with each layer recomputed in the backward pass,
 * the gradients of the LoRA adapters and of full fine-tuning are the plain pass's, dropout masks
 * included (the recomputation draws the forward pass's masks again).
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseQwenConfig } from '../../../src/main/models/qwen2-vl/config';
import { addAdapters, loraTargets } from '../../../src/main/models/qwen2-vl/lora';
import { QwenVl } from '../../../src/main/models/qwen2-vl/model';
import { readSafetensors } from '../../../src/main/models/safetensors';

const dir = path.join(__dirname, '../../fixtures/qwen/qwen2-vl/checkpoint');
let model: QwenVl;

beforeAll(async () => {
  await tf.setBackend('cpu');
  const config = parseQwenConfig(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')));
  model = new QwenVl(config, readSafetensors(path.join(dir, 'model.safetensors')).tensors);
  const lora = { rank: 4, alpha: 8, dropout: 0.3 };
  addAdapters(model.weights, loraTargets(model.weights, lora), lora, 7);
  // B starts at zero; give it values so the adapters' gradients flow both ways.
  for (const { b } of model.weights.adapters.values())
    b.assign(tf.randomNormal(b.shape, 0, 0.1, 'float32', 3));
});
afterAll(() => model.dispose());

const sequences = [
  { inputIds: [151644, 872, 198, 3838, 374, 419, 30, 151645, 198, 151644, 77091, 198, 32, 21063], grids: [] },
  { inputIds: [151644, 872, 198, 22, 10, 151645, 198, 151644, 77091, 198, 17], grids: [] },
];

function gradientsOf(recompute: boolean, variables: tf.Variable[]) {
  model.weights.dropoutSeed = 11;
  let held = 0;
  const { value, grads } = tf.variableGrads(() => {
    const before = tf.memory().numTensors;
    const { hidden } = model.hiddenStates(sequences, null, { dropout: true, recompute });
    // How many tensors the forward pass leaves alive for the backward one (the tape's saved ones).
    held = tf.memory().numTensors - before;
    const logits = model.logits(tf.reshape(hidden, [-1, hidden.shape[2]]) as tf.Tensor2D);
    return tf.mean(tf.square(tf.slice(logits, [0, 0], [-1, 4096]))) as tf.Scalar;
  }, variables);
  const out = {
    held,
    loss: value.dataSync()[0]!,
    grads: Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, g.dataSync()])),
  };
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

describe('Qwen gradient checkpointing', () => {
  it('gives the LoRA adapters the gradients of the plain pass, dropout included', () => {
    const adapters = [...model.weights.adapters.values()].flatMap(({ a, b }) => [a, b]);
    const plain = gradientsOf(false, adapters);
    const recomputed = gradientsOf(true, adapters);
    expect(recomputed.loss).toBeCloseTo(plain.loss, 6);
    expect(Object.keys(recomputed.grads).sort()).toEqual(Object.keys(plain.grads).sort());
    let largest = 0;
    for (const [name, g] of Object.entries(plain.grads)) {
      const r = recomputed.grads[name]!;
      g.forEach((v, i) => (largest = Math.max(largest, Math.abs(v - r[i]!))));
      expect(
        g.some((v) => v !== 0),
        name,
      ).toBe(true);
    }
    expect(largest).toBeLessThan(1e-6);
    // Only each layer's input (and its rotary tables and mask) waits for the backward pass.
    expect(recomputed.held).toBeLessThan(plain.held / 3);
  });

  it('gives full fine-tuning the plain pass’s gradients of the decoder weights', () => {
    const weights = [...model.weights.variables]
      .filter(([n]) => n.startsWith('model.layers.1.'))
      .map(([, v]) => v);
    weights.forEach((v) => (v.trainable = true));
    try {
      const plain = gradientsOf(false, weights);
      const recomputed = gradientsOf(true, weights);
      for (const [name, g] of Object.entries(plain.grads)) {
        const r = recomputed.grads[name]!;
        g.forEach((v, i) => expect(Math.abs(v - r[i]!)).toBeLessThan(1e-5));
      }
    } finally {
      weights.forEach((v) => (v.trainable = false));
    }
  });
});
