/**
 * `vrft experiment`: SFT vs RFT on the same few-shot split with the same budget — the base model,
 * an SFT run and a GRPO run each evaluated on the same evaluation split (every category asked of
 * every image), then one per-category table like Visual-RFT's. `--demo` makes everything itself:
 * ShapeWorld novel-category detection, a 4-shot split, and the shipped base model.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { tasks } from '../../shared/contract';
import { createFewShotSplits } from '../data/splits';
import { defaultDataDir } from '../host/paths';
import { findDatasetByName } from '../store/datasets';
import { findSplit } from '../store/splits';
import { checkRunRequest } from '../train/createRun';
import { builtInModel, demoDataset, experimentConfigs, runExperiment } from '../train/experiment';
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
import { superviseRun } from './runs';

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
    const task = values.task === undefined ? 'detection' : oneOf(values, 'task', tasks);
    // ShapeWorld's import keeps boxes, not expressions: the demo has no REC items.
    if (demo && task === 'rec')
      throw new UsageError(
        '--demo has no referring expressions: run --task rec on a dataset of yours with --dataset',
      );
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
        for (const warning of drawn.warnings) process.stderr.write(`warning: ${warning}\n`);
      }
    }
    process.stderr.write(
      `experiment on "${dataset}": ${trainSplit} for training, ${evalSplit} for evaluation, ${steps} steps each\n`,
    );
    const splitOf = (name: string) => ({ id: findSplit(db, found.id, name)!.id, name });
    const planned = {
      task,
      dataset: { id: found.id, name: dataset },
      trainSplit: splitOf(trainSplit),
      evalSplit: splitOf(evalSplit),
      model,
      steps,
      seed,
    };
    const configs = experimentConfigs(planned, overrides);
    // A typo in --recipe (or a reward the task cannot score) is found now, not after the base
    // model's evaluation: both runs get every check a run gets (a UserError is a usage line).
    for (const kind of ['sft', 'grpo'] as const)
      checkRunRequest(
        db,
        { kind, config: configs[kind] },
        typeof values.recipe === 'string'
          ? `${values.recipe} (${kind})`
          : `the experiment's ${kind.toUpperCase()} run`,
      );
    const name = `${dataset} ${trainSplit}, ${steps} steps`;
    const { base, sft, rft } = await runExperiment(
      db,
      dataDir,
      { ...planned, name, configs },
      { run: async (runId) => (await superviseRun(runId, dataDir, false)) === 0 },
    );
    const columns: ComparedColumn[] = [
      { label: 'base', runId: base.runId, evaluation: base.evaluation },
      { label: 'SFT', runId: sft.runId, evaluation: sft.evaluation },
      { label: 'RFT', runId: rft.runId, evaluation: rft.evaluation },
    ];
    const comparison = compareInWorkspace(db, columns, resamples);
    process.stdout.write(
      values.json
        ? `${JSON.stringify({ dataset, trainSplit, evalSplit, steps, runs: { base: base.runId, sft: sft.runId, rft: rft.runId }, comparison })}\n`
        : formatComparison(comparison),
    );
    return 0;
  });
}

export const experimentCommand: Command = {
  summary: 'base vs SFT vs GRPO on one few-shot split: train both, evaluate all three, print the table',
  usage:
    'vrft experiment --dataset D (--split S [--eval-split E] | --shots K [--seed N]) [--task detection|classification|rec] [--base MODEL] [--steps N] [--recipe FILE] [--resamples N] [--data DIR] [--json] | vrft experiment --demo [--task detection|classification] [--steps N] [--recipe FILE] [--json]',
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
