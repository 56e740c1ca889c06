/**
 * The reward defects of issue 25, each with the case that exposed it (upstream's value in the
 * test name; docs/rewards-vs-upstream.md lists what still differs and why).
 */
import { describe, expect, it } from 'vitest';
import { smartResize } from '../../src/main/models/qwen2-vl/processor';
import { formatOk, recFormatOk } from '../../src/main/rewards/completion';
import {
  checkRewardWeights,
  detectionReward,
  odLengthTaskReward,
  recReward,
  scoreCompletion,
  type Solution,
} from '../../src/main/rewards/registry';

const image = { width: 1000, height: 1000 };
const wrap = (answer: string) => `<think>looking</think><answer>${answer}</answer>`;
const json = (...items: [string | undefined, number[]][]) =>
  wrap('```json\n' + JSON.stringify(items.map(([label, bbox_2d]) => ({ bbox_2d, label }))) + '\n```');

describe('odLength cannot be gamed', () => {
  const dog: Solution = { boxes: [{ x1: 0, y1: 0, x2: 100, y2: 100, label: 'dog' }] };
  const ctx = { image, frame: 'pixels' as const, categories: ['dog'] };

  it('a perfect answer plus an unasked box counts it in N_pred (upstream 0.5 here)', () => {
    const r = odLengthTaskReward(json(['dog', [0, 0, 100, 100]], ['bird', [500, 500, 600, 600]]), dog, ctx);
    expect(r.components.od_length).toBeCloseTo(0.5, 12);
  });

  it('a box without a label counts in N_pred too', () => {
    const r = odLengthTaskReward(
      json(['dog', [0, 0, 100, 100]], [undefined, [500, 500, 600, 600]]),
      dog,
      ctx,
    );
    expect(r.components.od_length).toBeCloseTo(0.5, 12);
  });

  it('an exact duplicate counts in N_pred (upstream keeps it)', () => {
    const r = odLengthTaskReward(json(['dog', [0, 0, 100, 100]], ['dog', [0, 0, 100, 100]]), dog, ctx);
    expect(r.components.od_length).toBeCloseTo(0.5, 12);
  });

  it('any box on a negative image scores 0 (asked dog, answered cat; upstream 0)', () => {
    const r = odLengthTaskReward(json(['cat', [0, 0, 100, 100]]), { boxes: [] }, ctx);
    expect(r.components.od_length).toBe(0);
    expect(odLengthTaskReward(wrap('```json\n[]\n```'), { boxes: [] }, ctx).components.od_length).toBe(1);
  });
});

describe('no <answer> tag, no score (upstream 0)', () => {
  const truth: Solution = { boxes: [{ x1: 100, y1: 100, x2: 200, y2: 200, label: 'dog' }] };
  const ctx = { image, categories: ['dog'] };
  const box = "[{'Position': [100, 100, 200, 200], 'Confidence': 0.9}]";

  it('iou / confidence', () => {
    expect(detectionReward(`<think>x</think>${box}`, truth, ctx).components).toEqual({
      iou: 0,
      confidence: 0,
      format: 0,
    });
    expect(detectionReward(wrap(box), truth, ctx).components).toEqual({ iou: 1, confidence: 0.9, format: 1 });
  });

  it('rec_iou / rec_giou / od_length', () => {
    const weights = { rec_iou: 1, rec_giou: 1, od_length: 1 };
    const pixels = { ...ctx, frame: 'pixels' as const };
    const bare = scoreCompletion(
      '<think>x</think>{"bbox_2d": [100, 100, 200, 200], "label": "dog"}',
      truth,
      pixels,
      weights,
    );
    expect(bare.components).toEqual({ rec_iou: 0, rec_giou: 0, od_length: 0 });
    const cut = scoreCompletion(
      '<think>x</think><answer>[{"bbox_2d": [100, 100, 200, 200], "label": "dog"}]',
      truth,
      pixels,
      weights,
    );
    expect(cut.parsed.answerTag).toBe('truncated');
    expect(cut.components).toEqual({ rec_iou: 0, rec_giou: 0, od_length: 0 });
  });
});

describe("REC reads the box as VLM-R1's regex does: the first [d, d, d, d] in the answer", () => {
  const truth: Solution = { boxes: [{ x1: 100, y1: 80, x2: 300, y2: 260 }] };
  const ctx = { image, frame: 'pixels' as const };
  it.each([
    ['{"bbox": [100, 80, 300, 260]}', 1],
    ['The car is at [100, 80, 300, 260].', 1],
    ['```json\n[{"bbox_2d": [100, 80, 300, 260], "label": "car"}]\n```', 1],
    ['[100,80,300,260] then [0, 0, 10, 10]', 1],
    // Whole numbers only: a float box or a space before a comma is not read (upstream the same).
    ['[100.0, 80, 300, 260]', 0],
    ['[100 , 80, 300, 260]', 0],
  ])('%j → rec_iou %d', (answer, expected) => {
    expect(recReward(wrap(answer), truth, ctx).components.rec_iou).toBeCloseTo(expected, 12);
  });
});

describe('format rules', () => {
  it('the format rule is re.fullmatch: no trailing newline', () => {
    expect(formatOk('<think>a</think><answer>b</answer>')).toBe(true);
    expect(formatOk('<think>a</think><answer>b</answer>\n')).toBe(false);
  });

  it("rec_format is VLM-R1's REC rule (re.search, {…[d, d, d, d]…} in the answer), a named reward", () => {
    expect(recFormatOk('<think>a</think><answer>{"bbox_2d": [1, 2, 3, 4]}</answer>')).toBe(true);
    expect(recFormatOk('pre <think>a</think>\n<answer>x {"b": [1,2,3,4]} y</answer>\ntrailing')).toBe(true);
    expect(recFormatOk('<think>a</think><answer>[1, 2, 3, 4]</answer>')).toBe(false);
    expect(recFormatOk('<think>a</think><answer>{"bbox_2d": [1.5, 2, 3, 4]}</answer>')).toBe(false);
    expect(() => checkRewardWeights({ rec_iou: 1, rec_format: 1 })).not.toThrow();
    const r = scoreCompletion(
      wrap('{"bbox_2d": [100, 80, 300, 260]}'),
      { boxes: [{ x1: 100, y1: 80, x2: 300, y2: 260 }] },
      { image, frame: 'pixels' },
      { rec_iou: 1, rec_format: 1 },
    );
    expect(r.components).toEqual({ rec_iou: 1, rec_format: 1 });
  });
});

describe("smart_resize equals transformers 5.18's on extreme aspect ratios", () => {
  // (height, width) → (h, w) from transformers' smart_resize (qwen2_vl image_processing_qwen2_vl.py
  // and image_processing_pil_qwen2_vl.py give the same), max_pixels 1003520 and 12845056.
  it.each([
    [1000, 13, 504, 28],
    [13, 1000, 28, 504],
    [1000, 5, 812, 28],
    [14, 2800, 28, 812],
    [200, 1, 812, 28],
  ])('%d×%d (h×w) → %d×%d', (h, w, eh, ew) => {
    for (const maxPixels of [1003520, 12845056])
      expect(smartResize(h, w, 28, 3136, maxPixels)).toEqual({ height: eh, width: ew });
  });

  it('refuses an aspect ratio over 200, as transformers raises', () => {
    expect(() => smartResize(1, 201)).toThrow(/over 200/);
  });
});
