import { describe, expect, it } from 'vitest';
import { formatOk, splitCompletion } from '../../src/main/rewards/completion';
import { parseBoxes } from '../../src/main/rewards/parse';
import {
  boxToCoco,
  boxToYolo,
  cocoToBox,
  fromPixels,
  qwenResizedSize,
  toPixels,
  yoloToBox,
} from '../../src/main/rewards/frames';

const image = { width: 500, height: 400 };
const at = (
  answer: string,
  frame?: 'norm1000' | 'resized' | 'pixels',
  resized?: { width: number; height: number },
) => parseBoxes(answer, { image, frame, resized });

describe('format and answer extraction', () => {
  it.each([
    ['<think>a</think><answer>b</answer>', true],
    ['<think>line 1\nline 2</think>\n\n<answer>\n[1]\n</answer>', true],
    ['<think></think><answer></answer>', true],
    ['<answer>b</answer>', false],
    ['<think>a</think>', false],
    ['x<think>a</think><answer>b</answer>', false],
    ['<think>a</think><answer>b</answer> trailing', false],
    // re.fullmatch, as published: not even a final newline.
    ['<think>a</think><answer>b</answer>\n', false],
    ['<think>a</think><answer>b</answer>\n\n', false],
    ['<think>a</think><answer>b</answer> ', false],
    ['<think>a</think> text <answer>b</answer>', false],
    ['<think>a</think><answer>b', false],
  ])('%j → format %s', (completion, ok) => {
    expect(formatOk(completion)).toBe(ok);
  });

  it('reads the first answer, and after a cut-off from <answer> to the end', () => {
    expect(splitCompletion('<think>t</think><answer>one</answer><answer>two</answer>')).toMatchObject({
      think: 't',
      answer: 'one',
      answerTag: 'closed',
    });
    expect(splitCompletion('<think>t</think><answer>[{"a": 1}, {"b"')).toMatchObject({
      answer: '[{"a": 1}, {"b"',
      answerTag: 'truncated',
      formatOk: false,
    });
    expect(splitCompletion('<think>cut off mid-thought')).toMatchObject({
      think: 'cut off mid-thought',
      answer: '',
      answerTag: 'missing',
    });
  });
});

describe('Visual-RFT list dialect', () => {
  it.each([
    ["[{'Position': [100, 200, 300, 400], 'Confidence': 0.9}]", 'single quotes'],
    ['[{"Position": [100, 200, 300, 400], "Confidence": 0.9}]', 'double quotes'],
    ["[[{'Position': [100, 200, 300, 400], 'Confidence': 0.9}]]", 'doubled brackets'],
    ["[{'Position': [100, 200, 300, 400], 'Confidence': 0.9},]", 'a trailing comma'],
    ["[{'Position': [100, 200, 300, 400], 'Confidence': 0.9}, {'Position': [5, 6", 'a truncated list'],
  ])('%s (%s) → one box, converted from 0–1000 to pixels', (answer) => {
    const parsed = at(answer);
    expect(parsed.dialect).toBe('visual-rft');
    expect(parsed.frame).toBe('norm1000');
    expect(parsed.boxes).toEqual([{ x1: 50, y1: 80, x2: 150, y2: 160, confidence: 0.9 }]);
  });

  it('names what a truncated list lost', () => {
    const parsed = at("[{'Position': [100, 200, 300, 400], 'Confidence': 0.9}, {'Position': [5, 6");
    expect(parsed.dropped).toEqual([expect.objectContaining({ reason: expect.stringMatching(/cut off/) })]);
  });

  it.each(['No Objects', 'no objects', 'NO OBJECTS.', '[]', '[[]]', '```json\n[]\n```'])(
    '%j is an explicitly empty answer',
    (answer) => {
      const parsed = at(answer);
      expect(parsed.dialect).toBe('empty');
      expect(parsed.boxes).toEqual([]);
    },
  );

  it.each([
    ['NaN', 0],
    ['nan', 0],
    ['Infinity', 0],
    ['-Infinity', 0],
    ['inf', 0],
    ['None', 0],
    ["'0.9'", 0],
    ['1.7', 1],
    ['-0.2', 0],
    ['0.25', 0.25],
  ])('confidence %s → %s', (raw, expected) => {
    const parsed = at(`[{'Position': [100, 200, 300, 400], 'Confidence': ${raw}}]`);
    expect(parsed.boxes[0]?.confidence).toBe(expected);
  });

  it('a missing confidence is 0, and said so', () => {
    const parsed = at("[{'Position': [100, 200, 300, 400]}]");
    expect(parsed.boxes[0]?.confidence).toBe(0);
    expect(parsed.notes.join()).toMatch(/missing → 0/);
  });

  it('clamps coordinates to the frame, drops boxes empty after clamping, and exact duplicates', () => {
    const parsed = at(
      "[{'Position': [-10, 500, 1200, 1000], 'Confidence': 0.8}, {'Position': [1100, 0, 1200, 100], 'Confidence': 0.5}," +
        " {'Position': [300, 300, 200, 400], 'Confidence': 0.5}, {'Position': [10, 10, 10, 20], 'Confidence': 0.5}," +
        " {'Position': [-10, 500, 1200, 1000], 'Confidence': 0.8}, {'Position': [1, 2, 3], 'Confidence': 0.5}]",
    );
    expect(parsed.boxes).toEqual([{ x1: 0, y1: 200, x2: 500, y2: 400, confidence: 0.8 }]);
    expect(parsed.dropped.map((d) => d.reason)).toEqual([
      'Position needs four numbers',
      expect.stringMatching(/empty box/),
      expect.stringMatching(/empty box/),
      expect.stringMatching(/empty box/),
      'exact duplicate',
    ]);
  });
});

