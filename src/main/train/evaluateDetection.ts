/**
 * Detection evaluation of a policy, as ALGORITHMS.md defines it: every evaluated category is asked
 * of every evaluation image (the model must answer "No Objects" where it is absent), answers are
 * parsed in the policy's frame, each box's confidence is its score, and COCO box AP is computed.
 */
import type { Box } from '../../shared/boxes';
import { evaluateCoco, type CocoDetection, type CocoGtAnnotation } from '../eval/coco';
import type { Policy, RgbImage } from '../models/policy';
import { splitCompletion } from '../rewards/completion';
import { boxToCoco } from '../rewards/frames';
import { parseBoxes } from '../rewards/parse';

export interface EvalImage {
  image: RgbImage;
  /** Ground truth per category name, pixels xyxy; a crowd box (COCO iscrowd) never counts as a miss. */
  boxes: { category: string; box: Box; crowd?: boolean }[];
}

/** One predicted box, or one answer with none (box and score null); each keeps its completion. */
export interface EvalPrediction {
  /** Index into the evaluated images. */
  image: number;
  category: string;
  box: Box | null;
  score: number | null;
  completion: string;
}

export interface DetectionEvaluation {
  predictions: EvalPrediction[];
  stats: number[];
  perCategoryAP: Record<string, number>;
  ap50PerCategory: Record<string, number>;
  formatOk: number;
  answers: number;
}

export function evaluateDetection(
  policy: Policy,
  images: EvalImage[],
  categories: string[],
  options: { maxNewTokens: number; onProgress?: (done: number, total: number) => void },
): DetectionEvaluation {
  const annotations: CocoGtAnnotation[] = [];
  images.forEach((img, i) =>
    img.boxes.forEach((b) => {
      const bbox = boxToCoco(b.box);
      annotations.push({
        id: annotations.length + 1,
        image_id: i + 1,
        category_id: categories.indexOf(b.category) + 1,
        bbox,
        area: bbox[2] * bbox[3],
        iscrowd: b.crowd ? 1 : 0,
      });
    }),
  );
  const detections: CocoDetection[] = [];
  const predictions: EvalPrediction[] = [];
  let formatOk = 0;
  let answers = 0;
  const total = images.length * categories.length;
  images.forEach((img, i) => {
    const batch = categories.map((c) => ({ image: img.image, prompt: policy.prompts.detection(c) }));
    const prepared = policy.prepare(batch);
    const samples = policy.sample(prepared, {
      n: 1,
      temperature: 0,
      topP: 1,
      maxNewTokens: options.maxNewTokens,
      seed: i,
    });
    prepared.dispose();
    samples.forEach((s) => {
      const parts = splitCompletion(s.text);
      answers++;
      if (parts.formatOk) formatOk++;
      const parsed = parseBoxes(parts.answer, {
        image: { width: img.image.width, height: img.image.height },
        resized: policy.inputSize(img.image),
        frame: policy.frame,
      });
      const category = categories[s.promptIndex]!;
      for (const box of parsed.boxes) {
        detections.push({
          image_id: i + 1,
          category_id: s.promptIndex + 1,
          bbox: boxToCoco(box),
          score: box.confidence,
        });
        const { x1, y1, x2, y2 } = box;
        predictions.push({
          image: i,
          category,
          box: { x1, y1, x2, y2 },
          score: box.confidence,
          completion: s.text,
        });
      }
      // An answer without boxes ("No Objects", or nothing parseable) is kept too, for its text.
      if (parsed.boxes.length === 0) {
        predictions.push({ image: i, category, box: null, score: null, completion: s.text });
      }
    });
    options.onProgress?.((i + 1) * categories.length, total);
  });
  const gt = {
    images: images.map((_, i) => ({ id: i + 1 })),
    annotations,
    categories: categories.map((_, k) => ({ id: k + 1 })),
  };
  const result = evaluateCoco(gt, detections);
  const perCategoryAP: Record<string, number> = {};
  const ap50PerCategory: Record<string, number> = {};
  categories.forEach((name, k) => {
    perCategoryAP[name] = result.perCategoryAP.get(k + 1) ?? -1;
    ap50PerCategory[name] = result.perCategoryAP50.get(k + 1) ?? -1;
  });
  return {
    predictions,
    stats: result.stats,
    perCategoryAP,
    ap50PerCategory,
    formatOk: answers ? formatOk / answers : 0,
    answers,
  };
}
