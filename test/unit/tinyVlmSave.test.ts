/**
 * A tiny-vlm LoRA model saved as it is loads back with its adapters; saved with `merge` it is a
 * plain model (no adapters, config without lora) that gives the same log-probs.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildWordTokenizerJson, TextTokenizer } from '../../src/main/models/tokenizer';
import { TinyVlmPolicy } from '../../src/main/models/tiny-vlm/policy';
import { readSafetensors } from '../../src/main/models/safetensors';
import type { Policy, RgbImage } from '../../src/main/models/policy';

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
  lora: { rank: 4, alpha: 8 },
};
let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-tiny-save-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const image: RgbImage = {
  width: 32,
  height: 32,
  rgb: new Uint8Array(32 * 32 * 3).map((_, i) => (i * 29 + 7) % 256),
};

function logProbs(policy: Policy): number[][] {
  const prepared = policy.prepare([{ image, prompt: 'Find every red circle' }]);
  const completion = [{ promptIndex: 0, tokenIds: tokenizer.encode('<think>red circle</think>') }];
  const { logProbs, mask } = policy.logProbs(prepared, completion);
  const values = logProbs.arraySync();
  tf.dispose([logProbs, mask]);
  prepared.dispose();
  return values;
}

function largestDifference(a: number[][], b: number[][]): number {
  return Math.max(...a.flatMap((row, r) => row.map((v, c) => Math.abs(v - b[r]![c]!))));
}

it('saves a LoRA model with its adapters, and merged as a plain model with the same log-probs', () => {
  const policy = TinyVlmPolicy.create(config, tokenizer, 4);
  // Trained-looking adapters: B away from its zero start.
  for (const [name, w] of policy.model.weights)
    if (name.endsWith('.lora_B'))
      w.assign(tf.randomNormal(w.shape as [number, number], 0, 0.3, 'float32', name.length));
  const adapted = logProbs(policy);
  const base = policy.withAdapters(false, () => logProbs(policy));
  expect(largestDifference(adapted, base)).toBeGreaterThan(1e-3);

  const asIs = path.join(dir, 'as-is');
  policy.save(asIs);
  const reloaded = TinyVlmPolicy.load(asIs);
  expect(reloaded.model.config.lora).toMatchObject({ rank: 4, alpha: 8 });
  expect(largestDifference(logProbs(reloaded), adapted)).toBe(0);
  reloaded.dispose();

  const merged = path.join(dir, 'merged');
  policy.save(merged, {}, { merge: true });
  const names = [...readSafetensors(path.join(merged, 'model.safetensors')).tensors.keys()];
  expect(names.some((n) => n.includes('lora_'))).toBe(false);
  expect(JSON.parse(readFileSync(path.join(merged, 'config.json'), 'utf8')).lora).toBeNull();
  expect(existsSync(path.join(merged, 'tokenizer.json'))).toBe(true);
  const plain = TinyVlmPolicy.load(merged);
  expect([...plain.model.weights.keys()].some((n) => n.includes('lora_'))).toBe(false);
  expect(largestDifference(logProbs(plain), adapted)).toBeLessThan(1e-4);
  plain.dispose();
  policy.dispose();
});
