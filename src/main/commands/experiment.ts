/**
 * `vrft experiment`: SFT vs RFT on the same few-shot split with the same budget — the base model,
 * an SFT run and a GRPO run each evaluated on the same evaluation split (every category asked of
 * every image), then one per-category table like Visual-RFT's. `--demo` makes everything itself:
 * ShapeWorld novel-category detection, a 4-shot split, and the shipped base model.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { importShapeWorld, writeShapeWorld } from '../data/shapeworld';
import { createFewShotSplits } from '../data/splits';
import { defaultDataDir } from '../host/paths';
import { builtInModelPath, installedPath } from '../models/installed';
import { findDatasetByName } from '../store/datasets';
import type { Db } from '../store/db';
import { findSplit } from '../store/splits';
import { ConfigError, grpoConfigSchema, parseConfig, sftConfigSchema } from '../train/config';
import { runDir } from '../train/runFiles';
import {
  failFile,
  inWorkspace,
  oneOf,
  parseUserJson,
  readUserFile,
  UsageError,
  wholeNumber,
  type Command,
  type Values,
} from './command';
import {
  compareInWorkspace,
  formatComparison,
  resamplesFlag,
  resamplesOf,
  type ComparedColumn,
} from './compare';
import { evaluate } from './eval';
import { createCheckedRun, superviseRun } from './runs';

/** The shipped base model, wherever vrft is installed. */
export const builtInModel = installedPath(builtInModelPath) ?? path.resolve(builtInModelPath);

/** The demo's data: ShapeWorld novel-category detection (or classification), imported once per seed. */
function demoDataset(db: Db, dataDir: string, seed: number, task: 'detection' | 'classification'): string {
  const name =
    task === 'detection' ? `shapeworld-novel-demo-${seed}` : `shapeworld-novel-${task}-demo-${seed}`;
  if (findDatasetByName(db, name)) return name;
  const dir = path.join(dataDir, 'datasets', name);
  // ~20 images make the 4-shot split; the other ~140 (700 questions) are the evaluation: with
  // 40 the AP of a category moved by several points between equally good models.
  writeShapeWorld({ task, images: 160, seed, out: dir, split: 'novel' });
  importShapeWorld(db, { datasetName: name, dir });
  return name;
}

async function train(
  db: Db,
  dataDir: string,
  kind: 'sft' | 'grpo',
  config: Record<string, unknown> & { dataset: string; model: string },
): Promise<number> {
  const runId = createCheckedRun(db, { kind, config }, `vrft experiment (${kind})`);
  if ((await superviseRun(runId, dataDir, false)) !== 0)
    throw new Error(`the ${kind} run ${runId} failed; see vrft train --resume ${runId}`);
  return runId;
}

/**
 * The SFT and GRPO settings an experiment trains with (the same split and step budget for both),
 * each measured on the demo: bench/demo-recipes.md keeps every recipe tried and its figures.
 */
export function experimentRecipe(task: 'detection' | 'classification', steps: number) {
  return {
    sft: {
      batchSize: 4,
      // SFT's best on the demo: at 1e-4 and 2e-4 it forgot what the base found (AP50 1.0 and
      // 1.9 against 5.6), and at 3e-4 it fit the 20 training images (bench/demo-recipes.md).
      learningRate: 5e-5,
      // The thinking is trained too, templated in the base model's own words for detection:
      // tiny-vlm finds boxes through its thinking, and SFT on an empty one made it answer from
      // memory (measured: AP50 0.0 on the demo). Untrained, its own thinking leads into an answer
      // SFT never saw, which breaks.
      trainThink: true,
      ...(task === 'detection' ? { thinkTemplate: 'Find every {category}: {objects}' } : {}),
      warmupSteps: Math.floor(steps / 20),
      checkpointEvery: 25,
    } as Record<string, unknown>,
    grpo: {
      // Positive questions only: a policy that cannot localise yet earns most from "No Objects" on
      // negatives, and GRPO then teaches it to answer that everywhere (measured: AP fell to 0).
      negativeShare: 0,
      promptsPerStep: 2,
      numGenerations: 8,
      temperature: 1,
      maxCompletionLength: 160,
      beta: 0.04,
      // The best of 5e-5 … 4e-4 on the demo, and the only rate whose RFT − base and RFT − SFT
      // intervals both excluded 0 (bench/demo-recipes.md); 2e-4 and above lost what it gained.
      learningRate: 1e-4,
      warmupSteps: Math.floor(steps / 20),
      checkpointEvery: 25,
    } as Record<string, unknown>,
  };
}

/** --recipe FILE: {"sft": {…}, "grpo": {…}} laid over the recipe (each run's config checks it). */
function recipeOverrides(values: Values): { sft: Record<string, unknown>; grpo: Record<string, unknown> } {
  if (typeof values.recipe !== 'string') return { sft: {}, grpo: {} };
  const parsed = parseUserJson(values.recipe, readUserFile(values.recipe));
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(parsed)) failFile(values.recipe, 'want an object: {"sft": {…}, "grpo": {…}}');
  const unknown = Object.keys(parsed).filter((key) => key !== 'sft' && key !== 'grpo');
  if (unknown.length > 0)
    failFile(values.recipe, `unknown key "${unknown[0]}": a recipe has "sft" and "grpo" settings`);
  for (const key of ['sft', 'grpo'] as const)
    if (parsed[key] !== undefined && !isObject(parsed[key]))
      failFile(values.recipe, `"${key}" must be an object of ${key} settings`);
  return {
    sft: (parsed.sft as Record<string, unknown>) ?? {},
    grpo: (parsed.grpo as Record<string, unknown>) ?? {},
  };
}

