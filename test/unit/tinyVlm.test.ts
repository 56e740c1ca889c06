import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { buildWordTokenizerJson, TextTokenizer } from '../../src/main/models/tokenizer';
import { TinyVlmPolicy } from '../../src/main/models/tiny-vlm/policy';
import { patchCount } from '../../src/main/models/tiny-vlm/model';
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
