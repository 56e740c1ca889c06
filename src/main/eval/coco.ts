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
}

const maxDets = [1, 10, 100] as const;
const areaRanges = [
  [0, 1e5 ** 2],
  [0, 32 ** 2],
  [32 ** 2, 96 ** 2],
  [96 ** 2, 1e5 ** 2],
] as const;

/** numpy.linspace(start, stop, num) to the bit: i·step + start, the last one exactly stop. */
function linspace(start: number, stop: number, num: number): Float64Array {
  const step = (stop - start) / (num - 1);
  const out = new Float64Array(num);
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  out[num - 1] = stop;
  return out;
}

export const iouThresholds = linspace(0.5, 0.95, Math.round((0.95 - 0.5) / 0.05) + 1);
export const recallThresholds = linspace(0, 1, Math.round(1 / 0.01) + 1);
const spacing = 2.220446049250313e-16; // np.spacing(1)

/** Growable scratch buffers, reused across cells and categories so the evaluation allocates little. */
class Scratch {
  f64 = new Float64Array(0);
  i32 = new Int32Array(0);
  f64At(n: number): Float64Array {
    if (this.f64.length < n) this.f64 = new Float64Array(n * 2);
    return this.f64;
  }
  i32At(n: number): Int32Array {
    if (this.i32.length < n) this.i32 = new Int32Array(n * 2);
    return this.i32;
  }
}

/** Column storage for boxes: no object per box. */
interface Boxes {
  x: Float64Array;
  y: Float64Array;
  w: Float64Array;
  h: Float64Array;
  area: Float64Array;
}

function boxes(n: number): Boxes {
  return {
    x: new Float64Array(n),
    y: new Float64Array(n),
    w: new Float64Array(n),
    h: new Float64Array(n),
    area: new Float64Array(n),
  };
}

/** Stable bucket sort of item indices by cell key (−1: not evaluated); returns starts and order. */
function bucket(keys: Int32Array, cellCount: number): { start: Int32Array; order: Int32Array } {
  const start = new Int32Array(cellCount + 1);
  for (const k of keys) if (k >= 0) start[k + 1]!++;
  for (let c = 0; c < cellCount; c++) start[c + 1]! += start[c]!;
  const next = start.slice(0, cellCount);
  const order = new Int32Array(start[cellCount]!);
  keys.forEach((k, i) => {
    if (k >= 0) order[next[k]!++] = i;
  });
  return { start, order };
}

/** Sorts `idx[0..n)` by descending score, ties in index order (np.argsort(-s, kind='mergesort')). */
function sortByScore(idx: Int32Array, n: number, score: Float64Array): void {
  if (n > 48) {
    const sorted = Array.from(idx.subarray(0, n)).sort((a, b) => score[b]! - score[a]! || a - b);
    idx.set(sorted);
    return;
  }
  for (let i = 1; i < n; i++) {
    const v = idx[i]!;
    const sv = score[v]!;
    let j = i - 1;
    while (j >= 0 && (score[idx[j]!]! < sv || (score[idx[j]!]! === sv && idx[j]! > v))) {
      idx[j + 1] = idx[j]!;
      j--;
    }
    idx[j + 1] = v;
  }
}

/** Per category: every detection evaluated, in image order, with its matches per area range. */
class CategoryEval {
  n = 0;
  score = new Float64Array(0);
  rank = new Int32Array(0); // position within its image, after the score sort
  matched: Uint8Array[] = []; // per area: T×N, t-major
  ignored: Uint8Array[] = [];
  nonIgnoredGt = new Int32Array(areaRanges.length);
  images = 0;

  reset(capacity: number, areas: readonly number[]): void {
    const T = iouThresholds.length;
    if (this.score.length < capacity) {
      this.score = new Float64Array(capacity);
      this.rank = new Int32Array(capacity);
      for (const a of areas) {
        this.matched[a] = new Uint8Array(T * capacity);
        this.ignored[a] = new Uint8Array(T * capacity);
      }
    }
    this.n = 0;
    this.images = 0;
    this.nonIgnoredGt.fill(0);
  }
}

/** maskUtils.iou for boxes (bbIou): crowd GT divide by the detection's area, not the union. */
function boxIous(
  d: Boxes,
  dIdx: Int32Array,
  D: number,
  g: Boxes,
  gIdx: Int32Array,
  G: number,
  gCrowd: Uint8Array,
  out: Float64Array,
): void {
  for (let gj = 0; gj < G; gj++) {
    const gi = gIdx[gj]!;
    const gx = g.x[gi]!,
      gy = g.y[gi]!,
      gw = g.w[gi]!,
      gh = g.h[gi]!;
    const ga = gw * gh;
    const crowd = gCrowd[gi] === 1;
    for (let dj = 0; dj < D; dj++) {
      const di = dIdx[dj]!;
      const dx = d.x[di]!,
        dy = d.y[di]!,
        dw = d.w[di]!,
        dh = d.h[di]!;
      out[dj * G + gj] = 0;
      const w = Math.min(dw + dx, gw + gx) - Math.max(dx, gx);
      if (w <= 0) continue;
      const h = Math.min(dh + dy, gh + gy) - Math.max(dy, gy);
      if (h <= 0) continue;
      const inter = w * h;
      const da = dw * dh;
      out[dj * G + gj] = inter / (crowd ? da : da + ga - inter);
    }
  }
}

/**
 * evaluateImg for one image, one category, one area range: greedy matching per IoU threshold,
 * written into the category's flat arrays at `base`. Returns how many GT boxes count (not ignored).
 */
