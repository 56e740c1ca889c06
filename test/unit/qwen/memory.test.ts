/**
 * Sizes for memory planning (QWEN.md §5) from config.json alone: the parameter counts of the real
 * Qwen2-VL-2B-Instruct and Qwen2.5-VL-3B-Instruct configs (the hub's files, written out below),
 * their LoRA adapters, and the memory of a GRPO step; the tiny checkpoints' counts equal the sum
 * of the tensors their safetensors headers declare.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseQwenConfig, type QwenConfig } from '../../../src/main/models/qwen2-vl/config';
import { imageProcessorOf, loadQwenFolder } from '../../../src/main/models/qwen2-vl/folder';
import { languageLinears } from '../../../src/main/models/qwen2-vl/lora';
import {
  checkBackendHolds,
  detectionPromptTokens,
  formatCount,
  formatGiB,
  GiB,
  grpoStepMemory,
  imageTokenCount,
  loraParameterCount,
  qwenParameterCounts,
  type GrpoMemoryOptions,
} from '../../../src/main/models/qwen2-vl/memory';
import { qwen25VlPrompts, qwen2VlPrompts } from '../../../src/main/models/qwen2-vl/prompts';
import { readSafetensorsHeader } from '../../../src/main/models/safetensors';
import { qwen25Vl3bConfig, qwen2Vl2bConfig, qwen2Vl7bConfig } from './hubConfigs';

const fixtures = path.join(__dirname, '../../fixtures/qwen');

const config2b = parseQwenConfig(qwen2Vl2bConfig);
const config3b = parseQwenConfig(qwen25Vl3bConfig);
const r64 = { rank: 64, alpha: 128, dropout: 0.05 };
const gib = (bytes: number) => bytes / GiB;
/** The hub's preprocessor_config.json of both models. */
const hubProcessor = { patchSize: 14, mergeSize: 2, minPixels: 3136, maxPixels: 12845056 };

/**
 * QWEN.md §5's GRPO step: one prompt's G 8 completions of 706 tokens — a 640×480 image (391
 * image pads), 59 other prompt tokens, 256 completion tokens — with LoRA r64 and a frozen vision tower.
 */
const qwenMdStep: GrpoMemoryOptions = {
  promptsPerStep: 1,
  numGenerations: 8,
  maxCompletionLength: 256,
  imageTokens: imageTokenCount({ width: 640, height: 480 }, hubProcessor),
  promptTextTokens: 59,
  lora: r64,
  freezeVisionTower: true,
  gradientCheckpointing: false,
  beta: 0.04,
};

