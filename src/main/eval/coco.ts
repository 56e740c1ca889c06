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

interface Gt {
  id: number;
  x: number;
  y: number;
  w: number;
  h: number;
  area: number;
  crowd: boolean;
}

interface Dt {
  x: number;
  y: number;
  w: number;
  h: number;
  area: number;
  score: number;
}

/** One image's detections of one category in one area range, after matching (evaluateImg). */
interface ImageEval {
  scores: Float64Array; // D, sorted descending
  matched: Uint8Array; // T×D: matched a GT whose id is non-zero
  ignored: Uint8Array; // T×D
  nonIgnoredGt: number;
}

function stableOrderByScore(dts: Dt[]): Dt[] {
  return dts
    .map((d, i) => [d, i] as const)
    .sort((a, b) => b[0].score - a[0].score || a[1] - b[1])
    .map(([d]) => d);
}

/** maskUtils.iou for boxes: crowd GT divide by the detection's area, not the union. */
function boxIous(dts: Dt[], gts: Gt[]): Float64Array {
  const ious = new Float64Array(dts.length * gts.length);
  for (let g = 0; g < gts.length; g++) {
    const G = gts[g] as Gt;
    const ga = G.w * G.h;
    for (let d = 0; d < dts.length; d++) {
      const D = dts[d] as Dt;
      const w = Math.min(D.w + D.x, G.w + G.x) - Math.max(D.x, G.x);
      if (w <= 0) continue;
      const h = Math.min(D.h + D.y, G.h + G.y) - Math.max(D.y, G.y);
      if (h <= 0) continue;
      const i = w * h;
      const da = D.w * D.h;
      ious[d * gts.length + g] = i / (G.crowd ? da : da + ga - i);
    }
  }
  return ious;
}

function evaluateCell(dts: Dt[], gts: Gt[], ious: Float64Array, range: readonly [number, number]): ImageEval {
  const T = iouThresholds.length;
  const D = dts.length;
  const G = gts.length;
  const gtIgnore = gts.map((g) => (g.crowd || g.area < range[0] || g.area > range[1] ? 1 : 0));
  // Non-ignored GT first, stable (np.argsort(kind='mergesort')).
  const order = gts
    .map((_, i) => i)
    .sort((a, b) => (gtIgnore[a] as number) - (gtIgnore[b] as number) || a - b);
  const matched = new Uint8Array(T * D);
  const ignored = new Uint8Array(T * D);
  const gtTaken = new Uint8Array(T * G);
  if (D > 0 && G > 0) {
    for (let t = 0; t < T; t++) {
      const threshold = Math.min(iouThresholds[t] as number, 1 - 1e-10);
      for (let d = 0; d < D; d++) {
        let best = threshold;
        let m = -1;
        for (let j = 0; j < G; j++) {
          const g = order[j] as number;
          if (gtTaken[t * G + j] && !(gts[g] as Gt).crowd) continue;
          if (m > -1 && gtIgnore[order[m] as number] === 0 && gtIgnore[g] === 1) break;
          const value = ious[d * G + g] as number;
          if (value < best) continue;
          best = value;
          m = j;
        }
        if (m === -1) continue;
        const g = order[m] as number;
        ignored[t * D + d] = gtIgnore[g] as number;
        matched[t * D + d] = (gts[g] as Gt).id !== 0 ? 1 : 0; // pycocotools stores the id; 0 reads as unmatched
        gtTaken[t * G + m] = 1;
      }
    }
  }
  for (let d = 0; d < D; d++) {
    const area = (dts[d] as Dt).area;
    if (area < range[0] || area > range[1]) {
      for (let t = 0; t < T; t++) if (!matched[t * D + d]) ignored[t * D + d] = 1;
    }
  }
  let nonIgnoredGt = 0;
  for (const ig of gtIgnore) if (ig === 0) nonIgnoredGt++;
  return { scores: Float64Array.from(dts, (d) => d.score), matched, ignored, nonIgnoredGt };
}

