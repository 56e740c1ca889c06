/**
 * An experiment — SFT vs RFT on the same few-shot split with the same budget: the base model, an
 * SFT run and a GRPO run, each evaluated on the same evaluation split (every category asked of every
 * image). The steps are the same from the command line (`vrft experiment`) and from the app; only
 * how a run is driven differs (a supervised trainer process, or the host's job supervisor).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { RunTask } from '../../shared/contract';
import { importShapeWorld, writeShapeWorld } from '../data/shapeworld';
import { modelKindOf } from '../models';
import { builtInModelPath, installedPath } from '../models/installed';
import type { PolicyKind } from '../models/policy';
import { findDatasetByName } from '../store/datasets';
import type { Db } from '../store/db';
import { latestEvaluationOfRun, type Evaluation } from '../store/evaluations';
import {
  createExperiment,
  setExperimentRun,
  setExperimentState,
  type ExperimentRole,
} from '../store/experiments';
import { createCheckedRun } from './createRun';
import { runDir } from './runFiles';

/** The shipped base model, wherever vrft is installed. */
export const builtInModel = installedPath(builtInModelPath) ?? path.resolve(builtInModelPath);

/** The demo's data: ShapeWorld novel-category detection (or classification), imported once per seed. */
export function demoDataset(db: Db, dataDir: string, seed: number, task: RunTask): string {
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

/**
 * The SFT and GRPO settings an experiment trains with (the same split and step budget for both),
 * each measured on the demo: bench/demo-recipes.md keeps every recipe tried and its figures.
 */
export function experimentRecipe(task: RunTask, steps: number, model: PolicyKind = 'tiny-vlm') {
  if (model !== 'tiny-vlm') return qwenRecipe(steps);
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
      ...(task === 'rec' ? { thinkTemplate: 'Locate {expression}: {objects}' } : {}),
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

/**
 * A Qwen base on one workstation: LoRA on every linear of the language model with the vision tower
 * fixed, as VLM-R1's LoRA scripts train it (r 64, lora_alpha 128, lora_dropout 0.05, learning rate
 * 1e-5); GRPO with the papers' group of 8 and β 0.04. SFT answers directly (no templated thinking:
 * a Qwen model writes its own), with the same adapters and rate.
 */
function qwenRecipe(steps: number) {
  const lora = { r: 64, lora_alpha: 128, lora_dropout: 0.05 };
  const warmupSteps = Math.floor(steps / 20);
  return {
    sft: { batchSize: 4, learningRate: 1e-5, lora, warmupSteps, checkpointEvery: 25 } as Record<
      string,
      unknown
    >,
    grpo: {
      promptsPerStep: 2,
      numGenerations: 8,
      temperature: 1,
      maxCompletionLength: 256,
      beta: 0.04,
      learningRate: 1e-5,
      lora,
      warmupSteps,
      checkpointEvery: 25,
    } as Record<string, unknown>,
  };
}

export interface ExperimentPlan {
  name: string;
  task: RunTask;
  dataset: { id: number; name: string };
  trainSplit: { id: number; name: string };
  evalSplit: { id: number; name: string };
  model: string;
  steps: number;
  seed: number;
  /** Each run's full config (the recipe with the user's overrides laid over it). */
  configs: { sft: Record<string, unknown>; grpo: Record<string, unknown> };
}

/** Which model an experiment starts from (tiny-vlm where the folder is not found: the run's check says why). */
function kindOfBase(model: string): PolicyKind {
  const dir = [path.resolve(model), installedPath(model)].find(
    (d) => d !== undefined && existsSync(path.join(d, 'config.json')),
  );
  return dir === undefined ? 'tiny-vlm' : modelKindOf(dir);
}

/** The two training configs of a plan: the recipe, then the user's overrides. */
export function experimentConfigs(
  plan: Omit<ExperimentPlan, 'configs' | 'name'>,
  overrides: { sft: Record<string, unknown>; grpo: Record<string, unknown> } = { sft: {}, grpo: {} },
): ExperimentPlan['configs'] {
  const common = {
    task: plan.task,
    dataset: plan.dataset.name,
    split: plan.trainSplit.name,
    evalSplit: plan.evalSplit.name,
    model: plan.model,
    seed: plan.seed,
    steps: plan.steps,
  };
  const recipe = experimentRecipe(plan.task, plan.steps, kindOfBase(plan.model));
  return {
    sft: { ...common, ...recipe.sft, ...overrides.sft },
    grpo: { ...common, ...recipe.grpo, ...overrides.grpo },
  };
}

export interface ExperimentDriver {
  /** Runs a created run to its end; true when it completed. */
  run(runId: number): Promise<boolean>;
  /** Says what the experiment does now (stored on the row too). */
  phase?(experimentId: number, phase: string): void;
  /** Asked between runs: stop the experiment (its finished runs stay). */
  cancelled?(): boolean;
}

export interface ExperimentResult {
  experimentId: number;
  base: { runId: number; evaluation: Evaluation };
  sft: { runId: number; evaluation: Evaluation };
  rft: { runId: number; evaluation: Evaluation };
}

class ExperimentStopped extends Error {}

/**
 * Runs the plan — base evaluation, SFT, its evaluation, GRPO, its evaluation — recording each run
 * on the experiment's row as it is created. Throws when a run fails (the row says which).
 */
export async function runExperiment(
  db: Db,
  dataDir: string,
  plan: ExperimentPlan,
  driver: ExperimentDriver,
  experimentId = startExperiment(db, plan),
): Promise<ExperimentResult> {
  const say = (phase: string) => {
    setExperimentState(db, experimentId, { status: 'running', phase });
    driver.phase?.(experimentId, phase);
  };
  const drive = async (runId: number, what: string) => {
    if (driver.cancelled?.()) throw new ExperimentStopped();
    say(`${what} (run ${runId})`);
    const completed = await driver.run(runId);
    if (driver.cancelled?.()) throw new ExperimentStopped();
    if (!completed) throw new Error(`${what} (run ${runId}) did not complete`);
  };
  // Every model is evaluated the same way: the same split, the same task, every category asked.
  const evaluate = async (model: string, what: string, parentRunId: number | null) => {
    const runId = createCheckedRun(
      db,
      {
        kind: 'eval',
        name: parentRunId === null ? `E${experimentId} ${what}` : `E${experimentId} ${what} eval`,
        config: { task: plan.task, dataset: plan.dataset.name, split: plan.evalSplit.name, model },
        parentRunId,
      },
      'experiment',
    );
    if (parentRunId === null) setExperimentRun(db, experimentId, 'base', runId);
    await drive(runId, `evaluating ${what}`);
    return { runId, evaluation: latestEvaluationOfRun(db, runId)! };
  };
  const train = async (role: Exclude<ExperimentRole, 'base'>, kind: 'sft' | 'grpo') => {
    const label = role === 'sft' ? 'SFT' : 'RFT';
    const runId = createCheckedRun(
      db,
      {
        kind,
        name: `E${experimentId} ${label}`,
        config: plan.configs[kind] as ExperimentPlan['configs']['sft'] & { dataset: string; model: string },
      },
      `experiment (${kind})`,
    );
    setExperimentRun(db, experimentId, role, runId);
    await drive(runId, `training ${label}`);
    const evaluated = await evaluate(path.join(runDir(dataDir, runId), 'model'), label, runId);
    return { runId, evaluation: evaluated.evaluation };
  };
  try {
    const base = await evaluate(plan.model, 'base', null);
    const sft = await train('sft', 'sft');
    const rft = await train('rft', 'grpo');
    setExperimentState(db, experimentId, { status: 'completed', phase: 'done' });
    driver.phase?.(experimentId, 'done');
    return { experimentId, base, sft, rft };
  } catch (error) {
    const stopped = error instanceof ExperimentStopped;
    const message = stopped ? null : error instanceof Error ? error.message : String(error);
    const phase = stopped ? 'cancelled' : 'failed';
    setExperimentState(db, experimentId, { status: stopped ? 'cancelled' : 'failed', phase, error: message });
    driver.phase?.(experimentId, phase);
    throw error;
  }
}

/** The experiment's row, before any of its runs exists. */
export function startExperiment(db: Db, plan: ExperimentPlan): number {
  return createExperiment(db, {
    name: plan.name,
    datasetId: plan.dataset.id,
    trainSplitId: plan.trainSplit.id,
    evalSplitId: plan.evalSplit.id,
    config: {
      task: plan.task,
      model: plan.model,
      steps: plan.steps,
      seed: plan.seed,
      configs: plan.configs,
      pid: process.pid,
    },
  });
}

export { ExperimentStopped };
