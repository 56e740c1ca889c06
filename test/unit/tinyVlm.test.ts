import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { buildWordTokenizerJson, TextTokenizer } from '../../src/main/models/tokenizer';
import { TinyVlmPolicy } from '../../src/main/models/tiny-vlm/policy';
import { convStemLayers, patchCount } from '../../src/main/models/tiny-vlm/config';
import type { RgbImage } from '../../src/main/models/policy';

const tokenizer = new TextTokenizer(buildWordTokenizerJson(['Find', 'every', 'circle', 'red']) as never);
const config = {
  imageSize: 16,
  patchSize: 8,
  dModel: 16,
  nHeads: 2,
  nLayers: 2,
  visionLayers: 1,
  mlpRatio: 2,
  maxPositions: 48,
};
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function image(seed: number): RgbImage {
  const rgb = new Uint8Array(32 * 32 * 3).map((_, i) => (i * 31 + seed * 17) % 256);
  return { width: 32, height: 32, rgb };
}

describe('tiny-vlm', () => {
  it('KV-cached decoding gives exactly the logits of a full recompute', () => {
    const policy = TinyVlmPolicy.create(config, tokenizer, 1);
    const prompt = policy.promptIds('Find every red circle');
    const answer = tokenizer.encode(
      "<think>red</think><answer>[{'Position': [1, 2, 3, 4], 'Confidence': 1}]</answer>",
    );
    const model = policy.model;
    const prepared = policy.prepare([{ image: image(1), prompt: 'Find every red circle' }]);
    const [cached, full] = tf.tidy(() => {
      const imageTokens = model.encodeImages((prepared as unknown as { patches: tf.Tensor3D }).patches);
      let { cache, logits } = model.prefill(imageTokens, tf.tensor2d([prompt], [1, prompt.length], 'int32'));
      const stepLogits = [logits];
      for (const id of answer.slice(0, -1)) {
        ({ cache, logits } = model.step(cache, tf.tensor1d([id], 'int32')));
        stepLogits.push(logits);
      }
      const P = patchCount(model.config);
      const rows = answer.map((_, j) => P + prompt.length - 1 + j);
      const whole = model.forward(
        imageTokens,
        tf.tensor2d([[...prompt, ...answer]], [1, prompt.length + answer.length], 'int32'),
        tf.tensor1d(rows, 'int32'),
      );
      return [tf.concat(stepLogits, 0).arraySync(), whole.arraySync()];
    });
    expect(cached.length).toBe(answer.length);
    cached.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(v - full[i]![j]!)).toBeLessThan(1e-4)));
    prepared.dispose();
    policy.dispose();
  });

  it('samples reproducibly from a seed, with log-probs equal to teacher forcing', () => {
    const policy = TinyVlmPolicy.create(config, tokenizer, 2);
    const prepared = policy.prepare([
      { image: image(1), prompt: 'Find every circle' },
      { image: image(2), prompt: 'Find every red circle' },
    ]);
    const options = { n: 3, temperature: 1, topP: 1, maxNewTokens: 12, seed: 5 };
    const a = policy.sample(prepared, options);
    const b = policy.sample(prepared, options);
    expect(a.map((s) => s.tokenIds)).toEqual(b.map((s) => s.tokenIds));
    expect(a.map((s) => s.promptIndex)).toEqual([0, 0, 0, 1, 1, 1]);
    expect(a.some((s, i) => i > 0 && s.tokenIds.join() !== a[0]!.tokenIds.join())).toBe(true);
    const other = policy.sample(prepared, { ...options, seed: 6 });
    expect(other.map((s) => s.tokenIds.join())).not.toEqual(a.map((s) => s.tokenIds.join()));
    const { logProbs, mask } = policy.logProbs(prepared, a);
    const recomputed = logProbs.arraySync();
    const m = mask.arraySync();
    a.forEach((s, i) => {
      expect(m[i]!.filter((x) => x === 1)).toHaveLength(s.tokenIds.length);
      s.logProbs.forEach((lp, j) => expect(Math.abs(lp - recomputed[i]![j]!)).toBeLessThan(1e-4));
    });
    tf.dispose([logProbs, mask]);
    prepared.dispose();
    policy.dispose();
  });

  it('save → load gives identical outputs', () => {
    const policy = TinyVlmPolicy.create(config, tokenizer, 3);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-tiny-'));
    dirs.push(dir);
    policy.save(dir);
    const loaded = TinyVlmPolicy.load(dir, { seed: 99 });
    const batch = [{ image: image(4), prompt: 'Find every circle' }];
    const options = { n: 2, temperature: 0.8, topP: 0.9, maxNewTokens: 10, seed: 1 };
    const [pa, pb] = [policy.prepare(batch), loaded.prepare(batch)];
    expect(loaded.sample(pb, options)).toEqual(policy.sample(pa, options));
    for (const x of [pa, pb, policy, loaded]) x.dispose();
  });

  it('LoRA with zero-initialised B equals the base model', () => {
    const policy = TinyVlmPolicy.create({ ...config, lora: { rank: 4, alpha: 8 } }, tokenizer, 4);
    const prepared = policy.prepare([{ image: image(5), prompt: 'Find every circle' }]);
    const completion = [{ promptIndex: 0, tokenIds: tokenizer.encode('<think>red</think>') }];
    const withAdapters = policy.logProbs(prepared, completion).logProbs.arraySync();
    const base = policy.withAdapters(false, () => policy.logProbs(prepared, completion).logProbs.arraySync());
    expect(withAdapters).toEqual(base);
    expect(policy.trainableVariables().every((v) => v.name.includes('lora_'))).toBe(true);
    expect(policy.trainableVariables().length).toBeGreaterThan(0);
    // Once B moves, they differ.
    const b = policy.model.weights.get('decoder.layers.0.attn.q_proj.lora_B')!;
    b.assign(tf.onesLike(b));
    const moved = policy.logProbs(prepared, completion).logProbs.arraySync();
    expect(moved).not.toEqual(base);
    prepared.dispose();
    policy.dispose();
  });
});

