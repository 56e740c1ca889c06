import { describe, expect, it } from 'vitest';
import { buildWordTokenizerJson, TextTokenizer } from '../../src/main/models/tokenizer';

const tokenizer = new TextTokenizer(
  buildWordTokenizerJson(['red', 'circle', 'Find', 'every', 'There', 'are', 'shapes']) as never,
);

describe('tiny-vlm tokenizer (tokenizer.json read by @huggingface/tokenizers)', () => {
  it('round-trips a completion exactly', () => {
    const text =
      "<think>There are 2 shapes. A red circle.</think>\n<answer>[{'Position': [100, 200, 1200, 400], 'Confidence': 0.87}, {'Position': [0, 0, 5, 5], 'Confidence': 1}]</answer><|endoftext|>";
    expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
  });

  it('makes each integer 0–1000 one token, with its value', () => {
    for (const n of [0, 7, 87, 999, 1000]) {
      const ids = tokenizer.encode(String(n));
      expect(ids).toHaveLength(1);
      expect(tokenizer.numberValue(ids[0]!)).toBe(n);
    }
    expect(tokenizer.encode('1200').length).toBeGreaterThan(1);
  });

  it('keeps tags, answer-format runs and known words as single tokens', () => {
    expect(tokenizer.encode('<think>')).toHaveLength(1);
    expect(tokenizer.encode("{'Position': [")).toHaveLength(1);
    expect(tokenizer.encode(' red circle')).toEqual([tokenizer.id(' red'), tokenizer.id(' circle')]);
    expect(tokenizer.encode('No Objects')).toHaveLength(1);
  });

  it('spells unknown words with characters, never losing text', () => {
    expect(tokenizer.decode(tokenizer.encode(' zebra'))).toBe(' zebra');
  });
});
