/**
 * The two inner loops of pycocotools' COCOeval, laid out for speed: evaluateImg (greedy matching
 * of one image's detections of one category, per IoU threshold and area range) and accumulate
 * (precision/recall over a category's images). Column storage, reusable scratch buffers, one
 * stable sort per category shared by every area range and maxDets. coco.ts drives them.
 */

export const maxDets = [1, 10, 100] as const;
export const areaRanges = [
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
export class Scratch {
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
export interface Boxes {
  x: Float64Array;
  y: Float64Array;
  w: Float64Array;
  h: Float64Array;
  area: Float64Array;
}

export function boxes(n: number): Boxes {
  return {
    x: new Float64Array(n),
    y: new Float64Array(n),
    w: new Float64Array(n),
    h: new Float64Array(n),
    area: new Float64Array(n),
  };
}

/** Stable bucket sort of item indices by cell key (−1: not evaluated); returns starts and order. */
export function bucket(keys: Int32Array, cellCount: number): { start: Int32Array; order: Int32Array } {
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
export function sortByScore(idx: Int32Array, n: number, score: Float64Array): void {
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
export class CategoryEval {
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
export function boxIous(
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
export function matchCell(
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
export function accumulateCategory(
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

/** Which area ranges and maxDets to evaluate (indices); all of them unless asked for less. */
export interface Subset {
  areas: readonly number[];
  maxDets: readonly number[];
}
