/**
 * How sure a difference between two models is: a paired bootstrap over the evaluation images.
 *
 * Both models answered the same questions about the same images. Redrawing the images with
 * replacement (one draw, used for both models) and recomputing each model's figure on the draw
 * shows how much of their difference the choice of images could make. The interval is the
 * percentile interval of the redrawn differences (Efron & Tibshirani, ch. 13); a difference whose
 * interval excludes 0 is not the luck of which images were drawn. It says nothing about the
 * training's own randomness (a second seed is another run).
 */
import type { Box } from '../../shared/boxes';
import { seeded } from '../../shared/random';
import { cocoAP50, type CocoDetection, type CocoGtAnnotation } from './coco';

/** One model's figure on one draw of images: overall and per category, −1 where undefined. */
export interface Figures {
  mean: number;
  categories: Record<string, number>;
}

/** Figures of a draw, given as indices into the evaluation images (repeats allowed). */
export type FiguresOf = (draw: readonly number[]) => Figures;

export interface Interval {
  low: number;
  high: number;
}

export interface BootstrapInterval {
  /** Coverage, e.g. 0.95. */
  level: number;
  resamples: number;
  images: number;
  /** Of the second model's figure minus the first's. */
  mean: Interval;
  /** Only categories whose figure was defined for both models in some draw. */
  categories: Record<string, Interval>;
}

/** numpy.quantile's default (linear) of sorted values. */
function quantile(sorted: readonly number[], q: number): number {
  const at = q * (sorted.length - 1);
  const below = Math.floor(at);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below]! + (at - below) * (sorted[above]! - sorted[below]!);
}

function percentileInterval(deltas: number[], level: number): Interval {
  deltas.sort((a, b) => a - b);
  return { low: quantile(deltas, (1 - level) / 2), high: quantile(deltas, (1 + level) / 2) };
}

/** The interval of `second − first` over `resamples` seeded draws of `images` images. */
export function pairedBootstrap(
  images: number,
  first: FiguresOf,
  second: FiguresOf,
  options: { resamples?: number; seed?: number; level?: number } = {},
): BootstrapInterval {
  const { resamples = 1000, seed = 0, level = 0.95 } = options;
  if (images < 1) throw new Error('a bootstrap needs at least one image');
  if (!(resamples >= 1)) throw new Error(`resamples must be at least 1 (got ${resamples})`);
  const rng = seeded(seed);
  const mean: number[] = [];
  const perCategory = new Map<string, number[]>();
  for (let r = 0; r < resamples; r++) {
    const draw = Array.from({ length: images }, () => rng.int(0, images - 1));
    const a = first(draw);
    const b = second(draw);
    if (a.mean >= 0 && b.mean >= 0) mean.push(b.mean - a.mean);
    for (const [name, value] of Object.entries(a.categories)) {
      const other = b.categories[name] ?? -1;
      if (value < 0 || other < 0) continue;
      const list = perCategory.get(name) ?? [];
      list.push(other - value);
      perCategory.set(name, list);
    }
  }
  const undefinedInterval = { low: Number.NaN, high: Number.NaN };
  return {
    level,
    resamples,
    images,
    mean: mean.length ? percentileInterval(mean, level) : undefinedInterval,
    categories: Object.fromEntries(
      [...perCategory].map(([name, deltas]) => [name, percentileInterval(deltas, level)]),
    ),
  };
}

/** One evaluation image of a detection evaluation: its ground truth and one model's boxes. */
export interface DetectionOutcome {
  /** A crowd box (COCO iscrowd) never counts as a miss, as in the evaluation. */
  truth: { category: string; box: Box; crowd?: boolean }[];
  detections: { category: string; box: Box; score: number }[];
}

const cocoBox = (b: Box) => [b.x1, b.y1, b.x2 - b.x1, b.y2 - b.y1];

/**
 * COCO AP50, overall and per category, of the drawn images: each draw position is its own image,
 * so an image drawn twice counts twice. The identity draw gives the evaluation's own AP50.
 */
export function detectionFigures(
  outcomes: readonly DetectionOutcome[],
  categories: readonly string[],
): FiguresOf {
  const id = new Map(categories.map((name, k) => [name, k + 1]));
  // Each image's asked boxes in COCO's terms once; a draw only renumbers the images.
  const coco = outcomes.map((o) => ({
    truth: o.truth
      .filter((t) => id.has(t.category))
      .map((t) => {
        const bbox = cocoBox(t.box);
        return {
          category_id: id.get(t.category)!,
          bbox,
          area: bbox[2]! * bbox[3]!,
          iscrowd: t.crowd ? 1 : 0,
        };
      }),
    detections: o.detections
      .filter((d) => id.has(d.category))
      .map((d) => ({ category_id: id.get(d.category)!, bbox: cocoBox(d.box), score: d.score })),
  }));
  return (draw) => {
    const annotations: CocoGtAnnotation[] = [];
    const detections: CocoDetection[] = [];
    draw.forEach((index, position) => {
      const image_id = position + 1;
      for (const { category_id, bbox, area, iscrowd } of coco[index]!.truth)
        annotations.push({ id: annotations.length + 1, image_id, category_id, bbox, area, iscrowd });
      for (const { category_id, bbox, score } of coco[index]!.detections)
        detections.push({ image_id, category_id, bbox, score });
    });
    const result = cocoAP50(
      {
        images: draw.map((_, position) => ({ id: position + 1 })),
        annotations,
        categories: categories.map((_, k) => ({ id: k + 1 })),
      },
      detections,
    );
    return {
      mean: result.ap50,
      categories: Object.fromEntries(categories.map((name, k) => [name, result.perCategory.get(k + 1)!])),
    };
  };
}

/** One evaluation image of a classification evaluation: its label and whether a model named it. */
export interface ClassificationOutcome {
  label: string;
  correct: boolean;
}

/** Accuracy of the drawn images, overall and per label. */
export function accuracyFigures(outcomes: readonly ClassificationOutcome[]): FiguresOf {
  return (draw) => {
    const counts = new Map<string, { right: number; all: number }>();
    let right = 0;
    for (const index of draw) {
      const { label, correct } = outcomes[index]!;
      const c = counts.get(label) ?? { right: 0, all: 0 };
      c.all++;
      if (correct) {
        c.right++;
        right++;
      }
      counts.set(label, c);
    }
    return {
      mean: draw.length ? right / draw.length : -1,
      categories: Object.fromEntries([...counts].map(([label, c]) => [label, c.right / c.all])),
    };
  };
}
