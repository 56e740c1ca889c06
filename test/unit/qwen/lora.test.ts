/**
 * LoRA on the Qwen policy against PyTorch + PEFT (tools/reference/qwen_lora.py): PEFT's adapter
 * folder loads with its regex target_modules onto the same 14 layers; the logits with the adapter
 * on, off and merged are PEFT's; one SFT step's loss and every adapter gradient equal PyTorch's to
 * 1e-4; the adapter vrft writes holds PEFT's names and values (qwen_lora_check.py loads it).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peftKey } from '../../../src/main/models/qwen2-vl/lora';
import { QwenPolicy, QwenPrepared } from '../../../src/main/models/qwen2-vl/policy';
import { readSafetensors, type TensorMap } from '../../../src/main/models/safetensors';

const fixtures = path.join(__dirname, '../../fixtures/qwen');
let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-lora-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function rows(t: TensorMap, key: string): number[][] {
  const { shape, data } = t.get(key)!;
  return Array.from({ length: shape[0]! }, (_, r) =>
    Array.from(data.subarray(r * shape[1]!, (r + 1) * shape[1]!)),
  );
}

describe.each(['qwen2-vl', 'qwen2.5-vl'])('%s LoRA', (family) => {
  const loraDir = path.join(fixtures, family, 'lora');
  const expected = readSafetensors(path.join(loraDir, 'expected.safetensors')).tensors;
  const ids = rows(expected, 'input_ids');
  const labels = rows(expected, 'labels');
  const grids = rows(expected, 'image_grid_thw') as [number, number, number][];
  const columns = Array.from(expected.get('logit_columns')!.data);
  let policy: QwenPolicy;
  let prepared: QwenPrepared;
  // Each row: the prompt (up to its first label) and the completion (the labelled tokens).
  const prompts = labels.map((l, r) =>
    ids[r]!.slice(
      0,
      l.findIndex((x) => x !== -100),
    ),
  );
  const completions = labels.map((l, r) => ({ promptIndex: r, tokenIds: l.filter((x) => x !== -100) }));

  beforeAll(() => {
    policy = QwenPolicy.load(loraDir, { lora: undefined });
    const pixels = expected.get('pixel_values')!;
    const width = pixels.shape[1]!;
    let at = 0;
    const perImage = grids.map(([t, h, w]) => {
      const n = t * h * w;
      const part = tf.tensor2d(pixels.data.subarray(at * width, (at + n) * width) as Float32Array, [
        n,
        width,
      ]);
      at += n;
      return part;
    });
    const features = perImage.map((p, i) => policy.model.encodeImages(p, [grids[i]!]));
    prepared = new QwenPrepared(
      prompts.map((inputIds, i) => ({ inputIds, grids: [grids[i]!] })),
      perImage,
      features,
    );
  });
  afterAll(() => {
    prepared.dispose();
    policy.dispose();
  });

  it('loads PEFT’s adapter folder onto the layers its regex names, the vision tower left alone', () => {
    const layers = [...policy.model.weights.adapters.keys()];
    expect(layers).toHaveLength(14);
    expect(layers.every((l) => l.startsWith('model.layers.'))).toBe(true);
    expect([...policy.trainableWeights().keys()].every((n) => /lora_[AB]/.test(n))).toBe(true);
  });

  /** Logits at each row's last prompt position, at the fixture's columns. */
  function lastPromptLogits(): number[][] {
    return tf.tidy(() => {
      const sequences = prompts.map((inputIds, i) => ({ inputIds, grids: [grids[i]!] }));
      const features = tf.concat(prepared.features, 0);
      const { hidden } = policy.model.hiddenStates(sequences, features);
      const width = hidden.shape[1];
      const last = tf.reshape(tf.slice(hidden, [0, width - 1, 0], [-1, 1, -1]), [prompts.length, -1]);
      const logits = policy.model.logits(last as tf.Tensor2D);
      return tf.gather(logits, tf.tensor1d(columns, 'int32'), 1).arraySync() as number[][];
    });
  }

  function expectClose(actual: number[][], key: string, tolerance = 1e-4) {
    const want = rows(expected, key);
    let largest = 0;
    actual.forEach((row, r) =>
      row.forEach((v, c) => (largest = Math.max(largest, Math.abs(v - want[r]![c]!)))),
    );
    expect(largest, key).toBeLessThan(tolerance);
  }

  it('gives PEFT’s logits with the adapter on, off (the reference), and merged', () => {
    expectClose(lastPromptLogits(), 'logits');
    expectClose(
      policy.withAdapters(false, () => lastPromptLogits()),
      'logits_off',
    );
    const merged = path.join(dir, `${family}-merged`);
    policy.save(merged, {}, { merge: true });
    const whole = readSafetensors(path.join(merged, 'model.safetensors')).tensors;
    for (const name of ['model.layers.0.self_attn.q_proj.weight', 'model.layers.0.mlp.down_proj.weight']) {
      const want = expected.get(`merged.${name}`)!.data;
      const got = whole.get(name)!.data;
      let largest = 0;
      want.forEach((v, i) => (largest = Math.max(largest, Math.abs(v - got[i]!))));
      expect(largest, name).toBeLessThan(1e-6);
    }
    const again = QwenPolicy.load(merged);
    try {
      expect(again.model.weights.adapters.size).toBe(0);
    } finally {
      again.dispose();
    }
  });

  it('takes one SFT step’s loss and adapter gradients equal to PyTorch + PEFT’s', () => {
    const { value, grads } = tf.variableGrads(() => {
      const { logProbs, mask } = policy.logProbs(prepared, completions);
      return tf.div(tf.neg(tf.sum(tf.mul(logProbs, mask))), tf.sum(mask)) as tf.Scalar;
    }, policy.trainableVariables());
    expect(Math.abs(value.dataSync()[0]! - expected.get('loss')!.data[0]!)).toBeLessThan(1e-4);
    const byVariable = new Map([...policy.trainableWeights()].map(([name, v]) => [v.name, name]));
    let largest = 0;
    let count = 0;
    for (const [variable, g] of Object.entries(grads)) {
      const name = byVariable.get(variable)!;
      const [, layer, part] = /^(.+)\.lora_([AB])\.weight$/.exec(name)!;
      const want = expected.get(`grad.${peftKey(layer!, part as 'A' | 'B')}`)!.data;
      const got = g.dataSync();
      want.forEach((v, i) => (largest = Math.max(largest, Math.abs(v - got[i]!))));
      count++;
    }
    tf.dispose([value, ...Object.values(grads)]);
    expect(count).toBe(28);
    expect(largest).toBeLessThan(1e-4);
  });

  it('writes the adapter under PEFT’s names, values unchanged', () => {
    const out = path.join(dir, `${family}-adapter`);
    policy.save(out);
    const written = readSafetensors(path.join(out, 'adapter_model.safetensors')).tensors;
    const original = readSafetensors(path.join(loraDir, 'adapter_model.safetensors')).tensors;
    expect([...written.keys()].sort()).toEqual([...original.keys()].sort());
    for (const [key, t] of original) expect(Array.from(written.get(key)!.data)).toEqual(Array.from(t.data));
    const config = JSON.parse(readFileSync(path.join(out, 'adapter_config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(config).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8 });
    expect(config.target_modules).toBe(
      JSON.parse(readFileSync(path.join(loraDir, 'adapter_config.json'), 'utf8')).target_modules,
    );
  });
});
