import path from 'node:path';
import { defaultDataDir } from '../host/paths';
import { openStore, workspaceDbPath } from '../store/db';
import { getRun } from '../store/runs';
import { UserError } from '../../shared/errors';
import { grpoConfigSchema, sftConfigSchema } from '../train/config';
import { checkTrainingConfig } from '../train/runConfig';
import { oneOf, parseUserJson, readUserFile, UsageError, type Command, type Values } from './command';
import { createCheckedRun, superviseRun } from './runs';

/**
 * A run config file's JSON. An empty file and a YAML file say so: JSON.parse's "Unexpected end of
 * JSON input" / "Unexpected token 'd'" do not tell a user what to write instead.
 */
export function readRunConfigJson(file: string): unknown {
  const text = readUserFile(file);
  const example = '{"dataset": "shapes", "steps": 100}';
  if (!text.trim())
    throw new UsageError(`${file}: the file is empty: a run config is a JSON object, e.g. ${example}`);
  const yaml = /\.ya?ml$/i.test(file) || (!/^\s*[{[]/.test(text) && /^[A-Za-z_][\w-]*\s*:/m.test(text));
  if (yaml)
    throw new UsageError(
      `${file}: this looks like YAML, not JSON: write the run config as JSON, e.g. ${example}`,
    );
  return parseUserJson(file, text);
}

/** A key of the other method's config, named as such: an SFT config with numGenerations, say. */
function otherMethodKeys(method: 'sft' | 'grpo', data: unknown): string {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return '';
  const [own, other] =
    method === 'grpo' ? [grpoConfigSchema, sftConfigSchema] : [sftConfigSchema, grpoConfigSchema];
  const keys = Object.keys(data).filter((k) => !(k in own.shape) && k in other.shape);
  if (!keys.length) return '';
  const otherMethod = method === 'grpo' ? 'sft' : 'grpo';
  return ` (${keys.map((k) => `"${k}"`).join(', ')} ${keys.length > 1 ? 'are settings' : 'is a setting'} of ${otherMethod.toUpperCase()}: --method ${otherMethod}?)`;
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
    return superviseRun(runId, dataDir, true);
  }
  const method = oneOf(values, 'method', ['sft', 'grpo'] as const);
  if (typeof values.config !== 'string') throw new UsageError('--config FILE is required (or --resume RUN)');
  const file = values.config;
  const data = readRunConfigJson(file);
  // Every check of the config is createCheckedRun's (the app's Train view makes runs through it
  // too); the settings alone are checked first so that a typo does not open (or make) a workspace.
  let runId: number;
  let db;
  try {
    checkTrainingConfig(method, data, file);
    db = openStore(workspaceDbPath(dataDir));
    runId = createCheckedRun(db, { kind: method, config: data, baseDir: path.dirname(file) }, file);
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof UserError)) throw error;
    // What the config names (its dataset, split) is not there: say which file names it.
    const message = error.message.startsWith(file) ? error.message : `${file}: ${error.message}`;
    throw new UsageError(/: unknown key "/.test(message) ? message + otherMethodKeys(method, data) : message);
  } finally {
    db?.close();
  }
  return superviseRun(runId, dataDir, false);
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
