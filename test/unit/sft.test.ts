import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { buildWordTokenizerJson, TextTokenizer } from '../../src/main/models/tokenizer';
import { TinyVlmPolicy } from '../../src/main/models/tiny-vlm/policy';
import { gradients, sftLoss, sftTargets, type SftExample } from '../../src/main/train/sft';
import { listSource, NonFiniteLossError, runSft, type SftOptions } from '../../src/main/train/sftRun';
import { learningRate } from '../../src/main/train/optimizer';
import { patchBoxes, patchLabels, shapeWorldSource } from '../../src/main/pretrain/shapeworldExamples';
import { baseCategories, novelCategories, shapeNames, type Scene } from '../../src/main/data/shapeworld';
import { patchLosses, shadedImage, tinyConfig } from '../support/tinyModel';

const tokenizer = new TextTokenizer(
  buildWordTokenizerJson(['Find', 'every', 'circle', 'square', 'one']) as never,
);
const config = tinyConfig;
// The patch classifier's classes 1 and 2, scored by these words' embeddings.
const patchWords = ['circle', 'square'].map((w) => tokenizer.encode(w)[0]!);
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const examples: SftExample[] = [0, 1, 2, 3].map((k) => ({
  image: shadedImage(k),
  prompt: k % 2 ? 'Find every circle.' : 'Find every square.',
  think: 'one',
  answer: `[{'Position': [${k * 100}, 10, ${k * 100 + 50}, 90], 'Confidence': 1}]`,
  // 2 × 2 patches: background or one of two shapes.
  patchLabels: [0, k % 3, 1, (k + 1) % 3],
}));

// The same with each patch's shape's box, for the patch box head (the example's own answer box).
const boxedExamples: SftExample[] = examples.map((e, k) => ({
  ...e,
  patchBoxes: e.patchLabels!.map((label) => (label ? [k * 100, 10, k * 100 + 50, 90] : null)),
}));

const options: SftOptions = {
  steps: 12,
  batchSize: 2,
  lr: 3e-3,
  warmupSteps: 2,
  schedule: 'linear',
  weightDecay: 0.01,
  maxGradNorm: 1,
  seed: 7,
  trainThink: false,
  checkpointEvery: 4,
};

