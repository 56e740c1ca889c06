/**
 * REC evaluation (VLM-R1): every expression asked of its image (greedy decoding), the predicted box
 * the first box the rec_iou reward reads from a closed answer, scored by its IoU with the one true
 * box; Acc@0.5 is the share of items with IoU > 0.5 (ALGORITHMS.md; VLM-R1's test_rec_r1.py
 * counts `iou > 0.5`), overall and per category.
 */
import { iou, type Box } from '../../shared/boxes';
import { recHit } from '../eval/metrics';
import type { Policy } from '../models/policy';
import { splitCompletion } from '../rewards/completion';
import { parseFirstBox } from '../rewards/parse';
import type { RecItem } from './recExamples';

export interface RecEvaluation {
  /** Share of items whose predicted box has IoU > 0.5 with the truth. */
  acc50: number;
  meanIoU: number;
  formatOk: number;
  answers: number;
  perCategory: Record<string, { acc50: number; items: number }>;
  predictions: { item: number; category: string; box: Box | null; iou: number; completion: string }[];
}

export function evaluateRec(
  policy: Policy,
  items: RecItem[],
  options: { maxNewTokens: number; onProgress?: (done: number, total: number) => void },
): RecEvaluation {
  const predictions: RecEvaluation['predictions'] = [];
  let formatOk = 0;
  // One batch per image: its expressions share the image's encoding.
  const byImage = new Map<number, number[]>();
  items.forEach((item, i) => {
    const list = byImage.get(item.img.imageId) ?? [];
    list.push(i);
    byImage.set(item.img.imageId, list);
  });
  let seed = 0;
  for (const indices of byImage.values()) {
    const { image } = items[indices[0]!]!.img;
    const prepared = policy.prepare(
      indices.map((i) => ({ image, prompt: policy.prompts.rec(items[i]!.expression) })),
    );
    const samples = policy.sample(prepared, {
      n: 1,
      temperature: 0,
      topP: 1,
      maxNewTokens: options.maxNewTokens,
      seed: seed++,
    });
    prepared.dispose();
    for (const s of samples) {
      const index = indices[s.promptIndex]!;
      const item = items[index]!;
      const parts = splitCompletion(s.text);
      if (parts.formatOk) formatOk++;
      const context = {
        image: { width: image.width, height: image.height },
        resized: policy.inputSize(image),
        frame: policy.frame,
      };
      const found = parts.answerTag === 'closed' ? parseFirstBox(parts.answer, context) : undefined;
      const box = found ? { x1: found.x1, y1: found.y1, x2: found.x2, y2: found.y2 } : null;
      predictions.push({
        item: index,
        category: item.category,
        box,
        iou: box ? iou(box, item.box) : 0,
        completion: s.text,
      });
    }
    options.onProgress?.(predictions.length, items.length);
  }
  predictions.sort((a, b) => a.item - b.item);
  const perCategory: RecEvaluation['perCategory'] = {};
  for (const p of predictions) {
    const c = (perCategory[p.category] ??= { acc50: 0, items: 0 });
    c.acc50 += Number(recHit(p.iou));
    c.items++;
  }
  for (const c of Object.values(perCategory)) c.acc50 /= c.items;
  const n = predictions.length;
  return {
    acc50: n ? predictions.filter((p) => recHit(p.iou)).length / n : 0,
    meanIoU: n ? predictions.reduce((sum, p) => sum + p.iou, 0) / n : 0,
    formatOk: n ? formatOk / n : 0,
    answers: n,
    perCategory,
    predictions,
  };
}
