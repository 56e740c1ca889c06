/**
 * COCO box AP, equal to pycocotools' `COCOeval(gt, dt, "bbox")` (evaluate → accumulate →
 * summarize) to floating-point noise. Every choice that changes a number is pycocotools' own:
 * stable sorts by descending score (per image, then over the concatenated images), at most
 * maxDets[-1] detections per image and category, crowd GT matched by intersection over the
 * detection's area and never consumed, ignored GT sorted last, unmatched detections outside the
 * area range ignored, precision made monotone, 101 recall points found by a left searchsorted.
 * Laid out for speed: one pass per (image, category) cell, flat typed arrays, one sort per
 * (category, maxDets) shared by the four area ranges.
 */
import {
  accumulateCategory,
  boxes,
  boxIous,
  bucket,
  CategoryEval,
  iouThresholds,
  matchCell,
  maxDets,
  recallThresholds,
  Scratch,
  sortByScore,
  type Subset,
} from './cocoKernels';

export { iouThresholds, recallThresholds };

export interface CocoGtAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  bbox: number[];
  area?: number;
  iscrowd?: number | boolean;
}

export interface CocoGt {
  images: { id: number }[];
  annotations: CocoGtAnnotation[];
  categories: { id: number; name?: string }[];
}

export interface CocoDetection {
  image_id: number;
  category_id: number;
  bbox: number[];
  score: number;
}

export interface CocoEvalResult {
  /** pycocotools' 12 `stats`, in its order; −1 where it has nothing to average. */
  stats: number[];
  /** AP@[.5:.95] per category id: the mean of precision[:, :, k, all, 100] over entries > −1. */
  perCategoryAP: Map<number, number>;
  /** AP50 per category id: the mean of precision[.50, :, k, all, 100] over entries > −1. */
  perCategoryAP50: Map<number, number>;
}

/** numpy's pairwise summation (what np.mean adds with), so even printed figures round alike. */
function pairwiseSum(a: number[], start: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[start + i] as number;
    return res;
  }
  if (n <= 128) {
    const r = a.slice(start, start + 8);
    let i = 8;
    for (; i < n - (n % 8); i += 8)
      for (let j = 0; j < 8; j++) (r[j] as number) += a[start + i + j] as number;
    const [r0, r1, r2, r3, r4, r5, r6, r7] = r as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    let res = r0 + r1 + (r2 + r3) + (r4 + r5 + (r6 + r7));
    for (; i < n; i++) res += a[start + i] as number;
    return res;
  }
  let half = Math.floor(n / 2);
  half -= half % 8;
  return pairwiseSum(a, start, half) + pairwiseSum(a, start + half, n - half);
}

/** np.mean(s[s > -1]), or −1 when nothing is left. */
function meanOfValid(values: number[]): number {
  const valid = values.filter((v) => v > -1);
  return valid.length ? pairwiseSum(valid, 0, valid.length) / valid.length : -1;
}

const everything: Subset = { areas: [0, 1, 2, 3], maxDets: [0, 1, 2] };
const allAreas100: Subset = { areas: [0], maxDets: [2] };

/**
 * Only AP@[.50:.95] (area all, 100 detections), the figure a reward needs, at a twelfth of the
 * work; equal to stats[0] of evaluateCoco.
 */
export function cocoMeanAP(gt: CocoGt, detections: CocoDetection[]): number {
  return evaluate(gt, detections, allAreas100).stats[0]!;
}

/**
 * AP50 (area all, 100 detections) overall and per category id, at the same twelfth of the work;
 * equal to stats[1] and perCategoryAP50 of evaluateCoco.
 */
export function cocoAP50(
  gt: CocoGt,
  detections: CocoDetection[],
): { ap50: number; perCategory: Map<number, number> } {
  const result = evaluate(gt, detections, allAreas100);
  return { ap50: result.stats[1]!, perCategory: result.perCategoryAP50 };
}

export function evaluateCoco(gt: CocoGt, detections: CocoDetection[]): CocoEvalResult {
  return evaluate(gt, detections, everything);
}

