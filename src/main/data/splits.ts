/**
 * Few-shot splits, Visual-RFT's way: for each category in its stable order, k images that contain
 * it (seeded, never an image twice), and a disjoint evaluation split — the rest of the dataset, or
 * n images per category. The same seed always draws the same images.
 *
 * An image nobody has annotated yet (no box, not marked "no objects") says nothing about what is in
 * it, so it joins an evaluation split only when asked: scored as "nothing here", it would punish a
 * model for finding what is there. What the draw could not do (k images of a rare category, an
 * evaluation split with every category) comes back as warnings, for the form and the CLI to show.
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
  k: number;
  seed: number;
  /** Images per category in the evaluation split; all the rest when absent. */
  evalPerCategory?: number;
  /** Only these categories (names); all when absent. */
  categories?: string[];
  /** Let images with no box that are not marked "no objects" into the evaluation split. */
  includeUnannotated?: boolean;
}

export interface FewShotSplitOptions extends FewShotOptions {
  name: string;
  evalName: string;
}

/** One category of the dataset and where its images go. */
export interface CategoryDraw {
  name: string;
  /** Boxes of the category in the whole dataset. */
  boxes: number;
  /** Images of the dataset with at least one box of it. */
  images: number;
  /** Of those, how many the training split takes. */
  train: number;
  /** And how many are in the evaluation split. */
  evaluation: number;
}

export interface FewShotDraw {
  train: number[];
  evaluation: number[];
  /** Training images per category (at most k), by name: what the split list shows. */
  perCategory: Record<string, number>;
  /** Every category of the dataset in its stable order, including those left out. */
  categories: CategoryDraw[];
  /** Images with no box and not marked "no objects". */
  unannotated: number;
  /** What the draw could not do, each in words that say what to do about it. */
  warnings: string[];
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

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export function drawFewShot(db: Db, o: FewShotOptions): FewShotDraw {
  const imagesOf = new Map<number, Set<number>>();
  const boxesOf = new Map<number, number>();
  const annotated = new Set<number>();
  for (const a of listDatasetAnnotations(db, o.datasetId)) {
    if (!imagesOf.has(a.categoryId)) imagesOf.set(a.categoryId, new Set());
    imagesOf.get(a.categoryId)!.add(a.imageId);
    boxesOf.set(a.categoryId, (boxesOf.get(a.categoryId) ?? 0) + 1);
    annotated.add(a.imageId);
  }
  const all = listCategories(db, o.datasetId);
  const wanted = all.filter((c) => !o.categories || o.categories.includes(c.name));
  // The categories in use (with at least one box), in their stable order.
  const categories = wanted.filter((c) => imagesOf.has(c.id));
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
  const images = listImages(db, o.datasetId);
  const isUnannotated = (i: { id: number; negative: boolean }) => !i.negative && !annotated.has(i.id);
  const unannotated = images.filter(isUnannotated).length;
  const rest = images
    .filter((i) => !chosen.has(i.id) && (o.includeUnannotated || !isUnannotated(i)))
    .map((i) => i.id);
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

  const inEvaluation = new Set(evaluation);
  const count = (ids: Set<number> | undefined, within: Set<number>) =>
    [...(ids ?? [])].filter((id) => within.has(id)).length;
  const draws: CategoryDraw[] = wanted.map((c) => ({
    name: c.name,
    boxes: boxesOf.get(c.id) ?? 0,
    images: imagesOf.get(c.id)?.size ?? 0,
    train: count(imagesOf.get(c.id), chosen),
    evaluation: count(imagesOf.get(c.id), inEvaluation),
  }));

  // A category with no box at all is no warning: ShapeWorld's datasets list every shape and use
  // some; the preview shows it with its zeros.
  const warnings: string[] = [];
  for (const c of draws) {
    if (c.images > 0 && c.images < o.k)
      warnings.push(
        `"${c.name}" is in only ${plural(c.images, 'image')}, fewer than k = ${o.k}: the training split has ${c.images} of it, and the evaluation split none. Annotate more images of it or lower k.`,
      );
    else if (c.images > 0 && c.evaluation === 0)
      warnings.push(
        `The evaluation split has no image of "${c.name}": all ${plural(c.images, 'image')} with it went to training. Annotate more images of it or lower k.`,
      );
  }
  if (unannotated > 0 && !o.includeUnannotated)
    warnings.push(
      `${plural(unannotated, 'image')} with no boxes and not marked "no objects" ${
        unannotated === 1 ? 'is' : 'are'
      } left out of the evaluation split: annotate ${unannotated === 1 ? 'it' : 'them'}, mark ${
        unannotated === 1 ? 'it' : 'them'
      } "no objects", or include unannotated images.`,
    );
  return {
    train: [...chosen].sort((a, b) => a - b),
    evaluation,
    perCategory,
    categories: draws,
    unannotated,
    warnings,
  };
}

/** Draws and stores both splits in one transaction; returns their ids and what the draw warned. */
export function createFewShotSplits(
  db: Db,
  o: FewShotSplitOptions,
): { trainSplitId: number; evalSplitId: number } & FewShotDraw {
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
    includeUnannotated: o.includeUnannotated ?? false,
  };
  return transaction(db, () => ({
    ...drawn,
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
  }));
}
