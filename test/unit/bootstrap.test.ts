import { describe, expect, it } from 'vitest';
import {
  accuracyFigures,
  detectionFigures,
  pairedBootstrap,
  type DetectionOutcome,
  type Figures,
} from '../../src/main/eval/bootstrap';

const box = (x1: number, y1: number, x2: number, y2: number) => ({ x1, y1, x2, y2 });

describe('paired bootstrap of Δ', () => {
  it('takes numpy-linear percentiles of the redrawn differences', () => {
    // The second model's figure is 1, 2, 3, 4, 5 on the five draws: Δ quantiles .25/.75 are 2 and 4.
    let calls = 0;
    const zero = (): Figures => ({ mean: 0, categories: { a: 0 } });
    const counting = (): Figures => ({ mean: ++calls, categories: { a: 10 * calls } });
    const result = pairedBootstrap(3, zero, counting, { resamples: 5, level: 0.5 });
    expect(result.mean).toEqual({ low: 2, high: 4 });
    expect(result.categories.a).toEqual({ low: 20, high: 40 });
    expect([result.level, result.resamples, result.images]).toEqual([0.5, 5, 3]);
  });

  it('gives [0, 0] for one model against itself, and the same draws for the same seed', () => {
    const outcomes = Array.from({ length: 20 }, (_, i) => ({
      label: i % 2 ? 'cat' : 'dog',
      correct: i % 3 === 0,
    }));
    const figures = accuracyFigures(outcomes);
    const same = pairedBootstrap(outcomes.length, figures, figures, { resamples: 200 });
    expect(same.mean).toEqual({ low: 0, high: 0 });
    expect(same.categories).toEqual({ cat: { low: 0, high: 0 }, dog: { low: 0, high: 0 } });
    const better = accuracyFigures(outcomes.map((o, i) => ({ ...o, correct: o.correct || i < 10 })));
    const once = pairedBootstrap(outcomes.length, figures, better, { resamples: 300, seed: 4 });
    expect(pairedBootstrap(outcomes.length, figures, better, { resamples: 300, seed: 4 })).toEqual(once);
    // Right on 6 more of 20 images (+0.3): the interval holds it and, here, excludes 0.
    expect(once.mean.low).toBeGreaterThan(0);
    expect(once.mean.low).toBeLessThan(0.3);
    expect(once.mean.high).toBeGreaterThan(0.3);
  });

  it('skips draws where a category has no figure, and says NaN when no draw had one', () => {
    const first = (): Figures => ({ mean: -1, categories: { a: -1, b: 0.5 } });
    const second = (): Figures => ({ mean: 0.2, categories: { a: 0.1, b: 0.75 } });
    const result = pairedBootstrap(4, first, second, { resamples: 10 });
    expect(Number.isNaN(result.mean.low)).toBe(true);
    expect(result.categories).toEqual({ b: { low: 0.25, high: 0.25 } });
  });

  it('refuses an empty evaluation and a non-positive number of draws', () => {
    const f = (): Figures => ({ mean: 0, categories: {} });
    expect(() => pairedBootstrap(0, f, f)).toThrow(/at least one image/);
    expect(() => pairedBootstrap(3, f, f, { resamples: 0 })).toThrow(/resamples/);
  });
});

describe('figures of a draw', () => {
  // Image 0: its circle found (score 0.5). Image 1: a circle missed, a wrong box at 0.9.
  const outcomes: DetectionOutcome[] = [
    {
      truth: [{ category: 'circle', box: box(10, 10, 30, 30) }],
      detections: [{ category: 'circle', box: box(11, 10, 30, 31), score: 0.5 }],
    },
    {
      truth: [
        { category: 'circle', box: box(40, 40, 60, 60) },
        { category: 'star', box: box(0, 0, 5, 5) },
      ],
      detections: [{ category: 'circle', box: box(0, 40, 15, 60), score: 0.9 }],
    },
  ];
  const figures = detectionFigures(outcomes, ['circle', 'square']);

  it('computes COCO AP50 with a drawn-twice image counted twice', () => {
    expect(figures([0, 0])).toEqual({ mean: 1, categories: { circle: 1, square: -1 } });
    expect(figures([1, 1]).mean).toBe(0);
    // The false positive ranks first: precision 0.5 up to recall 0.5, so 51 of 101 points at 0.5.
    expect(figures([0, 1]).mean).toBeCloseTo((51 * 0.5) / 101, 12);
    // Image 0 twice: recall 2/3 at precision 2/3, 67 of 101 points.
    expect(figures([0, 0, 1]).mean).toBeCloseTo((67 * 2) / 3 / 101, 12);
    // Unasked categories (star) are not ground truth.
    expect(figures([1]).categories.circle).toBe(0);
  });

  it('computes accuracy overall and per label of the drawn images', () => {
    const accuracy = accuracyFigures([
      { label: 'cat', correct: true },
      { label: 'dog', correct: false },
      { label: 'dog', correct: true },
    ]);
    expect(accuracy([0, 1, 2])).toEqual({ mean: 2 / 3, categories: { cat: 1, dog: 0.5 } });
    expect(accuracy([1, 1])).toEqual({ mean: 0, categories: { dog: 0 } });
  });
});
