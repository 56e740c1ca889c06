/**
 * The one contract between the renderer and the engine host. Every call has a name, a zod input
 * and a zod output; every event a name and a zod payload. The host registers one handler per call
 * (host/handlers.ts), the preload exposes one method per call, the browser client sends the same
 * calls over WebSocket. Adding a call is one entry here plus one handler.
 */
import { z } from 'zod';
import type { ContractErrorBody } from './errors';
import { compareCalls } from './compareContract';
import { scaleOutCalls, scaleOutSummary } from './scaleOutContract';
import { traceCalls } from './traceContract';

const id = z.number().int().positive();
/** What a run trains or evaluates: boxes by category, an image's label, or the box an expression names. */
export const tasks = ['detection', 'classification', 'rec'] as const;
export type RunTask = (typeof tasks)[number];
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

export const appInfo = z.object({
  version: z.string(),
  /** The tensor backend the trainer uses ('unknown' until the engine reports one). */
  backend: z.string(),
  /** What the status bar's hover says of it: which work the native kernels run here, and why. */
  backendDetail: z.string().optional(),
  dataDir: z.string(),
  schemaVersion: z.number().int(),
});
export type AppInfo = z.infer<typeof appInfo>;

const runStatus = z.enum(['queued', 'running', 'paused', 'completed', 'failed', 'cancelled']);

/** Something a run's trainer warned about (reward hacking, no reward spread, …), kept in the store. */
export const runWarning = z.object({ kind: z.string(), step: z.number().int(), message: z.string() });
export type RunWarning = z.infer<typeof runWarning>;