describe('Qwen sizes (QWEN.md §5)', () => {
  it('counts Qwen2-VL-2B: 665 M vision, 1.544 B language model (tied head), 8.2 GiB in float32', () => {
    const counts = qwenParameterCounts(config2b);
    expect(counts).toEqual({
      vision: 665_271_296,
      language: 1_543_714_304,
      embeddings: 151936 * 1536,
      lmHead: 0,
      tied: true,
      total: 665_271_296 + 1_543_714_304,
    });
    expect([formatCount(counts.vision), formatCount(counts.language)]).toEqual(['665.3 M', '1.544 B']);
    expect(formatGiB(counts.total * 4)).toBe('8.2 GiB');
  });

  it('counts Qwen2.5-VL-3B: 669 M vision, 3.086 B language model, 14.0 GiB in float32', () => {
    const counts = qwenParameterCounts(config3b);
    expect(counts.vision).toBe(668_684_288);
    expect(counts.language).toBe(3_085_938_688);
    expect(counts.tied).toBe(true);
    expect([formatCount(counts.vision), formatCount(counts.language)]).toEqual(['668.7 M', '3.086 B']);
    expect(formatGiB(counts.total * 4)).toBe('14.0 GiB');
  });

  it('counts an untied head (Qwen2-VL-7B: 8.29 B, as its hub index totals)', () => {
    const counts = qwenParameterCounts(parseQwenConfig(qwen2Vl7bConfig));
    expect(counts.lmHead).toBe(152064 * 3584);
    expect(counts.embeddings).toBe(152064 * 3584);
    expect(counts.total).toBe(8_291_375_616); // model.safetensors.index.json: total_size 16,582,751,232 bytes of bf16
  });

  it('counts LoRA r64 on the language model’s seven linears: 73.9 M and 119.7 M, 1.1 and 1.8 GiB with grads and AdamW', () => {
    const two = loraParameterCount(config2b, r64);
    const three = loraParameterCount(config3b, r64);
    expect(two.parameters).toBe(73_859_072);
    expect(three.parameters).toBe(119_734_272);
    expect(two.layers).toHaveLength(28 * 7);
    expect(three.layers).toHaveLength(36 * 7);
    expect(two.layers.every((l) => l.startsWith('model.layers.'))).toBe(true);
    expect(formatGiB(grpoStepMemory(config2b, qwenMdStep).training)).toBe('1.1 GiB');
    expect(formatGiB(grpoStepMemory(config3b, qwenMdStep).training)).toBe('1.8 GiB');
  });

  it('matches target_modules as lora.ts does: a list by name ending reaches Qwen2.5-VL’s vision MLP, a regex does not', () => {
    const list = loraParameterCount(config3b, { ...r64, targetModules: [...languageLinears] });
    const vision = list.layers.filter((l) => l.startsWith('visual.'));
    expect(vision).toHaveLength(32 * 3); // gate_proj, up_proj, down_proj of every vision block
    const regex = loraParameterCount(config3b, {
      ...r64,
      targetModules: '^(?!.*visual).*\\.(q_proj|v_proj)$',
    });
    expect(regex.parameters).toBe(36 * 64 * (2048 + 2048 + 2048 + 256));
    expect(() => loraParameterCount(config3b, { ...r64, targetModules: ['qkv_proj'] })).toThrow(
      /target_modules \["qkv_proj"\] match no linear layer/,
    );
    // A vision adapter makes the tower train: its activations count.
    const withVision = { ...qwenMdStep, lora: { ...r64, targetModules: [...languageLinears] } };
    expect(grpoStepMemory(config3b, withVision).visionTrains).toBe(true);
    expect(grpoStepMemory(config3b, qwenMdStep).visionTrains).toBe(false);
  });

  it('estimates a GRPO step’s activations: ~28 and ~45 GiB in one pass, ~3 and ~4 GiB with per-layer recomputation', () => {
    const two = grpoStepMemory(config2b, qwenMdStep);
    const three = grpoStepMemory(config3b, qwenMdStep);
    expect(two.sequence).toEqual({
      rows: 8,
      promptTokens: 450,
      imageTokens: 391,
      completionTokens: 256,
      tokens: 706,
    });
    expect(Math.round(gib(two.activations.full))).toBe(28);
    expect(Math.round(gib(three.activations.full))).toBe(45);
    expect(Math.round(gib(two.activations.recomputed))).toBe(3);
    expect(Math.round(gib(three.activations.recomputed))).toBe(4);
    expect(two.activations.vision).toBe(0); // frozen: encoded once, outside the pass
    expect(two.referenceWeights).toBe(0); // LoRA's reference is the adapters off
    expect(two.needed).toBe(two.total.full);
    expect(grpoStepMemory(config2b, { ...qwenMdStep, gradientCheckpointing: true }).needed).toBe(
      two.total.recomputed,
    );
    // QWEN.md: with LoRA, a frozen tower and recomputation the 2B step fits 24 GB; without it does not.
    expect(two.total.recomputed).toBeLessThan(24e9);
    expect(two.total.full).toBeGreaterThan(24e9);
  });

  it('full fine-tuning trains the language model with AdamW and keeps a frozen reference when β > 0', () => {
    const full = grpoStepMemory(config2b, { ...qwenMdStep, lora: null });
    expect(full.trainableParameters).toBe(1_543_714_304);
    expect(full.training).toBe(1_543_714_304 * 12);
    expect(full.referenceWeights).toBe(full.weights);
    expect(grpoStepMemory(config2b, { ...qwenMdStep, lora: null, beta: 0 }).referenceWeights).toBe(0);
    const tower = grpoStepMemory(config2b, { ...qwenMdStep, lora: null, freezeVisionTower: false });
    expect(tower.trainableParameters).toBe(665_271_296 + 1_543_714_304);
    expect(tower.activations.vision).toBeGreaterThan(0);
    expect(tower.activations.full - full.activations.full).toBe(tower.activations.vision);
  });

  it('scales activations with the completions: rows × tokens', () => {
    const one = grpoStepMemory(config2b, qwenMdStep);
    const two = grpoStepMemory(config2b, { ...qwenMdStep, promptsPerStep: 2 });
    expect(two.activations.recomputed).toBeCloseTo(2 * one.activations.recomputed, -3);
    const shorter = grpoStepMemory(config2b, { ...qwenMdStep, maxCompletionLength: 128 });
    expect(shorter.activations.full).toBeLessThan(one.activations.full);
  });

  it('takes the prompt’s other tokens from the family’s own detection prompt, as the tokenizer counts them', () => {
    for (const [family, prompts] of [
      ['qwen2-vl', qwen2VlPrompts],
      ['qwen2.5-vl', qwen25VlPrompts],
    ] as const) {
      const folder = loadQwenFolder(path.join(fixtures, family, 'checkpoint'), { wanted: () => false });
      const text = folder.renderChat(
        [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: prompts.detection('dog') }] }],
        { addGenerationPrompt: true },
      );
      const ids = folder.tokenizer.encode(text);
      expect(ids.filter((id) => id !== 151655)).toHaveLength(detectionPromptTokens[family]);
    }
  });

  it('counts image tokens as the folder’s image processor sizes the image', () => {
    expect(imageTokenCount({ width: 640, height: 480 }, hubProcessor)).toBe(391);
    expect(imageTokenCount({ width: 224, height: 224 }, hubProcessor)).toBe(64);
    const processor = imageProcessorOf(path.join(fixtures, 'qwen2-vl/checkpoint'));
    expect(imageTokenCount({ width: 224, height: 224 }, processor)).toBe(64);
  });
});