describe('the convolutional stem', () => {
  it('lays out its layers: conv strides the 3×3 layers after the first, conv-s2 all but the last', () => {
    const strides = (stem: 'conv' | 'conv-s2' | 'cnn') =>
      convStemLayers({ ...config, vocabSize: 10, numberValues: [], patchSize: 8, stem }).map(
        ([k, stride, , out]) => `${k}/${stride}/${out}`,
      );
    // (their channels double from 32, at most dModel)
    expect(strides('conv')).toEqual(['3/1/32', '3/2/16', '3/2/16', '2/2/16']);
    expect(strides('conv-s2')).toEqual(['3/2/32', '3/2/16', '3/1/16', '2/2/16']);
    // cnn: per halving a stride-2 and a stride-1 3×3 layer, channels doubling, 1×1 to dModel.
    expect(strides('cnn')).toEqual(['3/2/32', '3/1/64', '3/2/64', '3/1/128', '3/2/128', '3/1/128', '1/1/16']);
  });

  it.each(['conv', 'conv-s2', 'cnn'] as const)(
    '%s is the convolutions its layers name (kernel, stride, padding, GELU between), to 1e-5',
    (stem) => {
      const c = { ...config, imageSize: 16, patchSize: 4, dModel: 16, stem };
      const policy = TinyVlmPolicy.create(c, tokenizer, 7);
      const rows = 2;
      const pixels = tf.randomUniform([rows * 16 * 16, 3], -1, 1, 'float32', 3) as tf.Tensor2D;
      const ours = policy.model.convStem(pixels, rows).arraySync();
      // Plain loops, NHWC, as a textbook writes a convolution.
      let x = Array.from(pixels.dataSync());
      let side = 16;
      let channels = 3;
      const layers = convStemLayers(policy.model.config);
      layers.forEach(([k, stride, pad, out], i) => {
        const w = policy.model.weights.get(`vision.stem.${i}.weight`)!.dataSync();
        const bias = policy.model.weights.get(`vision.stem.${i}.bias`)!.dataSync();
        const outSide = Math.floor((side + 2 * pad - k) / stride) + 1;
        const y: number[] = [];
        for (let r = 0; r < rows; r++)
          for (let oy = 0; oy < outSide; oy++)
            for (let ox = 0; ox < outSide; ox++)
              for (let co = 0; co < out; co++) {
                let sum = bias[co]!;
                for (let ky = 0; ky < k; ky++)
                  for (let kx = 0; kx < k; kx++) {
                    const iy = oy * stride + ky - pad;
                    const ix = ox * stride + kx - pad;
                    if (iy < 0 || ix < 0 || iy >= side || ix >= side) continue;
                    for (let ci = 0; ci < channels; ci++)
                      sum +=
                        x[((r * side + iy) * side + ix) * channels + ci]! *
                        w[((ky * k + kx) * channels + ci) * out + co]!;
                  }
                const gelu =
                  0.5 * sum * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (sum + 0.044715 * sum ** 3)));
                y.push(i < layers.length - 1 ? gelu : sum);
              }
        x = y;
        side = outSide;
        channels = out;
      });
      expect(ours.length).toBe(rows * patchCount(policy.model.config));
      ours.flat().forEach((v, i) => expect(Math.abs(v - x[i]!)).toBeLessThan(1e-5));
      pixels.dispose();
      policy.dispose();
    },
  );

  it('samples with the KV cache exactly as a full recompute, and round-trips through save/load', () => {
    const policy = TinyVlmPolicy.create({ ...config, stem: 'conv' }, tokenizer, 8);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-tiny-conv-'));
    dirs.push(dir);
    policy.save(dir);
    const loaded = TinyVlmPolicy.load(dir);
    const batch = [{ image: image(6), prompt: 'Find every circle' }];
    const options = { n: 2, temperature: 1, topP: 1, maxNewTokens: 8, seed: 2 };
    const [pa, pb] = [policy.prepare(batch), loaded.prepare(batch)];
    const samples = policy.sample(pa, options);
    expect(loaded.sample(pb, options)).toEqual(samples);
    const { logProbs } = policy.logProbs(pa, samples);
    const recomputed = logProbs.arraySync();
    samples.forEach((s, i) =>
      s.logProbs.forEach((lp, j) => expect(Math.abs(lp - recomputed[i]![j]!)).toBeLessThan(1e-4)),
    );
    logProbs.dispose();
    for (const x of [pa, pb, policy, loaded]) x.dispose();
  });
});
