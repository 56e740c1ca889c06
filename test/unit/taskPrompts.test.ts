import { describe, expect, it } from 'vitest';
import {
  readRecAnswer,
  readVisualRftLabel,
  recAnswer,
  recExpression,
  recPrompt,
} from '../../src/main/data/formats/prompts';

describe('REC questions and answers (VLM-R1)', () => {
  it('reads the expression after "describes:" up to the last full stop, else the whole question', () => {
    expect(
      recExpression(
        '<image>Please provide the bounding box coordinate of the region this sentence describes: the man in red.',
      ),
    ).toBe('the man in red');
    expect(recExpression('describes: mr. smith, on the left. Output the final answer in JSON.')).toBe(
      'mr. smith, on the left. Output the final answer in JSON',
    );
    expect(recExpression('describes: no full stop')).toBe('no full stop');
    expect(recExpression('<image>What could keep food cold?')).toBe('What could keep food cold?');
    expect(recExpression(recPrompt('the red cup'))).toBe('the red cup');
  });

  it('reads one box from a list or from text, with or without <answer> tags', () => {
    const box = { x1: 6, y1: 187, x2: 150, y2: 337 };
    expect(readRecAnswer([6, 187, 150, 337])).toEqual(box);
    expect(readRecAnswer('[6, 187, 150, 337]')).toEqual(box);
    expect(readRecAnswer('<answer> [6, 187, 150, 337] </answer>')).toEqual(box);
    expect(readRecAnswer(recAnswer(box))).toEqual(box);
    expect(readRecAnswer('[6, 187, 150]')).toBeUndefined();
    expect(readRecAnswer('[{"bbox_2d": [1, 2, 3, 4], "label": "a"}]')).toBeUndefined();
    expect(readRecAnswer('None')).toBeUndefined();
    expect(readRecAnswer(['6', 187, 150, 337])).toBeUndefined();
  });
});

describe('Visual-RFT classification solutions', () => {
  it('name the category, and are told apart from detection solutions', () => {
    expect(readVisualRftLabel('<answer>pink primrose</answer>')).toBe('pink primrose');
    expect(readVisualRftLabel('<answer> globe\n thistle </answer>')).toBe('globe thistle');
    expect(readVisualRftLabel('<answer>No Objects</answer>')).toBeUndefined();
    expect(
      readVisualRftLabel("<answer>[{'Position': [1, 2, 3, 4], 'Confidence': 1}]</answer>"),
    ).toBeUndefined();
    expect(readVisualRftLabel('pink primrose')).toBeUndefined();
  });
});
