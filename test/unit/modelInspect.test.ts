/**
 * What a model folder is without loading it (models/inspect.ts), and the Train form's Qwen settings
 * as run-config keys (renderer lib/qwenSettings.ts) that the run config accepts.
 */
import {
  cpSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeSync,
  closeSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inspectModelFolder, weightsFingerprint } from '../../src/main/models/inspect';
import { grpoConfigSchema, parseConfig } from '../../src/main/train/config';
import { defaultQwenSettings, qwenConfig, targetModulesOf } from '../../src/renderer/src/lib/qwenSettings';

const fixtures = path.resolve('test/fixtures/qwen');
const qwen = path.join(fixtures, 'qwen2-vl/checkpoint');
const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-inspect-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('inspectModelFolder', () => {
  it('says what each kind of folder holds from its config.json', () => {
    expect(inspectModelFolder(qwen)).toMatchObject({
      dir: qwen,
      kind: 'qwen2-vl',
      description: 'Qwen2-VL · 2 layers · hidden 64',
      config: expect.objectContaining({ model_type: 'qwen2_vl' }),
    });
    expect(inspectModelFolder(path.join(fixtures, 'qwen2.5-vl/checkpoint'))).toMatchObject({
      kind: 'qwen2.5-vl',
      description: expect.stringMatching(/^Qwen2\.5-VL · \d+ layers? · hidden \d+$/),
    });
    // Sharded bf16: the index and its shards count as weights.
    expect(inspectModelFolder(path.join(fixtures, 'qwen2-vl/checkpoint-bf16')).kind).toBe('qwen2-vl');
    expect(inspectModelFolder('resources/models/tiny-vlm-base')).toMatchObject({
      kind: 'tiny-vlm',
      description: 'tiny-vlm · 3 layers · width 128 · 64 px input',
    });
  });

  it('reads an unchanged tokenizer once, and a tokenizer damaged since it was read is still refused', () => {
    const copy = path.join(dir, 'tokenizer-changes');
    cpSync(qwen, copy, { recursive: true });
    expect(inspectModelFolder(copy).kind).toBe('qwen2-vl');
    expect(inspectModelFolder(copy).kind).toBe('qwen2-vl');
    writeFileSync(path.join(copy, 'tokenizer.json'), '{"model": ');
    expect(() => inspectModelFolder(copy)).toThrow(/tokenizer\.json: not valid JSON/);
  });

  it("describes a PEFT adapter folder by its base's config and its rank", () => {
    // The fixture names its base relative to the repository root, as PEFT reads it.
    expect(inspectModelFolder(path.join(fixtures, 'qwen2-vl/lora'))).toMatchObject({
      kind: 'qwen2-vl',
      description: 'Qwen2-VL · 2 layers · hidden 64 · LoRA r 4',
    });
  });

  it('refuses a folder vrft cannot load, saying why', () => {
    expect(() => inspectModelFolder(path.join(dir, 'nowhere'))).toThrow(/does not exist/);
    expect(() => inspectModelFolder(path.join(qwen, 'config.json'))).toThrow(/is a file/);
    expect(() => inspectModelFolder(fixtures)).toThrow(/has no config.json/);
    const noWeights = path.join(dir, 'no-weights');
    cpSync(path.join(qwen, 'config.json'), path.join(noWeights, 'config.json'));
    expect(() => inspectModelFolder(noWeights)).toThrow(`${noWeights} has no weights`);
  });
});

describe('weightsFingerprint', () => {
  it('is stable, differs between checkpoints, and changes when a weights file does', () => {
    const copy = path.join(dir, 'copy');
    cpSync(qwen, copy, { recursive: true });
    const sha = weightsFingerprint(qwen);
    expect(sha).toMatch(/^[0-9a-f]{64}$/);
    expect(weightsFingerprint(copy)).toBe(sha);
    expect(weightsFingerprint(path.join(fixtures, 'qwen2-vl/checkpoint-bf16'))).not.toBe(sha);
    // A truncated download: same header, other size.
    const file = path.join(copy, 'model.safetensors');
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(4), 0, 4, statSync(file).size);
    closeSync(fd);
    expect(weightsFingerprint(copy)).not.toBe(sha);
    expect(weightsFingerprint(fixtures)).toBeNull();
  });
});

describe("the Train form's Qwen settings", () => {
  it('reads target_modules as PEFT does: names, all-linear, or a regular expression', () => {
    expect(targetModulesOf('')).toBeUndefined();
    expect(targetModulesOf(' q_proj, v_proj ')).toEqual(['q_proj', 'v_proj']);
    expect(targetModulesOf('q_proj v_proj')).toEqual(['q_proj', 'v_proj']);
    expect(targetModulesOf('all-linear')).toBe('all-linear');
    expect(targetModulesOf('.*\\.(q_proj|v_proj)$')).toBe('.*\\.(q_proj|v_proj)$');
  });

  it('become config keys the run config accepts, empty fields keeping the defaults', () => {
    const parse = (extra: object) =>
      parseConfig(grpoConfigSchema, { dataset: 'd', model: qwen, steps: 1, ...extra }, 'form');
    expect(parse(qwenConfig(defaultQwenSettings()))).toMatchObject({
      lora: { rank: 8, alpha: 8, dropout: 0 },
      freezeVisionTower: true,
      gradientCheckpointing: false,
    });
    const typed = {
      ...defaultQwenSettings(),
      r: 4,
      lora_alpha: 16,
      lora_dropout: 0.05,
      target_modules: 'q_proj, v_proj',
      freezeVisionTower: false,
      gradientCheckpointing: true,
    };
    expect(parse(qwenConfig(typed))).toMatchObject({
      lora: { rank: 4, alpha: 16, dropout: 0.05, targetModules: ['q_proj', 'v_proj'] },
      freezeVisionTower: false,
      gradientCheckpointing: true,
    });
    expect(parse(qwenConfig({ ...typed, lora: false })).lora).toBeNull();
  });
});
