/**
 * VLM-R1's odLength reward for open-vocabulary detection: mAP × s, where mAP is the COCO
 * AP@[.5:.95] of the labelled predictions against this one image's ground truth (every prediction
 * scores 1.0; labels not among the asked categories are dropped) and s = 1 if N_gt ≥ N_pred, else
 * N_gt / N_pred, so answering with more boxes than there are objects costs. Both lists empty → 1;
 * exactly one empty → 0.
 */
import { cocoMeanAP, type CocoGtAnnotation } from '../eval/coco';
import { boxToCoco } from './frames';
import { normaliseLabel } from '../../shared/labels';
import type { PredictedBox } from './parse';
import type { Box } from '../../shared/boxes';

export interface LabelledBox extends Box {
  label?: string;
}

export function odLengthReward(
  predictions: PredictedBox[],
  truth: LabelledBox[],
  askedCategories: string[],
): number {
  const asked = [...new Set(askedCategories.map(normaliseLabel))];
  const kept = predictions.filter((p) => p.label !== undefined && asked.includes(normaliseLabel(p.label)));
  if (kept.length === 0 && truth.length === 0) return 1;
  if (kept.length === 0 || truth.length === 0) return 0;
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

  const lengthFactor = truth.length >= kept.length ? 1 : truth.length / kept.length;
  return Math.max(0, map) * lengthFactor;
}
