/**
 * The checks a run's config passes before the run exists, the same from `vrft train`, the app's
 * Train view and an experiment: its settings (the method's schema, reward names and weights, rewards
 * the task can score) and what it asks of the workspace (REC's expressions, the evaluation split).
 * Whatever fails here would otherwise fail the run in the trainer, after it was created.
 */
import { UserError } from '../../shared/errors';
import type { RunTask } from '../../shared/contract';
import { checkRewardWeights } from '../rewards/registry';
import type { Db } from '../store/db';
import {
  checkRewardsFitTask,
  ConfigError,
  grpoConfigSchema,
  parseConfig,
  sftConfigSchema,
  type GrpoConfig,
  type SftConfig,
} from './config';
import { describeDataset } from './datasetExamples';
import { atLeastOneRecItem } from './recExamples';

/** `message`, prefixed with where it comes from unless it already names it. */
const from = (source: string, message: string) =>
  message.startsWith(`${source}: `) ? message : `${source}: ${message}`;

/**
 * A training config as the user wrote it, checked against its method's settings; throws
 * UserError('invalid_input') naming `source` and the key. `scaleOut` is what `vrft scale-out
 * export` records of its export on the run, not a setting: it is kept as it is.
 */
export function checkTrainingConfig(
  method: 'sft' | 'grpo',
  data: unknown,
  source: string,
): (SftConfig | GrpoConfig) & Record<string, unknown> {
  const isObject = typeof data === 'object' && data !== null && !Array.isArray(data);
  const { scaleOut, ...settings } = isObject ? (data as Record<string, unknown>) : { scaleOut: undefined };
  try {
    const config =
      method === 'grpo'
        ? parseConfig(grpoConfigSchema, isObject ? settings : data, source)
        : parseConfig(sftConfigSchema, isObject ? settings : data, source);
    if ('rewards' in config && config.rewards) {
      checkRewardWeights(config.rewards);
      checkRewardsFitTask(config.task, config.rewards, source);
    }
    return scaleOut === undefined ? config : { ...config, scaleOut };
  } catch (error) {
    if (error instanceof ConfigError) throw new UserError('invalid_input', error.message);
    if (error instanceof UserError) throw new UserError(error.code, from(source, error.message));
    throw error;
  }
}

/** The boxes of a described dataset that REC can ask about; a message saying how to get them when none. */
function checkRecItems(described: ReturnType<typeof describeDataset>, dataset: string): void {
  const { imageRows, byImage } = described;
  const items = imageRows.filter((img) => (byImage.get(img.id) ?? []).some((b) => b.expression?.trim()));
  atLeastOneRecItem(items, dataset);
}

/**
 * What the run's task needs of its dataset, checked before the run exists (the trainer would fail
 * it after): REC needs at least one box with an expression.
 */
export function checkTaskMaterial(db: Db, config: { task?: RunTask; dataset: string; split?: string }): void {
  if (config.task === 'rec') checkRecItems(describeDataset(db, config.dataset, config.split), config.dataset);
}

/**
 * What a run config asks of the workspace: its dataset and split (returned, described), REC's
 * expressions, and the split `vrft eval --run` evaluates on (missing, it would be found out only
 * after training).
 */
export function checkRunMaterial(
  db: Db,
  config: { task?: unknown; dataset: string; split?: string; evalSplit?: unknown },
  source: string,
): ReturnType<typeof describeDataset> {
  let described;
  try {
    described = describeDataset(db, config.dataset, config.split);
    if (config.task === 'rec') checkRecItems(described, config.dataset);
  } catch (error) {
    if (error instanceof UserError) throw new UserError(error.code, from(source, error.message));
    throw error;
  }
  if (typeof config.evalSplit === 'string')
    try {
      describeDataset(db, config.dataset, config.evalSplit);
    } catch (error) {
      if (error instanceof UserError)
        throw new UserError('invalid_input', `${source}: "evalSplit": ${error.message}`);
      throw error;
    }
  return described;
}