export const runSummary = z.object({
  id,
  /** The user's name for it ('' until named: the list shows "SFT 7"). */
  name: z.string(),
  kind: z.enum(['sft', 'grpo', 'eval']),
  task: z.enum(tasks),
  status: runStatus,
  error: z.string().nullable(),
  datasetId: z.number().int().nullable(),
  datasetName: z.string().nullable(),
  splitId: z.number().int().nullable(),
  splitName: z.string().nullable(),
  /** The model folder it trained (or evaluated), and a short name for it. */
  modelPath: z.string(),
  modelName: z.string(),
  parentRunId: z.number().int().nullable(),
  /** Steps the run was configured for (answers, for an evaluation). */
  steps: z.number().int().nullable(),
  /** The last step with logged metrics (answers scored, for an evaluation). */
  lastStep: z.number().int().nullable(),
  createdAt: z.number(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
  running: z.boolean(),
  /** The newest value of each headline metric (reward, loss, kl, …) at lastStep. */
  latest: z.record(z.string(), z.number()),
  warnings: z.array(runWarning),
  /** Its newest evaluation (its own for an eval run, else its newest evaluation child's). */
  evaluation: z
    .object({
      id,
      runId: id,
      splitName: z.string().nullable(),
      /** AP50 (detection), accuracy (classification) or Acc@0.5 (REC: metrics.acc50), 0–1. */
      figure: z.number(),
      figureName: z.enum(['AP50', 'accuracy', 'Acc@0.5']),
    })
    .nullable(),
  /** The experiment it belongs to, if any. */
  experimentId: z.number().int().nullable(),
  /** Where it trains when not here: TRL on a cluster (exported for scale-out); null for a local run. */
  scaleOut: scaleOutSummary.nullable(),
});
export type RunSummary = z.infer<typeof runSummary>;

export const modelKind = z.enum(['tiny-vlm', 'qwen2-vl', 'qwen2.5-vl']);
export type ModelKind = z.infer<typeof modelKind>;

export const modelListing = z.object({
  name: z.string(),
  path: z.string(),
  kind: modelKind,
  /** One line from its config.json: "Qwen2-VL · 2 layers · hidden 64". */
  description: z.string(),
  /** Shipped with vrft, a folder the workspace has used, or a finished run's model. */
  source: z.enum(['built-in', 'workspace', 'run']),
  runId: z.number().int().nullable(),
  /** Why a remembered folder cannot be used now (gone, or no longer a model); null when it can. */
  unavailable: z.string().nullable(),
});
export type ModelListing = z.infer<typeof modelListing>;

const experimentStatus = z.enum(['running', 'completed', 'failed', 'cancelled']);

export const experimentSummary = z.object({
  id,
  name: z.string(),
  datasetId: z.number().int().nullable(),
  datasetName: z.string().nullable(),
  trainSplit: z.string().nullable(),
  evalSplit: z.string().nullable(),
  steps: z.number().int(),
  /** The base model's evaluation run, the SFT and the GRPO training runs, once each exists. */
  runs: z.object({
    base: z.number().int().nullable(),
    sft: z.number().int().nullable(),
    rft: z.number().int().nullable(),
  }),
  status: experimentStatus,
  /** What it is doing now, in words. */
  phase: z.string(),
  error: z.string().nullable(),
  createdAt: z.number(),
  finishedAt: z.number().nullable(),
});
export type ExperimentSummary = z.infer<typeof experimentSummary>;

const runId = z.object({ id }).strict();

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
const ok = z.object({ ok: z.literal(true) });

export const calls = {
  'app.info': { input: z.object({}).strict(), output: appInfo },
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
  'runs.list': { input: z.object({}).strict(), output: z.array(runSummary) },
  /** Creates a run from a config (validated as `vrft train` does) and starts it in a trainer process. */
  'runs.start': {
    input: z
      .object({
        method: z.enum(['sft', 'grpo']),
        config: z.record(z.string(), z.unknown()),
        name: z.string().trim().max(200).optional(),
      })
      .strict(),
    output: z.object({ runId: id }),
  },
  'runs.pause': { input: runId, output: ok },
  'runs.resume': { input: runId, output: ok },
  'runs.cancel': { input: runId, output: ok },
  'runs.metrics': {
    input: z.object({ id, keys: z.array(z.string()).max(64).optional() }).strict(),
    output: z.record(z.string(), z.array(z.object({ step: z.number(), value: z.number() }))),
  },
  /**
   * Runs' metrics aligned on their logged steps, for charts: per run id, the steps, when each was
   * logged (ms; null for rows written before times were kept) and each key's values (null: not
   * logged at that step, or NaN).
   */
  'runs.series': {
    input: z
      .object({ ids: z.array(id).min(1).max(32), keys: z.array(z.string()).max(64).optional() })
      .strict(),
    output: z.record(
      z.string(),
      z.object({
        steps: z.array(z.number()),
        times: z.array(z.number().nullable()),
        values: z.record(z.string(), z.array(z.number().nullable())),
      }),
    ),
  },
  'runs.rename': { input: z.object({ id, name: z.string().trim().max(200) }).strict(), output: ok },
  /** Every setting of a method with its default (what the form shows before the user edits). */
  'runs.defaults': {
    input: z.object({ method: z.enum(['sft', 'grpo']) }).strict(),
    output: z.record(z.string(), z.unknown()),
  },
  'runs.checkpoints': {
    input: runId,
    output: z.array(z.object({ step: z.number().int(), createdAt: z.number() })),
  },
  /** Evaluates a finished run's model, or one of its checkpoints, on a split: a new eval run. */
  'runs.evaluate': {
    input: z
      .object({ id, splitId: id.optional(), checkpointStep: z.number().int().nonnegative().optional() })
      .strict(),
    output: z.object({ runId: id }),
  },
  /** Evaluates a model folder (the base model, say) on a split of a dataset: a new eval run. */
  'models.evaluate': {
    input: z
      .object({
        model: z.string().min(1),
        splitId: id,
        task: z.enum(tasks).default('detection'),
      })
      .strict(),
    output: z.object({ runId: id }),
  },
  /** The models a run can start from: built in, the workspace's folders (most recently used first), finished runs'. */
  'models.list': { input: z.object({}).strict(), output: z.array(modelListing) },
  /**
   * What a model folder holds, from its config.json, without loading it; an error (the message the
   * form shows before Start) when it is not a model vrft can load.
   */
  'models.inspect': {
    input: z.object({ path: z.string().trim().min(1) }).strict(),
    output: z.object({ path: z.string(), kind: modelKind, description: z.string() }),
  },
  'experiments.list': { input: z.object({}).strict(), output: z.array(experimentSummary) },
  /**
   * Base vs SFT vs RFT on one split with one budget, as `vrft experiment` does: evaluates the base
   * model, trains SFT and GRPO, evaluates each; progress as `experiment.state` and the runs' events.
   */
  'experiments.start': {
    input: z
      .object({
        splitId: id,
        /** The evaluation split; by default the train split's "-eval" sibling. */
        evalSplitId: id.optional(),
        model: z.string().min(1).optional(),
        task: z.enum(tasks).default('detection'),
        steps: z.number().int().min(1).max(100_000).default(200),
        seed: z.number().int().nonnegative().default(0),
        name: z.string().trim().max(200).optional(),
      })
      .strict(),
    output: z.object({ experimentId: id }),
  },
  /** The first screen's "Try the demo": the ShapeWorld dataset, its 4-shot split, the experiment. */
  'experiments.startDemo': { input: z.object({}).strict(), output: z.object({ experimentId: id }) },
  'experiments.cancel': { input: z.object({ id }).strict(), output: ok },
  ...traceCalls,
  ...compareCalls,
  ...scaleOutCalls,
} as const;

export const events = {
  'job.progress': z.object({
    runId: id,
    step: z.number().int().nonnegative(),
    totalSteps: z.number().int().nonnegative(),
    metrics: z.record(z.string(), z.number()),
    etaSeconds: z.number().nonnegative().nullable(),
  }),
  'job.state': z.object({ runId: id, state: runStatus, error: z.string().nullable() }),
  /** Training looks unhealthy (reward hacking, no reward spread, …): once per kind and run. */
  'job.warning': z.object({ runId: id, kind: z.string(), message: z.string() }),
  'import.progress': z.object({
    phase: z.string(),
    done: z.number().int().nonnegative(),
    total: z.number().int().nonnegative(),
  }),
  'experiment.state': z.object({
    experimentId: id,
    status: experimentStatus,
    phase: z.string(),
    error: z.string().nullable(),
  }),
  /** The tensor backend the trainer will use, once the host has found it. */
  'engine.ready': z.object({ backend: z.string(), detail: z.string(), notUsed: z.array(z.string()) }),
} as const;

export type Calls = typeof calls;
export type CallName = keyof Calls;
export type CallInput<N extends CallName> = z.input<Calls[N]['input']>;
export type CallOutput<N extends CallName> = z.output<Calls[N]['output']>;
export type EventName = keyof typeof events;
export type EventPayload<N extends EventName> = z.output<(typeof events)[N]>;

export const callNames = Object.keys(calls) as CallName[];
export const eventNames = Object.keys(events) as EventName[];

export type Envelope<T> = { ok: true; value: T } | { ok: false; error: ContractErrorBody };

/** Messages on the WebSocket: the client sends requests, the host answers and pushes events. */
export interface WireRequest {
  id: number;
  call: string;
  input: unknown;
}
export type WireMessage = { id: number; result: Envelope<unknown> } | { event: string; payload: unknown };

export function isCallName(name: string): name is CallName {
  return Object.hasOwn(calls, name);
}
