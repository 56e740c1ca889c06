import { describe, expect, it } from 'vitest';
import { boxArea, giou, iou } from '../../src/shared/boxes';

describe('box geometry: continuous xyxy, no +1 pixel', () => {
  it('area is (x2 − x1)·(y2 − y1)', () => {
    expect(boxArea({ x1: 0, y1: 0, x2: 10, y2: 10 })).toBe(100);
    expect(boxArea({ x1: 0.5, y1: 0, x2: 1, y2: 0.5 })).toBe(0.25);
  });

  it('IoU is intersection over union', () => {
    expect(iou({ x1: 0, y1: 0, x2: 10, y2: 10 }, { x1: 5, y1: 0, x2: 15, y2: 10 })).toBeCloseTo(50 / 150, 15);
    expect(iou({ x1: 0, y1: 0, x2: 10, y2: 10 }, { x1: 10, y1: 0, x2: 20, y2: 10 })).toBe(0); // touching
    expect(iou({ x1: 0, y1: 0, x2: 0, y2: 0 }, { x1: 0, y1: 0, x2: 0, y2: 0 })).toBe(0);
  });

  it('GIoU subtracts the uncovered share of the enclosing box', () => {
    expect(giou({ x1: 0, y1: 0, x2: 10, y2: 10 }, { x1: 20, y1: 0, x2: 30, y2: 10 })).toBeCloseTo(
      0 - (300 - 200) / 300,
      15,
    );
    expect(giou({ x1: 0, y1: 0, x2: 10, y2: 10 }, { x1: 0, y1: 0, x2: 10, y2: 10 })).toBe(1);
  });
});
