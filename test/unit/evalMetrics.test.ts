import { describe, expect, it } from 'vitest';
import {
  classificationAccuracyOf,
  greedyPrecisionRecall,
  recAccuracyAt50,
} from '../../src/main/eval/metrics';

describe('classification accuracy', () => {
  it('counts exact normalised matches only', () => {
    const acc = classificationAccuracyOf([
      { answer: 'Hexagon.', label: 'hexagon' },
      { answer: 'six sided', label: 'hexagon', synonyms: ['six_sided'] },
      { answer: 'hexagon or pentagon', label: 'hexagon' },
      { answer: '', label: 'hexagon' },
    ]);
    expect(acc).toBe(0.5);
  });
});

describe('REC Acc@0.5', () => {
  it('needs IoU strictly above 0.5, and a box', () => {
    const truth = { x1: 0, y1: 0, x2: 100, y2: 100 };
    expect(
      recAccuracyAt50([
        { predicted: { x1: 0, y1: 0, x2: 100, y2: 50 }, truth }, // IoU 0.5 exactly: miss
        { predicted: { x1: 0, y1: 0, x2: 100, y2: 51 }, truth },
        { truth },
        { predicted: truth, truth },
      ]),
    ).toBe(0.5);
  });
});

describe('greedy precision / recall at IoU 0.5', () => {
  it('matches one-to-one within a label, best score first', () => {
    const pr = greedyPrecisionRecall([
      {
        predictions: [
          { x1: 0, y1: 0, x2: 10, y2: 10, label: 'cat', score: 0.4 },
          { x1: 0, y1: 0, x2: 10, y2: 9, label: 'cat', score: 0.9 },
          { x1: 50, y1: 50, x2: 60, y2: 60, label: 'Dog', score: 0.5 },
          { x1: 0, y1: 0, x2: 10, y2: 10, label: 'dog', score: 0.5 },
        ],
        truth: [
          { x1: 0, y1: 0, x2: 10, y2: 10, label: 'cat' },
          { x1: 50, y1: 50, x2: 60, y2: 60, label: 'dog' },
        ],
      },
      { predictions: [], truth: [{ x1: 0, y1: 0, x2: 5, y2: 5, label: 'cat' }] },
    ]);
    expect(pr).toEqual({ precision: 2 / 4, recall: 2 / 3, truePositives: 2, predictions: 4, groundTruth: 3 });
  });
});
