/**
 * Experiments from the app — base vs SFT vs RFT on one split with one budget, as `vrft experiment`
 * runs them — driven by the host's job supervisor, and the first screen's demo. An experiment the
 * host was driving when it closed is marked interrupted when it opens again.
 */
import type { CallOutput, RunTask } from '../../shared/contract';
import { UserError } from '../../shared/errors';
import { createFewShotSplits } from '../data/splits';
import { getDataset, listDatasets } from '../store/datasets';
import {
  getExperiment,
  listExperiments,
  markInterruptedExperiments,
  type Experiment,
} from '../store/experiments';
import { findSplit, getSplit } from '../store/splits';
import {
  builtInModel,
  demoDataset,
  experimentConfigs,
  runExperiment,
  startExperiment,
  type ExperimentPlan,
} from '../train/experiment';
import { checkRunRequest } from '../train/createRun';
import type { Handlers } from './dispatch';
import type { HostContext } from './handlers';
import { splitOf } from './runHandlers';

type ExperimentCalls =
  'experiments.list' | 'experiments.start' | 'experiments.startDemo' | 'experiments.cancel';

function experimentSummary(ctx: HostContext, e: Experiment): CallOutput<'experiments.list'>[number] {
  const { db } = ctx;
  return {
    id: e.id,
    name: e.name,
    datasetId: e.datasetId,
    datasetName: e.datasetId === null ? null : (getDataset(db, e.datasetId)?.name ?? null),
    trainSplit: e.trainSplitId === null ? null : (getSplit(db, e.trainSplitId)?.name ?? null),
    evalSplit: e.evalSplitId === null ? null : (getSplit(db, e.evalSplitId)?.name ?? null),
    steps: typeof e.config.steps === 'number' ? e.config.steps : 0,
    runs: e.runs,
    status: e.status,
    phase: e.phase,
    error: e.error,
    createdAt: e.createdAt,
    finishedAt: e.finishedAt,
  };
}

const demoName = 'Demo: ShapeWorld novel shapes, 4-shot';

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export function createExperimentHandlers(ctx: HostContext): Pick<Handlers, ExperimentCalls> {
  const { db, jobs, dataDir } = ctx;
  markInterruptedExperiments(db, (pid) => pid !== process.pid && isAlive(pid));
  /** The experiments this host drives: whether the user asked to stop, and the run now going. */
  const driving = new Map<number, { cancelled: boolean; current: number | null }>();
  const evalSplitOf = (splitId: number) => splitOf(db, splitId);

  function launch(plan: ExperimentPlan): number {
    // Both runs' configs pass every check a run gets before the experiment (and its base evaluation) starts.
    for (const kind of ['sft', 'grpo'] as const)
      checkRunRequest(
        db,
        { kind, config: plan.configs[kind] },
        `the experiment's ${kind.toUpperCase()} settings`,
      );
    const experimentId = startExperiment(db, plan);
    const state = { cancelled: false, current: null as number | null };
    driving.set(experimentId, state);
    const announce = () => {
      const e = getExperiment(db, experimentId)!;
      ctx.broadcast('experiment.state', { experimentId, status: e.status, phase: e.phase, error: e.error });
    };
    runExperiment(
      db,
      dataDir,
      plan,
      {
        run: (runId) => {
          state.current = runId;
          return jobs.run(runId);
        },
        phase: announce,
        cancelled: () => state.cancelled,
      },
      experimentId,
    )
      .catch(() => announce())
      .finally(() => driving.delete(experimentId));
    return experimentId;
  }

  function planFor(input: {
    splitId: number;
    evalSplitId?: number;
    model?: string;
    task: RunTask;
    steps: number;
    seed: number;
    name?: string;
  }): ExperimentPlan {
    const { split, dataset } = evalSplitOf(input.splitId);
    const evalSplit =
      input.evalSplitId === undefined
        ? findSplit(db, dataset.id, `${split.name}-eval`)
        : getSplit(db, input.evalSplitId);
    if (!evalSplit)
      throw new UserError(
        'invalid_input',
        `Split "${split.name}" has no "${split.name}-eval" evaluation split: pick one.`,
      );
    if (evalSplit.datasetId !== dataset.id)
      throw new UserError('invalid_input', 'The evaluation split belongs to another dataset.');
    const planned = {
      task: input.task,
      dataset: { id: dataset.id, name: dataset.name },
      trainSplit: { id: split.id, name: split.name },
      evalSplit: { id: evalSplit.id, name: evalSplit.name },
      model: input.model ?? builtInModel,
      steps: input.steps,
      seed: input.seed,
    };
    return {
      ...planned,
      name: input.name || `${dataset.name} ${split.name}, ${input.steps} steps`,
      configs: experimentConfigs(planned),
    };
  }

  return {
    'experiments.list': () => listExperiments(db).map((e) => experimentSummary(ctx, e)),
    'experiments.start': (input) => ({ experimentId: launch(planFor(input)) }),
    'experiments.startDemo': () => {
      // Asked again while it runs (a second window, a double click): the same demo.
      const already = listExperiments(db).find((e) => driving.has(e.id) && e.name === demoName);
      if (already) return { experimentId: already.id };
      const seed = 0;
      const name = demoDataset(db, dataDir, seed, 'detection');
      const dataset = listDatasets(db).find((d) => d.name === name)!;
      const trainName = `4-shot-seed${seed}`;
      let train = findSplit(db, dataset.id, trainName);
      if (!train) {
        createFewShotSplits(db, {
          datasetId: dataset.id,
          name: trainName,
          k: 4,
          seed,
          evalName: `${trainName}-eval`,
        });
        train = findSplit(db, dataset.id, trainName)!;
      }
      const plan = planFor({
        splitId: train.id,
        task: 'detection',
        steps: 200,
        seed,
        name: demoName,
      });
      return { experimentId: launch(plan) };
    },
    'experiments.cancel': ({ id }) => {
      const state = driving.get(id);
      if (!state) throw new UserError('conflict', `Experiment ${id} is not running.`);
      state.cancelled = true;
      if (state.current !== null && jobs.isRunning(state.current)) jobs.stop(state.current, 'cancel');
      return { ok: true as const };
    },
  };
}
