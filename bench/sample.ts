// Sampling speed with the KV cache: G = 8 samples of a 64-token answer for one prompt.
// Usage: node bench/ts.js bench/sample.ts [model folder]
import { existsSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { sampleTask } from '../src/main/data/shapeworld';
import { initEngine } from '../src/main/engine';
import { buildWordTokenizerJson, TextTokenizer } from '../src/main/models/tokenizer';
import { TinyVlmPolicy } from '../src/main/models/tiny-vlm/policy';
import { detectionPrompt } from '../src/main/models/tiny-vlm/prompts';
import { tinyVlmBaseConfig, tinyVlmWords } from '../src/main/pretrain/tinyVlmBase';

const engine = await initEngine();
const folder = process.argv[2] ?? 'resources/models/tiny-vlm-base';
const trained = existsSync(path.join(folder, 'config.json'));
const policy = trained
  ? TinyVlmPolicy.load(folder)
  : TinyVlmPolicy.create(
      tinyVlmBaseConfig,
      new TextTokenizer(buildWordTokenizerJson(tinyVlmWords()) as never),
      0,
    );
const { scene } = sampleTask('detection', 5, { split: 'base' });
const prepared = policy.prepare([
  { image: { width: scene.width, height: scene.height, rgb: scene.rgb }, prompt: detectionPrompt('circle') },
]);
const rates: number[] = [];
let last = 0;
for (let round = 0; round < 6; round++) {
  const start = performance.now();
  const samples = policy.sample(prepared, { n: 8, temperature: 1.2, topP: 1, maxNewTokens: 64, seed: round });
  const seconds = (performance.now() - start) / 1000;
  last = samples.reduce((a, s) => a + s.tokenIds.length, 0);
  if (round > 0) rates.push(last / seconds);
}
rates.sort((a, b) => a - b);
console.log(`${trained ? folder : 'untrained base configuration'} on ${engine.backend}`);
console.log(
  `G = 8 samples, up to 64 new tokens (last round: ${last} tokens in all): median ${rates[2]!.toFixed(0)} tokens/s (${(rates[2]! / 8).toFixed(0)} per sample)`,
);