describe('Qwen2-VL box tokens and Qwen2.5-VL JSON', () => {
  it('reads labelled box tokens on 0–1000', () => {
    const parsed = at(
      '<|object_ref_start|>red circle<|object_ref_end|><|box_start|>(100,200),(300,400)<|box_end|> and ' +
        '<|box_start|>(0,0),(1000,1000)<|box_end|>',
    );
    expect(parsed.dialect).toBe('qwen2-vl');
    expect(parsed.boxes).toEqual([
      { x1: 50, y1: 80, x2: 150, y2: 160, confidence: 0, label: 'red circle' },
      { x1: 0, y1: 0, x2: 500, y2: 400, confidence: 0 },
    ]);
  });

  it('reads the last ```json block in resized-input pixels', () => {
    const answer =
      'first try ```json\n[{"bbox_2d": [0, 0, 10, 10], "label": "old"}]\n``` then\n' +
      '```json\n[{"bbox_2d": [100, 50, 200, 150], "label": "cat"}]\n```';
    const parsed = at(answer, undefined, { width: 1000, height: 800 });
    expect(parsed.dialect).toBe('qwen2.5-vl');
    expect(parsed.frame).toBe('resized');
    expect(parsed.boxes).toEqual([{ x1: 50, y1: 25, x2: 100, y2: 75, confidence: 0, label: 'cat' }]);
  });

  it('reads a bare JSON list, and the complete objects of a cut-off one', () => {
    const bare = at('[{"bbox_2d": [10, 20, 30, 40], "label": "dog"}]', 'pixels');
    expect(bare.boxes).toEqual([{ x1: 10, y1: 20, x2: 30, y2: 40, confidence: 0, label: 'dog' }]);
    const cut = at('```json\n[{"bbox_2d": [10, 20, 30, 40], "label": "dog"}, {"bbox_2d": [1, 2', 'pixels');
    expect(cut.boxes).toHaveLength(1);
    expect(cut.dropped[0]?.reason).toMatch(/cut off/);
  });

  it('an explicit frame overrides the dialect default', () => {
    const parsed = at("[{'Position': [10, 20, 30, 40], 'Confidence': 1}]", 'pixels');
    expect(parsed.boxes[0]).toMatchObject({ x1: 10, y1: 20, x2: 30, y2: 40 });
  });
});

describe('frames', () => {
  const sizes = { image: { width: 640, height: 480 }, resized: { width: 644, height: 476 } };
  const box = { x1: 64, y1: 48, x2: 320, y2: 240 };

  it.each(['norm1000', 'resized', 'pixels'] as const)('%s round-trips through pixels', (frame) => {
    const back = toPixels(fromPixels(box, frame, sizes), frame, sizes);
    for (const key of ['x1', 'y1', 'x2', 'y2'] as const) expect(back[key]).toBeCloseTo(box[key], 9);
  });

  it('norm1000 scales by W/1000 and H/1000', () => {
    const b = fromPixels(box, 'norm1000', sizes);
    expect([b.x1, b.y1, b.x2, b.y2].map((v) => Number(v.toFixed(9)))).toEqual([100, 100, 500, 500]);
  });

  it('COCO xywh and YOLO cxcywh round-trip', () => {
    expect(boxToCoco(box)).toEqual([64, 48, 256, 192]);
    expect(cocoToBox([64, 48, 256, 192])).toEqual(box);
    expect(boxToYolo(box, sizes.image)).toEqual([0.3, 0.3, 0.4, 0.4]);
    const back = yoloToBox([0.3, 0.3, 0.4, 0.4], sizes.image);
    for (const key of ['x1', 'y1', 'x2', 'y2'] as const) expect(back[key]).toBeCloseTo(box[key], 9);
  });

  it("Qwen's resize: multiples of 28, Python's half-to-even rounding, pixel limits", () => {
    expect(qwenResizedSize({ width: 640, height: 480 })).toEqual({ width: 644, height: 476 });
    expect(qwenResizedSize({ width: 1000, height: 70 })).toEqual({ width: 1008, height: 56 });
    expect(qwenResizedSize({ width: 10, height: 10 })).toEqual({ width: 56, height: 56 });
    const big = qwenResizedSize({ width: 8000, height: 6000 });
    expect(big.width * big.height).toBeLessThanOrEqual(12845056);
    expect(big.width % 28).toBe(0);
  });
});
