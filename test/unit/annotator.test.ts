import { describe, expect, it } from 'vitest';
import {
  actualSizeView,
  fitView,
  History,
  isTooSmall,
  labelPlacement,
  maxScale,
  moveBox,
  spanBox,
  textColorOn,
  tidyBox,
  toImage,
  translucent,
  wheelFactor,
  zoomAt,
  type BoxItem,
} from '../../src/renderer/src/lib/annotator';

const image = { width: 400, height: 300 };

describe('the annotator view transform', () => {
  it('zooms at the cursor: the image point under it stays under it', () => {
    let view = fitView(image, { width: 800, height: 600 });
    const cursor = { x: 321, y: 123 };
    const before = toImage(view, cursor);
    for (const factor of [1.1, 2, 0.5, 7.3]) {
      view = zoomAt(view, cursor, factor);
      const after = toImage(view, cursor);
      expect(after.x).toBeCloseTo(before.x, 9);
      expect(after.y).toBeCloseTo(before.y, 9);
    }
  });

  it('clamps the zoom so the view never degenerates', () => {
    let view = { scale: 1, x: 0, y: 0 };
    for (let i = 0; i < 100; i++) view = zoomAt(view, { x: 10, y: 10 }, 2);
    expect(view.scale).toBe(maxScale);
    expect(Number.isFinite(view.x)).toBe(true);
  });

  it('fits the whole image centred, and 100 % is one image pixel per screen pixel', () => {
    const view = fitView(image, { width: 832, height: 332 }, 16);
    expect(view.scale).toBeCloseTo(1, 9);
    expect(view.x).toBeCloseTo(216, 9);
    expect(view.y).toBeCloseTo(16, 9);
    const wide = fitView(image, { width: 2000, height: 632 }, 16);
    expect(wide.scale).toBeCloseTo(2, 9);
    expect(actualSizeView(wide, { width: 2000, height: 632 }).scale).toBe(1);
  });

  it('turns wheel deltas into zoom factors: down zooms out, up zooms in, symmetric', () => {
    expect(wheelFactor(100)).toBeLessThan(1);
    expect(wheelFactor(-100)).toBeGreaterThan(1);
    expect(wheelFactor(100) * wheelFactor(-100)).toBeCloseTo(1, 12);
    expect(wheelFactor(1e9)).toBe(wheelFactor(300));
  });
});

describe('box geometry', () => {
  it('spans two corners in any order, clamped to the image', () => {
    expect(spanBox({ x: 50, y: 60 }, { x: 10, y: 20 }, image)).toEqual({ x1: 10, y1: 20, x2: 50, y2: 60 });
    expect(spanBox({ x: -5, y: 290 }, { x: 450, y: 400 }, image)).toEqual({
      x1: 0,
      y1: 290,
      x2: 400,
      y2: 300,
    });
  });

  it('moves a box without resizing it or letting it leave the image', () => {
    const box = { x1: 10, y1: 10, x2: 60, y2: 40 };
    expect(moveBox(box, 5, -3, image)).toEqual({ x1: 15, y1: 7, x2: 65, y2: 37 });
    expect(moveBox(box, -100, 1000, image)).toEqual({ x1: 0, y1: 270, x2: 50, y2: 300 });
  });

  it('rounds to 1/100 px and treats a tiny drag as a click', () => {
    expect(tidyBox({ x1: 1.23456, y1: 2, x2: 3.98765, y2: 4 }, image)).toEqual({
      x1: 1.23,
      y1: 2,
      x2: 3.99,
      y2: 4,
    });
    expect(isTooSmall({ x1: 0, y1: 0, x2: 1, y2: 10 }, 2)).toBe(true);
    expect(isTooSmall({ x1: 0, y1: 0, x2: 2, y2: 10 }, 2)).toBe(false);
  });
});

describe('per-image history', () => {
  const state = (n: number): BoxItem[] => [{ categoryId: 1, box: { x1: 0, y1: 0, x2: n, y2: n } }];

  it('undoes and redoes whole snapshots, and a new edit clears redo', () => {
    const h = new History();
    h.record(state(1));
    h.record(state(2));
    expect(h.undo(state(3))).toEqual(state(2));
    expect(h.undo(state(2))).toEqual(state(1));
    expect(h.undo(state(1))).toBeUndefined();
    expect(h.redo(state(1))).toEqual(state(2));
    h.record(state(2));
    expect(h.canRedo).toBe(false);
    expect(h.redo(state(9))).toBeUndefined();
  });

  it('keeps at most `limit` steps', () => {
    const h = new History(3);
    for (let i = 0; i < 10; i++) h.record(state(i));
    const undone: (BoxItem[] | undefined)[] = [];
    for (let i = 0; i < 5; i++) undone.push(h.undo(state(99)));
    expect(undone.map((u) => u?.[0]?.box.x2)).toEqual([9, 8, 7, undefined, undefined]);
  });
});

describe('box labels', () => {
  it('sit just above the box, or just inside it when the box touches the top of the image', () => {
    expect(labelPlacement({ x1: 20, y1: 30, x2: 80, y2: 90 }, 9)).toEqual({ x: 20, y: 21 });
    expect(labelPlacement({ x1: 20, y1: 4, x2: 80, y2: 90 }, 9)).toEqual({ x: 20, y: 4 });
  });

  it('write in black on light colours and in white on dark ones', () => {
    expect(['#ffffff', '#bfef45', '#42d4f4', '#fabed4'].map(textColorOn)).toEqual(Array(4).fill('#000000'));
    expect(['#000075', '#800000', '#4363d8', '#911eb4'].map(textColorOn)).toEqual(Array(4).fill('#ffffff'));
  });

  it("tint a selected box with its category's colour", () => {
    expect(translucent('#e6194b', 0.3)).toBe('rgba(230,25,75,0.3)');
  });
});
