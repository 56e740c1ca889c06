/**
 * Creating a run: its settings and what its config names (dataset, split, categories, model
 * folder) are checked first, so a run that cannot start is never created.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../shared/errors';
import { transaction, type Db } from '../store/db';
import { rememberModel } from '../store/models';
import { createRun } from '../store/runs';
import { isModelFolder } from '../models';
import { inspectModelFolder, weightsFingerprint } from '../models/inspect';
import { installedPath } from '../models/installed';
import { checkRunMaterial, checkTrainingConfig } from './runConfig';

/** What a run names: its data, its model, the categories asked (every kind of run has these). */
type RunTarget = {
  dataset: string;
  split?: string;
  model: string;
  categories?: string[];
  seed?: number;
} & Record<string, unknown>;

export type RunRequest = {
  /** The user's name for the run ('' or absent: unnamed). */
  name?: string;
  parentRunId?: number | null;
  /** Where relative model paths are resolved from (the config file's folder). */
  baseDir?: string;
} & (
  | {
      kind: 'sft' | 'grpo';
      /** The settings as the user wrote them (a config file, the Train view's form): checked here. */
      config: unknown;
    }
  | { kind: 'eval'; config: RunTarget }
);

/**
 * Every check of a run before it exists — its settings, what it asks of the workspace, its model
 * folder — so that `vrft train`, the app and an experiment refuse the same configs with the same
 * messages. Returns what creating it needs.
 */
export function checkRunRequest(db: Db, request: RunRequest, source: string) {
  const config: RunTarget =
    request.kind === 'eval' ? request.config : checkTrainingConfig(request.kind, request.config, source);
  // The config file's folder, the working directory, then vrft's own folder (the shipped models).
  const candidates = [
    path.resolve(request.baseDir ?? '.', config.model),
    path.resolve(config.model),
    installedPath(config.model),
  ].filter((dir) => dir !== undefined);
  const modelDir = candidates.find((dir) => isModelFolder(dir));
  if (!modelDir)
    throw new UserError(
      'invalid_input',
      `${source}: "model" ${config.model} is not a model folder (no config.json or adapter_config.json there)`,
    );
  // A folder vrft cannot load (an unknown model_type, no weights) is refused before the run exists.
  const model = inspectModelFolder(modelDir);
  const loaded = checkRunMaterial(db, config, source);
  // The trainer decodes the images; here it is enough that they are still there.
  const gone = loaded.imageRows.find((img) => !existsSync(img.path));
  if (gone)
    throw new UserError(
      'not_found',
      `${gone.path}: the image file is gone; re-import the dataset or restore the file.`,
    );
  const known = new Set(loaded.categories.map((c) => c.name));
  const unknown = config.categories?.find((c) => !known.has(c));
  if (unknown)
    throw new UserError(
      'invalid_input',
      `${source}: dataset "${config.dataset}" has no category "${unknown}"`,
    );
  return { config, loaded, modelDir, model };
}

/** Checks everything the run names (checkRunRequest), then creates it (status queued). */
export function createCheckedRun(db: Db, request: RunRequest, source: string): number {
  const { config, loaded, modelDir, model } = checkRunRequest(db, request, source);
  const weightsSha = weightsFingerprint(modelDir);
  return transaction(db, () =>
    createRun(db, {
      kind: request.kind,
      name: request.name,
      datasetId: loaded.dataset.id,
      splitId: loaded.splitId,
      // The workspace remembers the folder (the Train view lists it, most recently used first).
      modelId: rememberModel(db, { path: modelDir, kind: model.kind, config: model.config, weightsSha }).id,
      parentRunId: request.parentRunId ?? null,
      config: { ...config, model: modelDir },
      seed: config.seed ?? null,
    }),
  );
}
