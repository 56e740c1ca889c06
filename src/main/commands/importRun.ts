/** `vrft import-run DIR`: a finished TRL (or VLM-R1 / Visual-RFT) output folder as a workspace run. */
import path from 'node:path';
import { UserError } from '../../shared/errors';
import { defaultDataDir } from '../host/paths';
import { readTrlRun, saveTrlRun, type ImportedRun } from '../scaleOut/importRun';
import { inWorkspace, UsageError, type Command, type Values } from './command';

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

function describe(result: ImportedRun): string {
  const lines = [
    `run ${result.runId} "${result.name}": imported ${count(result.steps, 'step')}`,
    `  ${count(result.metrics, 'metric point')}, ${count(result.rollouts, 'rollout')}, ${count(result.checkpoints, 'checkpoint')}`,
    result.model
      ? `  final model: ${result.model} (vrft eval --run ${result.runId} --dataset NAME --split NAME evaluates it)`
      : '  no final model at the folder’s root (trainer.save_model() writes one): nothing to evaluate',
  ];
  return `${lines.join('\n')}\n`;
}

async function importRun(values: Values, positionals: string[]): Promise<number> {
  const dir = positionals[0];
  if (dir === undefined || dir === '')
    throw new UsageError('which folder? (vrft import-run DIR: the output_dir a TRL GRPOTrainer wrote)');
  const dataDir = path.resolve(typeof values.data === 'string' ? values.data : defaultDataDir());
  const name =
    typeof values.name === 'string' && values.name.trim() ? values.name : path.basename(path.resolve(dir));
  let run;
  try {
    run = await readTrlRun(dir, (line) => process.stderr.write(`vrft: ${line}\n`));
  } catch (error) {
    if (error instanceof UserError) throw new UsageError(error.message);
    throw error;
  }
  process.stderr.write(
    `vrft: read ${run.dir}: ${count(run.metrics.length, 'metric point')}, ` +
      `${count(run.rollouts.length, 'rollout')}, ${count(run.checkpoints.length, 'checkpoint')}\n`,
  );
  const result = await inWorkspace(dataDir, (db) => saveTrlRun(db, run, name));
  process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : describe(result));
  return 0;
}

export const importRunCommand: Command = {
  summary: 'bring a finished TRL / VLM-R1 / Visual-RFT output folder into the workspace as a run',
  usage: 'vrft import-run DIR [--data WS] [--name NAME] [--json]',
  flags: { data: { type: 'string' }, name: { type: 'string' }, json: { type: 'boolean' } },
  positionals: 1,
  run: importRun,
};
