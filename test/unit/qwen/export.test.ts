/**
 * What vrft saves for the ecosystem, loaded back by transformers + PEFT. For each family vrft puts
 * a LoRA adapter with trained-looking weights (B away from zero) on the tiny checkpoint and saves
 * it twice: as PEFT's adapter folder and merged into full weights. tools/reference/qwen_export.py
 * loaded both with transformers + PEFT (PeftModel.from_pretrained; from_pretrained alone for the
 * merged folder; PEFT's own merge_and_unload for the merged weights) and committed what it read:
 * test/fixtures/qwen/<family>/export/ holds the adapter files it loaded, transformers' logits at
 * three positions of each row of the LoRA fixture's inputs, and the sha256 of every file of both
 * folders. This test checks that vrft's logits equal transformers' to 1e-4, and that what vrft
 * writes now is byte for byte what transformers loaded (a change in the writer fails here).
 *
 * Making the fixtures again (after a deliberate change in what vrft writes):
 *   VRFT_EXPORT_FIXTURE_OUT=/tmp/vrft-export npx vitest run test/unit/qwen/export.test.ts
 *   /work/venv/bin/python tools/reference/qwen_export.py /tmp/vrft-export
 * (with VRFT_EXPORT_FIXTURE_OUT set the test writes both folders and its logits there and skips the
 * comparisons with the committed files.)
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seeded } from '../../../src/shared/random';
import { QwenPolicy } from '../../../src/main/models/qwen2-vl/policy';
import { readSafetensors, writeSafetensors, type TensorMap } from '../../../src/main/models/safetensors';

const root = path.resolve(__dirname, '../../..');
const fixtures = path.join(root, 'test/fixtures/qwen');
const writeTo = process.env.VRFT_EXPORT_FIXTURE_OUT;
const dir = writeTo ? path.resolve(writeTo) : mkdtempSync(path.join(os.tmpdir(), 'vrft-export-'));
beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterAll(() => {
  if (!writeTo) rmSync(dir, { recursive: true, force: true });
});

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

function rows(t: TensorMap, key: string): number[][] {
  const { shape, data } = t.get(key)!;
  return Array.from({ length: shape[0]! }, (_, r) =>
    Array.from(data.subarray(r * shape[1]!, (r + 1) * shape[1]!)),
  );
}

describe.each(['qwen2-vl', 'qwen2.5-vl'])('%s saved for transformers + PEFT', (family) => {
  const base = path.join(fixtures, family, 'checkpoint');
  const committed = path.join(fixtures, family, 'export');
  // The inputs: the LoRA fixture's two rows (an image, a chat prompt and an answer each).
  const inputs = readSafetensors(path.join(fixtures, family, 'lora/expected.safetensors')).tensors;
  const ids = rows(inputs, 'input_ids');
  const lengths = rows(inputs, 'attention_mask').map((m) => m.reduce((a, b) => a + b, 0));
  const grids = rows(inputs, 'image_grid_thw') as [number, number, number][];
  const columns = Array.from(inputs.get('logit_columns')!.data);
  // Per row: the last prompt position, one inside the answer, the last token.
  const promptEnds = Array.from(inputs.get('logit_positions')!.data);
  const positions = promptEnds.map((p, r) => [p, p + 6, lengths[r]! - 1]);
  const out = path.join(dir, family);
  const adapterDir = path.join(out, 'adapter');
  const mergedDir = path.join(out, 'merged');
  let adapted: number[][][];

  /** Logits [rows, positions, columns] of the whole sequences (prompt and answer). */
  function logitsAt(policy: QwenPolicy): number[][][] {
    return tf.tidy(() => {
      const pixels = inputs.get('pixel_values')!;
      const width = pixels.shape[1]!;
      let at = 0;
      const features = grids.map(([t, h, w]) => {
        const n = t * h * w;
        const part = pixels.data.subarray(at * width, (at + n) * width) as Float32Array;
        at += n;
        return policy.model.encodeImages(tf.tensor2d(part, [n, width]), [[t, h, w]]);
      });
      const sequences = ids.map((row, r) => ({ inputIds: row.slice(0, lengths[r]), grids: [grids[r]!] }));
      const { hidden } = policy.model.hiddenStates(sequences, tf.concat(features, 0));
      const [count, padded, size] = hidden.shape;
      // Rows are left-padded: token t of row r sits at padded − length + t.
      const picked = positions.flatMap((ps, r) => ps.map((p) => r * padded + padded - lengths[r]! + p));
      const flat = tf.reshape(hidden, [count * padded, size]) as tf.Tensor2D;
      const logits = policy.model.logits(tf.gather(flat, tf.tensor1d(picked, 'int32')) as tf.Tensor2D);
      const chosen = tf.gather(logits, tf.tensor1d(columns, 'int32'), 1);
      return tf.reshape(chosen, [count, positions[0]!.length, columns.length]).arraySync() as number[][][];
    });
  }

  function largestDifference(actual: number[][][], want: Float32Array | Int32Array): number {
    let largest = 0;
    actual.flat(2).forEach((v, i) => (largest = Math.max(largest, Math.abs(v - want[i]!))));
    return largest;
  }

  beforeAll(() => {
    mkdirSync(out, { recursive: true });
    const policy = QwenPolicy.load(base, { lora: { rank: 4, alpha: 8, dropout: 0 }, seed: 11 });
    try {
      // Trained-looking adapters: A as initialised, B drawn away from its zero start.
      const random = seeded(23).next;
      const moved: TensorMap = new Map();
      for (const [name, v] of policy.trainableWeights())
        if (name.endsWith('.lora_B.weight'))
          moved.set(name, {
            shape: v.shape,
            data: Float32Array.from({ length: v.size }, () => 0.2 * (2 * random() - 1)),
          });
      policy.loadWeights(moved);
      policy.save(adapterDir);
      policy.save(mergedDir, {}, { merge: true });
      adapted = logitsAt(policy);
    } finally {
      policy.dispose();
    }
  });

  it('gives transformers + PEFT’s logits from the adapter folder and the merged folder', () => {
    const reloaded = QwenPolicy.load(adapterDir);
    const fromAdapter = logitsAt(reloaded);
    expect(reloaded.model.weights.adapters.size).toBe(14);
    reloaded.dispose();
    const merged = QwenPolicy.load(mergedDir);
    const fromMerged = logitsAt(merged);
    expect(merged.model.weights.adapters.size).toBe(0);
    merged.dispose();
    const base = QwenPolicy.load(path.join(fixtures, family, 'checkpoint'));
    const unadapted = logitsAt(base);
    base.dispose();
    // The adapters matter: the base model's logits are far from the adapted ones.
    expect(largestDifference(unadapted, Float32Array.from(adapted.flat(2)))).toBeGreaterThan(1e-2);
    expect(largestDifference(fromAdapter, Float32Array.from(adapted.flat(2)))).toBe(0);
    if (writeTo) {
      const expectFile: TensorMap = new Map(
        ['input_ids', 'attention_mask', 'pixel_values', 'image_grid_thw', 'logit_columns'].map((k) => [
          k,
          inputs.get(k)!,
        ]),
      );
      expectFile.set('logit_positions', { shape: [2, 3], data: Int32Array.from(positions.flat()) });
      expectFile.set('logits', { shape: [2, 3, columns.length], data: Float32Array.from(adapted.flat(2)) });
      expectFile.set('logits_merged', {
        shape: [2, 3, columns.length],
        data: Float32Array.from(fromMerged.flat(2)),
      });
      writeSafetensors(path.join(out, 'vrft.safetensors'), expectFile);
      return;
    }
    const transformers = readSafetensors(path.join(committed, 'transformers.safetensors')).tensors;
    expect(Array.from(transformers.get('logit_positions')!.data)).toEqual(positions.flat());
    expect(largestDifference(adapted, transformers.get('logits_adapter')!.data)).toBeLessThan(1e-4);
    expect(largestDifference(fromAdapter, transformers.get('logits_adapter')!.data)).toBeLessThan(1e-4);
    expect(largestDifference(fromMerged, transformers.get('logits_merged')!.data)).toBeLessThan(1e-4);
  });

  it.skipIf(writeTo)('writes, byte for byte, the folders transformers + PEFT loaded', () => {
    const expected = JSON.parse(readFileSync(path.join(committed, 'expected.json'), 'utf8')) as {
      adapter: Record<string, string>;
      merged: Record<string, string>;
    };
    for (const [folder, written] of [
      [adapterDir, expected.adapter],
      [mergedDir, expected.merged],
    ] as const) {
      expect(readdirSync(folder).sort(), folder).toEqual(Object.keys(written).sort());
      for (const [name, hash] of Object.entries(written))
        if (name !== 'adapter_config.json') expect(sha256(path.join(folder, name)), name).toBe(hash);
    }
    expect(readFileSync(path.join(adapterDir, 'adapter_model.safetensors'))).toEqual(
      readFileSync(path.join(committed, 'adapter_model.safetensors')),
    );
    // The committed config names its base relative to the repository (PEFT reads it from there);
    // vrft writes the absolute path.
    const config = (dir: string) =>
      JSON.parse(readFileSync(path.join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    const written = config(adapterDir);
    const checked = config(committed);
    expect(written.base_model_name_or_path).toBe(path.resolve(root, String(checked.base_model_name_or_path)));
    expect({ ...written, base_model_name_or_path: '' }).toEqual({ ...checked, base_model_name_or_path: '' });
    expect(existsSync(path.join(mergedDir, 'adapter_config.json'))).toBe(false);
  });
});
