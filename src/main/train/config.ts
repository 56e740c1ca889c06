/**
 * Run configuration files: JSON, validated before anything runs. A typo'd key is an error that
 * names the key and its nearest valid name; every other problem names the field and what it wants.
 */
import { z } from 'zod';
import { tasks, type RunTask } from '../../shared/contract';
import { nearestName } from '../../shared/names';
import { taskRewards } from '../rewards/registry';
import type { LoraConfig } from '../models/policy';

/** What every run names: the data, the model, the categories asked. */
const target = {
  /**
   * detection: find every box of each category; classification: name the image's label (its
   * image-level label, or its boxes' one category); rec: find the one box each expression names.
   */
  task: z.enum(tasks).default('detection'),
  /** Workspace dataset (by name). */
  dataset: z.string().min(1),
  /** A split of that dataset; all its images when absent. */
  split: z.string().min(1).optional(),
  /** Folder of the model (config.json, model.safetensors, tokenizer.json). */
  model: z.string().min(1).default('resources/models/tiny-vlm-base'),
  /** Categories asked of every image; those with boxes in the dataset when absent. */
  categories: z.array(z.string().min(1)).min(1).optional(),
};

/**
 * LoRA adapters with PEFT's names and defaults (r 8, lora_alpha 8, no dropout; target_modules:
 * every linear layer of the language model when absent). `rank` / `alpha` / `dropout` /
 * `targetModules` are vrft's own names (earlier configs, and the config a run stores) and still read.
 */
const targetModules = z.union([
  z.array(z.string().min(1)).min(1),
  z.string().refine(
    (s) => {
      try {
        return Boolean(new RegExp(s));
      } catch {
        return false;
      }
    },
    { message: "a list of module names, 'all-linear', or a regular expression" },
  ),
]);
const lora = z
  .object({
    r: z.number().int().min(1).max(1024).optional(),
    lora_alpha: z.number().positive().optional(),
    lora_dropout: z.number().min(0).lt(1).optional(),
    target_modules: targetModules.optional(),
    rank: z.number().int().min(1).max(1024).optional(),
    alpha: z.number().positive().optional(),
    dropout: z.number().min(0).lt(1).optional(),
    targetModules: targetModules.optional(),
  })
  .strict()
  .transform((l): LoraConfig => ({
    rank: l.r ?? l.rank ?? 8,
    alpha: l.lora_alpha ?? l.alpha ?? 8,
    dropout: l.lora_dropout ?? l.dropout ?? 0,
    ...((l.target_modules ?? l.targetModules) !== undefined && {
      targetModules: l.target_modules ?? l.targetModules,
    }),
  }));

/** What every training run shares besides its method. */
const training = {
  ...target,
  /** The split `vrft eval --run` evaluates on when not told otherwise. */
  evalSplit: z.string().min(1).optional(),
  steps: z.number().int().min(1).max(1_000_000),
  warmupSteps: z.number().int().min(0).default(0),
  schedule: z.enum(['linear', 'cosine', 'constant']).default('linear'),
  weightDecay: z.number().min(0).default(0),
  maxGradNorm: z.number().positive().default(1),
  seed: z.number().int().min(0).default(0),
  /** Detection: the most of a run's questions that may be negatives ("No Objects" is right). */
  negativeShare: z.number().min(0).max(1).default(0.25),
  /** LoRA adapters ({r, lora_alpha, lora_dropout, target_modules}); null trains every weight. */
  lora: lora.nullable().default(null),
  /** Qwen: keep the vision tower's weights fixed (the papers' setting). */
  freezeVisionTower: z.boolean().default(true),
  /** Qwen: recompute each decoder layer's activations in the backward pass (less memory, ~⅓ more time). */
  gradientCheckpointing: z.boolean().default(false),
};

/** What an SFT thinkTemplate may name (a typo would be trained on as it is). */
const thinkPlaceholders = ['category', 'objects', 'expression'];

export const sftConfigSchema = z
  .object({
    ...training,
    batchSize: z.number().int().min(1).max(512).default(4),
    learningRate: z.number().positive().max(1).default(2e-4),
    /** Train on the thinking text too (the answer tokens always). */
    trainThink: z.boolean().default(false),
    /**
     * The thinking text of SFT targets (ALGORITHMS: empty or templated): `{category}` and
     * `{objects}` filled in, and for rec `{expression}`.
     */
    thinkTemplate: z
      .string()
      .superRefine((template, ctx) => {
        for (const [, name] of template.matchAll(/\{(\w+)\}/g)) {
          if (thinkPlaceholders.includes(name!)) continue;
          const near = nearestName(name!, thinkPlaceholders);
          ctx.addIssue({
            code: 'custom',
            message:
              `{${name}} is not filled in${near ? ` (did you mean {${near}}?)` : ''}: ` +
              `the placeholders are ${thinkPlaceholders.map((p) => `{${p}}`).join(', ')}`,
          });
        }
      })
      .default(''),
    checkpointEvery: z.number().int().min(1).default(50),
  })
  .strict();

