/**
 * A workspace dataset (or one of its splits) as training material: its images decoded, its boxes
 * by category, and the SFT examples of detection — every category asked of every image, "No
 * Objects" where it is absent.
 */
import { readFileSync } from 'node:fs';
import type { Box } from '../../shared/boxes';
import { UserError } from '../../shared/errors';
import { seeded } from '../../shared/random';
import { oddFile } from '../data/formats/files';
import { decodeImage } from '../data/imageFiles';
import { positionPhrase } from '../data/shapeworld';
import type { Policy, RgbImage } from '../models/policy';
import { listDatasetAnnotations } from '../store/annotations';
import { listCategories, type Category } from '../store/categories';
import { findDatasetByName, type Dataset } from '../store/datasets';
import type { Db } from '../store/db';
import { listImages } from '../store/images';
import { listDatasetLabels } from '../store/labels';
import { findSplit, listSplitImageIds } from '../store/splits';
import type { GrpoPrompt } from './grpo/trainer';
import type { SftExample } from './sft';

export interface DatasetBox {
  /** The annotation's id in the workspace (absent for boxes made up in tests). */
  id?: number;
  category: string;
  box: Box;
  /** A referring expression or question naming this box ('' or absent: none). */
  expression?: string;
  /** COCO's iscrowd: a region of many objects, not one. */
  crowd?: boolean;
}

export interface DatasetImage {
  imageId: number;
  image: RgbImage;
  boxes: DatasetBox[];
  /** The image-level label (classification), when the image has one. */
  label?: string;
}

export interface LoadedDataset {
  dataset: Dataset;
  splitId: number | null;
  categories: Category[];
  /**
   * Categories with at least one box or image label in the dataset: what is asked when a run does
   * not say.
   */
  categoriesInUse: string[];
  /** Each with its file as the workspace records it. */
  images: (DatasetImage & { path: string })[];
}

export function readImage(path: string): RgbImage {
  // Replaced by a pipe since it was imported: the read would never end.
  const problem = oddFile(path);
  if (problem)
    throw new UserError(
      'invalid_input',
      `${path} ${problem}: restore the image file, or re-import the dataset.`,
    );
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new UserError(
      'not_found',
      `${path}: the image file is gone; re-import the dataset or restore the file.`,
    );
  }
  try {
    // PNG, JPEG or WebP, turned upright as the boxes were drawn on it.
    return decodeImage(bytes);
  } catch (error) {
    throw new UserError('invalid_input', `${path}: ${(error as Error).message}`);
  }
}

/** What a dataset (or split) holds, without reading a single image: enough to check a run. */
export function describeDataset(db: Db, name: string, splitName?: string) {
  const dataset = findDatasetByName(db, name);
  if (!dataset) throw new UserError('not_found', `There is no dataset named "${name}" in this workspace.`);
  let imageIds: Set<number> | undefined;
  let splitId: number | null = null;
  if (splitName) {
    const split = findSplit(db, dataset.id, splitName);
    if (!split) throw new UserError('not_found', `Dataset "${name}" has no split named "${splitName}".`);
    splitId = split.id;
    imageIds = new Set(listSplitImageIds(db, split.id));
  }
  const categories = listCategories(db, dataset.id);
  const names = new Map(categories.map((c) => [c.id, c.name]));
  const byImage = new Map<number, DatasetBox[]>();
  for (const a of listDatasetAnnotations(db, dataset.id)) {
    const list = byImage.get(a.imageId) ?? [];
    list.push({
      id: a.id,
      category: names.get(a.categoryId)!,
      box: { x1: a.x1, y1: a.y1, x2: a.x2, y2: a.y2 },
      expression: a.expression,
      crowd: a.crowd,
    });
    byImage.set(a.imageId, list);
  }
  const labels = new Map(listDatasetLabels(db, dataset.id).map((l) => [l.imageId, names.get(l.categoryId)!]));
  const imageRows = listImages(db, dataset.id).filter((img) => !imageIds || imageIds.has(img.id));
  if (imageRows.length === 0) {
    throw new UserError(
      'invalid_input',
      `Dataset "${name}"${splitName ? ` split "${splitName}"` : ''} has no images.`,
    );
  }
  // In use across the whole dataset, not just the split, so a split asks about the same categories.
  const used = new Set([...[...byImage.values()].flat().map((b) => b.category), ...labels.values()]);
  const categoriesInUse = categories.filter((c) => used.has(c.name)).map((c) => c.name);
  return { dataset, splitId, categories, categoriesInUse, imageRows, byImage, labels };
}

/** The dataset (or split) with its images decoded: what a run trains or evaluates on. */
export function loadDataset(db: Db, name: string, splitName?: string): LoadedDataset {
  const { imageRows, byImage, labels, ...described } = describeDataset(db, name, splitName);
  const images = imageRows.map((img) => ({
    imageId: img.id,
    path: img.path,
    image: readImage(img.path),
    boxes: byImage.get(img.id) ?? [],
    ...(labels.has(img.id) ? { label: labels.get(img.id)! } : {}),
  }));
  return { ...described, images };
}

