/**
 * Box geometry, once for the whole project. Boxes are continuous xyxy: area = (x2 − x1)·(y2 − y1),
 * no "+1 pixel" convention (pycocotools' convention for boxes).
 */
export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export interface Size {
  width: number;
  height: number;
}

export function boxArea(b: Box): number {
  return Math.max(0, b.x2 - b.x1) * Math.max(0, b.y2 - b.y1);
}

export function intersectionArea(a: Box, b: Box): number {
  const w = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const h = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  return w > 0 && h > 0 ? w * h : 0;
}

/** Intersection over union; 0 when both boxes are empty. */
export function iou(a: Box, b: Box): number {
  const inter = intersectionArea(a, b);
  const union = boxArea(a) + boxArea(b) - inter;
  return union > 0 ? inter / union : 0;
}

/** Generalised IoU, in [−1, 1]: IoU minus the share of the enclosing box that neither covers. */
export function giou(a: Box, b: Box): number {
  const inter = intersectionArea(a, b);
  const union = boxArea(a) + boxArea(b) - inter;
  const hull = boxArea({
    x1: Math.min(a.x1, b.x1),
    y1: Math.min(a.y1, b.y1),
    x2: Math.max(a.x2, b.x2),
    y2: Math.max(a.y2, b.y2),
  });
  if (hull <= 0) return 0;
  return (union > 0 ? inter / union : 0) - (hull - union) / hull;
}

export function isDegenerate(b: Box): boolean {
  return !(b.x2 > b.x1 && b.y2 > b.y1);
}

export function clampBox(b: Box, extent: Size): Box {
  const clamp = (v: number, max: number) => Math.min(Math.max(v, 0), max);
  return {
    x1: clamp(b.x1, extent.width),
    y1: clamp(b.y1, extent.height),
    x2: clamp(b.x2, extent.width),
    y2: clamp(b.y2, extent.height),
  };
}
