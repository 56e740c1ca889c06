import { describe, expect, it } from 'vitest';
import { ConfigError, grpoConfigSchema, parseConfig, sftConfigSchema } from '../../src/main/train/config';

describe('run config files', () => {
  it('reads LoRA with PEFT’s names and defaults, and earlier configs’ rank/alpha', () => {
    const peft = parseConfig(sftConfigSchema, { dataset: 'd', steps: 1, lora: { r: 16 } }, 'c');
    expect(peft.lora).toEqual({ rank: 16, alpha: 8, dropout: 0 });
    const full = parseConfig(
      grpoConfigSchema,
      {
        dataset: 'd',
        steps: 1,
        lora: { r: 4, lora_alpha: 32, lora_dropout: 0.05, target_modules: ['q_proj', 'v_proj'] },
      },
      'c',
    );
    expect(full.lora).toEqual({ rank: 4, alpha: 32, dropout: 0.05, targetModules: ['q_proj', 'v_proj'] });
    expect(full).toMatchObject({ freezeVisionTower: true, gradientCheckpointing: false });
    const old = parseConfig(sftConfigSchema, { dataset: 'd', steps: 1, lora: { rank: 4, alpha: 8 } }, 'c');
    expect(old.lora).toEqual({ rank: 4, alpha: 8, dropout: 0 });
  });

  it('fills defaults', () => {
    const c = parseConfig(sftConfigSchema, { dataset: 'shapes', steps: 10 }, 'c.json');
    expect(c).toMatchObject({ dataset: 'shapes', steps: 10, batchSize: 4, schedule: 'linear', lora: null });
  });

  it.each([
    [
      { dataset: 'd', steps: 1, learningrate: 1e-3 },
      /unknown key "learningrate" \(did you mean "learningRate"\?\)/,
    ],
    [{ dataset: 'd', steps: 1, stpes: 5 }, /unknown key "stpes" \(did you mean "steps"\?\)/],
    [{ dataset: 'd', steps: 1, zzzzzz: 5 }, /unknown key "zzzzzz"$/],
    [{ dataset: 'd', steps: -1 }, /"steps": /],
    [{ dataset: 'd', steps: 1, schedule: 'exp' }, /"schedule": /],
    [{ steps: 1 }, /"dataset": /],
    [
      { dataset: 'd', steps: 1, lora: { r: 4, lora_alpa: 8 } },
      /"lora\.lora_alpa" \(did you mean "lora\.lora_alpha"\?\)/,
    ],
  ])('refuses %j, naming the key', (data, message) => {
    let error: unknown;
    try {
      parseConfig(sftConfigSchema, data, 'c.json');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/^c\.json: /);
    expect((error as Error).message).toMatch(message);
  });
});