describe('SFT', () => {
  it('trains on answer tokens only unless asked for the thinking too', () => {
    const policy = TinyVlmPolicy.create(config, tokenizer, 1);
    const answerOnly = sftTargets(policy, examples[0]!, false);
    const withThink = sftTargets(policy, examples[0]!, true);
    expect(answerOnly.tokenIds).toEqual(withThink.tokenIds);
    expect(answerOnly.tokenIds.at(-1)).toBe(tokenizer.eos);
    const thinkTokens = tokenizer.encode('<think>one</think>').length;
    expect(answerOnly.weights.slice(0, thinkTokens)).toEqual(new Array(thinkTokens).fill(0));
    expect(withThink.weights.every((w) => w === 1)).toBe(true);
    // A weight in between: the thinking counts that much, the answer fully.
    const partial = sftTargets(policy, examples[0]!, 0.3);
    expect(partial.weights.slice(0, thinkTokens)).toEqual(new Array(thinkTokens).fill(0.3));
    expect(partial.weights.slice(thinkTokens).every((w) => w === 1)).toBe(true);
    policy.dispose();
  });

  it('ShapeWorld detection thinking: the whole scene, or only the asked category', () => {
    const scene = shapeWorldSource({ seed: 3, split: 'base', mix: { detection: 1 }, negativeRate: 0 }).batch(
      0,
      4,
    );
    const focused = shapeWorldSource({
      seed: 3,
      split: 'base',
      mix: { detection: 1 },
      negativeRate: 0,
      detectionThinking: 'focus',
    }).batch(0, 4);
    focused.forEach((f, i) => {
      const category = /Find every (\w+)\./.exec(f.prompt)![1]!;
      expect(f.think).toMatch(new RegExp(`^Find every ${category}: (A [a-z ]+ ${category} [a-z ]+\\. ?)+$`));
      expect(scene[i]!.think.endsWith(f.think)).toBe(true);
      expect(scene[i]!.think.length).toBeGreaterThan(f.think.length);
      expect(f.answer).toBe(scene[i]!.answer);
    });
    const negatives = shapeWorldSource({
      seed: 3,
      split: 'base',
      mix: { detection: 1 },
      negativeRate: 1,
      detectionThinking: 'focus',
    }).batch(0, 3);
    for (const n of negatives) {
      expect(n.think).toMatch(/^Find every \w+: No Objects\.$/);
      expect(n.answer).toBe('No Objects');
    }
  });

  it('shows novel shapes only in the task kinds named by allShapesFor', () => {
    const source = shapeWorldSource({
      seed: 2,
      split: 'base',
      mix: { detection: 0.5, classification: 0.5 },
      width: 64,
      allShapesFor: ['classification'],
    });
    const named = new Set<string>();
    const asked = new Set<string>();
    for (let step = 0; step < 40; step++) {
      for (const example of source.batch(step, 8)) {
        const words = new Set(example.think.match(/[a-z]+/g));
        if (example.prompt === 'What shape is this?') named.add(example.answer);
        else {
          asked.add(/^Find every (\w+)\.$/.exec(example.prompt)![1]!);
          // A detection scene draws base shapes only, so its thinking never names a novel one.
          for (const word of novelCategories) expect(words.has(word)).toBe(false);
        }
      }
    }
    expect(novelCategories.filter((c) => named.has(c))).toEqual([...novelCategories]);
    expect([...asked].every((c) => baseCategories.includes(c))).toBe(true);
  });

  it('labels each patch with the shape whose box holds its centre (the smallest box on overlap), and with that box', () => {
    const object = (shape: string, x1: number, y1: number, x2: number, y2: number) =>
      ({ shape, box: { x1, y1, x2, y2 } }) as Scene['objects'][number];
    const scene = {
      width: 40,
      height: 40,
      objects: [
        object('star', 0, 0, 25, 25),
        object('circle', 15, 15, 40, 40),
        object('cross', 12, 0, 40, 9),
      ],
    } as Scene;
    // Centres at 5, 15, 25, 35 on each axis; at (15, 15) the star and the circle tie: the first.
    expect(patchLabels(scene, 4)).toEqual(
      [
        ['star', 'cross', 'cross', 'cross'],
        ['star', 'star', 'circle', 'circle'],
        [null, 'circle', 'circle', 'circle'],
        [null, 'circle', 'circle', 'circle'],
      ]
        .flat()
        .map((shape) => (shape ? 1 + shapeNames.indexOf(shape) : 0)),
    );
    // Each cell's box is its shape's, on 0–1000 of the 40-pixel side.
    const star = [0, 0, 625, 625];
    const circle = [375, 375, 1000, 1000];
    const cross = [300, 0, 1000, 225];
    expect(patchBoxes(scene, 4)).toEqual(
      [
        [star, cross, cross, cross],
        [star, star, circle, circle],
        [null, circle, circle, circle],
        [null, circle, circle, circle],
      ].flat(),
    );
    // The stream labels every example when asked, with one label (and box) per patch.
    const [labelled] = shapeWorldSource({
      seed: 3,
      split: 'base',
      mix: { detection: 1 },
      patchGrid: 8,
    }).batch(0, 1);
    expect(labelled!.patchLabels).toHaveLength(64);
    expect(labelled!.patchLabels!.some((l) => l > 0)).toBe(true);
    expect(labelled!.patchBoxes).toBeUndefined();
    const [boxed] = shapeWorldSource({
      seed: 3,
      split: 'base',
      mix: { detection: 1 },
      patchGrid: 8,
      patchBoxes: true,
    }).batch(0, 1);
    expect(boxed!.patchLabels).toEqual(labelled!.patchLabels);
    expect(boxed!.patchBoxes!.map((box) => box !== null)).toEqual(boxed!.patchLabels!.map((l) => l > 0));
  });

  it.each([
    ['a patch embedding', 'patch', ['vision.patch_embed.weight'], 0],
    [
      'a convolutional stem',
      'conv',
      ['vision.stem.0.weight', 'vision.stem.3.weight', 'vision.stem.1.bias'],
      0,
    ],
    [
      'the cnn stem and the patch classifier',
      'cnn',
      ['vision.stem.0.weight', 'vision.stem.6.weight', 'vision.patch_head.background'],
      0.5,
    ],
    [
      'the patch classifier and box head',
      'patch',
      ['vision.patch_embed.weight', 'vision.box_head.weight', 'vision.box_head.bias'],
      0.5,
    ],
  ] as const)('analytic gradients equal finite differences (%s)', (_, stem, visionWeights, patchLoss) => {
    const boxes = (visionWeights as readonly string[]).includes('vision.box_head.weight');
    const policy = TinyVlmPolicy.create(
      {
        ...config,
        dModel: 8,
        stem,
        ...(patchLoss && { patchClassTokens: patchWords }),
        ...(boxes && { patchBoxHead: true }),
      },
      tokenizer,
      3,
    );
    const named = new Map([...policy.model.weights]);
    const batch = (boxes ? boxedExamples : examples).slice(0, 2);
    const boxLoss = boxes ? 0.5 : 0;
    const { grads } = gradients(policy, named, () => sftLoss(policy, batch, true, patchLoss, boxLoss));
    const lossAt = () => tf.tidy(() => sftLoss(policy, batch, true, patchLoss, boxLoss).dataSync()[0]!);
    let checked = 0;
    for (const name of [
      'decoder.layers.0.attn.q_proj.weight',
      ...visionWeights,
      'decoder.embed_tokens.weight',
      'decoder.layers.0.mlp.fc.bias',
    ]) {
      const w = named.get(name)!;
      const g = grads.get(name)!;
      const values = w.dataSync().slice() as Float32Array;
      // The largest-gradient entries: where float32 finite differences are meaningful.
      const indices = [...g.keys()].sort((a, b) => Math.abs(g[b]!) - Math.abs(g[a]!)).slice(0, 3);
      for (const i of indices) {
        const eps = 1e-2;
        const shifted = (delta: number) => {
          const copy = values.slice();
          copy[i]! += delta;
          w.assign(tf.tensor(copy, w.shape));
          return lossAt();
        };
        const numeric = (shifted(eps) - shifted(-eps)) / (2 * eps);
        w.assign(tf.tensor(values, w.shape));
        expect(Math.abs(numeric - g[i]!), `${name}[${i}]: ${numeric} vs ${g[i]}`).toBeLessThan(
          2e-2 * Math.max(1, Math.abs(g[i]!)),
        );
        checked++;
      }
    }
    expect(checked).toBe(3 * (3 + visionWeights.length));
    policy.dispose();
  });

  it("trains the patch classifier on the examples' patch labels, and only when asked", async () => {
    const policy = TinyVlmPolicy.create({ ...config, patchClassTokens: patchWords }, tokenizer, 2);
    const patchLoss = () => patchLosses(policy, examples).classes;
    const before = patchLoss();
    expect(before).toBeCloseTo(Math.log(3), 1);
    // Without a weight the labels are not even looked at: the head stays where it was.
    const head = policy.model.weights.get('vision.patch_head.background')!;
    const initial = head.dataSync().slice();
    await runSft(policy, listSource(examples, 7), { ...options, steps: 4, weightDecay: 0 });
    expect(head.dataSync()).toEqual(initial);
    await runSft(policy, listSource(examples, 7), { ...options, steps: 40, lr: 2e-2, patchLossWeight: 1 });
    expect(patchLoss()).toBeLessThan(before * 0.5);
    policy.dispose();
  });

  it('refuses patch labels a policy has no classifier for, and patch boxes it has no head for', () => {
    const policy = TinyVlmPolicy.create(config, tokenizer, 2);
    expect(() => sftLoss(policy, examples, false, 0.5)).toThrow(/patch classifier \(patchClassTokens\)/);
    policy.dispose();
    const classifier = TinyVlmPolicy.create({ ...config, patchClassTokens: patchWords }, tokenizer, 2);
    expect(() => sftLoss(classifier, boxedExamples, false, 0.5, 0.5)).toThrow(
      /patch box head \(patchBoxHead\)/,
    );
    classifier.dispose();
  });

  it('lowers the loss on a small split', async () => {
    const policy = TinyVlmPolicy.create(config, tokenizer, 2);
    const losses: number[] = [];
    await runSft(
      policy,
      listSource(examples, 7),
      { ...options, steps: 30, lr: 2e-2 },
      { onStep: (_, m) => losses.push(m.loss) },
    );
    const first = losses.slice(0, 3).reduce((a, b) => a + b) / 3;
    const last = losses.slice(-3).reduce((a, b) => a + b) / 3;
    expect(last).toBeLessThan(first * 0.6);
    policy.dispose();
  });

  it('with LoRA trains the adapters only: the base weights stay as they were', async () => {
    const policy = TinyVlmPolicy.create({ ...config, lora: { rank: 4, alpha: 8 } }, tokenizer, 6);
    const before = new Map(
      [...policy.model.weights]
        .filter(([n]) => !n.includes('lora_'))
        .map(([n, w]) => [n, w.dataSync().slice()]),
    );
    const losses: number[] = [];
    await runSft(
      policy,
      listSource(examples, 7),
      { ...options, steps: 40, lr: 5e-2, weightDecay: 0 },
      { onStep: (_, m) => losses.push(m.loss) },
    );
    for (const [name, values] of before)
      expect(policy.model.weights.get(name)!.dataSync(), name).toEqual(values);
    expect(losses.slice(-3).reduce((a, b) => a + b) / 3).toBeLessThan(
      (losses.slice(0, 3).reduce((a, b) => a + b) / 3) * 0.95,
    );
    const b = policy.model.weights.get('decoder.layers.0.mlp.fc.lora_B')!;
    expect(Math.max(...b.dataSync().map(Math.abs))).toBeGreaterThan(0);
    policy.dispose();
  });

  it('resuming from a checkpoint reproduces the uninterrupted run exactly', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'vrft-sft-'));
    dirs.push(root);
    const straight: number[] = [];
    const a = TinyVlmPolicy.create(config, tokenizer, 5);
    await runSft(a, listSource(examples, 7), options, { onStep: (_, m) => straight.push(m.loss) });

    const b = TinyVlmPolicy.create(config, tokenizer, 5);
    const firstPart: number[] = [];
    let stopAt = 0;
    await runSft(b, listSource(examples, 7), options, {
      checkpointRoot: root,
      onStep: (_, m) => firstPart.push(m.loss),
      shouldStop: () => ++stopAt > 8, // stops after 8 steps: a checkpoint at 8
    });
    b.dispose();
    // A new process would start from a fresh model: only the checkpoint carries the state.
    const c = TinyVlmPolicy.create(config, tokenizer, 999);
    const resumed: number[] = [];
    const { step } = await runSft(c, listSource(examples, 7), options, {
      checkpointRoot: root,
      resume: true,
      onStep: (_, m) => resumed.push(m.loss),
    });
    expect(step).toBe(12);
    expect(firstPart).toEqual(straight.slice(0, 8));
    expect(resumed).toEqual(straight.slice(8));
    a.dispose();
    c.dispose();
  });

  it('stops on a NaN loss with a clear error, keeping the last good checkpoint', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'vrft-sft-nan-'));
    dirs.push(root);
    const policy = TinyVlmPolicy.create(config, tokenizer, 8);
    const real = policy.logProbs.bind(policy);
    let calls = 0;
    // From the 7th step on the model "diverges".
    policy.logProbs = (prepared, completions, temperature) => {
      const out = real(prepared, completions, temperature);
      return ++calls >= 7 ? { ...out, logProbs: tf.mul(out.logProbs, Number.NaN) as tf.Tensor2D } : out;
    };
    const error = await runSft(policy, listSource(examples, 7), options, { checkpointRoot: root }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NonFiniteLossError);
    expect((error as Error).message).toMatch(
      /the loss became NaN at step 7; the last good checkpoint is kept/,
    );
    expect(readdirSync(root)).toEqual(['step-000004']);
    policy.dispose();
  });

  it('follows the warm-up then linear or cosine decay of transformers', () => {
    const s = { lr: 1, warmupSteps: 4, totalSteps: 14, kind: 'linear' as const };
    expect([1, 2, 5, 6, 14].map((k) => learningRate(k, s))).toEqual([0, 0.25, 1, 0.9, 0.1]);
    expect(learningRate(9, { ...s, kind: 'cosine' })).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI * 0.4)), 12);
  });
});