/**
 * precision[T][R] and recall[T] of one category, one area range, one maxDets, from its images'
 * evaluations (in image-id order); undefined where pycocotools leaves −1.
 */
function accumulate(
  evals: ImageEval[],
  maxDet: number,
): { precision: Float64Array; recall: Float64Array } | undefined {
  const T = iouThresholds.length;
  const R = recallThresholds.length;
  let nonIgnoredGt = 0;
  let n = 0;
  for (const e of evals) {
    nonIgnoredGt += e.nonIgnoredGt;
    n += Math.min(e.scores.length, maxDet);
  }
  if (evals.length === 0 || nonIgnoredGt === 0) return undefined;
  const scores = new Float64Array(n);
  const source = new Int32Array(n * 2); // (eval index, detection index)
  let k = 0;
  evals.forEach((e, ei) => {
    const count = Math.min(e.scores.length, maxDet);
    for (let d = 0; d < count; d++, k++) {
      scores[k] = e.scores[d] as number;
      source[2 * k] = ei;
      source[2 * k + 1] = d;
    }
  });
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => (scores[b] as number) - (scores[a] as number) || a - b,
  );
  const precision = new Float64Array(T * R);
  const recall = new Float64Array(T);
  const pr = new Float64Array(n);
  const rc = new Float64Array(n);
  for (let t = 0; t < T; t++) {
    let tp = 0;
    let fp = 0;
    for (let i = 0; i < n; i++) {
      const j = order[i] as number;
      const e = evals[source[2 * j] as number] as ImageEval;
      const cell = t * e.scores.length + (source[2 * j + 1] as number);
      if (!e.ignored[cell]) {
        if (e.matched[cell]) tp++;
        else fp++;
      }
      rc[i] = tp / nonIgnoredGt;
      pr[i] = tp / (fp + tp + spacing);
    }
    recall[t] = n ? (rc[n - 1] as number) : 0;
    for (let i = n - 1; i > 0; i--)
      if ((pr[i] as number) > (pr[i - 1] as number)) pr[i - 1] = pr[i] as number;
    // np.searchsorted(rc, recThrs, side='left'); past the end, the rest stay 0.
    let i = 0;
    for (let r = 0; r < R; r++) {
      const threshold = recallThresholds[r] as number;
      while (i < n && (rc[i] as number) < threshold) i++;
      if (i >= n) break;
      precision[t * R + r] = pr[i] as number;
    }
  }
  return { precision, recall };
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
function meanOfValid(values: Iterable<number>): number {
  const valid: number[] = [];
  for (const v of values) if (v > -1) valid.push(v);
  return valid.length ? pairwiseSum(valid, 0, valid.length) / valid.length : -1;
}

