import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, sftConfigSchema } from '../../src/main/train/config';

describe('run config files', () => {
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
    [{ dataset: 'd', steps: 1, lora: { rank: 4 } }, /"lora\.alpha": /],
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
