// Data-parallel SFT with the built gradient worker (out/main/gradientWorker.js; `npm test` builds it).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../src/main/engine';
import { TinyVlmPolicy } from '../../src/main/models/tiny-vlm/policy';
import { buildWordTokenizerJson, TextTokenizer } from '../../src/main/models/tokenizer';
import { dataParallelGradients, GradientWorker } from '../../src/main/train/dataParallel';
import type { HostGradients } from '../../src/main/train/optimizer';
import { gradients, sftLoss, type SftExample } from '../../src/main/train/sft';
import { runSft, type BatchSource, type SftOptions } from '../../src/main/train/sftRun';
import { shadedImage, tinyConfig } from '../support/tinyModel';

const script = path.resolve('out/main/gradientWorker.js');
const tokenizer = new TextTokenizer(
  buildWordTokenizerJson(['Find', 'every', 'circle', 'square', 'one', 'two']) as never,
);
const config = {
  ...tinyConfig,
  stem: 'cnn' as const,
  patchClassTokens: ['circle', 'square'].map((w) => tokenizer.encode(w)[0]!),
};

// Answers of different lengths, so the per-token mean of a batch weighs examples unequally.
const examples: SftExample[] = [0, 1, 2, 3].map((k) => ({
  image: shadedImage(k),
  prompt: k % 2 ? 'Find every circle.' : 'Find every square.',
  think: k % 2 ? 'one' : 'one two one',
  answer: `[{'Position': [${k * 100}, 10, ${k * 100 + 50}, 90], 'Confidence': 1}]`.repeat(1 + (k % 2)),
  patchLabels: [0, k % 3, 1, (k + 1) % 3],
}));
const lossOptions = { trainThink: 0.3, patchLossWeight: 1 };

function trainable(policy: TinyVlmPolicy): Map<string, tf.Variable> {
  return new Map([...policy.model.weights].filter(([, v]) => v.trainable));
}

function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]!));
  return m;
}

function maxRelativeError(a: HostGradients, b: HostGradients): number {
  let worst = 0;
  for (const [name, x] of a) {
    const y = b.get(name)!;
    const scale = Math.max(1e-6, maxAbs(y));
    x.forEach((value, i) => (worst = Math.max(worst, Math.abs(value - y[i]!) / scale)));
  }
  return worst;
}

/** The batch's gradients on this thread alone. */
function hostGradients(policy: TinyVlmPolicy, batch: SftExample[]): { loss: number; grads: HostGradients } {
  return gradients(policy, trainable(policy), () => sftLoss(policy, batch, 0.3, 1));
}

