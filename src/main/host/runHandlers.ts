/**
 * The Train view's services behind the contract: runs (listed with everything the list shows,
 * started, named, evaluated, charted) and evaluating a model folder.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../shared/errors';
import type { RunSummary } from '../../shared/contract';
import { checkRewardWeights } from '../rewards/registry';
import { getDataset } from '../store/datasets';
import type { Db } from '../store/db';
import { latestEvaluationOfRun } from '../store/evaluations';
import { listExperiments } from '../store/experiments';
import {
  getRun,
  listCheckpoints,
  listRuns,
  listRunWarnings,
  metricsAtStep,
  metricSeries,
  renameRun,
  type Run,
} from '../store/runs';
import { findSplit, getSplit } from '../store/splits';
import { ConfigError, grpoConfigSchema, parseConfig, runTaskOf, sftConfigSchema } from '../train/config';
import { createCheckedRun } from '../train/createRun';
import { runDir } from '../train/runFiles';
import type { Handlers } from './dispatch';
import type { HostContext } from './handlers';
import { scaleOutOf } from './scaleOutHandlers';

type RunCalls =
  | 'runs.list'
  | 'runs.start'
  | 'runs.series'
  | 'runs.rename'
  | 'runs.defaults'
  | 'runs.checkpoints'
  | 'runs.evaluate'
  | 'models.evaluate';

/** A split by id, and its dataset; a clear message when it is gone. */
export function splitOf(db: Db, splitId: number) {
  const split = getSplit(db, splitId);
  if (!split) throw new UserError('not_found', `Split ${splitId} does not exist.`);
  return { split, dataset: getDataset(db, split.datasetId)! };
}

/** A method's settings checked against its schema (nearest-name hints); runs.defaults fills them in. */
export function checkedConfig(method: 'sft' | 'grpo', config: unknown, source = 'config') {
  try {
    const parsed =
      method === 'grpo'
        ? parseConfig(grpoConfigSchema, config, source)
        : parseConfig(sftConfigSchema, config, source);
    if ('rewards' in parsed && parsed.rewards) checkRewardWeights(parsed.rewards);
    return parsed;
  } catch (error) {
    if (error instanceof ConfigError) throw new UserError('invalid_input', error.message);
    throw error;
  }
}

/** What the list shows of a run's last step: the training figures, not timings or warning flags. */
const isHeadline = (key: string) => !key.startsWith('time/') && !key.startsWith('warnings/');

/** A run's own model folder (runs/ID/model) reads "run ID"; any other folder by its name. */
const modelName = (dir: string) => {
  const run = /[\\/]runs[\\/](\d+)[\\/]model$/.exec(dir);
  return run ? `run ${run[1]}` : path.basename(dir);
};

/** An evaluation's headline figure: REC's Acc@0.5, classification's accuracy, or detection's AP50. */
function evaluationFigure(metrics: Record<string, number>): {
  figure: number;
  figureName: 'AP50' | 'accuracy' | 'Acc@0.5';
} {
  if (metrics.acc50 !== undefined) return { figure: metrics.acc50, figureName: 'Acc@0.5' };
  if (metrics.accuracy !== undefined) return { figure: metrics.accuracy, figureName: 'accuracy' };
  return { figure: metrics.AP50 ?? 0, figureName: 'AP50' };
}

export function runSummary(
  ctx: HostContext,
  run: Run & { lastStep: number | null },
  experimentOf: Map<number, number>,
): RunSummary {
  const { db, jobs } = ctx;
  const dataset = run.datasetId === null ? undefined : getDataset(db, run.datasetId);
  const split = run.splitId === null ? undefined : getSplit(db, run.splitId);
  const evaluation =
    run.kind === 'eval' || run.status === 'completed' ? latestEvaluationOfRun(db, run.id) : undefined;
  const latest =
    run.lastStep === null
      ? {}
      : Object.fromEntries(
          Object.entries(metricsAtStep(db, run.id, run.lastStep)).filter(
            ([key, value]) => isHeadline(key) && Number.isFinite(value),
          ),
        );
  const config = run.config;
  const checkpoint = typeof config.checkpoint === 'string' ? config.checkpoint : undefined;
  const modelPath = typeof config.model === 'string' ? config.model : '';
  return {
    id: run.id,
    name: run.name,
    kind: run.kind,
    task: runTaskOf(config),
    status: run.status,
    error: run.error,
    datasetId: run.datasetId,
    datasetName: dataset?.name ?? null,
    splitId: run.splitId,
    splitName: split?.name ?? null,
    modelPath: checkpoint ?? modelPath,
    modelName: checkpoint ? `${modelName(modelPath)} @ ${path.basename(checkpoint)}` : modelName(modelPath),
    parentRunId: run.parentRunId,
    steps:
      typeof config.steps === 'number'
        ? config.steps
        : latest.answers_total !== undefined
          ? latest.answers_total
          : null,
    lastStep: run.lastStep,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    running: jobs.isRunning(run.id),
    latest,
    warnings: listRunWarnings(db, run.id),
    evaluation: evaluation
      ? {
          id: evaluation.id,
          runId: evaluation.runId,
          splitName: evaluation.splitId === null ? null : (getSplit(db, evaluation.splitId)?.name ?? null),
          ...evaluationFigure(evaluation.metrics),
        }
      : null,
    experimentId:
      experimentOf.get(run.id) ??
      (run.parentRunId === null ? null : (experimentOf.get(run.parentRunId) ?? null)),
    scaleOut: scaleOutOf(config),
  };
}