function evaluate(gt: CocoGt, detections: CocoDetection[], only: Subset): CocoEvalResult {
  const imageIds = [...new Set(gt.images.map((i) => i.id))].sort((a, b) => a - b);
  const categoryIds = [...new Set(gt.categories.map((c) => c.id))].sort((a, b) => a - b);
  const imageIndex = new Map(imageIds.map((id, i) => [id, i]));
  const categoryIndex = new Map(categoryIds.map((id, k) => [id, k]));
  const I = imageIds.length;
  const K = categoryIds.length;
  const T = iouThresholds.length;
  const R = recallThresholds.length;
  // Only the evaluated area ranges and maxDets get a place in precision and recall.
  const A = only.areas.length;
  const M = only.maxDets.length;
  const aAt = [-1, -1, -1, -1];
  only.areas.forEach((a, i) => (aAt[a] = i));
  const mAt = [-1, -1, -1];
  only.maxDets.forEach((m, i) => (mAt[m] = i));
  // Cells are keyed k·I + i, so a category's cells run in image-id order.
  const cellKey = (imageId: number, categoryId: number) => {
    const i = imageIndex.get(imageId);
    const k = categoryIndex.get(categoryId);
    return i === undefined || k === undefined ? -1 : k * I + i;
  };

  const nG = gt.annotations.length;
  const g = boxes(nG);
  const gId = new Float64Array(nG);
  const gCrowd = new Uint8Array(nG);
  const gKey = new Int32Array(nG);
  gt.annotations.forEach((a, j) => {
    const [x = 0, y = 0, w = 0, h = 0] = a.bbox;
    g.x[j] = x;
    g.y[j] = y;
    g.w[j] = w;
    g.h[j] = h;
    g.area[j] = a.area ?? w * h;
    gId[j] = a.id;
    gCrowd[j] = a.iscrowd ? 1 : 0;
    gKey[j] = cellKey(a.image_id, a.category_id);
  });
  const nD = detections.length;
  const d = boxes(nD);
  const dScore = new Float64Array(nD);
  const dKey = new Int32Array(nD);
  detections.forEach((det, j) => {
    const [x = 0, y = 0, w = 0, h = 0] = det.bbox;
    d.x[j] = x;
    d.y[j] = y;
    d.w[j] = w;
    d.h[j] = h;
    d.area[j] = w * h;
    dScore[j] = det.score;
    dKey[j] = cellKey(det.image_id, det.category_id);
  });
  const gCells = bucket(gKey, K * I);
  const dCells = bucket(dKey, K * I);

  // precision[t][r][k][a][m] and recall[t][k][a][m], −1 where undefined (as pycocotools).
  const precision = new Float64Array(T * R * K * A * M).fill(-1);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  const pIndex = (t: number, r: number, k: number, a: number, m: number) =>
    (((t * R + r) * K + k) * A + aAt[a]!) * M + mAt[m]!;
  const rIndex = (t: number, k: number, a: number, m: number) => ((t * K + k) * A + aAt[a]!) * M + mAt[m]!;

  const category = new CategoryEval();
  const scratch = new Scratch();
  const ious = new Scratch();
  const gOrder = new Scratch();
  const flags = new Scratch();
  for (let k = 0; k < K; k++) {
    const dFrom = dCells.start[k * I]!;
    const dTo = dCells.start[(k + 1) * I]!;
    category.reset(dTo - dFrom, only.areas);
    for (let i = 0; i < I; i++) {
      const key = k * I + i;
      const g0 = gCells.start[key]!;
      const G = gCells.start[key + 1]! - g0;
      const d0 = dCells.start[key]!;
      const allD = dCells.start[key + 1]! - d0;
      if (G === 0 && allD === 0) continue; // pycocotools' evaluateImg returns None
      category.images++;
      const dIdx = scratch.i32At(allD);
      dIdx.set(dCells.order.subarray(d0, d0 + allD));
      sortByScore(dIdx, allD, dScore);
      const D = Math.min(allD, maxDets[2]);
      const gIdx = gCells.order.subarray(g0, g0 + G);
      const iou = ious.f64At(D * G);
      boxIous(d, dIdx, D, g, gIdx, G, gCrowd, iou);
      const base = category.n;
      for (let j = 0; j < D; j++) {
        category.score[base + j] = dScore[dIdx[j]!]!;
        category.rank[base + j] = j;
      }
      for (const a of only.areas) {
        category.nonIgnoredGt[a]! += matchCell(
          a,
          d,
          dIdx,
          D,
          g,
          gIdx,
          G,
          gCrowd,
          gId,
          iou,
          category,
          base,
          gOrder,
          flags,
        );
      }
      category.n += D;
    }
    accumulateCategory(category, k, precision, recall, pIndex, rIndex, only);
  }
  // summarize(): np.mean(s[s > -1]) over slices of precision (t, r, k order) and recall (t, k).
  const precisionSlice = (t: number | undefined, a: number, m: number, k?: number): number[] => {
    const out: number[] = [];
    for (let ti = t ?? 0; ti < (t === undefined ? T : t + 1); ti++) {
      if (ti < 0) break;
      for (let r = 0; r < R; r++) {
        for (let ki = k ?? 0; ki < (k === undefined ? K : k + 1); ki++)
          out.push(precision[pIndex(ti, r, ki, a, m)]!);
      }
    }
    return out;
  };
  const recallSlice = (a: number, m: number): number[] => {
    const out: number[] = [];
    for (let t = 0; t < T; t++) for (let k = 0; k < K; k++) out.push(recall[rIndex(t, k, a, m)]!);
    return out;
  };
  const at50 = iouThresholds.indexOf(0.5);
  const perCategoryAP50 = () =>
    new Map(categoryIds.map((id, k) => [id, meanOfValid(precisionSlice(at50, 0, 2, k))]));
  if (only !== everything)
    return {
      stats: [meanOfValid(precisionSlice(undefined, 0, 2)), meanOfValid(precisionSlice(at50, 0, 2))],
      perCategoryAP: new Map(),
      perCategoryAP50: perCategoryAP50(),
    };
  const at75 = iouThresholds.indexOf(0.75);
  const stats = [
    meanOfValid(precisionSlice(undefined, 0, 2)),
    meanOfValid(precisionSlice(at50, 0, 2)),
    meanOfValid(precisionSlice(at75, 0, 2)),
    meanOfValid(precisionSlice(undefined, 1, 2)),
    meanOfValid(precisionSlice(undefined, 2, 2)),
    meanOfValid(precisionSlice(undefined, 3, 2)),
    meanOfValid(recallSlice(0, 0)),
    meanOfValid(recallSlice(0, 1)),
    meanOfValid(recallSlice(0, 2)),
    meanOfValid(recallSlice(1, 2)),
    meanOfValid(recallSlice(2, 2)),
    meanOfValid(recallSlice(3, 2)),
  ];
  const perCategoryAP = new Map(
    categoryIds.map((id, k) => [id, meanOfValid(precisionSlice(undefined, 0, M - 1, k))]),
  );
  return { stats, perCategoryAP, perCategoryAP50: perCategoryAP50() };
}
