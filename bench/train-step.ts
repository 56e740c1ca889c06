// One SFT-sized training step of tiny-vlm (the shipped base configuration, batch 8 of ShapeWorld
// detection examples with thinking text) against the identical architecture in PyTorch on the CPU
// (tools/reference/tiny_vlm_torch.py, same batch and lengths), in one run.
// Also the same step data-parallel over two cores (the gradient worker `npm run pretrain` uses;
// out/main/gradientWorker.js, so `npm run build` first), against PyTorch on all its threads.
// Usage: VRFT_PYTHON=/path/to/venv/bin/python node bench/ts.js bench/train-step.ts
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { engineLabel, initEngine, setNativeKernelsEnabled, tf } from '../src/main/engine';
import { buildWordTokenizerJson, TextTokenizer } from '../src/main/models/tokenizer';
import { TinyVlmPolicy } from '../src/main/models/tiny-vlm/policy';
import { AdamW } from '../src/main/train/optimizer';
import { dataParallelGradients, GradientWorker } from '../src/main/train/dataParallel';
import { applyGradients, sftStep, sftTargets } from '../src/main/train/sft';
import { shapeWorldSource } from '../src/main/pretrain/shapeworldExamples';
import { tinyVlmBaseConfig, tinyVlmWords } from '../src/main/pretrain/tinyVlmBase';

const engine = await initEngine();
const tokenizer = new TextTokenizer(buildWordTokenizerJson(tinyVlmWords()) as never);
const policy = TinyVlmPolicy.create(tinyVlmBaseConfig, tokenizer, 0);
const named = new Map([...policy.model.weights]);
const optimizer = new AdamW(named);
const source = shapeWorldSource({ seed: 1, split: 'base', mix: { detection: 1 }, width: 128 });
const batch = source.batch(0, 8);
const targets = batch.map((e) => sftTargets(policy, e, true).tokenIds.length);
const promptLength = Math.max(...batch.map((e) => policy.promptIds(e.prompt).length));
const completion = Math.round(targets.reduce((a, b) => a + b, 0) / targets.length);
for (let i = 0; i < 3; i++)
  sftStep(policy, named, optimizer, batch, { lr: 1e-3, maxGradNorm: 1, trainThink: true });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
function oneCore(): number {
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const start = performance.now();
    sftStep(policy, named, optimizer, batch, { lr: 1e-3, maxGradNorm: 1, trainThink: true });
    times.push(performance.now() - start);
  }
  return median(times);
}
const ours = oneCore();
// The same step without the native kernels, where they load: what a machine without them gets.
let wasmAlone: number | null = null;
if (engine.native?.loaded) {
  setNativeKernelsEnabled(false);
  wasmAlone = oneCore();
  setNativeKernelsEnabled(true);
}
const workerScript = path.resolve('out/main/gradientWorker.js');
let twoCores: number | null = null;
if (existsSync(workerScript)) {
  const peer = await GradientWorker.start(policy, engine.backend, workerScript);
  const options = { lr: 1e-3, maxGradNorm: 1, trainThink: true };
  const parallel: number[] = [];
  for (let i = 0; i < 13; i++) {
    const start = performance.now();
    applyGradients(optimizer, await dataParallelGradients(policy, named, batch, options, peer), options);
    if (i >= 3) parallel.push(performance.now() - start);
  }
  await peer.close();
  twoCores = median(parallel);
}
console.log(
  `batch 8 × (64 image + ~${promptLength} prompt + ~${completion} completion tokens), tiny-vlm base config`,
);
const kernels = engineLabel(engine);
console.log(`tiny-vlm on ${kernels}: median ${ours.toFixed(0)} ms/step`);
if (wasmAlone !== null)
  console.log(
    `tiny-vlm on ${engine.backend} alone (no native kernels): median ${wasmAlone.toFixed(0)} ms/step`,
  );
console.log(
  twoCores === null
    ? `two cores: skipped, ${workerScript} is not built (npm run build)`
    : `tiny-vlm on ${kernels}, two cores (data-parallel): median ${twoCores.toFixed(0)} ms/step`,
);
// Where one step's time goes: kernels by total time (tf.profile times each kernel as it runs).
const profile = await tf.profile(() => {
  sftStep(policy, named, optimizer, batch, { lr: 1e-3, maxGradNorm: 1, trainThink: true });
});
const byKernel = new Map<string, { calls: number; ms: number }>();
if (process.env.SHAPES)
  for (const k of profile.kernels)
    if (
      ['BatchMatMul', 'Multiply', 'Cast', '_FusedMatMul'].includes(k.name) &&
      (k.kernelTimeMs as number) > 0.4
    )
      console.log(k.name, JSON.stringify(k.inputShapes), (k.kernelTimeMs as number).toFixed(2));
for (const k of profile.kernels) {
  const entry = byKernel.get(k.name) ?? { calls: 0, ms: 0 };
  entry.calls++;
  entry.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
  byKernel.set(k.name, entry);
}
const kernelMs = [...byKernel.values()].reduce((sum, e) => sum + e.ms, 0);
console.log(
  `profile of one step: ${profile.kernels.length} kernels, ${kernelMs.toFixed(0)} ms in kernels (the rest is dispatch, tape and host work); top 12:`,
);
for (const [name, e] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12))
  console.log(`  ${name.padEnd(26)} ${String(e.calls).padStart(5)} calls ${e.ms.toFixed(1).padStart(7)} ms`);
const python = process.env.VRFT_PYTHON ?? 'python3';
for (const threads of [1, 0]) {
  const ref = spawnSync(
    python,
    [
      'tools/reference/tiny_vlm_torch.py',
      '--batch',
      '8',
      '--prompt',
      String(promptLength),
      '--completion',
      String(completion),
      '--stem',
      tinyVlmBaseConfig.stem ?? 'patch',
      '--vision-layers',
      String(tinyVlmBaseConfig.visionLayers),
      ...(threads ? ['--threads', String(threads)] : []),
    ],
    { encoding: 'utf8' },
  );
  if (ref.status !== 0) {
    console.log(
      `PyTorch reference unavailable (${python}): ${ref.error?.message ?? ref.stderr.trim().split('\n').at(-1)}`,
    );
    break;
  }
  const { ms_per_step, threads: used } = JSON.parse(ref.stdout) as { ms_per_step: number; threads: number };
  // One PyTorch thread against our one core; PyTorch's own threads against our two.
  const [mine, cores] = used > 1 && twoCores !== null ? [twoCores, 'two cores'] : [ours, 'one core'];
  console.log(
    `PyTorch CPU, ${used} thread(s): ${ms_per_step.toFixed(0)} ms/step → tiny-vlm (${cores}) is ${(mine / ms_per_step).toFixed(2)}× PyTorch's time`,
  );
}
