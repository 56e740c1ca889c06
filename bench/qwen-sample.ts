// The tiny Qwen checkpoints' speed on this machine: folder load time and the memory the loaded
// weights hold (vs their f32 size), prefill ms and decode tokens/s, and one GRPO step of the tiny
// Qwen2-VL (G 8, 2 prompts, 32-token answers, LoRA r 8) split into its parts.
// Usage: node bench/ts.js bench/qwen-sample.ts [--backend wasm|cpu|tfjs-node|tfjs-node-gpu]
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { decodeImage } from '../src/main/data/imageFiles';
import { initEngine } from '../src/main/engine';
import { tf } from '../src/main/engine/tf';
import { QwenPolicy } from '../src/main/models/qwen2-vl/policy';
import { taskRewards } from '../src/main/rewards/registry';
import { runGrpo, type GrpoPrompt } from '../src/main/train/grpo/trainer';

const flag = process.argv.indexOf('--backend');
const engine = await initEngine(flag > 0 ? { force: process.argv[flag + 1] as never } : { force: 'wasm' });
const fixtures = 'test/fixtures/qwen';
const image = decodeImage(readFileSync(path.join(fixtures, 'generate/image.png')));
const ms = (t: number) => `${(performance.now() - t).toFixed(0)} ms`;
console.log(`backend ${engine.backend}`);

for (const folder of ['qwen2-vl/checkpoint', 'qwen2-vl/checkpoint-bf16', 'qwen2.5-vl/checkpoint']) {
  const rssBefore = process.memoryUsage().rss;
  const bytesBefore = tf.memory().numBytes;
  let t = performance.now();
  const policy = QwenPolicy.load(path.join(fixtures, folder));
  const loaded = ms(t);
  const held = tf.memory().numBytes - bytesBefore;
  const f32 = [...policy.model.weights.variables.values()].reduce((n, v) => n + v.size * 4, 0);
  const rss = process.memoryUsage().rss - rssBefore;
  console.log(
    `${folder}: loaded in ${loaded}; tensors hold ${(held / 2 ** 20).toFixed(1)} MiB = ` +
      `${(held / f32).toFixed(2)}× the f32 weights (${(f32 / 2 ** 20).toFixed(1)} MiB); rss +${(rss / 2 ** 20).toFixed(0)} MiB`,
  );
  const prepared = policy.prepare([{ image, prompt: policy.prompts.detection('circle') }]);
  const prompt = prepared.sequences[0]!;
  for (let round = 0; round < 2; round++) {
    t = performance.now();
    const first = policy.model.prefill([prompt], prepared.features[0]!);
    const prefill = performance.now() - t;
    first.logits.dispose();
    t = performance.now();
    let cache = first.cache;
    const steps = 32;
    for (let i = 0; i < steps; i++) {
      const next = policy.model.decodeStep(cache, [785]);
      next.logits.dataSync();
      next.logits.dispose();
      tf.dispose([...cache.keys, ...cache.values]);
      cache = next.cache;
    }
    tf.dispose([...cache.keys, ...cache.values]);
    const decode = performance.now() - t;
    if (round === 1)
      console.log(
        `  prefill ${prompt.inputIds.length} tokens: ${prefill.toFixed(0)} ms; decode 1 row: ` +
          `${((steps / decode) * 1000).toFixed(1)} tokens/s`,
      );
  }
  prepared.dispose();
  policy.dispose();
}

const policy = QwenPolicy.load(path.join(fixtures, 'qwen2-vl/checkpoint'), {
  lora: { rank: 8, alpha: 16, dropout: 0 },
});
const wide = decodeImage(readFileSync(path.join(fixtures, 'generate/wide.png')));
const prompts: GrpoPrompt[] = [image, wide].map((img, i) => ({
  key: `p${i}`,
  imageId: null,
  image: img,
  prompt: policy.prompts.detection('circle'),
  solution: { boxes: [{ x1: 10, y1: 10, x2: 100, y2: 90, label: 'circle' }] },
  context: {
    image: { width: img.width, height: img.height },
    frame: policy.frame,
    resized: policy.inputSize(img),
  },
  asked: 'circle',
}));
const options = {
  steps: 3,
  promptsPerStep: 2,
  numGenerations: 8,
  temperature: 1,
  topP: 1,
  maxCompletionLength: 32,
  beta: 0.04,
  epsilon: 0.2,
  epsilonHigh: 0.2,
  numIterations: 1,
  lossType: 'grpo' as const,
  scaleRewards: 'group' as const,
  maskTruncated: false,
  learningRate: 1e-4,
  warmupSteps: 0,
  schedule: 'constant' as const,
  weightDecay: 0,
  maxGradNorm: 1,
  seed: 1,
  checkpointEvery: 1000,
  rewards: taskRewards.detection,
};
const seconds: number[] = [];
await runGrpo(policy, 'adapters-off', { batch: () => prompts }, options, {
  onStep(step, report) {
    const total = Object.values(report.timings).reduce((a, b) => a + b, 0);
    seconds.push(total);
    console.log(
      `GRPO step ${step}: ${total.toFixed(2)} s (sampling ${report.timings.sampling.toFixed(2)}, ` +
        `reference ${report.timings.reference.toFixed(2)}, update ${report.timings.update.toFixed(2)})`,
    );
  },
});
console.log(
  `GRPO step of the tiny Qwen2-VL (G 8, 2 prompts, 32 tokens): median ${seconds.sort((a, b) => a - b)[1]!.toFixed(2)} s`,
);
policy.dispose();
