/**
 * vrft's Qwen2-VL and Qwen2.5-VL forward pass against transformers' own numbers
 * (tools/reference/qwen_forward.py on the tiny checkpoints of tools/reference/qwen_tiny.py):
 * the vision tower block by block, merged features, M-RoPE position ids, hidden states, logits,
 * greedy decoding with the KV cache, a left-padded batch, a prompt's cache shared by several rows.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseQwenConfig, type QwenConfig } from '../../../src/main/models/qwen2-vl/config';
import {
  disposeCache,
  logSoftmax,
  mergedTokenCount,
  positionIds,
  QwenVl,
  qwenWeightShapes,
  tileCache,
  type GridThw,
} from '../../../src/main/models/qwen2-vl/model';
import { readSafetensors, type TensorMap } from '../../../src/main/models/safetensors';

const fixtures = path.join(__dirname, '../../fixtures/qwen');
const tolerance = 1e-4;
const mean = [0.48145466, 0.4578275, 0.40821073];
const std = [0.26862954, 0.26130258, 0.27577711];

interface Case {
  input_ids: number[];
  images: number[];
  positions: number[][];
  rope_delta: number;
  logits_at: number[];
  greedy: number[];
  greedy_logprobs: number[];
}
interface Fixture {
  columns: number[];
  grids: [number, number, number][];
  single: Case;
  odd: Case;
  two: Case;
  padded: {
    input_ids: number[][];
    attention_mask: number[][];
    positions: number[][][];
    rope_deltas: number[];
    greedy: number[][];
    greedy_logprobs: number[][];
  };
}

/**
 * The processor's pixel values from the stored uint8 levels [rows, C·p·p]: numpy's
 * f32(level·(1/255)), then (x − mean)/std in float32, the frame repeated T times.
 */
function pixelsFromLevels(levels: Float32Array, rows: number, temporal = 2, channels = 3): tf.Tensor2D {
  const perChannel = levels.length / rows / channels;
  const out = new Float32Array(rows * channels * temporal * perChannel);
  const f = Math.fround;
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < channels; c++)
      for (let k = 0; k < perChannel; k++) {
        const scaled = f(levels[(r * channels + c) * perChannel + k]! * (1 / 255));
        const value = f(f(scaled - f(mean[c]!)) / f(std[c]!));
        for (let t = 0; t < temporal; t++) out[((r * channels + c) * temporal + t) * perChannel + k] = value;
      }
  return tf.tensor2d(out, [rows, channels * temporal * perChannel]);
}

/** The largest |a − b|, element by element (same length required). */
function maxError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/** Rows of a [rows, vocab] tensor at the fixture's columns. */
function columnsOf(logits: tf.Tensor2D, columns: number[]): Float32Array {
  return tf.tidy(() => tf.gather(logits, tf.tensor1d(columns, 'int32'), 1).dataSync() as Float32Array);
}