/**
 * Which (image, category) questions a detection run trains on: every one with boxes, and of the
 * rest (negatives: "No Objects" is right) a seeded sample so they are at most `negativeShare` of
 * all. Asking every category of a few-shot image makes most questions negative, and a policy that
 * cannot localise yet then learns to answer "No Objects" everywhere. A category with a crowd box
 * on an image is not asked of it: a crowd region is many objects in one box, neither the one box
 * to answer nor a place with nothing to find.
 */
export function detectionQuestions(
  images: DatasetImage[],
  categories: string[],
  negativeShare: number,
  seed: number,
): DetectionQuestion[] {
  const positives: DetectionQuestion[] = [];
  const negatives: DetectionQuestion[] = [];
  for (const img of images) {
    for (const category of categories) {
      const boxes = img.boxes.filter((b) => b.category === category);
      if (boxes.some((b) => b.crowd)) continue;
      (boxes.length ? positives : negatives).push({ img, category });
    }
  }
  const keep =
    negativeShare >= 1
      ? negatives.length
      : Math.floor((positives.length * negativeShare) / (1 - negativeShare));
  const rng = seeded(seed * 31 + 7);
  const shuffled = [...negatives];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const kept = new Set(shuffled.slice(0, keep));
  const order = (q: DetectionQuestion) => q.img.imageId * categories.length + categories.indexOf(q.category);
  return [...positives, ...negatives.filter((q) => kept.has(q))].sort((a, b) => order(a) - order(b));
}

/** What building prompts and answers needs of a policy: its own prompts, frame and input size. */
export type PromptingPolicy = Pick<Policy, 'prompts' | 'frame' | 'inputSize'>;

export interface DetectionQuestion {
  img: DatasetImage;
  category: string;
}

/**
 * SFT examples of detection. The thinking is `thinkTemplate` with `{category}` and `{objects}`
 * filled in: the objects as tiny-vlm's own thinking names them ("A heart at the top left. A heart
 * in the center.", or "No Objects."), without the colour and size a dataset does not record.
 */
export function detectionExamples(
  questions: DetectionQuestion[],
  thinkTemplate: string,
  policy: PromptingPolicy,
): SftExample[] {
  return questions.map(({ img, category }) => {
    const { width, height } = img.image;
    const boxes = img.boxes
      .filter((b) => b.category === category)
      .map((b) => ({ ...b.box, label: category }));
    const objects = boxes.length
      ? boxes.map((box) => `A ${category} ${positionPhrase(box, width, height)}.`).join(' ')
      : 'No Objects.';
    return {
      image: img.image,
      prompt: policy.prompts.detection(category),
      think: thinkTemplate.replaceAll('{category}', category).replaceAll('{objects}', objects),
      answer: policy.prompts.boxesAnswer(boxes, { width, height }, policy.inputSize(img.image)),
    };
  });
}

/**
 * The one category an image shows (classification): its image-level label when it has one, else
 * its boxes' category when they all share one; none for a mixed or empty image.
 */
export function imageLabel(img: DatasetImage): string | undefined {
  if (img.label) return img.label;
  const labels = new Set(img.boxes.map((b) => b.category));
  return labels.size === 1 ? [...labels][0] : undefined;
}

/** Each category's synonyms by its name: the other answers a classification accepts. */
export function synonymsOf(categories: readonly Pick<Category, 'name' | 'synonyms'>[]) {
  return new Map(categories.map((c) => [c.name, c.synonyms]));
}

export function classificationExamples(
  images: DatasetImage[],
  thinkTemplate: string,
  policy: PromptingPolicy,
): SftExample[] {
  return images.flatMap((img) => {
    const label = imageLabel(img);
    return label
      ? [
          {
            image: img.image,
            prompt: policy.prompts.classification(),
            think: thinkTemplate.replaceAll('{category}', label),
            answer: label,
          },
        ]
      : [];
  });
}

/** GRPO prompts of classification: the label, and its category's synonyms (right answers too). */
export function classificationPrompts(
  images: DatasetImage[],
  policy: PromptingPolicy,
  synonyms: ReadonlyMap<string, readonly string[]> = new Map(),
): GrpoPrompt[] {
  return images.flatMap((img) => {
    const label = imageLabel(img);
    if (!label) return [];
    const others = synonyms.get(label) ?? [];
    return [
      {
        key: `image ${img.imageId}`,
        imageId: img.imageId,
        image: img.image,
        prompt: policy.prompts.classification(),
        solution: others.length ? { label, synonyms: [...others] } : { label },
        context: { image: { width: img.image.width, height: img.image.height } },
      },
    ];
  });
}

/** GRPO prompts of detection, the question's boxes as the solution. */
export function detectionPrompts(questions: DetectionQuestion[], policy: PromptingPolicy): GrpoPrompt[] {
  return questions.map(({ img, category }) => ({
    key: `image ${img.imageId}: ${category}`,
    imageId: img.imageId,
    image: img.image,
    prompt: policy.prompts.detection(category),
    solution: {
      boxes: img.boxes.filter((b) => b.category === category).map((b) => ({ ...b.box, label: category })),
    },
    context: {
      image: { width: img.image.width, height: img.image.height },
      resized: policy.inputSize(img.image),
      frame: policy.frame,
    },
    asked: category,
  }));
}