export type SftConfig = z.output<typeof sftConfigSchema>;

/** GRPO, with TRL's names and the papers' defaults (learning rate: tiny-vlm's own). */
export const grpoConfigSchema = z
  .object({
    ...training,
    /** Prompts per step; each gets numGenerations samples. */
    promptsPerStep: z.number().int().min(1).max(256).default(2),
    numGenerations: z.number().int().min(2).max(64).default(8),
    temperature: z.number().min(0).max(5).default(1),
    topP: z.number().gt(0).max(1).default(1),
    maxCompletionLength: z.number().int().min(1).max(2048).default(256),
    beta: z.number().min(0).default(0.04),
    epsilon: z.number().gt(0).max(1).default(0.2),
    /** ε_high; ε when absent. */
    epsilonHigh: z.number().gt(0).optional(),
    numIterations: z.number().int().min(1).max(16).default(1),
    lossType: z.enum(['grpo', 'bnpo', 'dr_grpo', 'dapo']).default('grpo'),
    scaleRewards: z.enum(['group', 'batch', 'none']).default('group'),
    maskTruncated: z.boolean().default(false),
    rewards: z.record(z.string(), z.number()).optional(),
    learningRate: z.number().positive().max(1).default(1e-4),
    checkpointEvery: z.number().int().min(1).default(25),
  })
  .strict();

export type GrpoConfig = z.output<typeof grpoConfigSchema>;

/**
 * Evaluation, greedy decoding: detection asks every category of every image of the split,
 * classification each labelled image, rec each box with an expression.
 */
export const evalConfigSchema = z
  .object({
    ...target,
    maxNewTokens: z.number().int().min(1).max(4096).default(200),
    /**
     * A training checkpoint folder to evaluate (its weights over the model's; the model is then the
     * run's base folder), with the LoRA shape it trained when it had adapters.
     */
    checkpoint: z.string().min(1).optional(),
    lora: lora.nullable().default(null),
  })
  .strict();

export type EvalConfig = z.output<typeof evalConfigSchema>;

export class ConfigError extends Error {}

/** Checks a parsed config file; throws ConfigError with one line per problem. */
export function parseConfig<S extends z.ZodObject>(schema: S, data: unknown, file: string): z.output<S> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const known = keysAt(schema, issue.path);
      const where = issue.path.length ? `${issue.path.join('.')}.` : '';
      return issue.keys
        .map((key) => {
          const near = nearestName(key, known);
          return `unknown key "${where}${key}"${near ? ` (did you mean "${where}${near}"?)` : ''}`;
        })
        .join('; ');
    }
    const where = issue.path.length ? `"${issue.path.join('.')}"` : 'the config';
    return `${where}: ${issue.message}`;
  });
  throw new ConfigError(`${file}: ${problems.join('; ')}`);
}

/** The keys an object schema nested at `at` allows (through optional, nullable, default and transforms). */
function keysAt(schema: z.ZodType, at: readonly PropertyKey[]): string[] {
  let node: unknown = schema;
  const unwrap = (n: unknown): unknown => {
    for (;;) {
      const def = (n as { def?: { innerType?: unknown; in?: unknown } }).def;
      const inner = def?.innerType ?? def?.in;
      if (!inner) return n;
      n = inner;
    }
  };
  for (const key of at) {
    const shape = (unwrap(node) as { shape?: Record<string, unknown> }).shape;
    node = shape?.[String(key)];
  }
  const shape = (unwrap(node) as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape) : [];
}

/** The task a stored run config names ('detection' for configs from before there was a choice). */
export function runTaskOf(config: Record<string, unknown>): RunTask {
  return tasks.includes(config.task as RunTask) ? (config.task as RunTask) : 'detection';
}

/**
 * The rewards a task's ground truth can score: accuracy needs an image's label (classification),
 * rec_iou / rec_giou the one box an expression names (rec), the box rewards boxes (not
 * classification). A reward that does not fit fails the run mid-training, so it is refused here.
 */
const rewardTasks: Record<string, readonly RunTask[]> = {
  accuracy: ['classification'],
  rec_iou: ['rec'],
  rec_giou: ['rec'],
  iou: ['detection', 'rec'],
  confidence: ['detection', 'rec'],
  od_length: ['detection', 'rec'],
};

/** Throws ConfigError naming the first reward of `rewards` that `task` cannot score. */
export function checkRewardsFitTask(task: RunTask, rewards: Record<string, number>, file: string): void {
  for (const name of Object.keys(rewards)) {
    const fits = rewardTasks[name];
    if (fits && !fits.includes(task))
      throw new ConfigError(
        `${file}: "rewards.${name}": the ${name} reward scores task ${fits.map((t) => `"${t}"`).join(' or ')}, ` +
          `not this run's task "${task}" (its rewards: ${Object.keys(taskRewards[task]).join(', ')})`,
      );
  }
}
