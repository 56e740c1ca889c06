import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../src/main/engine';
import { buildWordTokenizerJson, TextTokenizer } from '../../src/main/models/tokenizer';
import { TinyVlmPolicy } from '../../src/main/models/tiny-vlm/policy';
import { rewardFunctions } from '../../src/main/rewards/registry';
import {
  runGrpo,
  type GrpoOptions,
  type GrpoPrompt,
  type PromptSource,
} from '../../src/main/train/grpo/trainer';
import { tinyConfig } from '../support/tinyModel';

const tokenizer = new TextTokenizer(buildWordTokenizerJson(['Find', 'every', 'circle']) as never);
const config = { ...tinyConfig, maxPositions: 48 };
const dirs: string[] = [];
// The backend training runs on (the pure-JS cpu backend is ~30× slower).
beforeAll(() => initEngine({ force: 'wasm' }), 30_000);
afterAll(() => {
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  delete rewardFunctions.test_short;
});

// A toy verifiable reward a random policy sometimes earns: end within 4 tokens.
rewardFunctions.test_short = { description: 'test only', fn: (s) => (s.completion.length <= 6 ? 1 : 0) };

const source: PromptSource = {
  batch: (step, size) =>
    Array.from({ length: size }, (_, i): GrpoPrompt => ({
      key: `p${(step + i) % 3}`,
      imageId: null,
      image: { width: 16, height: 16, rgb: new Uint8Array(768).fill(((step + i) % 3) * 60) },
      prompt: 'Find every circle.',
      solution: { boxes: [] },
      context: { image: { width: 16, height: 16 } },
    })),
};

const options: GrpoOptions = {
  steps: 40,
  promptsPerStep: 2,
  numGenerations: 6,
  temperature: 1,
  topP: 1,
  maxCompletionLength: 10,
  beta: 0.04,
  epsilon: 0.2,
  epsilonHigh: 0.2,
  numIterations: 1,
  lossType: 'grpo',
  scaleRewards: 'group',
  maskTruncated: false,
  learningRate: 3e-2,
  warmupSteps: 0,
  schedule: 'constant',
  weightDecay: 0,
  maxGradNorm: 1,
  seed: 3,
  checkpointEvery: 5,
  rewards: { test_short: 1 },
};

async function run(policy: TinyVlmPolicy, o: GrpoOptions, hooks = {}) {
  const rewards: number[] = [];
  const reference = TinyVlmPolicy.create(config, tokenizer, 1);
  await runGrpo(policy, reference, source, o, {
    ...hooks,
    onStep: (_: number, r: { metrics: Record<string, number> }) => rewards.push(r.metrics.reward!),
  });
  reference.dispose();
  return rewards;
}

describe('GRPO trainer', { timeout: 120_000 }, () => {
  it('raises the reward the registry gives', async () => {
    const policy = TinyVlmPolicy.create(config, tokenizer, 1);
    const rewards = await run(policy, options);
    const first = rewards.slice(0, 8).reduce((a, b) => a + b) / 8;
    const last = rewards.slice(-8).reduce((a, b) => a + b) / 8;
    expect(last).toBeGreaterThan(first + 0.25);
    policy.dispose();
  });

  it('logs TRL-named metrics, the rollouts of every group, and their advantages', async () => {
    const policy = TinyVlmPolicy.create(config, tokenizer, 1);
    const reports: {
      metrics: Record<string, number>;
      rollouts: { advantage: number; promptKey: string; sampleIndex: number }[];
    }[] = [];
    const reference = TinyVlmPolicy.create(config, tokenizer, 1);
    await runGrpo(
      policy,
      reference,
      source,
      { ...options, steps: 2 },
      { onStep: (_s, r) => reports.push(r) },
    );
    const m = reports[0]!.metrics;
    for (const key of [
      'reward',
      'reward_std',
      'rewards/test_short/mean',
      'frac_reward_zero_std',
      'completions/mean_length',
      'completions/clipped_ratio',
      'kl',
      'entropy',
      'clip_ratio/region_mean',
      'loss',
      'grad_norm',
      'learning_rate',
      'step_time',
      'format/ok_rate',
    ]) {
      expect(Number.isFinite(m[key]), key).toBe(true);
    }
    const rollouts = reports[0]!.rollouts;
    expect(rollouts).toHaveLength(12);
    expect(rollouts.map((r) => r.sampleIndex)).toEqual([0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5]);
    // Advantages are centred within each group.
    for (const g of [0, 1])
      expect(Math.abs(rollouts.slice(g * 6, g * 6 + 6).reduce((a, r) => a + r.advantage, 0))).toBeLessThan(
        1e-9,
      );
    policy.dispose();
    reference.dispose();
  });

  it('is deterministic, and resuming from a checkpoint reproduces the uninterrupted run', async () => {
    const o = { ...options, steps: 8, numIterations: 2 };
    const straight = await run(TinyVlmPolicy.create(config, tokenizer, 1), o);
    expect(await run(TinyVlmPolicy.create(config, tokenizer, 1), o)).toEqual(straight);
    const root = mkdtempSync(path.join(os.tmpdir(), 'vrft-grpo-'));
    dirs.push(root);
    let calls = 0;
    const first = await run(TinyVlmPolicy.create(config, tokenizer, 1), o, {
      checkpointRoot: root,
      shouldStop: () => ++calls > 5,
    });
    const rest = await run(TinyVlmPolicy.create(config, tokenizer, 77), o, {
      checkpointRoot: root,
      resume: true,
    });
    expect([...first, ...rest]).toEqual(straight);
  });
});
