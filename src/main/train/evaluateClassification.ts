/**
 * Classification evaluation: every image with a label (its image-level label, else the one
 * category its boxes share) asked what it shows (greedy decoding), the answer right iff it is the
 * label or one of its category's synonyms after normalisation (ALGORITHMS.md) — accuracy overall
 * and per category.
 */
import { labelMatches } from '../../shared/labels';
import type { Policy } from '../models/policy';
import { splitCompletion } from '../rewards/completion';
import { imageLabel, type DatasetImage } from './datasetExamples';

export interface ClassificationEvaluation {
  accuracy: number;
  formatOk: number;
  answers: number;
  perCategory: Record<string, { accuracy: number; images: number }>;
  predictions: { image: number; label: string; completion: string; correct: boolean }[];
}

export function evaluateClassification(
  policy: Policy,
  images: DatasetImage[],
  options: {
    maxNewTokens: number;
    /** Other right answers per category name. */
    synonyms?: ReadonlyMap<string, readonly string[]>;
    onProgress?: (done: number, total: number) => void;
  },
): ClassificationEvaluation {
  const predictions: ClassificationEvaluation['predictions'] = [];
  let formatOk = 0;
  images.forEach((img, i) => {
    const label = imageLabel(img);
    if (label === undefined) return; // no label and not a one-category image: nothing to classify
    const prepared = policy.prepare([{ image: img.image, prompt: policy.prompts.classification() }]);
    const [sample] = policy.sample(prepared, {
      n: 1,
      temperature: 0,
      topP: 1,
      maxNewTokens: options.maxNewTokens,
      seed: i,
    });
    prepared.dispose();
    const parts = splitCompletion(sample!.text);
    if (parts.formatOk) formatOk++;
    predictions.push({
      image: i,
      label,
      completion: sample!.text,
      correct: labelMatches(parts.answer, label, options.synonyms?.get(label)),
    });
    options.onProgress?.(i + 1, images.length);
  });
  const perCategory: ClassificationEvaluation['perCategory'] = {};
  for (const p of predictions) {
    const c = (perCategory[p.label] ??= { accuracy: 0, images: 0 });
    c.accuracy += Number(p.correct);
    c.images++;
  }
  for (const c of Object.values(perCategory)) c.accuracy /= c.images;
  const n = predictions.length;
  return {
    accuracy: n ? predictions.filter((p) => p.correct).length / n : 0,
    formatOk: n ? formatOk / n : 0,
    answers: n,
    perCategory,
    predictions,
  };
}
