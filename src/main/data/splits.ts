/**
 * Few-shot splits, Visual-RFT's way: for each category in its stable order, k images that contain
 * it (seeded, never an image twice), and a disjoint evaluation split — the rest of the dataset, or
 * n images per category. The same seed always draws the same images.
 */
import { UserError } from '../../shared/errors';
import { seeded } from '../../shared/random';
import { listDatasetAnnotations } from '../store/annotations';
import { listCategories } from '../store/categories';
import { transaction, type Db } from '../store/db';
import { listImages } from '../store/images';
import { createSplit } from '../store/splits';

export interface FewShotOptions {
  datasetId: number;
  name: string;
  k: number;
  seed: number;
  evalName: string;
  /** Images per category in the evaluation split; all the rest when absent. */
  evalPerCategory?: number;
  /** Only these categories (names); all when absent. */
  categories?: string[];
}

function shuffled<T>(items: T[], seed: number): T[] {
  const rng = seeded(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export function drawFewShot(
  db: Db,
  o: FewShotOptions,
): { train: number[]; evaluation: number[]; perCategory: Record<string, number> } {
  const imagesOf = new Map<number, Set<number>>();
  for (const a of listDatasetAnnotations(db, o.datasetId)) {
    if (!imagesOf.has(a.categoryId)) imagesOf.set(a.categoryId, new Set());
    imagesOf.get(a.categoryId)!.add(a.imageId);
  }
  // The categories in use (with at least one box), in their stable order.
  const categories = listCategories(db, o.datasetId).filter(
    (c) => imagesOf.has(c.id) && (!o.categories || o.categories.includes(c.name)),
  );
  const chosen = new Set<number>();
  const perCategory: Record<string, number> = {};
  for (const c of categories) {
    const candidates = shuffled(
      [...(imagesOf.get(c.id) ?? [])].sort((a, b) => a - b),
      o.seed * 7919 + c.ord,
    );
    let taken = [...candidates].filter((id) => chosen.has(id)).length;
    for (const id of candidates) {
      if (taken >= o.k) break;
      if (chosen.has(id)) continue;
      chosen.add(id);
      taken++;
    }
    perCategory[c.name] = Math.min(taken, o.k);
  }
  const rest = listImages(db, o.datasetId)
    .map((i) => i.id)
    .filter((id) => !chosen.has(id));
  let evaluation = rest;
  if (o.evalPerCategory !== undefined) {
    const picked = new Set<number>();
    for (const c of categories) {
      const pool = shuffled(
        rest.filter((id) => imagesOf.get(c.id)?.has(id)),
        o.seed * 104_729 + c.ord,
      );
      for (const id of pool.slice(0, o.evalPerCategory)) picked.add(id);
    }
    evaluation = rest.filter((id) => picked.has(id));
  }
  return { train: [...chosen].sort((a, b) => a - b), evaluation, perCategory };
}

/** Draws and stores both splits in one transaction; returns their ids. */
export function createFewShotSplits(
  db: Db,
  o: FewShotOptions,
): { trainSplitId: number; evalSplitId: number; perCategory: Record<string, number> } {
  const drawn = drawFewShot(db, o);
  if (drawn.train.length === 0)
    throw new UserError('invalid_input', 'No image has a box of the chosen categories: annotate some first.');
  if (drawn.evaluation.length === 0)
    throw new UserError(
      'invalid_input',
      `After taking ${o.k} images per category none is left to evaluate on: add images or lower k.`,
    );
  const spec = {
    method: 'k-shot',
    k: o.k,
    seed: o.seed,
    categories: o.categories ?? null,
    evalPerCategory: o.evalPerCategory ?? null,
  };
  return transaction(db, () => ({
    trainSplitId: createSplit(db, {
      datasetId: o.datasetId,
      name: o.name,
      kind: 'train',
      k: o.k,
      seed: o.seed,
      spec,
      imageIds: drawn.train,
    }),
    evalSplitId: createSplit(db, {
      datasetId: o.datasetId,
      name: o.evalName,
      kind: 'eval',
      k: null,
      seed: o.seed,
      spec: { ...spec, of: o.name },
      imageIds: drawn.evaluation,
    }),
    perCategory: drawn.perCategory,
  }));
}
