import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { shapeNames } from '../../src/main/data/shapeworld';
import { initEngine } from '../../src/main/engine';
import { buildWordTokenizerJson, TextTokenizer } from '../../src/main/models/tokenizer';
import { TinyVlmPolicy } from '../../src/main/models/tiny-vlm/policy';
import type { SftExample } from '../../src/main/train/sft';
import { listSource, runSft } from '../../src/main/train/sftRun';
import { shapeWorldSource } from '../../src/main/pretrain/shapeworldExamples';
import { patchLosses, tinyConfig } from '../support/tinyModel';

const tokenizer = new TextTokenizer(buildWordTokenizerJson([...shapeNames, 'Find', 'every']) as never);
// Four ShapeWorld scenes, each 2 × 2 patch labelled with its shape and that shape's box (a short
// text, so only the patch targets matter).
const examples: SftExample[] = shapeWorldSource({
  seed: 5,
  split: 'base',
  mix: { detection: 1 },
  patchGrid: 2,
  patchBoxes: true,
})
  .batch(0, 4)
  .map((e) => ({ ...e, prompt: 'Find every square.', think: '', answer: '[]' }));

beforeAll(async () => {
  await initEngine({ force: 'wasm' });
});

describe('the patch box head', () => {
  it("trains on the examples' patch boxes, scoring value v in column v", async () => {
    const policy = TinyVlmPolicy.create(
      {
        ...tinyConfig,
        patchClassTokens: shapeNames.map((w) => tokenizer.encode(w)[0]!),
        patchBoxHead: true,
      },
      tokenizer,
      2,
    );
    const boxLoss = () => patchLosses(policy, examples).boxes!;
    // Four edges over 1,001 values each, all about equally likely at the start.
    const before = boxLoss();
    expect(before).toBeCloseTo(Math.log(1001), 0);
    await runSft(policy, listSource(examples, 7), {
      steps: 40,
      batchSize: 4,
      lr: 2e-2,
      warmupSteps: 2,
      schedule: 'linear',
      weightDecay: 0,
      maxGradNorm: 1,
      seed: 7,
      trainThink: false,
      checkpointEvery: 40,
      patchLossWeight: 1,
      patchBoxWeight: 1,
    });
    expect(boxLoss()).toBeLessThan(before * 0.5);
    // The first patch on a shape: its x1 is now among the head's top values for x1.
    const boxes = examples.flatMap((e) => e.patchBoxes!);
    const patch = boxes.findIndex((box) => box !== null);
    const x1 = tf.tidy(() => {
      const prepared = policy.prepare(examples);
      const tokens = policy.model.encodeImages((prepared as unknown as { patches: tf.Tensor3D }).patches);
      prepared.dispose();
      return policy.model.patchBoxLogits(tf.slice(tokens, [patch, 0], [1, -1])).arraySync()[0]!;
    });
    const target = boxes[patch]![0]!;
    expect(x1.filter((v) => v > x1[target]!).length).toBeLessThan(20);
    policy.dispose();
  });
});
