/**
 * The dataset side of the contract (datasets, images, boxes, categories, splits, import and
 * export): its schemas and calls, spread into contract.ts's `calls` and re-exported from it.
 */
import { z } from 'zod';

const id = z.number().int().positive();
const ok = z.object({ ok: z.literal(true) });

const datasetName = z.string().trim().min(1, 'a dataset needs a name').max(200);

export const dataset = z.object({
  id,
  name: z.string(),
  description: z.string(),
  imageCount: z.number().int().nonnegative(),
  annotationCount: z.number().int().nonnegative(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type Dataset = z.infer<typeof dataset>;

/** Original-image pixels, xyxy, continuous: the one frame boxes are stored in. */
export const pixelBox = z
  .object({ x1: z.number(), y1: z.number(), x2: z.number(), y2: z.number() })
  .refine((b) => [b.x1, b.y1, b.x2, b.y2].every(Number.isFinite), 'box coordinates must be finite numbers')
  .refine((b) => b.x2 > b.x1 && b.y2 > b.y1, 'a box needs x2 > x1 and y2 > y1');

export const imageListing = z.object({
  id,
  path: z.string(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  verified: z.boolean(),
  negative: z.boolean(),
  boxCount: z.number().int().nonnegative(),
  /** The image-level label's category (classification); null when it has none. */
  labelId: z.number().int().nullable(),
});
export type ImageListing = z.infer<typeof imageListing>;

export const annotation = z.object({
  id,
  imageId: id,
  categoryId: id,
  x1: z.number(),
  y1: z.number(),
  x2: z.number(),
  y2: z.number(),
  /** A referring expression or question naming this one box ('' for none). */
  expression: z.string(),
  /** COCO's iscrowd. */
  crowd: z.boolean(),
  source: z.enum(['human', 'model']),
});
export type Annotation = z.infer<typeof annotation>;

export const category = z.object({
  id,
  datasetId: id,
  name: z.string(),
  ord: z.number().int(),
  color: z.string().nullable(),
  synonyms: z.array(z.string()),
});
export type Category = z.infer<typeof category>;

export const splitListing = z.object({
  id,
  name: z.string(),
  kind: z.enum(['train', 'eval']),
  k: z.number().int().nullable(),
  seed: z.number().int().nullable(),
  imageCount: z.number().int().nonnegative(),
  perCategory: z.record(z.string(), z.number().int()),
});
export type SplitListing = z.infer<typeof splitListing>;

/** What a few-shot draw does (or would do) for k and a seed: per category, and what it could not do. */
export const fewShotDraw = z.object({
  /** Every category of the dataset in order: its boxes and images, and how many go to each split. */
  categories: z.array(
    z.object({
      name: z.string(),
      boxes: z.number().int().nonnegative(),
      images: z.number().int().nonnegative(),
      train: z.number().int().nonnegative(),
      evaluation: z.number().int().nonnegative(),
    }),
  ),
  trainImages: z.number().int().nonnegative(),
  evalImages: z.number().int().nonnegative(),
  /** Images with no box and not marked "no objects": out of evaluation unless included. */
  unannotated: z.number().int().nonnegative(),
  warnings: z.array(z.string()),
});
export type FewShotDraw = z.infer<typeof fewShotDraw>;
const fewShotInput = {
  datasetId: id,
  k: z.number().int().min(1).max(10_000),
  seed: z
    .number()
    .int()
    .nonnegative()
    .max(2 ** 31),
  evalPerCategory: z.number().int().positive().max(100_000).optional(),
  includeUnannotated: z.boolean().default(false),
};

export const importFormats = [
  'auto',
  'folder',
  'coco',
  'yolo',
  'voc',
  'visualrft',
  'vlmr1',
  'hf',
  'lisa',
] as const;
export const exportFormats = ['coco', 'yolo', 'voc', 'visualrft', 'vlmr1', 'lisa'] as const;

export const importReport = z.object({
  datasetId: id,
  format: z.string(),
  images: z.number().int().nonnegative(),
  annotations: z.number().int().nonnegative(),
  categories: z.number().int().nonnegative(),
  duplicates: z.array(z.object({ path: z.string(), sameAs: z.string() })),
  skipped: z.array(z.object({ path: z.string(), reason: z.string() })),
  warnings: z.array(z.string()),
  /** Boxes with a referring expression or question (REC, LISA). */
  expressions: z.number().int().nonnegative(),
  /** Images given an image-level label (classification). */
  labels: z.number().int().nonnegative(),
  /** Boxes kept as crowd regions (COCO iscrowd). */
  crowd: z.number().int().nonnegative(),
  /** Lines of the file left out, each with why. */
  skippedLines: z.array(z.object({ where: z.string(), reason: z.string() })),
});
export type ImportReport = z.infer<typeof importReport>;

/** A referring expression (a phrase) or a LISA-style question about one box. */
const expression = z.string().max(2000, 'an expression is at most 2,000 characters');
const categoryName = z.string().trim().min(1, 'a category needs a name').max(200);
const color = z.string().regex(/^#[0-9a-f]{6}$/i, 'a colour is #rrggbb');

export const datasetCalls = {
  'datasets.list': { input: z.object({}).strict(), output: z.array(dataset) },
  'datasets.create': {
    input: z.object({ name: datasetName, description: z.string().max(10_000).default('') }).strict(),
    output: dataset,
  },
  'datasets.rename': { input: z.object({ id, name: datasetName }).strict(), output: dataset },
  'datasets.delete': {
    input: z.object({ id }).strict(),
    output: z.object({ deleted: z.literal(true) }),
  },
  /** One page of a dataset's images (import order) and the filtered total. */
  'images.list': {
    input: z
      .object({
        datasetId: id,
        offset: z.number().int().nonnegative().default(0),
        limit: z.number().int().positive().max(500).default(100),
        filter: z.enum(['all', 'unlabelled', 'labelled', 'verified', 'negative']).default('all'),
        splitId: id.optional(),
      })
      .strict(),
    output: z.object({ total: z.number().int().nonnegative(), items: z.array(imageListing) }),
  },
  /** The image file (or its cached thumbnail), base64: the renderer shows it as a blob URL. */
  'images.file': {
    input: z.object({ id, thumbnail: z.boolean().default(false) }).strict(),
    output: z.object({ mime: z.string(), base64: z.string() }),
  },
  /** One image's listing and its place in its dataset ("12 / 480"). */
  'images.get': {
    input: z.object({ id }).strict(),
    output: z.object({
      image: imageListing,
      index: z.number().int().positive(),
      total: z.number().int().positive(),
    }),
  },
  'images.setFlags': {
    input: z.object({ id, verified: z.boolean().optional(), negative: z.boolean().optional() }).strict(),
    output: imageListing,
  },
  /** Sets (or, with null, clears) the image's image-level label (classification). */
  'images.setLabel': {
    input: z.object({ id, categoryId: id.nullable() }).strict(),
    output: imageListing,
  },
  /** The image before or after this one in import order; null at either end. */
  'images.neighbour': {
    input: z.object({ id, direction: z.union([z.literal(1), z.literal(-1)]) }).strict(),
    output: z.object({ id: id.nullable() }),
  },
  'annotations.list': { input: z.object({ imageId: id }).strict(), output: z.array(annotation) },
  'annotations.add': {
    input: z
      .object({ imageId: id, categoryId: id, box: pixelBox, expression: expression.optional() })
      .strict(),
    output: annotation,
  },
  'annotations.update': {
    input: z
      .object({
        id,
        box: pixelBox.optional(),
        categoryId: id.optional(),
        expression: expression.optional(),
        crowd: z.boolean().optional(),
      })
      .strict(),
    output: annotation,
  },
  'annotations.delete': { input: z.object({ id }).strict(), output: ok },
  /** Sets an image's boxes to exactly these (undo, redo, copy from the previous image). */
  'annotations.replace': {
    input: z
      .object({
        imageId: id,
        boxes: z
          .array(
            z.object({
              categoryId: id,
              box: pixelBox,
              expression: expression.optional(),
              crowd: z.boolean().optional(),
            }),
          )
          .max(10_000),
      })
      .strict(),
    output: z.array(annotation),
  },
  'categories.list': { input: z.object({ datasetId: id }).strict(), output: z.array(category) },
  'categories.add': {
    input: z.object({ datasetId: id, name: categoryName, color: color.optional() }).strict(),
    output: category,
  },
  'categories.update': {
    input: z
      .object({
        id,
        name: categoryName.optional(),
        color: color.optional(),
        synonyms: z.array(z.string().max(200)).max(100).optional(),
      })
      .strict(),
    output: category,
  },
  /** Moves every box of `id` to `into` and deletes `id`. */
  'categories.merge': { input: z.object({ id, into: id }).strict(), output: category },
  'categories.reorder': {
    input: z.object({ datasetId: id, ids: z.array(id).max(10_000) }).strict(),
    output: z.array(category),
  },
  'categories.delete': { input: z.object({ id }).strict(), output: ok },
  'splits.list': { input: z.object({ datasetId: id }).strict(), output: z.array(splitListing) },
  /** What `splits.createFewShot` would draw for these settings, without storing anything. */
  'splits.previewFewShot': { input: z.object(fewShotInput).strict(), output: fewShotDraw },
  /** Visual-RFT few-shot sampling: k images per category and a disjoint evaluation split. */
  'splits.createFewShot': {
    input: z
      .object({
        ...fewShotInput,
        name: z.string().trim().min(1, 'a split needs a name').max(200),
        evalName: z.string().trim().min(1, 'the evaluation split needs a name').max(200),
      })
      .strict(),
    output: z.object({ splits: z.array(splitListing), draw: fewShotDraw }),
  },
  'splits.delete': { input: z.object({ id }).strict(), output: ok },
  /** Imports a folder or annotation file as a new dataset; progress arrives as `import.progress`. */
  'datasets.import': {
    input: z
      .object({ path: z.string().min(1), name: datasetName, format: z.enum(importFormats).default('auto') })
      .strict(),
    output: importReport,
  },
  'datasets.cancelImport': { input: z.object({}).strict(), output: ok },
  'datasets.export': {
    input: z
      .object({
        datasetId: id,
        splitId: id.optional(),
        format: z.enum(exportFormats),
        out: z.string().min(1),
        /** Visual-RFT: detection records, or one classification record per labelled image. */
        task: z.enum(['detection', 'classification']).optional(),
        /** Visual-RFT: also the 'No Objects' records (upstream scores them 0). */
        negatives: z.boolean().optional(),
        /** VLM-R1: boxes in original pixels or in Qwen2.5-VL's resized input. */
        frame: z.enum(['pixels', 'resized']).optional(),
        /** Replace an existing file / write into a non-empty folder (the app asks first). */
        force: z.boolean().optional(),
      })
      .strict(),
    output: z.object({
      images: z.number().int(),
      annotations: z.number().int(),
      files: z.array(z.string()),
      crowdLeftOut: z.number().int(),
    }),
  },
};
