/**
 * What a run with a Qwen folder is configured with: an experiment from a Qwen base takes the LoRA
 * recipe (the tiny-vlm recipe's templated thinking is for tiny-vlm alone); the config a run stores
 * (vrft's LoRA names) parses again in the trainer; a PEFT adapter folder without config.json is a
 * model folder of its base's kind.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isModelFolder, modelKindOf } from '../../../src/main/models';
import { builtInModelPath } from '../../../src/main/models/installed';
import { grpoConfigSchema, parseConfig, sftConfigSchema } from '../../../src/main/train/config';
import { experimentConfigs } from '../../../src/main/train/experiment';

const qwen = path.resolve('test/fixtures/qwen/qwen2.5-vl/checkpoint');
const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-qwen-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function plan(model: string) {
  return {
    task: 'detection' as const,
    dataset: { id: 1, name: 'shapes' },
    trainSplit: { id: 1, name: '1-shot' },
    evalSplit: { id: 2, name: '1-shot-eval' },
    model,
    steps: 100,
    seed: 0,
  };
}

describe('experiment recipes', () => {
  it('trains a Qwen base with LoRA adapters and no templated thinking', () => {
    const { sft, grpo } = experimentConfigs(plan(qwen));
    for (const config of [sft, grpo]) {
      expect(config.lora).toEqual({ r: 64, lora_alpha: 128, lora_dropout: 0.05 });
      expect(config.learningRate).toBe(1e-5);
    }
    expect(sft.thinkTemplate).toBeUndefined();
    expect(grpo).toMatchObject({ numGenerations: 8, beta: 0.04 });
    expect(parseConfig(sftConfigSchema, sft, 'sft').lora).toEqual({ rank: 64, alpha: 128, dropout: 0.05 });
    expect(parseConfig(grpoConfigSchema, grpo, 'grpo').lora?.rank).toBe(64);
  });

  it('keeps the tuned tiny-vlm recipe for the built-in model', () => {
    const { sft, grpo } = experimentConfigs(plan(builtInModelPath));
    expect(sft.thinkTemplate).toBe('Find every {category}: {objects}');
    expect(sft.lora).toBeUndefined();
    expect(grpo.learningRate).toBe(1e-4);
  });
});

describe('a run config', () => {
  it('parses again once stored (vrft’s own LoRA names)', () => {
    const raw = {
      dataset: 'shapes',
      model: qwen,
      steps: 2,
      lora: { r: 4, lora_alpha: 8, lora_dropout: 0.1, target_modules: ['q_proj'] },
    };
    const stored = JSON.parse(JSON.stringify(parseConfig(grpoConfigSchema, raw, 'config.json'))) as unknown;
    const again = parseConfig(grpoConfigSchema, stored, 'run 1');
    expect(again.lora).toEqual({ rank: 4, alpha: 8, dropout: 0.1, targetModules: ['q_proj'] });
    expect(again).toMatchObject({ freezeVisionTower: true, gradientCheckpointing: false });
  });
});

describe('a PEFT adapter folder', () => {
  it('is a model folder of its base’s kind, its base found from the folder or the working directory', () => {
    const adapter = path.join(dir, 'adapter');
    rmSync(adapter, { recursive: true, force: true });
    mkdirSync(adapter);
    expect(isModelFolder(adapter)).toBe(false);
    writeFileSync(
      path.join(adapter, 'adapter_config.json'),
      JSON.stringify({
        peft_type: 'LORA',
        base_model_name_or_path: 'test/fixtures/qwen/qwen2.5-vl/checkpoint',
      }),
    );
    expect(isModelFolder(adapter)).toBe(true);
    expect(modelKindOf(adapter)).toBe('qwen2.5-vl');
    writeFileSync(
      path.join(adapter, 'adapter_config.json'),
      JSON.stringify({ peft_type: 'LORA', base_model_name_or_path: 'Qwen/Qwen2.5-VL-3B-Instruct' }),
    );
    expect(() => modelKindOf(adapter)).toThrow(/"Qwen\/Qwen2.5-VL-3B-Instruct" is not a model folder here/);
  });
});
