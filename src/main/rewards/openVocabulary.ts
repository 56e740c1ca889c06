/**
 * VLM-R1's odLength reward for open-vocabulary detection (grpo_jsonl.py, odLength_reward and
 * map_reward): mAP × s, where mAP is the COCO AP@[.5:.95] of the labelled predictions against this
 * one image's ground truth (every prediction scores 1.0; a box whose label is not among the asked
 * categories takes no part in the AP) and s = 1 if N_gt ≥ N_pred, else N_gt / N_pred. N_pred counts
 * every box the model wrote (unasked, unlabelled, unreadable and duplicate ones too), so an extra box
 * is never free. Nothing written and no ground truth → 1; exactly one of them empty → 0, so any box
 * on a negative image scores 0.
 */
import { cocoMeanAP, type CocoGtAnnotation } from '../eval/coco';
import { boxToCoco } from './frames';
import { normaliseLabel } from '../../shared/labels';
import type { PredictedBox } from './parse';
import type { Box } from '../../shared/boxes';

export interface LabelledBox extends Box {
  label?: string;
}

/**
 * `predictions`: every readable box in the order written, duplicates included (each is one more
 * false positive, as upstream scores it); `written`: how many boxes the model wrote in all.
 */
export function odLengthReward(
  predictions: PredictedBox[],
  written: number,
  truth: LabelledBox[],
  askedCategories: string[],
): number {
  const asked = [...new Set(askedCategories.map(normaliseLabel))];
  const nPred = Math.max(written, predictions.length);
  if (nPred === 0 && truth.length === 0) return 1;
  if (nPred === 0 || truth.length === 0) return 0;
  const kept = predictions.filter((p) => p.label !== undefined && asked.includes(normaliseLabel(p.label)));
  if (kept.length === 0) return 0;
  const categoryId = (label: string | undefined) => asked.indexOf(normaliseLabel(label ?? '')) + 1;
  const annotations: CocoGtAnnotation[] = truth.map((gt, i) => {
    const bbox = boxToCoco(gt);
    return {
      id: i + 1,
      image_id: 1,
      category_id: categoryId(gt.label),
      bbox,
      area: bbox[2] * bbox[3],
      iscrowd: 0,
    };
  });
  const map = cocoMeanAP(
    { images: [{ id: 1 }], annotations, categories: asked.map((_, i) => ({ id: i + 1 })) },
    kept.map((p) => ({ image_id: 1, category_id: categoryId(p.label), bbox: boxToCoco(p), score: 1 })),
  );

  const lengthFactor = truth.length >= nPred ? 1 : truth.length / nPred;
  return Math.max(0, map) * lengthFactor;
}
