import { describe, expect, it } from 'vitest';
import {
  checkRewardWeights,
  classificationReward,
  detectionReward,
  odLengthTaskReward,
  recReward,
  scoreCompletion,
  type Solution,
} from '../../src/main/rewards/registry';

const image = { width: 1000, height: 1000 }; // norm1000 coordinates are pixels here
const ctx = { image };
const wrap = (answer: string) => `<think>looking</think><answer>${answer}</answer>`;
const vrft = (...boxes: [number, number, number, number, number | string][]) =>
  `[${boxes.map(([a, b, c, d, conf]) => `{'Position': [${a}, ${b}, ${c}, ${d}], 'Confidence': ${conf}}`).join(', ')}]`;
const gt = (...boxes: [number, number, number, number][]): Solution => ({
  boxes: boxes.map(([x1, y1, x2, y2]) => ({ x1, y1, x2, y2 })),
});

describe('detection reward (Visual-RFT): IoU + confidence + format', () => {
  it('a perfect, fully confident box scores 3', () => {
    const r = detectionReward(wrap(vrft([100, 100, 200, 200, 1])), gt([100, 100, 200, 200]), ctx);
    expect(r.components).toEqual({ iou: 1, confidence: 1, format: 1 });
    expect(r.total).toBe(3);
  });

  it('a match needs IoU strictly above 0.5', () => {
    // [100,100,200,200] vs [100,100,200,300]: IoU exactly 0.5 → no match.
    const r = detectionReward(wrap(vrft([100, 100, 200, 200, 0.8])), gt([100, 100, 200, 300]), ctx);
    expect(r.components.iou).toBe(0);
    expect(r.components.confidence).toBeCloseTo(0.2, 12);
    const above = detectionReward(wrap(vrft([100, 100, 200, 201, 0.8])), gt([100, 100, 200, 300]), ctx);
    expect(above.components.iou).toBeGreaterThan(0.5);
  });

  it('IoU reward = Σ matched IoU / max(N_gt, N_pred); confidence = mean(conf if matched else 1 − conf)', () => {
    const r = detectionReward(
      wrap(vrft([0, 0, 100, 100, 0.9], [500, 500, 600, 600, 0.3], [0, 0, 100, 90, 0.6])),
      gt([0, 0, 100, 100], [300, 300, 400, 400]),
      ctx,
    );
    // 0.9 matches GT 1 (IoU 1); 0.6 finds GT 1 taken, GT 2 at IoU 0 → unmatched; 0.3 unmatched.
    expect(r.components.iou).toBeCloseTo(1 / 3, 12);
    expect(r.components.confidence).toBeCloseTo((0.9 + 0.4 + 0.7) / 3, 12);
  });

  it('predictions claim GT in confidence order, not answer order', () => {
    const answer = wrap(vrft([0, 0, 100, 100, 0.2], [0, 0, 100, 80, 0.9]));
    const r = detectionReward(answer, gt([0, 0, 100, 100]), ctx);
    // The 0.9 box (IoU 0.8) takes the GT first; the perfect 0.2 box is left unmatched.
    expect(r.components.iou).toBeCloseTo(0.8 / 2, 12);
    expect(r.components.confidence).toBeCloseTo((0.9 + 0.8) / 2, 12);
  });

  it('a negative image answered "No Objects" earns IoU 1 and confidence 1 (the published code gives 0)', () => {
    const r = detectionReward(wrap('No Objects'), { boxes: [] }, ctx);
    expect(r.components).toEqual({ iou: 1, confidence: 1, format: 1 });
  });

  it('a negative image answered with boxes: IoU 0, confidence from 1 − conf', () => {
    const r = detectionReward(wrap(vrft([0, 0, 10, 10, 0.25])), { boxes: [] }, ctx);
    expect(r.components.iou).toBe(0);
    expect(r.components.confidence).toBe(0.75);
  });

  it('an empty prediction on a non-empty image scores 0 and 0', () => {
    for (const answer of ['No Objects', '[]']) {
      const r = detectionReward(wrap(answer), gt([0, 0, 10, 10]), ctx);
      expect(r.components).toMatchObject({ iou: 0, confidence: 0 });
    }
  });

  it('an answer with no readable boxes is not "No Objects": 0 on a negative image', () => {
    for (const answer of ['', 'I am not sure', "[{'Position': [1, 2"]) {
      expect(detectionReward(wrap(answer), { boxes: [] }, ctx).components).toMatchObject({
        iou: 0,
        confidence: 0,
      });
    }
  });

  it('a NaN confidence gives a finite reward', () => {
    const r = detectionReward(wrap(vrft([0, 0, 100, 100, 'NaN'])), gt([0, 0, 100, 100]), ctx);
    expect(Number.isFinite(r.total)).toBe(true);
    expect(r.components).toEqual({ iou: 1, confidence: 0, format: 1 });
  });

  it('a truncated list inside a closed answer keeps its complete items', () => {
    const completion =
      "<think>two</think><answer>[{'Position': [0, 0, 100, 100], 'Confidence': 1}, {'Position': [300, 3</answer>";
    const r = detectionReward(completion, gt([0, 0, 100, 100]), ctx);
    expect(r.components).toEqual({ iou: 1, confidence: 1, format: 1 });
  });

  it('a cut-off answer (no </answer>) scores 0, as upstream, and still shows what it read', () => {
    const completion =
      "<think>two</think><answer>[{'Position': [0, 0, 100, 100], 'Confidence': 1}, {'Position': [300, 3";
    const r = detectionReward(completion, gt([0, 0, 100, 100]), ctx);
    expect(r.components).toEqual({ iou: 0, confidence: 0, format: 0 });
    expect(r.parsed.answerTag).toBe('truncated');
    expect(r.parsed.detection?.boxes).toHaveLength(1);
  });

  it('converts norm1000 to pixels before matching', () => {
    const r = detectionReward(wrap(vrft([500, 500, 1000, 1000, 1])), gt([320, 240, 640, 480]), {
      image: { width: 640, height: 480 },
    });
    expect(r.components.iou).toBe(1);
  });

  it('reports what the parser saw and dropped', () => {
    const r = detectionReward(
      wrap(vrft([0, 0, 100, 100, 1], [0, 0, 100, 100, 1], [5, 5, 5, 9, 1])),
      gt([0, 0, 100, 100]),
      ctx,
    );
    expect(r.parsed.detection?.dialect).toBe('visual-rft');
    expect(r.parsed.detection?.dropped.map((d) => d.reason)).toEqual([
      'exact duplicate',
      expect.stringMatching(/empty box/),
    ]);
  });
});

