// Seconds per GRPO step (G = 8, 2 prompts, up to 64-token answers) with the shipped base model,
// split into sampling, scoring, loss + backward + AdamW, and the store's writes (rollouts and
// metrics into a real SQLite file). Usage: node bench/ts.js bench/grpo-step.ts [model folder]
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { sampleTask } from '../src/main/data/shapeworld';
import { initEngine } from '../src/main/engine';
import { TinyVlmPolicy } from '../src/main/models/tiny-vlm/policy';
import { buildWordTokenizerJson, TextTokenizer } from '../src/main/models/tokenizer';
import { detectionPrompt } from '../src/main/models/tiny-vlm/prompts';
import { taskRewards } from '../src/main/rewards/registry';
import { openStore, workspaceDbPath } from '../src/main/store/db';
import { insertRollouts } from '../src/main/store/rollouts';
import { createRun, insertMetrics } from '../src/main/store/runs';
import { runGrpo, type GrpoPrompt } from '../src/main/train/grpo/trainer';
import { tinyVlmBaseConfig, tinyVlmWords } from '../src/main/pretrain/tinyVlmBase';

const engine = await initEngine();
const folder = process.argv[2] ?? 'resources/models/tiny-vlm-base';
const trained = existsSync(path.join(folder, 'config.json'));
const load = () =>
  trained
    ? TinyVlmPolicy.load(folder)
    : TinyVlmPolicy.create(
        tinyVlmBaseConfig,
        new TextTokenizer(buildWordTokenizerJson(tinyVlmWords()) as never),
        0,
      );
const policy = load();
const reference = load();
const prompts: GrpoPrompt[] = [0, 1, 2, 3].map((i) => {
  const { scene, task } = sampleTask('detection', 40 + i, { split: 'novel' });
  const t = task as { category: string; boxes: { x1: number; y1: number; x2: number; y2: number }[] };
  return {
    key: `p${i}`,
    imageId: null,
    image: { width: scene.width, height: scene.height, rgb: scene.rgb },
    prompt: detectionPrompt(t.category),
    solution: { boxes: t.boxes },
    context: { image: { width: scene.width, height: scene.height }, frame: 'norm1000' },
  };
});
const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-bench-grpo-'));
const db = openStore(workspaceDbPath(dir));
const runId = createRun(db, { kind: 'grpo', config: {} });
const rows: {
  sampling: number;
  scoring: number;
  reference: number;
  update: number;
  store: number;
  total: number;
  tokens: number;
}[] = [];
await runGrpo(
  policy,
  reference,
  {
    batch: (step, size) =>
      Array.from({ length: size }, (_, i) => prompts[(step * size + i) % prompts.length]!),
  },
  {
    steps: 6,
    promptsPerStep: 2,
    numGenerations: 8,
    temperature: 1,
    topP: 1,
    maxCompletionLength: 64,
    beta: 0.04,
    epsilon: 0.2,
    epsilonHigh: 0.2,
    numIterations: 1,
    lossType: 'grpo',
    scaleRewards: 'group',
    maskTruncated: false,
    learningRate: 1e-5,
    warmupSteps: 0,
    schedule: 'constant',
    weightDecay: 0,
    maxGradNorm: 1,
    seed: 0,
    checkpointEvery: 1000,
    rewards: taskRewards.detection,
  },
  {
    onStep(step, report) {
      const t0 = performance.now();
      insertRollouts(db, runId, report.rollouts);
      insertMetrics(
        db,
        runId,
        Object.entries(report.metrics).map(([key, value]) => ({ step, key, value })),
      );
      const store = (performance.now() - t0) / 1000;
      const total = report.metrics.step_time! + store;
      rows.push({ ...report.timings, store, total, tokens: report.metrics['completions/mean_length']! });
    },
  },
);
db.close();
rmSync(dir, { recursive: true, force: true });
const steady = rows.slice(1); // the first step warms the kernels up
const mean = (k: keyof (typeof rows)[number]) => steady.reduce((a, r) => a + r[k], 0) / steady.length;
const total = mean('total');
console.log(
  `${trained ? folder : 'untrained base configuration'} on ${engine.backend}; G = 8, 2 prompts, ≤ 64-token answers (mean ${mean('tokens').toFixed(0)})`,
);
console.log(`seconds per GRPO step: ${total.toFixed(2)}`);
for (const k of ['sampling', 'scoring', 'reference', 'update', 'store'] as const) {
  console.log(`  ${k.padEnd(26)} ${mean(k).toFixed(3)} s  (${((100 * mean(k)) / total).toFixed(1)}%)`);
}
console.log(
  '  (scoring: rewards and advantages; reference: its log-probs for the KL; update: loss + backward + AdamW)',
);