function matchCell(
  a: number,
  d: Boxes,
  dIdx: Int32Array,
  D: number,
  g: Boxes,
  gIdx: Int32Array,
  G: number,
  gCrowd: Uint8Array,
  gId: Float64Array,
  iou: Float64Array,
  out: CategoryEval,
  base: number,
  orderScratch: Scratch,
  flagScratch: Scratch,
): number {
  const [lo, hi] = areaRanges[a]!;
  const T = iouThresholds.length;
  const N = out.score.length;
  const matched = out.matched[a]!;
  const ignored = out.ignored[a]!;
  // GT order: not ignored first, stable (np.argsort(kind='mergesort') on the ignore flags).
  const order = orderScratch.i32At(G);
  const gtIgnore = flagScratch.i32At(G * (T + 1));
  let counted = 0;
  for (let j = 0; j < G; j++) {
    const gi = gIdx[j]!;
    const ig = gCrowd[gi] === 1 || g.area[gi]! < lo || g.area[gi]! > hi ? 1 : 0;
    gtIgnore[j] = ig;
    if (!ig) order[counted++] = j;
  }
  let tail = counted;
  for (let j = 0; j < G; j++) if (gtIgnore[j]) order[tail++] = j;
  const taken = gtIgnore.subarray(G, G * (T + 1)).fill(0);
  for (let t = 0; t < T; t++) {
    const threshold = Math.min(iouThresholds[t]!, 1 - 1e-10);
    const row = t * N + base;
    for (let dj = 0; dj < D; dj++) {
      matched[row + dj] = 0;
      ignored[row + dj] = 0;
      let best = threshold;
      let m = -1;
      for (let j = 0; j < G; j++) {
        const gj = order[j]!;
        if (taken[t * G + j] && gCrowd[gIdx[gj]!] !== 1) continue;
        if (m > -1 && gtIgnore[order[m]!] === 0 && gtIgnore[gj] === 1) break;
        const value = iou[dj * G + gj]!;
        if (value < best) continue;
        best = value;
        m = j;
      }
      if (m === -1) continue;
      const gj = order[m]!;
      ignored[row + dj] = gtIgnore[gj]!;
      // pycocotools stores the matched GT's id: an id of 0 reads as unmatched.
      matched[row + dj] = gId[gIdx[gj]!] !== 0 ? 1 : 0;
      taken[t * G + m] = 1;
    }
  }
  for (let dj = 0; dj < D; dj++) {
    const area = d.area[dIdx[dj]!]!;
    if (area < lo || area > hi) {
      for (let t = 0; t < T; t++) if (!matched[t * N + base + dj]) ignored[t * N + base + dj] = 1;
    }
  }
  return counted;
}

/**
 * accumulate for one category: detections of all its images by descending score (ties in image
 * order, then rank), cumulative TP/FP, monotone precision, 101 recall points (a left searchsorted;
 * past the end they stay 0). One sort serves every area range and maxDets: a stable sort of a
 * subset is the subset of the stable sort.
 */
function accumulateCategory(
  c: CategoryEval,
  k: number,
  precision: Float64Array,
  recall: Float64Array,
  pIndex: (t: number, r: number, k: number, a: number, m: number) => number,
  rIndex: (t: number, k: number, a: number, m: number) => number,
  only: Subset,
): void {
  if (c.images === 0) return;
  const T = iouThresholds.length;
  const R = recallThresholds.length;
  const N = c.score.length;
  const n = c.n;
  const byScore = new Int32Array(n);
  for (let i = 0; i < n; i++) byScore[i] = i;
  sortByScore(byScore, n, c.score);
  const kept = new Int32Array(n);
  const rc = new Float64Array(n);
  const pr = new Float64Array(n);
  for (const m of only.maxDets) {
    let nd = 0;
    for (let i = 0; i < n; i++) if (c.rank[byScore[i]!]! < maxDets[m]!) kept[nd++] = byScore[i]!;
    for (const a of only.areas) {
      const npig = c.nonIgnoredGt[a]!;
      if (npig === 0) continue;
      const matched = c.matched[a]!;
      const ignored = c.ignored[a]!;
      for (let t = 0; t < T; t++) {
        let tp = 0;
        let fp = 0;
        for (let i = 0; i < nd; i++) {
          const cell = t * N + kept[i]!;
          if (!ignored[cell]) {
            if (matched[cell]) tp++;
            else fp++;
          }
          rc[i] = tp / npig;
          pr[i] = tp / (fp + tp + spacing);
        }
        recall[rIndex(t, k, a, m)] = nd ? rc[nd - 1]! : 0;
        for (let i = nd - 1; i > 0; i--) if (pr[i]! > pr[i - 1]!) pr[i - 1] = pr[i]!;
        let i = 0;
        for (let r = 0; r < R; r++) {
          const threshold = recallThresholds[r]!;
          while (i < nd && rc[i]! < threshold) i++;
          precision[pIndex(t, r, k, a, m)] = i < nd ? pr[i]! : 0;
        }
      }
    }
  }
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

/** Which area ranges and maxDets to evaluate (indices); all of them unless asked for less. */
interface Subset {
  areas: readonly number[];
  maxDets: readonly number[];
}
const everything: Subset = { areas: [0, 1, 2, 3], maxDets: [0, 1, 2] };

/**
 * Only AP@[.50:.95] (area all, 100 detections), the figure a reward needs, at a twelfth of the
 * work; equal to stats[0] of evaluateCoco.
 */
export function cocoMeanAP(gt: CocoGt, detections: CocoDetection[]): number {
  return evaluate(gt, detections, { areas: [0], maxDets: [2] }).stats[0]!;
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
  if (only !== everything)
    return { stats: [meanOfValid(precisionSlice(undefined, 0, 2))], perCategoryAP: new Map() };
  const at50 = iouThresholds.indexOf(0.5);
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
  return { stats, perCategoryAP };
}