describe('classification reward: exact normalised match + format', () => {
  const solution = { label: 'Hexagon', synonyms: ['six-sided polygon'] };
  it.each([
    ['hexagon', 1],
    [' HEXAGON. ', 1],
    ['six-sided   polygon', 1],
    ['six_sided polygon', 0],
    ['pentagon', 0],
    ['hexagon or pentagon or heptagon', 0],
    ['A hexagon', 0],
    ['', 0],
    ['   ', 0],
  ])('%j → accuracy %s', (answer, accuracy) => {
    expect(classificationReward(wrap(answer), solution, ctx).components.accuracy).toBe(accuracy);
  });

  it('collapses underscores and whitespace to one space on both sides', () => {
    expect(
      classificationReward(wrap('striped  circle'), { label: 'striped_circle' }, ctx).components.accuracy,
    ).toBe(1);
  });

  it('a completion without an <answer> tag scores 0 (ALGORITHMS.md: the answer is read from <answer> only)', () => {
    const r = classificationReward('hexagon', solution, ctx);
    expect(r.components).toEqual({ accuracy: 0, format: 0 });
    expect(r.total).toBe(0);
  });
});

describe('referring expression reward (VLM-R1): IoU of the first box + format', () => {
  const truth = gt([100, 100, 300, 300]);
  it('is the continuous IoU of the first box, no threshold', () => {
    const r = recReward(wrap('{"bbox_2d": [100, 100, 300, 200]}'), truth, { image, frame: 'pixels' });
    expect(r.components.rec_iou).toBeCloseTo(0.5, 12);
    const second = recReward(wrap('[200, 200, 300, 300], [100, 100, 300, 300]'), truth, {
      image,
      frame: 'pixels',
    });
    expect(second.components.rec_iou).toBeCloseTo(0.25, 12);
  });

  it('no box → 0', () => {
    expect(recReward(wrap('the cat'), truth, ctx).components.rec_iou).toBe(0);
  });

  it('GIoU maps [−1, 1] to [0, 1]', () => {
    const far = scoreCompletion(
      wrap('[900, 900, 1000, 1000]'),
      gt([0, 0, 100, 100]),
      { image, frame: 'pixels' },
      { rec_giou: 1 },
    );
    expect(far.components.rec_giou).toBeGreaterThan(0);
    expect(far.components.rec_giou).toBeLessThan(0.05);
    const same = scoreCompletion(
      wrap('[0, 0, 100, 100]'),
      gt([0, 0, 100, 100]),
      { image, frame: 'pixels' },
      { rec_giou: 1 },
    );
    expect(same.components.rec_giou).toBe(1);
  });
});