/** Σ of the tensor sizes a folder's safetensors headers declare (a tied head's copy left out). */
function declaredParameters(dir: string, config: QwenConfig): number {
  let total = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.safetensors')))
    for (const entry of readSafetensorsHeader(path.join(dir, file)).entries)
      if (!(config.text.tieWordEmbeddings && entry.name === 'lm_head.weight'))
        total += entry.shape.reduce((a, b) => a * b, 1);
  return total;
}

describe.each(['qwen2-vl/checkpoint', 'qwen2-vl/checkpoint-bf16', 'qwen2.5-vl/checkpoint'])(
  'the tiny %s',
  (name) => {
    const dir = path.join(fixtures, name);
    const config = parseQwenConfig(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')));

    it('has the parameters its safetensors declare', () => {
      const counts = qwenParameterCounts(config);
      expect(counts.total).toBe(declaredParameters(dir, config));
      expect(counts.lmHead).toBe(
        config.text.tieWordEmbeddings ? 0 : config.text.vocabSize * config.text.hiddenSize,
      );
    });

    it('loads on wasm: a few MiB is far under the cap', () => {
      expect(() => checkBackendHolds(config, 'wasm', dir)).not.toThrow();
    });
  },
);

describe('the wasm cap', () => {
  it('refuses a 2B checkpoint on wasm, naming the packages to install; other backends are not capped', () => {
    expect(() => checkBackendHolds(config2b, 'wasm', '/models/qwen2-vl-2b')).toThrow(
      /qwen2_vl with 2\.209 B parameters needs 8\.2 GiB .*more memory than the wasm backend has.*npm install @tensorflow\/tfjs-node \(CPU\).*@tensorflow\/tfjs-node-gpu \(NVIDIA GPU\)/,
    );
    expect(() => checkBackendHolds(config2b, 'tensorflow', '/models/qwen2-vl-2b')).not.toThrow();
    expect(() => checkBackendHolds(config2b, 'cpu', '/models/qwen2-vl-2b')).not.toThrow();
  });
});
