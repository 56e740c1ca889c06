/**
 * Visual-RFT's detection reward = IoU reward + confidence reward + format reward, in [0, 3].
 * Predictions, by confidence descending (stable), each take the unmatched ground-truth box of
 * highest IoU; an IoU strictly above 0.5 is a match and consumes that box.
 */
import type { Box } from '../../shared/boxes';
import type { PredictedBox } from './parse';

export interface DetectionMatch {
  /** Per prediction, in the caller's order: the IoU it matched with, or 0. */
  matchedIou: number[];
  iouReward: number;
  confidenceReward: number;
}

/**
 * `explicitlyEmpty` says the answer said "No Objects" (or `[]`); only that earns the
 * negative-image reward. An answer with no readable boxes is not a claim that there are none.
 */
export function matchDetections(
  predictions: PredictedBox[],
  truth: Box[],
  explicitlyEmpty: boolean,
): DetectionMatch {
  if (predictions.length === 0) {
    const correctNegative = truth.length === 0 && explicitlyEmpty ? 1 : 0;
    return { matchedIou: [], iouReward: correctNegative, confidenceReward: correctNegative };
  }
  const order = predictions
    .map((_, i) => i)
    .sort((a, b) => predictions[b]!.confidence - predictions[a]!.confidence);
  const taken = new Uint8Array(truth.length);
  const matchedIou = new Array<number>(predictions.length).fill(0);
  let iouSum = 0;
  let confidenceSum = 0;
  for (const p of order) {
    const prediction = predictions[p]!;
    let best = -1;
    let bestIou = 0;
    const pArea = (prediction.x2 - prediction.x1) * (prediction.y2 - prediction.y1);
    for (let g = 0; g < truth.length; g++) {
      if (taken[g]) continue;
      const gt = truth[g]!;
      // iou() written out: this loop runs G × P times per rollout.
      const w = Math.min(prediction.x2, gt.x2) - Math.max(prediction.x1, gt.x1);
      const h = Math.min(prediction.y2, gt.y2) - Math.max(prediction.y1, gt.y1);
      const inter = w > 0 && h > 0 ? w * h : 0;
      const union = pArea + (gt.x2 - gt.x1) * (gt.y2 - gt.y1) - inter;
      const value = union > 0 ? inter / union : 0;
      if (best < 0 || value > bestIou) {
        best = g;
        bestIou = value;
      }
    }
    const matched = best >= 0 && bestIou > 0.5;
    if (matched) {
      taken[best] = 1;
      matchedIou[p] = bestIou;
      iouSum += bestIou;
    }
    confidenceSum += matched ? prediction.confidence : 1 - prediction.confidence;
  }
  return {
    matchedIou,
    iouReward: Math.min(1, iouSum / Math.max(truth.length, predictions.length)),
    confidenceReward: confidenceSum / predictions.length,
  };
}