describe('open-vocabulary detection reward (odLength): mAP × s + format', () => {
  const truth: Solution = {
    boxes: [
      { x1: 0, y1: 0, x2: 100, y2: 100, label: 'cat' },
      { x1: 200, y1: 200, x2: 300, y2: 300, label: 'dog' },
    ],
  };
  const asked = { image, frame: 'pixels' as const, categories: ['cat', 'dog', 'bird'] };
  const json = (...items: [string, number[]][]) =>
    wrap('```json\n' + JSON.stringify(items.map(([label, bbox_2d]) => ({ bbox_2d, label }))) + '\n```');

  it('perfect labelled boxes → 1', () => {
    const r = odLengthTaskReward(
      json(['cat', [0, 0, 100, 100]], ['dog', [200, 200, 300, 300]]),
      truth,
      asked,
    );
    // pycocotools' precision is tp / (tp + fp + eps): a perfect AP is 1 − 1e-16.
    expect(r.components.od_length).toBeCloseTo(1, 12);
  });

  it('more boxes than objects cost N_gt / N_pred', () => {
    const r = odLengthTaskReward(
      json(
        ['cat', [0, 0, 100, 100]],
        ['dog', [200, 200, 300, 300]],
        ['bird', [500, 500, 600, 600]],
        ['dog', [0, 500, 50, 550]],
      ),
      truth,
      asked,
    );
    // The dog false positive (score 1, after the true dog) leaves dog AP at 1; s = 2 / 4.
    expect(r.components.od_length).toBeCloseTo(0.5, 12);
  });

  it('labels that were not asked take no part in the AP but count in N_pred', () => {
    const r = odLengthTaskReward(
      json(['cat', [0, 0, 100, 100]], ['dog', [200, 200, 300, 300]], ['zebra', [1, 1, 9, 9]]),
      truth,
      asked,
    );
    expect(r.components.od_length).toBeCloseTo(2 / 3, 12);
  });

  it('both empty → 1; exactly one empty → 0', () => {
    expect(odLengthTaskReward(wrap('[]'), { boxes: [] }, asked).components.od_length).toBe(1);
    expect(odLengthTaskReward(wrap('[]'), truth, asked).components.od_length).toBe(0);
    expect(
      odLengthTaskReward(json(['cat', [0, 0, 100, 100]]), { boxes: [] }, asked).components.od_length,
    ).toBe(0);
  });
});

describe('reward registry', () => {
  it('sums the named rewards with their weights; components stay unweighted', () => {
    const r = scoreCompletion(wrap(vrft([0, 0, 100, 100, 0.5])), gt([0, 0, 100, 100]), ctx, {
      iou: 2,
      confidence: 0.5,
      format: 1,
    });
    expect(r.components).toEqual({ iou: 1, confidence: 0.5, format: 1 });
    expect(r.total).toBe(2 + 0.25 + 1);
  });

  it('refuses an unknown reward and names the nearest valid one', () => {
    expect(() => checkRewardWeights({ iuo: 1 })).toThrow(/Unknown reward "iuo" \(did you mean "iou"\?\)/);
    expect(() => checkRewardWeights({ format: Number.NaN })).toThrow(/must be a number/);
  });

  it('says what a reward needs when the ground truth lacks it', () => {
    expect(() => detectionReward(wrap('[]'), { label: 'x' }, ctx)).toThrow(/needs ground-truth boxes/);
    expect(() => classificationReward(wrap('x'), { boxes: [] }, ctx)).toThrow(/needs a label/);
  });
});