async function experiment(values: Values): Promise<number> {
  const dataDir = path.resolve(typeof values.data === 'string' ? values.data : defaultDataDir());
  const steps = wholeNumber(values, 'steps', 200);
  const seed = wholeNumber(values, 'seed', 0);
  const resamples = resamplesOf(values);
  const overrides = recipeOverrides(values);
  const demo = values.demo === true;
  const model = demo
    ? builtInModel
    : typeof values.base === 'string'
      ? path.resolve(values.base)
      : builtInModel;
  if (!existsSync(path.join(model, 'config.json')))
    throw new UsageError(`--base ${model} is not a model folder (no config.json there)`);
  return inWorkspace(dataDir, async (db) => {
    const task =
      values.task === undefined
        ? 'detection'
        : oneOf(values, 'task', ['detection', 'classification'] as const);
    const dataset = demo
      ? demoDataset(db, dataDir, seed, task)
      : typeof values.dataset === 'string'
        ? values.dataset
        : undefined;
    if (!dataset) throw new UsageError('--dataset NAME is required (or --demo)');
    const found = findDatasetByName(db, dataset);
    if (!found) throw new UsageError(`there is no dataset named "${dataset}" in ${dataDir}`);
    let trainSplit: string;
    let evalSplit: string;
    if (typeof values.split === 'string') {
      trainSplit = values.split;
      evalSplit = typeof values['eval-split'] === 'string' ? values['eval-split'] : `${trainSplit}-eval`;
      if (!findSplit(db, found.id, trainSplit))
        throw new UsageError(`dataset "${dataset}" has no split "${trainSplit}"`);
      if (!findSplit(db, found.id, evalSplit))
        throw new UsageError(
          `dataset "${dataset}" has no evaluation split "${evalSplit}": name it with --eval-split`,
        );
    } else {
      const k = wholeNumber(values, 'shots', demo ? 4 : undefined);
      trainSplit = `${k}-shot-seed${seed}`;
      evalSplit = `${trainSplit}-eval`;
      if (!findSplit(db, found.id, trainSplit)) {
        const drawn = createFewShotSplits(db, {
          datasetId: found.id,
          name: trainSplit,
          k,
          seed,
          evalName: evalSplit,
        });
        process.stderr.write(
          `split ${trainSplit}: ${Object.entries(drawn.perCategory)
            .map(([c, n]) => `${c} ${n}`)
            .join(', ')}\n`,
        );
      }
    }
    const common = { task, dataset, model, seed, steps, evalSplit };
    process.stderr.write(
      `experiment on "${dataset}": ${trainSplit} for training, ${evalSplit} for evaluation, ${steps} steps each\n`,
    );
    // Every model is evaluated the same way: the same split, the same task, every category asked.
    const evaluateModel = (dir: string, parentRunId: number | null = null) =>
      evaluate(db, dataDir, { task, dataset, split: evalSplit, model: dir, parentRunId });
    const recipe = experimentRecipe(task, steps);
    const configs = {
      sft: { ...common, split: trainSplit, ...recipe.sft, ...overrides.sft },
      grpo: { ...common, split: trainSplit, ...recipe.grpo, ...overrides.grpo },
    };
    // A typo in --recipe is found now, not after the base model's evaluation.
    try {
      parseConfig(sftConfigSchema, configs.sft, `${values.recipe ?? 'the recipe'} (sft)`);
      parseConfig(grpoConfigSchema, configs.grpo, `${values.recipe ?? 'the recipe'} (grpo)`);
    } catch (error) {
      if (error instanceof ConfigError) throw new UsageError(error.message);
      throw error;
    }
    const base = await evaluateModel(model);
    const sft = await train(db, dataDir, 'sft', configs.sft);
    const sftEval = await evaluateModel(path.join(runDir(dataDir, sft), 'model'), sft);
    const rft = await train(db, dataDir, 'grpo', configs.grpo);
    const rftEval = await evaluateModel(path.join(runDir(dataDir, rft), 'model'), rft);
    const columns: ComparedColumn[] = [
      { label: 'base', runId: base.runId, evaluation: base.evaluation },
      { label: 'SFT', runId: sft, evaluation: sftEval.evaluation },
      { label: 'RFT', runId: rft, evaluation: rftEval.evaluation },
    ];
    const comparison = compareInWorkspace(db, columns, resamples);
    process.stdout.write(
      values.json
        ? `${JSON.stringify({ dataset, trainSplit, evalSplit, steps, runs: { base: base.runId, sft, rft }, comparison })}\n`
        : formatComparison(comparison),
    );
    return 0;
  });
}

export const experimentCommand: Command = {
  summary: 'base vs SFT vs GRPO on one few-shot split: train both, evaluate all three, print the table',
  usage:
    'vrft experiment --dataset D (--split S [--eval-split E] | --shots K [--seed N]) [--task detection|classification] [--base MODEL] [--steps N] [--recipe FILE] [--resamples N] [--data DIR] [--json] | vrft experiment --demo [--task detection|classification] [--steps N] [--recipe FILE] [--json]',
  flags: {
    dataset: { type: 'string' },
    split: { type: 'string' },
    'eval-split': { type: 'string' },
    shots: { type: 'string' },
    seed: { type: 'string' },
    base: { type: 'string' },
    steps: { type: 'string' },
    data: { type: 'string' },
    json: { type: 'boolean' },
    demo: { type: 'boolean' },
    task: { type: 'string' },
    recipe: { type: 'string' },
    ...resamplesFlag,
  },
  run: experiment,
};
