import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../shared/errors';
import { defaultDataDir } from '../host/paths';
import { loadDataset } from '../train/datasetExamples';
import { checkRewardWeights } from '../rewards/registry';
import { ConfigError, grpoConfigSchema, parseConfig, sftConfigSchema } from '../train/config';
import type { TrainerMessage } from '../train/worker';
import { openStore, workspaceDbPath } from '../store/db';
import { modelForPath } from '../store/models';
import { createRun, getRun } from '../store/runs';
import { oneOf, parseUserJson, readUserFile, UsageError, type Command, type Values } from './command';

const here = path.dirname(fileURLToPath(import.meta.url));

function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '…';
  const s = Math.round(seconds);
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** Runs the trainer process for a run and shows its progress; resolves with the exit code. */
export function superviseTraining(runId: number, dataDir: string, resume: boolean): Promise<number> {
  const trainer = path.join(here, 'trainer.js');
  if (!existsSync(trainer))
    throw new Error(`the trainer is not built (no ${trainer}): run \`npm run build\` first.`);
  const child = fork(trainer, ['--run', String(runId), '--data', dataDir, ...(resume ? ['--resume'] : [])], {
    stdio: 'inherit',
  });
  const tty = process.stdout.isTTY;
  let lastLine = 0;
  const interrupt = () => child.send({ type: 'stop' });
  process.on('SIGINT', interrupt);
  return new Promise((resolve) => {
    let outcome = 1;
    child.on('message', (m: TrainerMessage) => {
      if (m.type === 'started') {
        const from = m.fromStep ? `, resuming at step ${m.fromStep}` : '';
        process.stdout.write(`run ${m.runId}: training ${m.totalSteps} steps on ${m.backend}${from}\n`);
      } else if (m.type === 'progress') {
        const reward = m.metrics.reward === undefined ? '' : `  reward ${m.metrics.reward.toFixed(3)}`;
        const line = `step ${m.step}/${m.totalSteps}${reward}  loss ${m.metrics.loss?.toFixed(4) ?? '–'}  lr ${m.metrics.learning_rate?.toExponential(2)}  eta ${formatDuration(m.etaSeconds)}`;
        if (tty) {
          const width = 24;
          const filled = Math.round((width * m.step) / m.totalSteps);
          process.stdout.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${line}   `);
        } else if (
          m.step - lastLine >= Math.max(1, Math.floor(m.totalSteps / 20)) ||
          m.step === m.totalSteps
        ) {
          process.stdout.write(`${line}\n`);
          lastLine = m.step;
        }
      } else if (m.type === 'warning') {
        process.stdout.write(`${tty ? '\n' : ''}warning: ${m.message}\n`);
      } else if (m.type === 'finished') {
        if (tty) process.stdout.write('\n');
        process.stdout.write(`run ${m.runId}: ${m.status}${m.error ? `: ${m.error}` : ''}\n`);
        if (m.status === 'cancelled')
          process.stdout.write(`resume it with: vrft train --resume ${m.runId}\n`);
        outcome = m.status === 'failed' ? 1 : 0;
      }
    });
    child.on('exit', (code, signal) => {
      process.off('SIGINT', interrupt);
      if (signal)
        process.stderr.write(
          `vrft: the trainer was killed (${signal}); resume with: vrft train --resume ${runId}\n`,
        );
      resolve(signal ? 1 : code === 0 ? outcome : (code ?? 1));
    });
  });
}

async function train(values: Values): Promise<number> {
  const dataDir = path.resolve(typeof values.data === 'string' ? values.data : defaultDataDir());
  if (typeof values.resume === 'string') {
    const runId = Number(values.resume);
    const db = openStore(workspaceDbPath(dataDir));
    const run = getRun(db, runId);
    db.close();
    if (!Number.isInteger(runId) || !run)
      throw new UsageError(`--resume: there is no run ${values.resume} in ${dataDir}`);
    if (run.status === 'completed') throw new UsageError(`run ${runId} is already completed`);
    return superviseTraining(runId, dataDir, true);
  }
  const method = oneOf(values, 'method', ['sft', 'grpo'] as const);
  if (typeof values.config !== 'string') throw new UsageError('--config FILE is required (or --resume RUN)');
  const file = values.config;
  let config;
  try {
    const data = parseUserJson(file, readUserFile(file));
    config =
      method === 'grpo'
        ? parseConfig(grpoConfigSchema, data, file)
        : parseConfig(sftConfigSchema, data, file);
    if ('rewards' in config && config.rewards) checkRewardWeights(config.rewards);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    if (error instanceof UserError) throw new UsageError(`${file}: ${error.message}`);
    throw error;
  }
  const model = path.resolve(path.dirname(file), config.model);
  const modelDir = existsSync(path.join(model, 'config.json')) ? model : path.resolve(config.model);
  if (!existsSync(path.join(modelDir, 'config.json'))) {
    throw new UsageError(`${file}: "model" ${config.model} is not a model folder (no config.json there)`);
  }
  const db = openStore(workspaceDbPath(dataDir));
  let runId: number;
  try {
    const loaded = loadDataset(db, config.dataset, config.split);
    const known = new Set(loaded.categories.map((c) => c.name));
    const unknown = config.categories?.find((c) => !known.has(c));
    if (unknown) throw new UsageError(`${file}: dataset "${config.dataset}" has no category "${unknown}"`);
    const modelId = modelForPath(db, { name: path.basename(modelDir), kind: 'tiny-vlm', path: modelDir });
    runId = createRun(db, {
      kind: method,
      datasetId: loaded.dataset.id,
      splitId: loaded.splitId,
      modelId,
      config: { ...config, model: modelDir },
      seed: config.seed,
    });
  } catch (error) {
    if (error instanceof UserError) throw new UsageError(error.message);
    throw error;
  } finally {
    db.close();
  }
  return superviseTraining(runId, dataDir, false);
}

export const trainCommand: Command = {
  summary: 'train a model on a workspace dataset with GRPO or SFT, or resume a run',
  usage: 'vrft train --method grpo|sft --config FILE [--data DIR] | vrft train --resume RUN [--data DIR]',
  flags: {
    method: { type: 'string' },
    config: { type: 'string' },
    resume: { type: 'string' },
    data: { type: 'string' },
  },
  run: train,
};
