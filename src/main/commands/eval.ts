import path from 'node:path';
import { tasks, type RunTask } from '../../shared/contract';
import { defaultDataDir } from '../host/paths';
import { getDataset } from '../store/datasets';
import { openStore, workspaceDbPath, type Db } from '../store/db';
import { latestEvaluationOfRun, type Evaluation } from '../store/evaluations';
import { getRun } from '../store/runs';
import { runTaskOf } from '../train/config';
import { importedModelDir, runModelDir } from '../train/runFiles';
import { oneOf, requiredString, UsageError, wholeNumber, type Command, type Values } from './command';
import { createCheckedRun, superviseRun } from './runs';
import { checkTaskMaterial } from '../train/runConfig';
import { UserError } from '../../shared/errors';

export function formatEvaluation(e: Evaluation): string {
  const m = e.metrics;
  if (m.acc50 !== undefined) {
    const lines = [
      `Acc@0.5 ${(100 * m.acc50).toFixed(1)}%  mean IoU ${(m.meanIoU ?? 0).toFixed(3)}  valid format ${(100 * (m.formatOk ?? 0)).toFixed(1)}%  (${m.answers} expressions)`,
    ];
    for (const [name, c] of Object.entries(e.perCategory))
      lines.push(`  ${name.padEnd(16)} ${(100 * (c.acc50 ?? 0)).toFixed(1)}%  of ${c.items}`);
    return `${lines.join('\n')}\n`;
  }
  if (m.accuracy !== undefined) {
    const lines = [
      `accuracy ${(100 * m.accuracy).toFixed(1)}%  valid format ${(100 * (m.formatOk ?? 0)).toFixed(1)}%  (${m.answers} images)`,
    ];
    for (const [name, c] of Object.entries(e.perCategory))
      lines.push(`  ${name.padEnd(16)} ${(100 * (c.accuracy ?? 0)).toFixed(1)}%  of ${c.images}`);
    return `${lines.join('\n')}\n`;
  }
  const lines = [
    `AP ${m.AP?.toFixed(3)}  AP50 ${m.AP50?.toFixed(3)}  AP75 ${m.AP75?.toFixed(3)}  AR100 ${m.AR100?.toFixed(3)}  valid format ${(100 * (m.formatOk ?? 0)).toFixed(1)}%`,
  ];
  for (const [name, c] of Object.entries(e.perCategory)) {
    lines.push(
      `  ${name.padEnd(16)} AP ${c.ap === -1 ? '  –  ' : c.ap!.toFixed(3)}  AP50 ${c.ap50 === -1 ? '  –  ' : c.ap50!.toFixed(3)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Runs an evaluation in the trainer process and returns its stored result. */
export async function evaluate(
  db: Db,
  dataDir: string,
  request: {
    task?: RunTask;
    dataset: string;
    split?: string;
    model: string;
    categories?: string[];
    maxNewTokens?: number;
    parentRunId?: number | null;
  },
): Promise<{ runId: number; evaluation: Evaluation }> {
  const { parentRunId = null, ...config } = request;
  const runId = createCheckedRun(db, { kind: 'eval', config, parentRunId }, 'vrft eval');
  const code = await superviseRun(runId, dataDir, false);
  const evaluation = latestEvaluationOfRun(db, runId);
  if (code !== 0 || !evaluation) throw new Error(`evaluation run ${runId} did not finish`);
  return { runId, evaluation };
}

async function evalCommandRun(values: Values): Promise<number> {
  const dataDir = path.resolve(typeof values.data === 'string' ? values.data : defaultDataDir());
  const categories =
    typeof values.categories === 'string' ? values.categories.split(',').map((c) => c.trim()) : undefined;
  const maxNewTokens =
    values['max-new-tokens'] === undefined ? undefined : wholeNumber(values, 'max-new-tokens', 200);
  if (maxNewTokens !== undefined && maxNewTokens < 1)
    throw new UsageError('--max-new-tokens wants at least 1');
  const db = openStore(workspaceDbPath(dataDir));
  try {
    let request;
    if (typeof values.run === 'string') {
      const run = getRun(db, Number(values.run));
      if (!run) throw new UsageError(`--run: there is no run ${values.run} in ${dataDir}`);
      if (run.kind === 'eval') throw new UsageError(`run ${run.id} is itself an evaluation`);
      if (run.status !== 'completed')
        throw new UsageError(
          `run ${run.id} is ${run.status}: finish it first (vrft train --resume ${run.id})`,
        );
      const source = run.config.source as { kind?: string; dir?: string } | undefined;
      if (source?.kind === 'trl' && importedModelDir(run.config) === undefined)
        throw new UsageError(
          `run ${run.id} was imported from ${source.dir}, which holds no final model (trainer.save_model() writes one)`,
        );
      const split =
        typeof values.split === 'string' ? values.split : (run.config.evalSplit as string | undefined);
      if (!split)
        throw new UsageError(
          '--split NAME: which split to evaluate on (the run does not name an evaluation split)',
        );
      // A run imported from another trainer may name no dataset of this workspace: --dataset does.
      const dataset =
        run.datasetId === null && typeof values.dataset === 'string'
          ? { name: values.dataset }
          : getDataset(db, run.datasetId ?? -1);
      if (!dataset)
        throw new UsageError(
          run.datasetId === null
            ? `run ${run.id} names no dataset of this workspace: say which to evaluate on with --dataset NAME`
            : `run ${run.id}'s dataset no longer exists`,
        );
      request = {
        task: runTaskOf(run.config),
        dataset: dataset.name,
        split,
        model: runModelDir(dataDir, run),
        categories,
        maxNewTokens,
        parentRunId: run.id,
      };
    } else {
      const model = requiredString(values, 'model');
      request = {
        task: values.task === undefined ? ('detection' as const) : oneOf(values, 'task', tasks),
        dataset: requiredString(values, 'dataset'),
        split: typeof values.split === 'string' ? values.split : undefined,
        model,
        categories,
        maxNewTokens,
      };
    }
    try {
      checkTaskMaterial(db, { task: request.task, dataset: request.dataset, split: request.split });
    } catch (error) {
      if (error instanceof UserError) throw new UsageError(error.message);
      throw error;
    }
    const { runId, evaluation } = await evaluate(db, dataDir, request);
    process.stdout.write(
      values.json
        ? `${JSON.stringify(evaluation)}\n`
        : `evaluation run ${runId}\n${formatEvaluation(evaluation)}`,
    );
    return 0;
  } finally {
    db.close();
  }
}

export const evalCommand: Command = {
  summary:
    "evaluate a run's model (or a model folder) on a split: COCO box AP, classification accuracy or REC Acc@0.5 per category",
  usage:
    'vrft eval --run ID [--split NAME] [--dataset NAME] [--categories a,b] [--max-new-tokens N] [--data DIR] [--json] | ' +
    'vrft eval --model DIR --dataset NAME [--split NAME] [--task detection|classification|rec] [--categories a,b] [--max-new-tokens N] [--data DIR] [--json]',
  flags: {
    run: { type: 'string' },
    model: { type: 'string' },
    dataset: { type: 'string' },
    split: { type: 'string' },
    categories: { type: 'string' },
    'max-new-tokens': { type: 'string' },
    task: { type: 'string' },
    data: { type: 'string' },
    json: { type: 'boolean' },
  },
  run: evalCommandRun,
};
