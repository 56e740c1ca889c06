/**
 * The other evaluation figures: classification accuracy, referring-expression Acc@0.5, and
 * VLM-R1-style greedy precision / recall at IoU 0.5 for open-vocabulary detection.
 */
import { iou, type Box } from '../../shared/boxes';
import { labelMatches, normaliseLabel } from '../../shared/labels';

/** Share of answers that are their label or one of its synonyms (normalised, exact). */
export function classificationAccuracyOf(
  samples: { answer: string; label: string; synonyms?: string[] }[],
): number {
  if (samples.length === 0) return 0;
  return samples.filter((s) => labelMatches(s.answer, s.label, s.synonyms)).length / samples.length;
}

/** Whether a referring expression's predicted box, at this IoU with the truth, counts for Acc@0.5. */
export const recHit = (overlap: number) => overlap > 0.5;

/** Referring expressions: share of prompts whose first predicted box has IoU > 0.5 with the truth. */
export function recAccuracyAt50(samples: { predicted?: Box; truth: Box }[]): number {
  if (samples.length === 0) return 0;
  return (
    samples.filter((s) => s.predicted !== undefined && recHit(iou(s.predicted, s.truth))).length /
    samples.length
  );
}

export interface LabelledPrediction extends Box {
  label?: string;
  score?: number;
}

export interface PrecisionRecall {
  precision: number;
  recall: number;
  truePositives: number;
  predictions: number;
  groundTruth: number;
}

/**
 * Greedy one-to-one matching per image: predictions by score descending (stable) each take the
 * unmatched ground-truth box of the same label with the highest IoU, a match when IoU ≥ 0.5.
 * Precision and recall are over the whole set (matches ÷ predictions, matches ÷ ground truth).
 */
export function greedyPrecisionRecall(
  images: { predictions: LabelledPrediction[]; truth: LabelledPrediction[] }[],
  threshold = 0.5,
): PrecisionRecall {
  let truePositives = 0;
  let predictions = 0;
  let groundTruth = 0;
  for (const image of images) {
    predictions += image.predictions.length;
    groundTruth += image.truth.length;
    const taken = new Uint8Array(image.truth.length);
    const ordered = [...image.predictions].sort((a, b) => (b.score ?? 1) - (a.score ?? 1));
    for (const p of ordered) {
      const label = normaliseLabel(p.label ?? '');
      let best = -1;
      let bestIou = 0;
      image.truth.forEach((gt, g) => {
        if (taken[g] || normaliseLabel(gt.label ?? '') !== label) return;
        const value = iou(p, gt);
        if (value >= threshold && (best < 0 || value > bestIou)) {
          best = g;
          bestIou = value;
        }
      });
      if (best >= 0) {
        taken[best] = 1;
        truePositives++;
      }
    }
  }
  return {
    precision: predictions ? truePositives / predictions : 0,
    recall: groundTruth ? truePositives / groundTruth : 0,
    truePositives,
    predictions,
    groundTruth,
  };
}
