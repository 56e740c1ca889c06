/**
 * The Compare view's calls, spread into contract.ts's `calls`: the per-category table of runs'
 * newest evaluations (Δ and its paired-bootstrap interval, as `vrft compare` prints it) and the
 * same evaluation images answered by each run, side by side.
 */
import { z } from 'zod';

const id = z.number().int().positive();
const runIds = z.array(id).min(1).max(8);
const interval = z.object({ low: z.number(), high: z.number() });
const cell = z.object({ primary: z.number(), secondary: z.number().optional() });
const box = z.object({ x1: z.number(), y1: z.number(), x2: z.number(), y2: z.number() });

export const comparison = z.object({
  /** rec: each cell's primary is Acc@0.5 (acc50). */
  metric: z.enum(['detection', 'classification', 'rec']),
  columns: z.array(
    z.object({ label: z.string(), runId: id, evaluationRunId: id, splitName: z.string().nullable() }),
  ),
  /** category → column label → cell (−1: nothing to measure). */
  categories: z.record(z.string(), z.record(z.string(), cell)),
  mean: z.record(z.string(), cell),
  /** Δ of the last column against each earlier one, with its interval or why there is none. */
  intervals: z.array(
    z.object({
      from: z.string(),
      to: z.string(),
      unavailable: z.string().optional(),
      level: z.number().optional(),
      resamples: z.number().optional(),
      images: z.number().optional(),
      mean: interval.optional(),
      categories: z.record(z.string(), interval).optional(),
    }),
  ),
});
export type ComparisonView = z.infer<typeof comparison>;

export const answeredImage = z.object({
  imageId: id,
  path: z.string(),
  width: z.number(),
  height: z.number(),
  truth: z.array(z.object({ category: z.string(), box })),
  /** One per compared run, in column order. */
  answers: z.array(
    z.object({
      runId: id,
      boxes: z.array(z.object({ category: z.string(), box: box.nullable(), score: z.number().nullable() })),
      /** Each question's raw completion (per category asked, or the one answer for classification). */
      completions: z.array(z.object({ category: z.string(), text: z.string() })),
      /** Share of this image's questions the run got right (boxes matched at IoU ≥ 0.5, or the label). */
      figure: z.number(),
    }),
  ),
  /** The spread of the runs' figures on this image: 1 when one got all of it and another none. */
  disagreement: z.number(),
});
export type AnsweredImage = z.infer<typeof answeredImage>;

export const compareCalls = {
  'compare.table': {
    input: z
      .object({
        runIds,
        /** Column labels (e.g. base / SFT / RFT); "SFT 7" by default. */
        labels: z.array(z.string().min(1).max(60)).max(8).optional(),
        resamples: z.number().int().min(0).max(10_000).default(1000),
      })
      .strict(),
    output: comparison,
  },
  'compare.answers': {
    input: z
      .object({
        runIds,
        offset: z.number().int().nonnegative().default(0),
        limit: z.number().int().positive().max(200).default(12),
        sort: z.enum(['disagreement', 'image']).default('disagreement'),
        /** Only images where this category is in the ground truth or in some run's answer. */
        category: z.string().optional(),
      })
      .strict(),
    output: z.object({
      total: z.number().int().nonnegative(),
      categories: z.array(z.string()),
      items: z.array(answeredImage),
    }),
  },
} as const;
