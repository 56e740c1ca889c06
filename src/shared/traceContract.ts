/** The Traces view's calls (GRPO rollouts: steps, groups, search), spread into contract.ts's `calls`. */
import { z } from 'zod';

const id = z.number().int().positive();
const step = z.number().int().nonnegative();
const promptKey = z.string().min(1).max(2_000);

export const traceWarning = z.object({ kind: z.string(), step: z.number().int(), message: z.string() });

export const stepSummary = z.object({
  step: z.number().int(),
  prompts: z.number().int(),
  rollouts: z.number().int(),
  meanReward: z.number(),
  /** Mean over the step's groups of each group's reward std (Bessel-corrected). */
  rewardStd: z.number(),
  zeroStdGroups: z.number().int(),
  formatFailures: z.number().int(),
  truncated: z.number().int(),
  meanTokens: z.number(),
});
export type StepSummary = z.infer<typeof stepSummary>;

export const promptSummary = z.object({
  promptKey: z.string(),
  imageId: z.number().int().nullable(),
  prompt: z.string(),
  rollouts: z.number().int(),
  meanReward: z.number(),
  rewardStd: z.number(),
  bestAdvantage: z.number(),
  worstAdvantage: z.number(),
  formatFailures: z.number().int(),
});
export type PromptSummary = z.infer<typeof promptSummary>;

const labelledBox = z.object({
  x1: z.number(),
  y1: z.number(),
  x2: z.number(),
  y2: z.number(),
  label: z.string().optional(),
  confidence: z.number().optional(),
});

/** What the parser read of a completion (rewards/registry's ParsedAnswer), boxes in image pixels. */
export const parsedAnswer = z.object({
  think: z.string().nullable(),
  answer: z.string(),
  answerTag: z.enum(['closed', 'truncated', 'missing']),
  formatOk: z.boolean(),
  detection: z
    .object({
      dialect: z.string(),
      frame: z.string(),
      boxes: z.array(labelledBox),
      dropped: z.array(z.object({ item: z.string(), reason: z.string() })),
      notes: z.array(z.string()),
    })
    .optional(),
  label: z.string().optional(),
});
export type ParsedAnswer = z.infer<typeof parsedAnswer>;

export const traceRollout = z.object({
  id,
  sampleIndex: z.number().int(),
  completion: z.string(),
  tokens: z.number().int(),
  truncated: z.boolean(),
  /** Each reward component, unweighted. */
  rewards: z.record(z.string(), z.number()),
  /** Σ weight · component. */
  reward: z.number(),
  advantage: z.number(),
  meanLogprob: z.number().nullable(),
  /** null when the parser kept nothing (or the row predates parsing). */
  parsed: parsedAnswer.nullable(),
});
export type TraceRollout = z.infer<typeof traceRollout>;

export const rolloutGroup = z.object({
  runId: id,
  step: z.number().int(),
  promptKey: z.string(),
  prompt: z.string(),
  imageId: z.number().int().nullable(),
  /** The image's size (boxes are in its pixels); null when the image is gone. */
  image: z.object({ width: z.number(), height: z.number() }).nullable(),
  /** The category the prompt asks for (detection), if the key names one. */
  asked: z.string().nullable(),
  /** The ground truth: the image's boxes of the asked category (all of them when none is asked). */
  truth: z.array(labelledBox),
  /** The run's reward weights: total = Σ weight · component. */
  weights: z.record(z.string(), z.number()),
  rollouts: z.array(traceRollout),
});
export type RolloutGroup = z.infer<typeof rolloutGroup>;

export const traceSorts = ['advantage-desc', 'advantage-asc', 'step'] as const;

export const traceHit = z.object({
  id,
  step: z.number().int(),
  promptKey: z.string(),
  imageId: z.number().int().nullable(),
  sampleIndex: z.number().int(),
  reward: z.number(),
  advantage: z.number(),
  tokens: z.number().int(),
  truncated: z.boolean(),
  completion: z.string(),
});
export type TraceHit = z.infer<typeof traceHit>;

export const traceCalls = {
  /** A GRPO run's steps with rollouts, each summarised, and the warnings it raised by step. */
  'traces.steps': {
    input: z.object({ runId: id }).strict(),
    output: z.object({ steps: z.array(stepSummary), warnings: z.array(traceWarning) }),
  },
  /** The prompts of one step, each with its group's reward spread and advantages. */
  'traces.prompts': {
    input: z.object({ runId: id, step }).strict(),
    output: z.array(promptSummary),
  },
  /** One prompt's group at a step: G rollouts in sample order, the image's ground truth. */
  'traces.group': {
    input: z.object({ runId: id, step, promptKey }).strict(),
    output: rolloutGroup,
  },
  /** Rollouts across a run, filtered and sorted, one page at a time. */
  'traces.search': {
    input: z
      .object({
        runId: id,
        sort: z.enum(traceSorts).default('advantage-desc'),
        zeroStd: z.boolean().default(false),
        formatFailures: z.boolean().default(false),
        truncated: z.boolean().default(false),
        duplicateBoxes: z.boolean().default(false),
        text: z
          .string()
          .trim()
          .max(200)
          .refine((t) => t === '' || t.length >= 3, 'search for three characters or more')
          .optional(),
        offset: z.number().int().nonnegative().default(0),
        limit: z.number().int().positive().max(200).default(50),
      })
      .strict(),
    output: z.object({ total: z.number().int().nonnegative(), items: z.array(traceHit) }),
  },
  /** The step of another run where the same prompt was asked nearest to `step`; null if never. */
  'traces.nearest': {
    input: z.object({ runId: id, promptKey, step }).strict(),
    output: z.object({ step: z.number().int().nullable() }),
  },
} as const;
