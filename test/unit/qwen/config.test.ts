import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseQwenConfig, qwenFamilyOf } from '../../../src/main/models/qwen2-vl/config';

const fixture = (dir: string) =>
  JSON.parse(
    readFileSync(path.join(__dirname, '../../fixtures/qwen', dir, 'config.json'), 'utf8'),
  ) as unknown;

describe('Qwen config.json', () => {
  it('reads the flat hub form (Qwen2-VL: embed_dim is the ViT width, hidden_size the LLM width)', () => {
    const c = parseQwenConfig(fixture('qwen2-vl/checkpoint'));
    expect(c.family).toBe('qwen2-vl');
    expect(c.text).toMatchObject({ hiddenSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16 });
    expect(c.text.mropeSection).toEqual([2, 3, 3]);
    expect(c.text.tieWordEmbeddings).toBe(true);
    expect(c.vision).toMatchObject({
      hiddenSize: 32,
      intermediateSize: 128,
      outHiddenSize: 64,
      inChannels: 3,
    });
  });

  it('reads the nested transformers 5 form (Qwen2.5-VL: window attention, untied head)', () => {
    const c = parseQwenConfig(fixture('qwen2.5-vl/checkpoint'));
    expect(c.family).toBe('qwen2.5-vl');
    expect(c.text.ropeTheta).toBe(1e6);
    expect(c.text.tieWordEmbeddings).toBe(false);
    expect(c.vision).toMatchObject({ depth: 4, hiddenSize: 32, intermediateSize: 48, windowSize: 112 });
    expect(c.vision.fullAttBlockIndexes).toEqual([1, 3]);
  });

  it('names the supported model types when given another', () => {
    expect(() => qwenFamilyOf({ model_type: 'llava' })).toThrow(/"llava".*qwen2_vl, qwen2_5_vl/);
  });
});