let peers: GradientWorker[] = [];
beforeAll(async () => {
  await initEngine({ force: 'wasm' });
});
afterAll(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

async function startPeer(policy: TinyVlmPolicy): Promise<GradientWorker> {
  const peer = await GradientWorker.start(policy, 'wasm', script);
  peers.push(peer);
  return peer;
}

describe('data-parallel SFT', () => {
  it.each([
    ['the full model', {}],
    ['LoRA adapters over frozen weights', { lora: { rank: 2, alpha: 4 } }],
  ])(
    'the halves’ gradients, weighted by examples, are the full batch’s when the halves are alike (%s)',
    async (_, extra) => {
      const policy = TinyVlmPolicy.create({ ...config, ...extra }, tokenizer, 3);
      const peer = await startPeer(policy);
      const named = trainable(policy);
      // Alike halves: [a, b | a, b]. The worker must also have the frozen weights to agree.
      const batch = [examples[0]!, examples[1]!, examples[0]!, examples[1]!];
      const full = hostGradients(policy, batch);
      const split = await dataParallelGradients(policy, named, batch, lossOptions, peer);
      expect(split.loss).toBeCloseTo(full.loss, 5);
      expect([...split.grads.keys()].sort()).toEqual([...full.grads.keys()].sort());
      expect(maxRelativeError(split.grads, full.grads)).toBeLessThan(1e-4);

      // Unlike halves: the mean of the two halves' means, each computed on its own.
      const uneven = [examples[0]!, examples[2]!, examples[1]!];
      const here = hostGradients(policy, uneven.slice(0, 2));
      const there = hostGradients(policy, uneven.slice(2));
      const expected = new Map(
        [...here.grads].map(([n, g]) => [
          n,
          g.map((x, i) => (2 / 3) * x + (1 / 3) * there.grads.get(n)![i]!),
        ]),
      );
      const mixed = await dataParallelGradients(policy, named, uneven, lossOptions, peer);
      expect(mixed.loss).toBeCloseTo((2 / 3) * here.loss + (1 / 3) * there.loss, 5);
      expect(maxRelativeError(mixed.grads, expected)).toBeLessThan(1e-4);
      policy.dispose();
    },
  );

  it('a run on two cores trains the weights one core does (alike halves), and lowers the loss', async () => {
    const options: SftOptions = {
      steps: 16,
      batchSize: 4,
      lr: 1e-2,
      warmupSteps: 2,
      schedule: 'cosine',
      weightDecay: 0.01,
      maxGradNorm: 1,
      seed: 1,
      trainThink: 0.3,
      checkpointEvery: 100,
      patchLossWeight: 1,
    };
    const source: BatchSource<SftExample> = {
      batch: (step) => {
        const pair = [examples[step % 4]!, examples[(step + 1) % 4]!];
        return [...pair, ...pair];
      },
    };
    const one = TinyVlmPolicy.create(config, tokenizer, 8);
    const two = TinyVlmPolicy.create(config, tokenizer, 8);
    const peer = await startPeer(two);
    const lossesOne: number[] = [];
    const lossesTwo: number[] = [];
    await runSft(one, source, options, { onStep: (_, m) => lossesOne.push(m.loss) });
    await runSft(two, source, options, { gradientWorker: peer, onStep: (_, m) => lossesTwo.push(m.loss) });
    lossesTwo.forEach((loss, i) => expect(loss).toBeCloseTo(lossesOne[i]!, 3));
    expect(lossesTwo.slice(-4).reduce((a, b) => a + b)).toBeLessThan(
      lossesTwo.slice(0, 4).reduce((a, b) => a + b),
    );
    for (const [name, w] of one.model.weights) {
      // A key bias adds the same to every score of a query: its true gradient is 0, and Adam
      // turns the rounding noise left in it into full-size steps, differently on each side.
      if (name.endsWith('k_proj.bias')) continue;
      const other = two.model.weights.get(name)!.dataSync();
      const values = w.dataSync();
      const scale = Math.max(1e-3, maxAbs(values));
      const worst = maxAbs(values.map((x, i) => x - other[i]!));
      expect(worst / scale, name).toBeLessThan(1e-3);
    }
    one.dispose();
    two.dispose();
  });

  it("the worker's failure reaches the trainer with its reason; a closed worker says so", async () => {
    const policy = TinyVlmPolicy.create(config, tokenizer, 4);
    const peer = await startPeer(policy);
    const named = trainable(policy);
    // Only the worker's half is malformed (three patch labels for four patches).
    const bad = [examples[0]!, { ...examples[1]!, patchLabels: [0, 1, 2] }];
    await expect(dataParallelGradients(policy, named, bad, lossOptions, peer)).rejects.toThrow(
      /gradient worker: patch labels need .* 4 labels per image/,
    );
    // The worker stays usable after a refused step.
    const ok = await dataParallelGradients(policy, named, [examples[0]!, examples[1]!], lossOptions, peer);
    expect(Number.isFinite(ok.loss)).toBe(true);
    await peer.close();
    peers = peers.filter((p) => p !== peer);
    await expect(
      dataParallelGradients(policy, named, [examples[0]!, examples[1]!], lossOptions, peer),
    ).rejects.toThrow(/gradient worker was closed/);
    policy.dispose();
  });

  it('a worker that dies mid-step fails the step with a message saying the checkpoint is kept', async () => {
    // A stand-in worker that is ready, then dies on its first step without answering: what a crash
    // of the thread looks like from here. (Terminating the real worker from outside raced with its
    // answer: on a loaded machine the worker's half could finish before the terminate landed.)
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-dies-'));
    const dies = path.join(dir, 'dies.mjs');
    writeFileSync(
      dies,
      "import { parentPort } from 'node:worker_threads';\n" +
        "parentPort.on('message', (m) => (m.type === 'init' ? parentPort.postMessage({ type: 'ready' }) : process.exit(3)));\n",
    );
    const policy = TinyVlmPolicy.create(config, tokenizer, 5);
    const peer = await GradientWorker.start(policy, 'wasm', dies);
    peers.push(peer);
    const step = dataParallelGradients(policy, trainable(policy), [...examples], lossOptions, peer);
    await expect(step).rejects.toThrow(
      /gradient worker: it stopped \(exit code 3\).*last checkpoint is kept/,
    );
    // Later steps fail at once with the same reason instead of waiting on a dead thread.
    await expect(
      dataParallelGradients(policy, trainable(policy), [...examples], lossOptions, peer),
    ).rejects.toThrow(/it stopped \(exit code 3\)/);
    policy.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
});