describe('Qwen weights', () => {
  it('a checkpoint that does not fit its config is a clear error, before any tensor is made', () => {
    const dir = path.join(fixtures, 'qwen2-vl/checkpoint');
    const config = parseQwenConfig(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')));
    const tensors = readSafetensors(path.join(dir, 'model.safetensors')).tensors;
    expect(qwenWeightShapes(config).size).toBe(tensors.size);
    const before = tf.memory().numTensors;
    tensors.delete('model.layers.1.mlp.up_proj.weight');
    const wider = { ...config, text: { ...config.text, intermediateSize: 256 } };
    expect(() => new QwenVl(wider, tensors)).toThrow(
      /model\.layers\.0\.mlp\.gate_proj\.weight is \[128, 64\], the config says \[256, 64\].*model\.layers\.1\.mlp\.up_proj\.weight is missing/,
    );
    expect(tf.memory().numTensors).toBe(before);
  });
});

const errors: Record<string, Record<string, number>> = {};
afterAll(() => console.log('max |vrft − transformers|:\n' + JSON.stringify(errors, null, 1)));

describe.each(['qwen2-vl', 'qwen2.5-vl'])('%s forward pass equals transformers', (family) => {
  let config: QwenConfig;
  let model: QwenVl;
  let expected: TensorMap;
  let fixture: Fixture;
  let pixels: tf.Tensor2D;
  let merged: tf.Tensor2D;
  const worst = (errors[family] = {} as Record<string, number>);
  const record = (name: string, error: number) => {
    worst[name] = Math.max(worst[name] ?? 0, error);
    expect(error, name).toBeLessThan(tolerance);
  };
  const want = (name: string) => expected.get(name)!.data as Float32Array;
  /** Features of the fixture's images `images` (indices into its grids), in order. */
  const featuresOf = (images: number[]) =>
    tf.tidy(() => {
      const counts = fixture.grids.map((g) => mergedTokenCount(g));
      const parts = images.map((i) =>
        tf.slice(
          merged,
          counts.slice(0, i).reduce((a, b) => a + b, 0),
          counts[i],
        ),
      );
      return tf.concat(parts, 0);
    });
  const gridsOf = (images: number[]): GridThw[] => images.map((i) => fixture.grids[i]!);

  beforeAll(() => {
    const dir = path.join(fixtures, family);
    config = parseQwenConfig(JSON.parse(readFileSync(path.join(dir, 'checkpoint/config.json'), 'utf8')));
    model = new QwenVl(config, readSafetensors(path.join(dir, 'checkpoint/model.safetensors')).tensors);
    expected = readSafetensors(path.join(dir, 'forward.safetensors')).tensors;
    fixture = JSON.parse(readFileSync(path.join(dir, 'forward.json'), 'utf8')) as Fixture;
    const levels = readSafetensors(path.join(fixtures, 'pixels.safetensors')).tensors.get('levels')!;
    pixels = pixelsFromLevels(levels.data as Float32Array, levels.shape[0]!);
  }, 60_000);

  afterAll(() => {
    tf.dispose([pixels, merged]);
    model.dispose();
  });

  it('vision tower: patch embedding, every block and the merged features of three images in one batch', () => {
    const before = tf.memory().numTensors;
    const out = model.encodeImagesTraced(pixels, fixture.grids);
    expect(out.merged.shape).toEqual([fixture.grids.reduce((s, g) => s + mergedTokenCount(g), 0), 64]);
    record('vision.patch_embed', maxError(out.patchEmbed!.dataSync(), want('vision.patch_embed')));
    out.blocks!.forEach((block, i) =>
      record(`vision.blocks.${i}`, maxError(block.dataSync(), want(`vision.blocks.${i}`))),
    );
    expect(out.blocks!.length).toBe(config.vision.depth);
    record('vision.merged', maxError(out.merged.dataSync(), want('vision.merged')));
    tf.dispose([out.patchEmbed!, ...out.blocks!]);
    merged = out.merged;
    expect(tf.memory().numTensors).toBe(before + 1);
  });

  it('M-RoPE position ids and rope deltas, one or two images, left padding', () => {
    for (const name of ['single', 'odd', 'two'] as const) {
      const c = fixture[name];
      const { positions, ropeDelta } = positionIds(c.input_ids, gridsOf(c.images), config);
      expect(positions).toEqual(c.positions);
      expect(ropeDelta).toBe(c.rope_delta);
    }
    const padded = fixture.padded;
    padded.input_ids.forEach((ids, r) => {
      const { positions, ropeDelta } = positionIds(
        ids,
        gridsOf([[0], [2]][r]!),
        config,
        padded.attention_mask[r],
      );
      expect(positions).toEqual(padded.positions.map((stream) => stream[r]));
      expect(ropeDelta).toBe(padded.rope_deltas[r]);
    });
    expect(fixture.single.rope_delta).toBe(-56); // 224² (QWEN.md §4)
  });

  it('hidden states and logits of prompts with one and two images', () => {
    for (const name of ['single', 'odd', 'two'] as const) {
      const c = fixture[name];
      const before = tf.memory().numTensors;
      const features = featuresOf(c.images);
      const { cache, logits, hidden } = model.prefill(
        [{ inputIds: c.input_ids, grids: gridsOf(c.images) }],
        features,
        {
          hidden: true,
        },
      );
      const n = c.input_ids.length;
      expect(hidden!.shape).toEqual([1, n, config.text.hiddenSize]);
      record('hidden', maxError(hidden!.dataSync(), want(`${name}.hidden`)));
      if (name === 'single') {
        record('logits (last, whole vocab)', maxError(logits.dataSync(), want('single.logits_last')));
      } else {
        record('logits (last)', maxError(columnsOf(logits, fixture.columns), want(`${name}.logits_last`)));
      }
      const earlier = tf.tidy(() =>
        model.logits(
          tf.gather(tf.reshape(hidden!, [n, -1]), tf.tensor1d(c.logits_at, 'int32')) as tf.Tensor2D,
        ),
      );
      record(
        'logits (earlier positions)',
        maxError(columnsOf(earlier, fixture.columns), want(`${name}.logits_at`)),
      );
      tf.dispose([features, logits, hidden!, earlier]);
      disposeCache(cache);
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it('greedy decoding with the KV cache: the same tokens and log-probs, images encoded inside, no leaks', () => {
    for (const name of ['single', 'odd'] as const) {
      const c = fixture[name];
      const rows = fixture.grids.map(([t, h, w]) => t * h * w);
      const image = tf.slice(
        pixels,
        rows.slice(0, c.images[0]).reduce((a, b) => a + b, 0),
        rows[c.images[0]!],
      );
      const before = tf.memory().numTensors;
      const result = model.greedy([c.input_ids], image, gridsOf(c.images), c.greedy.length);
      expect(tf.memory().numTensors).toBe(before);
      image.dispose();
      expect(result.tokens[0]).toEqual(c.greedy);
      expect(c.greedy.length).toBeGreaterThanOrEqual(16);
      record('greedy log-probs', maxError(result.logProbs[0]!, c.greedy_logprobs));
    }
  });

  it('greedy decoding of a prompt with two images (features shared with the batch)', () => {
    const c = fixture.two;
    const before = tf.memory().numTensors;
    const features = featuresOf(c.images);
    let { cache, logits } = model.prefill([{ inputIds: c.input_ids, grids: gridsOf(c.images) }], features);
    const logProbs: number[] = [];
    c.greedy.forEach((token, step) => {
      const [best, logProb] = tf.tidy(() => [
        tf.argMax(logits, 1).dataSync()[0]!,
        logSoftmax(logits).dataSync()[token]!,
      ]);
      expect(best, `step ${step}`).toBe(token);
      logProbs.push(logProb);
      logits.dispose();
      const next = model.decodeStep(cache, [token]);
      disposeCache(cache);
      ({ cache, logits } = next);
    });
    record('greedy log-probs', maxError(logProbs, c.greedy_logprobs));
    tf.dispose([features, logits]);
    disposeCache(cache);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a left-padded batch of two prompts: last logits and batched greedy decoding', () => {
    const p = fixture.padded;
    const sequences = [
      { inputIds: fixture.single.input_ids, grids: gridsOf([0]) },
      { inputIds: fixture.odd.input_ids, grids: gridsOf([2]) },
    ];
    const features = featuresOf([0, 2]);
    const { cache, logits } = model.prefill(sequences, features);
    record('logits (padded batch)', maxError(columnsOf(logits, fixture.columns), want('padded.logits_last')));
    tf.dispose([features, logits]);
    disposeCache(cache);

    const rows = fixture.grids.map(([t, h, w]) => t * h * w);
    const images = tf.concat([
      tf.slice(pixels, 0, rows[0]),
      tf.slice(pixels, rows[0]! + rows[1]!, rows[2]),
    ]) as tf.Tensor2D;
    const result = model.greedy(
      sequences.map((s) => s.inputIds),
      images,
      gridsOf([0, 2]),
      p.greedy[0]!.length,
    );
    images.dispose();
    expect(result.tokens).toEqual(p.greedy);
    result.logProbs.forEach((row, r) =>
      record('greedy log-probs (padded batch)', maxError(row, p.greedy_logprobs[r]!)),
    );
  });

  it('is differentiable: a loss on the log-probs has gradients w.r.t. a LoRA adapter; a zero B changes nothing', () => {
    const c = fixture.single;
    const layer = 'model.layers.0.self_attn.q_proj';
    const [outDim, inDim] = model.weights.get(`${layer}.weight`).shape as [number, number];
    const a = tf.variable(tf.randomNormal([4, inDim], 0, 0.1, 'float32', 1), true);
    const b = tf.variable(tf.zeros([outDim, 4]), true);
    model.weights.adapters.set(layer, { a, b, scale: 2 });
    const features = featuresOf(c.images);
    const before = tf.memory().numTensors;
    // −log π(first greedy token | prompt), computed by the training pass (hiddenStates).
    const loss = () =>
      tf.tidy(() => {
        const { hidden } = model.hiddenStates(
          [{ inputIds: c.input_ids, grids: gridsOf(c.images) }],
          features,
        );
        const n = c.input_ids.length;
        const last = tf.reshape(tf.slice(hidden, [0, n - 1, 0], [1, 1, -1]), [1, -1]) as tf.Tensor2D;
        return tf.neg(
          tf.sum(tf.slice(logSoftmax(model.logits(last)), [0, c.greedy[0]!], [1, 1])),
        ) as tf.Scalar;
      });
    const { value, grads } = tf.variableGrads(loss, [a, b]);
    record('training pass log-prob', Math.abs(-value.dataSync()[0]! - c.greedy_logprobs[0]!));
    const gradB = grads[b.name]!.dataSync();
    expect(gradB.every(Number.isFinite)).toBe(true);
    expect(Math.max(...gradB.map(Math.abs))).toBeGreaterThan(1e-3);
    expect(Math.max(...grads[a.name]!.dataSync().map(Math.abs))).toBe(0); // B = 0 stops A's gradient
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    model.weights.adapters.delete(layer);
    tf.dispose([a, b, features]);
  });

  it("one prompt's prefill tiled to several rows decodes as the prompt alone", () => {
    const c = fixture.single;
    const logitsAfter = want('single.greedy_logits');
    const width = fixture.columns.length;
    const before = tf.memory().numTensors;
    const features = featuresOf(c.images);
    const prompt = model.prefill([{ inputIds: c.input_ids, grids: gridsOf(c.images) }], features);
    let cache = tileCache(prompt.cache, 3);
    disposeCache(prompt.cache);
    expect(cache.keys[0]!.shape[0]).toBe(3);
    for (let step = 0; step < 4; step++) {
      const tokens = tf.tensor1d([c.greedy[step]!, c.greedy[step]!, c.greedy[step]!], 'int32');
      const next = model.decodeStep(cache, tokens);
      tokens.dispose();
      disposeCache(cache);
      cache = next.cache;
      const got = columnsOf(next.logits, fixture.columns);
      for (let r = 0; r < 3; r++)
        record(
          'tiled cache logits',
          maxError(
            got.subarray(r * width, (r + 1) * width),
            logitsAfter.subarray((step + 1) * width, (step + 2) * width),
          ),
        );
      next.logits.dispose();
    }
    tf.dispose([features, prompt.logits]);
    disposeCache(cache);
    expect(tf.memory().numTensors).toBe(before);
  });
});
