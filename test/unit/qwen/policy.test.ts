/**
 * Qwen2-VL / Qwen2.5-VL behind the Policy interface, from their folders on disk: the answers of
 * `transformers` end to end (chat template, tokenizer, image processor, pad expansion, greedy
 * decoding; tools/reference/qwen_generate.py), sampling that training can replay, LoRA with
 * adapters off as the reference, and the folders it saves loading back.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../../src/main/data/imageFiles';
import { loadPolicy, modelKindOf } from '../../../src/main/models';
import { QwenPolicy } from '../../../src/main/models/qwen2-vl/policy';

const fixtures = path.join(__dirname, '../../fixtures/qwen');
const tolerance = 1e-4;

interface GenerateCase {
  family: string;
  model: string;
  image: string;
  prompt: string;
  template: 'chat' | 'raw';
  inputIds: number[];
  tokenIds: number[];
  logProbs: number[];
  text: string;
}
const cases = JSON.parse(readFileSync(path.join(fixtures, 'generate/cases.json'), 'utf8')) as GenerateCase[];
const image = (name: string) => decodeImage(readFileSync(path.join(fixtures, 'generate', name)));

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-qwen-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(['qwen2-vl', 'qwen2.5-vl'])('%s policy', (family) => {
  const folder = path.join(fixtures, family, 'checkpoint');
  let policy: QwenPolicy;
  beforeAll(() => {
    policy = QwenPolicy.load(folder);
  });
  afterAll(() => policy.dispose());

  it('is found by its config.json and answers in its family’s frame', async () => {
    expect(modelKindOf(folder)).toBe(family);
    expect(policy.frame).toBe(family === 'qwen2-vl' ? 'norm1000' : 'resized');
    const loaded = await loadPolicy(folder);
    expect(loaded.kind).toBe(family);
    loaded.dispose();
  });

  it.each(cases.filter((c) => c.family === family).map((c) => [`${c.image} (${c.template})`, c] as const))(
    'answers %s exactly as transformers does',
    (_, c) => {
      const input = { image: image(c.image), prompt: c.prompt, raw: c.template === 'raw' };
      const prepared = policy.prepare([input]);
      try {
        expect(prepared.sequences[0]!.inputIds).toEqual(c.inputIds);
        const [s] = policy.sample(prepared, {
          n: 1,
          temperature: 0,
          topP: 1,
          maxNewTokens: c.tokenIds.length,
          seed: 0,
        });
        expect(s!.tokenIds).toEqual(c.tokenIds);
        s!.logProbs.forEach((lp, i) => expect(Math.abs(lp - c.logProbs[i]!)).toBeLessThan(tolerance));
        expect(s!.text).toBe(c.text);
      } finally {
        prepared.dispose();
      }
    },
  );

  it('samples G answers per prompt reproducibly, with log-probs that teacher forcing gives back', () => {
    const prepared = policy.prepare([
      { image: image('image.png'), prompt: policy.prompts.detection('circle') },
      { image: image('wide.png'), prompt: policy.prompts.classification() },
    ]);
    try {
      const options = { n: 3, temperature: 1, topP: 1, maxNewTokens: 10, seed: 5 };
      const a = policy.sample(prepared, options);
      const b = policy.sample(prepared, options);
      expect(a.map((s) => s.tokenIds)).toEqual(b.map((s) => s.tokenIds));
      expect(a.map((s) => s.promptIndex)).toEqual([0, 0, 0, 1, 1, 1]);
      expect(new Set(a.map((s) => s.tokenIds.join())).size).toBeGreaterThan(1);
      const { logProbs, mask } = policy.logProbs(prepared, a);
      const replay = logProbs.arraySync();
      const m = mask.arraySync();
      tf.dispose([logProbs, mask]);
      a.forEach((s, i) => {
        expect(m[i]!.filter((x) => x === 1)).toHaveLength(s.tokenIds.length);
        s.logProbs.forEach((lp, j) => expect(Math.abs(replay[i]![j]! - lp)).toBeLessThan(tolerance));
      });
    } finally {
      prepared.dispose();
    }
  });

  it('with LoRA trains only the adapters; adapters off is the base model; its saved folder loads back', () => {
    const lora = { rank: 4, alpha: 8, dropout: 0 };
    const tuned = QwenPolicy.load(folder, { lora, seed: 3 });
    const out = path.join(dir, `${family}-lora`);
    try {
      const names = [...tuned.trainableWeights().keys()];
      expect(names.length).toBe(2 * 7 * tuned.config.text.numLayers);
      expect(
        names.every((n) => /^model\.layers\.\d+\.(self_attn|mlp)\.\w+_proj\.lora_[AB]\.weight$/.test(n)),
      ).toBe(true);
      // Move every B off zero: the adapters now change the answers.
      for (const [name, v] of tuned.trainableWeights())
        if (name.endsWith('lora_B.weight')) v.assign(tf.randomNormal(v.shape, 0, 0.2, 'float32', 9));
      const prepared = tuned.prepare([{ image: image('image.png'), prompt: 'Describe it.' }]);
      const completion = [{ promptIndex: 0, tokenIds: [785, 2168, 374, 264, 151645] }];
      const values = () => {
        const { logProbs, mask } = tuned.logProbs(prepared, completion);
        const v = Array.from(logProbs.dataSync());
        tf.dispose([logProbs, mask]);
        return v;
      };
      const on = values();
      const off = tuned.withAdapters(false, values);
      const basePrepared = policy.prepare([{ image: image('image.png'), prompt: 'Describe it.' }]);
      const base = policy.logProbs(basePrepared, completion);
      Array.from(base.logProbs.dataSync()).forEach((v, i) =>
        expect(Math.abs(v - off[i]!)).toBeLessThan(1e-5),
      );
      tf.dispose([base.logProbs, base.mask]);
      basePrepared.dispose();
      expect(on.some((v, i) => Math.abs(v - off[i]!) > 1e-3)).toBe(true);

      tuned.save(out);
      prepared.dispose();
      const again = QwenPolicy.load(out);
      try {
        const p2 = again.prepare([{ image: image('image.png'), prompt: 'Describe it.' }]);
        const { logProbs, mask } = again.logProbs(p2, completion);
        Array.from(logProbs.dataSync()).forEach((v, i) => expect(Math.abs(v - on[i]!)).toBeLessThan(1e-5));
        tf.dispose([logProbs, mask]);
        p2.dispose();
      } finally {
        again.dispose();
      }
    } finally {
      tuned.dispose();
    }
  });

  it('says the resized input size its boxes are in', () => {
    // smart_resize to multiples of 28: 320×240 → 308×252 (round half to even).
    expect(policy.inputSize({ width: 320, height: 240 })).toEqual({ width: 308, height: 252 });
  });
});