export function createRunHandlers(ctx: HostContext): Pick<Handlers, RunCalls> {
  const { db, jobs, dataDir } = ctx;
  const evalSplitOf = (splitId: number) => splitOf(db, splitId);

  const startEvaluation = (request: Parameters<typeof createCheckedRun>[1]) => {
    const runId = createCheckedRun(db, request, 'evaluation');
    jobs.start(runId);
    return { runId };
  };

  return {
    'runs.list': () => {
      const experimentOf = new Map<number, number>();
      for (const e of listExperiments(db))
        for (const runId of Object.values(e.runs)) if (runId !== null) experimentOf.set(runId, e.id);
      return listRuns(db).map((run) => runSummary(ctx, run, experimentOf));
    },
    'runs.start': ({ method, config, name }) => {
      // The checks `vrft train` makes of a config file, all of them: a bad config creates no run.
      const runId = createCheckedRun(db, { kind: method, name, config }, 'config');
      jobs.start(runId);
      return { runId };
    },
    'runs.series': ({ ids, keys }) =>
      Object.fromEntries(ids.map((id) => [String(id), metricSeries(db, id, keys)])),
    'runs.rename': ({ id, name }) => {
      if (!renameRun(db, id, name)) throw new UserError('not_found', `Run ${id} does not exist.`);
      return { ok: true as const };
    },
    'runs.defaults': ({ method }) => {
      const {
        dataset: _d,
        model: _m,
        ...defaults
      } = checkedConfig(method, { dataset: '-', model: '-', steps: 200 });
      void _d;
      void _m;
      return defaults;
    },
    'runs.checkpoints': ({ id }) =>
      listCheckpoints(db, id).map(({ step, createdAt }) => ({ step, createdAt })),
    'runs.evaluate': ({ id, splitId, checkpointStep }) => {
      const run = getRun(db, id);
      if (!run) throw new UserError('not_found', `Run ${id} does not exist.`);
      if (run.kind === 'eval') throw new UserError('invalid_input', `Run ${id} is itself an evaluation.`);
      const split =
        splitId !== undefined
          ? evalSplitOf(splitId).split
          : typeof run.config.evalSplit === 'string' && run.datasetId !== null
            ? findSplit(db, run.datasetId, run.config.evalSplit)
            : undefined;
      if (!split) throw new UserError('invalid_input', `Pick a split to evaluate run ${id} on.`);
      if (split.datasetId !== run.datasetId)
        throw new UserError('invalid_input', `The split belongs to another dataset than run ${id}'s.`);
      const dataset = getDataset(db, split.datasetId)!;
      const label = run.name || `${run.kind.toUpperCase()} ${run.id}`;
      const common = {
        task: runTaskOf(run.config),
        dataset: dataset.name,
        split: split.name,
      };
      if (checkpointStep !== undefined) {
        const checkpoint = listCheckpoints(db, id).find((c) => c.step === checkpointStep);
        if (!checkpoint || !existsSync(checkpoint.path))
          throw new UserError('not_found', `Run ${id} has no checkpoint at step ${checkpointStep}.`);
        return startEvaluation({
          kind: 'eval',
          name: `${label} @ step ${checkpointStep} on ${split.name}`,
          parentRunId: id,
          config: {
            ...common,
            model: String(run.config.model),
            checkpoint: checkpoint.path,
            lora: (run.config.lora as { rank: number; alpha: number } | null | undefined) ?? null,
          },
        });
      }
      const model = path.join(runDir(dataDir, id), 'model');
      if (run.status !== 'completed' || !existsSync(path.join(model, 'config.json')))
        throw new UserError(
          'conflict',
          `Run ${id} is ${run.status}: evaluate one of its checkpoints, or finish it first (Resume).`,
        );
      return startEvaluation({
        kind: 'eval',
        name: `${label} on ${split.name}`,
        parentRunId: id,
        config: { ...common, model },
      });
    },
    'models.evaluate': ({ model, splitId, task }) => {
      const { split, dataset } = evalSplitOf(splitId);
      return startEvaluation({
        kind: 'eval',
        name: `${modelName(model)} on ${split.name}`,
        config: { task, dataset: dataset.name, split: split.name, model },
      });
    },
  };
}