export function evaluateCoco(gt: CocoGt, detections: CocoDetection[]): CocoEvalResult {
  const imageIds = [...new Set(gt.images.map((i) => i.id))].sort((a, b) => a - b);
  const categoryIds = [...new Set(gt.categories.map((c) => c.id))].sort((a, b) => a - b);
  const imageIndex = new Map(imageIds.map((id, i) => [id, i]));
  const categoryIndex = new Map(categoryIds.map((id, k) => [id, k]));
  const I = imageIds.length;
  const K = categoryIds.length;

  // Cells keyed k·I + i, so that iterating a category's cells in key order is image-id order.
  const cells = new Map<number, { gts: Gt[]; dts: Dt[] }>();
  const cell = (imageId: number, categoryId: number) => {
    const i = imageIndex.get(imageId);
    const k = categoryIndex.get(categoryId);
    if (i === undefined || k === undefined) return undefined;
    const key = k * I + i;
    let c = cells.get(key);
    if (!c) cells.set(key, (c = { gts: [], dts: [] }));
    return c;
  };
  for (const a of gt.annotations) {
    const [x = 0, y = 0, w = 0, h = 0] = a.bbox;
    cell(a.image_id, a.category_id)?.gts.push({
      id: a.id,
      x,
      y,
      w,
      h,
      area: a.area ?? w * h,
      crowd: !!a.iscrowd,
    });
  }
  for (const d of detections) {
    const [x = 0, y = 0, w = 0, h = 0] = d.bbox;
    cell(d.image_id, d.category_id)?.dts.push({ x, y, w, h, area: w * h, score: d.score });
  }

  const T = iouThresholds.length;
  const R = recallThresholds.length;
  const A = areaRanges.length;
  const M = maxDets.length;
  // precision[t][r][k][a][m] and recall[t][k][a][m], −1 where undefined (as pycocotools).
  const precision = new Float64Array(T * R * K * A * M).fill(-1);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  const pIndex = (t: number, r: number, k: number, a: number, m: number) =>
    (((t * R + r) * K + k) * A + a) * M + m;
  const rIndex = (t: number, k: number, a: number, m: number) => ((t * K + k) * A + a) * M + m;

  const keys = [...cells.keys()].sort((a, b) => a - b);
  let start = 0;
  for (let k = 0; k < K; k++) {
    let end = start;
    while (end < keys.length && Math.floor((keys[end] as number) / I) === k) end++;
    const perArea: ImageEval[][] = areaRanges.map(() => []);
    for (let c = start; c < end; c++) {
      const { gts, dts: all } = cells.get(keys[c] as number) as { gts: Gt[]; dts: Dt[] };
      const dts = stableOrderByScore(all).slice(0, maxDets[M - 1]);
      const ious = boxIous(dts, gts);
      areaRanges.forEach((range, a) => perArea[a]?.push(evaluateCell(dts, gts, ious, range)));
    }
    start = end;
    for (let a = 0; a < A; a++) {
      for (let m = 0; m < M; m++) {
        const result = accumulate(perArea[a] as ImageEval[], maxDets[m] as number);
        if (!result) continue;
        for (let t = 0; t < T; t++) {
          recall[rIndex(t, k, a, m)] = result.recall[t] as number;
          for (let r = 0; r < R; r++)
            precision[pIndex(t, r, k, a, m)] = result.precision[t * R + r] as number;
        }
      }
    }
  }

  function* precisionAt(t: number | undefined, a: number, m: number, k?: number): Generator<number> {
    for (let ti = 0; ti < T; ti++) {
      if (t !== undefined && ti !== t) continue;
      for (let r = 0; r < R; r++) {
        for (let ki = 0; ki < K; ki++) {
          if (k !== undefined && ki !== k) continue;
          yield precision[pIndex(ti, r, ki, a, m)] as number;
        }
      }
    }
  }
  function* recallAt(a: number, m: number): Generator<number> {
    for (let t = 0; t < T; t++) for (let k = 0; k < K; k++) yield recall[rIndex(t, k, a, m)] as number;
  }
  const at50 = iouThresholds.indexOf(0.5);
  const at75 = iouThresholds.indexOf(0.75);
  const stats = [
    meanOfValid(precisionAt(undefined, 0, 2)),
    meanOfValid(precisionAt(at50, 0, 2)),
    meanOfValid(precisionAt(at75, 0, 2)),
    meanOfValid(precisionAt(undefined, 1, 2)),
    meanOfValid(precisionAt(undefined, 2, 2)),
    meanOfValid(precisionAt(undefined, 3, 2)),
    meanOfValid(recallAt(0, 0)),
    meanOfValid(recallAt(0, 1)),
    meanOfValid(recallAt(0, 2)),
    meanOfValid(recallAt(1, 2)),
    meanOfValid(recallAt(2, 2)),
    meanOfValid(recallAt(3, 2)),
  ];
  const perCategoryAP = new Map(
    categoryIds.map((id, k) => [id, meanOfValid(precisionAt(undefined, 0, M - 1, k))]),
  );
  return { stats, perCategoryAP };
}
